"""`gisplan coverage`: the ad-hoc service-area mode and the scenario mode, with their outputs and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from pyproj import Transformer
from shapely import LineString

from gisplan.cli.main import cli
from gisplan.coords import transform_geometries, wgs84_to_gcj02
from gisplan.store import open_workspace
from tests.conftest import ROOT, shared_data

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"
TO_LONLAT = Transformer.from_crs(UTM, 4326, always_xy=True)
X0, Y0 = 580_000.0, 3_248_000.0  # in 永川, UTM 48N


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_LONLAT.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


@pytest.fixture
def adhoc(tmp_path: Path) -> dict[str, Path]:
    """An L-shaped road (1 km east, then 800 m north), one facility and three homes, as files."""
    roads = gpd.GeoDataFrame({"name": ["东西路", "南北路"]},
                             geometry=[LineString([(X0, Y0), (X0 + 1000, Y0)]),
                                       LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 800)])], crs=UTM).to_crs(4326)
    roads.to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    fac = pd.DataFrame([("F1", "养老服务站", *_lonlat(1020, 500))], columns=["id", "name", "lon", "lat"])
    fac.to_csv(tmp_path / "fac.csv", index=False)
    homes = pd.DataFrame([("H1", *_lonlat(300, 40)), ("H2", *_lonlat(10, 10)), ("H3", *_lonlat(-3000, 0))],
                         columns=["编号", "经度", "纬度"])
    homes.to_csv(tmp_path / "homes.csv", index=False, encoding="gbk")
    return {"roads": tmp_path / "roads.geojson", "facilities": tmp_path / "fac.csv", "demand": tmp_path / "homes.csv"}


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, ["coverage", *args])


def test_adhoc_service_area_minutes(adhoc: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke("--roads", str(adhoc["roads"]), "--facilities", str(adhoc["facilities"]),
                     "--demand", str(adhoc["demand"]), "--crs", "EPSG:4326", "--minutes", "15", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "demand_minutes.csv", dtype={"demand_id": str})
    assert table.columns.tolist() == ["demand_id", "nearest_facility_id", "minutes", "covered"]
    assert table["demand_id"].tolist() == ["H1", "H2", "H3"]
    # nobody within 15 min: minutes are left empty, not made up
    assert table["covered"].tolist() == [False, False, False]
    assert table["minutes"].isna().all()
    assert table["nearest_facility_id"].isna().all()
    assert "1 are farther than 1000 m from any usable road" in result.output
    gpkg = pyogrio.read_dataframe(out / "demand_minutes.gpkg", layer="demand_minutes")
    assert len(gpkg) == 3
    assert gpkg.crs.to_epsg() == 4326
    longer = _invoke("--roads", str(adhoc["roads"]), "--facilities", str(adhoc["facilities"]), "--demand",
                     str(adhoc["demand"]), "--crs", "EPSG:4326", "--minutes", "25", "--out", str(out))
    table = pd.read_csv(out / "demand_minutes.csv")
    assert longer.exit_code == 0
    assert table["covered"].tolist() == [True, True, False]
    # H1: 40 m access + 700 m + 500 m + 20 m access = 1,260 m at 66.667 m/min; H2: 10 + 990 + 500 + 20 m
    # (measured in the data's UTM zone, so within 0.02 min of the hand figure)
    assert table["minutes"].iloc[:2].tolist() == pytest.approx([1260 / 66.667, 1520 / 66.667], abs=0.02)
    assert table["nearest_facility_id"].iloc[:2].tolist() == ["F1", "F1"]
    assert np.isnan(table["minutes"].iloc[2])  # 3 km from any road: unreachable


def test_adhoc_large_runs_write_geoparquet_only_unless_asked(adhoc: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Above AUTO_GPKG_MAX_POINTS demand points (here lowered to 2) the default output is the GeoParquet file
    alone, with the CSV's columns and the points; --csv adds the CSV, --geo-format none writes only the CSV."""
    import gisplan.cli.coverage as adhoc_cli

    monkeypatch.setattr(adhoc_cli, "AUTO_GPKG_MAX_POINTS", 2)
    base = ["--roads", str(adhoc["roads"]), "--facilities", str(adhoc["facilities"]), "--demand",
            str(adhoc["demand"]), "--crs", "EPSG:4326", "--minutes", "25"]
    out = tmp_path / "big"
    result = _invoke(*base, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["demand_minutes.parquet"]
    geo = gpd.read_parquet(out / "demand_minutes.parquet")
    assert geo.crs.to_epsg() == 4326
    assert geo["demand_id"].tolist() == ["H1", "H2", "H3"]
    assert geo["covered"].tolist() == [True, True, False]
    assert geo["minutes"].iloc[:2].tolist() == pytest.approx([1260 / 66.667, 1520 / 66.667], abs=0.02)
    assert geo["nearest_facility_id"].iloc[:2].tolist() == ["F1", "F1"]
    both = tmp_path / "both"
    assert _invoke(*base, "--csv", "--out", str(both)).exit_code == 0
    assert sorted(p.name for p in both.iterdir()) == ["demand_minutes.csv", "demand_minutes.parquet"]
    table = pd.read_csv(both / "demand_minutes.csv")
    assert table["minutes"].tolist() == pytest.approx(geo["minutes"].tolist(), nan_ok=True)
    plain = tmp_path / "plain"
    assert _invoke(*base, "--geo-format", "none", "--out", str(plain)).exit_code == 0
    assert sorted(p.name for p in plain.iterdir()) == ["demand_minutes.csv"]


def test_adhoc_gcj02_inputs_are_converted(adhoc: dict[str, Path], tmp_path: Path) -> None:
    """The same points given in GCJ-02 (as 高德 exports them) give the same minutes with --crs gcj02."""
    for name in ("facilities", "demand"):
        frame = pd.read_csv(adhoc[name], encoding="gbk" if name == "demand" else "utf-8")
        lon, lat = ("经度", "纬度") if name == "demand" else ("lon", "lat")
        frame[lon], frame[lat] = wgs84_to_gcj02(frame[lon].to_numpy(), frame[lat].to_numpy())
        frame.to_csv(tmp_path / f"{name}_gcj.csv", index=False)
    roads = gpd.read_file(adhoc["roads"])
    roads.geometry = gpd.GeoSeries(transform_geometries(roads.geometry.to_numpy(), source="wgs84",
                                                        target="gcj02"), crs=4326)
    roads.to_file(tmp_path / "roads_gcj.geojson", driver="GeoJSON")
    out = tmp_path / "gcj"
    result = _invoke("--roads", str(tmp_path / "roads_gcj.geojson"), "--facilities", str(tmp_path / "facilities_gcj.csv"),
                     "--demand", str(tmp_path / "demand_gcj.csv"), "--crs", "gcj02", "--minutes", "25", "--out",
                     str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "demand_minutes.csv")
    assert table["minutes"].iloc[0] == pytest.approx(1260 / 66.667, abs=0.02)


def test_adhoc_on_an_osm_file(tmp_path: Path) -> None:
    osm = shared_data("fallback", "osmnx_test_osm", "aguascalientes.osm.pbf")
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-102.31, -102.26, 60), rng.uniform(21.855, 21.875, 60)
    pd.DataFrame({"id": [f"d{i}" for i in range(50)], "lon": lon[:50], "lat": lat[:50]}).to_csv(
        tmp_path / "d.csv", index=False)
    pd.DataFrame({"id": [f"f{i}" for i in range(10)], "lon": lon[50:], "lat": lat[50:]}).to_csv(
        tmp_path / "f.csv", index=False)
    result = _invoke("--roads", str(osm), "--facilities", str(tmp_path / "f.csv"), "--demand", str(tmp_path / "d.csv"),
                     "--crs", "4326", "--profile", "drive", "--minutes", "5", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "demand_minutes.csv")
    assert len(table) == 50
    assert table["covered"].sum() >= 10  # access legs are walked, so points far from a road miss out
    assert (table["minutes"].dropna() <= 5).all()
    assert table.loc[table["covered"], "nearest_facility_id"].str.fullmatch(r"f\d").all()


