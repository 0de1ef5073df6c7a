"""The page of a plan map without a template engine: :class:`PlanMap` holds the parts of one Leaflet page —
:class:`Part` (markup for the head, body and script, and the libraries it needs), :class:`Overlay` (a toggleable
GeoJSON layer drawn by gisplan's own script) — and writes them as HTML. What goes on the map is
:mod:`gisplan.outputs.webmap`'s; the title, legend and inlined assets are :mod:`gisplan.outputs.mappage`'s.

Data travel as HTML-safe JSON (:func:`html_safe_json`): a name can neither close a ``<script>`` element nor open a
template tag.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import shapely

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MAP_STYLE", "Overlay", "Part", "PlanMap", "block", "collection", "html_safe_json", "script"]


def html_safe_json(text: str) -> str:
    """JSON text that cannot close a <script> element (``<``, ``>``, ``&`` as unicode escapes) nor open a
    Jinja tag should the page ever pass through a template engine again, as folium's did (``{`` before ``{``,
    ``%`` or ``#`` — only ever inside a string in JSON — as ``\\u007b``)."""
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return re.sub(r"\{(?=[{%#])", r"\\u007b", text)


def collection(geoms: np.ndarray, props: list[dict[str, Any]]) -> str:
    """A GeoJSON FeatureCollection as html-safe JSON text."""
    texts = shapely.to_geojson(geoms)
    features = ",".join(
        '{"type":"Feature","geometry":' + str(g) + ',"properties":' + json.dumps(p, ensure_ascii=False) + "}"
        for g, p in zip(texts, props, strict=True))
    return html_safe_json('{"type":"FeatureCollection","features":[' + features + "]}")


class Part:
    """One element of the page: its markup in the page's head, body and script, and the libraries it needs.

    Attributes
    ----------
    name : str
        The element's id and JavaScript variable.
    header, html, script : str
        Finished markup and code (user names already escaped), placed as they are.
    js, css : tuple of (name, url)
        Scripts and stylesheets it needs in the head, each once (by name) in the order first asked for.
    """

    def __init__(self, name: str, *, header: str = "", html: str = "", script: str = "",
                 js: tuple[tuple[str, str], ...] = (), css: tuple[tuple[str, str], ...] = ()) -> None:
        self._name = "Part"
        self.name, self.header, self.html, self.script, self.js, self.css = name, header, html, script, js, css

    def get_name(self) -> str:
        """The element's id and JavaScript variable."""
        return self.name


class Overlay(Part):
    """One toggleable layer drawn by ``gisplanLayer`` (gisplan/data/map/gisplan-map.js); its GeoJSON waits in a
    ``<script type="application/json">`` element (HTML-safe, see :func:`html_safe_json`) until shown.

    Attributes
    ----------
    data_json : str
        The layer's features.
    layer_name : str
        Its name in the layer panel (HTML).
    class_name, kind : str
        Its CSS classes (the last, ``gp-<key>``, names it) and how it draws (polygon, marker, cluster …).
    count : int
        Its features.
    """

    def __init__(self, name: str, data_json: str, options: dict[str, Any], *, layer_name: str, kind: str,
                 count: int) -> None:
        options_json = html_safe_json(json.dumps(options, ensure_ascii=False))
        super().__init__(name, html=f'<script type="application/json" id="{name}_data">{data_json}</script>',
                         script=f"var {name} = gisplanLayer('{name}_data', {options_json});")
        self._name = "GisplanOverlay"
        self.data_json, self.layer_name, self.kind, self.count = data_json, layer_name, kind, count
        self.class_name = str(options["className"])


class PlanMap:
    """The plan map as the parts of one Leaflet page (:func:`build_map`); :meth:`render` writes the page.

    It replaces the ``folium.Map`` built before: folium took 0.7 s to import (it compiles the Jinja templates of
    all its element classes) and compiled every element's rendered output as a template again, the layers'
    GeoJSON included (166 compiles, 1.6 s of the 永川 map's 2.85 s, cProfile). The page is the one folium wrote,
    and nothing in it is ever evaluated as a template. Element ids are numbered, so the same layers give the
    same page.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self._parts: list[Part] = []
        self._children: dict[str, Part] = {}  # the overlays by name, for checks (as folium's children were)
        self._count = 0
        self.options = options
        self._name = "Map"
        self.name = self.new_name("map")

    def new_name(self, kind: str) -> str:
        """A name for the next element: ``<kind>_`` and 32 hex digits, numbered in order."""
        self._count += 1
        return f"{kind}_{self._count:032x}"

    def get_name(self) -> str:
        """The map's id and JavaScript variable."""
        return self.name

    def get_root(self) -> PlanMap:
        """The page (the map itself)."""
        return self

    def add_child(self, part: Part) -> PlanMap:
        """Add an element to the page, after those added before."""
        self._parts.append(part)
        self._children[part.name] = part
        return self

    def render(self) -> str:
        """The page, its scripts and stylesheets as links (:func:`render_map_html` inlines them)."""
        head, linked = [], set()
        for part in self._parts:  # each part's new links, then its own head markup
            links = [(k, f'<script src="{url}"></script>') for k, url in part.js]
            links += [(k, f'<link rel="stylesheet" href="{url}"/>') for k, url in part.css]
            head += [link for k, link in links if k not in linked]
            linked |= {k for k, _ in links}
            head += [part.header] if part.header else []
        body = [f'<div class="folium-map" id="{self.name}" ></div>', *(p.html for p in self._parts if p.html)]
        options = html_safe_json(json.dumps(self.options, ensure_ascii=False))
        code = [f'var {self.name} = L.map("{self.name}", {{crs: L.CRS.EPSG3857, ...{options}}});',
                  *(p.script for p in self._parts if p.script)]
        indent = "\n    "
        return ('<!DOCTYPE html>\n<html>\n<head>\n    <meta http-equiv="content-type" content="text/html; '
                f'charset=UTF-8" />{indent}{indent.join(head)}\n</head>\n<body>{indent}{indent.join(body)}\n'
                "</body>\n<script>\n" + "\n".join(code) + "\n</script>\n</html>")


#: the page's own layout: the map fills the window (as folium laid it out)
MAP_STYLE = """<meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0,
        user-scalable=no" />
    <style>
        html, body {{ width: 100%; height: 100%; margin: 0; padding: 0; }}
        #{name} {{ position: relative; width: 100.0%; height: 100.0%; left: 0.0%; top: 0.0%; }}
        .leaflet-container {{ font-size: 1rem; }}
    </style>"""


def block(fmap: PlanMap, markup: str, where: str = "html") -> Part:
    """An element whose markup goes into the page body or head (user names in it already escaped with
    :func:`gisplan.outputs.mapstyle.esc`)."""
    name = fmap.new_name("block")
    return Part(name, header=markup) if where == "header" else Part(name, html=markup)


def script(fmap: PlanMap, code: str, js: tuple[tuple[str, str], ...] = (),
            css: tuple[tuple[str, str], ...] = ()) -> Part:
    """A script element (``code`` is ours, never user data), registering the libraries it needs."""
    return Part(fmap.new_name("script"), script=code, js=js, css=css)
