"""The hashes of workspace layers that history records: one uint64 per row over its attributes and geometry
(:func:`row_hashes`, vectorised with pandas' own row hashing), and a layer's hash (:func:`layer_hash`) over its
schema and every row in its position — ``h2:`` + a schema digest + two position-mixed 64-bit sums, so that an edit of
one row updates it from that row's old and new hash alone (:func:`rehashed`). :func:`hash_matches` still recognises
the hashes recorded before (:func:`legacy_layer_hash`, a SHA-256 over the row hashes in order).
"""

from __future__ import annotations

import binascii
import hashlib
import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "comparable_schema",
    "frame_schema",
    "frame_wkb",
    "geometry_name",
    "hash_matches",
    "hash_with_rows",
    "layer_hash",
    "legacy_layer_hash",
    "rehashed",
    "row_hashes",
    "schema_digest",
]

_NONE = type(None)


def geometry_name(frame: pd.DataFrame) -> str | None:
    """The active geometry column's name; None without one (or when the frame has lost that column)."""
    name = getattr(frame, "_geometry_column_name", None)
    if not isinstance(frame, gpd.GeoDataFrame) or name is None or name not in frame.columns:
        return None
    return str(frame.geometry.name)


def frame_wkb(frame: pd.DataFrame) -> np.ndarray:
    """The geometry of each row as WKB bytes (None where missing), or all None without geometry."""
    geom = geometry_name(frame)
    if geom is None:
        return np.full(len(frame), None, dtype=object)
    values = frame.geometry.to_numpy()
    return np.asarray(shapely.to_wkb(values, include_srid=False), dtype=object)


def frame_schema(frame: pd.DataFrame) -> dict[str, Any]:
    geom = geometry_name(frame)
    crs = frame.crs.to_wkt() if geom and frame.crs is not None else None
    return {"columns": [str(c) for c in frame.columns], "dtypes": [str(d) for d in frame.dtypes],
            "geometry": geom, "crs": crs}


def comparable_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    return {**schema, "dtypes": ["object" if d == "str" else d for d in schema["dtypes"]]}


def row_hashes(frame: pd.DataFrame, wkb: np.ndarray | None = None) -> np.ndarray:
    """One uint64 per row over every attribute and the geometry (vectorised); text columns hash by value
    whatever their dtype (str or object), so rows match across revisions. `wkb` is :func:`frame_wkb` of `frame` where
    the caller has it already."""
    geom = geometry_name(frame)
    # the columns' arrays straight from the frame (no GeoDataFrame drop or copy: a one-row edit hashes two rows, and
    # pandas' per-call overhead, not the rows, is then the cost); text as object either way: hashing pandas'
    # arrow strings is several times slower (the schema, which layer_hash adds, still tells str from object)
    columns: list[np.ndarray] = []
    for i, column in enumerate(frame.columns):
        if column == geom:
            continue
        series = frame.iloc[:, i]
        if series.dtype == object or str(series.dtype) == "str":
            plain = series.to_numpy(dtype=object, copy=True)
            missing = np.asarray(pd.isna(plain), dtype=bool)
            plain[missing] = None
            if str(series.dtype) == "str":  # text or missing in every row: no need to look at each value's type
                columns.append(_text_hashes(plain, missing))
                continue
            series = pd.Series(plain, dtype=object)
        columns.append(_column_hashes(series))
    wkb = frame_wkb(frame) if wkb is None else wkb
    # pd.util.hash_pandas_object of the attributes plus the geometry as one frame, column by column
    columns.append(_wkb_hashes(np.asarray(wkb, dtype=object)))
    return _combine_hashes(columns)


def _wkb_hashes(wkb: np.ndarray) -> np.ndarray:
    """The hashes of the geometry as hex text, as :func:`_column_hashes` gives them for a column of ``bytes.hex`` of
    each WKB (None where missing), which fixed their values: pandas hashes text as its UTF-8 bytes and bytes as
    they are, so the ASCII bytes of ``binascii.hexlify`` hash the same without a str per row and its encoding
    (a city's 293,467 roads: 0.25 s of CPU less)."""
    missing = np.asarray(pd.isna(wkb), dtype=bool)
    hexed = np.full(len(wkb), None, dtype=object)
    hexed[~missing] = list(map(binascii.hexlify, wkb[~missing]))  # C-level map, no lambda
    return _text_hashes(hexed, missing)


