"""What a plan map shows and how it looks: :class:`MapLayers`, the colours, glyphs and classes, and the popup
and tooltip text of every feature — no folium and no geometry (those are :mod:`gisplan.outputs.webmap`'s).

Facility types take their colour and glyph from the catalogue (``colour``/``glyph`` keys of each ``[[type]]``
in ``facility_types.toml``, :attr:`gisplan.catalogue.FacilityType.map_colour`); the township choropleth is
classed in five ColorBrewer YlGn steps. Every text that comes from user data is escaped with :func:`esc`.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gisplan.catalogue import MAP_PALETTE
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.vocab import LocationPrecision

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import geopandas as gpd

    from gisplan.outputs.mapparts import BasemapImage

__all__ = [
    "APPROXIMATE_NOTE",
    "AREA_COLOURS",
    "BOUNDARY_DISCLAIMER",
    "PRECISION_LABELS",
    "MapLayers",
    "MapRow",
    "choropleth_choices",
    "esc",
    "facility_props",
    "fmt_number",
    "gap_props",
    "popup_table",
    "proposal_sites",
    "site_props",
    "township_classes",
    "type_symbol",
]

AREA_COLOURS = ("#1e88e5", "#43a047", "#8e24aa", "#fb8c00", "#00acc1", "#e53935", "#6d4c41", "#3949ab")
_SEQUENTIAL = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")  # ColorBrewer YlGn: low → high
_NO_DATA = "#d9d9d9"
_UNKNOWN_GLYPH = "设"  # on the markers of a type the map has no glyph for (设施)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
BOUNDARY_DISCLAIMER = "界线不作为权属争议依据"  # on every map that draws administrative boundaries


@dataclass(frozen=True, slots=True)
class MapRow:
    """One indicator row as the map groups its layers: the row's facility types, their service areas and gaps
    (for a coverage row) and the sites proposed for it, toggled together.

    Attributes
    ----------
    indicator_id : str
    name : str
        The row's Chinese name.
    types : tuple of str
        Facility type ids the row is computed from.
    coverage : bool
        A coverage (minutes) row: its group holds the types' service areas and gaps too.
    headline : bool
        On in the map's default view (the scenario's ``headline``; by default the rows with a spatial metric).
    """

    indicator_id: str
    name: str
    types: tuple[str, ...]
    coverage: bool = False
    headline: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class MapLayers:
    """What a plan map shows. GeoDataFrames may be in any CRS (each is reprojected for display).

    Attributes
    ----------
    title : str
        The scenario's name, shown in the title block.
    method : str
        ``"network"`` (shortest paths on the roads), ``"straight_line"`` (service radius) or ``"none"``
        (coverage not measured); shown in the title.
    townships : geopandas.GeoDataFrame or None
        ``code12``, ``name`` and the indicator columns written by ``gisplan run``: ``share_<type>`` (population
        share within the type's threshold), ``floor_area_m2_per_100hh``, ``lacks_<type>``.
    district : geopandas.GeoDataFrame or None
    villages : geopandas.GeoDataFrame or None
        ``code12``, ``name`` and ``lacks_<type>`` for village-level administrative coverage.
    facilities : mapping of str to geopandas.GeoDataFrame
        Points per facility type id: ``name``, ``code12`` and, where known, ``floor_area_m2``, ``beds``,
        ``status`` (``planned`` shows dashed) and ``illustrative``.
    areas : geopandas.GeoDataFrame or None
        Service areas: ``facility_type``, ``minutes``, ``profile``.
    gaps : geopandas.GeoDataFrame or None
        Uncovered areas: ``facility_type``, ``rank``, ``population``, ``households``, ``pop_60plus``,
        ``township``, ``village``, ``area_km2``.
    proposals : geopandas.GeoDataFrame or None
        Candidate sites: ``facility_type``, ``indicator_id``, ``rank``, ``year``, ``*_added``, ``township``,
        ``village``, ``lon``/``lat``, ``lon_gcj02``/``lat_gcj02``; ``indicator_ids`` (all rows a site serves,
        joined with ；) when one row per site (see :func:`proposal_sites`).
    type_names : mapping of str to str
        Facility type id → Chinese name.
    type_minutes : mapping of str to float
        Facility type id → coverage threshold in minutes (for the choropleth's label).
    type_colours : mapping of str to str
        Facility type id → marker colour ``#rrggbb`` (the catalogue's
        :attr:`~gisplan.catalogue.FacilityType.map_colour`). A type without one takes the
        :data:`~gisplan.catalogue.MAP_PALETTE` entry of its place among `facilities`.
    type_glyphs : mapping of str to str
        Facility type id → the character(s) on its markers (the catalogue's
        :attr:`~gisplan.catalogue.FacilityType.map_glyph`); default 设.
    illustrative : tuple of str
        Chinese names of the layers that are generated (示意); any entry puts the 示意 banner on the map.
    floor_area_standard_m2_per_100hh : float
        The standard the floor-area choropleth is classed around.
    made_on : datetime.date
    notes : tuple of str
        Lines under the title (HTML-escaped): the roads' source and licence (© OpenStreetMap contributors,
        ODbL), or how to get network coverage when the 15-minute values are straight-line estimates.
    rows : tuple of MapRow
        The indicator rows the layer panel groups by; without any, one group per facility type (the first on).
    notice : str
        The map notice (内部用图, or 审图号：…) shown on screen and in print.
    neighbours : geopandas.GeoDataFrame or None
        Polygons of neighbouring units with a ``name``; those sharing the district outline are named at its edge.
    basemap_image : BasemapImage or None
        A local GeoTIFF basemap (:func:`gisplan.outputs.mapparts.read_basemap`), drawn under the layers.
    neighbour_names : pandas.DataFrame or None
        The neighbours' labels (:func:`gisplan.outputs.mapparts.neighbour_labels` of `neighbours` and
        `district`) when they were placed already, e.g. while the run went on; None: placed when the map is built.

    Raises
    ------
    ConfigError
        If a colour in `type_colours` is not written ``#rrggbb``.
    """

    title: str
    method: str
    townships: gpd.GeoDataFrame | None = None
    district: gpd.GeoDataFrame | None = None
    villages: gpd.GeoDataFrame | None = None
    facilities: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    areas: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    proposals: gpd.GeoDataFrame | None = None
    type_names: Mapping[str, str] = field(default_factory=dict)
    type_minutes: Mapping[str, float] = field(default_factory=dict)
    type_colours: Mapping[str, str] = field(default_factory=dict)
    type_glyphs: Mapping[str, str] = field(default_factory=dict)
    illustrative: tuple[str, ...] = ()
    floor_area_standard_m2_per_100hh: float = 30.0
    made_on: date = field(default_factory=date.today)
    notes: tuple[str, ...] = ()
    rows: tuple[MapRow, ...] = ()
    notice: str = "内部用图"
    neighbours: gpd.GeoDataFrame | None = None
    basemap_image: BasemapImage | None = None
    neighbour_names: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        # a colour goes into a style attribute: anything but #rrggbb could fetch an image from the network
        bad = {k: v for k, v in self.type_colours.items() if not _COLOUR.fullmatch(str(v))}
        if bad:
            msg = _("`type_colours` must map type ids to colours written #rrggbb (got {bad})").format(bad=bad)
            raise ConfigError(msg)


# ---------------------------------------------------------------------------------------------- text


def esc(value: object) -> str:
    """HTML-escape a value for a popup, tooltip or label (None/NaN → ``—``).

    Examples
    --------
    >>> esc("<b>{{ x }}</b>"), esc(None)
    ('&lt;b&gt;&#123;&#123; x &#125;&#125;&lt;/b&gt;', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    # braces too: the map was once written through folium, which rendered each element's output again as a
    # Jinja template ("{{ … }}" in a name was evaluated); the page is no longer templated, the escape stays
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def fmt_number(value: object, digits: int = 0, unit: str = "", *, scale: float = 1.0) -> str:
    """A number for a popup (``—`` when missing).

    Examples
    --------
    >>> fmt_number(0.913, 1, "%", scale=100), fmt_number(1200.0, 0, " 人"), fmt_number(float("nan"))
    ('91.3%', '1,200 人', '—')
    """
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(float(value))):
        return "—"
    return f"{float(value) * scale:,.{digits}f}{unit}"  # type: ignore[arg-type]


