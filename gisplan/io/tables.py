"""Reading tables (CSV/TSV in any Chinese encoding, XLSX) as text, exactly as the user typed them,
with the row numbers the user sees, so that validation can name rows; typing and geometry building
happen in :mod:`gisplan.validation`.
"""

from __future__ import annotations

import csv
import io as _stdio
import logging
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gisplan.catalogue import normalise_header
from gisplan.errors import Problem, SchemaError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = [
    "COORDINATE_HEADERS",
    "LAT_HEADERS",
    "LONLAT_HEADERS",
    "LON_HEADERS",
    "TABLE_SUFFIXES",
    "WKT_HEADERS",
    "RawTable",
    "read_table",
]

logger = logging.getLogger(__name__)


TABLE_SUFFIXES = frozenset({".csv", ".txt", ".tsv", ".xlsx", ".xlsm"})

# The one table of how coordinate columns are headed in tables, as :func:`gisplan.catalogue.normalise_header`
# spells them (canonical name first). Layer validation, the ad-hoc `gisplan coverage` points and the header
# detection of imports all read these.
#: longitude, or a projected easting
LON_HEADERS = ("lon", "经度", "lng", "long", "longitude", "x", "x坐标", "经度(e)", "东坐标", "easting")
#: latitude, or a projected northing
LAT_HEADERS = ("lat", "纬度", "latitude", "y", "y坐标", "纬度(n)", "北坐标", "northing")
#: one column holding "longitude,latitude"
LONLAT_HEADERS = ("lonlat", "经纬度", "经纬度坐标", "坐标", "lnglat", "lng,lat", "经度,纬度")
#: a geometry as WKT
WKT_HEADERS = ("wkt", "geometry", "geom", "几何")
#: every header above, to recognise a table's header row
COORDINATE_HEADERS = frozenset((*LON_HEADERS, *LAT_HEADERS, *LONLAT_HEADERS, *WKT_HEADERS))


_HEADER_SCAN_ROWS = 30


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table read as text.

    Attributes
    ----------
    frame : pandas.DataFrame
        One string column per header cell (``None`` where empty), in file order.
    rows : numpy.ndarray
        The row number the user sees for each frame row (CSV line / Excel row, 1-based).
    source : str
        File name (and sheet) for messages.
    encoding : str | None
        The text encoding detected for CSV files.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    source: str
    encoding: str | None = None


def _decode(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            msg = f"cannot decode the file as {encoding}: {exc}."
            fix = "check `--encoding`, or leave it out to detect UTF-8 / GBK automatically."
            raise SchemaError([Problem(source, None, None, msg, fix)]) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        line = data[: utf8_error.start].count(b"\n") + 1
        msg = (
            f"the file is neither UTF-8 nor GBK/GB18030 text (undecodable bytes on line {line}, "
            f"byte {utf8_error.start})."
        )
        fix = "save it from Excel as 'CSV UTF-8' (or 'CSV' in GBK), or give `--encoding`."
        raise SchemaError([Problem(source, line, None, msg, fix)]) from None


def _pick_header(grid: list[list[Any]], known: set[str]) -> int:
    best, best_hits = -1, 0
    for i, row in enumerate(grid[:_HEADER_SCAN_ROWS]):
        hits = sum(1 for cell in row if cell is not None and normalise_header(str(cell)) in known)
        if hits > best_hits:
            best, best_hits = i, hits
    if best >= 0:
        return best
    for i, row in enumerate(grid):
        if any(cell not in (None, "") for cell in row):
            return i
    return 0


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return text or None


_TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "total", "sum"})


def _is_total_row(cells: list[str | None]) -> bool:
    """A ledger's 合计/小计 line: its first non-empty cells (up to two) hold only such a word."""
    first = [c for c in cells if c][:2]
    return any("".join(c.split()).lower().rstrip(":：") in _TOTAL_WORDS for c in first)


