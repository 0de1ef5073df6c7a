"""DXF for CAD (ezdxf): one CAD layer per facility type and per other layer, points as blocks with ``NAME``/``CODE``
attributes, polygons as closed polylines, lines as polylines, in metres of a projected CRS, text in a CJK font.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseMultipartGeometry

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

__all__ = ["CJK_TEXT_STYLE", "DxfLayer", "dxf_layer_name", "write_dxf"]

logger = logging.getLogger(__name__)

CJK_TEXT_STYLE = "GISPLAN_CJK"
"""The text style of every label and attribute: TrueType 宋体 (``simsun.ttc``), which every Chinese Windows/CAD has."""
_MARKER_RADIUS_M = 5.0
_TEXT_HEIGHT_M = 5.0
_BAD_LAYER_CHARS = str.maketrans({c: "_" for c in '<>/\\":;?*|=`,'})


@dataclass(frozen=True, slots=True)
class DxfLayer:
    """One CAD layer: its name, the (ASCII) name of its point block, its features (projected, metres), its
    colour and, for points, the ``NAME`` of each feature and the column that fills the block's ``CODE``."""

    name: str
    block: str
    frame: gpd.GeoDataFrame
    colour: str
    names: list[str]
    code_column: str | None


def dxf_layer_name(text: str) -> str:
    """A CAD layer name: the characters DXF forbids (``<>/\\":;?*|=`,``) replaced by ``_``.

    >>> dxf_layer_name("养老机构 elderly_institution")
    '养老机构 elderly_institution'
    >>> dxf_layer_name("a/b:c")
    'a_b_c'
    """
    return text.translate(_BAD_LAYER_CHARS)[:255]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _value(row: pd.Series, column: str | None) -> str:
    if column is None:
        return ""
    value = row.get(column)
    return "" if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)


def _block(doc: Any, layer: DxfLayer) -> str:
    # ASCII: GDAL's DXF reader does not decode a block name from the code page (GDAL 3.12)
    name = "GP_" + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in layer.block)[:250]
    block = doc.blocks.new(name=name)
    block.add_point((0, 0))
    block.add_circle((0, 0), radius=_MARKER_RADIUS_M)
    for tag, dy in (("NAME", 1.0), ("CODE", -2.0)):
        block.add_attdef(tag, (_MARKER_RADIUS_M * 1.2, dy * _TEXT_HEIGHT_M / 2),
                         dxfattribs={"height": _TEXT_HEIGHT_M, "style": CJK_TEXT_STYLE})
    return name


def _add_geometry(msp: Any, geom: BaseGeometry, attribs: dict[str, Any], *, block: str, row: pd.Series,
                  layer: DxfLayer, name: str) -> None:
    if isinstance(geom, Point):
        ref = msp.add_blockref(block, (geom.x, geom.y), dxfattribs=attribs)
        ref.add_auto_attribs({"NAME": name, "CODE": _value(row, layer.code_column)})
    elif isinstance(geom, LineString):
        msp.add_lwpolyline(list(geom.coords), format="xy", dxfattribs=attribs)
    elif isinstance(geom, Polygon):
        for ring in (geom.exterior, *geom.interiors):
            msp.add_lwpolyline(list(ring.coords)[:-1], format="xy", close=True, dxfattribs=attribs)
    elif isinstance(geom, BaseMultipartGeometry):
        for part in geom.geoms:
            _add_geometry(msp, part, attribs, block=block, row=row, layer=layer, name=name)


def write_dxf(layers: Sequence[DxfLayer], path: Path, *, crs_name: str) -> None:
    """Write `layers` to a DXF R2004 file in metres, with the CRS's name as the drawing's ``$PROJECTNAME``.

    Text is in code page ANSI_936 (GBK), as Chinese AutoCAD writes it; characters GBK lacks are written as
    ``\\U+XXXX`` escapes, which CAD shows. Not R2010: its text is UTF-8 but ezdxf declares ANSI_1252, and GDAL's reader
    then garbles every Chinese layer name (checked with GDAL 3.12)."""
    from ezdxf import colors, units  # noqa: PLC0415 - only needed for DXF output
    from ezdxf.document import Drawing  # noqa: PLC0415

    doc = Drawing.new("R2004")
    doc.encoding = "gbk"  # $DWGCODEPAGE ANSI_936
    doc.units = units.M
    doc.header["$MEASUREMENT"] = 1
    doc.styles.add(CJK_TEXT_STYLE, font="simsun.ttc")
    doc.header["$PROJECTNAME"] = crs_name[:255]
    msp = doc.modelspace()
    for layer in layers:
        cad = doc.layers.add(layer.name)
        cad.rgb = _rgb(layer.colour)
        attribs = {"layer": layer.name, "true_color": colors.rgb2int(_rgb(layer.colour))}
        block = _block(doc, layer) if (layer.frame.geom_type.isin(["Point", "MultiPoint"])).any() else ""
        for geom, (_, row), name in zip(layer.frame.geometry, layer.frame.iterrows(), layer.names, strict=True):
            if geom is None or geom.is_empty:
                continue
            _add_geometry(msp, geom, attribs, block=block, row=row, layer=layer, name=name)
    doc.saveas(path)
    logger.info("write_dxf: %d layers to %s (%s)", len(layers), path, crs_name)
