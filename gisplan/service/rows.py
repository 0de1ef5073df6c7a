"""Row versions and row edits of a served layer, the same on both backends (optimistic concurrency).

A feature's id in the service is its row's position (1-based, in stored order). Its version starts at 1 and goes up
by one with every edit; an edit names the version it was based on and is refused with
:class:`~gisplan.errors.ConflictError` — naming who changed the row and when — if the row has moved on.

- PostGIS keeps the version in the row (:meth:`PostGISWorkspace.edit_row`, one transaction with the row history).
- A GeoPackage has no version column: an edit is a workspace transaction (action ``edit``, detail ``fid``,
  ``to_version``, ``by``) that rewrites the layer with the one row changed — so the GeoPackage history records the
  row before and after, and ``gisplan undo`` takes it back. A row's version is counted from the change log: the
  number of times the whole layer was written (import, undo, a workflow's write …) plus the number of service edits
  of that row. So it only ever goes up: after a re-import every row is at a version above any it had, and an edit
  based on what was read before the re-import is refused (as on PostGIS, where a whole-layer write gives every row a
  version above any the layer had).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisplan.errors import ConflictError
from gisplan.service.common import RequestError
from gisplan.store import LayerWrite, PostGISWorkspace

if TYPE_CHECKING:
    from collections.abc import Mapping

    import shapely

    from gisplan.store import Workspace

__all__ = ["EDIT_ACTION", "RowState", "check_values", "edit_feature", "row_states"]

EDIT_ACTION = "edit"
_TEXT_MAX = 10_000
_PROVENANCE = ("source_path", "source_sha256", "source_layer", "crs_given", "facility_type", "note", "imported_at",
               "options")


@dataclass(frozen=True, slots=True)
class RowState:
    """The version of one row: its number, who changed it last and when (None for a row never edited)."""

    position: int
    version: int
    changed_by: str | None
    changed_at: str | None
    revision: int | None = None


def row_states(ws: Workspace, layer: str) -> pd.DataFrame:
    """``version``, ``changed_by``, ``changed_at`` of every row of `layer`, in stored order (RangeIndex)."""
    if isinstance(ws, PostGISWorkspace):
        frame = ws.row_versions(layer)
        return frame[["version", "changed_by", "changed_at"]].reset_index(drop=True)
    rows = len(ws.read(layer))
    log = ws.changelog()
    log = log[log["layer"] == layer].reset_index(drop=True)
    is_edit = (log["action"] == EDIT_ACTION).to_numpy()
    writes = np.flatnonzero(~is_edit)
    fid = pd.to_numeric(log["detail"].astype("string").str.extract(r'"fid":\s*(\d+)', expand=False), errors="coerce")
    position = fid.where(is_edit & fid.between(1, rows))  # the edited row of each edit, NaN for anything else
    edited = position.dropna().astype("int64").to_numpy() - 1
    version = max(len(writes), 1) + np.bincount(edited, minlength=rows)[:rows]
    changed_by = pd.Series([None] * rows, dtype=object)
    changed_at = pd.Series([None] * rows, dtype=object)
    if len(writes) > 1:  # rewritten after its creation: every row last changed by that write
        changed_by[:] = str(log["user"].iloc[writes[-1]])
        changed_at[:] = str(log["at"].iloc[writes[-1]])
    since = position.iloc[writes[-1] + 1:] if len(writes) else position
    last = since.dropna().astype("int64").drop_duplicates(keep="last")  # each row's latest edit since then
    changed_by.iloc[last.to_numpy() - 1] = log["user"].loc[last.index].astype(str).to_numpy()
    changed_at.iloc[last.to_numpy() - 1] = log["at"].loc[last.index].astype(str).to_numpy()
    return pd.DataFrame({"version": version.astype("int64"), "changed_by": changed_by, "changed_at": changed_at})


def _state(states: pd.DataFrame, position: int) -> RowState:
    row = states.iloc[position - 1]
    by, at = row["changed_by"], row["changed_at"]
    return RowState(position, int(row["version"]), None if by is None else str(by), None if at is None else str(at))


def _check_value(column: str, dtype: Any, value: object) -> object:
    bad = None
    if value is None:
        return None
    if isinstance(value, dict | list):
        bad = "a single value"
    elif pd.api.types.is_bool_dtype(dtype):
        bad = None if isinstance(value, bool) else "true or false"
    elif pd.api.types.is_integer_dtype(dtype):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        bad = None if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53 else "an integer"
    elif pd.api.types.is_float_dtype(dtype):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))
        bad = None if ok else "a number"
        value = float(value) if ok else value  # type: ignore[arg-type]
    elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        bad = None if isinstance(value, str) and len(value) <= _TEXT_MAX and "\x00" not in value else \
            f"text (at most {_TEXT_MAX} characters, no NUL)"
    else:
        bad = "nothing: this column cannot be edited through the service"
    if bad is not None:
        msg = f"属性 {column} 的值无效 (`{column}` must be {bad}, got {str(value)[:80]!r})"
        raise RequestError(400, "InvalidParameterValue", msg)
    return value


def check_values(frame: pd.DataFrame, values: Mapping[str, object]) -> dict[str, object]:
    """`values` checked against `frame`'s columns and types but its geometry (RequestError 400 naming the column
    otherwise); the frame is not copied."""
    columns = {str(c): d for c, d in frame.dtypes.items() if c != "geometry"}
    unknown = sorted(set(values) - set(columns))
    if unknown:
        shown = ", ".join(u[:40] for u in unknown[:5])
        msg = f"没有这些属性 {shown} (no such propert(ies): {shown}; see the collection's items)"
        raise RequestError(400, "InvalidParameterValue", msg)
    return {c: _check_value(c, columns[c], v) for c, v in values.items()}


def edit_feature(ws: Workspace, layer: str, position: int, *, base_version: int, values: Mapping[str, object],
                 geometry: shapely.Geometry | None, user: str, current: pd.DataFrame | None = None) -> RowState:
    """Change feature `position` (1-based) of `layer` if it is still at `base_version`; return its new state.

    `current` is the layer as the caller last read it (its columns and row count are checked against; default:
    read now).

    Raises
    ------
    ConflictError
        If the row changed since `base_version` (the message names who and when); nothing is written.
    RequestError
        404 for no such feature, 400 for an unknown column or a value of the wrong type.
    """
    frame = ws.read_layer(layer) if current is None else current
    if not 1 <= position <= len(frame):
        msg = f"集合 {layer} 没有要素 {position} (no feature {position} in {layer})"
        raise RequestError(404, "NotFound", msg)
    checked = check_values(frame, values)
    if isinstance(ws, PostGISWorkspace):  # the row found by its position inside the edit's transaction
        edited = ws.edit_row_at(layer, position, checked, base_version=base_version, user=user, geometry=geometry)
        return RowState(position, edited.version, edited.changed_by, edited.changed_at, edited.revision)
    with ws.lock(wait_s=30.0):
        now = _state(row_states(ws, layer), position)
        if now.version != base_version:
            who, when = now.changed_by or "未知用户", now.changed_at or "?"
            msg = (f"第 {position} 行（图层 {layer}）已被 {who} 于 {when} 修改（当前版本 {now.version}，"
                   f"你的修改基于版本 {base_version}）；请重新读取后再改。row {position} of {layer} was changed by "
                   f"{who} at {when}; nothing was written.")
            raise ConflictError(msg)
        frame = ws.read_layer(layer).reset_index(drop=True)
        for column, value in checked.items():
            frame[column] = frame[column].astype(object) if value is None else frame[column]
            frame.loc[frame.index[position - 1], column] = value  # type: ignore[call-overload]
        if geometry is not None:
            shapes = frame.geometry.to_numpy().copy()
            shapes[position - 1] = geometry
            frame = frame.set_geometry(gpd.GeoSeries(shapes, index=frame.index, crs=frame.crs))
        meta = ws.metadata().set_index("layer").loc[layer]
        provenance = {k: (None if pd.isna(meta[k]) else str(meta[k])) for k in _PROVENANCE}
        detail = {"fid": position, "from_version": base_version, "to_version": base_version + 1, "by": user,
                  "columns": sorted(checked) + (["geometry"] if geometry is not None else [])}
        with ws.transaction(action=EDIT_ACTION, detail=detail, user=user, lock=False,
                            note=f"服务编辑 {layer} 第 {position} 行") as tx:
            tx.write(LayerWrite(layer, str(meta["kind"]), frame, illustrative=bool(meta["illustrative"]),
                                **provenance))
        new = _state(row_states(ws, layer), position)
        return RowState(position, new.version, new.changed_by, new.changed_at, tx.revision)
