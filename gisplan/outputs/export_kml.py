"""KMZ for Google Earth, 奥维互动地图 and phone apps: one folder per layer, Chinese names and description tables,
markers in each facility type's map colour, coordinates in WGS84 as KML requires (or GCJ-02 for apps that want it).
"""

from __future__ import annotations

import html
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import pandas as pd
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseMultipartGeometry

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

__all__ = ["KmlLayer", "kml_colour", "write_kmz"]

KML_NS = "http://www.opengis.net/kml/2.2"
_ICON_PX = 32


@dataclass(frozen=True, slots=True)
class KmlLayer:
    """One folder of the KMZ: its title, features (EPSG:4326 or GCJ-02 lon/lat), the field labels of the
    description table, and per row its name and style key (facility type); and the colour of each style key."""

    title: str
    frame: gpd.GeoDataFrame
    labels: dict[str, str]
    names: list[str]
    style_keys: list[str]
    colours: dict[str, str]


def kml_colour(rgb: str, alpha: int = 255) -> str:
    """KML's ``aabbggrr`` of a ``#rrggbb`` colour.

    >>> kml_colour("#e53935", 0x66)
    '663539e5'
    """
    r, g, b = rgb[1:3], rgb[3:5], rgb[5:7]
    return f"{alpha:02x}{b}{g}{r}".lower()


def _icon_png(rgb: str) -> bytes:
    """A filled circle with a white ring, ``_ICON_PX`` pixels square, as PNG (no imaging library needed)."""
    r, g, b = (int(rgb[i:i + 2], 16) for i in (1, 3, 5))
    size, centre = _ICON_PX, (_ICON_PX - 1) / 2
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        for x in range(size):
            d = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            if d <= centre - 3:
                rows += bytes((r, g, b, 255))
            elif d <= centre:
                rows += bytes((255, 255, 255, 255))
            else:
                rows += bytes((0, 0, 0, 0))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(
        b"IEND", b"")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def _text(value: Any) -> str:
    """A value as shown in the description table (— for none, numbers rounded to 6 decimals)."""
    if _missing(value):
        return "—"
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value)


def _data(value: Any) -> str:
    """A value as stored in ExtendedData, for apps that read it: empty for none, numbers in full."""
    return "" if _missing(value) else str(value)


def _coords(xs: Sequence[tuple[float, ...]]) -> str:
    return " ".join(f"{c[0]!r},{c[1]!r}" for c in xs)  # repr: the full double, so a reader gets the same numbers


def _geometry(parent: ET.Element, geom: BaseGeometry) -> None:
    if isinstance(geom, Point):
        ET.SubElement(ET.SubElement(parent, "Point"), "coordinates").text = _coords(list(geom.coords))
    elif isinstance(geom, LineString):
        ET.SubElement(ET.SubElement(parent, "LineString"), "coordinates").text = _coords(list(geom.coords))
    elif isinstance(geom, Polygon):
        poly = ET.SubElement(parent, "Polygon")
        for tag, rings in (("outerBoundaryIs", [geom.exterior]), ("innerBoundaryIs", list(geom.interiors))):
            for ring in rings:
                linear = ET.SubElement(ET.SubElement(poly, tag), "LinearRing")
                ET.SubElement(linear, "coordinates").text = _coords(list(ring.coords))
    elif isinstance(geom, BaseMultipartGeometry):
        multi = ET.SubElement(parent, "MultiGeometry")
        for part in geom.geoms:
            _geometry(multi, part)


def _style(doc: ET.Element, key: str, rgb: str) -> None:
    style = ET.SubElement(doc, "Style", id=f"s_{key}")
    icon_style = ET.SubElement(style, "IconStyle")
    ET.SubElement(ET.SubElement(icon_style, "Icon"), "href").text = f"files/{key}.png"
    ET.SubElement(ET.SubElement(style, "LabelStyle"), "scale").text = "0.8"
    line = ET.SubElement(style, "LineStyle")
    ET.SubElement(line, "color").text = kml_colour(rgb)
    ET.SubElement(line, "width").text = "2"
    ET.SubElement(ET.SubElement(style, "PolyStyle"), "color").text = kml_colour(rgb, 0x55)


def _description(row: pd.Series, labels: dict[str, str], title: str) -> str:
    cells = "".join(f"<tr><th>{html.escape(labels.get(str(k), str(k)))}</th><td>{html.escape(_text(v))}</td></tr>"
                    for k, v in row.items())
    return f'<table border="1" cellpadding="2"><caption>{html.escape(title)}</caption>{cells}</table>'


def _folder(doc: ET.Element, layer: KmlLayer) -> None:
    folder = ET.SubElement(doc, "Folder")
    ET.SubElement(folder, "name").text = layer.title
    attributes = layer.frame.drop(columns=layer.frame.geometry.name)
    for geom, (_, row), name, key in zip(layer.frame.geometry, attributes.iterrows(), layer.names, layer.style_keys,
                                         strict=True):
        if geom is None or geom.is_empty:
            continue
        mark = ET.SubElement(folder, "Placemark")
        ET.SubElement(mark, "name").text = name
        ET.SubElement(mark, "styleUrl").text = f"#s_{key}"
        ET.SubElement(mark, "description").text = _description(row, layer.labels, layer.title)
        data = ET.SubElement(mark, "ExtendedData")
        for k, v in row.items():
            item = ET.SubElement(data, "Data", name=str(k))
            ET.SubElement(item, "displayName").text = layer.labels.get(str(k), str(k))
            ET.SubElement(item, "value").text = _data(v)
        _geometry(mark, geom)


def write_kmz(layers: Sequence[KmlLayer], path: Path, *, title: str) -> None:
    """Write `layers` as one KMZ (``doc.kml`` and one icon PNG per style) at `path`. Text is escaped by the XML
    writer, and the description tables' values by :func:`html.escape` as well, so a name like ``<img …>``
    shows as text in the balloon."""
    kml = ET.Element("kml", xmlns=KML_NS)
    doc = ET.SubElement(kml, "Document")
    ET.SubElement(doc, "name").text = title
    colours: dict[str, str] = {}
    for layer in layers:
        colours.update(layer.colours)
    for key, rgb in sorted(colours.items()):
        _style(doc, key, rgb)
    for layer in layers:
        _folder(doc, layer)
    body = ET.tostring(kml, encoding="utf-8", xml_declaration=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("doc.kml", body)  # KMZ readers open the first .kml entry
        for key, rgb in sorted(colours.items()):
            kmz.writestr(f"files/{key}.png", _icon_png(rgb))
