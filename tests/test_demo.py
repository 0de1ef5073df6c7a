"""The bundled demo: the 永川 scenario imports cleanly and its illustrative layers reproduce the plan's
own 2020 column; the 珠山 scenario runs on its real layers; roads come from ../shared/data."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import CliRunner

from gisplan.analysis.metrics import evaluate_indicators
from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.config import load_scenario
from gisplan.store import open_workspace
from tests.conftest import ROOT, shared_data

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def yongchuan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    store = tmp_path_factory.mktemp("yc") / "yongchuan.gpkg"
    result = CliRunner().invoke(cli, ["run", str(ROOT / "scenarios" / "yongchuan-2025.toml"), "-w", str(store),
                                      "--no-propose"])
    assert result.exit_code == 0, result.output
    return store, result.output


def test_every_layer_imported_with_provenance(yongchuan: tuple[Path, str]) -> None:
    store, _ = yongchuan
    meta = open_workspace(store).metadata().set_index("layer")
    assert meta.loc["townships", "row_count"] == 23
    assert meta.loc["gazetteer", "row_count"] == 291
    assert meta.loc["households", "row_count"] == 267
    assert meta.loc["facilities_community_service_centre", "row_count"] == 267
    assert meta.loc["roads", "row_count"] == 10830
    assert meta.loc["roads", "crs_given"] == "gcj02"
    real = {"district", "townships", "gazetteer", "roads"}
    assert (meta.loc[sorted(real), "illustrative"] == 0).all()
    assert (meta.drop(index=sorted(real))["illustrative"] == 1).all()


def test_illustrative_baseline_reproduces_plan_2020_column(yongchuan: tuple[Path, str]) -> None:
    store, _ = yongchuan
    sc = load_scenario(ROOT / "scenarios" / "yongchuan-2025.toml")
    ws = open_workspace(store)
    table = evaluate_indicators(
        sc.indicators,
        facilities={type_id: ws.read_layer(name) for type_id, name in ws.facility_layers().items()},
        households=ws.read_table("households"), gazetteer=ws.read_table("gazetteer"),
        standard=sc.standard, catalogue=load_catalogue(), illustrative=True,
    ).set_index("row")
    expected = {  # row: (numerator, denominator) — plan 2020 column in brackets
        "6": (38, 60),     # 63 % urban communities meet 30 m²/100 households
        "7": (130, 207),   # 63 % villages
        "10": (107, 267),  # 40 % of centres host a volunteer point
        "12": (2, 16),     # 12 % of towns (not 街道) have a public cemetery
        "13": (1002, 3000),  # 33.4 % nursing beds
        "14": (13, 20),    # 65 % institutions pass quality
        "15": (1041, 3000),  # 34.7 % government-operated beds
        "16": (15, 23),    # 65 % of townships have a comprehensive elderly centre
    }
    # True by construction: the generator picks these numerators from the plan's 2020 column (its constants),
    # so this checks the counting of the shipped layers, not the data (the README says so).
    from scripts import build_demo_layers as gen

    assert {row: num for row, (num, _) in expected.items()} == {
        "6": gen.N_URBAN_CSC_OK, "7": gen.N_RURAL_CSC_OK, "10": gen.N_VOLUNTEER, "12": gen.N_CEMETERY,
        "13": gen.INSTITUTION_NURSING_BEDS, "14": gen.N_QUALITY_OK, "15": gen.INSTITUTION_GOV_BEDS,
        "16": gen.N_TOWNSHIP_ELDERLY}
    for row, (num, den) in expected.items():
        assert (table.loc[row, "numerator"], table.loc[row, "denominator"]) == (num, den), row
        plan = float(table.loc[row, "baseline_2020"])
        assert abs(table.loc[row, "value"] - plan) <= 0.5, row
        assert table.loc[row, "meets_target"] == (row == "15")
        assert "示意" in table.loc[row, "basis"]
    # row 11 has no 2020 value ("——"); the 示意 未成年人保护工作站 layer makes it computed like the others
    assert (table.loc["11", "numerator"], table.loc["11", "denominator"]) == (gen.N_MINOR_PROTECTION, 23)
    assert table.loc["11", "value"] == pytest.approx(26.1, abs=0.05)
    assert "示意" in table.loc["11", "basis"]
    assert table.loc["8", "basis"] == "reported: 永川 专栏1; no value supplied"
    assert pd.isna(table.loc["8", "value"])


def test_run_output_labels_illustrative(yongchuan: tuple[Path, str]) -> None:
    _, output = yongchuan
    assert "示意 illustrative" in output
    assert "not real facilities" in output
    assert "城乡公益性安葬（放）设施覆盖率" in output


def test_households_sum_to_census_total(yongchuan: tuple[Path, str]) -> None:
    store, _ = yongchuan
    hh = open_workspace(store).read_table("households")
    assert int(hh["population"].sum()) == 1_148_896
    assert int(hh["households"].sum()) == 501_444


def test_zhushan_runs_on_real_layers(tmp_path: Path) -> None:
    store = tmp_path / "zs.gpkg"
    result = CliRunner().invoke(cli, ["run", str(ROOT / "scenarios" / "zhushan-2025.toml"), "-w", str(store)])
    assert result.exit_code == 0, result.output
    meta = open_workspace(store).metadata().set_index("layer")
    assert meta.loc["gazetteer", "row_count"] == 83
    assert meta.loc["district", "row_count"] == 1
    assert (meta["illustrative"] == 0).all()
    assert "示意" not in result.output
    assert "not computed: the workspace has no `facilities_public_cemetery` layer" in result.output
    assert "No township polygons in this workspace" in result.output


def test_rerun_with_the_same_inputs_imports_nothing(yongchuan: tuple[Path, str], tmp_path: Path) -> None:
    """Running the scenario again on its own workspace: the layers of the same files, options and catalogue are
    there unchanged, so nothing is imported again (no new import in the change log; tests/test_import_again.py
    shows what does import again)."""
    store = tmp_path / "again.gpkg"
    shutil.copyfile(yongchuan[0], store)
    before = CliRunner().invoke(cli, ["layers", "log", "-w", str(store)])
    assert before.exit_code == 0, before.output
    result = CliRunner().invoke(cli, ["run", str(ROOT / "scenarios" / "yongchuan-2025.toml"), "-w", str(store),
                                      "--no-propose"])
    assert result.exit_code == 0
    assert open_workspace(store).metadata().set_index("layer").loc["townships", "row_count"] == 23
    log = CliRunner().invoke(cli, ["layers", "log", "-w", str(store)])
    assert log.exit_code == 0, log.output
    assert log.output.count("import") == before.output.count("import") >= 16


def _zhushan(tmp_path: Path, *, extra: str = "", district_code: str = "360203") -> Path:
    """The 珠山 scenario, written to `tmp_path` with absolute layer paths, plus `extra` TOML."""
    text = (ROOT / "scenarios" / "zhushan-2025.toml").read_text(encoding="utf-8")
    if "[roads]" in extra:  # the test's own roads table replaces the scenario's
        text = text.replace("[roads]\nosm_fallback = true\n", "")
    scenario = tmp_path / "zs.toml"
    scenario.write_text(text.replace("../layers/", str(ROOT / "layers") + "/")
                        .replace('district_code = "360203"', f'district_code = "{district_code}"') + extra,
                        encoding="utf-8")
    return scenario


def test_missing_roads_without_network_warn_and_continue(tmp_path: Path) -> None:
    """Roads path missing and no OSM fallback: the run succeeds without a roads layer and says why."""
    scenario = _zhushan(tmp_path, extra='\n[roads]\npath = "nowhere.geojson"\ncrs = "gcj02"\n')
    result = CliRunner().invoke(cli, ["run", str(scenario), "-w", str(tmp_path / "zs.gpkg")])
    assert result.exit_code == 0, result.output
    assert not open_workspace(tmp_path / "zs.gpkg").has_layer("roads")
    assert "road layer" in result.output
    assert "nowhere.geojson not found; roads not imported (coverage needs them)" in result.output


@pytest.mark.network
def test_osm_roads_fetched_and_cached(tmp_path: Path) -> None:
    """Live: OSM walk network for 珠山 is fetched, cached beside the workspace and imported."""
    scenario = _zhushan(tmp_path, extra='\n[roads]\npath = "nowhere.geojson"\nosm_fallback = true\n')
    result = CliRunner().invoke(cli, ["run", str(scenario), "-w", str(tmp_path / "zs.gpkg")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zs_osm_roads.gpkg").exists()
    assert open_workspace(tmp_path / "zs.gpkg").metadata().set_index("layer").loc["roads", "row_count"] > 1000


def test_scenario_and_gazetteer_of_different_districts(tmp_path: Path) -> None:
    scenario = _zhushan(tmp_path, district_code="500118")
    result = CliRunner().invoke(cli, ["run", str(scenario), "-w", str(tmp_path / "m.gpkg")])
    assert result.exit_code == 1
    assert "the district is 500118, but the gazetteer covers 360203" in result.output
    assert not (tmp_path / "m.gpkg").exists()
