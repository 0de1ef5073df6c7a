"""Row-level history of workspace layers: what one revision changed in one layer, and how to take it back.

Every commit compares each layer it touches before and after (as stored, read back) and records a
:class:`LayerChange`: the layer's schema and metadata row on both sides, a hash of its full contents on both
sides, and one :class:`RowChange` per inserted, updated or deleted row, with the row's attributes (JSON) and
geometry (WKB) before and after. Rows are matched by a stable key: the first of :data:`KEY_COLUMNS` that is
unique and filled on both sides (``code12`` for divisions, ``facility_id`` for ledgers, ``place_id`` for
place names …), else by content (an edit of a keyless row is then a delete plus an insert).

:func:`undo_change` turns the layer as it was after a revision back into the layer before it, exactly:
the same columns, dtypes, values, geometries and row order. It is pure (no workspace access) so that every
backend shares it; the backends store and fetch the records.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.i18n import _
from gisplan.store.layerhash import (
    comparable_schema,
    frame_schema,
    frame_wkb,
    geometry_name,
    hash_matches,
    hash_with_rows,
    layer_hash,
    rehashed,
    row_hashes,
    schema_digest,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "KEY_COLUMNS",
    "LABEL_COLUMNS",
    "LayerChange",
    "RowChange",
    "created",
    "diff_layer",
    "history_filters",
    "row_edit_change",
    "snapshot_rows",
    "undo_change",
]

#: Columns that identify a row across edits, in order of preference.
KEY_COLUMNS = ("place_id", "application_id", "sign_id", "marker_id", "site_id", "facility_id", "code12", "id",
               "code")
#: Columns whose value names a row in the history (``--name``).
LABEL_COLUMNS = ("name", "standard_name", "proposed_name", "village", "township")

_CONTENT_KEY = "#content"
_NONE = type(None)


class RowChange(NamedTuple):
    """One row inserted, updated or deleted by a revision (a named tuple: a large import makes hundreds of
    thousands, and a tuple is built several times faster than a frozen dataclass).

    Attributes
    ----------
    op : str
        ``insert``, ``update`` or ``delete``.
    key : str
        The row's key (the key column's value, or a content hash).
    label : str or None
        The row's name (first of :data:`LABEL_COLUMNS`), after the change where there is one.
    pos_before : int or None
        0-based position of the row before the change (None for an insert).
    before, after : str or None
        The row's attributes as JSON, before and after (None for an insert / a delete).
    before_geom, after_geom : bytes or None
        The row's geometry as WKB, before and after (None where empty or the layer has none).
    """

    op: str
    key: str
    label: str | None
    pos_before: int | None
    before: str | None
    after: str | None
    before_geom: bytes | None
    after_geom: bytes | None


@dataclass(frozen=True, slots=True)
class LayerChange:
    """What one revision did to one layer (see the module docstring).

    Attributes
    ----------
    layer : str
    key_column : str
        The column rows are matched by, or ``#content``.
    schema_before, schema_after : str or None
        JSON: ``columns``, ``dtypes``, ``geometry`` (column name or None) and ``crs``; None where the layer
        did not exist (before a create, after a drop).
    meta_before, meta_after : str or None
        The layer's metadata row as JSON (see :data:`gisplan.store.META_COLUMNS`).
    hash_before, hash_after : str or None
        :func:`layer_hash` of the layer's contents.
    order_before : str or None
        JSON list of every key in the order before, stored only when the edit reordered unchanged rows.
    rows : tuple of RowChange
    created : int or None
        For a layer's creation recorded as one snapshot (:func:`diff_layer` with ``snapshot=True``): the number of
        rows it created, whose insert records are not stored but rebuilt from the layer as it was right after the
        revision (:func:`snapshot_rows`); None for a change with its row records.
    """

    layer: str
    key_column: str
    schema_before: str | None
    schema_after: str | None
    meta_before: str | None
    meta_after: str | None
    hash_before: str | None
    hash_after: str | None
    order_before: str | None
    rows: tuple[RowChange, ...]
    created: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Rows inserted, updated and deleted."""
        if self.created is not None:
            return {"insert": self.created, "update": 0, "delete": 0}
        ops = [r.op for r in self.rows]
        return {op: ops.count(op) for op in ("insert", "update", "delete")}


