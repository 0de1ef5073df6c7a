"""What a workspace transaction is made of, shared by every backend: the names of gisplan's own tables and their
columns, safe layer names, a layer write (:class:`LayerWrite`), a drop (:class:`Drop`) and the
:class:`Transaction` that collects them inside ``with workspace.transaction(...)``. The Workspace itself is in
:mod:`gisplan.store.workspace`; the public ones are exported by :mod:`gisplan.store`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gisplan.errors import StoreError
from gisplan.i18n import _

if TYPE_CHECKING:
    import pandas as pd

    from gisplan.store.workspace import Workspace

__all__ = [
    "HISTORY_COLUMNS",
    "LOG_COLUMNS",
    "LOG_TABLE",
    "META_COLUMNS",
    "META_TABLE",
    "REVISION_COLUMNS",
    "AsOf",
    "Drop",
    "Hook",
    "LayerWrite",
    "Operation",
    "Transaction",
    "check_layer_name",
]

#: The metadata table (one row per layer) and the append-only change log, in every backend.
META_TABLE = "gisplan_layers"
LOG_TABLE = "gisplan_changelog"
META_COLUMNS = ("layer", "kind", "facility_type", "source_path", "source_sha256", "source_layer", "imported_at",
                "crs_given", "stored_crs", "row_count", "illustrative", "note", "options")
LOG_COLUMNS = ("seq", "at", "user", "action", "layer", "detail", "revision")

#: One row per revision (who, when, why; what it took back) and one per row a revision changed.
REVISION_COLUMNS = ("revision", "at", "user", "action", "note", "undoes", "layers", "detail")
HISTORY_COLUMNS = ("revision", "at", "user", "action", "note", "layer", "op", "key", "label", "before", "after",
                   "geometry_changed")

#: A point in a workspace's past: a revision number, or a date / time (a date means the end of that day,
#: China Standard Time; a time without a zone is China Standard Time too).
AsOf = int | str | date | datetime


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_layer_name(name: str) -> str:
    """Return `name` if it is a safe workspace layer name, else raise StoreError.

    Examples
    --------
    >>> check_layer_name("facilities_public_cemetery")
    'facilities_public_cemetery'
    """
    if not _NAME_RE.fullmatch(name):
        msg = _("layer name {name!r} must be lower_snake_case ASCII (a-z, 0-9, _), starting with a letter.").format(
                name=name)
        raise StoreError(msg)
    return name


@dataclass(frozen=True, slots=True)
class LayerWrite:
    """One layer to write (create or replace), with its provenance.

    Attributes
    ----------
    name : str
        Workspace layer name (``townships``, ``facilities_public_cemetery`` …).
    kind : str
        Layer kind (see :data:`gisplan.validation.schema.KINDS`), or ``result``.
    data : pandas.DataFrame or geopandas.GeoDataFrame
        Validated rows; geometry in EPSG:4326.
    source_path, source_sha256, source_layer, crs_given : str or None
        Where the rows came from and the CRS the user declared for them.
    facility_type : str or None
        Facility type id for facility layers.
    illustrative : bool
        Generated (示意) data rather than real data.
    note : str or None
        Free text.
    imported_at : str or None
        When the rows were imported (ISO 8601, UTC); None stamps the time of the write. Kept when a layer is
        copied from one workspace to another (``gisplan db copy``).
    options : str or None
        The import options that checked the layer (JSON text, e.g. ``{"tolerance_m": 1000}``), which later
        checks of the layer reuse.
    """

    name: str
    kind: str
    data: pd.DataFrame
    source_path: str | None = None
    source_sha256: str | None = None
    source_layer: str | None = None
    crs_given: str | None = None
    facility_type: str | None = None
    illustrative: bool = False
    note: str | None = None
    imported_at: str | None = None
    options: str | None = None


@dataclass(frozen=True, slots=True)
class Drop:
    """One layer to remove from the workspace (its metadata row goes with it)."""

    name: str


#: One step of a transaction, applied in order.
Operation = LayerWrite | Drop

#: Runs inside every transaction of a workspace just before it commits; may add writes or drops.
Hook = Callable[["Transaction"], None]


class Transaction:
    """The writes and drops of one atomic step, collected inside ``with workspace.transaction(...)``.

    Use :meth:`write` and :meth:`drop`; they are applied in order when the ``with`` block ends without an
    exception, together with whatever the workspace's hooks add, and every change-log row they make carries
    :attr:`revision`.

    Attributes
    ----------
    workspace : Workspace
        The workspace as committed before this transaction (reads do not see the pending operations).
    action : str
        Change-log action of every row this transaction logs.
    detail : Mapping
        JSON-serialisable detail logged with every row.
    revision : int
        The revision this transaction records when it commits: known from the start, since the writer lock
        is held, so that a hook can write it into history rows.
    user : str or None
        Who makes the change (None: the operating-system user).
    note : str or None
        Why (the history's reason column; defaults to the detail's ``note``, ``reason`` or ``basis``).
    undoes : int or None
        The revision this one takes back (undo and revert).
    """

    __slots__ = ("_committed", "_operations", "_over", "action", "detail", "note", "revision", "undoes", "user",
                 "workspace")

    def __init__(self, workspace: Workspace, *, action: str, detail: Mapping[str, Any], revision: int,
                 user: str | None = None, note: str | None = None, undoes: int | None = None) -> None:
        self.workspace = workspace
        self.action = action
        self.detail: Mapping[str, Any] = MappingProxyType(dict(detail))
        self.revision = revision
        self.user = user
        self.note = note
        self.undoes = undoes
        self._operations: list[Operation] = []
        self._over = False
        self._committed = False

    @property
    def operations(self) -> tuple[Operation, ...]:
        """The writes and drops so far, in order."""
        return tuple(self._operations)

    @property
    def writes(self) -> tuple[LayerWrite, ...]:
        """The layer writes so far, in order."""
        return tuple(op for op in self._operations if isinstance(op, LayerWrite))

    @property
    def committed(self) -> bool:
        """Whether the transaction has committed (False while open, and after an error)."""
        return self._committed

    def write(self, *writes: LayerWrite) -> None:
        """Create or replace layers when the transaction commits.

        Raises
        ------
        StoreError
            If a layer name is unsafe or the transaction is already over.
        """
        self._check_open()
        for w in writes:
            check_layer_name(w.name)
        self._operations.extend(writes)

    def drop(self, name: str) -> None:
        """Remove layer `name` when the transaction commits.

        Raises
        ------
        StoreError
            If the name is unsafe, the transaction is already over, or no layer of that name is stored or
            written earlier in this transaction.
        """
        self._check_open()
        check_layer_name(name)
        present = self.workspace.has_layer(name)
        for op in self._operations:
            present = isinstance(op, LayerWrite) if op.name == name else present
        if not present:
            msg = _("{label} has no layer {name!r} to drop.").format(label=self.workspace.label, name=name)
            raise StoreError(msg)
        self._operations.append(Drop(name))

    def _check_open(self) -> None:
        if self._over:
            msg = _("this transaction is over; open another with `workspace.transaction(...)`.")
            raise StoreError(msg)

    def _end(self, *, committed: bool) -> None:
        self._over = True
        self._committed = committed
