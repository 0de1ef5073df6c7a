"""Ledger checks that accept what is right (issue 13 item 1): a point inside its township polygon but outside the
district outline, ledgers without an id column, short village names, codes filled in from names, and per-layer
overrides that later checks reuse."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.store import open_workspace
from gisplan.toponym import division_parts, match_units, name_key
from tests.conftest import LAYERS, sha256

if TYPE_CHECKING:
    from pathlib import Path

# 179 m inside the shipped 来苏镇 polygon, 801 m outside the 永川区 outline (UTM 48N): the two layers disagree there
LAISU = (105.70551, 29.178064)
LAISU_CODE = "500118111000"
TEC = ("--kind", "facilities", "--type", "township_elderly_centre", "--crs", "EPSG:4326")
MPS = ("--kind", "facilities", "--type", "minor_protection_station", "--crs", "EPSG:4326")


def _import(store: Path, path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *args, "-w", str(store)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_point_inside_its_township_but_outside_the_outline_passes(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "laisu.csv"
    path.write_text(f"facility_id,name,code12,lon,lat\nL1,来苏镇养老服务中心,{LAISU_CODE},{LAISU[0]},{LAISU[1]}\n",
                    encoding="utf-8")
    code, output = _import(store, path, *TEC)
    assert code == 0, output
    warned = output  # the CLI logs warnings to stderr
    assert "laisu.csv, row 2" in warned
    assert "801 m outside the 永川区 outline but inside township 来苏镇 (500118111000)" in warned
    assert "boundary layers disagree" in warned
    stored = open_workspace(store).read_layer("facilities_township_elderly_centre")
    assert stored["code12"].tolist() == [LAISU_CODE]


def test_point_outside_both_layers_names_both(store: Path, tmp_path: Path) -> None:
    """The same point declared in another township: outside the outline and 14 km from its township."""
    path = tmp_path / "laisu.csv"
    path.write_text(f"facility_id,name,code12,lon,lat\nL1,甲,500118001000,{LAISU[0]},{LAISU[1]}\n", encoding="utf-8")
    before = sha256(store)
    code, output = _import(store, path, *TEC)
    assert code == 1
    assert "row 2, field `lon/lat`: the point lies 801 m outside 永川区 and" in output
    assert "m from township 中山路街道." in output
    assert sha256(store) == before


def test_ledger_without_id_column_gets_no_name_errors(store: Path, tmp_path: Path, base_store: Path,
                                                      centre_point: dict[str, object]) -> None:
    """A 序号-only ledger of stations named by their community: names are the stations' own, never compared with
    the gazetteer (17 of 21 problems were such false errors)."""
    gaz = open_workspace(base_store).read_table("gazetteer")
    town = str(centre_point["code12"])
    villages = gaz[gaz["code12"].str.startswith(town[:9]) & (gaz["code12"] != town)].head(3)
    rows = "".join(f"{n},{name[:3]}养老服务站,{code},{centre_point['lon']},{centre_point['lat']}\n"
                   for n, (code, name) in enumerate(zip(villages["code12"], villages["name"], strict=True), start=1))
    path = tmp_path / "stations.csv"
    path.write_text("序号,站点名称,区划代码,经度,纬度\n" + rows, encoding="gbk")
    code, output = _import(store, path, *MPS, "--make-ids")
    assert code == 0, output
    assert "differs from the gazetteer" not in output
    stored = open_workspace(store).read_layer("facilities_minor_protection_station")
    assert stored["facility_id"].tolist() == [f"minor_protection_station-{r}" for r in (2, 3, 4)]


def test_short_village_name_is_matched(store: Path, tmp_path: Path, base_store: Path) -> None:
    """朱龙花村 is 朱龙花村村民委员会 (500118006200); 陈食社区 is 陈食社区居民委员会."""
    towns = open_workspace(base_store).read_layer("townships")
    point = towns.loc[towns["code12"] == "500118006000"].geometry.iloc[0].representative_point()
    path = tmp_path / "csc.csv"
    path.write_text("facility_id,name,所属镇街,所属村社区,lon,lat,建筑面积\n"
                    f"C1,朱龙花村便民服务中心,陈食街道,朱龙花村,{point.x},{point.y},300\n"
                    f"C2,陈食社区服务中心,陈食街道,陈食社区,{point.x},{point.y},500\n", encoding="utf-8")
    code, output = _import(store, path, "--kind", "facilities", "--type", "community_service_centre",
                           "--crs", "4326")
    assert code == 0, output
    stored = open_workspace(store).read_layer("facilities_community_service_centre")
    assert stored.set_index("facility_id").loc[["C1", "C2"], "code12"].tolist() == ["500118006200", "500118006001"]


def test_code_filled_from_the_township_column_is_not_reported_again(store: Path, tmp_path: Path) -> None:
    """A village-level ledger with an unknown village name: one message about the village, none about the township
    code that was filled in from 所属镇街 (the user never typed a code)."""
    path = tmp_path / "csc.csv"
    path.write_text("facility_id,name,所属镇街,所属村社区,lon,lat,建筑面积\n"
                    f"C1,甲,来苏镇,火星村,{LAISU[0]},{LAISU[1]},300\n", encoding="utf-8")
    code, output = _import(store, path, "--kind", "facilities", "--type", "community_service_centre",
                           "--crs", "4326")
    assert code == 1
    assert "1 problem found" in output, output
    assert "'火星村' matches no village/community" in output
    assert "township code" not in output
    assert "code 500118111000" not in output


def test_filled_township_code_mismatch_speaks_of_the_name(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "tec.csv"
    path.write_text(f"facility_id,name,所属镇街,lon,lat\nT1,甲,中山路街道,{LAISU[0]},{LAISU[1]}\n", encoding="utf-8")
    code, output = _import(store, path, *TEC, "--tolerance-m", "2000")
    assert code == 1
    assert "from township 中山路街道 that its `所属镇街` names" in output, output
    assert "that its code" not in output


def test_override_is_stored_reused_and_logged(store: Path, tmp_path: Path, base_store: Path) -> None:
    """--tolerance-m 1500 is kept in the layer's metadata and change log; a later township import checks the
    layer again with it (not with the default 50 m, which would refuse it)."""
    path = tmp_path / "far.csv"
    # 来苏镇's point declared as 来苏镇 but given 1.1 km outside every polygon: accepted only with a wide tolerance
    far = (105.69, 29.175)
    path.write_text(f"facility_id,name,code12,lon,lat\nF1,甲,{LAISU_CODE},{far[0]},{far[1]}\n", encoding="utf-8")
    code, output = _import(store, path, *TEC)
    assert code == 1, output
    code, output = _import(store, path, *TEC, "--tolerance-m", "1500")
    assert code == 0, output
    ws = open_workspace(store)
    meta = ws.metadata().set_index("layer")
    assert json.loads(meta.loc["facilities_township_elderly_centre", "options"]) == {
        "crs": "EPSG:4326", "tolerance_m": 1500.0}
    log = ws.changelog()
    last = json.loads(log[log["layer"] == "facilities_township_elderly_centre"]["detail"].iloc[-1])
    assert last["options"]["tolerance_m"] == 1500.0
    # the townships are imported again: the facility layer is checked again with its own 1500 m
    code, output = _import(store, LAYERS / "yongchuan_boundaries.gpkg", "--kind", "townships", "--layer",
                           "townships")
    assert code == 0, output
    meta = open_workspace(store).metadata().set_index("layer")
    assert json.loads(meta.loc["facilities_township_elderly_centre", "options"])["tolerance_m"] == 1500.0


def test_recheck_without_the_override_would_refuse(store: Path, tmp_path: Path) -> None:
    """Control for the test above: with the default tolerance the re-check refuses the same layer."""
    path = tmp_path / "far.csv"
    path.write_text(f"facility_id,name,code12,lon,lat\nF1,甲,{LAISU_CODE},105.69,29.175\n", encoding="utf-8")
    code, output = _import(store, path, *TEC, "--tolerance-m", "1500")
    assert code == 0, output
    import sqlite3

    with sqlite3.connect(store) as con:  # forget the override, as a workspace from before this change would
        con.execute("UPDATE gisplan_layers SET options = NULL WHERE layer = 'facilities_township_elderly_centre'")
    code, output = _import(store, LAYERS / "yongchuan_boundaries.gpkg", "--kind", "townships", "--layer",
                           "townships")
    assert code == 1
    assert "workspace layer `facilities_township_elderly_centre` (checked again" in output


@pytest.mark.parametrize(("written", "standard"), [
    ("朱龙花村", "朱龙花村村民委员会"), ("朱龙花村村委会", "朱龙花村村民委员会"), ("中山路社区", "中山路社区居民委员会"),
    ("中山路社区居委会", "中山路社区居民委员会"), ("红旗村", "红旗村民委员会"), ("胜利路街道办事处", "胜利路街道"),
    ("来苏镇人民政府", "来苏镇"), ("  来苏镇 ", "来苏镇"), ("中山路社区（原中山村）", "中山路社区居民委员会"),
])
def test_name_keys_of_equivalent_names(written: str, standard: str) -> None:
    assert name_key(written) == name_key(standard)


@pytest.mark.parametrize(("a", "b"), [("朱龙花社区", "朱龙花村村民委员会"), ("来苏镇", "来苏乡"), ("三星村", "三兴村")])
def test_name_keys_of_different_names(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_match_units_decides_within_the_township() -> None:
    units = pd.DataFrame({"code12": ["500118006200", "500118111201", "500118111202"],
                          "name": ["朱龙花村村民委员会", "朱龙花村村民委员会", "来苏社区居民委员会"]})
    names = pd.Series(["朱龙花村", "朱龙花村", "来苏", None])
    codes, amb = match_units(names, units, within=pd.Series(["500118006", None, "500118111", None]))
    assert codes.tolist() == ["500118006200", None, "500118111202", None]
    assert amb.tolist() == [False, True, False, False]
    assert division_parts("来苏") == ("来苏", "")


def test_ledger_without_coordinates_is_located_by_name(store: Path, tmp_path: Path, base_store: Path) -> None:
    """Only 地址 and 所属村社区: rows go to their unit's representative point, never silently (item 8)."""
    path = tmp_path / "stations.csv"
    path.write_text("站点名称,所属镇街,地址\n"
                    "甲站,来苏镇,\n"
                    "乙站,,重庆市永川区陈食街道朱龙花村3组\n"
                    "丙站,,永川区来苏镇人民政府旁\n", encoding="gbk")
    refused = CliRunner().invoke(cli, ["layers", "import", str(path), *MPS, "--make-ids", "-w", str(store)])
    assert refused.exit_code == 1
    assert "--locate-by-name" in refused.output
    code, output = _import(store, path, *MPS, "--make-ids", "--locate-by-name")
    assert code == 0, output
    assert "located by name (no coordinates): 3 at their township's representative point" in output
    stored = open_workspace(store).read_layer("facilities_minor_protection_station")
    # the base workspace has no village polygons: every row is placed at its township's point
    assert stored["location_precision"].tolist() == ["township"] * 3
    assert stored["code12"].tolist() == ["500118111000", "500118006200", "500118111000"]  # 朱龙花村 from the address
    towns = open_workspace(base_store).read_layer("townships").set_index("code12")
    for point, code12 in zip(stored.geometry, stored["code12"], strict=True):
        assert towns.geometry.loc[code12[:9] + "000"].contains(point)
    meta = open_workspace(store).metadata().set_index("layer")
    assert json.loads(meta.loc["facilities_minor_protection_station", "options"])["locate_by_name"] is True


