"""Moving a workspace between backends (GeoPackage ⇄ PostGIS) and proving nothing was lost: row hashes.

Everything goes through the :class:`~gisplan.store.Workspace` interface, so any pair of backends works. Every layer
is copied with its provenance (kind, facility type, source file and hash, declared CRS, import time, 示意 flag,
note) in one transaction of the target, which logs it as action ``copy``; then each layer is read back from the
target and its row hashes are compared with the source's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.operations import LayerWrite

if TYPE_CHECKING:
    from gisplan.store.workspace import Workspace

__all__ = ["LayerCopy", "copy_workspace", "row_hashes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LayerCopy:
    """One copied layer: its rows, the sha256 over its row hashes in the source and in the target."""

    layer: str
    rows: int
    source_digest: str
    target_digest: str

    @property
    def equal(self) -> bool:
        """Whether the target's rows hash the same as the source's."""
        return self.source_digest == self.target_digest


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """One hash per row over its values (text, numbers, booleans, dates as values; geometry as its WKB), on the
    frame's index; the same rows give the same hashes whichever backend they were read from.

    Examples
    --------
    >>> a = pd.DataFrame({"name": ["永川区", None], "level": [1, 2]})
    >>> b = pd.DataFrame({"name": pd.Series(["永川区", None], dtype="str"), "level": [1, 2]})
    >>> bool((row_hashes(a) == row_hashes(b)).all())
    True
    """
    columns: dict[str, pd.Series] = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, gpd.array.GeometryDtype):
            wkb = shapely.to_wkb(np.asarray(series.array, dtype=object), hex=True)
            columns[str(name)] = pd.Series(wkb, index=frame.index, dtype=object)
        else:
            values = series.astype(object)
            columns[str(name)] = values.where(series.notna(), None).map(repr)
    if not columns:
        return pd.Series(np.zeros(len(frame), dtype="uint64"), index=frame.index, name="row_hash")
    hashed = pd.util.hash_pandas_object(pd.DataFrame(columns, index=frame.index), index=False)
    return hashed.rename("row_hash")


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(row_hashes(frame).to_numpy(dtype="uint64").tobytes()).hexdigest()


def copy_workspace(source: Workspace, target: Workspace, *, wait_s: float = 600.0) -> list[LayerCopy]:
    """Copy every layer of `source`, with its metadata, into `target` in one transaction, then compare row hashes.

    Parameters
    ----------
    source, target : Workspace
        Any two backends; `target` must have no layers yet (it is created if missing).
    wait_s : float
        Seconds to wait for another writer of `target`.

    Returns
    -------
    list of LayerCopy
        One per layer, sorted by name, with the source's and the target's digest.

    Raises
    ------
    StoreError
        If `source` does not exist, `target` already has layers, or writing fails (the target is then unchanged).
    """
    meta = source.metadata()
    with target.lock(wait_s=wait_s):
        if target.layer_names():
            msg = (_("{label} already has layers ({layer_names}); copy into a new or empty workspace.").format(
                     label=target.label, layer_names=', '.join(sorted(target.layer_names()))))
            raise StoreError(msg)
        digests: dict[str, tuple[int, str]] = {}
        with target.transaction(action="copy", detail={"from": source.label, "revision": source.revision()},
                                lock=False) as tx:
            for row in meta.itertuples(index=False):  # one per layer
                data = source.read(str(row.layer))
                digests[str(row.layer)] = (len(data), _digest(data))
                tx.write(LayerWrite(
                    str(row.layer), str(row.kind), data, source_path=_text(row.source_path),
                    source_sha256=_text(row.source_sha256), source_layer=_text(row.source_layer),
                    crs_given=_text(row.crs_given), facility_type=_text(row.facility_type),
                    illustrative=bool(row.illustrative), note=_text(row.note), imported_at=_text(row.imported_at)))
    report = [LayerCopy(name, rows, digest, _digest(target.read(name))) for name, (rows, digest) in
              sorted(digests.items())]
    logger.info("copy: %d layer(s) from %s to %s, %d equal", len(report), source.label, target.label,
                sum(c.equal for c in report))
    return report


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
