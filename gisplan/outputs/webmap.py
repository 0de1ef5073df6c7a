"""HTML coverage maps (Leaflet) that open offline, in Chinese.

:func:`build_map` turns a plan's layers — district and township boundaries with a township choropleth,
facilities by type, service areas, coverage gaps and candidate sites — into a :class:`PlanMap`;
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

import json
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.analysis.precision import precision_counts
from gisplan.coords import transform_geometries
from gisplan.crs import utm_crs
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.outputs.mappage import (
    _ASSET,
    Panel,
    groups,
    layer_counts,
    legend_block,
    render_map_html,
    swatch,
    title_block,
    type_label,
)
from gisplan.outputs.mapparts import label_points, neighbour_labels
from gisplan.outputs.mapstyle import (
    AREA_COLOURS,
    MapLayers,
    MapRow,
    choropleth_choices,
    esc,
    facility_props,
    fmt_number,
    gap_props,
    proposal_sites,
    site_props,
    township_classes,
    type_symbol,
)
from gisplan.outputs.planmap import MAP_STYLE, Overlay, Part, PlanMap, block, collection, html_safe_json, script

if TYPE_CHECKING:
    from collections.abc import Mapping


__all__ = [
    "BASEMAPS",
    "MapLayers",
    "MapRow",
    "build_map",
    "check_basemap",
    "choropleth_choices",
    "layer_counts",
    "render_map_html",
]


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
_SIMPLIFY_M = 5.0  # display simplification of boundary polygons, metres
# gaps and service areas are reached roads buffered by 100 m (settings.TRIM_M): 15 m hides nothing of them and
# halves the 永川 gap layers (643 → ~330 KB each), the largest part of the page and of its drawing time
_SIMPLIFY_RESULT_M = 15.0
_DECIMALS = 5  # 1e-5 degree ≈ 1.1 m north-south, 1.0 m east-west at 30°N


# ---------------------------------------------------------------------------------------------- geometry


def _display_geoms(frame: gpd.GeoDataFrame, *, system: str, simplify_m: float, coverage: bool = False) -> np.ndarray:
    """Geometries simplified in metres, in WGS84 (or GCJ-02 for an Amap basemap), rounded to about 1 m."""
    geo = frame.geometry
    if geo.crs is None:
        msg = _("a map layer has no CRS; layers must carry one (the workspace stores EPSG:4326)")
        raise ConfigError(msg)
    if simplify_m > 0 and len(geo) and not (geo.geom_type == "Point").all():
        metric = geo.to_crs(utm_crs(geo)) if geo.crs.is_geographic else geo  # estimate_utm_crs: 0.5 s a call
        parts = metric.to_numpy()
        simple = shapely.coverage_simplify(parts, simplify_m) if coverage else _simplify(parts, simplify_m)
        geo = gpd.GeoSeries(simple, crs=metric.crs, index=geo.index)
    arr = geo.to_crs(4326).to_numpy()
    if system != "wgs84":
        arr = transform_geometries(arr, source="wgs84", target=system)
    return np.asarray(shapely.transform(arr, lambda xy: np.round(xy, _DECIMALS)), dtype=object)


def _simplify(parts: np.ndarray, simplify_m: float) -> np.ndarray:
    """Douglas–Peucker, keeping the topology-preserving simplification for the parts it would make invalid or
    empty: on the 永川 gap and service-area layers none, and 0.03 s instead of 0.13 s (under load) for 4 fewer
    of their 48,000 vertices."""
    simple = np.asarray(shapely.simplify(parts, simplify_m, preserve_topology=False), dtype=object)
    bad = ~shapely.is_valid(simple) | shapely.is_empty(simple)
    bad &= ~shapely.is_empty(parts) & ~shapely.is_missing(parts)
    if bad.any():
        simple[bad] = shapely.simplify(parts[bad], simplify_m, preserve_topology=True)
    return simple


# ---------------------------------------------------------------------------------------------- map


def check_basemap(basemap: str, tianditu_key: str | None = None) -> tuple[str, ...]:
    """The tile URLs of a basemap (none for ``none``).

    Raises
    ------
    ConfigError
        An unknown basemap, or 天地图 without a valid key.
    """
    if basemap not in BASEMAPS:
        msg = _("unknown basemap {basemap!r}; use one of {choices} (none draws boundaries only)").format(
                basemap=basemap, choices=', '.join(BASEMAPS))
        raise ConfigError(msg)
    urls = BASEMAPS[basemap][1]
    if basemap == "tianditu":
        if not tianditu_key or not _TIANDITU_KEY.fullmatch(tianditu_key):
            msg = (_("the 天地图 basemap needs your key (16–64 letters/digits, from console.tianditu.gov.cn): pass "
                     "--tianditu-key KEY, or choose --basemap none/osm"))
            raise ConfigError(msg)
        urls = tuple(u.replace("{key}", tianditu_key) for u in urls)
    return urls


def build_map(
    layers: MapLayers, *, choropleth: str | None = None, basemap: str = "none", tianditu_key: str | None = None,
) -> PlanMap:
    """Build the plan map.

    The layer panel groups the layers by indicator row (:attr:`MapLayers.rows`): a row's facility types,
    for a coverage row their service areas and gaps, and the sites proposed for it. The headline rows'
    groups start on, the others off. Township names (and, zoomed in, village names) are labels that move
    aside or hide rather than overlap; neighbouring districts are named at the edge.

    Parameters
    ----------
    layers : MapLayers
    choropleth : str, optional
        A key of :func:`choropleth_choices`; default the coverage share of the first headline coverage row,
        else the first coverage share, else floor area, else the first administrative coverage.
    basemap : {"none", "osm", "tianditu", "amap"}
        ``none`` (default) draws no tiles. ``amap`` tiles are GCJ-02: every layer is then shifted to GCJ-02
        to match them, and the title says so.
    tianditu_key : str, optional
        Required for ``tianditu``; it is written into the page's tile URLs.

    Raises
    ------
    ConfigError
        An unknown choropleth key or basemap, 天地图 without a valid key, or a local GeoTIFF basemap with the
        GCJ-02 (amap) tiles.
    """
    tile_urls = check_basemap(basemap, tianditu_key)
    system = BASEMAPS[basemap][3]
    if layers.basemap_image is not None and system != "wgs84":
        msg = _("a local GeoTIFF basemap is drawn in WGS84/CGCS2000 and cannot be combined with --basemap amap "
                "(GCJ-02)")
        raise ConfigError(msg)
    choropleth = _choropleth_key(layers, choropleth)
    fmap = _base_map(layers, basemap, tile_urls)
    panel = Panel()
    _add_basemap_image(fmap, layers, panel)
    legend_title = _add_boundaries(fmap, layers, choropleth, system, panel)
    _add_labels(fmap, layers, system, panel)
    _add_gaps(fmap, layers, system, panel)
    _add_areas(fmap, layers, system, panel)
    _add_facilities(fmap, layers, system, panel)
    _add_proposals(fmap, layers, system, panel)
    _add_furniture(fmap, layers, panel, legend_title, basemap, system)
    return fmap


def _choropleth_key(layers: MapLayers, choropleth: str | None) -> str | None:
    """The township indicator to colour by: `choropleth`, checked, or the first headline coverage row's, or
    the first the results offer."""
    choices = choropleth_choices(layers)
    if choropleth is None and choices:
        for row in layers.rows:
            keys = [f"coverage:{t}" for t in row.types if row.headline and row.coverage]
            if keys and keys[0] in choices:
                return keys[0]
        return next(iter(choices))
    if choropleth is not None and choropleth not in choices:
        msg = (_("the map cannot be coloured by {choropleth!r}; the results offer: ").format(choropleth=choropleth)
               + (", ".join(f"{k} ({v})" for k, v in choices.items()) or _("nothing (run coverage first)")))
        raise ConfigError(msg)
    return choropleth


def _base_map(layers: MapLayers, basemap: str, tile_urls: tuple[str, ...]) -> PlanMap:
    """An empty map with the page title, Leaflet from the embedded assets and the basemap's tiles."""
    fmap = PlanMap({"center": [0.0, 0.0], "zoom": 1, "zoomControl": True, "preferCanvas": False, "maxZoom": 18,
                    "minZoom": 5, "zoomSnap": 0.25})
    fmap.add_child(Part(fmap.new_name("page"), header=MAP_STYLE.format(name=fmap.get_name()),
                        js=(("leaflet", _ASSET + "leaflet.js"),), css=(("leaflet_css", _ASSET + "leaflet.css"),)))
    fmap.add_child(block(fmap, f"<title>{esc(layers.title)}</title>", "header"))
    _, _, attribution, _ = BASEMAPS[basemap]
    subdomains = {"tianditu": "01234567", "amap": "1234"}.get(basemap, "abc")
    for url in tile_urls:
        name = fmap.new_name("tile_layer")
        options = {"minZoom": 0, "maxZoom": 18, "maxNativeZoom": 18, "noWrap": False, "attribution": attribution,
                   "subdomains": subdomains, "detectRetina": False, "tms": False, "opacity": 1}
        fmap.add_child(Part(name, script=f"var {name} = L.tileLayer({json.dumps(url)}, "
                                         f"{html_safe_json(json.dumps(options, ensure_ascii=False))}).addTo("
                                         f"{fmap.get_name()});"))
    return fmap


