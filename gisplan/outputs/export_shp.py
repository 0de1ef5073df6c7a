"""What a Shapefile can hold: field names of at most 10 bytes in the ``.dbf``'s encoding (mapped predictably),
text of at most 254 bytes, characters the encoding has, one geometry kind per file, under 2 GB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.errors import Problem, SchemaError
from gisplan.i18n import _

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["DBF_NAME_BYTES", "DBF_TEXT_BYTES", "SHP_MAX_BYTES", "check_shapefile", "shapefile_field_names"]

DBF_NAME_BYTES = 10
"""A dBASE field name holds 10 bytes: 5 Chinese characters in GBK, 3 in UTF-8."""
DBF_TEXT_BYTES = 254
"""A dBASE text field holds 254 bytes."""
SHP_MAX_BYTES = 2**31 - 1
"""Neither the ``.shp`` nor the ``.dbf`` may pass 2 GB (32-bit offsets)."""
_GEOMETRY_KINDS = {"Point": "point", "MultiPoint": "point", "LineString": "line", "MultiLineString": "line",
                   "Polygon": "polygon", "MultiPolygon": "polygon"}
_FIX_GPKG = "export this layer as GeoPackage (`--format gpkg`), which has no such limit."


def _fit(name: str, limit: int, encoding: str) -> str:
    """The longest prefix of `name` (whole characters) of at most `limit` bytes in `encoding`."""
    out = ""
    for ch in name:
        if len((out + ch).encode(encoding)) > limit:
            break
        out += ch
    return out


def shapefile_field_names(columns: list[str], *, encoding: str) -> dict[str, str]:
    """Map column names to ``.dbf`` field names of at most 10 bytes in `encoding`, predictably: a name that
    fits is kept; a longer one is cut to the bytes that fit; a cut name that repeats an earlier one ends in
    ``_2``, ``_3`` … (cut further to make room). Characters `encoding` lacks are replaced by ``_``.

    Examples
    --------
    >>> shapefile_field_names(["share_elderly_day_care", "share_elderly_institution", "name"], encoding="gbk")
    {'share_elderly_day_care': 'share_elde', 'share_elderly_institution': 'share_el_2', 'name': 'name'}
    >>> shapefile_field_names(["护理型床位数"], encoding="gbk")
    {'护理型床位数': '护理型床位'}
    >>> shapefile_field_names(["护理型床位数"], encoding="utf-8")
    {'护理型床位数': '护理型'}
    """
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        clean = column.encode(encoding, errors="replace").decode(encoding).replace("?", "_") or "field"
        base = _fit(clean, DBF_NAME_BYTES, encoding)
        name, n = base, 1
        while name.lower() in used:
            n += 1
            suffix = f"_{n}"
            name = _fit(clean, DBF_NAME_BYTES - len(suffix), encoding) + suffix
        used.add(name.lower())
        mapping[column] = name
    return mapping


def _text_problems(frame: pd.DataFrame, layer: str, encoding: str, row_offset: int) -> list[Problem]:
    problems: list[Problem] = []
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object and not isinstance(series.dtype, pd.StringDtype):
            continue
        for i, value in enumerate(series):
            if not isinstance(value, str):
                continue
            try:
                size = len(value.encode(encoding))
            except UnicodeEncodeError as exc:
                bad = value[exc.start:exc.end]
                problems.append(Problem(layer, i + row_offset, str(column),
                                        _("{bad!r} cannot be written in {encoding}.").format(
                                          bad=bad, encoding=encoding.upper()),
                                        "export with `--encoding utf-8`, or as GeoPackage (`--format gpkg`)."))
                continue
            if size > DBF_TEXT_BYTES:
                problems.append(Problem(layer, i + row_offset, str(column),
                                        _("text of {size} bytes in {encoding}; a Shapefile holds {limit}.").format(
                                          size=size, encoding=encoding.upper(), limit=DBF_TEXT_BYTES), _FIX_GPKG))
    return problems


def _estimated_bytes(frame: gpd.GeoDataFrame) -> tuple[int, int]:
    """Rough sizes of the ``.shp`` (16 bytes a vertex plus record headers) and the ``.dbf`` (row × widths)."""
    vertices = int(np.asarray(frame.geometry.count_coordinates()).sum()) if len(frame) else 0
    shp = 100 + 16 * vertices + 56 * len(frame)
    widths = 0
    for column in (c for c in frame.columns if c != frame.geometry.name):
        series = frame[column]
        widths += max(1, min(DBF_TEXT_BYTES, int(series.astype(str).str.len().max() or 1) * 2)) if len(series) else 1
    return shp, 32 + len(frame) * (widths + 1)


def check_shapefile(frame: gpd.GeoDataFrame, *, layer: str, encoding: str, row_offset: int = 1) -> None:
    """Refuse what a Shapefile cannot hold, listing every problem: mixed geometry kinds, text longer than 254
    bytes or with characters `encoding` lacks, and files over 2 GB. Rows are numbered from `row_offset` (1:
    the first feature, as QGIS's attribute table shows it).

    Raises
    ------
    SchemaError
        With one problem per offending cell (and one for the geometry kinds or the size).
    """
    problems: list[Problem] = []
    kinds = {_GEOMETRY_KINDS.get(t, t) for t in frame.geometry.geom_type.dropna().unique()}
    if len(kinds) > 1:
        problems.append(Problem(layer, None, "geometry",
                                _("mixes {kinds}; a Shapefile holds one kind of geometry.").format(
                                    kinds=", ".join(sorted(kinds))), _FIX_GPKG))
    problems += _text_problems(frame.drop(columns=frame.geometry.name), layer, encoding, row_offset)
    shp, dbf = _estimated_bytes(frame)
    if max(shp, dbf) > SHP_MAX_BYTES:
        problems.append(Problem(layer, None, None, _("would need about {gb:.1f} GB; a Shapefile's .shp and .dbf "
                                                     "hold 2 GB each.").format(gb=max(shp, dbf) / 2**30), _FIX_GPKG))
    if problems:
        raise SchemaError(problems)
