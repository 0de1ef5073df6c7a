"""Writers behind `gisplan export`: GDAL vector files (GeoPackage, Shapefile, GeoJSON), an XLSX workbook whose
text cells stay text, and a staging folder that puts a whole export in place only when every file is written.
"""

from __future__ import annotations

import logging
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
    from collections.abc import Iterator, Mapping, Sequence

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
    return value


def _text(value: Any) -> str:
    """A code written as text: ``500118001000`` (an integer read as float loses its ``.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _put(sheet: Any, value: Any, number_format: str | None) -> Any:
    """One cell of a write-only sheet: text as text (never a formula, whatever it starts with), numbers with
    `number_format`; a plain value where no style is needed (most text)."""
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - only needed for XLSX output
    from openpyxl.styles import Alignment  # noqa: PLC0415

    if isinstance(value, str):
        if not value.startswith(FORMULA_PREFIXES):
            return value  # openpyxl stores a str that is not a formula as text
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text, whatever it starts with
        cell.alignment = Alignment(horizontal="left")
        cell.quotePrefix = True  # Excel/WPS keep it text when the cell is edited
        return cell
    if number_format is not None and isinstance(value, int | float) and not isinstance(value, bool):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format
        return cell
    return value


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
    written in openpyxl's write-only mode (rows streamed to the file; a cell object only where a style is needed).
    """
    from openpyxl import Workbook  # noqa: PLC0415 - only needed for XLSX output
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, frame in sheets.items():
        sheet = book.create_sheet(title=title[:31])
        formats = (number_formats or {}).get(title, {})
        as_text = set((text_columns or {}).get(title, ()))
        sheet.freeze_panes = "A2"  # the sheet's view, widths and filter go before its first row
        for j, name in enumerate(frame.columns, start=1):
            sheet.column_dimensions[get_column_letter(j)].width = min(40, max(8, 2 * len(str(name)) + 2))
        if filters and len(frame.columns):
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
        header = []
        for c in frame.columns:
            cell = WriteOnlyCell(sheet, value=str(c))
            cell.data_type = "s"
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        column_formats = [formats.get(str(c)) for c in frame.columns]
        column_text = [c in as_text for c in frame.columns]
        for row in frame.itertuples(index=False):
            cells = []
            for raw, text, number_format in zip(row, column_text, column_formats, strict=True):
                value = _cell(raw)
                if value is not None and text and not isinstance(value, str):
                    value = _text(value)
                cells.append(_put(sheet, value, number_format))
            sheet.append(cells)
    if notes:
        sheet = book.create_sheet(title="说明")
        for note in notes:
            cell = WriteOnlyCell(sheet, value=note)
            cell.data_type = "s"
            sheet.append([cell])
    book.save(path)


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