# ------------------------------------------------------------------------------------------------ hashing


def history_filters(*, layer: str | None, unit: str | None, name: str | None, param: str,
                    contains: str) -> tuple[list[str], list[str]]:
    """The WHERE clauses and their bound values of a row-history query, for both backends: `param` is the
    driver's placeholder (``?`` or ``%s``) and `contains` its function finding text in text (``instr`` or
    ``strpos``). The clauses hold no user text: every value is a bound parameter."""
    def found(column: str) -> str:
        return f"{contains}(coalesce({column}, ''), {param}) > 0"

    clauses: list[str] = []
    params: list[str] = []
    if layer is not None:
        clauses.append(f"h.layer = {param}")
        params.append(layer)
    if unit is not None:
        clauses.append(f"(h.key = {param} OR {found('h.before')} OR {found('h.after')})")
        params += [unit, f'"{unit}"', f'"{unit}"']
    if name is not None:
        clauses.append(f"({found('h.label')} OR {found('h.before')} OR {found('h.after')})")
        params += [name, name, name]
    return clauses, params


# ------------------------------------------------------------------------------------------- row values


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def _json_values(values: list[Any]) -> np.ndarray:
    """Each value as the JSON text ``json.dumps(…, ensure_ascii=False, default=_json_default)`` gives it inside an
    object, built per column: text, whole numbers, floats and booleans through the json module's own C encoders
    mapped over the column; any other column value by value."""
    kinds = set(map(type, values))
    out = np.full(len(values), "null", dtype=object)
    if not kinds - {_NONE}:
        return out
    if not kinds <= {str, _NONE} and not kinds <= {int, _NONE} and not kinds <= {bool, _NONE} and \
            not kinds <= {float, _NONE}:
        out[:] = list(map(_ENCODER.encode, values))
        return out
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    present = np.flatnonzero(~pd.isna(arr))  # None only: NaN is None here already (see _records)
    filled = arr[present].tolist()
    if kinds <= {str, _NONE}:
        out[present] = list(map(json.encoder.encode_basestring, filled))
    elif kinds <= {int, _NONE}:
        out[present] = list(map(int.__repr__, filled))
    elif kinds <= {bool, _NONE}:
        out[present] = np.where(np.asarray(filled, dtype=bool), "true", "false")
    else:
        numbers = np.asarray(filled, dtype=np.float64)
        text = np.asarray(list(map(float.__repr__, filled)), dtype=object)
        for special, word in ((np.isnan(numbers), "NaN"), (numbers == np.inf, "Infinity"),
                              (numbers == -np.inf, "-Infinity")):
            text[special] = word
        out[present] = text
    return out


