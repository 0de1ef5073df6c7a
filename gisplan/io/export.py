"""Writers behind `gisplan export`: GDAL vector files (GeoPackage, Shapefile, GeoJSON), an XLSX workbook whose
text cells stay text, and a staging folder that puts a whole export in place only when every file is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyogrio

from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.atomic import FORMULA_PREFIXES
from gisplan.settings import gpkg_dataset_options

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = ["FORMULA_PREFIXES", "STAGE_PREFIX", "stage_files", "write_vector_file", "write_xlsx"]

logger = logging.getLogger(__name__)


def write_vector_file(frame: pd.DataFrame, path: Path, *, driver: str, layer: str | None = None,
                      encoding: str | None = None) -> None:
    """Write `frame` (a GeoDataFrame) with GDAL's `driver` (``GPKG``, ``ESRI Shapefile``, ``GeoJSON``) to `path`.

    A GeoPackage is created as version 1.2 (see :func:`gisplan.settings.gpkg_dataset_options`); further layers
    are added to it. A Shapefile gets `encoding` (``GBK`` or ``UTF-8``) in its ``.dbf`` and a matching ``.cpg``.
    """
    options: dict[str, Any] = {}
    if driver == "GPKG":
        options["dataset_options"] = gpkg_dataset_options()
        options["append"] = False
    if encoding is not None:
        options["encoding"] = encoding
    pyogrio.write_dataframe(frame, path, layer=layer, driver=driver, promote_to_multi=False, **options)


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _text(value: Any) -> str:
    """A code written as text: ``500118001000`` (an integer read as float loses its ``.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sheet_names(titles: Iterable[str]) -> list[str]:
    """Excel's sheet names for `titles`: at most 31 characters, none of ``[]:*?/\\``, unique (a number is added,
    as openpyxl did)."""
    names: list[str] = []
    for title in titles:
        base = "".join("_" if c in "[]:*?/\\" else c for c in str(title))[:31] or "Sheet"
        name, n = base, 1
        while name.casefold() in {m.casefold() for m in names}:
            name = f"{base[:31 - len(str(n))]}{n}"
            n += 1
        names.append(name)
    return names


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame], path: Path, *, notes: Sequence[str] = (),
    number_formats: Mapping[str, Mapping[str, str]] | None = None,
    text_columns: Mapping[str, Sequence[str]] | None = None, filters: bool = False,
) -> None:
    """Write one sheet per frame to a new XLSX at `path`; every text cell is stored as text, never as a formula
    (a name like ``=HYPERLINK(…)`` or ``-1`` typed as text shows as typed), and `notes` (e.g. the 示意 label)
    go to a last sheet ``说明``.

    Parameters
    ----------
    number_formats : mapping, optional
        Sheet → column → Excel number format (``"0.0"``, ``"0"``) of its numeric cells.
    text_columns : mapping, optional
        Sheet → columns written as text whatever their type (12-digit division codes keep every digit).
    filters : bool
        Turn the filter buttons on in every sheet's header row.

    The header row is frozen and bold in every sheet, and columns are widened to their header. The workbook is
    written by XlsxWriter row by row (``constant_memory``: each row goes to the file as it is written), every
    string with ``write_string`` — never parsed as a formula, number or URL; one that starts like a formula
    (``=``, ``+``, ``-``, ``@``) also gets Excel's quote prefix, so that it stays text when the cell is edited.
    """
    import xlsxwriter  # noqa: PLC0415 - only needed for XLSX output

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                           "strings_to_formulas": False, "strings_to_urls": False,
                                           "remove_timezone": True})
    bold = book.add_format({"bold": True})
    quoted = book.add_format({"quote_prefix": True, "align": "left"})
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    number_format_of: dict[str, Any] = {}
    names = _sheet_names([*sheets, "说明"])  # the notes' sheet name taken last, so a data sheet of that title keeps it
    for name, (title, frame) in zip(names, sheets.items(), strict=False):
        sheet = book.add_worksheet(name)
        formats = (number_formats or {}).get(title, {})
        as_text = set((text_columns or {}).get(title, ()))
        sheet.freeze_panes(1, 0)
        for j, c in enumerate(frame.columns):
            sheet.set_column(j, j, min(40, max(8, 2 * len(str(c)) + 2)))
            sheet.write_string(0, j, str(c), bold)
        if filters and len(frame.columns):
            sheet.autofilter(0, 0, len(frame), len(frame.columns) - 1)
        for c in set(formats.values()) - number_format_of.keys():
            number_format_of[c] = book.add_format({"num_format": c})
        column_formats = [number_format_of.get(formats.get(str(c), "")) for c in frame.columns]
        column_text = [c in as_text for c in frame.columns]
        for i, row in enumerate(frame.itertuples(index=False), start=1):
            for j, (raw, text, number_format) in enumerate(zip(row, column_text, column_formats, strict=True)):
                _put(sheet, i, j, _cell(raw), text=text, number_format=number_format, quoted=quoted,
                     date_format=date_format)
    if notes:
        sheet = book.add_worksheet(names[-1])
        for i, note in enumerate(notes):
            sheet.write_string(i, 0, str(note))
    book.close()