def _add_overlay(fmap: PlanMap, collection: str, count: int, *, name: str, key: str, kind: str,
                 **options: Any) -> None:
    """Add an overlay (off: the panel's script turns on the default ones); `name` is HTML, escaped by the
    caller. Its paths or markers carry the class ``gp-<key>`` (the last class), which the browser test counts."""
    site = "gp-site" if key.startswith("site") else "gp-fac"
    symbol = {"polygon": "gp-poly", "cluster": "gp-fac", "marker": site, "label": "gp-label", "image": "gp-img"}
    fmap.add_child(Overlay(fmap.new_name("gisplan_overlay"), collection,
                           {"className": f"gp-l {symbol[kind]} gp-{key}", "key": key, "kind": kind, **options},
                           layer_name=name, kind=kind, count=count))


def _polygons(frame: gpd.GeoDataFrame, props: list[dict[str, Any]], system: str, *, coverage: bool = False,
              simplify_m: float = _SIMPLIFY_M) -> str:
    """A polygon layer's features, simplified for display (`coverage`: as a coverage, keeping shared edges)."""
    return collection(_display_geoms(frame, system=system, simplify_m=simplify_m, coverage=coverage), props)


def _add_basemap_image(fmap: PlanMap, layers: MapLayers, panel: Panel) -> None:
    """A local GeoTIFF basemap as an image overlay, under everything."""
    image = layers.basemap_image
    if image is None:
        return
    options = {"url": image.data_uri, "bounds": [[image.south, image.west], [image.north, image.east]]}
    name = f"底图影像：{esc(image.source)}"
    _add_overlay(fmap, "null", 1, name=name, key="basemap", kind="image", **options)
    panel.add("basemap", name, base=True)