def _records(frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """The attributes of `rows` (positions) as JSON objects (missing values as null): the text
    ``json.dumps(dict(row), ensure_ascii=False, default=_json_default)`` gives, built column by column."""
    geom = geometry_name(frame)
    picked = [(str(c), i) for i, c in enumerate(frame.columns) if c != geom]  # no GeoDataFrame drop: see row_hashes
    if not picked:
        return ["{}"] * len(rows)
    text = np.full(len(rows), "", dtype=object)
    for n, (column, i) in enumerate(picked):  # one vectorised conversion per column, not per cell
        series = frame.iloc[:, i].iloc[rows]
        if series.dtype.kind in "iub":
            values = series.tolist()
        else:
            plain = series.astype(object)
            values = plain.where(plain.notna(), None).tolist()
        head = ("{" if n == 0 else ", ") + json.encoder.encode_basestring(column) + ": "
        text = text + head + _json_values(values)
    out: list[str] = (text + "}").tolist()
    return out


def _restore_column(values: list[Any], dtype_name: str) -> pd.Series:
    dtype: Any = pd.api.types.pandas_dtype(dtype_name) if dtype_name != "str" else "str"
    if dtype_name.startswith("datetime64"):
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")).astype(dtype)
    if dtype_name == "object":
        decoded = [base64.b64decode(v["$b64"]) if isinstance(v, dict) and "$b64" in v else v for v in values]
        return pd.Series(decoded, dtype=object)
    if dtype_name in {"int64", "int32", "int16", "int8", "bool"}:
        exact: pd.Series = pd.Series(values, dtype=dtype)
        return exact
    return pd.Series(pd.Series(values, dtype=object).astype(dtype))


def _frame_from(records: list[str | None], geoms: list[bytes | None], schema: dict[str, Any]) -> pd.DataFrame:
    """Rows stored by :func:`_records` (plus geometry) as a frame of `schema`."""
    geom_name = schema["geometry"]
    attrs = [(c, d) for c, d in zip(schema["columns"], schema["dtypes"], strict=True) if c != geom_name]
    parsed = [json.loads(r) if r is not None else {} for r in records]
    data = {c: _restore_column([p.get(c) for p in parsed], d) for c, d in attrs}
    frame = pd.DataFrame(data, columns=[c for c, _ in attrs])
    if geom_name is None:
        return frame
    geometry = shapely.from_wkb(np.asarray(geoms, dtype=object))
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=schema["crs"]), crs=schema["crs"])
    if geom_name != "geometry":
        gdf = gdf.rename_geometry(geom_name)
    out: pd.DataFrame = gdf[schema["columns"]]
    return out


# ------------------------------------------------------------------------------------------------ diff


def _keys(frame: pd.DataFrame, key_column: str, hashes_of_rows: np.ndarray | None = None) -> pd.Series:
    """Row keys as an object Series (``isin`` on pandas' arrow strings is a Python loop: 5 s for 12k rows)."""
    if key_column != _CONTENT_KEY:
        return pd.Series(frame[key_column].astype(str).to_numpy(dtype=object), dtype=object)
    hashes = pd.Series(row_hashes(frame) if hashes_of_rows is None else hashes_of_rows).map("{:016x}".format)
    keys = hashes + "#" + hashes.groupby(hashes).cumcount().astype(str)
    return pd.Series(keys.to_numpy(dtype=object), dtype=object)


def _usable_key(frame: pd.DataFrame | None, column: str) -> bool:
    if frame is None:
        return True
    if column not in frame.columns:
        return False
    values = frame[column]
    return bool(values.notna().all() and values.astype(str).is_unique)


def _key_column(before: pd.DataFrame | None, after: pd.DataFrame | None) -> str:
    for column in KEY_COLUMNS:
        present = [f for f in (before, after) if f is not None]
        if present and all(column in f.columns for f in present) and all(_usable_key(f, column) for f in present):
            return column
    return _CONTENT_KEY


def _labels(frame: pd.DataFrame) -> pd.Series:
    for column in LABEL_COLUMNS:
        if column in frame.columns:
            return frame[column].astype(object).where(frame[column].notna(), None).reset_index(drop=True)
    return pd.Series([None] * len(frame), dtype=object)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_layer(
    name: str,
    before: pd.DataFrame | None,
    after: pd.DataFrame | None,
    *,
    meta_before: dict[str, Any] | None = None,
    meta_after: dict[str, Any] | None = None,
    snapshot: bool = False,
    wkb_after: np.ndarray | None = None,
) -> LayerChange:
    """Compare a layer before and after a revision (each as read back from the store; None = absent).

    Parameters
    ----------
    name : str
        The layer's name.
    before, after : pandas.DataFrame or geopandas.GeoDataFrame or None
        The layer as stored before and after.
    meta_before, meta_after : dict, optional
        The layer's metadata row on each side.
    snapshot : bool
        Record a creation (`before` None) as one snapshot: no insert record per row (a first import of 293,467
        road links made as many records, a second copy of the layer), only the count (:attr:`LayerChange.created`);
        the store rebuilds those records from the layer when its history is read (:func:`snapshot_rows`). Every
        other change is recorded row by row.
    wkb_after : numpy.ndarray, optional
        :func:`~gisplan.store.layerhash.frame_wkb` of `after`, where the caller has it (the write encoded it).

    Returns
    -------
    LayerChange
        Enough to show what changed and to take it back with :func:`undo_change`.

    Examples
    --------
    >>> a = pd.DataFrame({"code12": ["1", "2"], "name": ["甲", "乙"]})
    >>> b = pd.DataFrame({"code12": ["1", "3"], "name": ["甲村", "丙"]})
    >>> ch = diff_layer("x", a, b)
    >>> ch.key_column, ch.counts
    ('code12', {'insert': 1, 'update': 1, 'delete': 1})
    >>> undo_change(b, ch).equals(a)
    True
    """
    if snapshot and before is None and after is not None:
        return LayerChange(layer=name, key_column=_key_column(None, after), schema_before=None,
                           schema_after=_dumps(frame_schema(after)), meta_before=_dumps(meta_before),
                           meta_after=_dumps(meta_after), hash_before=None,
                           hash_after=hash_with_rows(after, row_hashes(after, wkb_after)),
                           order_before=None, rows=(), created=len(after))
    return _diff(name, before, after, meta_before=meta_before, meta_after=meta_after, wkb_after=wkb_after)


