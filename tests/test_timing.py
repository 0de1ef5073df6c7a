"""Honest timing (`-v`) and the fast outputs of the ad-hoc `gisplan coverage`: every stage is printed, start-up,
reading and writing included, and the stages add up to the wall time; the per-point file is a GeoPackage, a
GeoParquet file or none, with the same rows and points."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from pyproj import Transformer
from shapely import LineString

from gisplan.cli import coverage as coverage_cli
from gisplan.cli.main import cli
from gisplan.cli.timing import Stopwatch, process_age_s
from gisplan.io.atomic import write_atomic_gpkg
from tests.conftest import yongchuan_scenario

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"
X0, Y0 = 580_000.0, 3_248_000.0  # in 永川, UTM 48N
TO_LONLAT = Transformer.from_crs(UTM, 4326, always_xy=True)


def _stages(output: str) -> tuple[float, dict[str, float]]:
    """The wall time and the stages of the ``timing:`` line."""
    line = next(x for x in output.splitlines() if "timing: wall" in x)
    wall = float(re.search(r"wall ([\d.]+) s", line).group(1))  # type: ignore[union-attr]
    stages = {m.group(1): float(m.group(2)) for m in re.finditer(r"(?:= |\+ )(.+?) ([\d.]+) s", line)}
    return wall, stages


def test_stopwatch_laps_add_up_to_the_wall_time() -> None:
    clock = Stopwatch()
    time.sleep(0.02)
    clock.lap("read")
    time.sleep(0.03)
    clock.lap("coverage", {"snap": 0.01, "search": 0.005})
    assert list(clock.stages)[1:] == ["read", "coverage: snap", "coverage: search", "coverage: other"]
    assert clock.stages["read"] >= 0.02
    assert clock.stages["coverage: other"] >= 0.03 - 0.015 - 1e-3  # the lap less the parts given
    assert sum(clock.stages.values()) == pytest.approx(clock.wall_s, abs=1e-9)
    age = process_age_s()
    assert age is not None  # Linux: the process start is known, so start-up is a stage
    assert clock.stages["start-up (Python, imports)"] == pytest.approx(age, abs=1.0)


@pytest.fixture
def adhoc(tmp_path: Path) -> dict[str, Path]:
    """A 1 km road, one facility at its east end and 40 homes along it (every 25 m, 20 m north)."""
    roads = gpd.GeoDataFrame({"name": ["东西路"]}, geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)])], crs=UTM)
    roads.to_crs(4326).to_file(tmp_path / "roads.gpkg", layer="roads", driver="GPKG")
    lon, lat = TO_LONLAT.transform(X0 + 1000, Y0 + 10)
    pd.DataFrame({"id": ["F1"], "lon": [lon], "lat": [lat]}).to_csv(tmp_path / "fac.csv", index=False)
    x = np.arange(40) * 25.0
    lon, lat = TO_LONLAT.transform(X0 + x, np.full(40, Y0 + 20))
    pd.DataFrame({"编号": [f"H{i:02d}" for i in range(40)], "经度": lon, "纬度": lat}).to_csv(
        tmp_path / "homes.csv", index=False)
    return {"roads": tmp_path / "roads.gpkg", "facilities": tmp_path / "fac.csv", "demand": tmp_path / "homes.csv"}


def _adhoc(paths: dict[str, Path], out: Path, *extra: str) -> object:
    return CliRunner().invoke(cli, ["-v", "coverage", "--roads", str(paths["roads"]), "--facilities",
                                    str(paths["facilities"]), "--demand", str(paths["demand"]), "--crs", "EPSG:4326",
                                    "--out", str(out), *extra])


def test_adhoc_verbose_prints_every_stage_and_they_add_up(adhoc: dict[str, Path], tmp_path: Path) -> None:
    result = _adhoc(adhoc, tmp_path / "out")
    assert result.exit_code == 0, result.output
    wall, stages = _stages(result.output)
    assert list(stages) == [
        "start-up (Python, imports)", "read facilities", "read demand", "read roads", "build network",
        "demand points", "coverage: snap", "coverage: coverage", "coverage: other",  # no polygons, no unit totals
        "write csv", "write gpkg",
    ]
    assert sum(stages.values()) == pytest.approx(wall, abs=0.005 * len(stages) + 0.01)
    assert "INFO gisplan: read demand:" in result.output  # each stage as it ends
    quiet = CliRunner().invoke(cli, ["coverage", "--roads", str(adhoc["roads"]), "--facilities",
                                     str(adhoc["facilities"]), "--demand", str(adhoc["demand"]), "--crs",
                                     "EPSG:4326", "--out", str(tmp_path / "q")])
    assert quiet.exit_code == 0
    assert "timing:" not in quiet.output


def test_geo_formats_hold_the_same_rows_and_points(adhoc: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert _adhoc(adhoc, tmp_path / "g").exit_code == 0  # 40 points: auto is a GeoPackage
    gpkg = pyogrio.read_dataframe(tmp_path / "g" / "demand_minutes.gpkg", layer="demand_minutes")
    table = pd.read_csv(tmp_path / "g" / "demand_minutes.csv", dtype={"demand_id": str})
    assert not (tmp_path / "g" / "demand_minutes.parquet").exists()
    # home i walks 20 + (1000 - 25 i) + 10 m at 66.667 m/min: within 15 min (1,000 m) from i = 2 on
    assert table["covered"].tolist() == [False, False] + [True] * 38
    assert gpkg["demand_id"].tolist() == table["demand_id"].tolist()
    homes = pd.read_csv(adhoc["demand"])
    assert np.allclose(gpkg.geometry.x, homes["经度"], atol=0, rtol=0)  # the points as they were read
    monkeypatch.setattr(coverage_cli, "AUTO_GPKG_MAX_POINTS", 39)
    result = _adhoc(adhoc, tmp_path / "p")
    assert result.exit_code == 0, result.output
    assert "write parquet" in result.output
    parquet = gpd.read_parquet(tmp_path / "p" / "demand_minutes.parquet")
    assert parquet.crs.to_epsg() == 4326
    pd.testing.assert_frame_equal(pd.DataFrame(parquet.drop(columns="geometry")),
                                  pd.DataFrame(gpkg.drop(columns="geometry")), check_dtype=False)
    assert parquet.geometry.geom_equals_exact(gpkg.geometry, tolerance=0).all()
    assert not (tmp_path / "p" / "demand_minutes.gpkg").exists()
    assert _adhoc(adhoc, tmp_path / "n", "--geo-format", "none").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "n").iterdir()) == ["demand_minutes.csv"]
    forced = _adhoc(adhoc, tmp_path / "f", "--geo-format", "gpkg")
    assert forced.exit_code == 0
    assert (tmp_path / "f" / "demand_minutes.gpkg").exists()


def test_arrow_gpkg_write_keeps_types_and_chinese_text(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"name": ["甲站", None, "丙"], "beds": pd.array([1, None, 3], dtype="Int64"), "ok": [True, False, True],
         "mixed": [1, "二", None], "minutes": [1.5, np.nan, 3.0]},
        geometry=gpd.points_from_xy([105.9, 105.8, 105.7], [29.3, 29.2, 29.1]), crs=4326)
    table = pd.DataFrame({"indicator_id": ["YC-1"], "value": [0.5]})
    write_atomic_gpkg({"points": frame, "table": table}, tmp_path / "x.gpkg")
    back = pyogrio.read_dataframe(tmp_path / "x.gpkg", layer="points")
    assert back["name"].tolist()[0] == "甲站"
    assert pd.isna(back["name"].iloc[1])
    assert back["beds"].tolist()[::2] == [1, 3]
    assert back["ok"].tolist() == [True, False, True]
    assert back["mixed"].tolist()[:2] == ["1", "二"]
    assert back.crs.to_epsg() == 4326
    assert pyogrio.read_dataframe(tmp_path / "x.gpkg", layer="table")["indicator_id"].tolist() == ["YC-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gpkg"]  # no temporary left behind


def test_run_verbose_times_every_stage(tmp_path: Path) -> None:
    scenario = yongchuan_scenario(tmp_path, roads=False)
    result = CliRunner().invoke(cli, ["-v", "run", str(scenario), "-w", str(tmp_path / "w.gpkg"), "--out",
                                      str(tmp_path / "o"), "--no-propose", "--no-map"])
    assert result.exit_code == 0, result.output
    wall, stages = _stages(result.output)
    assert list(stages)[:2] == ["start-up (Python, imports)", "import layers"]
    for name in ("run: read layers", "run: indicators", "run: gaps", "run: proposals", "write results"):
        assert name in stages
    # without roads the 15-minute rows are straight-line estimates: the coverage stage is split into its parts
    assert any(name.startswith("run: coverage: ") for name in stages), stages
    assert sum(stages.values()) == pytest.approx(wall, abs=0.005 * len(stages) + 0.01)
