"""Pandas columns ⇄ PostgreSQL values for the PostGIS workspace (no SQL here: that stays in ``postgis.py``):
the PostgreSQL type a column is stored as and the pandas dtype it reads back as, values as Python objects for
the driver, and the columns restored on reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["GEOMETRY", "RESERVED", "check_columns", "pg_type", "python_scalar", "python_values", "restore",
           "split_geometry"]

#: The bookkeeping columns in front of every layer table, and the geometry column.
RESERVED = frozenset({"gisplan_fid", "gisplan_version", "gisplan_changed_by", "gisplan_changed_at"})
GEOMETRY = "geometry"
_TEXT_DTYPE = str(pd.Series(["文本"]).dtype)  # "str" with pandas 3, "object" before
_IDENTIFIER_BYTES = 63  # PostgreSQL truncates longer names silently: refuse them instead


def split_geometry(data: pd.DataFrame) -> tuple[pd.DataFrame, gpd.GeoSeries | None, int]:
    """Attributes, geometry (or None) and its SRID (0 when the CRS has no EPSG code)."""
    if isinstance(data, gpd.GeoDataFrame) and data._geometry_column_name in data:
        geometry = data.geometry
        epsg = data.crs.to_epsg() if data.crs is not None else None
        return pd.DataFrame(data.drop(columns=data._geometry_column_name)), geometry, int(epsg or 0)
    return pd.DataFrame(data), None, 0


def check_columns(columns: Sequence[str], *, spatial: bool) -> None:
    for column in columns:
        if column in RESERVED or (spatial and column == GEOMETRY):
            msg = _("column {column!r} is reserved for gisplan's own bookkeeping; rename it.").format(column=column)
            raise ValueError(msg)
        if len(column.encode()) > _IDENTIFIER_BYTES:
            msg = _("column {column!r} is longer than PostgreSQL's {limit} bytes; shorten it.").format(
                    column=column, limit=_IDENTIFIER_BYTES)
            raise ValueError(msg)
        if "\x00" in column:
            msg = _("column {column!r} holds a NUL character; rename it.").format(column=column)
            raise ValueError(msg)


def pg_type(series: pd.Series, column: str) -> tuple[str, str]:  # noqa: PLR0911
    """The PostgreSQL type a column is stored as, and the pandas dtype it reads back as."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.CategoricalDtype):
        return pg_type(series.astype(object), column)
    if kind == "b":
        return "boolean", str(dtype)
    if kind in {"i", "u"}:
        return ("numeric(20, 0)" if str(dtype).lower() in {"uint64", "uint"} else "bigint"), str(dtype)
    if kind == "f":
        return "double precision", str(dtype)
    if kind == "M":
        return ("timestamptz" if getattr(dtype, "tz", None) is not None else "timestamp"), str(dtype)
    if kind in {"O", "U", "S"} or isinstance(dtype, pd.StringDtype):
        kinds = {type(v) for v in series.dropna()}
        if kinds <= {str}:  # read back as a GeoPackage reads text: pandas' default string dtype
            return "text", _TEXT_DTYPE
        if kinds == {bool}:
            return "boolean", "boolean"
        if kinds == {bytes}:
            return "bytea", str(dtype)
        msg = _("column {column!r} holds values of type {kinds}; give text, numbers, booleans or dates.").format(
                column=column, kinds=', '.join(sorted(k.__name__ for k in kinds)))
        raise TypeError(msg)
    msg = _("column {column!r} has dtype {dtype}, which a PostGIS workspace cannot store; convert it first.").format(
            column=column, dtype=dtype)
    raise TypeError(msg)


def python_values(series: pd.Series) -> list[Any]:
    """The column's values as Python objects, missing values as None."""
    values = series.astype(object).to_numpy(copy=True)
    values[pd.isna(series).to_numpy()] = None
    out: list[Any] = values.tolist()
    kind = getattr(series.dtype, "kind", "O")
    if kind == "M":
        return [None if v is None else pd.Timestamp(v).to_pydatetime() for v in out]
    if kind == "u":
        return [None if v is None else int(v) for v in out]
    return out


def python_scalar(value: Any) -> Any:
    if value is None or (np.ndim(value) == 0 and not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def restore(column: pd.Series, dtype: str) -> pd.Series:
    """A column read from the database, as the dtype it was written with."""
    if dtype == "object":
        return column.astype(object).where(column.notna(), None)
    target = pd.api.types.pandas_dtype(dtype)
    source = pd.to_datetime(column) if dtype.startswith("datetime64") else column
    try:
        restored: pd.Series = source.astype(target)
    except (TypeError, ValueError):  # e.g. an int column that gained a NULL through an edit
        return column
    return restored