def _wkb_or_none(frame: pd.DataFrame | None) -> np.ndarray:
    return frame_wkb(frame) if frame is not None else np.empty(0, dtype=object)


def _diff(
    name: str, before: pd.DataFrame | None, after: pd.DataFrame | None, *, meta_before: dict[str, Any] | None,
    meta_after: dict[str, Any] | None, wkb_after: np.ndarray | None = None,
) -> LayerChange:
    """:func:`diff_layer` row by row."""
    key_column = _key_column(before, after)
    schema_before = frame_schema(before) if before is not None else None
    schema_after = frame_schema(after) if after is not None else None
    rows: list[RowChange] = []
    order_before = None
    wkb_b, wkb_a = _wkb_or_none(before), (_wkb_or_none(after) if wkb_after is None else wkb_after)  # once each
    rh_b = row_hashes(before, wkb_b) if before is not None else None
    rh_a = row_hashes(after, wkb_a) if after is not None else None
    kb = _keys(before, key_column, rh_b) if before is not None else pd.Series([], dtype=object)
    ka = _keys(after, key_column, rh_a) if after is not None else pd.Series([], dtype=object)
    pos_b = pd.Series(np.arange(len(kb)), index=kb.to_numpy())
    pos_a = pd.Series(np.arange(len(ka)), index=ka.to_numpy())
    common = kb[kb.isin(ka)]
    same_schema = comparable_schema(schema_before) == comparable_schema(schema_after)
    if before is not None and after is not None and same_schema:
        hb = pd.Series(rh_b, index=kb.to_numpy())
        ha = pd.Series(rh_a, index=ka.to_numpy())
        changed = common[(hb[common].to_numpy() != ha[common].to_numpy())]
    else:
        changed = common
    unchanged = common[~common.isin(changed)]
    if not unchanged.reset_index(drop=True).equals(ka[ka.isin(unchanged)].reset_index(drop=True)):
        order_before = json.dumps(kb.tolist(), ensure_ascii=False)
    deleted = kb[~kb.isin(ka)]
    inserted = ka[~ka.isin(kb)]
    if before is not None:
        stored = np.sort(pos_b[pd.concat([changed, deleted])].to_numpy())
        before_json = _records(before, stored)
        before_wkb = wkb_b[stored]
    kb_arr, ka_arr = kb.to_numpy(dtype=object), ka.to_numpy(dtype=object)
    if after is not None:
        labels_a = _labels(after).tolist()
    if before is not None:
        labels_b = _labels(before).tolist()
        stored_keys = kb.iloc[stored]
        is_update = stored_keys.isin(ka).to_numpy()
        q_upd = pos_a[stored_keys[is_update]].to_numpy() if after is not None else np.empty(0, dtype=np.int64)
        after_upd = iter(_records(after, q_upd) if after is not None else [])
        q_iter = iter(q_upd)
        for i, p in enumerate(stored.tolist()):
            key = str(kb_arr[p])
            if is_update[i]:
                q = int(next(q_iter))
                rows.append(RowChange("update", key, labels_a[q], p, before_json[i], next(after_upd),
                                      before_wkb[i], wkb_a[q]))
            else:
                rows.append(RowChange("delete", key, labels_b[p], p, before_json[i], None, before_wkb[i], None))
    if after is not None and len(inserted):
        q_ins = pos_a[inserted].to_numpy()
        after_json = _records(after, q_ins)
        rows.extend(_inserts(ka_arr[q_ins], np.asarray(labels_a, dtype=object)[q_ins], after_json, wkb_a[q_ins]))
    return LayerChange(
        layer=name, key_column=key_column, schema_before=_dumps(schema_before), schema_after=_dumps(schema_after),
        meta_before=_dumps(meta_before), meta_after=_dumps(meta_after),
        hash_before=hash_with_rows(before, rh_b) if before is not None and rh_b is not None else None,
        hash_after=hash_with_rows(after, rh_a) if after is not None and rh_a is not None else None,
        order_before=order_before, rows=tuple(rows),
    )


