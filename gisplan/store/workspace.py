"""The Workspace: one object for every layer of a district, its metadata, change log and writer lock.

A backend (the GeoPackage of :mod:`gisplan.store.gpkg`, PostGIS in :mod:`gisplan.store.postgis`) implements a few
primitives — identity, the metadata table, the change log, reading one layer, the writer lock, one atomic commit
that records its history, and reading that history back — and inherits everything else from :class:`Workspace`:
layer names, typed reads, facility layers, the illustrative flag, :meth:`Workspace.write` and
:meth:`Workspace.transaction` with its hooks and revision numbers, as-of reads, diff, undo and revert (built on
:mod:`gisplan.store.revisions`). The parts of a transaction (:class:`LayerWrite`, :class:`Drop`,
:class:`Transaction`, the own tables' names) are in :mod:`gisplan.store.operations`.

A transaction collects layer writes and drops and commits them in one all-or-nothing step, which the change
log records under one revision number. Hooks registered with :meth:`Workspace.with_hook` run inside every
transaction just before it commits and may add writes of their own (history rows, for example); a hook that
raises aborts the transaction and the workspace is unchanged.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from gisplan.catalogue import facility_type_of
from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.history import LayerChange, diff_layer
from gisplan.store.operations import (
    REVISION_COLUMNS,
    AsOf,
    Hook,
    LayerWrite,
    Operation,
    Transaction,
    check_layer_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path


__all__ = ["Workspace"]

class Workspace(ABC):
    """Every layer of one district's planning data, behind one object (see :func:`gisplan.store.open_workspace`).

    A backend implements the abstract members; the rest is shared.
    """

    __slots__ = ()

    # ------------------------------------------------------------------------------------------ identity

    @property
    @abstractmethod
    def uri(self) -> str:
        """The workspace's URI (``gpkg:/path/to/yc.gpkg``)."""

    @property
    @abstractmethod
    def label(self) -> str:
        """How messages name the workspace (the path as given; never a password)."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether the workspace exists yet (the first write creates it)."""

    @abstractmethod
    def derived_path(self, suffix: str) -> Path:
        """A local path for files derived from this workspace: ``<name><suffix>`` beside a GeoPackage
        (``_results`` output folder, ``_osm_roads.gpkg`` download cache)."""

    @property
    @abstractmethod
    def hooks(self) -> tuple[Hook, ...]:
        """The hooks that run inside every transaction, in order."""

    @abstractmethod
    def with_hook(self, hook: Hook) -> Workspace:
        """Return the same workspace with `hook` run inside every transaction (after the hooks it has)."""

    # ------------------------------------------------------------------------------ backend primitives

    @abstractmethod
    def metadata(self) -> pd.DataFrame:
        """The metadata table, one row per layer (:data:`META_COLUMNS`), sorted by layer name.

        Raises
        ------
        StoreError
            If the workspace does not exist or cannot be read.
        """

    @abstractmethod
    def changelog(self) -> pd.DataFrame:
        """The append-only change log (:data:`LOG_COLUMNS`), oldest first.

        Raises
        ------
        StoreError
            If the workspace does not exist or cannot be read.
        """

    @abstractmethod
    def _is_spatial(self, name: str) -> bool:
        """Whether layer `name`, known to exist, has geometry."""

    @abstractmethod
    def _read_spatial(self, name: str) -> gpd.GeoDataFrame:
        """Read spatial layer `name`, known to exist."""

    @abstractmethod
    def _read_attributes(self, name: str) -> pd.DataFrame:
        """Read the attributes of layer `name`, known to exist (without geometry)."""

    @abstractmethod
    def lock(self, *, wait_s: float = 600.0) -> AbstractContextManager[None]:
        """Hold the workspace's writer lock, waiting up to `wait_s` seconds for another writer.

        Hold it around reading the workspace for validation *and* writing, so that no other writer changes
        what was validated against; then write with ``lock=False``.

        Raises
        ------
        StoreError
            If another process still holds the lock after `wait_s` seconds.
        """

    @abstractmethod
    def _commit(
        self, operations: Sequence[Operation], *, action: str, detail: Mapping[str, Any], revision: int,
        user: str | None = None, note: str | None = None, undoes: int | None = None,
    ) -> None:
        """Apply `operations` in one all-or-nothing step (the caller holds the lock) and log them as `revision`,
        the one after the last; refuse (StoreError, nothing written) if the last revision is no longer the one
        before. In the same step, record the revision (who, when, why) and, for every layer the operations
        touch, its :class:`~gisplan.store.history.LayerChange` (see :func:`~gisplan.store.history.diff_layer`)."""

    @abstractmethod
    def revisions(self) -> pd.DataFrame:
        """Every recorded revision, oldest first: :data:`REVISION_COLUMNS` (who, when, why, what it undid,
        the layers it touched). Empty for a workspace that does not exist yet."""

    @abstractmethod
    def layer_changes(
        self, *, layer: str | None = None, revision: int | None = None, after: int | None = None,
    ) -> list[tuple[int, LayerChange]]:
        """The recorded layer changes as (revision, change), oldest first, filtered to one `layer`, one
        `revision`, or the revisions after `after`."""

    @abstractmethod
    def history(
        self, *, layer: str | None = None, unit: str | None = None, name: str | None = None,
    ) -> pd.DataFrame:
        """Row-level history, oldest first (:data:`HISTORY_COLUMNS`): every insert, update and delete with who,
        when and why, and the row's attributes before and after (JSON) and whether its geometry changed.

        Parameters
        ----------
        layer : str, optional
            Only this layer.
        unit : str, optional
            Only rows whose key is this code, or whose attributes before or after mention it.
        name : str, optional
            Only rows whose name contains this text.
        """

    # ------------------------------------------------------------------------------------------ reading

    def layer_names(self) -> frozenset[str]:
        """The names of the layers in the workspace (empty if it does not exist yet)."""
        if not self.exists():
            return frozenset()
        return frozenset(str(n) for n in self.metadata()["layer"])

    def has_layer(self, name: str) -> bool:
        """Whether the workspace holds layer `name`."""
        return name in self.layer_names()

    def facility_layers(self) -> dict[str, str]:
        """Facility type id → layer name of every facility layer, sorted by layer name."""
        found = {facility_type_of(n): n for n in sorted(self.layer_names())}
        return {type_id: name for type_id, name in found.items() if type_id is not None}

    def illustrative(self) -> bool:
        """Whether any layer is flagged as generated (示意) data."""
        return self.exists() and bool(self.metadata()["illustrative"].astype(bool).any())

    def revision(self) -> int:
        """The last committed revision (0 for a workspace that has none yet)."""
        if not self.exists():
            return 0
        numbers = self.changelog()["revision"].dropna()
        return int(numbers.max()) if len(numbers) else 0

    def is_spatial(self, name: str) -> bool:
        """Whether layer `name` has geometry (False for an attribute table such as the gazetteer).

        Raises
        ------
        StoreError
            If there is no such layer; the message lists the layers.
        """
        self._require(name)
        return self._is_spatial(name)

    def read_layer(self, name: str, *, as_of: AsOf | None = None) -> gpd.GeoDataFrame:
        """Read spatial layer `name` as a GeoDataFrame (EPSG:4326).

        Parameters
        ----------
        name : str
        as_of : int, str, date or datetime, optional
            Read the layer as it was at this revision or date (see :data:`AsOf` and :meth:`layer_at`).

        Raises
        ------
        StoreError
            If there is no such layer (the message lists the layers), or it is an attribute table.
        """
        if as_of is not None:
            frame = self._read_as_of(name, as_of)
            if not isinstance(frame, gpd.GeoDataFrame):
                msg = _("layer {name!r} of {label} was an attribute table then; read it with `read_table`.").format(
                        name=name, label=self.label)
                raise StoreError(msg)
            return frame
        self._require(name)
        if not self._is_spatial(name):
            msg = (_("layer {name!r} of {label} is an attribute table without geometry; read it with `read_table`, "
                     "or import it again from a spatial file.").format(name=name, label=self.label))
            raise StoreError(msg)
        return self._read_spatial(name)

    def read_table(self, name: str, *, as_of: AsOf | None = None) -> pd.DataFrame:
        """Read the attributes of layer `name` as a DataFrame (a spatial layer's geometry is left out);
        `as_of` as for :meth:`read_layer`.

        Raises
        ------
        StoreError
            If there is no such layer; the message lists the layers.
        """
        if as_of is not None:
            frame = self._read_as_of(name, as_of)
            if isinstance(frame, gpd.GeoDataFrame):
                return pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
            return frame
        self._require(name)
        return self._read_attributes(name)

    def read(self, name: str, *, as_of: AsOf | None = None) -> pd.DataFrame:
        """Read layer `name` as stored: a GeoDataFrame for a spatial layer, a DataFrame for a table (for
        layers that may be either, such as ``households``: a table by village, or points); `as_of` as for
        :meth:`read_layer`.

        Raises
        ------
        StoreError
            If there is no such layer; the message lists the layers.
        """
        if as_of is not None:
            return self._read_as_of(name, as_of)
        self._require(name)
        return self._read_spatial(name) if self._is_spatial(name) else self._read_attributes(name)

    def _require(self, name: str) -> None:
        check_layer_name(name)
        if not self.exists():
            msg = _("workspace {label} does not exist; import a layer first (`gisplan layers import`).").format(
                    label=self.label)
            raise StoreError(msg)
        names = self.layer_names()
        if name not in names:
            msg = _("{label} has no layer {name!r} (layers: {names}).").format(
                    label=self.label, name=name, names=', '.join(sorted(names)) or _("none"))
            raise StoreError(msg)

    # ------------------------------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def transaction(
        self, *, action: str, detail: Mapping[str, Any] | None = None, lock: bool = True, wait_s: float = 600.0,
        user: str | None = None, note: str | None = None, undoes: int | None = None,
    ) -> Iterator[Transaction]:
        """Collect writes and drops, then commit them — with what the hooks add — in one atomic step.

        Parameters
        ----------
        action : str
            Change-log action (``import``, ``coverage`` …).
        detail : Mapping, optional
            JSON-serialisable detail for the change log.
        lock : bool
            Take the writer lock; ``False`` when the caller holds it already (see :meth:`lock`).
        wait_s : float
            Seconds to wait for another writer to finish.
        user : str, optional
            Who makes the change (default: the operating-system user).
        note : str, optional
            Why: recorded with the revision (default: the detail's ``note``, ``reason`` or ``basis``).
        undoes : int, optional
            The revision this one takes back (set by :meth:`revert`).

        Yields
        ------
        Transaction
            With the :attr:`~Transaction.revision` it records.

        Raises
        ------
        StoreError
            If another process holds the workspace longer than `wait_s`, or writing fails (the workspace is
            then unchanged). An exception inside the block, or in a hook, commits nothing.

        Examples
        --------
        >>> import pandas as pd
        >>> from gisplan.store import LayerWrite, open_workspace
        >>> ws = open_workspace(getfixture("tmp_path") / "ws.gpkg")
        >>> with ws.transaction(action="edit", detail={"by": "doctest"}) as tx:
        ...     tx.write(LayerWrite("notes", "result", pd.DataFrame({"text": ["一"]})))
        >>> tx.revision, tx.committed, sorted(ws.layer_names())
        (1, True, ['notes'])
        """
        detail = detail or {}
        if note is None:
            found = next((detail[k] for k in ("note", "reason", "basis") if detail.get(k)), None)
            note = str(found) if found is not None else None
        with self.lock(wait_s=wait_s) if lock else contextlib.nullcontext():
            tx = Transaction(self, action=action, detail=detail, revision=self.revision() + 1, user=user,
                             note=note, undoes=undoes)
            try:
                yield tx
                for hook in self.hooks:
                    hook(tx)
                self._commit(tx.operations, action=action, detail=tx.detail, revision=tx.revision, user=tx.user,
                             note=tx.note, undoes=tx.undoes)
            except BaseException:
                tx._end(committed=False)
                raise
            tx._end(committed=True)

    def write(
        self,
        writes: Sequence[LayerWrite],
        *,
        action: str,
        detail: Mapping[str, Any] | None = None,
        lock: bool = True,
        wait_s: float = 600.0,
        user: str | None = None,
        note: str | None = None,
    ) -> int:
        """Write several layers and their metadata in one all-or-nothing step (a one-step transaction).

        Parameters
        ----------
        writes : sequence of LayerWrite
            Layers to create or replace.
        action, detail, lock, wait_s, user, note
            As for :meth:`transaction`.

        Returns
        -------
        int
            The workspace's revision afterwards (the same as before when `writes` is empty and the workspace
            existed: nothing is logged then).

        Raises
        ------
        StoreError
            If another process holds the workspace longer than `wait_s`, a layer name is unsafe, or writing
            fails (the workspace is then unchanged).
        """
        for w in writes:
            check_layer_name(w.name)
        with self.transaction(action=action, detail=detail, lock=lock, wait_s=wait_s, user=user, note=note) as tx:
            tx.write(*writes)
        return self.revision()

    def create(self) -> Workspace:
        """Create the workspace (or give an existing GeoPackage gisplan's tables); logs ``init`` once."""
        self.write([], action="init")
        return self

    # ------------------------------------------------------------------------------- history and undo

    def revision_as_of(self, as_of: AsOf) -> int:
        """The last revision committed at `as_of` (a revision number is returned as it is, if it exists;
        a date means the end of that day, China Standard Time).

        Raises
        ------
        StoreError
            If `as_of` is not a revision number, an ISO date (``2024-12-31``) or time.

        Examples
        --------
        >>> from gisplan.store import open_workspace
        >>> open_workspace(getfixture("tmp_path") / "new.gpkg").revision_as_of("2024-12-31")
        0
        """
        from gisplan.store.revisions import revision_as_of  # noqa: PLC0415 - revisions imports this module

        return revision_as_of(self, as_of)

    def history_start(self) -> int:
        """The first revision with recorded history (earlier states cannot be rebuilt); 0 if none."""
        revs = self.revisions() if self.exists() else pd.DataFrame(columns=list(REVISION_COLUMNS))
        return int(revs["revision"].min()) if len(revs) else self.revision() + 1

    def layer_at(self, name: str, revision: int) -> pd.DataFrame | None:
        """Layer `name` exactly as it was right after `revision` (None if it did not exist then), rebuilt by
        taking back, newest first, every recorded change after `revision`.

        Raises
        ------
        StoreError
            If `revision` is before the workspace's recorded history.
        """
        from gisplan.store.revisions import layer_at  # noqa: PLC0415 - revisions imports this module

        return layer_at(self, name, revision)

    def layer_names_at(self, revision: int) -> frozenset[str]:
        """The layers the workspace held right after `revision`."""
        from gisplan.store.revisions import layer_names_at  # noqa: PLC0415 - revisions imports this module

        return layer_names_at(self, revision)

    def _read_as_of(self, name: str, as_of: AsOf) -> pd.DataFrame:
        revision = self.revision_as_of(as_of)
        frame = self.layer_at(name, revision)
        if frame is None:
            held = ", ".join(sorted(self.layer_names_at(revision))) or _("none")
            msg = _("{label} had no layer {name!r} at revision {revision} ({as_of}; layers then: {held}).").format(
                    label=self.label, name=name, revision=revision, as_of=as_of, held=held)
            raise StoreError(msg)
        return frame

    def diff(self, name: str, *, since: AsOf, until: AsOf | None = None) -> LayerChange:
        """What changed in layer `name` between two points in time (rows matched by their key).

        Returns
        -------
        LayerChange
            Rows inserted, updated and deleted from `since` to `until` (default: now).
        """
        a = self.layer_at(name, self.revision_as_of(since))
        b = self.layer_at(name, self.revision_as_of(until)) if until is not None else (
            self.read(name) if self.has_layer(name) else None)
        if a is None and b is None:
            msg = _("{label} has no layer {name!r} at either point in time.").format(label=self.label, name=name)
            raise StoreError(msg)
        return diff_layer(name, a, b)

    def undoable(self) -> int | None:
        """The revision :meth:`undo` would take back: the last one that changed layers and is neither an undo
        nor already taken back; None if there is none."""
        revs = self.revisions() if self.exists() else pd.DataFrame(columns=list(REVISION_COLUMNS))
        undone = set(revs["undoes"].dropna().astype(int))
        candidates = revs[revs["undoes"].isna() & ~revs["revision"].isin(undone) & revs["layers"].notna()
                          & revs["layers"].astype(str).ne("")]
        return int(candidates["revision"].max()) if len(candidates) else None

    def undo(self, *, user: str | None = None, note: str | None = None, wait_s: float = 600.0) -> int:
        """Take back the last change (see :meth:`undoable`) as a new revision; return its number.

        Raises
        ------
        StoreError
            If there is nothing to undo; ConflictError (a StoreError) if the layers changed since (see
            :meth:`revert`).
        """
        with self.lock(wait_s=wait_s):
            target = self.undoable()
            if target is None:
                msg = _("{label} has no change to undo.").format(label=self.label)
                raise StoreError(msg)
            return self._revert(target, user=user, note=note, action="undo")

    def revert(self, revision: int, *, user: str | None = None, note: str | None = None,
               wait_s: float = 600.0) -> int:
        """Take back what `revision` did, as a new revision; return its number. Every layer it touched is
        restored exactly (rows, values, geometries, order and metadata) to its state before `revision`.
        Reverting an undo redoes the change it undid.

        Raises
        ------
        StoreError
            If `revision` changed no layer. ConflictError (a StoreError) if a layer it touched was changed again
            later, by a whole-layer write or a row edit (revert those later revisions first: the message names
            them, who made them and when).
        """
        with self.lock(wait_s=wait_s):
            return self._revert(revision, user=user, note=note, action="revert")

    def _revert(self, revision: int, *, user: str | None, note: str | None, action: str) -> int:
        from gisplan.store.revisions import revert_revision  # noqa: PLC0415 - revisions imports this module

        return revert_revision(self, revision, user=user, note=note, action=action)
