"""Atomic file writers: a temporary file beside the target, then a rename, so that a failed or
killed write never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd
import pyogrio

from gisplan.settings import gpkg_dataset_options, option_held

if TYPE_CHECKING:
    from collections.abc import Iterator

    import geopandas as gpd


__all__ = [
    "FORMULA_PREFIXES", "atomic_path", "defuse_text_cells", "write_atomic_csv", "write_atomic_gpkg",
    "write_atomic_parquet", "write_atomic_text",
]

logger = logging.getLogger(__name__)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _atomic(path: Path, encoding: str) -> Iterator[TextIO]:
    """A text file handle on a temporary file beside `path`, renamed over it when the block succeeds:
    readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic_text(text: str, path: Path, *, encoding: str = "utf-8") -> None:
    """Write a text file through a temporary file and a rename."""
    with _atomic(path, encoding) as fh:
        fh.write(text)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula (or a DDE payload) to Excel/WPS if written as typed
(OWASP "CSV injection"); the CSV and XLSX writers store such cells as text."""


def defuse_text_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell that starts with one of :data:`FORMULA_PREFIXES` prefixed by an apostrophe
    (Excel's and WPS's mark for "this cell is text"), column by column; numbers are left as numbers, and a
    frame with nothing to defuse is returned as it is. Column headers are defused too."""
    changed: dict[str, pd.Series] = {}
    for name in _text_columns(frame):
        column = frame[name]
        risky = column.str.startswith(FORMULA_PREFIXES, na=False).to_numpy(dtype=bool)  # non-text cells: False
        if risky.any():
            fixed = column.astype(object)
            fixed[risky] = "'" + column[risky].astype(str)
            changed[str(name)] = fixed
    headers = [_defuse_header(c) for c in frame.columns]
    if not changed and headers == list(frame.columns):
        return frame
    out = frame.assign(**changed) if changed else frame.copy()
    out.columns = headers
    return out


def _text_columns(frame: pd.DataFrame) -> list[object]:
    """The columns that may hold text: string dtypes, and object columns with at least one str in them."""
    return [name for name in frame.columns
            if isinstance(frame[name].dtype, pd.StringDtype)
            or (frame[name].dtype == object
                and pd.api.types.infer_dtype(frame[name], skipna=True) in {"string", "mixed", "mixed-integer"})]


def _defuse_header(name: object) -> object:
    return "'" + name if isinstance(name, str) and name.startswith(FORMULA_PREFIXES) else name


def write_atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a UTF-8 CSV (with BOM, so Excel/WPS show Chinese) through a temporary file and a rename; a text
    cell that Excel/WPS would run as a formula is written as text (:func:`defuse_text_cells`)."""
    safe = defuse_text_cells(frame)
    # the csv module quotes a cell holding the line terminator ("\n") but not a bare CR, which readers take
    # for a line end: quote every cell when some text holds one
    bare_cr = any(safe[c].str.contains("\r", regex=False, na=False).any() for c in _text_columns(safe))
    with _atomic(path, "utf-8") as fh:  # the BOM once: the utf-8-sig codec encodes row by row in Python
        fh.write("\ufeff")
        safe.to_csv(fh, index=False, lineterminator="\n", quoting=csv.QUOTE_ALL if bare_cr else csv.QUOTE_MINIMAL)


def write_atomic_gpkg(layers: dict[str, pd.DataFrame], path: Path) -> None:
    """Write layers (GeoDataFrames, or DataFrames as attribute tables) to a new GeoPackage at `path`
    (replacing it) through a temporary file and a rename, as GeoPackage 1.2 unless
    :func:`gisplan.settings.gpkg_versions` says otherwise.

    SQLite does not sync the temporary file after every layer (``OGR_SQLITE_SYNCHRONOUS=OFF``): no reader sees it
    before the rename, and it is synced once, whole, before it. Ten layers of a run's ``results.gpkg`` took
    0.8–1.0 s with a sync per layer's transactions, 0.5 s without (on a machine shared with other work).
    """
    with atomic_path(path, ".gpkg") as tmp, _sqlite_unsynced():
        for name, gdf in layers.items():
            _write_layer(gdf, tmp, name)


@contextmanager
def atomic_path(path: Path, suffix: str) -> Iterator[str]:
    """The name of a new file beside `path` for a writer that makes its own file (GDAL, pyarrow): not created
    yet, so the writer gives it the usual permissions (mkstemp's would be 0600); synced and renamed over `path`
    when the block succeeds, removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    Path(tmp).unlink()
    try:
        yield tmp
        with Path(tmp).open("rb") as fh:
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sqlite_unsynced() -> contextlib.AbstractContextManager[None]:
    """GDAL's SQLite writes without a sync per transaction (the switch the store's commits share)."""
    return option_held("OGR_SQLITE_SYNCHRONOUS", "OFF", pyogrio.get_gdal_config_option, pyogrio.set_gdal_config_options)


def _write_layer(frame: pd.DataFrame, target: str, name: str) -> None:
    """One layer through GDAL's Arrow stream, not feature by feature (pyogrio turns object columns Arrow cannot
    type into text first)."""
    pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG", use_arrow=True,
                            dataset_options=gpkg_dataset_options())


def write_atomic_parquet(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a GeoParquet file (WKB geometry, the CRS in its metadata) through a temporary file and a rename."""
    with atomic_path(path, ".parquet") as tmp:
        gdf.to_parquet(tmp, index=False)
