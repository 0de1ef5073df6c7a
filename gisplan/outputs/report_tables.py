"""The report's tables and findings, built from :class:`~gisplan.outputs.report_data.ReportData`: Chinese headers,
numbers rounded as a planner writes them (one decimal for shares, whole persons), each table with the number
format of its columns so that the PDF, Word and Excel writers show the same figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from gisplan.vocab import Comparator, Status

if TYPE_CHECKING:
    from gisplan.outputs.report_data import ReportData

__all__ = [
    "SITE_PAGES_PER_ROW",
    "STATUS_ENDED",
    "Table",
    "admin_table",
    "completion_rate",
    "coverage_curve",
    "display",
    "featured_sites",
    "findings",
    "floor_area_table",
    "gap_table",
    "indicator_table",
    "layer_table",
    "method_table",
    "rest_sites",
    "rest_sites_brief",
    "site_table",
    "site_table_compact",
    "township_coverage",
    "township_coverage_wide",
]

#: Excel number formats of the report's columns: "G" a value as the plan writes it (whole when whole, else one
#: decimal), "0.0" one decimal, "0" whole, "0.000000" coordinates, "@" text
FORMATS = ("G", "0.0", "0", "0.000000", "@")

#: how many of each row's first sites (in build order) get a page of their own with a small map of the site's
#: service area, in the PDF and in Word; the rest of the sites follow in one table
SITE_PAGES_PER_ROW = 2

#: what a row's status means in the 终期评估 form
STATUS_ENDED = {Status.MET: "完成", Status.NOT_MET: "未完成", Status.REFERENCE: "参考（直线估算，不评判）",
                Status.NO_DATA: "无法评估", Status.NO_TARGET: "无量化目标"}

_METHOD_ZH = {"computed-spatial": "空间计算", "computed-attribute": "属性计算", "count": "计数", "reported": "填报",
              "straight-line": "直线估算（参考）"}


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the report: its sheet name, caption, rows and each column's number format."""

    key: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def shown(self) -> list[list[str]]:
        """The rows as the PDF and Word show them (every cell a string)."""
        columns = [[display(v, self.formats.get(str(c), "@")) for v in self.frame[c].tolist()] for c in self.frame]
        return [list(row) for row in zip(*columns, strict=True)] if columns else []


