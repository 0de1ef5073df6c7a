"""The column-wise table reader (`gisplan.io.tables.read_table`) gives what the per-cell rules give: the same
cells, the same rows as the user sees them, the same 合计 rows dropped, on every kind of awkward file."""

from __future__ import annotations

import csv
import io
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from gisplan.errors import SchemaError
from gisplan.io import tables
from gisplan.io.tables import read_table
from gisplan.validation import cells

if TYPE_CHECKING:
    from pathlib import Path

KNOWN = {"lon", "lat", "name", "名称", "经度", "纬度", "编号"}


def _per_cell(grid: list[list[Any]], lines: list[int]) -> tuple[list[str], list[list[str | None]], list[int]]:
    """The reader as it was before the column-wise one: every rule applied cell by cell (the reference)."""
    h = tables._pick_header(grid, KNOWN)
    header = [(tables._cell_text(c) or f"column_{j + 1}") for j, c in enumerate(grid[h])]
    width = len(header)
    body = [(lines[i], [tables._cell_text(c) for c in (row + [None] * width)[:width]])
            for i, row in enumerate(grid) if i > h and any(tables._cell_text(c) for c in row)]
    body = [(n, cells) for n, cells in body if not tables._is_total_row(cells)]
    return header, [cells for _, cells in body], [n for n, _ in body]


def _reference_csv(text: str) -> tuple[list[str], list[list[str | None]], list[int]]:
    reader = csv.reader(io.StringIO(text), csv.Sniffer().sniff(text[:8192], delimiters=",\t;|"))
    grid, lines, start = [], [], 1
    for record in reader:
        grid.append(list(record))
        lines.append(start)
        start = reader.line_num + 1
    return _per_cell(grid, lines)


AWKWARD = (
    "永川区养老机构台账（示意）\n"  # a title row
    "\n"  # a blank line
    "编号,名称,经度,纬度,备注\n"  # the header
    "1, 甲站 ,105.9,29.3,\n"  # spaces around a cell, an empty last cell
    "2,\u3000乙站\u3000,１０５．９,29.4,全角\n"  # ideographic spaces, full-width digits kept as text
    ",,,,\n"  # an empty record
    '3,"丙站\n跨行",105.8,29.2,"引号,逗号"\n'  # a quoted cell spanning two lines, a quoted comma
    "4,丁站,105.7,29.1\n"  # a short row
    "合 计,,,,\n"  # a total row with a space
    ",ＴＯＴＡＬ：,,,\n"  # full-width is not 'total': kept
    ",Sum:,,,\n"  # a total in the first non-empty cell
    "5,小计,105.6,29.0,\n"  # a total in the second non-empty cell
    "6,戊站,105.5,28.9,小计\n"  # a total in the fifth: a remark, kept
    "\t\n"  # a line of white space
    "7,己站,105.4,28.8,\x1c\n"  # a control character Python counts as white space
)


@pytest.mark.parametrize("text", [AWKWARD, AWKWARD.replace(",", "\t"), AWKWARD.replace("\n", "\r\n")],
                         ids=["comma", "tab", "crlf"])
