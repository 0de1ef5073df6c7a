"""The site-selection and coverage report of a run, in Chinese: ``report.pdf`` (HTML from the Jinja2 templates in
``gisplan/data/report``, rendered by WeasyPrint), ``report.docx`` (python-docx, real headings and tables),
``tables.xlsx`` (one sheet per table) and ``report.html``.

Sections: 1 摘要, 2 指标评估 (the 终期评估 form once the plan period has ended), 3 覆盖分析, 4 专题地图, 5 选址方案,
6 方法与参数, 7 数据来源. Everything comes from :class:`~gisplan.outputs.report_data.ReportData`; names from the
user's data are escaped in HTML/PDF and stay text in Word and Excel.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup

from gisplan import __version__
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_text
from gisplan.io.export import stage_files, write_xlsx
from gisplan.outputs.report_areas import site_service_areas
from gisplan.outputs.report_maps import (
    ProjectedLayers,
    cjk_font,
    coverage_chart_svg,
    coverage_map,
    gap_map,
    overview_map,
    project_layers,
    site_maps,
)
from gisplan.outputs.report_tables import (
    SITE_PAGES_PER_ROW,
    Table,
    admin_summary,
    admin_table,
    coverage_curve,
    display,
    featured_sites,
    findings,
    floor_area_table,
    gap_table,
    indicator_table,
    layer_table,
    method_table,
    rest_sites_brief,
    site_table,
    township_coverage,
    township_coverage_wide,
)
from gisplan.settings import collector_paused
from gisplan.vocab import ReportFormat

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from gisplan.outputs.report_areas import SiteArea
    from gisplan.outputs.report_data import ReportData

__all__ = ["REPORT_FILES", "SITE_PAGES_PER_ROW", "ReportContent", "SitePage", "build_report", "featured_sites",
           "render_html", "report_limits", "write_report"]

logger = logging.getLogger(__name__)

#: the file each format writes
REPORT_FILES = {ReportFormat.PDF: "report.pdf", ReportFormat.DOCX: "report.docx", ReportFormat.XLSX: "tables.xlsx",
                ReportFormat.HTML: "report.html"}
ILLUSTRATIVE_NOTE = "示意 ILLUSTRATIVE：本报告含生成的示意数据，不是真实设施和住户；数值只说明方法，不反映实际情况。"
_SECTIONS = (("summary", "1", "摘要"), ("indicators", "2", "指标评估"), ("coverage", "3", "覆盖分析"),
             ("maps", "4", "专题地图"), ("sites", "5", "选址方案"), ("method", "6", "方法与参数"),
             ("sources", "7", "数据来源"))


@dataclass(frozen=True, slots=True)
class Figure:
    """A map as PNG bytes with its caption."""

    caption: str
    png: bytes

    @property
    def uri(self) -> str:
        """The PNG as a ``data:`` URI (the HTML and PDF are self-contained)."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True, slots=True)
class SitePage:
    """One featured proposed site: heading, its fields, the rationale, a small map and the service area drawn on
    it (None without a road network)."""

    heading: str
    fields: tuple[tuple[str, str], ...]
    rationale: str
    map: Figure
    site_id: str
    area: SiteArea | None


@dataclass(frozen=True, slots=True, eq=False)
class ReportContent:
    """The report's parts, shared by the PDF/HTML, Word and Excel writers."""

    data: ReportData
    findings: tuple[str, ...]
    limits: tuple[str, ...]
    indicators: Table
    coverage: tuple[Table, ...]
    coverage_wide: Table  # the same shares, every type in one table (the PDF and report.html)
    curve_svg: str
    floor_area: Table
    admin_summary: Table
    admin: Table
    gaps: Table
    maps: tuple[Figure, ...]
    sites: Table
    site_pages: tuple[SitePage, ...]
    method: Table
    layers: Table
    attributions: tuple[str, ...]