def display(value: object, fmt: str = "G") -> str:  # noqa: PLR0911 - one return per format
    """A cell as the report prints it: "—" when missing, numbers rounded by `fmt` (see :data:`FORMATS`).

    Examples
    --------
    >>> display(63.333333, "G"), display(6.0, "G"), display(25853.47, "0"), display(float("nan"))
    ('63.3', '6', '25853', '—')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, int | float | np.integer | np.floating) and fmt != "@":
        number = float(value)
        if fmt == "0":
            return f"{number:.0f}"
        if fmt == "0.0":
            return f"{number:.1f}"
        if fmt == "0.000000":
            return f"{number:.6f}"
        return f"{number:.0f}" if abs(number - round(number)) < 0.05 else f"{number:.1f}"
    return str(value)


def _round_g(values: pd.Series) -> pd.Series:
    """Round as :func:`display` shows with ``"G"`` (one decimal), so that the workbook holds the printed number."""
    return pd.to_numeric(values, errors="coerce").round(1)


def completion_rate(value: pd.Series, target: pd.Series, comparator: pd.Series) -> pd.Series:
    """完成率 in %: value ÷ target for a "not below" target; for a "not above" target 100 when met, else
    target ÷ value; NaN without a numeric value or target.

    Examples
    --------
    >>> completion_rate(pd.Series([45.0, 50.0, 30.0]), pd.Series([90.0, 40.0, 40.0]),
    ...                 pd.Series([">=", "<=", "<="])).tolist()
    [50.0, 80.0, 100.0]
    """
    v = pd.to_numeric(value, errors="coerce").to_numpy(dtype=float)
    t = pd.to_numeric(target, errors="coerce").to_numpy(dtype=float)
    comp = comparator.astype(str).to_numpy()
    up = np.isin(comp, [Comparator.GE, Comparator.GT, Comparator.EQ])
    down = np.isin(comp, [Comparator.LE, Comparator.LT])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_up = np.where(t > 0, v / t * 100.0, np.nan)
        ratio_down = np.where(v <= t, 100.0, np.where(v > 0, t / v * 100.0, np.nan))
    out = np.where(up, ratio_up, np.where(down, ratio_down, np.nan))
    return pd.Series(np.round(out, 1), index=value.index, name="completion_pct")


def _reason(frame: pd.DataFrame) -> pd.Series:
    """Why a row has no value (its source text), empty where it has one."""
    text = frame["source"].fillna("").astype(str).str.removeprefix("not computed: ")
    return text.where(frame["status"] == Status.NO_DATA, "")


def indicator_table(data: ReportData) -> Table:
    """指标评估表: every row of the plan's table; the 终期评估 form when the plan period has ended."""
    ind = data.indicators
    period = data.period
    value = _round_g(ind["value"])
    after = _round_g(ind["value_after"]) if "value_after" in ind else pd.Series(np.nan, index=ind.index)
    base = f"基期值（{period.baseline_year}年）"
    target = f"目标（{period.end_year}年）"
    common = {"编号": ind["indicator_id"].astype(str), "指标": ind["name"].astype(str), "单位": ind["unit"].astype(str),
              base: ind["baseline_2020"].astype(str), target: ind["target_2025"].astype(str)}
    if period.ended:
        frame = pd.DataFrame({
            **common, "期末值": value,
            "完成率（%）": completion_rate(ind["value"], ind["target"], ind["comparator"]),
            "是否完成": ind["status"].map(STATUS_ENDED).fillna(ind["status"]).astype(str),
            "按建议建设后": after,
            "方法": ind["method"].map(_METHOD_ZH).fillna(ind["method"]).astype(str),
            "说明（依据或未能测算的原因）": ind["source"].fillna("").astype(str),
        })
        title = f"指标终期评估表（规划期 {period.label} 已结束）"
        formats = {"期末值": "G", "完成率（%）": "0.0", "按建议建设后": "G"}
    else:
        frame = pd.DataFrame({
            **common, "测算值": value, "现状状态": ind["status"].astype(str),
            "按建议建设后": after,
            "建设后状态": ind["status_after"].fillna("").astype(str) if "status_after" in ind else "",
            "方法": ind["method"].map(_METHOD_ZH).fillna(ind["method"]).astype(str),
            "依据": ind["source"].fillna("").astype(str),
        })
        title = f"指标评估表（规划期 {period.label}）"
        formats = {"测算值": "G", "按建议建设后": "G"}
    return Table("指标", title, frame.reset_index(drop=True), formats)


def _township_names(data: ReportData) -> dict[str, str]:
    gaz = data.gazetteer
    if len(gaz) == 0:
        return {}
    return dict(zip(gaz["code12"].astype(str), gaz["name"].astype(str), strict=True))


def township_coverage(data: ReportData) -> Table:
    """Per township and measured type: the share of residents, households and 60+ within the type's own threshold."""
    units = data.units
    if len(units) == 0:
        return Table("镇街覆盖", "各镇街15分钟覆盖率", pd.DataFrame(columns=["镇街", "设施类型", "阈值"]))
    rows = units[units["level"] == "township"].copy()
    own = rows["facility_type"].astype(str).map(data.type_thresholds)
    rows = rows[np.isclose(rows["threshold"].astype(float), own.astype(float))]
    unit = "米（直线）" if data.method == "straight_line" else "分钟"
    if data.method == "straight_line":  # the straight-line estimate has a radius, not a threshold in minutes
        rows = units[(units["level"] == "township") & (units["threshold"] == units["threshold"].max())]
    frame = pd.DataFrame({
        "镇街代码": rows["code12"].astype(str), "镇街": rows["name"].astype(str),
        "设施类型": rows["facility_type"].astype(str).map(data.type_name),
        f"阈值（{unit}）": rows["threshold"].astype(float),
        "常住人口": rows["population"].astype(float).round(0),
        "常住人口覆盖率（%）": (rows["population_share"].astype(float) * 100).round(1),
        "户覆盖率（%）": (rows["households_share"].astype(float) * 100).round(1),
        "60岁以上人口覆盖率（%）": (rows["pop_60plus_share"].astype(float) * 100).round(1),
    })
    formats = {f"阈值（{unit}）": "0", "常住人口": "0", "常住人口覆盖率（%）": "0.0", "户覆盖率（%）": "0.0",
               "60岁以上人口覆盖率（%）": "0.0", "镇街代码": "@"}
    label = "直线估算（参考）" if data.method == "straight_line" else "路网"
    return Table("镇街覆盖", f"各镇街覆盖率（{label}）", frame.reset_index(drop=True), formats)