def created(schema_before: str | None, inserted: int, rows: Sequence[RowChange]) -> int | None:
    """:attr:`LayerChange.created` of a recorded layer change: the rows a creation (no schema before) recorded as one
    snapshot made — its count of inserts, with no row records stored; None for a change recorded row by row (every
    change recorded before snapshots existed is)."""
    return int(inserted) if schema_before is None and inserted and not rows else None


def snapshot_rows(frame: pd.DataFrame, key_column: str) -> pd.DataFrame:
    """The insert records a creation recorded as one snapshot stands for, rebuilt from the layer as it was right
    after that revision: the very keys, labels and JSON :func:`diff_layer` records row by row, in row order.

    Returns
    -------
    pandas.DataFrame
        Columns ``op`` (``insert``), ``key``, ``label``, ``before`` (None), ``after`` and ``geometry_changed``
        (whether the row has a geometry), one row per row of `frame`.
    """
    keys = _keys(frame, key_column)
    wkb = frame_wkb(frame)
    return pd.DataFrame({
        "op": "insert", "key": keys.to_numpy(dtype=object), "label": _labels(frame).to_numpy(dtype=object),
        "before": np.full(len(frame), None, dtype=object),
        "after": np.asarray(_records(frame, np.arange(len(frame))), dtype=object),
        "geometry_changed": ~pd.isna(wkb),  # WKB is never empty: a row has a geometry or None
    }, columns=["op", "key", "label", "before", "after", "geometry_changed"])


def _inserts(keys: np.ndarray, labels: np.ndarray, after: list[str], wkb: np.ndarray) -> list[RowChange]:
    """One insert per row, built column-wise (a first import of a large layer makes hundreds of thousands)."""
    none = [None] * len(keys)
    return list(map(RowChange._make, zip(["insert"] * len(keys), map(str, keys.tolist()), labels.tolist(), none,
                                         none, after, none, wkb.tolist(), strict=True)))