def report_limits(data: ReportData) -> list[str]:
    """What the report cannot compute with this workspace, in plain sentences."""
    out = []
    names = set(data.layers["layer"].astype(str))
    if data.townships is None:
        out.append("工作空间没有镇街边界面：无法按位置统计各镇街的覆盖率，也无法画出镇街分区图；设施位置只按区界核对，"
                   "镇街级指标按台账填写的区划代码统计。")
    if data.method == "none":
        out.append("没有道路网（或没有住户人口数据）：15分钟路网覆盖率、覆盖曲线、未覆盖片区和新增选址均未测算。"
                   "获取路网：联网时运行 gisplan roads fetch，或在情景 [roads] path 中给出道路图层。")
    elif data.method == "straight_line":
        out.append("没有道路网：15分钟指标为直线距离估算（参考），不评判是否达标，也不据此给出新增选址。"
                   "获取路网覆盖：联网时运行 gisplan roads fetch，或在情景 [roads] path 中给出道路图层。")
    if "households" not in names and data.demand is None:
        out.append("没有住户人口图层：覆盖率（常住人口、户、60岁以上）和每百户建筑面积无法计算。")
    if not data.facilities:
        out.append("没有导入设施台账：设施类指标显示“无数据”，直到用 gisplan layers import 导入。")
    missing = int((data.indicators["status"] == "无数据").sum())
    if missing:
        out.append(f"{missing} 项指标无数据（原因见指标表“说明/依据”列）。")
    return out


def _coords(row: pd.Series, system: str) -> str:
    return f"{display(row[f'经度（{system}）'], '0.000000')}, {display(row[f'纬度（{system}）'], '0.000000')}"


def _areas(geo: ProjectedLayers, chosen: pd.DataFrame) -> list[SiteArea | None]:
    """The service area of each chosen site (rows of the proposals layer), None without a network or profile."""
    data = geo.data
    net = data.network
    if net is None or data.method != "network" or len(chosen) == 0:
        return [None] * len(chosen)
    profiles, minutes = [], []
    for type_id in chosen["facility_type"].astype(str):
        ftype = data.catalogue.types.get(type_id)
        profile = data.profiles.get(ftype.profile) if ftype is not None else None
        if profile is None:
            return [None] * len(chosen)
        profiles.append(profile)
        minutes.append(data.type_thresholds.get(type_id, 15.0))
    here = gpd.GeoSeries(gpd.points_from_xy(chosen["lon"].astype(float), chosen["lat"].astype(float)),
                         crs="EPSG:4326").to_crs(data.crs)
    demand = shapely.get_coordinates(geo.demand.geometry.to_numpy()) if geo.demand is not None else None
    cov = data.scenario.coverage
    return list(site_service_areas(net, shapely.get_coordinates(here.to_numpy()), profiles=profiles,
                                   minutes=minutes, demand_xy=demand, max_snap_m=cov.max_snap_m, trim_m=cov.trim_m))


def _site_pages(geo: ProjectedLayers, sites: Table) -> tuple[SitePage, ...]:
    """The first :data:`SITE_PAGES_PER_ROW` sites of each indicator row, each with a small map of its service area."""
    data = geo.data
    if data.proposals is None or len(data.proposals) == 0:
        return ()
    frame = sites.frame
    first = frame[featured_sites(sites)]
    props = data.proposals.drop_duplicates("site_id")
    props = props.set_index(props["site_id"].astype(str).to_numpy())
    chosen = props.loc[first["站点编号"].astype(str).tolist()]
    areas = _areas(geo, chosen)
    maps = site_maps(geo, [(site, area) for (_j, site), area in zip(chosen.iterrows(), areas, strict=True)])
    pages = []
    for (_i, row), area, png in zip(first.iterrows(), areas, maps, strict=True):
        fields: tuple[tuple[str, str], ...] = (
            ("指标", row["指标"] + (f"（同时服务：{row['同时服务的指标']}）" if row["同时服务的指标"] else "")),
            ("序号 / 建设年份", f"{row['序号']} / {row['建设年份']}"), ("设施类型", str(row["设施类型"])),
            ("镇街", str(row["镇街"])), ("村（社区）", str(row["村（社区）"])),
            ("坐标 WGS84", _coords(row, "WGS84")), ("坐标 GCJ-02", _coords(row, "GCJ-02")),
            ("新增覆盖（常住人口 / 户 / 60岁以上）", " / ".join(display(row[c], "0") for c in
                                                  ("新增覆盖常住人口", "新增覆盖户数", "新增覆盖60岁以上人口"))),
        )
        if area is not None:
            fields += (("服务范围", f"{area.minutes:g} 分钟（{_profile_name(data, area.profile)}），"
                                     f"约 {area.area_km2:.1f} km²，范围内需求点 {len(area.reached)} 个"),)
        heading = f"{row['指标']} 第 {row['序号']} 处：{row['镇街']} {row['村（社区）']}"
        pages.append(SitePage(heading, fields, str(row["选址理由"]), Figure(heading, png),
                              str(row["站点编号"]), area))
    return tuple(pages)


