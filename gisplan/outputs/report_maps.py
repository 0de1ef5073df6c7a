"""Static maps and charts of the report, drawn offline with matplotlib: the district overview with township names,
coverage per key type, uncovered areas and proposed sites, one small map per featured site; each map with a north
arrow, a scale bar, a legend and its coordinate system. Maps are drawn in the scenario's planning CRS (metres),
so the scale bar is true. Charts are SVG with their text kept as text (``svg.fonttype = "none"``).
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import shapely
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.path import Path as MplPath
from PIL import Image
from pyproj import CRS

from gisplan.errors import ConfigError
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd
    from matplotlib.axes import Axes
    from numpy.typing import NDArray

    from gisplan.outputs.report_areas import SiteArea
    from gisplan.outputs.report_data import ReportData

__all__ = ["ProjectedLayers", "cjk_font", "coverage_chart_svg", "coverage_map", "gap_map", "overview_map",
           "project_layers", "site_maps"]

logger = logging.getLogger(__name__)

#: the CJK fonts looked for, in order (Debian's fonts-noto-cjk first)
CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei",
             "Microsoft YaHei")
_DPI = 100
_SHARE_CMAP = "RdYlGn"


@cache
def cjk_font() -> str:
    """The name of an installed CJK font (matplotlib's font manager, which reads fontconfig's folders).

    Raises
    ------
    ConfigError
        If none is installed, with the package to install.
    """
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    msg = (_("no CJK font found for the report's maps and PDF; install one: `apt-get install fonts-noto-cjk` "
             "(Debian/Ubuntu), then run again."))
    raise ConfigError(msg)


def _rc() -> Any:  # matplotlib types rc keys as one Literal
    return {"font.family": "sans-serif", "font.sans-serif": [cjk_font(), "DejaVu Sans"], "axes.unicode_minus": False,
            "svg.fonttype": "none", "font.size": 8}


def _crs_label(crs: str) -> str:
    c = CRS.from_user_input(crs)
    epsg = c.to_epsg()
    return f"坐标系：{c.name}" + (f"（EPSG:{epsg}）" if epsg else "")


def _nice_length(width_m: float) -> float:
    """A round scale-bar length near a fifth of the map's width (1, 2 or 5 × 10ⁿ metres)."""
    raw = max(width_m / 5.0, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (5, 2, 1) if m * power <= raw))


