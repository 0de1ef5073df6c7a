"""Text cells that Excel/WPS would run as formulas are written as text in every CSV gisplan writes."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from gisplan.io.atomic import FORMULA_PREFIXES, defuse_text_cells, write_atomic_csv

if TYPE_CHECKING:
    from pathlib import Path

ATTACKS = ['=HYPERLINK("http://x","点击")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", ATTACKS)
def test_every_formula_prefix_becomes_text(tmp_path: Path, text: str) -> None:
    assert text.startswith(FORMULA_PREFIXES)
    frame = pd.DataFrame({"name": [text, "来苏镇养老站"], "value": [-1.5, 2.0], "code": ["500118100000", None]})
    write_atomic_csv(frame, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "value", "code"]
    assert rows[1] == ["'" + text, "-1.5", "500118100000"]
    assert rows[2] == ["来苏镇养老站", "2.0", ""]


def test_numbers_mixed_types_and_clean_frames() -> None:
    clean = pd.DataFrame({"a": ["x", "y"], "n": [-1, 2], "b": pd.Series([True, None], dtype=object)})
    assert defuse_text_cells(clean) is clean  # nothing to change, nothing copied
    mixed = pd.DataFrame({"m": ["=1", 5, None, np.nan], "s": pd.array(["-x", pd.NA, "ok", "@"], dtype="string")})
    out = defuse_text_cells(mixed)
    assert out["m"].tolist()[:3] == ["'=1", 5, None]
    assert np.isnan(out["m"].iloc[3])
    assert out["s"].tolist() == ["'-x", pd.NA, "ok", "'@"]
    assert mixed["m"].iloc[0] == "=1"  # the input is not modified
    assert list(defuse_text_cells(pd.DataFrame(columns=["=cmd"])).columns) == ["'=cmd"]