def _profile_name(data: ReportData, profile_id: str) -> str:
    found = data.profiles.get(profile_id)
    return found.name_zh if found is not None else profile_id


def _maps(geo: ProjectedLayers) -> tuple[Figure, ...]:
    data = geo.data
    mark = "（示意）" if data.illustrative else ""
    figures = [Figure(f"图 4-1 区域概况与现有设施{mark}", overview_map(geo))]
    types = list(dict.fromkeys(data.units["facility_type"].astype(str))) if len(data.units) else []
    for i, type_id in enumerate(types, start=2):
        figures.append(Figure(f"图 4-{i} {data.type_name(type_id)}覆盖率{mark}", coverage_map(geo, type_id)))
    if (data.gaps is not None and len(data.gaps)) or (data.proposals is not None and len(data.proposals)):
        figures.append(Figure(f"图 4-{len(figures) + 1} 覆盖缺口与建议选址{mark}", gap_map(geo)))
    return tuple(figures)


def build_report(data: ReportData) -> ReportContent:
    """Compute every table, map and sentence of the report once.

    Raises
    ------
    ConfigError
        If no CJK font is installed (the maps and the PDF need one).
    """
    # matplotlib's millions of small objects: the 永川 maps take 1.5 s less CPU (bench/bench_report.py)
    with collector_paused():
        return _build_report(data)


def _build_report(data: ReportData) -> ReportContent:
    cjk_font()
    coverage = township_coverage(data)
    split = tuple(Table(coverage.key, f"{coverage.title}：{name}", part.reset_index(drop=True), coverage.formats)
                  for name, part in coverage.frame.groupby("设施类型", sort=False)) if len(coverage.frame) else ()
    curve = coverage_curve(data)
    names = {t: data.type_name(t) for t in curve["facility_type"].unique()} if len(curve) else {}
    svg = coverage_chart_svg(curve, names, title="全区覆盖曲线") if len(curve) and data.method == "network" else ""
    sites = site_table(data)
    geo = project_layers(data)
    attributions = tuple(n for n in data.notes if n)
    return ReportContent(
        data=data, findings=tuple(findings(data)), limits=tuple(report_limits(data)),
        indicators=indicator_table(data), coverage=split, coverage_wide=township_coverage_wide(coverage), curve_svg=svg,
        floor_area=floor_area_table(data),
        admin_summary=Table("缺设施汇总", "缺少应配设施的区划数", admin_summary(data), {"缺少的区划数": "0"}),
        admin=admin_table(data), gaps=gap_table(data), maps=_maps(geo), sites=sites,
        site_pages=_site_pages(geo, sites), method=method_table(data), layers=layer_table(data),
        attributions=attributions,
    )


#: the text width (in ems of the table's font) a table has on the page: A4 portrait at 7.5 pt (``table``), portrait
#: at 6.8 pt (``table.wide``), landscape at 6.8 pt — report.css's page margins and font sizes
ROOM_PORTRAIT_EM, ROOM_PORTRAIT_WIDE_EM, ROOM_LANDSCAPE_WIDE_EM = 67.0, 74.0, 112.0