def _scale_bar(ax: Axes) -> None:
    """A scale bar at the lower left of a map in metres (set its limits first)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    h = 0.012 * (y1 - y0)
    ax.add_patch(Rectangle((bx, by), length / 2, h, facecolor="black", edgecolor="black", lw=0.5, zorder=9))
    ax.add_patch(Rectangle((bx + length / 2, by), length / 2, h, facecolor="white", edgecolor="black", lw=0.5,
                           zorder=9))
    label = f"{length / 1000:g} 千米" if length >= 1000 else f"{length:g} 米"
    ax.text(bx, by + 2 * h, "0", fontsize=6, zorder=9)
    ax.text(bx + length, by + 2 * h, label, fontsize=6, ha="center", zorder=9)


def _north_and_crs(ax: Axes, crs: str) -> None:
    """The north arrow at the upper right and the coordinate system at the lower right of a map."""
    # the letter and an arrow patch drawn from just above it (an annotation's arrow is clipped to its text's box
    # by Bézier splitting on every draw, 10 ms a map); the z-orders put them over the layers of the same default
    # z-order whether they are added before the layers (the site maps) or after
    ax.text(0.95, 0.86, "北", transform=ax.transAxes, ha="center", va="center", fontsize=9, fontweight="bold",
            zorder=3.5)
    ax.add_patch(FancyArrowPatch((0.95, 0.885), (0.95, 0.96), transform=ax.transAxes, arrowstyle="-|>",
                                 mutation_scale=9, color="black", lw=1.2, shrinkA=0, shrinkB=0, zorder=1.5))
    ax.text(0.99, 0.01, _crs_label(crs), transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}, zorder=3.5)


def _decorate(ax: Axes, crs: str, handles: list[Patch | Line2D], *, legend_title: str = "图例") -> None:
    """North arrow, scale bar, legend (in a box at the upper left) and the CRS on a map in metres."""
    _scale_bar(ax)
    _north_and_crs(ax, crs)
    if handles:
        _legend_inside(ax, handles, legend_title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")  # geopandas labels the axes "Easting [metre]"; the CRS note says it once
    ax.set_ylabel("")
    ax.set_aspect("equal")


def _legend_mark(add: Any, transform: Any, handle: Patch | Line2D, x: float, y: float, dx: float, dy: float) -> None:
    """One legend entry's symbol at (x, y) in `transform`'s coordinates: a box 2·dx × 2·dy for a patch, the
    marker for a point handle, a line 2·dx long otherwise."""
    if isinstance(handle, Patch):
        add(Rectangle((x - dx, y - dy), 2 * dx, 2 * dy, transform=transform, facecolor=handle.get_facecolor(),
                      edgecolor=handle.get_edgecolor(), lw=handle.get_linewidth(), zorder=11))
    elif handle.get_marker() not in {None, "None", "", " "}:
        add(Line2D([x], [y], transform=transform, marker=handle.get_marker(), lw=0, color=handle.get_color(),
                   markersize=handle.get_markersize(), zorder=11))
    else:
        add(Line2D([x - dx, x + dx], [y, y], transform=transform, color=handle.get_color(), lw=handle.get_linewidth(),
                   ls=handle.get_linestyle(), zorder=11))


def _legend_below(fig: Figure, handles: list[Patch | Line2D], title: str, *, top: float) -> None:
    """A two-column legend under the map, in the figure's free band below `top` (figure fraction), drawn as
    plain markers, lines, boxes and texts: matplotlib's own legend lays out a packer of boxes for each entry on
    every draw (about 40 ms a site map)."""
    rows = -(-len(handles) // 2)
    step = min(0.026, (top - 0.01) / (rows + 1))
    fig.text(0.5, top - 0.6 * step, title, ha="center", va="center", fontsize=7)
    for i, handle in enumerate(handles):  # column first, as matplotlib's legend fills them
        x, y = (0.06 if i < rows else 0.53), top - (1.6 + i % rows) * step
        _legend_mark(fig.add_artist, fig.transFigure, handle, x, y, 0.018, 0.006)
        fig.text(x + 0.03, y, str(handle.get_label()), ha="left", va="center", fontsize=6)


def _text_width_pt(text: str, size_pt: float) -> float:
    """The width of `text` at `size_pt`, from the CJK font's advances: 1 em for a CJK or full-width character,
    at most 0.6 em for any other (a legend box sized by it is never too narrow)."""
    return size_pt * sum(1.0 if ord(c) >= 0x2E80 else 0.6 for c in text)


def _legend_inside(ax: Axes, handles: list[Patch | Line2D], title: str) -> None:
    """The legend in a white box at the map's upper left, drawn by hand like :func:`_legend_below`."""
    ax.apply_aspect()  # the axes' box as drawn (equal aspect), to size the legend in points
    box = ax.get_position()
    fig_w_in, fig_h_in = ax.get_figure(root=True).get_size_inches()  # type: ignore[union-attr]
    w_pt, h_pt = box.width * fig_w_in * 72, box.height * fig_h_in * 72
    row, pad, head, symbol = 8.5, 4.0, 11.0, 18.0
    inner = max([_text_width_pt(title, 7)] + [symbol + _text_width_pt(str(h.get_label()), 6) for h in handles])
    width, height = (inner + 2 * pad) / w_pt, (len(handles) * row + head + 2 * pad) / h_pt
    x0, top = 0.01, 0.99
    ax.add_patch(Rectangle((x0, top - height), width, height, transform=ax.transAxes, facecolor="white", alpha=0.9,
                           edgecolor="#cccccc", lw=0.5, zorder=10))
    ax.text(x0 + width / 2, top - (pad + head / 2) / h_pt, title, transform=ax.transAxes, ha="center", va="center",
            fontsize=7, zorder=11)
    for i, handle in enumerate(handles):
        y = top - (pad + head + (i + 0.5) * row) / h_pt
        _legend_mark(ax.add_artist, ax.transAxes, handle, x0 + (pad + 7) / w_pt, y, 6 / w_pt, 2.5 / h_pt)
        ax.text(x0 + (pad + symbol) / w_pt, y, str(handle.get_label()), transform=ax.transAxes, ha="left",
                va="center", fontsize=6, zorder=11)


