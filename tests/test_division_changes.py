"""Division changes (issue 15 item 1): merge, split, rename, re-code, level change and boundary adjustment on the
real 永川 gazetteer and township polygons with the illustrative villages, households and facilities; one
transaction each; the crosswalk re-codes files imported later; the indicator table still runs."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan.boundaries import Change
from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.config import load_scenario
from gisplan.errors import DivisionChangeError
from gisplan.store import layer_hash, open_workspace
from gisplan.vocab import DivisionChange
from gisplan.workflows.divisions import change_divisions
from gisplan.workflows.importing import import_scenario
from gisplan.workflows.plan import run_scenario
from tests.conftest import ROOT, yongchuan_scenario

if TYPE_CHECKING:
    from pathlib import Path

LUJIAYAN, WAYAO, YUHEWAN = "500118006201", "500118006209", "500118006204"  # 陈食街道: 卢家岩村, 瓦窑村, 芋荷湾村
BASIS = ["--basis", "永川府〔2024〕12号", "--basis-date", "2024-05-20", "--date", "2024-06-30"]


@pytest.fixture(scope="module")
def full_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole 永川 demo scenario (without roads) imported into a workspace: (scenario, workspace)."""
    tmp = tmp_path_factory.mktemp("divisions")
    scenario = yongchuan_scenario(tmp, roads=False)
    store = tmp / "base.gpkg"
    import_scenario(load_scenario(scenario), open_workspace(store), load_catalogue())
    return scenario, store


