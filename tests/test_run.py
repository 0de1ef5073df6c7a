"""Indicators, gaps and `gisplan run` outputs, hand-computed on a small fixture: one 街道 and one 镇,
two urban communities (one with no households) and one village."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gisplan.analysis.gaps import admin_gaps, coverage_gaps
from gisplan.analysis.indicators import parse_target
from gisplan.analysis.metrics import evaluate_indicators
from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.config import IndicatorSpec, Standard, load_scenario
from gisplan.outputs.results import map_layers, write_map
from gisplan.store import open_workspace
from tests.conftest import ROOT, shared_data, yongchuan_scenario

if TYPE_CHECKING:
    from pathlib import Path

CAT = load_catalogue()
GAZ = pd.DataFrame({
    "code12": ["500118000000", "500118001000", "500118100000", "500118001001", "500118001002", "500118100001"],
    "name": ["永川区", "甲街道", "乙镇", "甲社区居民委员会", "乙社区居民委员会", "丙村民委员会"],
})
HOUSEHOLDS = pd.DataFrame({"code12": ["500118001001", "500118001002", "500118100001"],
                           "households": [100, 0, 50], "population": [60_000, 0, 20_000]})
CENTRES = pd.DataFrame({"facility_id": ["C1", "C2", "C3"], "code12": HOUSEHOLDS["code12"],
                        "floor_area_m2": [40.0, 10.0, 10.0]})


def spec(metric: str, target: str = "100", **kw: object) -> IndicatorSpec:
    return IndicatorSpec(row="1", name_zh="x", unit="%", baseline_2020="——", target_2025=target, nature="",
                         metric=metric, indicator_id=f"T-{metric}-{kw.get('scope', '')}-{kw.get('weight', '')}",
                         **kw)  # type: ignore[arg-type]


def evaluate(specs: list[IndicatorSpec], facilities: dict[str, pd.DataFrame],
             coverage: pd.DataFrame | None = None) -> pd.DataFrame:
    return evaluate_indicators(specs, facilities=facilities, households=HOUSEHOLDS, gazetteer=GAZ,
                               standard=Standard(), catalogue=CAT, illustrative=False, coverage=coverage)


def test_floor_area_indicators_by_hand() -> None:
    table = evaluate([spec("floor_area_compliance", scope="urban_communities"),
                      spec("floor_area_compliance", scope="rural_villages"),
                      spec("floor_area_per_100hh", target=">30")], {"community_service_centre": CENTRES})
    # 甲: 40 m² per 100 households (meets 30); 乙 has no households: NaN per 100, never inf, and not met;
    # 丙: 10 m² for 50 households = 20 per 100
    assert table["value"].tolist() == pytest.approx([50.0, 0.0, 60 / 150 * 100])
    assert table["status"].tolist() == ["未达标", "未达标", "达标"]
    assert table["method"].tolist() == ["computed-attribute"] * 3


def test_admin_counts_and_population_threshold_by_hand() -> None:
    centres = pd.DataFrame({"facility_id": ["E1"], "code12": ["500118001001"]})  # a village code counts upward
    funeral = pd.DataFrame({"facility_id": ["F1"], "code12": ["500118100000"]})
    cemeteries = pd.DataFrame({"facility_id": ["P1", "P2"], "code12": ["500118100000", "500118001000"],
                               "kind": ["rural", "urban"]})
    table = evaluate([
        spec("admin_share", facility_type="township_elderly_centre"),
        spec("admin_share", facility_type="township_elderly_centre", scope="towns"),
        spec("facility_count", target="≥1", facility_type="township_elderly_centre", scope="streets"),
        spec("facility_count", target="≥1", facility_type="township_elderly_centre", scope="towns"),
        spec("admin_share", facility_type="funeral_service_station", min_population=50_000),
        spec("facility_count", target="≥1", facility_type="public_cemetery", where=(("kind", "urban"),)),
        spec("admin_share", facility_type="minor_protection_station"),
    ], {"township_elderly_centre": centres, "funeral_service_station": funeral, "public_cemetery": cemeteries})
    assert table["value"].iloc[:6].tolist() == [50.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    # only 甲街道 has 50,000 residents: its station is missing (乙镇's does not count)
    assert (table["numerator"].iloc[4], table["denominator"].iloc[4]) == (0.0, 1.0)
    assert table["status"].tolist() == ["未达标", "未达标", "达标", "未达标", "未达标", "达标", "无数据"]
    assert table["method"].iloc[:4].tolist() == ["computed-spatial", "computed-spatial", "count", "count"]
    assert table["basis"].iloc[6] == "not computed: the workspace has no `facilities_minor_protection_station` layer"


def test_network_coverage_rows_come_from_the_coverage_tables() -> None:
    coverage = pd.DataFrame({
        "level": ["district", "district"], "code12": ["500118000000"] * 2, "facility_type": ["elderly_day_care"] * 2,
        "threshold": [10.0, 15.0], "population": [1000.0, 1000.0], "population_covered": [100.0, 250.0],
        "pop_60plus": [200.0, 200.0], "pop_60plus_covered": [20.0, 100.0],
    })
    rows = [spec("network_coverage", target="100", facility_type="elderly_day_care"),
            spec("network_coverage", target="≥40", facility_type="elderly_day_care", weight="pop_60plus"),
            spec("network_coverage", target="——", facility_type="elderly_day_care", minutes=10.0)]
    table = evaluate(rows, {}, coverage)
    assert table["value"].tolist() == pytest.approx([25.0, 50.0, 10.0])
    assert table["status"].tolist() == ["未达标", "达标", "无目标"]
    none = evaluate(rows[:1], {}, None)
    assert none["status"].iloc[0] == "无数据"
    assert none["basis"].iloc[0].startswith("not computed: no road network")
    assert np.isnan(none["value"].iloc[0])


def test_reported_rows_and_targets() -> None:
    row = IndicatorSpec(row="2", name_zh="农村低保标准占城市低保标准比例", unit="%", baseline_2020="76",
                        target_2025="≥90", nature="", metric="reported", source="民政局 2024 年报", value="91.5")
    table = evaluate([row], {})
    assert table["value"].iloc[0] == 91.5
    assert table["status"].iloc[0] == "达标"
    assert table["method"].iloc[0] == "reported"
    assert table["basis"].iloc[0] == "reported: 民政局 2024 年报 (value 91.5)"
    assert parse_target("≤40") == ("<=", 40.0)
    assert parse_target("不低于低保标准的1.3倍")[0] == "text"


def test_gaps_are_contiguous_ranked_and_named() -> None:
    xy = [(0, 0), (100, 0), (200, 0), (300, 0), (5000, 0), (5100, 0), (9000, 0)]
    demand = gpd.GeoDataFrame({
        "population": [10.0, 20.0, 30.0, 500.0, 80.0, 0.0, 5.0],
        "households": [4.0, 8.0, 12.0, 200.0, 30.0, 0.0, 2.0],
        "pop_60plus": [1.0, 2.0, 3.0, 50.0, 8.0, 0.0, np.nan],
        "township_code12": ["500118001000"] * 3 + ["500118001000", "500118100000", "500118100000", "500118100000"],
        "code12": ["500118001001"] * 4 + ["500118100001"] * 3,
        "covered_t": [False, False, False, True, False, False, False],
    }, geometry=shapely.points(xy), crs="EPSG:32648")
    names = dict(zip(GAZ["code12"], GAZ["name"], strict=True))
    gaps = coverage_gaps(demand, type_id="t", link_m=150, names=names)
    assert gaps["rank"].tolist() == [1, 2, 3]
    assert gaps["population"].tolist() == [80.0, 60.0, 5.0]  # the covered point at x=300 splits nothing
    assert gaps["points"].tolist() == [2, 3, 1]
    assert gaps["village"].tolist() == ["丙村民委员会", "甲社区居民委员会", "丙村民委员会"]
    assert gaps["township"].tolist() == ["乙镇", "甲街道", "乙镇"]
    assert gaps["pop_60plus"].tolist() == [8.0, 6.0, 0.0]
    assert gaps.geometry.iloc[1].contains(shapely.Point(150, 0))
    with pytest.raises(ValueError, match="has no `covered_x` column"):
        coverage_gaps(demand, type_id="x")


def test_admin_gaps_list_divisions_lacking_a_facility() -> None:
    tec = pd.DataFrame({"facility_id": ["E1"], "code12": ["500118001000"]})
    out = admin_gaps({"township_elderly_centre": tec}, GAZ, CAT)
    tec_rows = out[out["facility_type"] == "township_elderly_centre"]
    assert tec_rows["name"].tolist() == ["乙镇"]
    assert tec_rows["status"].tolist() == ["lacking"]
    cemeteries = pd.DataFrame({"facility_id": ["C1"], "code12": ["500118001000"]})
    out = admin_gaps({"township_elderly_centre": tec, "public_cemetery": cemeteries}, GAZ, CAT)
    cemetery = out[out["facility_type"] == "public_cemetery"]
    assert cemetery["name"].tolist() == ["乙镇"]  # towns only: 街道 are the central city


def test_admin_gaps_of_a_type_without_a_layer_are_not_computed() -> None:
    """No 台账 of a type is not "lacking in every division": one row says the type was not computed."""
    out = admin_gaps({}, GAZ, CAT)
    mutual = out[out["facility_type"] == "rural_mutual_aid_elderly"]
    assert mutual["status"].tolist() == ["not_computed"]
    assert mutual["code12"].isna().all()
    assert (out["status"] == "not_computed").all()


def test_run_writes_every_output(yongchuan_run: tuple[Path, Path, Path, str]) -> None:
    _, _, out, output = yongchuan_run
    table = pd.read_csv(out / "indicators.csv")
    assert table.columns[:9].tolist() == ["indicator_id", "name", "unit", "value", "target", "comparator", "status",
                                          "method", "source"]
    assert len(table) == 30
    assert set(table["status"]) <= {"达标", "未达标", "无数据", "无目标"}
    ind = table.set_index("indicator_id")
    assert ind.loc["YC-11-COMMUNITY-STATIONS", "value"] == 30
    assert ind.loc["YC-11-COMMUNITY-STATIONS", "status"] == "未达标"
    units = pd.read_csv(out / "units.csv")
    district = units[(units["level"] == "district") & (units["threshold"] == 15)].set_index("facility_type")
    # the row is 100 × the district's 15-minute population share of the community centres in coverage_units
    assert ind.loc["YC-15MIN-CSC", "value"] == pytest.approx(
        100 * district.loc["community_service_centre", "population_covered"]
        / district.loc["community_service_centre", "population"], rel=1e-9)
    assert 0 < ind.loc["YC-15MIN-CSC", "value"] < 100
    assert ind.loc["YC-15MIN-CSC", "method"] == "computed-spatial"
    assert table["illustrative"].all()
    layers = set(pyogrio.list_layers(out / "results.gpkg")[:, 0])
    assert {"indicators", "admin_gaps", "demand", "townships", "villages", "gaps", "areas"} <= layers
    towns = pyogrio.read_dataframe(out / "results.gpkg", layer="townships")
    assert len(towns) == 23
    assert towns["share_community_service_centre"].between(0, 1).all()
    assert towns["lacks_township_elderly_centre"].sum() == 8
    gaps = pd.read_csv(out / "gaps.csv")
    assert (gaps.groupby("facility_type")["rank"].min() == 1).all()
    assert gaps["village"].notna().all()
    assert "最大的未覆盖片区" in output
    # sites that close each gap, and the indicators after them
    assert ind.loc["YC-11-COMMUNITY-STATIONS", "new_sites"] == 25
    assert ind.loc["YC-11-COMMUNITY-STATIONS", "value_after"] == 55
    assert ind.loc["YC-1-16", "new_sites"] == 6  # 15 of 23 -> 21 of 23 = 91.3 % >= 90 %
    assert ind.loc["YC-1-16", "status_after"] == "达标"
    sites = pd.read_csv(out / "proposed_sites.csv")
    stations = sites[sites["indicator_id"] == "YC-11-COMMUNITY-STATIONS"]
    assert stations["rank"].tolist() == list(range(1, 26))
    gains = stations["population_added"].to_numpy()
    assert (gains > 0).all()
    assert (np.diff(gains) <= 1e-9).all()  # in build order, a site never adds more than the one before it
    # and together they add what the coverage of the type gained: from the 15-minute population of the existing
    # stations in units.csv to the share after the last site
    before, total = district.loc["elderly_day_care", ["population_covered", "population"]]
    after = stations["covered_share_after"].iloc[-1] * total
    assert gains.sum() == pytest.approx(after - before, rel=1e-9)
    assert stations["covered_share_after"].iloc[0] * total == pytest.approx(before + gains[0], rel=1e-9)
    assert {"lon", "lat", "lon_gcj02", "lat_gcj02", "township", "village"} <= set(sites.columns)
    assert sites["township"].notna().all()
    assert "proposed_sites" in layers
    assert "选址建议" in output
    assert (out / "map.html").stat().st_size > 1_000_000


def test_the_run_map_equals_the_map_drawn_from_its_files(yongchuan_run: tuple[Path, Path, Path, str],
                                                       tmp_path: Path) -> None:
    """`gisplan run` reads the map's workspace layers and neighbours on a second thread while the run goes on
    (read_map_inputs); its map.html is byte for byte the one `map_layers` draws afterwards from the files."""
    scenario, store, out, _ = yongchuan_run
    sc = load_scenario(scenario)
    again = write_map(map_layers(out / "results.gpkg", open_workspace(store), sc, load_catalogue()),
                      tmp_path / "map.html")
    assert again.read_bytes() == (out / "map.html").read_bytes()


def test_run_without_roads_shows_labelled_straight_line_estimates(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(yongchuan_scenario(tmp_path, roads=False)), "-w", str(tmp_path / "w.gpkg"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "indicators.csv").set_index("indicator_id")
    for row in ("YC-15MIN-CSC", "YC-15MIN-ELDERLY", "YC-15MIN-ELDERLY-HH"):  # the labelled straight-line estimate
        assert 0 < table.loc[row, "value"] < 100
        assert (table.loc[row, "status"], table.loc[row, "method"]) == ("参考", "straight-line")
        assert table.loc[row, "source"].startswith("直线估算 straight-line estimate")
    assert "直线 straight-line: 15分钟指标为直线估算（参考）" in result.output
    assert "gisplan roads fetch SCENARIO" in result.output
    assert table.loc["YC-1-06", "value"] == pytest.approx(63.3, abs=0.05)  # the rest is still computed


def test_reported_values_csv(tmp_path: Path) -> None:
    from gisplan.config import load_scenario
    from gisplan.errors import SchemaError
    from gisplan.workflows.plan import apply_reported_values

    specs = load_scenario(ROOT / "scenarios" / "yongchuan-2025.toml").indicators
    filled = {s.indicator_id: s for s in apply_reported_values(specs, ROOT / "scenarios" / "yongchuan-reported-2020.csv")}
    assert filled["YC-1-02"].value == "76"
    assert filled["YC-1-02"].source == "永川 专栏1 2020年现状值 (plan baseline)"
    table = evaluate([filled["YC-1-02"], filled["YC-1-04"]], {})
    assert table["status"].tolist() == ["未达标", "达标"]  # 76 against ≥90; 100 against 100
    bad = tmp_path / "r.csv"
    bad.write_text("indicator_id,value\nYC-1-99,5\nYC-1-06,63\n", encoding="gbk")
    with pytest.raises(SchemaError, match=r"r\.csv, row 2, field `indicator_id`: unknown indicator id 'YC-1-99'"):
        apply_reported_values(specs, bad)
    with pytest.raises(SchemaError, match="YC-1-06 is computed, not reported"):
        apply_reported_values(specs, bad)


def test_floor_area_table_by_hand() -> None:
    from gisplan.analysis.indicators import floor_area_table

    table = floor_area_table(CENTRES, HOUSEHOLDS, GAZ, standard_m2_per_100hh=30, district_code="500118000000")
    v = table[table["level"] == "village"].set_index("code12")
    assert v["floor_area_m2_per_100hh"].tolist()[0] == 40.0
    assert np.isnan(v.loc["500118001002", "floor_area_m2_per_100hh"])  # no households: NaN, not inf
    assert not v.loc["500118001002", "meets_standard"]
    assert v["kind"].tolist() == ["urban", "urban", "rural"]
    t = table[table["level"] == "township"].set_index("code12")["floor_area_m2_per_100hh"]
    assert t.to_dict() == {"500118001000": 50.0, "500118100000": 20.0}
    assert table[table["level"] == "district"]["floor_area_m2_per_100hh"].iloc[0] == 40.0


def test_a_facility_whose_code_disagrees_with_its_location_is_never_counted(
    store: Path, tmp_path: Path, centre_point: dict[str, object],
) -> None:
    """The point lies in one township but declares another: the import names it and writes nothing, so
    administrative coverage is not credited to the township it claims."""
    from gisplan.errors import SchemaError
    from gisplan.store import open_workspace
    from gisplan.workflows.importing import ImportSpec, import_layers

    here = str(centre_point["code12"])
    other = "500118100000" if here != "500118100000" else "500118101000"
    path = tmp_path / "tec.csv"
    path.write_text(f"facility_id,name,code12,lon,lat,beds,nursing_beds\nT1,甲,{other},{centre_point['lon']},"
                    f"{centre_point['lat']},10,2\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=f"row 2, field `code12`.*the point falls in.*{other}"):
        import_layers(open_workspace(store), [ImportSpec(path, "facilities", "township_elderly_centre", "EPSG:4326")],
                      catalogue=CAT)
    gaz = open_workspace(store).read_table("gazetteer")
    table = evaluate_indicators([spec("admin_share", facility_type="township_elderly_centre")], facilities={},
                                households=None, gazetteer=gaz, standard=Standard(), catalogue=CAT,
                                illustrative=False)
    assert table["status"].iloc[0] == "无数据"  # nothing was imported, nothing is counted


def test_user_candidates_and_years(tmp_path: Path) -> None:
    """A candidate layer given in [coverage] replaces the generated nodes; sites are spread over the years."""
    shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    towns = gpd.read_file(ROOT / "layers" / "yongchuan_boundaries.gpkg", layer="townships")
    points = towns.to_crs("EPSG:32648").representative_point().to_crs(4326)  # one vacant building per township
    cands = gpd.GeoDataFrame({"candidate_id": [f"空置校舍{i}" for i in range(len(points))]}, geometry=points.to_numpy(),
                             crs=4326)
    cands.to_file(tmp_path / "cands.gpkg", layer="cands", driver="GPKG")
    text = yongchuan_scenario(tmp_path, roads=True).read_text(encoding="utf-8")
    # the given years, less those before the run's date (2025 is past in March 2026)
    text = text.replace("[coverage]\n", f'[coverage]\ncandidates = "{tmp_path / "cands.gpkg"}"\nyears = [2025, 2027, 2028]\n')
    scenario = tmp_path / "yc2.toml"
    scenario.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(scenario), "-w", str(tmp_path / "w.gpkg"), "--out", str(tmp_path / "o")],
                                env={"GISPLAN_TODAY": "2026-03-01"})
    assert result.exit_code == 0, result.output
    sites = pd.read_csv(tmp_path / "o" / "proposed_sites.csv")
    centres = sites[sites["indicator_id"] == "YC-1-16"]
    assert len(centres) == 6
    assert centres["candidate_id"].str.startswith("空置校舍").all()
    assert set(centres["year"]) == {2027, 2028}
    assert centres["year"].is_monotonic_increasing


def test_result_files_are_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """A writer that fails half-way leaves the previous file as it was and no temporary file behind."""
    from gisplan.io.atomic import write_atomic_csv, write_atomic_text

    path = tmp_path / "indicators.csv"
    write_atomic_csv(pd.DataFrame({"指标": ["甲"], "value": [1.5]}), path)
    assert path.read_bytes() == "\ufeff指标,value\n甲,1.5\n".encode()

    class Broken(pd.DataFrame):
        def to_csv(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            args[0].write("partial")  # type: ignore[attr-defined]
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic_csv(Broken({"a": [1]}), path)
    assert path.read_bytes() == "\ufeff指标,value\n甲,1.5\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["indicators.csv"]
    write_atomic_text("<html>地图</html>", tmp_path / "map.html")
    assert (tmp_path / "map.html").read_text(encoding="utf-8") == "<html>地图</html>"


def test_a_bad_proposal_thread_count_is_said_before_anything_runs(tmp_path: Path) -> None:
    """GISPLAN_PROPOSAL_THREADS is checked at the start of `gisplan run`, not after the import and the coverage:
    a clear message, exit 1, no workspace and no output folder."""
    result = CliRunner().invoke(cli, ["run", str(ROOT / "scenarios" / "yongchuan-2025.toml"), "-w",
                                      str(tmp_path / "w.gpkg"), "--out", str(tmp_path / "o"), "--no-report"],
                                env={"GISPLAN_PROPOSAL_THREADS": "two"})
    assert result.exit_code == 1
    assert "GISPLAN_PROPOSAL_THREADS='two'" in result.output
    assert "Traceback" not in result.output
    assert sorted(tmp_path.iterdir()) == []
