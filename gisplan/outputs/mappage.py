"""The page around a plan map: the title block (notice, boundary disclaimer, 示意), the legend, the layer
panel's groups by indicator row, and the map rendered as one self-contained HTML page with Leaflet, its
plugins and gisplan's script and styles inlined (nothing to fetch: an intranet has no CDN).

Everything here that comes from user data is escaped with :func:`gisplan.outputs.mapstyle.esc`.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gisplan.i18n import _
from gisplan.outputs.mapstyle import BOUNDARY_DISCLAIMER, MapLayers, MapRow, esc

if TYPE_CHECKING:
    from gisplan.outputs.planmap import PlanMap

__all__ = ["MAP_DIR", "WEB_DIR", "layer_counts", "render_map_html"]

WEB_DIR = Path(__file__).resolve().parents[1] / "data" / "web"
MAP_DIR = Path(__file__).resolve().parents[1] / "data" / "map"
_ASSET = "gisplan-asset:"  # placeholder scheme, replaced by the file's contents in render_map_html


# ---------------------------------------------------------------------------------------------- panel and legend


class Panel:
    """What the layer panel and the legend list, collected while the overlays are added."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # layer key -> name (HTML, escaped)
        self.base: list[str] = []  # boundary, label and basemap layers: their own group, on
        self.by_type: dict[str, dict[str, str]] = {}  # type id -> {"fac"|"area"|"gap": key}
        self.sites: dict[str, tuple[str, set[str]]] = {}  # key -> (first row, every row its sites serve)
        self.legend: list[tuple[str, str, str]] = []  # (section, symbol HTML, label HTML) with data-l keys
        self.legend_keys: list[str] = []

    def add(self, key: str, name: str, *, base: bool = False) -> None:
        self.names[key] = name
        if base:
            self.base.append(key)

    def entry(self, section: str, symbol: str, label: str, key: str) -> None:
        self.legend.append((section, symbol, label))
        self.legend_keys.append(key)


def swatch(fill: str, line: str, *, opacity: float = 1.0, dash: bool = False) -> str:
    border = f"{'dashed' if dash else 'solid'} {line}"
    return f'<i style="background:{fill};opacity:{opacity};border:1.5px {border}"></i>'


def type_label(layers: MapLayers, type_id: object) -> str:
    return layers.type_names.get(str(type_id), str(type_id))


def groups(layers: MapLayers, panel: Panel) -> list[dict[str, Any]]:
    """The layer panel's groups: one per indicator row with layers, then the facility types no row uses."""
    rows = layers.rows or tuple(MapRow(indicator_id="", name=type_label(layers, t), types=(t,), coverage=True,
                                       headline=i == 0) for i, t in enumerate(layers.facilities))
    groups = []
    used: set[str] = set()
    for row in rows:
        keys = []
        for type_id in row.types:
            parts = panel.by_type.get(type_id, {})
            wanted = ("fac", "area", "gap") if row.coverage else ("fac",)
            keys += [parts[w] for w in wanted if w in parts]
        keys += [k for k, (_, served) in panel.sites.items() if row.indicator_id in served]
        if not keys:
            continue
        used.update(keys)
        title = f"{esc(row.indicator_id)} {esc(row.name)}".strip()
        groups.append({"title": title, "headline": row.headline, "layers": list(dict.fromkeys(keys))})
    rest = [k for k in panel.names if k not in used and k not in panel.base]
    if rest:
        groups.append({"title": "其他图层", "headline": False, "layers": rest})
    return groups


def title_block(layers: MapLayers, basemap_label: str, system: str) -> str:
    """Title, date, method, basemap, notes, the 示意 banner, the map notice and the boundary disclaimer."""
    methods = {"network": "路网最短路径（按道路计算步行/车行时间）",
               "straight_line": "直线服务半径（非路网，仅作粗略参考）"}
    method = methods.get(layers.method, "覆盖未计算（缺少路网或需求数据）")
    crs_note = ("坐标已由 WGS84 偏移为 GCJ-02，以与高德底图对齐" if system == "gcj02" else "坐标系 WGS84")
    ground = esc(layers.basemap_image.caption) if layers.basemap_image is not None else esc(basemap_label)
    lines = [f"<h1>{esc(layers.title)}</h1>",
             f'<div class="gp-meta">制图日期：{layers.made_on.isoformat()}　方法：{method}</div>',
             f'<div class="gp-meta">底图：{ground}　{crs_note}</div>']
    lines += [f'<div class="gp-meta gp-note">{esc(note)}</div>' for note in layers.notes]
    if layers.illustrative:
        lines.append('<div class="gp-illustrative">示意 ILLUSTRATIVE — 含生成的示意数据，不是真实设施或人口，'
                     "图上数字不得作为现状引用</div>")
    disclaimer = f"　{BOUNDARY_DISCLAIMER}" if layers.district is not None or layers.townships is not None else ""
    lines.append(f'<div class="gp-notice" id="gp-notice"><b>{esc(layers.notice)}</b>{disclaimer}</div>')
    return '<div class="gp-title" id="gp-title">' + "".join(lines) + "</div>"


def legend_block(panel: Panel, layers: MapLayers) -> str:
    """The legend: every symbol of the map by section; the script hides entries whose layers are off."""
    sections: dict[str, list[str]] = {}
    for (section, symbol, label), keys in zip(panel.legend, panel.legend_keys, strict=True):
        sections.setdefault(section, []).append(f'<div class="gp-li" data-l="{keys}">{symbol}{label}</div>')
    body = "".join(f'<div class="gp-ls"><h3>{title}</h3>{"".join(items)}</div>' for title, items in sections.items())
    if layers.illustrative:
        names = "、".join(esc(n) for n in layers.illustrative)
        body += ('<div class="gp-ls gp-ls-ill"><b>示意</b>：以下图层为生成的示意数据（候选站点随之为示意）：'
                 f"{names}</div>")
    return f'<div class="gp-legend" id="gp-legend"><h2>图例</h2>{body}</div>'


# ---------------------------------------------------------------------------------------------- output


def _asset(name: str) -> Path:
    path = (MAP_DIR if name.startswith("gisplan-") else WEB_DIR) / name
    if not path.is_file():  # pragma: no cover - a broken install
        msg = _("gisplan's embedded web library {path} is missing; reinstall gisplan").format(path=path)
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


def render_map_html(fmap: PlanMap) -> str:
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
        msg = _("the map refers to files it does not embed: {external}").format(external=external)
        raise RuntimeError(msg)
    return page


def layer_counts(fmap: PlanMap) -> dict[str, tuple[str, str, int]]:
    """Overlay class → (name, kind, feature count) for every gisplan overlay of a built map (for checks)."""
    out = {}
    for child in fmap._children.values():
        if getattr(child, "_name", "") == "GisplanOverlay":
            key = str(getattr(child, "class_name", "")).split()[-1]
            name = html.unescape(re.sub("<[^>]+>", "", str(getattr(child, "layer_name", "")))).strip()
            out[key] = (name, str(getattr(child, "kind", "")), int(getattr(child, "count", 0)))
    return out
