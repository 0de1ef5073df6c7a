"""HTML coverage maps (folium/Leaflet) that open offline, in Chinese.

:func:`build_map` turns a plan's layers — district and township boundaries with a township choropleth,
facilities by type, service areas, coverage gaps and candidate sites — into a :class:`folium.Map`;
:func:`render_map_html` renders it as one self-contained HTML page. Leaflet and its plugins ship inside
gisplan (``gisplan/data/web``, see its README) and are inlined, so the page needs no CDN: a government
intranet has none. Tiles are optional and off by default. What each layer holds, its colours, classes and
popup text are :mod:`gisplan.outputs.mapstyle`'s; this module draws them.

Every name that comes from user data (facility, township and village names, the scenario title) is
HTML-escaped before it reaches the page, and data travel as JSON with ``<``, ``>`` and ``&`` escaped, so a
facility called ``<img src=x onerror=alert(1)>`` shows as text. Geometry is simplified for display (in
metres, in a local UTM zone) and coordinates are rounded to 1e-5° (about 1 m).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.coords import transform_geometries
from gisplan.crs import utm_crs
from gisplan.errors import ConfigError
from gisplan.outputs.mapstyle import (
    AREA_COLOURS,
    MapLayers,
    choropleth_choices,
    esc,
    facility_props,
    gap_props,
    site_props,
    township_classes,
    type_symbol,
)

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
CLUSTER_OVER = 40  # a facility type with more points than this is clustered
_SIMPLIFY_M = 5.0  # display simplification of polygons, metres
_DECIMALS = 5  # 1e-5 degree ≈ 1.1 m north-south, 1.0 m east-west at 30°N


# ---------------------------------------------------------------------------------------------- geometry


def _display_geoms(frame: gpd.GeoDataFrame, *, system: str, simplify_m: float, coverage: bool = False) -> np.ndarray:
    """Geometries simplified in metres, in WGS84 (or GCJ-02 for an Amap basemap), rounded to about 1 m."""
    geo = frame.geometry
    if geo.crs is None:
        msg = "a map layer has no CRS; layers must carry one (the workspace stores EPSG:4326)"
        raise ConfigError(msg)
    if simplify_m > 0 and len(geo) and not (geo.geom_type == "Point").all():
        metric = geo.to_crs(utm_crs(geo)) if geo.crs.is_geographic else geo  # estimate_utm_crs: 0.5 s a call
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


@functools.cache
def _overlay_class() -> type:
    """The overlay element class (made once: it subclasses folium's, imported late)."""
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


def build_map(
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
    tile_urls = check_basemap(basemap, tianditu_key)
    system = BASEMAPS[basemap][3]
    choropleth = _choropleth_key(layers, choropleth)
    fmap = _base_map(layers, basemap, tile_urls)
    legend, legend_title = _add_boundaries(fmap, layers, choropleth, system)
    _add_areas(fmap, layers, system)
    _add_gaps(fmap, layers, system)
    _add_facilities(fmap, layers, system)
    _add_proposals(fmap, layers, choropleth, system)
    _add_furniture(fmap, layers, legend, legend_title, basemap, system)
    west, south, east, north = _bounds(layers, system)
    fmap.fit_bounds([[south, west], [north, east]], padding=(12, 12))
    return fmap


def _choropleth_key(layers: MapLayers, choropleth: str | None) -> str | None:
    """The township indicator to colour by: `choropleth`, checked, or the first the results offer."""
    choices = choropleth_choices(layers)
    if choropleth is None and choices:
        return next(iter(choices))
    if choropleth is not None and choropleth not in choices:
        msg = (f"the map cannot be coloured by {choropleth!r}; the results offer: "
               + (", ".join(f"{k} ({v})" for k, v in choices.items()) or "nothing (run coverage first)"))
        raise ConfigError(msg)
    return choropleth


def _base_map(layers: MapLayers, basemap: str, tile_urls: tuple[str, ...]) -> folium.Map:
    """An empty map with the page title, Leaflet from the embedded assets and the basemap's tiles."""
    fol = _folium()
    fmap: folium.Map = fol.Map(location=None, tiles=None, control_scale=False, zoom_start=11, prefer_canvas=False,
                               maxZoom=18, minZoom=5, zoomSnap=0.25)
    fmap.default_js = [("leaflet", _ASSET + "leaflet.js")]
    fmap.default_css = [("leaflet_css", _ASSET + "leaflet.css")]
    fmap.add_child(_block(f"<title>{esc(layers.title)}</title>", "header"))
    label, _, attribution, _ = BASEMAPS[basemap]
    subdomains = {"tianditu": "01234567", "amap": "1234"}.get(basemap, "abc")
    for i, url in enumerate(tile_urls):
        fol.TileLayer(url, attr=attribution, name=label if i == 0 else f"{label}注记", overlay=i > 0,
                      control=False, subdomains=subdomains, max_zoom=18).add_to(fmap)
    return fmap


def _add_overlay(fmap: folium.Map, collection: str, count: int, *, name: str, key: str, kind: str, show: bool,
                 **options: Any) -> None:
    """Add an overlay; `name` is HTML (Leaflet's layer control shows it as such), escaped by the caller.
    Its paths or markers carry the class ``gp-<key>`` (the last class), which the browser test counts."""
    site = "gp-site" if key.startswith("site") else "gp-fac"
    symbol = {"polygon": "gp-poly", "cluster": "gp-fac", "marker": site}
    overlay = _overlay_class()(collection, {"className": f"gp-l {symbol[kind]} gp-{key}", **options}, name=name,
                               show=show, kind=kind, count=count)
    overlay.add_to(fmap)


def _polygons(frame: gpd.GeoDataFrame, props: list[dict[str, Any]], system: str, *, coverage: bool = False) -> str:
    """A polygon layer's features, simplified for display (`coverage`: as a coverage, keeping shared edges)."""
    return _collection(_display_geoms(frame, system=system, simplify_m=_SIMPLIFY_M, coverage=coverage), props)


def _add_boundaries(fmap: folium.Map, layers: MapLayers, choropleth: str | None, system: str,
                    ) -> tuple[list[tuple[str, str]], str]:
    """The townships (coloured by `choropleth`, else outlined) and the district outline; returns the legend
    (colour, label) and its title (empty without a choropleth)."""
    legend: list[tuple[str, str]] = []
    legend_title = ""
    towns = layers.townships
    if choropleth is not None and towns is not None:  # a choropleth implies townships
        props, legend, legend_title = township_classes(layers, choropleth)
        _add_overlay(fmap, _polygons(towns, props, system, coverage=True), len(towns),
                     name=f"镇街：{esc(legend_title)}", key="townships", kind="polygon", show=True, sticky=True,
                     style={"color": "#666", "weight": 1, "fillOpacity": 0.55})
    elif towns is not None:
        props = [{"_t": esc(n)} for n in towns["name"]]
        _add_overlay(fmap, _polygons(towns, props, system, coverage=True), len(towns), name="镇街界",
                     key="townships", kind="polygon", show=True, sticky=True,
                     style={"color": "#555", "weight": 1, "fillOpacity": 0.05})
    if layers.district is not None and len(layers.district):
        district = layers.district
        props = [{"_t": esc(n)} for n in district.get("name", pd.Series(["区界"] * len(district)))]
        _add_overlay(fmap, _polygons(district, props, system), len(district), name="区界", key="district",
                     kind="polygon", show=True, style={"color": "#111", "weight": 3, "fill": False,
                                                       "interactive": False})
    return legend, legend_title


def _add_areas(fmap: folium.Map, layers: MapLayers, system: str) -> None:
    """Service areas, one overlay per facility type (the first shown)."""
    if layers.areas is None or not len(layers.areas):
        return
    for i, (type_id, part) in enumerate(layers.areas.groupby("facility_type", sort=False)):
        type_name = layers.type_names.get(str(type_id), str(type_id))
        minutes = ", ".join(f"{m:g}" for m in part["minutes"])
        colour = AREA_COLOURS[i % len(AREA_COLOURS)]
        props = [{"_t": f"{esc(type_name)}：{m:g} 分钟服务范围"} for m in part["minutes"]]
        _add_overlay(fmap, _polygons(gpd.GeoDataFrame(part), props, system), len(part),
                     name=f"服务范围（{minutes} 分钟）— {esc(type_name)}", key=f"area-{i}", kind="polygon",
                     show=i == 0, style={"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.25})


def _add_gaps(fmap: folium.Map, layers: MapLayers, system: str) -> None:
    """Coverage gaps, one overlay per facility type (the first shown)."""
    if layers.gaps is None or not len(layers.gaps):
        return
    for i, (type_id, part) in enumerate(layers.gaps.groupby("facility_type", sort=False)):
        type_name = layers.type_names.get(str(type_id), str(type_id))
        _add_overlay(fmap, _polygons(gpd.GeoDataFrame(part), gap_props(pd.DataFrame(part), type_name), system),
                     len(part), name=f"覆盖缺口 — {esc(type_name)}", key=f"gap-{i}", kind="polygon", show=i == 0,
                     style={"color": "#c62828", "weight": 1.5, "dashArray": "4 3", "fillColor": "#e53935",
                            "fillOpacity": 0.18})


def _add_facilities(fmap: folium.Map, layers: MapLayers, system: str) -> None:
    """One marker overlay per facility type, in the type's colour and glyph; clustered over CLUSTER_OVER."""
    town_names = ({} if layers.townships is None else
                  dict(zip(layers.townships["code12"].astype(str), layers.townships["name"].astype(str), strict=True)))
    for order, (type_id, frame) in enumerate(layers.facilities.items()):
        if not len(frame):
            continue
        colour, glyph = type_symbol(layers, type_id, order)
        type_name = layers.type_names.get(type_id, type_id)
        fake = type_name in layers.illustrative or any(type_id in n for n in layers.illustrative)
        props = facility_props(frame, type_name, (colour, glyph), town_names, fake)
        cluster = len(frame) > CLUSTER_OVER
        _add_overlay(fmap, _collection(_display_geoms(frame, system=system, simplify_m=0), props), len(frame),
                     name=f'<span style="color:{colour}">●</span> {esc(type_name)}（{len(frame)}）',
                     key=f"fac-{order}", kind="cluster" if cluster else "marker", show=True, cluster=cluster,
                     colour=colour, typeClass=f"gp-fac-{order}", iconSize=[22, 22])


def _add_proposals(fmap: folium.Map, layers: MapLayers, choropleth: str | None, system: str) -> None:
    """Proposed sites, one overlay per facility type: shown for the type the map is coloured by (else the
    first)."""
    if layers.proposals is None or not len(layers.proposals):
        return
    for i, (type_id, part) in enumerate(layers.proposals.groupby("facility_type", sort=False)):
        type_name = layers.type_names.get(str(type_id), str(type_id))
        _add_overlay(fmap, _collection(_display_geoms(gpd.GeoDataFrame(part), system=system, simplify_m=0),
                                       site_props(pd.DataFrame(part), type_name)), len(part),
                     name=f"候选站点 — {esc(type_name)}（{len(part)}）", key=f"site-{i}", kind="marker",
                     show=_shown_site_layer(i, str(type_id), choropleth), iconSize=[22, 22])


def _shown_site_layer(i: int, type_id: str, choropleth: str | None) -> bool:
    """Whether the `i`-th proposal layer starts shown: the one of the type whose coverage the map shows, else the
    first."""
    return choropleth == f"coverage:{type_id}" or (i == 0 and not str(choropleth).startswith("coverage:"))


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
    lines = [f"<h1>{esc(layers.title)}</h1>",
             f'<div class="gp-meta">制图日期：{layers.made_on.isoformat()}　方法：{method}</div>',
             f'<div class="gp-meta">底图：{esc(BASEMAPS[basemap][0])}　{crs_note}</div>']
    lines += [f'<div class="gp-meta gp-note">{esc(note)}</div>' for note in layers.notes]
    if layers.illustrative:
        names = "、".join(esc(n) for n in layers.illustrative)
        lines.append('<div class="gp-illustrative">示意 ILLUSTRATIVE — 含生成的示意数据，不是真实设施或人口，'
                     f'图上数字不得作为现状引用<div class="gp-ill-list">示意图层：{names}</div></div>')
    fmap.add_child(_block('<div class="gp-title" id="gp-title">' + "".join(lines) + "</div>"))
    if legend:
        items = "".join(f'<div><i style="background:{c}"></i>{esc(label)}</div>' for c, label in legend)
        fmap.add_child(_block(f'<div class="gp-legend" id="gp-legend"><h2>{esc(legend_title)}</h2>{items}</div>'))
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
