"""Rows as the user sees them: every message names the line of a text editor or the row of Excel, title rows
above the header included (cost tables and demand tables of `gisplan propose`, road layers' one-way codes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely import LineString

from gisplan.cli.main import cli
from gisplan.errors import NetworkError, SchemaError
from gisplan.io.spatial import read_spatial
from gisplan.network.graph import build_network
from gisplan.siting.costs import cost_table

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"


def _propose_inputs(tmp_path: Path) -> list[str]:
    costs = tmp_path / "costs.csv"
    costs.write_text(
        "永川区 15 分钟可达成本表\n"  # line 1: a title
        "（单位：分钟）\n"  # line 2
        "demand_id,candidate_id,minutes\n"  # line 3: the header
        "a,X,3\n"  # line 4
        "b,X,abc\n"  # line 5: not a number
        "c,Q,2\n",  # line 6: an unknown candidate
        encoding="utf-8",
    )
    demand = tmp_path / "demand.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "需求"
    ws.append(["需求点（户数）", None])  # Excel row 1: a merged title
    ws.merge_cells("A1:B1")
    ws.append([None, None])  # row 2: blank
    ws.append(["demand_id", "weight"])  # row 3: the header
    ws.append(["a", 5])  # row 4
    ws.append(["b", "many"])  # row 5: not a number
    ws.append(["c", 2])  # row 6
    ws.append(["b", 1])  # row 7: a duplicate id
    wb.save(demand)
    candidates = tmp_path / "candidates.csv"
    candidates.write_text("候选点位\ncandidate_id\nX\nX\n", encoding="gbk")  # line 4: a duplicate
    return ["propose", "--costs", str(costs), "--demand", str(demand), "--candidates", str(candidates),
            "--model", "mclp", "--p", "1", "--cutoff", "5"]


def test_propose_names_the_rows_the_user_sees(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, _propose_inputs(tmp_path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    out = result.output
    assert "costs.csv, row 5, field `minutes`: 'abc' is not a number ≥ 0" in out
    assert "costs.csv, row 6, field `candidate_id`: 'Q' is not in candidates.csv" in out
    assert "demand.xlsx [sheet 需求], row 5, field `weight`: 'many' is not a number ≥ 0" in out
    assert "demand.xlsx [sheet 需求], row 7, field `demand_id`: duplicate id 'b'" in out
    assert "candidates.csv, row 4, field `candidate_id`: duplicate id 'X'" in out
    # nothing is counted from the header line
    for wrong in ("costs.csv, row 3", "costs.csv, row 4,", "demand.xlsx [sheet 需求], row 4,"):
        assert wrong not in out


def _roads(tmp_path: Path) -> Path:
    """Three roads in a GeoPackage whose fids are 40, 41, 42 (QGIS shows them so); the middle one has an
    unknown one-way code."""
    roads = gpd.GeoDataFrame({"fid": [40, 41, 42], "direction": [1, 9, 2]},  # a `fid` column sets the fids
                             geometry=[LineString([(0, 0), (500, 0)]), LineString([(500, 0), (500, 500)]),
                                       LineString([(500, 500), (0, 500)])], crs=UTM)
    path = tmp_path / "roads.gpkg"
    pyogrio.write_dataframe(roads.to_crs("EPSG:4326"), path, layer="roads")
    assert pyogrio.read_dataframe(path, fid_as_index=True).index.tolist() == [40, 41, 42]
    return path


def test_one_way_codes_name_the_feature_the_user_sees(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match=r"column `direction` holds 1 one-way value\(s\).*\(row 41: 9\)"):
        build_network(read_spatial(_roads(tmp_path)), crs=UTM)


def test_adhoc_coverage_names_the_road_feature(tmp_path: Path) -> None:
    roads = _roads(tmp_path)
    points = pd.DataFrame({"id": ["P1"], "lon": [105.0], "lat": [29.0]})
    points.to_csv(tmp_path / "fac.csv", index=False)
    points.to_csv(tmp_path / "homes.csv", index=False)
    result = CliRunner().invoke(cli, ["coverage", "--roads", str(roads), "--facilities", str(tmp_path / "fac.csv"),
                                      "--demand", str(tmp_path / "homes.csv"), "--crs", "EPSG:4326",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "row 41: 9" in result.output
    assert "row 2: 9" not in result.output


def test_cost_table_rows_default_and_length() -> None:
    costs = pd.DataFrame({"demand_id": ["a", "b"], "candidate_id": ["X", "X"], "minutes": [1, -1]})
    demand = pd.DataFrame({"demand_id": ["a", "b"], "weight": [1, 1]})
    candidates = pd.DataFrame({"candidate_id": ["X"]})
    with pytest.raises(SchemaError, match=r"costs, row 3, field `minutes`: -1 is not a number"):
        cost_table(costs, demand, candidates)  # a plain frame: its header on line 1
    with pytest.raises(SchemaError, match=r"costs, row 12, field `minutes`: -1 is not a number"):
        cost_table(costs, demand, candidates, rows=(np.array([11, 12]), None, None))
    with pytest.raises(ValueError, match=r"`rows` must give one row number per row \(2\), got 3"):
        cost_table(costs, demand, candidates, rows=(np.array([1, 2, 3]), None, None))