def _put(sheet: Any, i: int, j: int, value: Any, *, text: bool, number_format: Any, quoted: Any,
         date_format: Any) -> None:
    """One cell: text as text (never a formula, whatever it starts with), numbers with `number_format`, nothing
    for a missing value."""
    if value is None:
        return
    if text and not isinstance(value, str):
        value = _text(value)
    if isinstance(value, str):
        sheet.write_string(i, j, value, quoted if value.startswith(FORMULA_PREFIXES) else None)
    elif isinstance(value, bool):
        sheet.write_boolean(i, j, value)
    elif isinstance(value, int | float):
        if math.isfinite(value):  # an infinite ratio stays empty, as a missing one
            sheet.write_number(i, j, value, number_format)
    elif isinstance(value, dt.datetime | dt.date):
        sheet.write_datetime(i, j, value, date_format)
    else:
        sheet.write_string(i, j, str(value))


STAGE_PREFIX = ".gisplan-export-"


def _remove_stale_stages(out_dir: Path) -> None:
    """Remove the staging folders of exports whose process has ended (killed mid-write): their names carry the
    writer's pid. On Windows, where a signal cannot probe a pid, they are left alone."""
    if os.name != "posix":
        return
    for stage in out_dir.glob(f"{STAGE_PREFIX}*"):
        pid = stage.name.removeprefix(STAGE_PREFIX).split("-", 1)[0]
        if stage.is_dir() and pid.isdigit() and not _alive(int(pid)):
            logger.info("removing %s, left by an interrupted export", stage)
            shutil.rmtree(stage, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


@contextmanager
def stage_files(out_dir: Path, names: Sequence[str], *, force: bool) -> Iterator[Path]:
    """A temporary folder inside `out_dir` to write the files `names` into; when the block succeeds each is
    renamed into `out_dir` (a rename within one folder is atomic), else nothing in `out_dir` changes.

    Raises
    ------
    ConfigError
        Before anything is written, if any of `names` exists in `out_dir` and `force` is false.
    """
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not force:
        shown = ", ".join(existing[:8]) + (" …" if len(existing) > 8 else "")
        msg = (_("{out_dir} already holds {shown}; nothing was written. Give another `--out` folder, or `--force` "
                 "to replace them.").format(out_dir=out_dir, shown=shown))
        raise ConfigError(msg)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_stages(out_dir)
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=f"{STAGE_PREFIX}{os.getpid()}-"))
    try:
        yield tmp
        made = sorted(p.name for p in tmp.iterdir())
        missing = set(names) - set(made)
        if missing:  # a writer failed to produce a file it promised: an internal error, not user input
            msg = _("export did not produce {missing}").format(missing=sorted(missing))
            raise RuntimeError(msg)
        for name in made:
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
            (tmp / name).replace(out_dir / name)
        logger.info("export: %d files in %s", len(made), out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