def _add_boundaries(fmap: PlanMap, layers: MapLayers, choropleth: str | None, system: str, panel: Panel) -> str:
    """The townships (coloured by `choropleth`, else outlined) and the district outline; returns the legend's
    title (empty without a choropleth)."""
    legend_title = ""
    towns = layers.townships
    if choropleth is not None and towns is not None:  # a choropleth implies townships
        props, legend, legend_title = township_classes(layers, choropleth)
        name = f"镇街：{esc(legend_title)}"
        opacity = 0.35 if layers.basemap_image is not None else 0.55
        _add_overlay(fmap, _polygons(towns, props, system, coverage=True), len(towns), name=name,
                     key="townships", kind="polygon", sticky=True, pane="gp-towns",
                     style={"color": "#666", "weight": 1, "fillOpacity": opacity})
        for colour, label in legend:
            panel.entry(esc(legend_title), swatch(colour, "#777"), esc(label), "townships")
    elif towns is not None:
        props = [{"_t": esc(n)} for n in towns["name"]]
        name = "镇街界"
        _add_overlay(fmap, _polygons(towns, props, system, coverage=True), len(towns), name=name,
                     key="townships", kind="polygon", sticky=True, pane="gp-towns",
                     style={"color": "#555", "weight": 1, "fillOpacity": 0.05})
        panel.entry("边界与地名", swatch("transparent", "#555"), "镇街界", "townships")
    if towns is not None:
        panel.add("townships", name, base=True)
    if layers.district is not None and len(layers.district):
        district = layers.district
        props = [{"_t": esc(n)} for n in district.get("name", pd.Series(["区界"] * len(district)))]
        _add_overlay(fmap, _polygons(district, props, system), len(district), name="区界", key="district",
                     kind="polygon", pane="gp-lines",
                     style={"color": "#111", "weight": 3, "fill": False, "interactive": False})
        panel.add("district", "区界", base=True)
        panel.entry("边界与地名", '<i class="gp-sym-line"></i>', "区界", "district")
    return legend_title