def test_column_wise_reader_equals_the_per_cell_rules(text: str, tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_bytes(text.encode("utf-8"))
    raw = read_table(path, known_headers=KNOWN)
    header, cells, rows = _reference_csv(text)
    assert list(raw.frame.columns) == header
    assert raw.frame.to_numpy(dtype=object).tolist() == cells
    assert raw.rows.tolist() == rows
    assert rows == [4, 5, 7, 9, 11, 14, 16]  # by hand: the lines a text editor shows
    assert raw.frame.dtypes.eq(object).all()
    assert raw.frame.iloc[1, 1] == "乙站"
    assert raw.frame.iloc[2, 4] in {"引号,逗号", "引号\t逗号"}


# no short row, no line of one cell: Arrow reads it
REGULAR = AWKWARD.replace("4,丁站,105.7,29.1\n", "4,丁站,105.7,29.1,\n").replace("\t\n", "")


@pytest.mark.parametrize("text", [REGULAR, REGULAR.replace('"丙站\n跨行"', "丙站"), REGULAR.rstrip("\n"),
                                  REGULAR.replace("\n", "\r\n")],
                         ids=["spanning", "one-line", "no-final-newline", "crlf"])
def test_arrow_path_counts_the_lines_a_quoted_cell_spans(text: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The row numbers of the Arrow path: counted per cell only when the body has more lines than records."""
    path = tmp_path / "ledger.csv"
    path.write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(tables, "_grid_to_table", None)  # the record-by-record path is not taken
    raw = read_table(path, known_headers=KNOWN)
    header, cells, rows = _reference_csv(text)
    assert list(raw.frame.columns) == header
    assert raw.frame.to_numpy(dtype=object).tolist() == cells
    assert raw.rows.tolist() == rows
    assert rows[-1] == (15 if "跨行" in text else 14)


def test_ragged_rows_are_read_record_by_record(tmp_path: Path) -> None:
    """A row longer than the first rows (beyond the header scan) sends the whole file the per-record way."""
    text = "名称,lon,lat\n" + "A,1,2\n" * 40 + "B,3,4,extra,cells\n合计,4,6\nC,5,6\n"
    path = tmp_path / "ragged.csv"
    path.write_text(text, encoding="utf-8")
    assert tables._fast_csv(text, csv.excel, "ragged.csv", KNOWN, "utf-8") is None  # the fast path steps aside
    raw = read_table(path, known_headers=KNOWN)
    assert raw.frame.to_numpy(dtype=object).tolist()[-2:] == [["B", "3", "4"], ["C", "5", "6"]]
    assert raw.rows.tolist()[-2:] == [42, 44]


def test_xlsx_numbers_and_text_cells(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    for row in (["台账"], [], ["编号", "名称", "lon", "lat", "达标"], [1.0, "  甲 ", 105.9, 29.3, True],
                [None, None, None, None, None], ["合计", None, None, None, None], [2, "乙", 105.25, 29.5, False]):
        ws.append(row)
    path = tmp_path / "ledger.xlsx"
    book.save(path)
    with caplog.at_level(logging.INFO, logger="gisplan.io.tables"):
        raw = read_table(path, known_headers=KNOWN)
    assert raw.frame.to_numpy(dtype=object).tolist() == [["1", "甲", "105.9", "29.3", "true"],
                                                         ["2", "乙", "105.25", "29.5", "false"]]
    assert raw.rows.tolist() == [4, 7]
    assert "skipped summary row(s) 6" in caplog.text


def test_header_without_rows_and_duplicate_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("标题\n名称,lon,lat\n合计,,\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"header \(row 2\) but no data rows"):
        read_table(path, known_headers=KNOWN)
    path.write_text("名称,lon,lon\nA,1,2\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"row 1.*2 columns named 'lon'"):
        read_table(path, known_headers=KNOWN)


def test_a_million_cells_are_read_column_wise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No per-cell Python on a clean table: the per-cell rule runs only on the header scan."""
    n = 100_000
    frame = pd.DataFrame({"编号": np.arange(n), "lon": np.round(np.linspace(105, 106, n), 6), "lat": 29.3})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    calls = 0
    real = tables._cell_text

    def counting(value: Any) -> str | None:
        nonlocal calls
        calls += 1
        return real(value)

    monkeypatch.setattr(tables, "_cell_text", counting)
    raw = read_table(path, known_headers=KNOWN)
    assert len(raw.frame) == n
    assert raw.rows[[0, -1]].tolist() == [2, n + 1]
    assert raw.frame.iloc[-1].tolist() == [str(n - 1), "106.0", "29.3"]
    assert calls < 1_000


def test_column_wise_cells_equal_the_per_cell_rules() -> None:
    """`_cells` (blanks, and a conversion once per distinct text) and `_number_text` (full-width digits,
    thousands separators, a unit word after the number) give what the per-cell rules give."""
    values = pd.Series(["  ", None, np.nan, pd.NA, "甲", " 乙 ", "甲", 1.0, True, 0, "１２０．５平方米", "1,200 m2",
                        "350床", "床", "  ", "12张", "７", 3.5], index=np.arange(100, 118), dtype=object)
    expected = [None if cells._blank(v) else str(v).strip() for v in values]
    assert cells._cells(values, lambda v: str(v).strip()).tolist() == expected
    assert cells._cells(values).tolist() == [None if cells._blank(v) else v for v in values]
    text = values[values.map(lambda v: isinstance(v, str))]
    assert cells._cells(text, str.upper).index.tolist() == text.index.tolist()
    suffixes = ("平方米", "m2", "床", "张")
    per_cell = [v if not isinstance(v, str) else cells._strip_suffix(
        str(cells._halfwidth(v)).replace(",", ""), suffixes) for v in values]
    got = cells._number_text(values, suffixes)
    assert got.index.tolist() == values.index.tolist()
    assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in per_cell]
    assert got.loc[[110, 111, 112, 113, 116]].tolist() == ["120.5", "1200", "350", "床", "7"]
    numbers = pd.Series([1.5, np.nan, None], dtype=object)  # a layer's number column: no text at all
    assert cells._cells(numbers).tolist() == [1.5, None, None]
    assert cells._number_text(numbers, suffixes).tolist()[:1] == [1.5]


@pytest.mark.parametrize(("data", "encoding"), [
    (b"\xef\xbb\xbf" + REGULAR.encode("utf-8"), None), (REGULAR.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + REGULAR.encode("utf-8"), "utf-8"), (REGULAR.encode("gb18030"), None),
    (REGULAR.rstrip("\n").encode("utf-8"), "UTF8"),
], ids=["bom", "crlf-given", "bom-given", "gbk", "no-final-newline"])
def test_arrow_reads_a_utf8_files_own_bytes_as_its_text(data: bytes, encoding: str | None, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The body read from the file's bytes (UTF-8, nothing cleaned) is the body read from its text encoded."""
    path = tmp_path / "ledger.csv"
    path.write_bytes(data)
    fast = tables.read_text_columns(path, known_headers=KNOWN, encoding=encoding)
    through_text = tables._fast_csv
    monkeypatch.setattr(tables, "_fast_csv", lambda *a, **k: through_text(*a, **{**k, "utf8": None}))
    slow = tables.read_text_columns(path, known_headers=KNOWN, encoding=encoding)
    assert list(fast.columns) == list(slow.columns)
    assert all(fast.columns[c].equals(slow.columns[c]) for c in fast.columns)
    assert fast.rows.tolist() == slow.rows.tolist()