def _png(fig: Figure, canvas: FigureCanvasAgg | None = None) -> bytes:
    """The figure as an RGB PNG: without the alpha channel WeasyPrint embeds one image stream, not two."""
    canvas = canvas if canvas is not None else FigureCanvasAgg(fig)
    fig.set_dpi(_DPI)
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    image = Image.frombuffer("RGBA", canvas.get_width_height(), rgba).convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _polygon_paths(geoms: NDArray[np.object_]) -> list[MplPath]:
    """One compound path per (multi)polygon (exteriors and holes, as geopandas draws them), built from the
    coordinates of all geometries at once; empty geometries are left out."""
    geoms = geoms[~shapely.is_empty(geoms)]
    if not len(geoms):
        return []
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    new_ring = coord_ring[1:] != coord_ring[:-1]
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[np.r_[True, new_ring]] = MplPath.MOVETO
    codes[np.r_[new_ring, True]] = MplPath.CLOSEPOLY
    owner = part_of[ring_of][coord_ring]
    cuts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
    return [MplPath(v, c) for v, c in zip(np.split(coords, cuts), np.split(codes, cuts), strict=True)]


def _add_polygons(ax: Axes, geoms: NDArray[np.object_], **style: Any) -> PathCollection | None:
    """(Multi)polygons as one PathCollection (one artist, not a patch per polygon)."""
    paths = _polygon_paths(np.asarray(geoms, dtype=object))
    if not paths:
        return None
    collection = PathCollection(paths, **style)
    ax.add_collection(collection, autolim=True)
    return collection


def _add_lines(ax: Axes, geoms: NDArray[np.object_], **style: Any) -> None:
    """Lines (or polygons' outlines, given as their boundaries) as one LineCollection."""
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_empty(geoms)]
    if not len(geoms):
        return
    parts = shapely.get_parts(geoms)
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    cuts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
    ax.add_collection(LineCollection(np.split(coords, cuts), **style), autolim=True)


@dataclass(frozen=True, slots=True, eq=False)
class ProjectedLayers:
    """The report's layers projected once to the planning CRS (metres), with the facility points."""

    data: ReportData
    district: gpd.GeoDataFrame | None
    townships: gpd.GeoDataFrame | None
    demand: gpd.GeoDataFrame | None
    facilities: dict[str, gpd.GeoSeries]
    gaps: gpd.GeoDataFrame | None
    proposals: gpd.GeoDataFrame | None
    villages: gpd.GeoDataFrame | None = None


def project_layers(data: ReportData) -> ProjectedLayers:
    """Project every layer the maps draw, once."""

    def proj(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        return frame.to_crs(data.crs) if frame is not None and len(frame) else None

    return ProjectedLayers(
        data, proj(data.district), proj(data.townships), proj(data.demand),
        {t: f.to_crs(data.crs).geometry.representative_point() for t, f in data.facilities.items() if len(f)},
        proj(data.gaps), proj(data.proposals), proj(data.villages))


def _base(ax: Axes, geo: ProjectedLayers) -> None:
    if geo.district is not None:
        _add_lines(ax, geo.district.boundary.to_numpy(), color="#333333", linewidth=1.0)
    if geo.townships is not None:
        _add_lines(ax, geo.townships.boundary.to_numpy(), color="#777777", linewidth=0.4)


def _names(ax: Axes, geo: ProjectedLayers) -> None:
    if geo.townships is None or "name" not in geo.townships:
        return
    towns = geo.townships
    at = towns.geometry.representative_point()
    for x, y, name in zip(at.x, at.y, towns["name"].astype(str), strict=True):
        ax.text(x, y, name, fontsize=5.5, ha="center", va="center", color="#222222",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.6, "pad": 0.5})


def _mark(data: ReportData) -> str:
    return "（示意数据）" if data.illustrative else ""


def _figure(width_in: float, height_in: float, *, bottom: float = 0.02) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width_in, height_in))
    # fixed: tight_layout costs 0.2 s a map
    fig.subplots_adjust(left=0.02, right=0.98, bottom=bottom, top=0.98 if bottom > 0.02 else 0.93)
    return fig, fig.add_subplot()


def overview_map(geo: ProjectedLayers) -> bytes:
    """The district with its townships and their names, and every existing facility by type."""
    data = geo.data
    with mpl.rc_context(_rc()):
        fig, ax = _figure(6.3, 6.0)
        _base(ax, geo)
        handles: list[Patch | Line2D] = [Line2D([], [], color="#333333", lw=1.0, label="区界"),
                                          Line2D([], [], color="#777777", lw=0.4, label="镇街界")]
        for type_id, pts in geo.facilities.items():
            ftype = data.catalogue.types.get(type_id)
            colour = ftype.map_colour if ftype is not None else "#757575"
            ax.scatter(pts.x, pts.y, s=5, color=colour, zorder=5, linewidths=0)
            handles.append(Line2D([], [], marker="o", color=colour, lw=0, markersize=3,
                                  label=f"{data.type_name(type_id)}（{len(pts)}）"))
        _names(ax, geo)
        ax.set_title(f"区域概况与现有设施{_mark(data)}", fontsize=10)
        _decorate(ax, data.crs, handles)
        return _png(fig)