def test_located_rows_use_village_polygons_when_there_are_some(store: Path, tmp_path: Path) -> None:
    code, output = _import(store, LAYERS / "yongchuan_villages_illustrative.gpkg", "--kind", "villages",
                           "--layer", "villages")
    assert code == 0, output
    path = tmp_path / "csc.csv"
    path.write_text("facility_id,name,所属镇街,所属村社区,建筑面积\nC1,甲,陈食街道,朱龙花村,300\n", encoding="utf-8")
    code, output = _import(store, path, "--kind", "facilities", "--type", "community_service_centre",
                           "--locate-by-name")
    assert code == 0, output
    stored = open_workspace(store).read_layer("facilities_community_service_centre")
    row = stored[stored["facility_id"] == "C1"].iloc[0]
    assert row["location_precision"] == "village"
    villages = open_workspace(store).read_layer("villages").set_index("code12")
    assert villages.geometry.loc["500118006200"].contains(row.geometry)


def test_address_that_names_no_unit_is_reported(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_text("facility_id,站点名称,地址\nA,甲站,火星基地1号\n", encoding="utf-8")
    before = sha256(store)
    code, output = _import(store, path, *MPS, "--locate-by-name")
    assert code == 1
    assert "row 2, field `地址`: the row has no coordinates, and no division code" in output
    assert sha256(store) == before