def _grid_to_table(
    grid: list[list[Any]], source: str, known: set[str], encoding: str | None, *, lines: list[int] | None = None
) -> RawTable:
    """Find the header, drop blank and 合计 rows, and keep each row's number as the user sees it."""
    line = lines if lines is not None else list(range(1, len(grid) + 1))
    if not any(any(_cell_text(c) for c in row) for row in grid):
        msg = "the file has no data rows."
        fix = "check that the right file (and sheet) was given and that it was saved with its rows."
        raise SchemaError([Problem(source, None, None, msg, fix)])
    h = _pick_header(grid, known)
    header = [(_cell_text(c) or f"column_{j + 1}") for j, c in enumerate(grid[h])]
    seen: dict[str, int] = {}
    problems = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if count > 1:
            msg = f"the header row (row {line[h]}) has {count} columns named {name!r}."
            problems.append(Problem(source, line[h], name, msg, "rename or delete the duplicate column."))
    if problems:
        raise SchemaError(problems)
    width = len(header)
    body = [
        (line[i], [_cell_text(c) for c in (row + [None] * width)[:width]])
        for i, row in enumerate(grid)
        if i > h and any(_cell_text(c) for c in row)
    ]
    totals = [n for n, cells in body if _is_total_row(cells)]
    if totals:
        logger.info("%s: skipped summary row(s) %s (合计/小计)", source, ", ".join(map(str, totals)))
        body = [(n, cells) for n, cells in body if n not in set(totals)]
    frame = pd.DataFrame([cells for _, cells in body], columns=header, dtype=object)
    rows = np.array([n for n, _ in body], dtype=np.int64)
    if frame.empty:
        msg = f"the table has a header (row {line[h]}) but no data rows."
        raise SchemaError([Problem(source, None, None, msg, "fill in the rows, or choose the right sheet.")])
    return RawTable(frame, rows, source, encoding)


def read_table(
    path: Path, *, known_headers: Iterable[str] = (), sheet: str | None = None, encoding: str | None = None
) -> RawTable:
    """Read a CSV/TSV (UTF-8, UTF-16, GBK or GB18030, detected) or XLSX sheet as text.

    The header is the row among the first 30 with the most cells in `known_headers` (normalised with
    :func:`gisplan.catalogue.normalise_header`): ledgers often open with a title row.

    Parameters
    ----------
    path : Path
        The file.
    known_headers : iterable of str
        Normalised header names that identify the header row.
    sheet : str, optional
        XLSX sheet name; default the first sheet.
    encoding : str, optional
        Force a text encoding for CSV files.

    Returns
    -------
    RawTable

    Raises
    ------
    SchemaError
        On an undecodable, empty, or unreadable file, naming the file and the fix.
    """
    known = set(known_headers)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, known, sheet)
    data = path.read_bytes()
    text, used = _decode(data, path.name, encoding)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel_tab if suffix == ".tsv" else csv.excel
    reader = csv.reader(_stdio.StringIO(text), dialect)
    grid: list[list[Any]] = []
    lines: list[int] = []  # the text line each record starts on (a quoted cell may span lines)
    start = 1
    for record in reader:
        grid.append(list(record))
        lines.append(start)
        start = reader.line_num + 1
    return _grid_to_table(grid, path.name, known, used, lines=lines)


def _read_xlsx(path: Path, known: set[str], sheet: str | None) -> RawTable:
    import openpyxl  # noqa: PLC0415 - only needed for Excel input
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        msg = f"cannot open the workbook: {str(exc).rstrip('.')}."
        fix = "open and re-save it in Excel/WPS as .xlsx (old .xls files must be saved as .xlsx)."
        raise SchemaError([Problem(path.name, None, None, msg, fix)]) from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            msg = f"the workbook has no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})."
            raise SchemaError([Problem(path.name, None, None, msg, "give one of those with `--sheet`.")])
        if hasattr(ws, "reset_dimensions"):  # exporters often write a stale <dimension ref="A1"/>
            ws.reset_dimensions()
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        source = f"{path.name} [sheet {ws.title}]"
    finally:
        book.close()
    return _grid_to_table(grid, source, known, None)