def _template_table(table: Table, *, room_em: float = ROOM_PORTRAIT_EM) -> dict[str, Any]:
    frame = table.frame
    numeric = [table.formats.get(c, "@") != "@" and pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    rows = table.shown()
    return {"title": table.title, "columns": [str(c) for c in frame.columns], "rows": rows, "numeric": numeric,
            "note": table.note, "widths": _widths([str(c) for c in frame.columns], rows, room_em=room_em)}


#: characters set a full em wide (CJK, fullwidth forms); the others (Latin letters, digits) count about 0.6
_WIDE = "[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
_NARROW_EM = 0.6
_PADDING_EM = 1.4  # a cell's left and right padding (1.2 mm each), its borders and rounding


def _text_width(cells: pd.Series) -> pd.Series:
    """Each text's width in ems: a Chinese character one, a Latin letter or digit about 0.6 (a coordinate pair
    ``105.745405, 29.272155`` is 21 characters but 13 ems)."""
    wide = cells.str.count(_WIDE)
    return wide + _NARROW_EM * (cells.str.len() - wide)


def _widths(columns: list[str], rows: list[list[str]], *, room_em: float) -> list[float]:
    """Column widths in % for a fixed table layout.

    Each column needs its widest cell in ems plus the padding (a header counts up to 9 ems, as it wraps). When the
    needs exceed the table's room, only the widest columns give way (down to a common cap, so short codes, names
    and numbers stay on one line and long text wraps); room left over is shared in proportion.

    WeasyPrint's automatic layout measures every cell's narrowest wrapping, which for Chinese text (a break after
    every character) took most of the PDF's time; and every line a cell wraps into is another text layout, so the
    widths follow the text's real width (digits are about half a Chinese character), not its number of characters.

    Examples
    --------
    >>> _widths(["代码", "说明"], [["500118001000", "很长的说明" * 20]], room_em=60.0)
    [14.33, 85.67]
    """
    header = _text_width(pd.Series(columns, dtype=object)).clip(upper=9.0).to_numpy(float) * 0.8
    sample = pd.DataFrame(rows[:200], columns=range(len(columns)), dtype=object)
    widest = (sample.apply(lambda cells: _text_width(cells.astype(str)).max()).to_numpy(float) if len(sample)
              else np.zeros(len(columns)))
    need = np.maximum(np.maximum(header, widest) + _PADDING_EM, 5.0)
    if need.sum() > room_em:
        ordered = np.sort(need)
        before = np.concatenate([[0.0], np.cumsum(ordered)[:-1]])
        caps = (room_em - before) / np.arange(len(ordered), 0, -1)  # the cap if the i-th narrowest and wider give way
        fits = np.flatnonzero(caps <= ordered)
        need = np.minimum(need, max(caps[fits[0]], 3.0)) if len(fits) else need
    return [round(float(n), 2) for n in 100.0 * need / need.sum()]


def _css_string(text: str) -> Markup:
    """`text` as a quoted CSS string for a page-margin box: every character outside plain CJK/ASCII letters,
    digits and spaces is written as a CSS escape, so a user's notice can neither close the string nor the
    ``<style>`` element.

    Examples
    --------
    >>> quoted = str(_css_string('内部用图 "x"</style>'))
    >>> quoted.startswith('"内部用图 '), '"' in quoted[1:-1], '<' in quoted
    (True, False, False)
    """
    safe = "".join(c if c.isalnum() or c in " 　：:（）()〔〕-" else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{safe}"')  # noqa: S704 - every character but letters, digits and spaces is escaped above


#: the URL scheme of the maps in the HTML the PDF is rendered from: WeasyPrint fetches their PNG bytes from the
#: report (:func:`_write_pdf`) instead of parsing 2 MB of base64 ``data:`` URIs through its HTML parser
MAP_SCHEME = "gisplan-map"


def _map_uris(content: ReportContent, *, inline: bool) -> list[str]:
    """The maps' URIs in order (overview maps, then the site maps): ``data:`` URIs, or ``gisplan-map:`` ones."""
    figures = [*content.maps, *(p.map for p in content.site_pages)]
    return [f.uri if inline else f"{MAP_SCHEME}:{i}" for i, f in enumerate(figures)]


def render_html(content: ReportContent, *, inline_maps: bool = True) -> str:
    """The report as one HTML page (the PDF's source); user strings are escaped. With `inline_maps` (report.html)
    the maps are ``data:`` URIs, so the page is self-contained; without, ``gisplan-map:N`` URIs for the PDF."""
    uris = _map_uris(content, inline=inline_maps)
    n_maps = len(content.maps)
    folder = resources.files("gisplan") / "data" / "report"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    data = content.data
    return env.get_template("report.html.j2").render(
        title=data.title, district_code=data.district_code, period=data.period.label, ended=data.period.ended,
        generated=data.generated.isoformat(), version=__version__, illustrative=data.illustrative,
        notice_css=_css_string(f"{data.scenario.map.notice_text}　界线不作为权属争议依据"),
        illustrative_layers=data.illustrative_layers, limits=content.limits, findings=content.findings,
        css=(folder / "report.css").read_text(encoding="utf-8"),
        sections=[{"id": i, "number": n, "title": t} for i, n, t in _SECTIONS],
        indicators=_template_table(content.indicators, room_em=ROOM_LANDSCAPE_WIDE_EM), curve_svg=content.curve_svg,
        coverage_note="无道路网或住户数据" if data.method == "none" else "直线估算（参考），无覆盖曲线",
        coverage_tables=([_template_table(content.coverage_wide, room_em=ROOM_PORTRAIT_WIDE_EM)] if content.coverage
                         else []),
        floor_area=_template_table(content.floor_area), admin_summary=_template_table(content.admin_summary),
        gaps=_template_table(content.gaps),
        maps=[{"uri": uris[i], "caption": m.caption} for i, m in enumerate(content.maps)],
        site_pages=[{"heading": p.heading, "fields": p.fields, "rationale": p.rationale, "uri": uris[n_maps + i]}
                    for i, p in enumerate(content.site_pages)],
        pages_per_row=SITE_PAGES_PER_ROW,
        sites=_template_table(rest_sites_brief(content.sites), room_em=ROOM_LANDSCAPE_WIDE_EM),
        no_sites="本次运行没有新增选址：" + ("需要路网覆盖才能选址。" if data.method != "network"
                                       else "各项指标不需要或无法通过新建设施达到目标。"),
        method=_template_table(content.method), layers=_template_table(content.layers, room_em=ROOM_PORTRAIT_WIDE_EM),
        attributions=content.attributions,
    )


def png_rows(png: bytes) -> bytes:
    """The compressed rows of a PNG (its IDAT chunks joined): what a PDF image with ``FlateDecode`` and PNG
    predictors holds for an 8-bit, non-interlaced RGB image.

    Examples
    --------
    >>> import io, zlib
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (3, 2), "red").save(buf, format="PNG")
    >>> len(zlib.decompress(png_rows(buf.getvalue())))  # 2 rows of a filter byte and 3 × 3 bytes
    20
    """
    rows, at = [], 8  # after the signature
    while at + 8 <= len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        if png[at + 4:at + 8] == b"IDAT":
            rows.append(png[at + 8:at + 8 + length])
        at += 12 + length  # length, type, data, CRC
    return b"".join(rows)


def _map_images(pngs: Sequence[bytes], options: dict[str, Any]) -> dict[str, Any]:
    """WeasyPrint's image cache filled with the maps, each as an image whose PNG rows go into the PDF as they are:
    WeasyPrint itself decodes every PNG and compresses it again (zlib level 6, about 0.4 s for the 永川 report's
    25 maps). Empty if this WeasyPrint's images differ from the 70.x this is written for (then it does its own)."""
    import hashlib  # noqa: PLC0415
    import io  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415
    from weasyprint.images import RasterImage  # noqa: PLC0415

    class _MapImage(RasterImage):  # type: ignore[misc]  # WeasyPrint ships no types
        def _get_png_data(self, pillow_image: Any) -> bytes:
            png = self.image_data.data  # IHDR: bit depth 8, colour type 2 (RGB), not interlaced — what the PDF declares
            if pillow_image.format == "PNG" and png[24:26] == b"\x08\x02" and png[28] == 0:
                return png_rows(png)
            return bytes(RasterImage._get_png_data(pillow_image))

    cache: dict[str, Any] = {}
    try:
        for i, png in enumerate(pngs):
            url = f"{MAP_SCHEME}:{i}"
            image_id = hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()
            cache[url] = _MapImage(Image.open(io.BytesIO(png)), image_id, png, cache=cache, options=options)
    except (TypeError, KeyError, AttributeError):  # another WeasyPrint: let it read the maps itself
        logger.debug("report: WeasyPrint reads the maps itself", exc_info=True)
        return {}
    return cache


def _write_pdf(content: ReportContent, path: Path) -> None:
    try:
        import weasyprint  # noqa: PLC0415 - heavy (1 s): only for the PDF
        from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: PLC0415
    except (ImportError, OSError) as exc:
        msg = (_("report.pdf needs WeasyPrint and Debian's libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 "
                 "({exc}); run scripts/setup.sh, or give --format docx,xlsx,html.").format(exc=exc))
        raise ConfigError(msg) from None
    pngs = [f.png for f in (*content.maps, *(p.map for p in content.site_pages))]

    class _Maps(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no types
        """Serves the report's maps; nothing else is fetched (the HTML has no other URL)."""

        def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
            scheme, _colon, number = url.partition(":")
            if scheme != MAP_SCHEME or not number.isdigit() or int(number) >= len(pngs):
                msg = _("the report's PDF fetches only its own maps, not {url}").format(url=url[:80])
                raise ValueError(msg)
            return URLFetcherResponse(url, pngs[int(number)], {"Content-Type": "image/png"})

    cache = _map_images(pngs, weasyprint.DEFAULT_OPTIONS)
    _parsed(render_html(content, inline_maps=False), _Maps()).write_pdf(path, cache=cache or None)


def _parsed(html: str, url_fetcher: Any) -> Any:
    """WeasyPrint's document for the report's HTML, parsed as XML (the template writes well-formed XHTML; user
    strings are escaped by Jinja, so they can add neither markup nor entities): Python's C parser takes a few
    milliseconds where WeasyPrint's pure-Python HTML5 parser took about 0.3 s. HTML that is not well-formed XML
    (a user string with a control character) goes through WeasyPrint's own parser."""
    import weasyprint  # noqa: PLC0415
    from cssselect2 import ElementWrapper  # noqa: PLC0415

    try:
        root = ElementTree.fromstring(html)  # noqa: S314 - our own template's output, user strings escaped
    except ElementTree.ParseError:
        return weasyprint.HTML(string=html, url_fetcher=url_fetcher)
    document = weasyprint.HTML.__new__(weasyprint.HTML)  # what HTML.__init__ sets after its parse
    document.base_url = None
    document.url_fetcher = url_fetcher
    document.media_type = "print"
    document.wrapper_element = ElementWrapper.from_html_root(root, content_language=None)
    document.etree_element = document.wrapper_element.etree_element
    return document


def write_report(
    content: ReportContent, out_dir: Path, *, formats: Sequence[ReportFormat] = tuple(ReportFormat),
) -> list[Path]:
    """Write the report's files into `out_dir`, all or none (a staging folder, then renames); existing report
    files there are replaced.

    Returns
    -------
    list of Path
        The files written, in the order of `formats`.
    """
    from gisplan.outputs.report_docx import write_docx  # noqa: PLC0415 - python-docx only when asked for

    names = [REPORT_FILES[f] for f in formats]
    # WeasyPrint's box tree of a 59-page layout: 1-2 s less CPU for the PDF (bench/bench_report.py)
    with stage_files(out_dir, names, force=True) as tmp, collector_paused():
        for fmt in formats:
            target = tmp / REPORT_FILES[fmt]
            if fmt is ReportFormat.PDF:
                _write_pdf(content, target)
            elif fmt is ReportFormat.HTML:
                write_atomic_text(render_html(content), target)
            elif fmt is ReportFormat.DOCX:
                write_docx(content, target)
            else:
                _write_tables(content, target)
            logger.info("report: %s written", target.name)
    return [out_dir / n for n in names]


def _write_tables(content: ReportContent, path: Path) -> None:
    """``tables.xlsx``: one sheet per table, Chinese headers, number formats, codes as text, filters on."""
    data = content.data
    tables = [content.indicators, township_coverage(data), floor_area_table(data, levels=("district", "township",
                                                                                               "village")),
              gap_table(data, top=None), content.admin, content.sites, content.layers]
    sheets = {t.key: t.frame for t in tables}
    formats = {t.key: {c: f for c, f in t.formats.items() if f not in {"@", "G"}} for t in tables}
    text = {t.key: [c for c, f in t.formats.items() if f == "@"] for t in tables}
    notes = [ILLUSTRATIVE_NOTE] if data.illustrative else []
    notes += [f"{data.title}；规划期 {data.period.label}；报告日期 {data.generated.isoformat()}", *content.attributions]
    write_xlsx(sheets, path, notes=notes, number_formats=formats, text_columns=text, filters=True)