def row_edit_change(
    name: str, before_row: pd.DataFrame, after_row: pd.DataFrame, position: int, *, key_column: str,
    hash_before: str | None, meta: dict[str, Any] | None,
) -> LayerChange | None:
    """What an edit of one row in place did, from that row before and after it alone (a shared store's row edit:
    its cost does not grow with the layer).

    Parameters
    ----------
    name : str
        The layer's name.
    before_row, after_row : pandas.DataFrame
        The edited row as it was and as it is (one row each, read back as the layer is read).
    position : int
        The row's 0-based position in the layer (unchanged by the edit).
    key_column : str
        The column rows are matched by (the key of the layer's last recorded change).
    hash_before : str or None
        The layer's hash as last recorded (:func:`layer_hash` before the edit); the hash after is updated from it
        and the row's old and new hashes.
    meta : dict or None
        The layer's metadata row (an edit leaves it as it is).

    Returns
    -------
    LayerChange or None
        The same record :func:`diff_layer` makes of the two whole layers, provided the rest of the layer is as
        last recorded; None when this edit cannot be recorded so (the key changed or is missing, the row's schema
        or dtypes differ from the layer's as recorded, or `hash_before` is of the earlier form): then compare
        whole layers.
    """
    if len(before_row) != 1 or len(after_row) != 1 or key_column not in after_row.columns or \
            key_column not in before_row.columns:
        return None
    schema_after = frame_schema(after_row)
    digest = schema_digest(after_row, schema_after)
    key_after = after_row[key_column].iloc[0]
    if schema_digest(before_row) != digest or pd.isna(key_after) or \
            str(before_row[key_column].iloc[0]) != str(key_after):
        return None
    rh_before, rh_after = int(row_hashes(before_row)[0]), int(row_hashes(after_row)[0])
    hash_after = rehashed(hash_before, digest, position, rh_before, rh_after)
    if hash_after is None:
        return None
    rows: tuple[RowChange, ...] = ()
    if rh_before != rh_after:
        rows = (RowChange("update", str(key_after), _labels(after_row).iloc[0], position,
                          _records(before_row, np.array([0]))[0], _records(after_row, np.array([0]))[0],
                          frame_wkb(before_row)[0], frame_wkb(after_row)[0]),)
    schema, meta_json = _dumps(schema_after), _dumps(meta)
    return LayerChange(layer=name, key_column=key_column, schema_before=schema, schema_after=schema,
                       meta_before=meta_json, meta_after=meta_json, hash_before=hash_before,
                       hash_after=hash_after, order_before=None, rows=rows)


def undo_change(after: pd.DataFrame | None, change: LayerChange) -> pd.DataFrame | None:
    """Return the layer as it was before `change`, given the layer as it was right after it.

    Raises
    ------
    ValueError
        If `after` is not the layer as `change` left it (its hash differs).
    """
    if not hash_matches(after, change.hash_after):
        msg = _("layer {layer!r} is not as revision left it (hash {found}, expected {expected}); it cannot be taken "
                "back exactly.").format(layer=change.layer, found=str(layer_hash(after))[:12],
                                        expected=str(change.hash_after)[:12])
        raise ValueError(msg)
    if change.schema_before is None:
        return None
    schema = json.loads(change.schema_before)
    stored = sorted((r for r in change.rows if r.op != "insert"), key=lambda r: r.pos_before or 0)
    restored = _frame_from([r.before for r in stored], [r.before_geom for r in stored], schema)
    restored_keys = [r.key for r in stored]
    if after is not None and comparable_schema(json.loads(change.schema_after or "null")) == \
            comparable_schema(schema):
        ka = _keys(after, change.key_column)
        touched = {r.key for r in change.rows}
        keep = ~ka.isin(touched).to_numpy()
        unchanged = after.iloc[np.flatnonzero(keep)]
        unchanged_keys = ka[keep].tolist()
    else:
        unchanged = restored.iloc[:0]
        unchanged_keys = []
    n = len(stored) + len(unchanged)
    positions = np.empty(n, dtype=np.int64)
    slot = np.zeros(n, dtype=bool)
    if change.order_before is not None:
        order = pd.Series(np.arange(n), index=json.loads(change.order_before))
        positions[: len(stored)] = order[restored_keys].to_numpy()
        positions[len(stored):] = order[unchanged_keys].to_numpy()
    else:
        taken = np.array([r.pos_before for r in stored], dtype=np.int64)
        slot[taken] = True
        positions[: len(stored)] = taken
        positions[len(stored):] = np.flatnonzero(~slot)
    parts = [p for p in (restored, unchanged) if len(p)] or [restored]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    frame = frame.iloc[np.argsort(positions, kind="stable")].reset_index(drop=True)
    dtypes = {c: d for c, d in zip(schema["columns"], schema["dtypes"], strict=True) if c != schema["geometry"]}
    if any(str(frame[c].dtype) != d for c, d in dtypes.items()):
        frame = frame.astype(dtypes)
    if isinstance(frame, gpd.GeoDataFrame) and schema["crs"] is not None and frame.crs is None:
        frame = frame.set_crs(schema["crs"])
    return frame