def township_coverage_wide(table: Table) -> Table:
    """The per-township coverage of every type in one table for the PDF: one row per township, one cell per type
    holding the three shares (residents / households / 60+, %). The same numbers as :func:`township_coverage`,
    in a sixth of the cells (WeasyPrint's time follows the number of cells)."""
    f = table.frame
    if len(f) == 0 or "设施类型" not in f or "常住人口覆盖率（%）" not in f:
        return table
    shares = (f["常住人口覆盖率（%）"].map(lambda v: display(v, "0.0")) + " / "
              + f["户覆盖率（%）"].map(lambda v: display(v, "0.0")) + " / "
              + f["60岁以上人口覆盖率（%）"].map(lambda v: display(v, "0.0")))
    limit = next(c for c in f.columns if str(c).startswith("阈值"))
    header = f["设施类型"] + "（" + f[limit].map(lambda v: display(v, "0")) + str(limit)[3:-1] + "）"
    wide = f.assign(_shares=shares, _type=header).pivot_table(
        index=["镇街代码", "镇街"], columns="_type", values="_shares", aggfunc="first", sort=False)
    population = f.groupby(["镇街代码", "镇街"], sort=False)["常住人口"].first()
    frame = pd.concat([population, wide], axis=1).reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return Table(table.key, table.title + "：常住人口 / 户 / 60岁以上覆盖率（%）", frame.fillna("—"),
                 {"镇街代码": "@", "常住人口": "0"})


def coverage_curve(data: ReportData) -> pd.DataFrame:
    """The district's coverage curve: per type and threshold, the share (%) of residents, households and 60+."""
    units = data.units
    if len(units) == 0:
        return pd.DataFrame(columns=["facility_type", "threshold", "population", "households", "pop_60plus"])
    rows = units[units["level"] == "district"]
    return pd.DataFrame({
        "facility_type": rows["facility_type"].astype(str), "threshold": rows["threshold"].astype(float),
        "population": (rows["population_share"].astype(float) * 100).round(1),
        "households": (rows["households_share"].astype(float) * 100).round(1),
        "pop_60plus": (rows["pop_60plus_share"].astype(float) * 100).round(1),
    }).reset_index(drop=True)


def floor_area_table(data: ReportData, *, levels: tuple[str, ...] = ("district", "township")) -> Table:
    """每百户建筑面积 per township (and the district) against the standard."""
    floor = data.floor_area
    standard = data.scenario.standard.floor_area_m2_per_100hh
    if len(floor) == 0:
        return Table("每百户面积", "社区综合服务设施每百户建筑面积", pd.DataFrame(columns=["区划", "每百户面积（㎡）"]))
    rows = floor[floor["level"].isin(levels)]
    level_zh = {"district": "区", "township": "镇街", "village": "村（社区）"}
    frame = pd.DataFrame({
        "级别": rows["level"].map(level_zh).astype(str), "区划代码": rows["code12"].astype(str),
        "名称": rows["name"].astype(str), "户数": rows["households"].astype(float).round(0),
        "建筑面积（㎡）": rows["floor_area_m2"].astype(float).round(1),
        "每百户面积（㎡）": rows["floor_area_m2_per_100hh"].astype(float).round(1),
        "标准（㎡）": float(standard),
        "达标": rows["floor_area_m2_per_100hh"].astype(float).ge(standard).map({True: "达标", False: "未达标"}),
    })
    formats = {"户数": "0", "建筑面积（㎡）": "0.0", "每百户面积（㎡）": "0.0", "标准（㎡）": "G", "区划代码": "@"}
    title = f"社区综合服务设施每百户建筑面积（标准 ≥ {standard:g} ㎡）"
    return Table("每百户面积", title, frame.reset_index(drop=True),
                 formats)


