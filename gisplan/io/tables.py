"""Reading tables (CSV/TSV in any Chinese encoding, XLSX) as text, exactly as the user typed them,
with the row numbers the user sees, so that validation can name rows; typing and geometry building
happen in :mod:`gisplan.validation`.
"""

from __future__ import annotations

import csv
import io as _stdio
import logging
import re
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gisplan.catalogue import normalise_header
from gisplan.errors import Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.textfile import clean_text, decode_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

__all__ = [
    "COORDINATE_HEADERS",
    "LAT_HEADERS",
    "LONLAT_HEADERS",
    "LON_HEADERS",
    "TABLE_SUFFIXES",
    "WKT_HEADERS",
    "RawTable",
    "TextColumns",
    "read_table",
    "read_text_columns",
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
    blanks : Mapping[tuple[int, str], str]
        Why a cell is empty where the file says more than "empty" ((row, column) → note): part of cells merged
        across columns.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    source: str
    encoding: str | None = None
    blanks: Mapping[tuple[int, str], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextColumns:
    """A table read as text, column by column in Arrow: what :class:`RawTable` holds before its cells become
    Python strings (a million-row point table is read, checked and written without that conversion).

    Attributes
    ----------
    columns : dict of str to pyarrow.StringArray
        One column per header cell, in file order: the cells stripped, null where empty, blank and 合计 rows
        left out (the same rows as :attr:`RawTable.frame`).
    rows, source, encoding, blanks
        As in :class:`RawTable`.
    """

    columns: dict[str, pa.Array]
    rows: np.ndarray
    source: str
    encoding: str | None = None
    blanks: Mapping[tuple[int, str], str] = field(default_factory=dict)

    def raw_table(self) -> RawTable:
        """The same table as a :class:`RawTable`: object columns of Python strings, None where empty."""
        frame = pd.DataFrame({j: column.to_numpy(zero_copy_only=False)
                              for j, column in enumerate(self.columns.values())}, dtype=object)
        frame.columns = pd.Index(list(self.columns), dtype=object)
        return RawTable(frame, self.rows, self.source, self.encoding, self.blanks)


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
    """One cell as text, the rule the column-wise path (:func:`_column_text`) follows for text cells."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return text or None


_TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "total", "sum"})

# every character Python's str.split() and str.strip() treat as white space (all below U+3001), so that the
# column-wise (Arrow) path removes exactly what the per-cell rules remove
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in _SPACES) + "]"
# the first characters a 合计/total cell can start with (after its leading white space): the per-cell rule
# lower-cases, so T and S too; every other cell is no total row, without the regular expression
_FIRST_LETTERS = frozenset(w[0] for w in _TOTAL_WORDS)
_TOTAL_FIRST = sorted({c for c in map(chr, range(0x10000)) if c.lower()[:1] in _FIRST_LETTERS})  # 25 ms, not 100


def _column_text(values: np.ndarray | pa.Array) -> pa.Array:
    """A column of cells as Arrow text (stripped, null where empty), column-wise when every cell is text or None."""
    if isinstance(values, np.ndarray) and pd.api.types.infer_dtype(values, skipna=True) not in {"string", "empty"}:
        return pa.array([_cell_text(v) for v in values], type=pa.string())  # XLSX numbers, dates and yes/no cells
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string(), from_pandas=True)
    text = pc.utf8_trim(arr, characters=_SPACES)
    empty = pc.equal(pc.binary_length(text), 0)
    if not pc.any(empty).as_py():  # (a point table's coordinates: no empty cell, nothing to replace)
        return text
    return pc.if_else(empty, pa.scalar(None, pa.string()), text)


def _total_cells(arr: pa.Array) -> np.ndarray:
    """Which (stripped) cells hold only 合计/小计/total … (spaces and a trailing colon aside)."""
    hit = np.zeros(len(arr), dtype=bool)
    maybe = pc.fill_null(pc.is_in(pc.utf8_slice_codeunits(arr, 0, 1), value_set=pa.array(_TOTAL_FIRST)), False)
    where = np.flatnonzero(np.asarray(maybe.to_numpy(zero_copy_only=False), dtype=bool))
    if len(where):
        some = arr.take(pa.array(where))
        norm = pc.utf8_rtrim(pc.utf8_lower(pc.replace_substring_regex(some, f"{_SPACE_CLASS}+", "")),
                             characters=":：")
        found = pc.fill_null(pc.is_in(norm, value_set=pa.array(sorted(_TOTAL_WORDS))), False)
        hit[where] = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    return hit


def _is_total_row(cells: list[str | None]) -> bool:
    """A ledger's 合计/小计 line: its first non-empty cells (up to two) hold only such a word."""
    first = [c for c in cells if c][:2]
    return any("".join(c.split()).lower().rstrip(":：") in _TOTAL_WORDS for c in first)


def _total_rows(columns: list[pa.Array]) -> np.ndarray:
    """:func:`_is_total_row` for every row at once: a total word among each row's first two non-empty cells."""
    n = len(columns[0]) if columns else 0
    seen = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=bool)
    for column in columns:
        filled = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        first_two = filled & (seen < 2)
        if first_two.any():
            total |= first_two & _total_cells(column)
        seen += filled
        if (seen >= 2).all():  # every row has its first two cells
            break
    return total


def _header_row(grid: list[list[Any]], source: str, known: set[str], lines: list[int]) -> tuple[int, list[str]]:
    """The header row's index and its cells, named ``column_<j>`` where empty; duplicate names are an error."""
    if not any(any(_cell_text(c) for c in row) for row in grid):
        msg = _("the file has no data rows.")
        fix = _("check that the right file (and sheet) was given and that it was saved with its rows.")
        raise SchemaError([Problem(source, None, None, msg, fix)])
    h = _pick_header(grid, known)
    header = [(_cell_text(c) or f"column_{j + 1}") for j, c in enumerate(grid[h])]
    seen: dict[str, int] = {}
    problems = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if count > 1:
            msg = _("the header row (row {row}) has {count} columns named {name!r}.").format(
                    row=lines[h], count=count, name=name)
            problems.append(Problem(source, lines[h], name, msg, "rename or delete the duplicate column."))
    if problems:
        raise SchemaError(problems)
    return h, header


def _columns_to_table(
    columns: list[np.ndarray] | list[pa.Array], lines: np.ndarray, header: list[str], header_line: int,
    source: str, encoding: str | None,
) -> TextColumns:
    """The body below the header, column-wise: cells as text, blank and 合计 rows dropped, row numbers kept."""
    text = [_column_text(c) for c in columns]
    keep = np.zeros(len(lines), dtype=bool)
    for column in text:
        keep |= np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    totals = _total_rows(text) & keep
    if totals.any():
        logger.info("%s: skipped summary row(s) %s (合计/小计)", source, ", ".join(map(str, lines[totals])))
        keep &= ~totals
    rows = np.asarray(lines, dtype=np.int64)[keep]
    if not len(rows):
        msg = _("the table has a header (row {header_line}) but no data rows.").format(header_line=header_line)
        raise SchemaError([Problem(source, None, None, msg, "fill in the rows, or choose the right sheet.")])
    if not keep.all():
        mask = pa.array(keep)
        text = [pc.filter(column, mask) for column in text]
    return TextColumns(dict(zip(header, text, strict=True)), rows, source, encoding)


def _grid_to_table(
    grid: list[list[Any]], source: str, known: set[str], encoding: str | None, *, lines: list[int] | None = None
) -> TextColumns:
    """Find the header, drop blank and 合计 rows, and keep each row's number as the user sees it."""
    line = lines if lines is not None else list(range(1, len(grid) + 1))
    h, header = _header_row(grid, source, known, line)
    width = len(header)
    body = [(row + [None] * width)[:width] for row in grid[h + 1:]]
    columns = [np.array([r[j] for r in body], dtype=object) for j in range(width)]
    return _columns_to_table(columns, np.asarray(line[h + 1:], dtype=np.int64), header, line[h], source, encoding)


def _line_offset(text: str | bytes, line: int) -> int:
    """The index in `text` (or its UTF-8 bytes) where (1-based) `line` starts."""
    newline: Any = "\n" if isinstance(text, str) else b"\n"
    at = 0
    for _skipped in range(line - 1):
        at = text.find(newline, at) + 1
        if at == 0:
            return len(text)
    return at


def _fast_csv(
    text: str, dialect: Any, source: str, known: set[str], encoding: str, *, utf8: bytes | None = None,
) -> TextColumns | None:
    """The body below the header parsed by Arrow's CSV reader, every cell as text; None (read record by
    record) when a body row has more or fewer cells than the header, or the dialect is one Arrow does not speak.

    Rows are text lines: blank lines are kept as empty records, and a quoted cell that spans lines
    moves the following rows down by its line breaks. `utf8`, where given, is `text` as UTF-8 bytes (the file's
    own, with or without a BOM before the first line): Arrow reads the body from them, not from a copy of the text
    encoded again (a million rows: 40 ms less).
    """
    if dialect.skipinitialspace or dialect.lineterminator not in {"\r\n", "\n"} or "\n" not in text:
        return None  # (old Mac files end their lines with \r alone)
    reader = csv.reader(_stdio.StringIO(text), dialect)
    head: list[list[Any]] = []
    head_lines: list[int] = []
    ends: list[int] = []
    start = 1
    for record in reader:  # the header scan, as the record-by-record path reads it
        head.append(list(record))
        head_lines.append(start)
        ends.append(reader.line_num)
        start = reader.line_num + 1
        if len(head) > _HEADER_SCAN_ROWS:
            break
    if not any(any(_cell_text(c) for c in row) for row in head):
        return None
    h, header = _header_row(head, source, known, head_lines)
    first = ends[h] + 1  # the line the body starts on
    names = [f"c{j}" for j in range(len(header))]
    invalid: list[int] = []

    def _count(_row: Any) -> str:
        invalid.append(1)
        return "skip"

    quoting = dialect.quoting != csv.QUOTE_NONE
    body = utf8[_line_offset(utf8, first):] if utf8 is not None else text[_line_offset(text, first):].encode("utf-8")
    try:
        table = pacsv.read_csv(
            _stdio.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter, quote_char=(dialect.quotechar or '"') if quoting else False,
                double_quote=dialect.doublequote, escape_char=dialect.escapechar or False, newlines_in_values=True,
                ignore_empty_lines=False, invalid_row_handler=_count,
            ),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" not in str(exc):
            return None
        table = pa.table({n: pa.array([], pa.string()) for n in names})
    if invalid:
        return None
    columns = [table.column(n).combine_chunks() for n in names]
    lines = first + np.arange(table.num_rows, dtype=np.int64)
    if body.count(b"\n") + (not body.endswith(b"\n")) != table.num_rows:  # a quoted cell spans lines
        spans = np.zeros(table.num_rows, dtype=np.int64)
        for column in columns:
            spans += np.asarray(pc.count_substring(column, "\n").to_numpy(zero_copy_only=False), dtype=np.int64)
        lines += np.concatenate([[0], np.cumsum(spans)[:-1]])
    return _columns_to_table(columns, lines.astype(np.int64), header, head_lines[h], source, encoding)


def read_table(
    path: Path, *, known_headers: Iterable[str] = (), sheet: str | None = None, encoding: str | None = None
) -> RawTable:
    """Read a CSV/TSV (UTF-8, UTF-16, GBK or GB18030, detected) or XLSX sheet as text.

    :func:`read_text_columns` with the cells as Python strings (see there).

    Returns
    -------
    RawTable

    Raises
    ------
    SchemaError
        On an undecodable, empty, or unreadable file, naming the file and the fix.
    """
    return read_text_columns(path, known_headers=known_headers, sheet=sheet, encoding=encoding).raw_table()


def read_text_columns(
    path: Path, *, known_headers: Iterable[str] = (), sheet: str | None = None, encoding: str | None = None
) -> TextColumns:
    """Read a CSV/TSV (UTF-8, UTF-16, GBK or GB18030, detected) or XLSX sheet as Arrow text columns.

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
    TextColumns

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
    text, used = decode_text(data, path.name, encoding)
    cleaned = clean_text(text, path.name)
    # a UTF-8 file's bytes are its text's (a BOM aside, before the body) when nothing was cleaned: Arrow reads them
    utf8 = data if used.lower().replace("_", "-") in {"utf-8", "utf8"} and cleaned is text else None
    text = cleaned
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel_tab if suffix == ".tsv" else csv.excel
    fast = _fast_csv(text, dialect, path.name, known, used, utf8=utf8)
    if fast is not None:
        return fast
    reader = csv.reader(_stdio.StringIO(text), dialect)  # ragged rows: record by record
    grid: list[list[Any]] = []
    lines: list[int] = []  # the text line each record starts on (a quoted cell may span lines)
    start = 1
    for record in reader:
        grid.append(list(record))
        lines.append(start)
        start = reader.line_num + 1
    return _grid_to_table(grid, path.name, known, used, lines=lines)


def _read_xlsx(path: Path, known: set[str], sheet: str | None) -> TextColumns:
    import openpyxl  # noqa: PLC0415 - only needed for Excel input
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        msg = _("cannot open the workbook: {reason}.").format(reason=str(exc).rstrip('.'))
        fix = _("open and re-save it in Excel/WPS as .xlsx (old .xls files must be saved as .xlsx).")
        raise SchemaError([Problem(path.name, None, None, msg, fix)]) from None
    try:
        states = {ws.title: getattr(ws, "sheet_state", "visible") for ws in book.worksheets}
        visible = [name for name, state in states.items() if state == "visible"]
        listed = ", ".join(f"{n}{'' if states[n] == 'visible' else ' (hidden)'}" for n in book.sheetnames)
        if sheet is None:
            if not visible:
                msg = _("every sheet of the workbook is hidden ({listed}).").format(listed=listed)
                raise SchemaError([Problem(path.name, None, None, msg, "choose one with `--sheet`.")])
            ws = book[visible[0]]
            if len(book.sheetnames) > 1:
                logger.info("%s: reading sheet %r, the first visible one (sheets: %s); choose another with --sheet",
                            path.name, ws.title, listed)
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            msg = _("the workbook has no sheet {sheet!r} (sheets: {listed}).").format(sheet=sheet, listed=listed)
            raise SchemaError([Problem(path.name, None, None, msg, "give one of those with `--sheet`.")])
        if hasattr(ws, "reset_dimensions"):  # exporters often write a stale <dimension ref="A1"/>
            ws.reset_dimensions()
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        xml = _sheet_xml(path, getattr(ws, "_worksheet_path", None))
        source = f"{path.name} [sheet {ws.title}]"
    finally:
        book.close()
    blanks = _merged_cells(grid, xml, source)
    try:
        table = _grid_to_table(grid, source, known, None)
    except SchemaError as exc:
        if len(book.sheetnames) < 2:
            raise
        raise SchemaError([Problem(p.source, p.row, p.field, p.message, _("{fix} (sheets: {listed}; choose one "
                                                                          "with `--sheet`)").format(
                fix=p.fix, listed=listed)) for p in exc.problems]) from None
    _refuse_formulas(table, xml, source)
    if blanks:
        header = list(table.columns)
        notes = {(r, header[c]): text for (r, c), text in blanks.items() if c < len(header)}
        table = TextColumns(table.columns, table.rows, table.source, table.encoding, notes)
    return table


def _sheet_xml(path: Path, member: str | None) -> bytes:
    """The XML of one worksheet of an .xlsx (empty when it cannot be found)."""
    if not member:
        return b""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member.lstrip("/"))
    except (KeyError, OSError, zipfile.BadZipFile):
        return b""


_MERGE_RE = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
# a formula cell whose value was never saved: <f>…</f> (or a shared <f …/>) followed by no or an empty <v>
_FORMULA_RE = re.compile(
    rb'<c r="([A-Z]+)(\d+)"[^>]*>\s*(?:<f[^>]*>([^<]*)</f>|<f[^>]*/>)\s*(?:<v\s*/>|<v></v>)?\s*</c>')


def _merged_cells(grid: list[list[Any]], xml: bytes, source: str) -> dict[tuple[int, int], str]:
    """Fill cells merged down one column with their value (a 所属镇街 written once for five rows means all five);
    return, for cells merged across columns, why they are empty ((row, column index) → note)."""
    from openpyxl.utils import column_index_from_string  # noqa: PLC0415

    notes: dict[tuple[int, int], str] = {}
    for c1, r1, c2, r2 in _MERGE_RE.findall(xml):
        first_col, last_col = column_index_from_string(c1.decode()) - 1, column_index_from_string(c2.decode()) - 1
        top, bottom = int(r1), int(r2)
        ref = f"{c1.decode()}{top}:{c2.decode()}{bottom}"
        if top > len(grid):
            continue
        value = grid[top - 1][first_col] if first_col < len(grid[top - 1]) else None
        if first_col == last_col:
            for r in range(top + 1, min(bottom, len(grid)) + 1):
                row = grid[r - 1]
                if first_col < len(row):
                    row[first_col] = value
            logger.info("%s: merged cells %s read as %r on each of their rows", source, ref, value)
            continue
        for r in range(top, min(bottom, len(grid)) + 1):
            for c in range(first_col, last_col + 1):
                if (r, c) != (top, first_col):
                    notes[(r, c)] = (_("the cell is part of the merged cells {ref} (merged across columns, its "
                                       "value is in {column}{top})").format(ref=ref, column=c1.decode(), top=top))
    return notes


def _refuse_formulas(table: TextColumns, xml: bytes, source: str) -> None:
    """Formula cells of the table whose value was never saved read as empty: refuse them by row and column."""
    if b"<f" not in xml:
        return
    from openpyxl.utils import column_index_from_string  # noqa: PLC0415

    rows = set(table.rows.tolist())
    header = list(table.columns)
    problems = []
    for col_letters, row, formula in _FORMULA_RE.findall(xml):
        r, c = int(row), column_index_from_string(col_letters.decode()) - 1
        if r in rows and c < len(header):
            text = f" (={formula.decode(errors='replace')})" if formula else ""
            problems.append(Problem(source, r, str(header[c]), _("the cell holds a formula{text} whose value was "
                                                                 "never saved, so it would read as empty.").format(
                    text=text), "open the workbook in Excel/WPS and "
                                    "save it (that stores the values), or paste the values instead of formulas."))
    if problems:
        raise SchemaError(problems[:200])