@pytest.fixture
def full(full_base: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    scenario, base = full_base
    store = tmp_path / "ws.gpkg"
    shutil.copyfile(base, store)
    return scenario, store


def _coded(ws_path: Path, code: str) -> dict[str, int]:
    ws = open_workspace(ws_path)
    out = {}
    for name in [*ws.facility_layers().values(), "households", "villages", "gazetteer"]:
        frame = ws.read(name)
        out[name] = int((frame["code12"].astype(str) == code).sum())
    return out


def test_merge_two_real_villages_recodes_everything_in_one_revision_and_the_indicators_run(
    full: tuple[Path, Path],
) -> None:
    scenario, store = full
    ws = open_workspace(store)
    before_rev = ws.revision()
    retired_before = _coded(store, WAYAO)
    assert retired_before["facilities_community_service_centre"] == 1
    assert retired_before["households"] == 1
    hh = ws.read("households").set_index("code12")
    expected_households = int(hh.loc[LUJIAYAN, "households"] + hh.loc[WAYAO, "households"])
    villages = ws.read_layer("villages").set_index("code12")
    expected_area = float(shapely.union_all([villages.geometry[LUJIAYAN], villages.geometry[WAYAO]]).area)

    dry = CliRunner().invoke(cli, ["divisions", "merge", "-w", str(store), LUJIAYAN, WAYAO, "--into", LUJIAYAN,
                                   *BASIS, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "--dry-run: nothing was written." in dry.output
    assert f"{WAYAO}→{LUJIAYAN}" in dry.output
    assert ws.revision() == before_rev

    result = CliRunner().invoke(cli, ["divisions", "merge", "-w", str(store), LUJIAYAN, WAYAO, "--into", LUJIAYAN,
                                      *BASIS])
    assert result.exit_code == 0, result.output
    assert ws.revision() == before_rev + 1  # every layer and the crosswalk: one revision
    assert all(v == 0 for v in _coded(store, WAYAO).values())  # nothing left coded to the retired village
    hh = ws.read("households").set_index("code12")
    assert hh.loc[LUJIAYAN, "households"] == expected_households
    merged = ws.read_layer("villages").set_index("code12")
    assert merged.geometry[LUJIAYAN].area == pytest.approx(expected_area, rel=1e-9)
    assert len(merged) == 266
    centres = ws.read_layer("facilities_community_service_centre")
    assert (centres["code12"] == LUJIAYAN).sum() == 2
    crosswalk = ws.read_table("division_crosswalk")
    assert crosswalk[["old_code", "new_code", "kind", "basis", "date"]].to_numpy().tolist() == [
        [LUJIAYAN, LUJIAYAN, "merge", "永川府〔2024〕12号", "2024-06-30"],
        [WAYAO, LUJIAYAN, "merge", "永川府〔2024〕12号", "2024-06-30"]]
    log = ws.changelog()
    last = log[log["revision"] == ws.revision()]
    assert set(last["action"]) == {"divisions"}
    assert {"gazetteer", "villages", "households", "facilities_community_service_centre",
            "division_crosswalk"} <= set(last["layer"])
    assert "永川府〔2024〕12号" in last["detail"].iloc[0]

    sc = load_scenario(scenario)
    table = run_scenario(ws, sc, load_catalogue(), propose=False).indicators.set_index("indicator_id")
    assert 0 < table.loc["YC-1-06", "value"] <= 100  # the indicator table still computes
    assert table.loc["YC-1-07", "value"] == table.loc["YC-1-07", "value"]  # not NaN


def test_gisplan_run_after_a_merge_recodes_the_old_files_through_the_crosswalk(full: tuple[Path, Path]) -> None:
    scenario, store = full
    ws = open_workspace(store)
    change_divisions(ws, Change(DivisionChange.MERGE, (LUJIAYAN, WAYAO), new_code=LUJIAYAN, basis="永川府〔2024〕12号"))
    out = store.parent / "out"
    result = CliRunner().invoke(cli, ["run", str(scenario), "-w", str(store), "--out", str(out), "--no-map",
                                      "--no-propose"])
    assert result.exit_code == 0, result.output
    assert all(v == 0 for v in _coded(store, WAYAO).values())  # the files' old codes were replayed
    assert len(ws.read_table("gazetteer")) == 290
    table = pd.read_csv(out / "indicators.csv").set_index("indicator_id")
    assert 0 < table.loc["YC-1-06", "value"] <= 100


def test_renaming_a_village_is_not_blocked_by_the_households_recheck(full: tuple[Path, Path]) -> None:
    scenario, store = full
    ws = open_workspace(store)
    result = CliRunner().invoke(cli, ["divisions", "rename", "-w", str(store), LUJIAYAN, "--name",
                                      "卢家岩社区居民委员会", *BASIS])
    assert result.exit_code == 0, result.output
    assert ws.read_table("gazetteer").set_index("code12").loc[LUJIAYAN, "name"] == "卢家岩社区居民委员会"
    assert ws.read("households").set_index("code12").loc[LUJIAYAN, "name"] == "卢家岩社区居民委员会"
    assert ws.read_layer("villages").set_index("code12").loc[LUJIAYAN, "name"] == "卢家岩社区居民委员会"
    facility_names = ws.read_layer("facilities_community_service_centre")["name"]
    assert not facility_names.str.contains("卢家岩社区居民委员会").any()  # facilities keep their own names
    import_scenario(load_scenario(scenario), ws, load_catalogue())  # the old files again: replayed, not refused
    assert ws.read_table("gazetteer").set_index("code12").loc[LUJIAYAN, "name"] == "卢家岩社区居民委员会"


def test_merging_townships_recodes_their_villages_and_facilities(full: tuple[Path, Path]) -> None:
    _, store = full
    ws = open_workspace(store)
    gaz = ws.read_table("gazetteer")
    nandajie_villages = gaz[gaz["code12"].str.startswith("500118003") & (gaz["code12"] != "500118003000")]
    zhongshan_villages = gaz[gaz["code12"].str.startswith("500118001") & (gaz["code12"] != "500118001000")]
    town_level = [ws.read_layer(n) for n in ws.facility_layers().values()]
    at_town = sum(int((f["code12"] == "500118003000").sum()) for f in town_level)
    assert at_town > 0
    outcome = change_divisions(ws, Change(DivisionChange.MERGE, ("500118001000", "500118003000"),
                                          new_code="500118001000", basis="渝府〔2024〕1号"))
    crosswalk = outcome.result.crosswalk
    children = crosswalk[crosswalk["note"] == "下属村居随之改码"]
    assert len(children) == len(nandajie_villages)
    first_free = int(zhongshan_villages["code12"].str.slice(9).astype(int).max()) + 1
    assert children["new_code"].iloc[0] == f"500118001{first_free:03d}"
    after = ws.read_table("gazetteer")
    assert not after["code12"].str.startswith("500118003").any()
    assert len(after) == len(gaz) - 1
    moved = after.set_index("code12").loc[children["new_code"], "parent_code12"]
    assert (moved == "500118001000").all()
    towns = ws.read_layer("townships")
    assert len(towns) == 22
    assert all((ws.read_layer(n)["code12"].str.startswith("500118003")).sum() == 0
               for n in ws.facility_layers().values())


def test_invalid_changes_write_nothing(full: tuple[Path, Path]) -> None:
    _, store = full
    ws = open_workspace(store)
    before = ws.revision()
    runner = CliRunner()
    cases = [
        (["merge", LUJIAYAN, "500118001001"], "只能在同一乡镇街道内合并"),
        (["merge", LUJIAYAN, "500118006999"], "代码 500118006999 不在区划代码表中"),
        (["merge", LUJIAYAN, WAYAO, "--into", YUHEWAN], f"合并后的代码 {YUHEWAN} 已被"),
        (["recode", LUJIAYAN, "--new-code", "5001180062"], "不是12位统计用区划代码"),
        (["recode", LUJIAYAN, "--new-code", WAYAO], f"新代码 {WAYAO} 已被"),
        (["merge", "500118001000", LUJIAYAN], "必须同级"),
        (["rename", LUJIAYAN, "--name", "新名", "--date", "2024-6-1"], "not YYYY-MM-DD"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, ["divisions", args[0], "-w", str(store), *args[1:]])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert ws.revision() == before


def _halves(ws_path: Path, code: str) -> gpd.GeoDataFrame:
    village = open_workspace(ws_path).read_layer("villages").set_index("code12").loc[[code]]
    geom = village.geometry.iloc[0]
    minx, miny, maxx, maxy = geom.bounds
    mid = (minx + maxx) / 2
    west = shapely.intersection(geom, shapely.box(minx - 1, miny - 1, mid, maxy + 1))
    east = shapely.difference(geom, west)
    return gpd.GeoDataFrame({"code12": [code, "500118006299"], "name": ["卢家岩村村民委员会", "卢家岩东村村民委员会"]},
                            geometry=[west, east], crs="EPSG:4326")


def test_split_recodes_points_by_location_and_reports_the_households_table(full: tuple[Path, Path]) -> None:
    _, store = full
    parts = _halves(store, LUJIAYAN)
    parts_file = store.parent / "parts.gpkg"
    parts.to_file(parts_file)
    result = CliRunner().invoke(cli, ["divisions", "split", "-w", str(store), LUJIAYAN, "--parts", str(parts_file),
                                      "--parts-crs", "EPSG:4326", *BASIS])
    assert result.exit_code == 0, result.output
    assert "请人工改码" in result.output  # the households table row cannot be split by code
    ws = open_workspace(store)
    gaz = ws.read_table("gazetteer").set_index("code12")
    assert gaz.loc["500118006299", "parent_code12"] == "500118006000"
    villages = ws.read_layer("villages").set_index("code12")
    assert villages.geometry["500118006299"].area == pytest.approx(parts.geometry.iloc[1].area, rel=1e-6)
    points = pd.concat([ws.read_layer(n) for n in ws.facility_layers().values()])
    east = points[points["code12"] == "500118006299"]
    assert east.within(parts.geometry.iloc[1]).all()
    crosswalk = ws.read_table("division_crosswalk")
    assert crosswalk["new_code"].tolist() == [LUJIAYAN, "500118006299"]
    assert set(crosswalk["kind"]) == {"split"}


def test_adjust_moves_area_and_points_between_neighbours(full: tuple[Path, Path]) -> None:
    _, store = full
    ws = open_workspace(store)
    villages = ws.read_layer("villages").set_index("code12")
    strip = shapely.intersection(villages.geometry[LUJIAYAN],
                                 shapely.buffer(villages.geometry[YUHEWAN].boundary, 0.003))
    area_file = store.parent / "area.gpkg"
    gpd.GeoDataFrame(geometry=[strip], crs="EPSG:4326").to_file(area_file)
    result = CliRunner().invoke(cli, ["divisions", "adjust", "-w", str(store), "--from", LUJIAYAN, "--to", YUHEWAN,
                                      "--area", str(area_file), "--area-crs", "EPSG:4326", *BASIS])
    assert result.exit_code == 0, result.output
    after = ws.read_layer("villages").set_index("code12")
    assert after.geometry[LUJIAYAN].area == pytest.approx(villages.geometry[LUJIAYAN].area - strip.area, rel=1e-6)
    assert after.geometry[YUHEWAN].intersection(strip).area == pytest.approx(strip.area, rel=1e-6)
    assert ws.read_table("division_crosswalk")["note"].tolist() == ["部分区域划入；原代码保留"]


def test_change_level_from_a_change_file(full: tuple[Path, Path]) -> None:
    _, store = full
    change = store.parent / "change.toml"
    change.write_text(f'kind = "change-level"\ncodes = ["{LUJIAYAN}"]\nnew_name = "卢家岩社区居民委员会"\n'
                      'basis = "永川府〔2025〕3号"\nbasis_date = "2025-01-10"\ndate = "2025-03-01"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["divisions", "apply", "-w", str(store), str(change)])
    assert result.exit_code == 0, result.output
    ws = open_workspace(store)
    assert ws.read_table("division_crosswalk")[["kind", "new_name", "basis_date"]].to_numpy().tolist() == [
        ["change-level", "卢家岩社区居民委员会", "2025-01-10"]]
    listed = CliRunner().invoke(cli, ["divisions", "crosswalk", "-w", str(store)])
    assert "卢家岩社区居民委员会" in listed.output
    change.write_text('kind = "annex"\ncodes = ["1"]\n', encoding="utf-8")
    bad = CliRunner().invoke(cli, ["divisions", "apply", "-w", str(store), str(change)])
    assert bad.exit_code == 1
    assert "merge, split, rename, recode, change-level, adjust" in bad.output


def test_change_without_polygons_is_refused() -> None:
    from gisplan.boundaries import apply_change

    gaz = pd.DataFrame({"code12": [LUJIAYAN], "name": ["卢家岩村村民委员会"], "parent_code12": ["500118006000"]})
    result = apply_change(Change(DivisionChange.SPLIT, (LUJIAYAN,)), {"gazetteer": gaz}, kinds={"gazetteer": "gazetteer"})
    assert result.problems
    assert "需要新界线文件" in result.problems[0]
    with pytest.raises(DivisionChangeError, match="nothing was written"):
        raise DivisionChangeError(list(result.problems))


def test_a_ledger_imported_alone_after_a_merge_is_recoded_not_refused(full: tuple[Path, Path]) -> None:
    _, store = full
    ws = open_workspace(store)
    change_divisions(ws, Change(DivisionChange.MERGE, (LUJIAYAN, WAYAO), new_code=LUJIAYAN, basis="永川府〔2024〕12号"))
    ledger = ROOT / "layers" / "yongchuan_facilities_illustrative.gpkg"
    result = CliRunner().invoke(cli, ["layers", "import", str(ledger), "--kind", "facilities", "--type",
                                      "community_service_centre", "--layer", "community_service_centre",
                                      "-w", str(store)])
    assert result.exit_code == 0, result.output
    centres = ws.read_layer("facilities_community_service_centre")
    assert (centres["code12"] == WAYAO).sum() == 0
    assert (centres["code12"] == LUJIAYAN).sum() == 2
    assert "re-coded through division_crosswalk" in ws.metadata().set_index("layer").loc[
        "facilities_community_service_centre", "note"]
    assert WAYAO not in set(ws.read_table("gazetteer")["code12"])  # the retired code is not stored back


def test_a_baseline_table_is_recoded_through_the_crosswalk(full: tuple[Path, Path]) -> None:
    _, store = full
    ws = open_workspace(store)
    change_divisions(ws, Change(DivisionChange.MERGE, (LUJIAYAN, WAYAO), new_code=LUJIAYAN, basis="永川府〔2024〕12号"))
    baseline = store.parent / "units2020.csv"
    pd.DataFrame({"code12": [WAYAO, YUHEWAN], "households_2020": [300, 400]}).to_csv(baseline, index=False)
    out = store.parent / "recoded.csv"
    result = CliRunner().invoke(cli, ["divisions", "crosswalk", "-w", str(store), "--recode", str(baseline),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 rows re-coded" in result.output
    table = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert table[["code12", "code12_before"]].to_numpy().tolist() == [[LUJIAYAN, WAYAO], [YUHEWAN, YUHEWAN]]


@pytest.mark.parametrize("change", [
    ["merge", LUJIAYAN, WAYAO, "--into", LUJIAYAN],
    ["rename", WAYAO, "--name", "瓦窑新村村民委员会"],
    ["recode", WAYAO, "--new-code", "500118006299"],
])
def test_every_division_change_is_undone_exactly(full: tuple[Path, Path], change: list[str]) -> None:
    """A division change is one revision of the workspace's history: `gisplan undo` gives back every layer it
    touched (row hashes of the layers equal to those before the change), and the revision names its 批文."""
    _, store = full
    ws = open_workspace(store)
    names = [n for n in ws.metadata()["layer"]]
    before = {n: layer_hash(ws.read(n)) for n in names}
    result = CliRunner().invoke(cli, ["divisions", change[0], "-w", str(store), *change[1:], *BASIS])
    assert result.exit_code == 0, result.output
    changed = {n for n in [*names, "division_crosswalk"]
               if not ws.has_layer(n) or n not in before or layer_hash(ws.read(n)) != before[n]}
    assert changed  # the change did change layers
    assert "永川府〔2024〕12号" in str(ws.revisions()["note"].iloc[-1])
    undone = CliRunner().invoke(cli, ["undo", "-w", str(store)])
    assert undone.exit_code == 0, undone.output
    assert {n: layer_hash(ws.read(n)) for n in names} == before
    assert not ws.has_layer("division_crosswalk")