def admin_table(data: ReportData) -> Table:
    """Divisions lacking a facility they should have (administrative coverage), one row each."""
    gaps = data.admin_gaps
    if len(gaps) == 0 or "facility_type" not in gaps:
        return Table("缺设施区划", "缺少设施的行政区划", pd.DataFrame(columns=["设施类型", "级别", "区划代码", "名称"]))
    names = _township_names(data)
    code = gaps["code12"].astype(str)
    level_zh = {"township": "镇街", "village": "村（社区）"}
    frame = pd.DataFrame({
        "设施类型": gaps["facility_type"].astype(str).map(data.type_name), "级别": gaps["level"].map(level_zh),
        "所属镇街": (code.str[:9] + "000").map(names).fillna(""), "区划代码": code, "名称": gaps["name"].astype(str),
    })
    return Table("缺设施区划", "缺少应配设施的镇街和村（社区）", frame.reset_index(drop=True), {"区划代码": "@"})


def admin_summary(data: ReportData) -> pd.DataFrame:
    """Per type and level, how many divisions lack the type."""
    gaps = data.admin_gaps
    if len(gaps) == 0 or "facility_type" not in gaps:
        return pd.DataFrame(columns=["设施类型", "级别", "缺少的区划数"])
    counts = gaps.groupby(["facility_type", "level"]).size().rename("n").reset_index()
    return pd.DataFrame({"设施类型": counts["facility_type"].astype(str).map(data.type_name),
                         "级别": counts["level"].map({"township": "镇街", "village": "村（社区）"}),
                         "缺少的区划数": counts["n"].astype(int)})


def gap_table(data: ReportData, *, top: int | None = 10) -> Table:
    """The largest uncovered areas (all of them when `top` is None), by residents."""
    gaps = data.gaps
    if gaps is None or len(gaps) == 0:
        empty = pd.DataFrame(columns=["设施类型", "镇街", "村（社区）", "常住人口"])
        return Table("覆盖缺口", "最大的未覆盖片区", empty)
    rows = pd.DataFrame(gaps.drop(columns="geometry")).sort_values("population", ascending=False)
    if top is not None:
        rows = rows.head(top)
    frame = pd.DataFrame({
        "设施类型": rows["facility_type"].astype(str).map(data.type_name), "类型内排名": rows["rank"].astype(int),
        "镇街": rows["township"].fillna("").astype(str), "村（社区）": rows["village"].fillna("").astype(str),
        "村（社区）代码": rows["village_code12"].astype(str),
        "常住人口": rows["population"].astype(float).round(0), "户数": rows["households"].astype(float).round(0),
        "60岁以上人口": rows["pop_60plus"].astype(float).round(0),
        "面积（km²）": rows["area_km2"].astype(float).round(2),
    })
    formats = {"常住人口": "0", "户数": "0", "60岁以上人口": "0", "面积（km²）": "0.0", "类型内排名": "0",
               "村（社区）代码": "@"}
    title = "最大的未覆盖片区" + (f"（按常住人口前 {top} 个）" if top else "")
    return Table("覆盖缺口", title, frame.reset_index(drop=True), formats)


