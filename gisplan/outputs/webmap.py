"""HTML coverage maps (folium/Leaflet) that open offline, in Chinese.

:func:`build_map` turns a plan's layers — district and township boundaries with a township choropleth,
facilities by type, service areas, coverage gaps and candidate sites — into a :class:`folium.Map`;
:func:`render_map_html` renders it as one self-contained HTML page. Leaflet and its plugins ship inside
gisplan (``gisplan/data/web``, see its README) and are inlined, so the page needs no CDN: a government
intranet has none. Tiles are optional and off by default.

Every name that comes from user data (facility, township and village names, the scenario title) is
HTML-escaped before it reaches the page, and data travel as JSON with ``<``, ``>`` and ``&`` escaped, so a
facility called ``<img src=x onerror=alert(1)>`` shows as text. Geometry is simplified for display (in
metres, in a local UTM zone) and coordinates are rounded to 1e-5° (about 1 m).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.coords import transform_geometries
from gisplan.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import folium

__all__ = [
    "BASEMAPS",
    "MapLayers",
    "build_map",
    "check_basemap",
    "choropleth_choices",
    "layer_counts",
    "render_map_html",
]

WEB_DIR = Path(__file__).resolve().parents[1] / "data" / "web"
MAP_DIR = Path(__file__).resolve().parents[1] / "data" / "map"
_ASSET = "gisplan-asset:"  # placeholder scheme, replaced by the file's contents in render_map_html

# basemap id -> (label, tile URLs, attribution, coordinate system the tiles are drawn in)
BASEMAPS: Mapping[str, tuple[str, tuple[str, ...], str, str]] = MappingProxyType({
    "none": ("无底图（仅边界）", (), "", "wgs84"),
    "osm": ("OpenStreetMap", ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
            "&copy; OpenStreetMap contributors", "wgs84"),
    "tianditu": ("天地图", (
        "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
        "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default"
        "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
    ), "&copy; 天地图 国家地理信息公共服务平台", "wgs84"),
    "amap": ("高德地图（GCJ-02）", (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
    ), "&copy; 高德地图 AutoNavi", "gcj02"),
})
_TIANDITU_KEY = re.compile(r"[0-9A-Za-z]{16,64}")

# facility type -> (colour, one-character symbol); types outside the catalogue take the fallback palette
_TYPE_SYMBOLS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "community_service_centre": ("#1565c0", "社"),
    "elderly_day_care": ("#2e7d32", "站"),
    "township_elderly_centre": ("#00897b", "中"),
    "rural_mutual_aid_elderly": ("#7cb342", "互"),
    "elderly_institution": ("#6a1b9a", "养"),
    "public_cemetery": ("#5d4037", "墓"),
    "funeral_service_station": ("#455a64", "殡"),
    "minor_protection_station": ("#ef6c00", "未"),
    "social_work_station": ("#ad1457", "工"),
    "volunteer_service_point": ("#0097a7", "志"),
})
_FALLBACK_COLOURS = ("#3949ab", "#c0ca33", "#8d6e63", "#26a69a", "#ec407a", "#5c6bc0", "#ffa000", "#78909c")
_AREA_COLOURS = ("#1e88e5", "#43a047", "#8e24aa", "#fb8c00", "#00acc1", "#e53935", "#6d4c41", "#3949ab")
_SEQUENTIAL = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")  # ColorBrewer YlGn: low → high
_NO_DATA = "#d9d9d9"
CLUSTER_OVER = 40  # a facility type with more points than this is clustered
_SIMPLIFY_M = 5.0  # display simplification of polygons, metres
_DECIMALS = 5  # 1e-5 degree ≈ 1.1 m north-south, 1.0 m east-west at 30°N


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
        ``village``, ``lon``/``lat``, ``lon_gcj02``/``lat_gcj02``.
    type_names : mapping of str to str
        Facility type id → Chinese name.
    type_minutes : mapping of str to float
        Facility type id → coverage threshold in minutes (for the choropleth's label).
    illustrative : tuple of str
        Chinese names of the layers that are generated (示意); any entry puts the 示意 banner on the map.
    floor_area_standard_m2_per_100hh : float
        The standard the floor-area choropleth is classed around.
    made_on : datetime.date
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
    illustrative: tuple[str, ...] = ()
    floor_area_standard_m2_per_100hh: float = 30.0
    made_on: date = field(default_factory=date.today)


def _esc(value: object) -> str:
    """HTML-escape a value for a popup, tooltip or label (None/NaN → ``—``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    # braces too: folium renders each element's output again as a Jinja template, so "{{ … }}" in a name
    # would otherwise be evaluated while the map is written
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _number(value: object, digits: int = 0, unit: str = "", *, scale: float = 1.0) -> str:
    """A number for a popup (``—`` when missing), e.g. ``_number(0.913, 1, "%", scale=100)`` → ``91.3%``."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(float(value))):
        return "—"
    return f"{float(value) * scale:,.{digits}f}{unit}"  # type: ignore[arg-type]


def _table(caption: str, rows: list[tuple[str, str]], note: str = "") -> str:
    """A popup table; `caption` and the row values must already be escaped."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    tail = f'<tr><td colspan="2" class="gp-note">{note}</td></tr>' if note else ""
    return f'<table class="gp-pop"><caption>{caption}</caption>{body}{tail}</table>'


def _type_style(type_id: str, order: int) -> tuple[str, str]:
    if type_id in _TYPE_SYMBOLS:
        return _TYPE_SYMBOLS[type_id]
    return _FALLBACK_COLOURS[order % len(_FALLBACK_COLOURS)], "设"


# ---------------------------------------------------------------------------------------------- geometry


def _display_geoms(frame: gpd.GeoDataFrame, *, system: str, simplify_m: float, coverage: bool = False) -> np.ndarray:
    """Geometries simplified in metres, in WGS84 (or GCJ-02 for an Amap basemap), rounded to about 1 m."""
    geo = frame.geometry
    if geo.crs is None:
        msg = "a map layer has no CRS; layers must carry one (the workspace stores EPSG:4326)"
        raise ConfigError(msg)
    if simplify_m > 0 and len(geo) and not (geo.geom_type == "Point").all():
        metric = geo.to_crs(geo.estimate_utm_crs()) if geo.crs.is_geographic else geo
        parts = metric.to_numpy()
        simple = (shapely.coverage_simplify(parts, simplify_m) if coverage
                  else shapely.simplify(parts, simplify_m, preserve_topology=True))
        geo = gpd.GeoSeries(simple, crs=metric.crs, index=geo.index)
    arr = geo.to_crs(4326).to_numpy()
    if system != "wgs84":
        arr = transform_geometries(arr, source="wgs84", target=system)
    return np.asarray(shapely.transform(arr, lambda xy: np.round(xy, _DECIMALS)), dtype=object)


def _html_safe_json(text: str) -> str:
    """JSON text that cannot close a <script> element (``<``, ``>``, ``&`` as unicode escapes) nor open a
    Jinja tag when folium renders it again (``{`` before ``{``, ``%`` or ``#`` — only ever inside a string
    in JSON — as ``\\u007b``)."""
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return re.sub(r"\{(?=[{%#])", r"\\u007b", text)


def _collection(geoms: np.ndarray, props: list[dict[str, Any]]) -> str:
    """A GeoJSON FeatureCollection as html-safe JSON text."""
    texts = shapely.to_geojson(geoms)
    features = ",".join(
        '{"type":"Feature","geometry":' + str(g) + ',"properties":' + json.dumps(p, ensure_ascii=False) + "}"
        for g, p in zip(texts, props, strict=True))
    return _html_safe_json('{"type":"FeatureCollection","features":[' + features + "]}")


# ---------------------------------------------------------------------------------------------- elements


def _folium() -> Any:
    """folium, imported when a map is made (it takes most of a second, which every other command saves)."""
    import folium  # noqa: PLC0415
    import folium.plugins  # noqa: PLC0415
    import folium.template  # noqa: PLC0415

    return folium


def _overlay_class() -> type:
    fol = _folium()

    class Overlay(fol.map.Layer):  # type: ignore[misc,name-defined]
        """One toggleable layer drawn by ``gisplanLayer`` (gisplan/data/map/gisplan-map.js)."""

        _template = fol.template.Template(
            "{% macro script(this, kwargs) %}\n"
            "var {{ this.get_name() }} = gisplanLayer({{ this.data_json }}, {{ this.options_json }});\n"
            "{% endmacro %}"
        )

        def __init__(self, data_json: str, options: dict[str, Any], *, name: str, show: bool,
                     kind: str, count: int) -> None:
            super().__init__(name=name, overlay=True, control=True, show=show)
            self._name = "GisplanOverlay"
            self.data_json = data_json
            self.options_json = _html_safe_json(json.dumps(options, ensure_ascii=False))
            self.kind = kind
            self.count = count
            self.class_name = str(options["className"])

    return Overlay


def _block(markup: str, where: str = "html") -> Any:
    """An element whose markup (escaped with :func:`_esc`) goes into the page body or header."""
    fol = _folium()

    class Block(fol.elements.MacroElement):  # type: ignore[misc,name-defined]
        _template = fol.template.Template(f"{{% macro {where}(this, kwargs) %}}{{{{ this.markup }}}}{{% endmacro %}}")

    block = Block()
    block.markup = markup
    return block


def _script(code: str, js: tuple[tuple[str, str], ...] = (), css: tuple[tuple[str, str], ...] = ()) -> Any:
    """A script element (``code`` is ours, never user data), registering the libraries it needs."""
    fol = _folium()

    class Script(fol.elements.JSCSSMixin):  # type: ignore[misc,name-defined]
        _template = fol.template.Template("{% macro script(this, kwargs) %}" + code + "{% endmacro %}")
    script = Script()
    script.default_js, script.default_css = list(js), list(css)
    return script


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


# ---------------------------------------------------------------------------------------------- layers


def _township_layer(layers: MapLayers, key: str, system: str) -> tuple[str, list[tuple[str, str]], str, int]:
    towns = _towns(layers)
    values, breaks, labels, fmt = _classes(key, layers)
    cls = np.digitize(values.to_numpy(dtype=float), breaks)
    label = choropleth_choices(layers)[key]
    props = []
    for i, (name, value) in enumerate(zip(towns["name"], values, strict=True)):
        shown = _number(value, 1, "%", scale=100) if fmt == "share" else _number(value, 1, " m²/百户")
        colour = _NO_DATA if math.isnan(value) else _SEQUENTIAL[int(cls[i])]
        props.append({"_s": {"fillColor": colour},
                      "_t": f"{_esc(name)}：{shown}",
                      "_p": _table(_esc(name), [("代码", _esc(towns["code12"].iloc[i])), (_esc(label), shown)])})
    geoms = _display_geoms(towns, system=system, simplify_m=_SIMPLIFY_M, coverage=True)
    legend = [*zip(_SEQUENTIAL, labels, strict=True), (_NO_DATA, "无数据")]
    return _collection(geoms, props), legend, label, len(towns)


def _facility_props(frame: gpd.GeoDataFrame, type_name: str, colour: str, symbol: str,
                    town_names: Mapping[str, str], layer_illustrative: bool) -> list[dict[str, Any]]:
    props = []
    columns = set(frame.columns)
    for row in frame.drop(columns=frame.geometry.name).itertuples(index=False):
        code = str(getattr(row, "code12", "") or "")
        planned = str(getattr(row, "status", "") or "") == "planned"
        flagged = getattr(row, "illustrative", None)
        fake = layer_illustrative if flagged is None or pd.isna(flagged) else bool(flagged)
        rows = [("类型", _esc(type_name)), ("所在镇街", _esc(town_names.get(code[:9] + "000", "—"))),
                ("区划代码", _esc(code or None))]
        if "floor_area_m2" in columns:
            rows.append(("建筑面积", _number(row.floor_area_m2, 0, " m²")))
        if "beds" in columns:
            rows.append(("床位", _number(row.beds, 0, " 张")))
        rows.append(("状态", "规划" if planned else "现状"))
        rows.append(("示意数据", "是" if fake else "否"))
        name = _esc(getattr(row, "name", None))
        extra = ' class="gp-planned"' if planned else ""
        props.append({"_p": _table(name, rows, "示意数据，非真实设施" if fake else ""), "_t": name,
                      "_i": f'<div{extra} style="background:{colour}">{symbol}</div>'})
    return props


def _gap_props(gaps: pd.DataFrame, type_name: str) -> list[dict[str, Any]]:
    return [{"_p": _table(f"覆盖缺口 第 {_esc(r.rank)} 位 — {_esc(type_name)}", [
                ("镇街", _esc(r.township)), ("村/社区", _esc(r.village)),
                ("人口", _number(r.population, 0, " 人")), ("户数", _number(r.households, 0, " 户")),
                ("60岁以上", _number(getattr(r, "pop_60plus", None), 0, " 人")),
                ("面积", _number(r.area_km2, 2, " km²"))]),
             "_t": f"缺口 {_esc(r.rank)}：{_number(r.population, 0)} 人"}
            for r in gaps.itertuples(index=False)]


def _site_props(sites: pd.DataFrame, type_name: str) -> list[dict[str, Any]]:
    props = []
    for r in sites.itertuples(index=False):
        rows = [("指标", _esc(getattr(r, "indicator_id", None))), ("设施类型", _esc(type_name)),
                ("建设年份", _esc(getattr(r, "year", None))), ("镇街", _esc(getattr(r, "township", None))),
                ("村/社区", _esc(getattr(r, "village", None)))]
        for column, label in (("population_added", "新增覆盖人口"), ("households_added", "新增覆盖户数"),
                              ("pop_60plus_added", "新增覆盖60岁以上")):
            if hasattr(r, column):
                rows.append((label, _number(getattr(r, column), 0)))
        if hasattr(r, "covered_share_after"):
            rows.append(("建成后覆盖率", _number(r.covered_share_after, 1, "%", scale=100)))
        if hasattr(r, "lon"):
            rows.append(("WGS84", f"{r.lon:.6f}, {r.lat:.6f}"))
        if hasattr(r, "lon_gcj02"):
            rows.append(("GCJ-02", f"{r.lon_gcj02:.6f}, {r.lat_gcj02:.6f}"))
        rank = _esc(r.rank)
        props.append({"_p": _table(f"候选站点 第 {rank} 位", rows, "由模型提出的建议位置，需实地核实"),
                      "_t": f"候选 {rank}（{_esc(getattr(r, 'indicator_id', ''))}）",
                      "_i": f'<div style="background:#ffd600;color:#111"><span>{rank}</span></div>'})
    return props


# ---------------------------------------------------------------------------------------------- map


def check_basemap(basemap: str, tianditu_key: str | None = None) -> tuple[str, ...]:
    """The tile URLs of a basemap (none for ``none``).

    Raises
    ------
    ConfigError
        An unknown basemap, or 天地图 without a valid key.
    """
    if basemap not in BASEMAPS:
        msg = f"unknown basemap {basemap!r}; use one of {', '.join(BASEMAPS)} (none draws boundaries only)"
        raise ConfigError(msg)
    urls = BASEMAPS[basemap][1]
    if basemap == "tianditu":
        if not tianditu_key or not _TIANDITU_KEY.fullmatch(tianditu_key):
            msg = ("the 天地图 basemap needs your key (16–64 letters/digits, from console.tianditu.gov.cn): "
                   "pass --tianditu-key KEY, or choose --basemap none/osm")
            raise ConfigError(msg)
        urls = tuple(u.replace("{key}", tianditu_key) for u in urls)
    return urls


def build_map(  # noqa: C901, PLR0912, PLR0915 - one layer after another
    layers: MapLayers, *, choropleth: str | None = None, basemap: str = "none", tianditu_key: str | None = None,
) -> folium.Map:
    """Build the plan map.

    Parameters
    ----------
    layers : MapLayers
    choropleth : str, optional
        A key of :func:`choropleth_choices`; default the first coverage share, else floor area, else the
        first administrative coverage.
    basemap : {"none", "osm", "tianditu", "amap"}
        ``none`` (default) draws no tiles. ``amap`` tiles are GCJ-02: every layer is then shifted to GCJ-02
        to match them, and the title says so.
    tianditu_key : str, optional
        Required for ``tianditu``; it is written into the page's tile URLs.

    Raises
    ------
    ConfigError
        An unknown choropleth key or basemap, or 天地图 without a valid key.
    """
    fol = _folium()
    overlay_cls = _overlay_class()
    tile_urls = check_basemap(basemap, tianditu_key)
    system = BASEMAPS[basemap][3]
    choices = choropleth_choices(layers)
    if choropleth is None and choices:
        choropleth = next(iter(choices))
    if choropleth is not None and choropleth not in choices:
        msg = (f"the map cannot be coloured by {choropleth!r}; the results offer: "
               + (", ".join(f"{k} ({v})" for k, v in choices.items()) or "nothing (run coverage first)"))
        raise ConfigError(msg)

    fmap: folium.Map = fol.Map(location=None, tiles=None, control_scale=False, zoom_start=11, prefer_canvas=False,
                               maxZoom=18, minZoom=5, zoomSnap=0.25)
    fmap.default_js = [("leaflet", _ASSET + "leaflet.js")]
    fmap.default_css = [("leaflet_css", _ASSET + "leaflet.css")]
    fmap.add_child(_block(f"<title>{_esc(layers.title)}</title>", "header"))
    for i, url in enumerate(tile_urls):
        label, _, attribution, _ = BASEMAPS[basemap]
        fol.TileLayer(url, attr=attribution, name=label if i == 0 else f"{label}注记", overlay=i > 0,
                         control=False, subdomains="01234567" if basemap == "tianditu" else "1234"
                         if basemap == "amap" else "abc", max_zoom=18).add_to(fmap)

    def add(collection: str, count: int, *, name: str, key: str, kind: str, show: bool, **options: Any) -> None:
        """Add an overlay; `name` is HTML (Leaflet's layer control shows it as such), escaped by the caller.
        Its paths or markers carry the class ``gp-<key>`` (the last class), which the browser test counts."""
        site = "gp-site" if key.startswith("site") else "gp-fac"
        symbol = {"polygon": "gp-poly", "cluster": "gp-fac", "marker": site}
        overlay = overlay_cls(collection, {"className": f"gp-l {symbol[kind]} gp-{key}", **options}, name=name,
                              show=show,
                          kind=kind, count=count)
        overlay.add_to(fmap)

    legend: list[tuple[str, str]] = []
    legend_title = ""
    if choropleth is not None:  # implies townships
        collection, legend, legend_title, n = _township_layer(layers, choropleth, system)
        add(collection, n, name=f"镇街：{_esc(legend_title)}", key="townships", kind="polygon", show=True, sticky=True,
            style={"color": "#666", "weight": 1, "fillOpacity": 0.55})
    elif layers.townships is not None:
        towns = layers.townships
        props = [{"_t": _esc(n)} for n in towns["name"]]
        add(_collection(_display_geoms(towns, system=system, simplify_m=_SIMPLIFY_M, coverage=True), props),
            len(towns), name="镇街界", key="townships", kind="polygon", show=True, sticky=True,
            style={"color": "#555", "weight": 1, "fillOpacity": 0.05})
    if layers.district is not None and len(layers.district):
        district = layers.district
        props = [{"_t": _esc(n)} for n in district.get("name", pd.Series(["区界"] * len(district)))]
        add(_collection(_display_geoms(district, system=system, simplify_m=_SIMPLIFY_M), props), len(district),
            name="区界", key="district", kind="polygon", show=True,
            style={"color": "#111", "weight": 3, "fill": False, "interactive": False})

    if layers.areas is not None and len(layers.areas):
        areas = layers.areas
        for i, (type_id, part) in enumerate(areas.groupby("facility_type", sort=False)):
            type_name = layers.type_names.get(str(type_id), str(type_id))
            minutes = ", ".join(f"{m:g}" for m in part["minutes"])
            colour = _AREA_COLOURS[i % len(_AREA_COLOURS)]
            props = [{"_t": f"{_esc(type_name)}：{m:g} 分钟服务范围"} for m in part["minutes"]]
            add(_collection(_display_geoms(gpd.GeoDataFrame(part), system=system, simplify_m=_SIMPLIFY_M), props),
                len(part), name=f"服务范围（{minutes} 分钟）— {_esc(type_name)}", key=f"area-{i}", kind="polygon",
                show=i == 0,
                style={"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.25})

    if layers.gaps is not None and len(layers.gaps):
        for i, (type_id, part) in enumerate(layers.gaps.groupby("facility_type", sort=False)):
            type_name = layers.type_names.get(str(type_id), str(type_id))
            add(_collection(_display_geoms(gpd.GeoDataFrame(part), system=system, simplify_m=_SIMPLIFY_M),
                            _gap_props(pd.DataFrame(part), type_name)), len(part),
                name=f"覆盖缺口 — {_esc(type_name)}", key=f"gap-{i}", kind="polygon", show=i == 0,
                style={"color": "#c62828", "weight": 1.5, "dashArray": "4 3", "fillColor": "#e53935",
                       "fillOpacity": 0.18})

    town_names = ({} if layers.townships is None else
                  dict(zip(layers.townships["code12"].astype(str), layers.townships["name"].astype(str), strict=True)))
    for order, (type_id, frame) in enumerate(layers.facilities.items()):
        if not len(frame):
            continue
        colour, symbol = _type_style(type_id, order)
        type_name = layers.type_names.get(type_id, type_id)
        fake = type_name in layers.illustrative or any(type_id in n for n in layers.illustrative)
        props = _facility_props(frame, type_name, colour, symbol, town_names, fake)
        cluster = len(frame) > CLUSTER_OVER
        add(_collection(_display_geoms(frame, system=system, simplify_m=0), props), len(frame),
            name=f'<span style="color:{colour}">●</span> {_esc(type_name)}（{len(frame)}）', key=f"fac-{order}",
            kind="cluster" if cluster else "marker", show=True, cluster=cluster, colour=colour,
            typeClass=f"gp-fac-{order}", iconSize=[22, 22])

    if layers.proposals is not None and len(layers.proposals):
        for i, (type_id, part) in enumerate(layers.proposals.groupby("facility_type", sort=False)):
            type_name = layers.type_names.get(str(type_id), str(type_id))
            add(_collection(_display_geoms(gpd.GeoDataFrame(part), system=system, simplify_m=0),
                            _site_props(pd.DataFrame(part), type_name)), len(part),
                name=f"候选站点 — {_esc(type_name)}（{len(part)}）", key=f"site-{i}", kind="marker",
                show=choropleth == f"coverage:{type_id}" or (i == 0 and not str(choropleth).startswith("coverage:")),
                iconSize=[22, 22])

    _add_furniture(fmap, layers, legend, legend_title, basemap, system)
    bounds = _bounds(layers, system)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(12, 12))
    return fmap


def _bounds(layers: MapLayers, system: str) -> tuple[float, float, float, float]:
    frames = [f for f in (layers.district, layers.townships, *layers.facilities.values()) if f is not None and len(f)]
    if not frames:
        msg = "nothing to draw: the map needs a district or township boundary, or facilities"
        raise ConfigError(msg)
    west, south, east, north = frames[0].to_crs(4326).total_bounds
    if system != "wgs84":
        corners = transform_geometries(shapely.points([west, east], [south, north]), source="wgs84", target=system)
        west, east = shapely.get_x(corners)
        south, north = shapely.get_y(corners)
    return float(west), float(south), float(east), float(north)


def _add_furniture(fmap: folium.Map, layers: MapLayers, legend: list[tuple[str, str]], legend_title: str,
                   basemap: str, system: str) -> None:
    """Title block, legend, measure tool, layer control, styles and the ready flag."""
    fol = _folium()

    fmap.add_child(_block(f'<link rel="stylesheet" href="{_ASSET}gisplan-map.css"/>', "header"))
    methods = {"network": "路网最短路径（按道路计算步行/车行时间）",
               "straight_line": "直线服务半径（非路网，仅作粗略参考）"}
    method = methods.get(layers.method, "覆盖未计算（缺少路网或需求数据）")
    crs_note = ("坐标已由 WGS84 偏移为 GCJ-02，以与高德底图对齐" if system == "gcj02" else "坐标系 WGS84")
    lines = [f"<h1>{_esc(layers.title)}</h1>",
             f'<div class="gp-meta">制图日期：{layers.made_on.isoformat()}　方法：{method}</div>',
             f'<div class="gp-meta">底图：{_esc(BASEMAPS[basemap][0])}　{crs_note}</div>']
    if layers.illustrative:
        names = "、".join(_esc(n) for n in layers.illustrative)
        lines.append('<div class="gp-illustrative">示意 ILLUSTRATIVE — 含生成的示意数据，不是真实设施或人口，'
                     f'图上数字不得作为现状引用<div class="gp-ill-list">示意图层：{names}</div></div>')
    fmap.add_child(_block('<div class="gp-title" id="gp-title">' + "".join(lines) + "</div>"))
    if legend:
        items = "".join(f'<div><i style="background:{c}"></i>{_esc(label)}</div>' for c, label in legend)
        fmap.add_child(_block(f'<div class="gp-legend" id="gp-legend"><h2>{_esc(legend_title)}</h2>{items}</div>'))
    measure = fol.plugins.MeasureControl(position="topleft", primary_length_unit="meters",
                                         secondary_length_unit="kilometers", primary_area_unit="sqmeters",
                                         secondary_area_unit="hectares")
    measure.default_js = [("leaflet_measure_js", _ASSET + "leaflet-measure.cn.js")]
    measure.default_css = [("leaflet_measure_css", _ASSET + "leaflet-measure.css")]
    fmap.add_child(measure)
    fol.LayerControl(collapsed=False, position="topright").add_to(fmap)
    fmap.add_child(_script("", js=(("markerclusterjs", _ASSET + "leaflet.markercluster.js"),
                                     ("gisplan_map_js", _ASSET + "gisplan-map.js")),
                           css=(("markerclustercss", _ASSET + "MarkerCluster.css"),
                                ("markerclusterdefaultcss", _ASSET + "MarkerCluster.Default.css"))))
    fmap.add_child(_script(f"L.control.scale({{imperial: false, maxWidth: 160}}).addTo({fmap.get_name()});\n"
                           "window.gisplanReady = true;"))


# ---------------------------------------------------------------------------------------------- output


def _asset(name: str) -> Path:
    path = (MAP_DIR if name.startswith("gisplan-") else WEB_DIR) / name
    if not path.is_file():  # pragma: no cover - a broken install
        msg = f"gisplan's embedded web library {path} is missing; reinstall gisplan"
        raise FileNotFoundError(msg)
    return path


# Leaflet's default marker icon (which the measure tool creates) finds its image from a stylesheet path;
# embedded, it takes the images as data: URIs instead of asking for marker-icon.png beside the page.
_DEFAULT_ICON_PATCH = """
L.Icon.Default.mergeOptions({{iconUrl: "{marker_icon}", iconRetinaUrl: "{marker_icon_2x}",
                              shadowUrl: "{marker_shadow}"}});
L.Icon.Default.prototype._getIconUrl = function (name) {{ return L.Icon.prototype._getIconUrl.call(this, name); }};
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _css_with_images(name: str) -> str:
    """A stylesheet with the images it refers to inlined as data: URIs."""
    path = _asset(name)
    text = path.read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        image = (path.parent / ref).resolve()
        if not image.is_file():
            return "url(data:,)"  # an image the package does not ship (e.g. a retina variant): nothing to fetch
        return f"url({_data_uri(image)})"

    return re.sub(r"url\((['\"]?)([^)'\"]+)\1\)", inline, text)


def render_map_html(fmap: folium.Map) -> str:
    """The map as one self-contained HTML page: every script and stylesheet inlined, nothing to fetch.

    Raises
    ------
    RuntimeError
        If an element still refers to an external script or stylesheet (a plugin gisplan does not embed).
    """
    page = fmap.get_root().render()

    def script(match: re.Match[str]) -> str:
        code = _asset(match.group(1)).read_text(encoding="utf-8")
        if match.group(1) == "leaflet.js":
            code += _DEFAULT_ICON_PATCH.format(**{k: _data_uri(WEB_DIR / "images" / f"{k.replace('_', '-')}.png")
                                                  for k in ("marker_icon", "marker_icon_2x", "marker_shadow")})
        return "<script>\n" + code + "\n</script>"

    def style(match: re.Match[str]) -> str:
        return "<style>\n" + _css_with_images(match.group(1)) + "\n</style>"

    page = re.sub(r'<script src="' + _ASSET + r'([\w.\-]+)"></script>', script, page)
    page = re.sub(r'<link rel="stylesheet" href="' + _ASSET + r'([\w.\-]+)"\s*/>', style, page)
    external = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page)
    if external:
        msg = f"the map refers to files it does not embed: {external}"
        raise RuntimeError(msg)
    return page


def layer_counts(fmap: folium.Map) -> dict[str, tuple[str, str, int]]:
    """Overlay class → (name, kind, feature count) for every gisplan overlay of a built map (for checks)."""
    out = {}
    for child in fmap._children.values():
        if getattr(child, "_name", "") == "GisplanOverlay":
            key = str(getattr(child, "class_name", "")).split()[-1]
            name = html.unescape(re.sub("<[^>]+>", "", str(getattr(child, "layer_name", "")))).strip()
            out[key] = (name, str(getattr(child, "kind", "")), int(getattr(child, "count", 0)))
    return out