def popup_table(caption: str, rows: list[tuple[str, str]], note: str = "") -> str:
    """A popup table; `caption` and the row values must already be escaped."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    tail = f'<tr><td colspan="2" class="gp-note">{note}</td></tr>' if note else ""
    return f'<table class="gp-pop"><caption>{caption}</caption>{body}{tail}</table>'


def type_symbol(layers: MapLayers, type_id: str, order: int) -> tuple[str, str]:
    """The colour and glyph (escaped) of a facility type's markers: the catalogue's, else the
    :data:`~gisplan.catalogue.MAP_PALETTE` entry of the layer's place (`order`) among the map's facility
    layers, and 设."""
    colour = layers.type_colours.get(type_id, MAP_PALETTE[order % len(MAP_PALETTE)])
    return esc(colour), esc(layers.type_glyphs.get(type_id, _UNKNOWN_GLYPH))


# ---------------------------------------------------------------------------------------------- choropleth


def _towns(layers: MapLayers) -> gpd.GeoDataFrame:
    assert layers.townships is not None  # internal invariant: choropleth keys exist only with townships
    return layers.townships


def choropleth_choices(layers: MapLayers) -> dict[str, str]:
    """The township indicators a map can be coloured by: key → Chinese label.

    Keys are ``coverage:<type>`` (share of residents within the type's threshold), ``floor_area``
    (community-centre floor area per 100 households) and ``admin:<type>`` (share of a township's
    villages/communities that have the facility, or whether the township has its own).
    """
    out: dict[str, str] = {}
    towns = layers.townships
    if towns is None:  # nothing to colour
        return out
    for column in towns.columns:
        if column.startswith("share_"):
            type_id = column.removeprefix("share_")
            minutes = layers.type_minutes.get(type_id)
            span = f"{minutes:g} 分钟" if minutes else "门槛时间"
            out[f"coverage:{type_id}"] = f"{span}覆盖率（人口）— {layers.type_names.get(type_id, type_id)}"
    if "floor_area_m2_per_100hh" in towns:
        out["floor_area"] = "每百户社区综合服务设施面积（m²）"
    lacks = [c for c in towns.columns if c.startswith("lacks_")]
    if layers.villages is not None:
        lacks += [c for c in layers.villages.columns if c.startswith("lacks_")]
    for column in dict.fromkeys(lacks):
        type_id = column.removeprefix("lacks_")
        out[f"admin:{type_id}"] = f"行政覆盖率 — {layers.type_names.get(type_id, type_id)}"
    return out


def _admin_share(layers: MapLayers, type_id: str) -> pd.Series:
    """Per township: share of its villages with the facility, or 1/0 for a township-level facility."""
    column = f"lacks_{type_id}"
    towns = _towns(layers)
    codes = towns["code12"].astype(str)
    if layers.villages is not None and column in layers.villages:
        villages = pd.DataFrame(layers.villages)
        prefix = villages["code12"].astype(str).str[:9]
        has = ~villages[column].astype("boolean").fillna(value=False).astype(bool)
        share = has.groupby(prefix).mean()
        return pd.Series(codes.str[:9].map(share).to_numpy(dtype=float), index=towns.index)
    lacking = towns[column].astype("boolean")
    return pd.Series(np.where(lacking.isna(), np.nan, (~lacking.fillna(value=False)).astype(float)), index=towns.index)


def _classes(key: str, layers: MapLayers) -> tuple[pd.Series, list[float], list[str], str]:
    """Values, class breaks, class labels and a value formatter name for a choropleth key."""
    towns = _towns(layers)
    if key == "floor_area":
        std = layers.floor_area_standard_m2_per_100hh
        breaks = [std / 3, 2 * std / 3, std, 1.5 * std]
        labels = [f"< {breaks[0]:g}", f"{breaks[0]:g}–{breaks[1]:g}", f"{breaks[1]:g}–{std:g}",
                  f"{std:g}–{breaks[3]:g}（达标）", f"≥ {breaks[3]:g}（达标）"]
        return towns["floor_area_m2_per_100hh"].astype(float), breaks, labels, "m2"
    kind, _, type_id = key.partition(":")
    values = (towns[f"share_{type_id}"].astype(float) if kind == "coverage" else _admin_share(layers, type_id))
    breaks = [0.2, 0.4, 0.6, 0.8]
    labels = ["< 20%", "20–40%", "40–60%", "60–80%", "≥ 80%"]
    return values, breaks, labels, "share"


def township_classes(layers: MapLayers, key: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]], str]:
    """The township choropleth `key` (of :func:`choropleth_choices`): per township its fill, tooltip and popup;
    the legend as (colour, label) pairs, no data last; and the indicator's label (the legend's title)."""
    towns = _towns(layers)
    values, breaks, labels, fmt = _classes(key, layers)
    cls = np.digitize(values.to_numpy(dtype=float), breaks)
    label = choropleth_choices(layers)[key]
    props = []
    for i, (name, value) in enumerate(zip(towns["name"], values, strict=True)):
        shown = fmt_number(value, 1, "%", scale=100) if fmt == "share" else fmt_number(value, 1, " m²/百户")
        colour = _NO_DATA if math.isnan(value) else _SEQUENTIAL[int(cls[i])]
        props.append({"_s": {"fillColor": colour},
                      "_t": f"{esc(name)}：{shown}",
                      "_p": popup_table(esc(name), [("代码", esc(towns["code12"].iloc[i])), (esc(label), shown)])})
    legend = [*zip(_SEQUENTIAL, labels, strict=True), (_NO_DATA, "无数据")]
    return props, legend, label


# ---------------------------------------------------------------------------------------------- popups


#: How a facility's location was found (column ``location_precision`` of a ledger located by name) as the popup
#: shows it; village and township points are approximate.
PRECISION_LABELS: dict[str, str] = {LocationPrecision.POINT: "坐标点 (point)",
                                   LocationPrecision.VILLAGE: "村（社区）代表点 (village point, approximate)",
                                   LocationPrecision.TOWNSHIP: "镇街代表点 (township point, approximate)"}
APPROXIMATE_NOTE = "台账无坐标：按所在村（社区）或镇街的代表点定位，非实际位置；服务覆盖为近似"


def facility_props(frame: gpd.GeoDataFrame, type_name: str, symbol: tuple[str, str],
                   town_names: Mapping[str, str], layer_illustrative: bool) -> list[dict[str, Any]]:
    """Per facility: popup, tooltip and marker icon (`symbol`: the escaped colour and glyph of
    :func:`type_symbol`); planned ones dashed, illustrative ones noted, ones placed at a village/township
    representative point (``location_precision``) dotted, with the precision and any ``location_note``."""
    colour, glyph = symbol
    props = []
    columns = set(frame.columns)
    for row in _rows(frame, ("code12", "status", "illustrative", "floor_area_m2", "beds", "location_precision",
                             "location_note", "name")):
        code = str(getattr(row, "code12", "") or "")
        planned = str(getattr(row, "status", "") or "") == "planned"
        flagged = getattr(row, "illustrative", None)
        fake = layer_illustrative if flagged is None or pd.isna(flagged) else bool(flagged)
        rows = [("类型", esc(type_name)), ("所在镇街", esc(town_names.get(code[:9] + "000", "—"))),
                ("区划代码", esc(code or None))]
        if "floor_area_m2" in columns:
            rows.append(("建筑面积", fmt_number(row.floor_area_m2, 0, " m²")))
        if "beds" in columns:
            rows.append(("床位", fmt_number(row.beds, 0, " 张")))
        rows.append(("状态", "规划" if planned else "现状"))
        rows.append(("示意数据", "是" if fake else "否"))
        precision = getattr(row, "location_precision", None)
        approximate = precision in (LocationPrecision.VILLAGE, LocationPrecision.TOWNSHIP)
        if isinstance(precision, str):
            rows.append(("位置精度", esc(PRECISION_LABELS.get(precision, precision))))
        note = getattr(row, "location_note", None)
        if isinstance(note, str) and note:
            rows.append(("地名备注", esc(note)))
        name = esc(getattr(row, "name", None))
        classes = " ".join(c for c, on in (("gp-planned", planned), ("gp-approx", approximate)) if on)
        extra = f' class="{classes}"' if classes else ""
        notes = "；".join(n for n, on in (("示意数据，非真实设施", fake), (APPROXIMATE_NOTE, approximate)) if on)
        props.append({"_p": popup_table(name, rows, notes), "_t": name,
                      "_i": f'<div{extra} style="background:{colour}">{glyph}</div>'})
    return props


def gap_props(gaps: pd.DataFrame, type_name: str) -> list[dict[str, Any]]:
    """Per uncovered area: popup (rank, divisions, residents, area) and tooltip."""
    return [{"_p": popup_table(f"覆盖缺口 第 {esc(r.rank)} 位 — {esc(type_name)}", [
                ("镇街", esc(r.township)), ("村/社区", esc(r.village)),
                ("人口", fmt_number(r.population, 0, " 人")), ("户数", fmt_number(r.households, 0, " 户")),
                ("60岁以上", fmt_number(getattr(r, "pop_60plus", None), 0, " 人")),
                ("面积", fmt_number(r.area_km2, 2, " km²"))]),
             "_t": f"缺口 {esc(r.rank)}：{fmt_number(r.population, 0)} 人"}
            for r in _rows(gaps, ("rank", "township", "village", "population", "households", "pop_60plus",
                                  "area_km2"))]


def _rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> Iterator[Any]:
    """The rows of `frame` as named tuples of those of `columns` it has (in `columns`' order): the popups read
    a few columns, and a tuple of every column (geometry included) took most of their time."""
    return pd.DataFrame({c: frame[c].array for c in columns if c in frame},
                        index=pd.RangeIndex(len(frame))).itertuples(index=False)


def proposal_sites(proposals: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per physical site per facility type, as the siting contract writes them: ``indicator_id`` the
    first row that asked for the site, ``rank`` its rank there (unique within that row), ``indicator_ids``
    every row it serves joined with ``；`` and ``row_ranks`` the ranks it had in each (``YC-1-12 第3位；…``).

    Proposals written one row per (indicator row, site) — the format before the contract — are merged by
    ``site_id``, else ``candidate_id``, else position: a site two rows ask for appears once, naming both.
    """
    frame = proposals.copy()
    ranked = frame["indicator_id"].astype(str) + " 第" + frame["rank"].astype(str) + "位"
    if "indicator_ids" in frame:
        frame["indicator_ids"] = frame["indicator_ids"].fillna(frame["indicator_id"]).astype(str)
        frame["row_ranks"] = ranked.where(~frame["indicator_ids"].str.contains("；"),
                                          ranked + "；亦服务 " + frame["indicator_ids"].str.partition("；")[2])
        return frame
    if "site_id" in frame:
        site = frame["site_id"].astype(str)
    elif "candidate_id" in frame:
        site = frame["candidate_id"].astype(str)
    else:
        site = frame.geometry.x.round(6).astype(str) + "," + frame.geometry.y.round(6).astype(str)
    key = frame["facility_type"].astype(str) + "|" + site
    joined = pd.DataFrame({"key": key, "id": frame["indicator_id"].astype(str), "ranked": ranked})
    agg = joined.groupby("key", sort=False).agg(indicator_ids=("id", "；".join), row_ranks=("ranked", "；".join))
    first = frame.loc[~key.duplicated()].copy()
    first_key = key[~key.duplicated()]
    first["indicator_ids"] = first_key.map(agg["indicator_ids"]).to_numpy()
    first["row_ranks"] = first_key.map(agg["row_ranks"]).to_numpy()
    return first


def site_props(sites: pd.DataFrame, type_name: str, colour: str = "#111111") -> list[dict[str, Any]]:
    """Per proposed site (one row per site, :func:`proposal_sites`): popup (the rows it serves with its rank
    in each, build year, what it adds, coordinates), tooltip and a marker numbered with its rank in its
    first row and labelled with its build year, its outline in the type's `colour` (escaped)."""
    props = []
    for r in _rows(sites, ("row_ranks", "indicator_id", "year", "township", "village", "population_added",
                           "households_added", "pop_60plus_added", "covered_share_after", "lon", "lat", "lon_gcj02",
                           "lat_gcj02", "rank", "indicator_ids")):
        rows = [("指标", esc(getattr(r, "row_ranks", None) or getattr(r, "indicator_id", None))),
                ("设施类型", esc(type_name)),
                ("建设年份", esc(getattr(r, "year", None))), ("镇街", esc(getattr(r, "township", None))),
                ("村/社区", esc(getattr(r, "village", None)))]
        for column, label in (("population_added", "新增覆盖人口"), ("households_added", "新增覆盖户数"),
                              ("pop_60plus_added", "新增覆盖60岁以上")):
            if hasattr(r, column):
                rows.append((label, fmt_number(getattr(r, column), 0)))
        if hasattr(r, "covered_share_after"):
            rows.append(("建成后覆盖率", fmt_number(r.covered_share_after, 1, "%", scale=100)))
        if hasattr(r, "lon"):
            rows.append(("WGS84", f"{r.lon:.6f}, {r.lat:.6f}"))
        if hasattr(r, "lon_gcj02"):
            rows.append(("GCJ-02", f"{r.lon_gcj02:.6f}, {r.lat_gcj02:.6f}"))
        rank = esc(r.rank)
        year = getattr(r, "year", None)
        year_text = "" if year is None or pd.isna(year) else f"{int(year)}"
        served = esc(getattr(r, "indicator_ids", None) or getattr(r, "indicator_id", ""))
        props.append({"_p": popup_table(f"候选站点 第 {rank} 位", rows, "由模型提出的建议位置，需实地核实"),
                      "_t": f"候选 {rank}（{served}）{year_text and f'，{year_text} 年建'}",
                      "_i": (f'<div class="gp-ring" style="background:#ffd600;color:#111;border-color:{colour}">'
                             f"<span>{rank}</span></div>"
                             + (f'<b class="gp-year">{year_text}</b>' if year_text else ""))})
    return props