def coverage_map(geo: ProjectedLayers, type_id: str) -> bytes:
    """Townships coloured by the share of residents within the type's threshold (demand points coloured by
    covered or not where there are no township polygons), and the type's existing facilities."""
    data = geo.data
    with mpl.rc_context(_rc()):
        fig, ax = _figure(6.3, 5.6)
        name = data.type_name(type_id)
        column = f"share_{type_id}"
        handles: list[Patch | Line2D] = []
        t = geo.townships
        if t is not None and column in t:
            share = t[column].astype(float).to_numpy() * 100
            shown = ~shapely.is_empty(t.geometry.to_numpy())
            polys = _add_polygons(ax, t.geometry.to_numpy(), cmap=_SHARE_CMAP, norm=Normalize(0, 100),
                                  edgecolor="#555555", linewidth=0.3)
            if polys is not None:
                polys.set_array(share[shown])
                fig.colorbar(polys, ax=ax, label="常住人口覆盖率（%）", shrink=0.6)
        elif geo.demand is not None and f"covered_{type_id}" in geo.demand:
            d = geo.demand
            cov = d[f"covered_{type_id}"].astype(bool).to_numpy()
            ax.scatter(d.geometry.x[cov], d.geometry.y[cov], s=1, color="#2e7d32", linewidths=0)
            ax.scatter(d.geometry.x[~cov], d.geometry.y[~cov], s=1, color="#c62828", linewidths=0)
            handles += [Line2D([], [], marker="o", color="#2e7d32", lw=0, markersize=3, label="已覆盖需求点"),
                        Line2D([], [], marker="o", color="#c62828", lw=0, markersize=3, label="未覆盖需求点")]
        _base(ax, geo)
        pts = geo.facilities.get(type_id)
        if pts is not None:
            ax.scatter(pts.x, pts.y, s=10, color="#1565c0", marker="^", zorder=6, linewidths=0)
            handles.append(Line2D([], [], marker="^", color="#1565c0", lw=0, markersize=4, label=f"现有{name}"))
        _names(ax, geo)
        minutes = data.type_thresholds.get(type_id, 15.0)
        how = f"{minutes:g}分钟" if data.method == "network" else "直线估算（参考）"
        ax.set_title(f"{name} {how}覆盖率{_mark(data)}", fontsize=10)
        _decorate(ax, data.crs, handles)
        return _png(fig)


def gap_map(geo: ProjectedLayers) -> bytes:
    """Uncovered areas of every measured type and the proposed sites."""
    data = geo.data
    with mpl.rc_context(_rc()):
        fig, ax = _figure(6.3, 6.0)
        _base(ax, geo)
        handles: list[Patch | Line2D] = []
        if geo.gaps is not None:
            gaps = geo.gaps
            for type_id, part in gaps.groupby("facility_type"):
                ftype = data.catalogue.types.get(str(type_id))
                colour = ftype.map_colour if ftype is not None else "#757575"
                _add_polygons(ax, part.geometry.to_numpy(), facecolor=colour, alpha=0.35, linewidth=0)
                handles.append(Patch(facecolor=colour, alpha=0.35, label=f"{data.type_name(str(type_id))}未覆盖片区"))
        if geo.proposals is not None:
            sites = geo.proposals
            ax.scatter(sites.geometry.x, sites.geometry.y, s=14, marker="*", color="#d50000", zorder=7, linewidths=0)
            handles.append(Line2D([], [], marker="*", color="#d50000", lw=0, markersize=6,
                                  label=f"建议新增选址（{len(sites)}处）"))
        _names(ax, geo)
        ax.set_title(f"覆盖缺口与建议选址{_mark(data)}", fontsize=10)
        _decorate(ax, data.crs, handles)
        return _png(fig)


