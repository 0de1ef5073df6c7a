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
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from pyproj import CRS

from gisplan.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from gisplan.outputs.report_data import ReportData

__all__ = ["ProjectedLayers", "cjk_font", "coverage_chart_svg", "coverage_map", "gap_map", "overview_map",
           "project_layers", "site_map"]

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
    msg = ("no CJK font found for the report's maps and PDF; install one: `apt-get install fonts-noto-cjk` "
           "(Debian/Ubuntu), then run again.")
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


def _decorate(ax: Axes, crs: str, handles: list[Patch | Line2D], *, legend_title: str = "图例") -> None:
    """North arrow, scale bar, legend and the CRS on a map in metres."""
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
    ax.annotate("北", xy=(0.95, 0.96), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=9, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2})
    ax.text(0.99, 0.01, _crs_label(crs), transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    if handles:
        ax.legend(handles=handles, title=legend_title, loc="upper left", fontsize=6, title_fontsize=7, framealpha=0.9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")  # geopandas labels the axes "Easting [metre]"; the CRS note says it once
    ax.set_ylabel("")
    ax.set_aspect("equal")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


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


def project_layers(data: ReportData) -> ProjectedLayers:
    """Project every layer the maps draw, once."""

    def proj(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        return frame.to_crs(data.crs) if frame is not None and len(frame) else None

    return ProjectedLayers(
        data, proj(data.district), proj(data.townships), proj(data.demand),
        {t: f.to_crs(data.crs).geometry.representative_point() for t, f in data.facilities.items() if len(f)},
        proj(data.gaps), proj(data.proposals))


def _base(ax: Axes, geo: ProjectedLayers) -> None:
    if geo.district is not None:
        geo.district.boundary.plot(ax=ax, color="#333333", linewidth=1.0)
    if geo.townships is not None:
        geo.townships.boundary.plot(ax=ax, color="#777777", linewidth=0.4)


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


def _figure(width_in: float, height_in: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width_in, height_in))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.93)  # fixed: tight_layout costs 0.2 s a map
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
            t.plot(ax=ax, column=t[column].astype(float) * 100, cmap=_SHARE_CMAP, vmin=0, vmax=100,
                   edgecolor="#555555", linewidth=0.3, legend=True,
                   legend_kwds={"label": "常住人口覆盖率（%）", "shrink": 0.6})
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
                part.plot(ax=ax, color=colour, alpha=0.35, linewidth=0)
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


def site_map(geo: ProjectedLayers, site: pd.Series, *, radius_m: float = 2500.0) -> bytes:
    """A small map around one proposed site: the demand points nearby (covered or not by existing facilities of
    its type), the existing facilities, the boundaries, and the site."""
    data = geo.data
    type_id = str(site["facility_type"])
    here = gpd.GeoSeries(gpd.points_from_xy([float(site["lon"])], [float(site["lat"])]), crs="EPSG:4326")
    cx, cy = shapely.get_coordinates(here.to_crs(data.crs).to_numpy())[0]
    box = (cx - radius_m, cy - radius_m, cx + radius_m, cy + radius_m)
    with mpl.rc_context(_rc()):
        fig, ax = _figure(3.6, 3.6)
        handles: list[Patch | Line2D] = []
        column = f"covered_{type_id}"
        if geo.demand is not None:
            d = geo.demand.cx[box[0]:box[2], box[1]:box[3]]
            if column in d:
                cov = d[column].astype(bool).to_numpy()
                ax.scatter(d.geometry.x[cov], d.geometry.y[cov], s=2, color="#2e7d32", linewidths=0)
                ax.scatter(d.geometry.x[~cov], d.geometry.y[~cov], s=2, color="#c62828", linewidths=0)
                handles += [Line2D([], [], marker="o", color="#2e7d32", lw=0, markersize=3, label="现已覆盖"),
                            Line2D([], [], marker="o", color="#c62828", lw=0, markersize=3, label="现未覆盖")]
            else:
                ax.scatter(d.geometry.x, d.geometry.y, s=2, color="#9e9e9e", linewidths=0)
                handles.append(Line2D([], [], marker="o", color="#9e9e9e", lw=0, markersize=3, label="需求点"))
        for frame, colour, width in ((geo.district, "#333333", 1.0), (geo.townships, "#777777", 0.4)):
            if frame is not None:  # only the boundary inside the box: the whole district's costs 0.2 s a map
                lines = shapely.clip_by_rect(frame.boundary.to_numpy(), *box)
                lines = lines[~shapely.is_empty(lines)]
                if len(lines):
                    gpd.GeoSeries(lines, crs=data.crs).plot(ax=ax, color=colour, linewidth=width)
        pts = geo.facilities.get(type_id)
        if pts is not None:
            pts = pts.cx[box[0]:box[2], box[1]:box[3]]
            ax.scatter(pts.x, pts.y, s=16, color="#1565c0", marker="^", zorder=6, linewidths=0)
            handles.append(Line2D([], [], marker="^", color="#1565c0", lw=0, markersize=4, label="现有设施"))
        ax.scatter([cx], [cy], s=60, marker="*", color="#d50000", zorder=8, linewidths=0)
        handles.append(Line2D([], [], marker="*", color="#d50000", lw=0, markersize=7, label="建议选址"))
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        _decorate(ax, data.crs, handles)
        return _png(fig)


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