def _labelcollection(lon: np.ndarray, lat: np.ndarray, names: pd.Series, system: str,
                      extra: dict[str, list[Any]] | None = None) -> str:
    points = np.asarray(shapely.points(np.round(lon, _DECIMALS), np.round(lat, _DECIMALS)), dtype=object)
    if system != "wgs84":
        points = transform_geometries(points, source="wgs84", target=system)
    props = [{"_n": esc(n), **{k: v[i] for k, v in (extra or {}).items()}} for i, n in enumerate(names)]
    return collection(points, props)


def _add_labels(fmap: PlanMap, layers: MapLayers, system: str, panel: Panel) -> None:
    """Name labels: townships (always), villages (zoomed in) and the neighbours at the district's edge."""
    towns = layers.townships
    if towns is not None and len(towns):
        lon, lat, radius = label_points(towns)
        data = _labelcollection(lon, lat, towns["name"].astype(str), system,
                                 {"_r": [round(float(r)) for r in radius]})
        _add_overlay(fmap, data, len(towns), name="镇街名称", key="label-town", kind="label", pane="gp-labels",
                     minZoom=0, priority=2)
        panel.add("label-town", "镇街名称", base=True)
        panel.entry("边界与地名", '<b class="gp-sym-text">乙镇</b>', "镇街名称", "label-town")
    villages = layers.villages
    if villages is not None and len(villages) and "name" in villages:
        lon, lat, radius = label_points(villages)
        data = _labelcollection(lon, lat, villages["name"].astype(str).map(_short_village), system,
                                 {"_r": [round(float(r)) for r in radius]})
        _add_overlay(fmap, data, len(villages), name="村（社区）名称（放大后显示）", key="label-village",
                     kind="label", pane="gp-labels", minZoom=_VILLAGE_LABEL_ZOOM, priority=1)
        panel.add("label-village", "村（社区）名称（放大后显示）", base=True)
        panel.entry("边界与地名", '<b class="gp-sym-text gp-sym-small">二村</b>', "村（社区）名称", "label-village")
    if layers.neighbours is not None and layers.district is not None and len(layers.district):
        near = (layers.neighbour_names if layers.neighbour_names is not None
                else neighbour_labels(layers.neighbours, layers.district))
        if len(near):
            data = _labelcollection(near["lon"].to_numpy(), near["lat"].to_numpy(), near["name"], system)
            _add_overlay(fmap, data, len(near), name="相邻区县名称", key="label-neighbour", kind="label",
                         pane="gp-labels", minZoom=0, priority=0)
            panel.add("label-neighbour", "相邻区县名称", base=True)
            panel.entry("边界与地名", '<b class="gp-sym-text gp-sym-nb">邻区</b>', "相邻区县", "label-neighbour")