def test_adhoc_usage_and_input_errors(adhoc: dict[str, Path], tmp_path: Path) -> None:
    base = ["--roads", str(adhoc["roads"]), "--facilities", str(adhoc["facilities"]), "--demand", str(adhoc["demand"])]
    missing_out = _invoke(*base)
    assert missing_out.exit_code == 2
    assert "all of --roads, --facilities, --demand and --out" in missing_out.output
    mixed = _invoke(str(ROOT / "scenarios" / "yongchuan-2025.toml"), "--roads", str(adhoc["roads"]))
    assert mixed.exit_code == 2
    no_crs = _invoke(*base, "--out", str(tmp_path / "o"))
    assert no_crs.exit_code == 1
    assert "fac.csv: a table's coordinates need --crs" in no_crs.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lon,lat\nA,105.9,29.3\nB,东经105度,29.3\nA,105.8,29.3\n", encoding="utf-8")
    result = _invoke("--roads", str(adhoc["roads"]), "--facilities", str(bad), "--demand", str(adhoc["demand"]),
                     "--crs", "4326", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "bad.csv, row 3, field `lon`: not a number" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # nothing written
    nolonlat = tmp_path / "nolonlat.csv"
    nolonlat.write_text("id,x坐标\nA,1\n", encoding="utf-8")
    result = _invoke("--roads", str(adhoc["roads"]), "--facilities", str(nolonlat), "--demand", str(adhoc["demand"]),
                     "--crs", "4326", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "no longitude/latitude columns" in result.output
    assert "name them lon and lat (or 经度 and 纬度)" in result.output
    profile = _invoke(*base, "--crs", "4326", "--profile", "horse", "--out", str(tmp_path / "o"))
    assert profile.exit_code == 1
    assert "`--profile` must be one of bike, drive, elderly_walk, walk (got 'horse')" in profile.output


@pytest.fixture(scope="module")
def yongchuan_coverage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    tmp = tmp_path_factory.mktemp("ycov")
    store, out = tmp / "yc.gpkg", tmp / "out"
    result = CliRunner().invoke(cli, ["coverage", str(ROOT / "scenarios" / "yongchuan-2025.toml"), "-w", str(store),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return store, out, result.output


def test_scenario_coverage_outputs(yongchuan_coverage: tuple[Path, Path, str]) -> None:
    store, out, output = yongchuan_coverage
    assert "示意" in output
    assert "network travel time (路网通行时间)" in output
    assert "10,830 links -> 10,829 edges, 9,137 nodes" in output
    units = pd.read_csv(out / "coverage_units.csv", dtype={"code12": str})
    assert set(units["level"]) == {"district", "township", "village"}
    types = {"community_service_centre", "elderly_day_care", "elderly_institution", "township_elderly_centre"}
    assert set(units["facility_type"]) == types
    assert set(units["threshold"]) == {5.0, 10.0, 15.0, 20.0}
    district = units[(units["level"] == "district") & (units["threshold"] == 15)]
    # spreading keeps the census total and every household
    assert district["population"].tolist() == pytest.approx([1_148_896] * 4)
    assert district["households"].tolist() == pytest.approx([501_444] * 4)
    assert units[units["level"] == "township"]["code12"].nunique() == 23
    assert units[units["level"] == "village"]["code12"].nunique() == 267
    # shares grow with the threshold, and each level adds up to the district
    csc = units[(units["facility_type"] == "community_service_centre") & (units["level"] == "district")]
    assert csc.sort_values("threshold")["population_share"].is_monotonic_increasing
    towns = units[(units["facility_type"] == "community_service_centre") & (units["level"] == "township")
                  & (units["threshold"] == 15)]
    assert towns["population_covered"].sum() == pytest.approx(
        csc[csc["threshold"] == 15]["population_covered"].iloc[0])
    demand = pd.read_csv(out / "coverage_demand.csv", dtype={"code12": str})
    covered = demand["minutes_community_service_centre"] <= 15
    assert demand.loc[covered, "population"].sum() == pytest.approx(towns["population_covered"].sum())
    assert (demand["covered_community_service_centre"] == covered).all()
    ws = open_workspace(store)
    meta = ws.metadata().set_index("layer")
    assert {"coverage_demand", "coverage_units", "coverage_areas"} <= set(meta.index)
    assert meta.loc["coverage_units", "illustrative"] == 1
    areas = ws.read_layer("coverage_areas")
    assert len(areas) == 4
    assert areas["method"].iloc[0] == "network travel time (路网通行时间)"
    assert (areas.to_crs(UTM).area > 1e6).all()


def test_scenario_straight_line_is_labelled(tmp_path: Path) -> None:
    shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    result = CliRunner().invoke(cli, ["coverage", str(ROOT / "scenarios" / "yongchuan-2025.toml"), "-w",
                                      str(tmp_path / "yc.gpkg"), "--out", str(tmp_path / "o"), "--method",
                                      "straight_line", "--type", "elderly_day_care"])
    assert result.exit_code == 0, result.output
    assert "straight-line service radius (直线服务半径, not network)" in result.output
    units = pd.read_csv(tmp_path / "o" / "coverage_units.csv")
    assert set(units["method"]) == {"straight_line"}
    assert set(units["threshold_unit"]) == {"m"}
    assert set(units["threshold"]) == {1000.0}


def test_scenario_without_demand_or_roads_says_so(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "zhushan-2025.toml").read_text(encoding="utf-8")
    scenario = tmp_path / "zs.toml"
    scenario.write_text(text.replace("../layers/", str(ROOT / "layers") + "/"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["coverage", str(scenario), "-w", str(tmp_path / "zs.gpkg")])
    assert result.exit_code == 1
    assert "no road layer, so network coverage cannot be measured" in result.output
    assert 'method = "straight_line"' in result.output
    line = CliRunner().invoke(cli, ["coverage", str(scenario), "-w", str(tmp_path / "zs.gpkg"), "--method",
                                    "straight_line"])
    assert line.exit_code == 1
    assert "no demand: import a `households` layer" in line.output
    assert "Traceback" not in line.output