def _text_hashes(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """:func:`_column_hashes` of a column of text (str or bytes) whose `missing` rows hold None."""
    hashed = pd.util.hash_array(values, categorize=False)
    return np.where(missing, np.iinfo(np.uint64).max, hashed)


def _column_hashes(series: pd.Series) -> np.ndarray:
    """``pd.util.hash_pandas_object(series, index=False)``; a text column (str or None only, nearly all unique)
    without first factorising it, which gives the same hashes but for missing values, set as factorising sets
    them."""
    if series.dtype == object:
        values = series.to_numpy()
        if set(map(type, values)) <= {str, _NONE}:
            return _text_hashes(values, np.asarray(pd.isna(values), dtype=bool))
    exact: np.ndarray = pd.util.hash_pandas_object(series, index=False).to_numpy(dtype=np.uint64)
    return exact


def _combine_hashes(columns: list[np.ndarray]) -> np.ndarray:
    """Row hashes from column hashes, as ``pd.util.hash_pandas_object`` combines a frame's columns (CPython's
    tuple hash)."""
    mult = np.uint64(1000003)
    out = np.full(len(columns[0]), 0x345678, dtype=np.uint64)
    for i, column in enumerate(columns):
        inverse = len(columns) - i
        out ^= column
        out *= mult
        mult += np.uint64(82520 + inverse + inverse)
    out += np.uint64(97531)
    return out


def layer_hash(frame: pd.DataFrame | None) -> str | None:
    """A hash of a layer's schema and every row in its position (None for an absent layer).

    Two layers with the same hash have the same columns, dtypes, CRS, values, geometries and row order. The hash is
    ``h2:`` + a digest of the schema + two 64-bit sums over the rows of a mix of each row's hash with its position,
    so that an edit of one row in place updates it from that row's old and new hash alone (:func:`row_edit_change`)
    instead of hashing the whole layer again. Hashes recorded before (a SHA-256 over the row hashes in order) are
    still recognised by :func:`hash_matches`.

    Examples
    --------
    >>> a = pd.DataFrame({"code12": ["1", "2"], "n": [1, 2]})
    >>> layer_hash(a) == layer_hash(a.copy()), layer_hash(a) == layer_hash(a.iloc[::-1])
    (True, False)
    """
    if frame is None:
        return None
    return hash_with_rows(frame, row_hashes(frame))


def hash_matches(frame: pd.DataFrame | None, recorded: str | None) -> bool:
    """Whether `frame` has the hash `recorded` in history, whichever form that hash was recorded in."""
    if frame is None or recorded is None:
        return frame is None and recorded is None
    if recorded.startswith(_HASH_PREFIX):
        return layer_hash(frame) == recorded
    return legacy_layer_hash(frame, row_hashes(frame)) == recorded


_HASH_PREFIX = "h2:"
_MASK64 = (1 << 64) - 1
_LANE_SALTS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03))


def _fmix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wraps modulo 2**64)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def _lane_sums(row_hashes: np.ndarray, positions: np.ndarray) -> tuple[int, int]:
    """Per lane, the sum modulo 2**64 of each row's hash mixed with its position."""
    hashes = np.asarray(row_hashes, dtype=np.uint64)
    spots = np.asarray(positions, dtype=np.uint64)
    return tuple(int(_fmix(hashes ^ _fmix(spots + salt)).sum(dtype=np.uint64)) for salt in _LANE_SALTS)  # type: ignore[return-value]


def schema_digest(frame: pd.DataFrame, schema: dict[str, Any] | None = None) -> str:
    """A digest of the frame's schema (`schema`, where already known: it reads the CRS as WKT, not free)."""
    described = frame_schema(frame) if schema is None else schema
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def _format_hash(digest: str, sums: tuple[int, int]) -> str:
    return f"{_HASH_PREFIX}{digest}:{sums[0]:016x}{sums[1]:016x}"


def hash_with_rows(frame: pd.DataFrame, hashes: np.ndarray) -> str:
    """The layer hash of `frame` from its row hashes (:func:`row_hashes`, where the caller has them already)."""
    return _format_hash(schema_digest(frame), _lane_sums(hashes, np.arange(len(hashes))))


def rehashed(recorded: str | None, current_digest: str, position: int, old: int, new: int) -> str | None:
    """The layer hash after the row at `position` went from hash `old` to `new`, from the hash before (None when
    `recorded` is not of this form or of another schema)."""
    if recorded is None or not recorded.startswith(_HASH_PREFIX):
        return None
    digest, _, sums = recorded[len(_HASH_PREFIX):].partition(":")
    if digest != current_digest or len(sums) != 32:
        return None
    at = np.array([position])
    removed = _lane_sums(np.array([old], dtype=np.uint64), at)
    added = _lane_sums(np.array([new], dtype=np.uint64), at)
    lanes = (int(sums[:16], 16), int(sums[16:], 16))
    return _format_hash(digest, tuple((s - r + a) & _MASK64 for s, r, a in zip(lanes, removed, added, strict=True)))  # type: ignore[arg-type]


def legacy_layer_hash(frame: pd.DataFrame, row_hashes: np.ndarray) -> str:
    """The layer hash as first recorded: a SHA-256 of the schema and every row hash in order."""
    digest = hashlib.sha256(json.dumps(frame_schema(frame), sort_keys=True).encode())
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()