_VILLAGE_SUFFIXES = ("村民委员会", "居民委员会", "社区居委会", "居委会", "村委会")
_VILLAGE_LABEL_ZOOM = 12.5


def _short_village(name: str) -> str:
    """A village's label: its name without the committee suffix (金龙场社区居民委员会 → 金龙场社区)."""
    for suffix in _VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            short = name.removesuffix(suffix)
            return short if short.endswith(("村", "社区")) else short + ("村" if "村" in suffix else "社区")
    return name


def _add_gaps(fmap: PlanMap, layers: MapLayers, system: str, panel: Panel) -> None:
    """Coverage gaps per facility type: light fills under the service areas."""
    if layers.gaps is None or not len(layers.gaps):
        return
    for i, (type_id, part) in enumerate(layers.gaps.groupby("facility_type", sort=False)):
        type_name = type_label(layers, type_id)
        key = f"gap-{i}"
        people = fmt_number(part["population"].sum(), 0, " 人")
        name = f"覆盖缺口 — {esc(type_name)}（{len(part)} 处，{people}）"
        data = _polygons(gpd.GeoDataFrame(part), gap_props(pd.DataFrame(part), type_name), system,
                         simplify_m=_SIMPLIFY_RESULT_M)
        _add_overlay(fmap, data, len(part), name=name, key=key, kind="polygon", pane="gp-gaps",
                     style={"color": _GAP_COLOUR, "weight": 0.5, "opacity": 0.6, "fillColor": _GAP_COLOUR,
                            "fillOpacity": 0.3})
        panel.add(key, name)
        panel.by_type.setdefault(str(type_id), {})["gap"] = key
        panel.entry("服务范围与缺口", swatch(_GAP_COLOUR, _GAP_COLOUR, opacity=0.5),
                    f"覆盖缺口 — {esc(type_name)}：{len(part)} 处，未覆盖 {people}", key)


_GAP_COLOUR = "#f4a582"  # light salmon: uncovered, under the blue service areas


def _add_areas(fmap: PlanMap, layers: MapLayers, system: str, panel: Panel) -> None:
    """Service areas, one overlay per facility type."""
    if layers.areas is None or not len(layers.areas):
        return
    for i, (type_id, part) in enumerate(layers.areas.groupby("facility_type", sort=False)):
        type_name = type_label(layers, type_id)
        minutes = ", ".join(f"{m:g}" for m in part["minutes"])
        colour = AREA_COLOURS[i % len(AREA_COLOURS)]
        props = [{"_t": f"{esc(type_name)}：{m:g} 分钟服务范围"} for m in part["minutes"]]
        key = f"area-{i}"
        name = f"服务范围（{minutes} 分钟）— {esc(type_name)}"
        data = _polygons(gpd.GeoDataFrame(part), props, system, simplify_m=_SIMPLIFY_RESULT_M)
        _add_overlay(fmap, data, len(part), name=name, key=key, kind="polygon", pane="gp-areas",
                     style={"color": colour, "weight": 1.2, "fillColor": colour, "fillOpacity": 0.18})
        panel.add(key, name)
        panel.by_type.setdefault(str(type_id), {})["area"] = key
        panel.entry("服务范围与缺口", swatch(colour, colour, opacity=0.45), name, key)


