"""As-of reads, undo and revert on any workspace, from the history its backend records (see
:mod:`gisplan.store.history`). :class:`~gisplan.store.workspace.Workspace` exposes these as methods; they live
here so that the Workspace module stays at its natural size."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.errors import ConflictError, StoreError
from gisplan.i18n import _
from gisplan.store.history import LayerChange, snapshot_rows, undo_change
from gisplan.store.layerhash import hash_matches
from gisplan.store.operations import (
    HISTORY_COLUMNS,
    REVISION_COLUMNS,
    AsOf,
    Drop,
    LayerWrite,
    Operation,
    check_layer_name,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gisplan.store.workspace import Workspace

__all__ = ["layer_at", "layer_names_at", "revert_revision", "revision_as_of", "with_snapshot_rows"]

_CST = timezone(timedelta(hours=8))


def revision_as_of(ws: Workspace, as_of: AsOf) -> int:
    """The last revision committed at `as_of` (a revision number is returned as it is, if it exists).

    Raises
    ------
    StoreError
        If `as_of` is not a revision number, an ISO date (``2024-12-31``) or time, or lies in the future
        of the last revision as a number.

    Examples
    --------
    >>> from gisplan.store import open_workspace
    >>> open_workspace(getfixture("tmp_path") / "new.gpkg").revision_as_of("2024-12-31")
    0
    """
    last = ws.revision()
    if isinstance(as_of, int) or (isinstance(as_of, str) and as_of.strip().isdigit()):
        number = int(as_of)
        if not 0 <= number <= last:
            msg = _("{label} has revisions 0 to {last}; there is no revision {number}.").format(
                    label=ws.label, last=last, number=number)
            raise StoreError(msg)
        return number
    moment = _moment(as_of)
    revs = ws.revisions() if ws.exists() else pd.DataFrame(columns=list(REVISION_COLUMNS))
    if revs.empty:
        return 0
    at = pd.to_datetime(revs["at"], utc=True, format="ISO8601")
    done = revs.loc[(at <= moment).to_numpy(), "revision"]
    return int(done.max()) if len(done) else 0



def layer_at(ws: Workspace, name: str, revision: int) -> pd.DataFrame | None:
    """Layer `name` exactly as it was right after `revision` (None if it did not exist then).

    Rebuilt from the layer as stored now by taking back, newest first, every recorded change after
    `revision` (:func:`~gisplan.store.history.undo_change`).

    Raises
    ------
    StoreError
        If `revision` is before the workspace's recorded history.
    """
    check_layer_name(name)
    start = ws.history_start()
    if revision < start - 1:
        msg = (_("{label} has history from revision {start} on; the state at revision {revision} cannot be rebuilt "
                 "(read as of revision {earliest} or later).").format(
                 label=ws.label, start=start, revision=revision, earliest=max(start - 1, 0)))
        raise StoreError(msg)
    frame = ws.read(name) if ws.has_layer(name) else None
    for rev, change in reversed(ws.layer_changes(layer=name, after=revision)):
        try:
            frame = undo_change(frame, change)
        except ValueError as exc:
            msg = _("cannot rebuild layer {name!r} as of revision {revision} (at revision {rev}): {exc}").format(
                    name=name, revision=revision, rev=rev, exc=exc)
            raise StoreError(msg) from None
    return frame



def layer_names_at(ws: Workspace, revision: int) -> frozenset[str]:
    """The layers the workspace held right after `revision`."""
    names = set(ws.layer_names())
    first: dict[str, LayerChange] = {}
    for _rev, change in ws.layer_changes(after=revision):
        first.setdefault(change.layer, change)
    for layer, change in first.items():
        if change.schema_before is None:
            names.discard(layer)
        else:
            names.add(layer)
    return frozenset(names)



def revert_revision(ws: Workspace, revision: int, *, user: str | None, note: str | None, action: str) -> int:
    changes = [c for _rev, c in ws.layer_changes(revision=revision)]
    if not changes:
        msg = _("revision {revision} of {label} changed no layer; there is nothing to revert.").format(
                revision=revision, label=ws.label)
        raise StoreError(msg)
    ops: list[Operation] = []
    conflicts = []
    for change in changes:
        current = ws.read(change.layer) if ws.has_layer(change.layer) else None
        if not hash_matches(current, change.hash_after):
            later = sorted({r for r, _change in ws.layer_changes(layer=change.layer, after=revision)})
            conflicts.append(f"`{change.layer}` (changed again in revision {_who_when(ws, later)})")
            continue
        before = undo_change(current, change)
        if before is None:
            ops.append(Drop(change.layer))
        else:
            ops.append(_restoring_write(change, before))
    if conflicts:
        msg = (_("cannot revert revision {revision}: {conflicts}. Revert the later revisions first (`gisplan "
                 "history` lists them); nothing was changed.").format(
                 revision=revision, conflicts='; '.join(conflicts)))
        raise ConflictError(msg)
    detail = {"reverts": revision}
    with ws.transaction(action=action, detail=detail, lock=False, user=user,
                          note=note or f"{action} revision {revision}", undoes=revision) as tx:
        for op in ops:
            if isinstance(op, Drop):
                tx.drop(op.name)
            else:
                tx.write(op)
    return tx.revision



def _who_when(ws: Workspace, revisions: list[int]) -> str:
    """``3 by 王五 at 2024-05-01 10:00:00 CST, 4 by …``: the later revisions that block a revert, who made them
    and when (China Standard Time)."""
    revs = ws.revisions()
    revs = revs[revs["revision"].isin(revisions)]
    at = pd.to_datetime(revs["at"], utc=True, format="ISO8601").dt.tz_convert(_CST).dt.strftime("%Y-%m-%d %H:%M:%S")
    known = {int(r): f"{r} by {u or 'unknown'} at {a} CST"
             for r, u, a in zip(revs["revision"], revs["user"], at, strict=True)}
    return ", ".join(known.get(r, str(r)) for r in revisions)


def _restoring_write(change: LayerChange, data: pd.DataFrame) -> LayerWrite:
    meta = json.loads(change.meta_before) if change.meta_before else {}
    return LayerWrite(
        change.layer, meta.get("kind") or "result", data, source_path=meta.get("source_path"),
        source_sha256=meta.get("source_sha256"), source_layer=meta.get("source_layer"),
        crs_given=meta.get("crs_given"), facility_type=meta.get("facility_type"),
        illustrative=bool(meta.get("illustrative") or False), note=meta.get("note"),
        imported_at=meta.get("imported_at"), options=meta.get("options"),
    )


def _moment(as_of: str | date | datetime) -> pd.Timestamp:
    """`as_of` as a UTC time: a date means the end of that day in China Standard Time."""
    if isinstance(as_of, str):
        text = as_of.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            msg = _("as-of {as_of!r} is not a revision number, a date (2024-12-31) or a time "
                    "(2024-12-31T18:00).").format(as_of=as_of)
            raise StoreError(msg) from None
        as_of = parsed.date() if len(text) <= len("2024-12-31") else parsed
    if not isinstance(as_of, datetime):
        as_of = datetime.combine(as_of, time.max)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=_CST)
    return pd.Timestamp(as_of.astimezone(UTC))


def with_snapshot_rows(
    ws: Workspace, recorded: pd.DataFrame, snapshots: Sequence[tuple[int, str, str]], *, unit: str | None,
    name: str | None,
) -> pd.DataFrame:
    """The row history: the rows a backend read from its row records (:data:`HISTORY_COLUMNS` plus ``seq``, in
    ``seq`` order, filtered already) together with the insert records of the creations recorded as one snapshot
    (`snapshots`: revision, layer, key column), rebuilt from each layer as it was right after its revision
    (:func:`~gisplan.store.history.snapshot_rows`) and filtered alike: `unit` is the key or is quoted in the row,
    `name` is in its label or its row. Ordered as the records would have been: by revision, then the revision's
    layers in the order it recorded them, then row by row."""
    columns = list(HISTORY_COLUMNS)
    if not snapshots:
        return recorded[columns].reset_index(drop=True)
    revs = ws.revisions().set_index("revision")
    parts = [recorded.assign(_n=recorded["seq"])]
    for rev, layer, key_column in snapshots:
        frame = ws.layer_at(layer, rev)
        if frame is None or rev not in revs.index:
            continue
        rows = snapshot_rows(frame, key_column)
        rows = rows[_matching(rows, unit=unit, name=name)]
        info = revs.loc[rev]
        parts.append(rows.assign(revision=rev, at=info["at"], user=info["user"], action=info["action"],
                                 note=info["note"], layer=layer, _n=np.arange(len(rows))))
    listed = revs["layers"].dropna().astype(str)
    placed = pd.DataFrame([(r, layer, i) for r, text in zip(listed.index.to_numpy(dtype=np.int64).tolist(), listed,
                                                            strict=True)
                           for i, layer in enumerate(text.split(","))], columns=["revision", "layer", "_pos"])
    merged = pd.concat(parts, ignore_index=True).merge(placed, on=["revision", "layer"], how="left")
    merged = merged.sort_values(["revision", "_pos", "_n"], kind="stable")
    # built from lists as the backends build theirs from the query's rows, so that the dtypes are inferred alike
    out = pd.DataFrame({c: merged[c].tolist() for c in columns}, columns=columns)
    return out.assign(revision=out["revision"].astype("int64"), geometry_changed=out["geometry_changed"].astype(bool))


def _matching(rows: pd.DataFrame, *, unit: str | None, name: str | None) -> np.ndarray:
    """The history filters of :func:`gisplan.store.history.history_filters` on rebuilt insert records (no
    ``before``)."""
    keep = np.ones(len(rows), dtype=bool)
    after = rows["after"].fillna("").astype(str)
    if unit is not None:
        keep &= (rows["key"].astype(str).eq(unit) | after.str.contains(f'"{unit}"', regex=False)).to_numpy()
    if name is not None:
        label = rows["label"].fillna("").astype(str)
        keep &= (label.str.contains(name, regex=False) | after.str.contains(name, regex=False)).to_numpy()
    return keep