def _nearest_existing(data: ReportData, sites: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """For each site: the name of the nearest existing facility of its type, the straight-line km to it, and the
    travel minutes from the demand point nearest the site to its nearest existing facility (network runs)."""
    names = pd.Series("", index=sites.index, dtype=object)
    km = pd.Series(np.nan, index=sites.index)
    minutes = pd.Series(np.nan, index=sites.index)
    crs = data.crs
    xy = np.column_stack([sites["lon"].to_numpy(float), sites["lat"].to_numpy(float)])
    points = pd.Series(shapely.points(xy), index=sites.index)
    import geopandas as gpd  # noqa: PLC0415 - local: only for the projection of a few points

    projected = gpd.GeoSeries(points, crs="EPSG:4326").to_crs(crs)
    demand = data.demand.to_crs(crs) if data.demand is not None and len(data.demand) else None
    for type_id, part in sites.groupby(sites["facility_type"].astype(str)):
        here = projected.loc[part.index]
        existing = data.facilities.get(type_id)
        if existing is not None and len(existing):
            ex = existing.to_crs(crs)
            tree = shapely.STRtree(ex.geometry.to_numpy())
            (src, dst), dist = tree.query_nearest(np.asarray(here.array), return_distance=True, all_matches=False)
            label = ex["name"].astype(str).to_numpy() if "name" in ex else ex.index.astype(str).to_numpy()
            names.loc[here.index[src]] = label[dst]
            km.loc[here.index[src]] = dist / 1000.0
        column = f"minutes_{type_id}"
        if demand is not None and column in demand:
            tree = shapely.STRtree(demand.geometry.to_numpy())
            src, dst = tree.query_nearest(np.asarray(here.array), all_matches=False)
            minutes.loc[here.index[src]] = demand[column].to_numpy(float)[dst]
    return names, km, minutes


def _rationale(sites: pd.DataFrame, data: ReportData, near: tuple[pd.Series, pd.Series, pd.Series]) -> pd.Series:
    """One short sentence per site from its numbers: whom it reaches, the nearest existing facility of its type
    (straight-line km) and how many minutes the people around it travel to a facility today."""
    names, km, minutes = near
    people = sites["population_added"].astype(float) if "population_added" in sites else pd.Series(np.nan, sites.index)
    elderly = sites["pop_60plus_added"].astype(float) if "pop_60plus_added" in sites else pd.Series(np.nan, sites.index)
    reach = np.where(people.notna(), "新增覆盖" + people.map(lambda x: display(x, "0")) + "人"
                     + np.where(elderly.notna(), "（60岁以上" + elderly.map(lambda x: display(x, "0")) + "）", "")
                     + "；", "")
    type_names = sites["facility_type"].astype(str).map(data.type_name)
    nearest = np.where(km.notna(), "最近现有“" + names.astype(str) + "”直线"
                       + km.map(lambda x: display(x, "0.0")) + "km", "区内尚无现有" + type_names)
    finite = minutes.notna() & np.isfinite(minutes.astype(float))
    now = np.where(finite, "，周边现需" + minutes.map(lambda x: display(x, "0")) + "分钟",
                   np.where(minutes.notna(), "，周边现无法经道路到达", ""))
    return pd.Series(reach + nearest + now + "。", index=sites.index)


def site_table(data: ReportData) -> Table:
    """选址方案: the proposed sites in build order (year, row, rank) with their rationale."""
    sites = data.proposals
    if sites is None or len(sites) == 0:
        empty = pd.DataFrame(columns=["建设年份", "指标", "序号", "镇街", "村（社区）"])
        return Table("建议选址", "建议新增选址", empty)
    rows = pd.DataFrame(sites.drop(columns="geometry")).sort_values(["year", "indicator_id", "rank"], kind="stable")
    near = _nearest_existing(data, rows)

    def added(column: str) -> pd.Series:
        return rows[column].astype(float).round(0) if column in rows else pd.Series(np.nan, index=rows.index)

    frame = pd.DataFrame({
        "建设年份": rows["year"].astype(int), "指标": rows["indicator_id"].astype(str),
        "同时服务的指标": rows["indicator_ids"].astype(str).map(lambda s: "；".join(s.split("；")[1:])),
        "序号": rows["rank"].astype(int), "站点编号": rows["site_id"].astype(str),
        "设施类型": rows["facility_type"].astype(str).map(data.type_name),
        "镇街": rows["township"].fillna("").astype(str), "村（社区）": rows["village"].fillna("").astype(str),
        "村（社区）代码": rows["village_code12"].astype(str),
        "经度（WGS84）": rows["lon"].astype(float), "纬度（WGS84）": rows["lat"].astype(float),
        "经度（GCJ-02）": rows["lon_gcj02"].astype(float), "纬度（GCJ-02）": rows["lat_gcj02"].astype(float),
        "新增覆盖常住人口": added("population_added"), "新增覆盖户数": added("households_added"),
        "新增覆盖60岁以上人口": added("pop_60plus_added"),
        "选址理由": _rationale(rows, data, near),
    })
    formats = {"建设年份": "0", "序号": "0", "经度（WGS84）": "0.000000", "纬度（WGS84）": "0.000000",
               "经度（GCJ-02）": "0.000000", "纬度（GCJ-02）": "0.000000", "新增覆盖常住人口": "0", "新增覆盖户数": "0",
               "新增覆盖60岁以上人口": "0", "村（社区）代码": "@", "站点编号": "@"}
    return Table("建议选址", "建议新增选址（按建设顺序）", frame.reset_index(drop=True), formats)


def site_table_compact(full: Table) -> Table:
    """The proposed sites as the PDF and Word print them: coordinates and the people reached in one cell each."""
    f = full.frame
    if len(f) == 0:
        return full

    def pair(a: str, b: str) -> pd.Series:
        return f[a].map(lambda v: display(v, "0.000000")) + ", " + f[b].map(lambda v: display(v, "0.000000"))

    def whole(column: str) -> pd.Series:
        return f[column].map(lambda v: display(v, "0"))

    reached = whole("新增覆盖常住人口") + " / " + whole("新增覆盖户数") + " / " + whole("新增覆盖60岁以上人口")
    frame = pd.DataFrame({
        "年份": f["建设年份"], "指标（同时服务）": f["指标"] + np.where(f["同时服务的指标"] != "",
                                                          "（" + f["同时服务的指标"] + "）", ""),
        "序号": f["序号"], "设施类型": f["设施类型"], "镇街": f["镇街"], "村（社区）": f["村（社区）"],
        "WGS84 经度, 纬度": pair("经度（WGS84）", "纬度（WGS84）"),
        "GCJ-02 经度, 纬度": pair("经度（GCJ-02）", "纬度（GCJ-02）"),
        "新增覆盖 人口/户/60岁以上": reached, "选址理由": f["选址理由"],
    })
    return Table(full.key, full.title, frame, {"年份": "0", "序号": "0"})


def featured_sites(sites: Table) -> pd.Series:
    """True for the sites that get a page of their own: the first :data:`SITE_PAGES_PER_ROW` of each indicator row
    in build order (index-aligned with ``sites.frame``)."""
    frame = sites.frame
    if len(frame) == 0:
        return pd.Series(False, index=frame.index, name="featured")
    return (frame.groupby("指标", sort=False).cumcount() < SITE_PAGES_PER_ROW).rename("featured")


def rest_sites(sites: Table) -> Table:
    """The sites table after the site pages (Word): every proposed site without a page of its own, with the
    coordinates and the people reached in one cell each."""
    compact = site_table_compact(sites)
    if len(sites.frame) == 0:
        return compact
    keep = ~featured_sites(sites).to_numpy()
    title = f"其余建议选址（各项指标前 {SITE_PAGES_PER_ROW} 处见上文各页；共 {int(keep.sum())} 处，按建设顺序）"
    return Table(compact.key, title, compact.frame[keep].reset_index(drop=True), compact.formats)


def rest_sites_brief(sites: Table) -> Table:
    """The same rows as :func:`rest_sites` in two cells each, for the PDF: the site (which row and rank, year and
    type; township and village; the coordinates in both systems), and the people reached with the rationale.
    WeasyPrint's time follows the number of cells, not the text in them: 4 cells a row instead of 10 laid 400
    sites out in a third of the time, and 2 instead of 4 take about 40 % less again (bench/bench_report.py)."""
    rest = rest_sites(sites)
    f = rest.frame
    if len(f) == 0 or "指标（同时服务）" not in f:
        return rest
    frame = pd.DataFrame({
        "指标 · 序号（年份）· 设施类型；镇街 村（社区）；坐标 WGS84 / GCJ-02（经度, 纬度）":
            f["指标（同时服务）"] + " 第" + f["序号"].astype(str) + "处（" + f["年份"].astype(str) + "年）"
            + f["设施类型"] + "；" + f["镇街"] + " " + f["村（社区）"] + "；" + f["WGS84 经度, 纬度"] + " / "
            + f["GCJ-02 经度, 纬度"],
        # the rationale without its opening "新增覆盖…人（60岁以上…）；", which the numbers before it already say
        "新增覆盖 人口/户/60岁以上；选址理由": f["新增覆盖 人口/户/60岁以上"] + "；"
        + f["选址理由"].str.replace(r"^新增覆盖[^；]*；", "", regex=True),
    })
    return Table(rest.key, rest.title, frame, {})


def method_table(data: ReportData) -> Table:
    """方法与参数: travel profiles and speeds, thresholds, snapping, the solver, and where each standard comes from."""
    sc, cov = data.scenario, data.scenario.coverage
    rows: list[tuple[str, str, str]] = []
    method = {"network": "路网通行时间（住处→道路→沿路→设施）", "straight_line": "直线服务半径（参考，不评判达标）",
              "none": "未测算（缺道路或需求数据）"}.get(data.method, data.method)
    rows.append(("覆盖测算方法", method, "DOMAIN：15分钟覆盖按路网通行时间计；无道路时直线估算另行标注"))
    for pid, prof in data.profiles.items():
        speed = f"{prof.speed_m_per_min:g} 米/分钟（{prof.speed_m_per_min * 0.06:.1f} km/h）"
        rows.append((f"出行方式 {prof.name_zh}（{pid}）", speed,
                     "GB 50180-2018 15分钟生活圈 800–1000 米" if pid in {"walk", "elderly_walk"} else "设施目录"))
    for type_id in sorted({str(t) for t in data.units.get("facility_type", pd.Series(dtype=str)).unique()}):
        ftype = data.catalogue.types.get(type_id)
        if ftype is not None:
            rows.append((f"阈值 {ftype.name_zh}", f"{ftype.max_minutes:g} 分钟（{ftype.profile}）",
                         "规划条目 " + "、".join(ftype.plan_rows) if ftype.plan_rows else "设施目录"))
    rows += [
        ("统计阈值", "、".join(f"{b:g}" for b in cov.bands_minutes) + " 分钟", "覆盖曲线"),
        ("道路节点合并距离", f"{cov.snap_tolerance_m:g} 米", "设置"),
        ("最大接入距离", f"{cov.max_snap_m:g} 米（更远的需求点或设施记为不可达）", "情景 [coverage] max_snap_m"),
        ("直线服务半径", f"{cov.radius_m:g} 米", "城市体检口径；仅无道路时作参考"),
        ("需求点", f"按{'道路' if cov.spread == 'roads' else '面积'}在村（社区）内分布，"
                   f"间距 {cov.spread_spacing_m:g} 米",
         "情景 [coverage]"),
        ("每百户建筑面积标准", f"≥ {sc.standard.floor_area_m2_per_100hh:g} ㎡", "永川、珠山“十四五”规划"),
        ("候选点", f"道路节点，间距 {cov.candidate_spacing_m:g} 米" if cov.candidates is None
         else str(cov.candidates.name),
         "情景 [coverage]"),
        ("求解器", f"HiGHS，时限 {cov.solver_time_limit_s:g} 秒/模型", "scipy/highspy"),
    ]
    if data.proposals is not None and len(data.proposals) and "solver_status" in data.proposals:
        status = data.proposals.groupby("indicator_id", sort=False).first()
        for ind, row in status.iterrows():
            gap = row.get("solver_gap")
            rows.append((f"求解状态 {ind}", f"{row.get('model', '')} {row['solver_status']}，间隙 "
                         f"{display(float(gap) * 100 if pd.notna(gap) else np.nan, '0.0')}%", "HiGHS"))
    if data.network_summary:
        rows.append(("路网", data.network_summary, "道路图层"))
    frame = pd.DataFrame(rows, columns=["项目", "取值", "依据"])
    return Table("方法与参数", "方法与参数", frame, {})


def layer_table(data: ReportData) -> Table:
    """数据来源: every workspace layer with its source, sha256, CRS as given, import time, rows and the 示意 flag."""
    meta = data.layers
    frame = pd.DataFrame({
        "图层": meta["layer"].astype(str), "类别": meta["kind"].astype(str),
        "来源文件": meta["source_path"].fillna("").astype(str).map(lambda p: p.rsplit("/", 1)[-1]),
        "SHA-256": meta["source_sha256"].fillna("").astype(str).str.replace(r"(.{16})(?=.)", "\\1\u200b",
                                                                             regex=True),  # breaks every 16
        "原坐标系": meta["crs_given"].fillna("").astype(str), "导入时间": meta["imported_at"].fillna("").astype(str),
        "行数": pd.to_numeric(meta["row_count"], errors="coerce"),
        "数据性质": meta["illustrative"].astype(bool).map({True: "示意", False: "真实"}),
        "说明": meta["note"].fillna("").astype(str) if "note" in meta else "",
    })
    return Table("数据来源", "数据来源（工作空间各图层）", frame.reset_index(drop=True), {"行数": "0"})


def findings(data: ReportData) -> list[str]:
    """The headline findings as sentences built from the numbers."""
    out: list[str] = []
    ind = data.indicators
    counts = ind["status"].value_counts()
    out.append(f"规划指标共 {len(ind)} 项：达标 {int(counts.get(Status.MET, 0))} 项，未达标 "
               f"{int(counts.get(Status.NOT_MET, 0))} 项，无数据 {int(counts.get(Status.NO_DATA, 0))} 项，"
               f"无量化目标 {int(counts.get(Status.NO_TARGET, 0))} 项"
               + (f"，直线估算（参考）{int(counts.get(Status.REFERENCE, 0))} 项。" if counts.get(Status.REFERENCE, 0)
                  else "。"))
    gaps = data.admin_gaps
    codes = data.gazetteer["code12"].astype(str) if "code12" in data.gazetteer else pd.Series(dtype=str)
    n_towns = int((codes.str.endswith("000") & ~codes.str.endswith("000000")).sum())  # 12-digit township codes
    if len(gaps) and "level" in gaps:
        towns = gaps[gaps["level"] == "township"].groupby("facility_type").size()
        for type_id, n in towns.items():
            out.append(f"全区 {n_towns} 个镇街中，{int(n)} 个镇街尚无{data.type_name(str(type_id))}。")
    curve = coverage_curve(data)
    if len(curve):
        for type_id, part in curve.groupby("facility_type", sort=False):
            own = data.type_thresholds.get(str(type_id))
            row = (part[np.isclose(part["threshold"], own)] if own is not None and data.method == "network"
                   else part.tail(1))
            if len(row):
                r = row.iloc[0]
                how = f"{r['threshold']:g}分钟内" if data.method == "network" else f"直线{r['threshold']:g}米内（参考）"
                out.append(f"{data.type_name(str(type_id))}：常住人口{how}可达的比例为 "
                           f"{display(r['population'], '0.0')}%，"
                           f"60岁以上人口为 {display(r['pop_60plus'], '0.0')}%。")
    if "new_sites" in ind and ind["new_sites"].notna().any():
        rows = ind[ind["new_sites"].notna()]
        met = int((rows["status_after"] == Status.MET).sum())
        n_sites = len(data.proposals) if data.proposals is not None else int(rows["new_sites"].sum())
        out.append(f"为 {len(rows)} 项未达标指标建议新增选址 {n_sites} 处（同一站点服务多项指标时只计一次），"
                   f"全部建成后其中 {met} 项可达到目标。")
    elif data.method != "network":
        out.append("未测算路网覆盖，因此未给出新增选址方案。")
    return out