def _add_facilities(fmap: PlanMap, layers: MapLayers, system: str, panel: Panel) -> None:
    """One marker overlay per facility type, in the type's colour and glyph; clustered over CLUSTER_OVER."""
    town_names = ({} if layers.townships is None else
                  dict(zip(layers.townships["code12"].astype(str), layers.townships["name"].astype(str), strict=True)))
    for order, (type_id, frame) in enumerate(layers.facilities.items()):
        if not len(frame):
            continue
        colour, glyph = type_symbol(layers, type_id, order)
        type_name = type_label(layers, type_id)
        fake = type_name in layers.illustrative or any(type_id in n for n in layers.illustrative)
        props = facility_props(frame, type_name, (colour, glyph), town_names, fake)
        cluster = len(frame) > CLUSTER_OVER
        key = f"fac-{order}"
        name = f'<span style="color:{colour}">●</span> {esc(type_name)}（{len(frame)}）'
        _add_overlay(fmap, collection(_display_geoms(frame, system=system, simplify_m=0), props), len(frame),
                     name=name, key=key, kind="cluster" if cluster else "marker", cluster=cluster,
                     colour=colour, typeClass=f"gp-fac-{order}", iconSize=[22, 22])
        panel.add(key, name)
        panel.by_type.setdefault(type_id, {})["fac"] = key
        symbol = f'<i class="gp-sym-fac" style="background:{colour}">{glyph}</i>'
        panel.entry("设施（现状）", symbol, f"{esc(type_name)}（{len(frame)} 处{'，示意' if fake else ''}）", key)
        rough = sum(precision_counts(frame).values())
        if rough:  # ledgers without coordinates: the legend says how many markers are only representative points
            panel.entry("设施（现状）", f'<i class="gp-sym-fac gp-approx" style="background:{colour}">{glyph}</i>',
                        f"{esc(type_name)}：其中 {rough} 处按村（社区）/镇街代表点定位，位置与覆盖为近似", key)


def _add_proposals(fmap: PlanMap, layers: MapLayers, system: str, panel: Panel) -> None:
    """Proposed sites, one overlay per indicator row that first asked for them (ranks are unique within it);
    a site that several rows ask for is drawn once, in its first row's overlay, naming every row."""
    if layers.proposals is None or not len(layers.proposals):
        return
    sites = proposal_sites(layers.proposals)
    order = {t: i for i, t in enumerate(layers.facilities)}
    for i, (row_id, part) in enumerate(sites.groupby("indicator_id", sort=False)):
        type_id = str(part["facility_type"].iloc[0])
        type_name = "、".join(type_label(layers, t) for t in pd.unique(part["facility_type"]))
        colour, _ = type_symbol(layers, type_id, order.get(type_id, len(order)))
        key = f"site-{i}"
        years = pd.to_numeric(part.get("year", pd.Series(dtype=float)), errors="coerce").dropna()
        span = f"，{int(years.min())}–{int(years.max())} 年" if len(years) else ""
        name = f"候选站点 — {esc(row_id)} {esc(type_name)}（{len(part)} 处{span}）"
        _add_overlay(fmap, collection(_display_geoms(gpd.GeoDataFrame(part), system=system, simplify_m=0),
                                       site_props(pd.DataFrame(part), type_name, colour)), len(part),
                     name=name, key=key, kind="marker", iconSize=[22, 22])
        panel.add(key, name)
        served = {r for ids in part["indicator_ids"] for r in str(ids).split("；") if r}
        panel.sites[key] = (str(row_id), served | {str(row_id)})
        shared = sorted(served - {str(row_id)})
        also = f"；亦服务 {esc('、'.join(shared))}" if shared else ""
        panel.entry("候选站点（编号：该指标内的优先次序；旁注建设年份）",
                    f'<i class="gp-sym-site" style="border-color:{colour}"><span>{len(part)}</span></i>',
                    f"{esc(row_id)} {esc(type_name)}：{len(part)} 处{span}{also}", key)


def _bounds(layers: MapLayers, system: str) -> tuple[float, float, float, float]:
    frames = [f for f in (layers.district, layers.townships, *layers.facilities.values()) if f is not None and len(f)]
    if not frames:
        msg = _("nothing to draw: the map needs a district or township boundary, or facilities")
        raise ConfigError(msg)
    west, south, east, north = frames[0].to_crs(4326).total_bounds
    if system != "wgs84":
        corners = transform_geometries(shapely.points([west, east], [south, north]), source="wgs84", target=system)
        west, east = shapely.get_x(corners)
        south, north = shapely.get_y(corners)
    return float(west), float(south), float(east), float(north)