def _site_box(cx: float, cy: float, area: SiteArea | None, *, radius_m: float) -> tuple[float, float, float, float]:
    """A square around the site holding its whole service area (at least `radius_m` each side), with a margin."""
    x0, y0, x1, y1 = cx - radius_m, cy - radius_m, cx + radius_m, cy + radius_m
    if area is not None and not shapely.is_empty(area.polygon):
        ax0, ay0, ax1, ay1 = shapely.bounds(area.polygon)
        x0, y0, x1, y1 = min(x0, ax0), min(y0, ay0), max(x1, ax1), max(y1, ay1)
    half = max(x1 - x0, y1 - y0) * 0.54
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    return mx - half, my - half, mx + half, my + half


def _outline(ax: Axes, frame: gpd.GeoDataFrame | None, box: tuple[float, float, float, float], **style: Any) -> None:
    """The boundary lines of `frame` inside `box` only (the whole district's cost 0.2 s a map)."""
    if frame is None:
        return
    lines = shapely.clip_by_rect(frame.boundary.to_numpy(), *box)
    lines = lines[~shapely.is_empty(lines)]
    _add_lines(ax, lines, **style)


def site_maps(geo: ProjectedLayers, sites: Sequence[tuple[pd.Series, SiteArea | None]], *,
              radius_m: float = 1500.0) -> list[bytes]:
    """A small map of each proposed site (a row of the proposals layer, with its service area or None): its
    service area (the road reached within the type's threshold), the demand points nearby (covered today, newly
    reached by the site, still uncovered), the existing facilities of its type with the nearest one marked, the
    village (community) the site is in and the township boundaries.

    The maps share one figure: its axes, north arrow and coordinate-system note are made once, and each site's
    layers, scale bar and legend are drawn on it and removed again (a new figure and axes cost about 30 ms a map,
    and the canvas keeps the size of the texts it has measured).
    """
    with mpl.rc_context(_rc()):
        fig, ax = _figure(4.2, 4.9, bottom=0.17)
        _north_and_crs(ax, geo.data.crs)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        canvas = FigureCanvasAgg(fig)
        fixed = {id(a) for a in (*ax.get_children(), *fig.get_children())}
        pngs = []
        for site, area in sites:
            _draw_site(geo, ax, site, area, radius_m=radius_m)
            pngs.append(_png(fig, canvas))
            for artist in (*ax.get_children(), *fig.get_children()):
                if id(artist) not in fixed:
                    artist.remove()
        return pngs


def _draw_site(geo: ProjectedLayers, ax: Axes, site: pd.Series, area: SiteArea | None, *, radius_m: float) -> None:
    """One site's layers, scale bar and legend (below the map) on the shared site-map axes."""
    data = geo.data
    fig = ax.get_figure(root=True)
    type_id = str(site["facility_type"])
    here = gpd.GeoSeries(gpd.points_from_xy([float(site["lon"])], [float(site["lat"])]), crs="EPSG:4326")
    cx, cy = shapely.get_coordinates(here.to_crs(data.crs).to_numpy())[0]
    pts = geo.facilities.get(type_id)
    box = _site_box(cx, cy, area, radius_m=radius_m)
    handles: list[Patch | Line2D] = []
    if area is not None and not shapely.is_empty(area.polygon):
        _add_polygons(ax, np.array([area.polygon]), facecolor="#90caf9", alpha=0.55, edgecolor="#1565c0",
                      linewidth=0.6, zorder=2)
        profile = data.profiles.get(area.profile)
        how = profile.name_zh if profile is not None else area.profile
        handles.append(Patch(facecolor="#90caf9", edgecolor="#1565c0", alpha=0.55,
                             label=f"新址{area.minutes:g}分钟服务范围（{how}）"))
    if geo.demand is not None:
        d = geo.demand
        xy = shapely.get_coordinates(d.geometry.to_numpy())
        inside = (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])
        column = f"covered_{type_id}"
        now = d[column].astype(bool).to_numpy() if column in d else np.zeros(len(d), dtype=bool)
        new = np.zeros(len(d), dtype=bool)
        if area is not None:
            new[area.reached] = True
        for mask, colour, label in ((inside & now, "#2e7d32", "现已覆盖的需求点"),
                                    (inside & new & ~now, "#0d47a1", "新址新增覆盖的需求点"),
                                    (inside & ~new & ~now, "#c62828", "仍未覆盖的需求点")):
            ax.scatter(xy[mask, 0], xy[mask, 1], s=2.5, color=colour, linewidths=0, zorder=3)
            handles.append(Line2D([], [], marker="o", color=colour, lw=0, markersize=3, label=label))
    _outline(ax, geo.district, box, color="#333333", linewidth=1.0, zorder=4)
    _outline(ax, geo.townships, box, color="#555555", linewidth=0.6, linestyle="--", zorder=4)
    handles.append(Line2D([], [], color="#555555", lw=0.6, ls="--", label="镇街界"))
    village = _village_of(geo, cx, cy)
    if village is not None:
        _add_lines(ax, shapely.boundary(np.array([village[0]])), color="#6a1b9a", linewidth=1.2, zorder=4)
        handles.append(Line2D([], [], color="#6a1b9a", lw=1.2, label=f"所在村（社区）：{village[1]}"))
    if pts is not None and len(pts):
        _nearest_facility(ax, pts, (cx, cy), box)
        handles.append(Line2D([], [], marker="^", color="#1565c0", lw=0, markersize=4,
                              label=f"现有{data.type_name(type_id)}"))
    ax.scatter([cx], [cy], s=70, marker="*", color="#d50000", zorder=8, linewidths=0)
    handles.append(Line2D([], [], marker="*", color="#d50000", lw=0, markersize=7, label="建议选址"))
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    _scale_bar(ax)
    _legend_below(fig, handles, "图例", top=ax.get_position().y0)  # type: ignore[arg-type]