#: the measure tool (leaflet-measure, Chinese build), as folium.plugins.MeasureControl writes it
_MEASURE_OPTIONS = {"position": "topleft", "primaryLengthUnit": "meters", "secondaryLengthUnit": "kilometers",
                    "primaryAreaUnit": "sqmeters", "secondaryAreaUnit": "hectares"}
_MEASURE = """var measure_control = new L.Control.Measure({options});
{map}.addControl(measure_control);
// leaflet-measure with Leaflet >= 1.8 (https://github.com/ljagis/leaflet-measure/issues/171): no autopan
L.Control.Measure.include({{
    _setCaptureMarkerIcon: function () {{
        this._captureMarker.options.autoPanOnFocus = false;
        this._captureMarker.setIcon(L.divIcon({{iconSize: this._map.getSize().multiplyBy(2)}}));
    }},
}});
"""

_SIDE_HEAD = (
    '<div class="gp-side" id="gp-side"><div class="gp-side-head">'
    '<button type="button" class="gp-toggle" id="gp-toggle" aria-expanded="true">图层与图例</button>'
    '<button type="button" class="gp-btn" id="gp-print" title="打印（A4 横向，含图例、比例尺、指北针）">打印</button>'
    '<button type="button" class="gp-btn" id="gp-png" title="导出当前视图为 PNG 图片">导出PNG</button>'
    '</div><div class="gp-side-body"><div class="gp-layers" id="gp-layers"></div>'
)


def _add_furniture(fmap: PlanMap, layers: MapLayers, panel: Panel, legend_title: str, basemap: str,
                   system: str) -> None:
    """Title block, side panel (layer groups and legend), north arrow, measure tool, print/PNG buttons, scale,
    styles and the script that sets it all up (and the ready flag)."""
    del legend_title
    fmap.add_child(block(fmap, f'<link rel="stylesheet" href="{_ASSET}gisplan-map.css"/>', "header"))
    fmap.add_child(block(fmap, title_block(layers, BASEMAPS[basemap][0], system)))
    fmap.add_child(block(fmap, _SIDE_HEAD + legend_block(panel, layers) + "</div></div>"))
    fmap.add_child(block(fmap, '<div class="gp-north" id="gp-north" title="指北针"><svg viewBox="0 0 24 36" '
                                'width="24" height="36"><path d="M12 2 L20 30 L12 24 L4 30 Z" fill="#222"/><path '
                                'd="M12 2 L12 24 L4 30 Z" fill="#fff" stroke="#222" stroke-width="1"/></svg><b>N</b>'
                                '</div>'))
    fmap.add_child(script(fmap, _MEASURE.format(map=fmap.get_name(), options=json.dumps(_MEASURE_OPTIONS)),
                           js=(("leaflet_measure_js", _ASSET + "leaflet-measure.cn.js"),),
                           css=(("leaflet_measure_css", _ASSET + "leaflet-measure.css"),)))
    fmap.add_child(script(fmap, "", js=(("markerclusterjs", _ASSET + "leaflet.markercluster.js"),
                                     ("gisplan_map_js", _ASSET + "gisplan-map.js")),
                           css=(("markerclustercss", _ASSET + "MarkerCluster.css"),
                                ("markerclusterdefaultcss", _ASSET + "MarkerCluster.Default.css"))))
    west, south, east, north = _bounds(layers, system)
    setup = {"bounds": [[south, west], [north, east]], "names": panel.names, "base": panel.base,
             "groups": groups(layers, panel), "title": layers.title, "notice": layers.notice,
             "date": layers.made_on.isoformat()}
    setup_json = html_safe_json(json.dumps(setup, ensure_ascii=False))
    fmap.add_child(script(fmap, f"gisplanSetup({fmap.get_name()}, {setup_json});\nwindow.gisplanReady = true;"))