def _nearest_facility(ax: Axes, pts: gpd.GeoSeries, at: tuple[float, float],
                      box: tuple[float, float, float, float]) -> None:
    """The existing facilities inside `box`, and the nearest one to `at` labelled with its straight-line distance
    (an arrow on the map's edge toward it when it lies beyond the map)."""
    cx, cy = at
    fxy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    show = (fxy[:, 0] >= box[0]) & (fxy[:, 0] <= box[2]) & (fxy[:, 1] >= box[1]) & (fxy[:, 1] <= box[3])
    ax.scatter(fxy[show, 0], fxy[show, 1], s=22, color="#1565c0", marker="^", zorder=6, linewidths=0)
    dist = np.hypot(fxy[:, 0] - cx, fxy[:, 1] - cy)
    k = int(np.argmin(dist))
    style: dict[str, Any] = {"fontsize": 6, "color": "#0d47a1", "zorder": 7,
                             "bbox": {"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5}}
    if show[k]:
        ax.annotate(f"最近现有 {dist[k] / 1000:.1f} km", (fxy[k, 0], fxy[k, 1]), xytext=(4, 4),
                    textcoords="offset points", **style)
        return
    ux, uy = (fxy[k, 0] - cx) / dist[k], (fxy[k, 1] - cy) / dist[k]
    reach = 0.42 * (box[2] - box[0]) / max(abs(ux), abs(uy))
    ax.annotate(f"最近现有 {dist[k] / 1000:.1f} km", xy=(cx + ux * reach, cy + uy * reach),
                xytext=(cx + ux * reach * 0.6, cy + uy * reach * 0.6), ha="center",
                arrowprops={"arrowstyle": "->", "color": "#0d47a1", "lw": 0.8, "patchA": None}, **style)


def _village_of(geo: ProjectedLayers, x: float, y: float) -> tuple[shapely.Geometry, str] | None:
    """The village (community) polygon holding the point, with its name."""
    villages = geo.villages
    if villages is None:
        return None
    hit = villages.sindex.query(shapely.Point(x, y), predicate="intersects")
    if not len(hit):
        return None
    row = villages.iloc[int(hit[0])]
    return row.geometry, str(row.get("name", ""))


def coverage_chart_svg(curve: pd.DataFrame, names: dict[str, str], *, title: str) -> str:
    """The coverage curve (share of residents within 5/10/15/20 minutes per type) as an SVG whose labels are text."""
    with mpl.rc_context(_rc()):
        fig = Figure(figsize=(6.0, 3.0))
        ax = fig.add_subplot()
        for type_id, group in curve.groupby("facility_type", sort=False):
            part = group.sort_values("threshold")
            ax.plot(part["threshold"], part["population"], marker="o", markersize=3,
                    label=names.get(str(type_id), str(type_id)))
            for x, y in zip(part["threshold"], part["population"], strict=True):
                ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 4), fontsize=6, ha="center")
        ax.set_xlabel("出行时间（分钟）")
        ax.set_ylabel("常住人口覆盖率（%）")
        ax.set_ylim(0, 105)
        ticks = np.unique(curve["threshold"].to_numpy(float)) if len(curve) else np.array([5.0, 10.0, 15.0, 20.0])
        ax.set_xticks(ticks)
        ax.grid(alpha=0.3)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6)
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.9)
        buf = io.StringIO()
        FigureCanvasSVG(fig)
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype
