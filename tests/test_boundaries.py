"""Boundary topology checks, the reviewed repair, boundary lines, markers and joint inspections (issue 15 items 2, 3):
hand-made polygons for each check, and the real 永川 townships, outline and neighbours."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from openpyxl import load_workbook

from gisplan.boundaries import boundary_lines, check_topology, place_markers, repair_coverage
from gisplan.cli.main import cli
from gisplan.errors import CRSError
from gisplan.store import open_workspace
from tests.conftest import ROOT, shared_data

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"
KM2 = 1e6


def _units(boxes: list[tuple[float, float, float, float]], codes: list[str], names: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code12": codes, "name": names}, geometry=[shapely.box(*b) for b in boxes], crs=UTM)


# ----------------------------------------------------------------------------------------- hand-made checks


def test_overlap_gap_and_outline_by_hand() -> None:
    # three 1 km squares in a row: A and B overlap by 100 m × 1 km, B and C leave a 300 m × 1 km strip between them
    units = _units([(0, 0, 1000, 1000), (900, 0, 2000, 1000), (2300, 0, 3300, 1000)],
                   ["500118001000", "500118002000", "500118003000"], ["甲街道", "乙镇", "丙镇"])
    outline = gpd.GeoDataFrame({"code12": ["500118000000"], "name": ["永川区"]},
                               geometry=[shapely.box(0, 0, 3300, 1200)], crs=UTM)
    report = check_topology(units, outline=outline, parents=outline)
    overlap = report.problems[report.problems["check"] == "overlap"]
    assert overlap[["names", "area_km2"]].to_numpy().tolist() == [["甲街道；乙镇", pytest.approx(0.1)]]
    assert report.totals["overlap_km2"] == pytest.approx(0.1)
    # the strip between B and C touches the outline's edge, so it is outline area in no unit: 0.3 + the 200 m band
    assert report.totals["outline_gap_km2"] == pytest.approx(0.3 + 3.3 * 0.2)
    assert report.totals["gap_km2"] == 0
    assert report.totals["outside_outline_km2"] == 0
    gap = report.problems[report.problems["check"] == "outline_gap"]
    assert gap["area_km2"].sum() == pytest.approx(0.96)


def test_hole_between_units_sliver_and_invalid_ring() -> None:
    # a ring of four units around an empty 10 m × 500 m strip: a gap inside the union, thin enough to be a sliver
    ring = [(0, 0, 1000, 400), (0, 400, 495, 900), (505, 400, 1000, 900), (0, 900, 1000, 1300)]
    units = _units(ring, [f"500118{i:03d}000" for i in range(1, 5)], ["一", "二", "三", "四"])
    report = check_topology(units)
    sliver = report.problems[report.problems["check"] == "sliver"]
    assert sliver["area_km2"].tolist() == [pytest.approx(0.005)]
    assert set(sliver["names"].iloc[0].split("；")) == {"一", "二", "三", "四"}
    assert report.totals["gap_km2"] == pytest.approx(0.005)
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
    bad = gpd.GeoDataFrame({"code12": ["500118001000"], "name": ["甲"]}, geometry=[bowtie], crs=UTM)
    invalid = check_topology(bad).problems
    row = invalid[invalid["check"] == "invalid_ring"].iloc[0]
    assert "Self-intersection" in row["message"]
    assert (row.geometry.x, row.geometry.y) == (50, 50)  # the point the reason names
    # a ring with a spike: make_valid gives a polygon and a stray line; only the polygon takes part
    spike = shapely.Polygon([(0, 0), (1000, 0), (1000, 1000), (2000, 2000), (1000, 1000), (0, 1000), (0, 0)])
    assert shapely.make_valid(spike).geom_type == "GeometryCollection"
    pair = gpd.GeoDataFrame({"code12": ["500118001000", "500118002000"], "name": ["甲", "乙"]},
                            geometry=[spike, shapely.box(900, 0, 1900, 1000)], crs=UTM)
    report = check_topology(pair)
    assert report.totals["overlap_km2"] == pytest.approx(0.1)
    assert report.totals["units_km2"] == pytest.approx(2.0)


def test_codes_and_parent_hierarchy() -> None:
    towns = _units([(0, 0, 1000, 1000), (1000, 0, 2000, 1000)], ["500118001000", "500118002000"], ["甲街道", "乙镇"])
    villages = _units([(0, 0, 500, 1000), (500, 0, 1000, 1000), (1000, 0, 2000, 1000), (0, 2000, 10, 2010)],
                      ["500118001001", "500118002001", "500118002001", "50011800200X"],
                      ["一村", "二村", "三村", "坏"])
    gaz = pd.DataFrame({"code12": ["500118001001", "500118002001"], "name": ["一村民委员会", "二村"]})
    problems = check_topology(villages, level="village", parents=towns, gazetteer=gaz).problems
    got = {(c, x) for c, x in problems[["check", "codes"]].itertuples(index=False)}
    assert ("duplicate_code", "500118002001") in got
    assert ("malformed_code", "50011800200X") in got
    assert ("name_mismatch", "500118001001") in got  # 一村 against 一村民委员会
    # 二村 is coded to 乙镇 (002) but lies in 甲街道
    parent = problems[problems["check"] == "parent_mismatch"]
    assert "二村 (500118002001) 的代码属于 乙镇，但其范围主要位于 甲街道" in parent["message"].tolist()
    wrong_level = check_topology(towns.assign(code12=["500118001001", "500118002000"])).problems
    assert "malformed_code" in set(wrong_level["check"])


def test_markers_off_their_line_and_crs_errors() -> None:
    units = _units([(0, 0, 1000, 1000)], ["500118001000"], ["甲"])
    lines = gpd.GeoDataFrame({"line_id": ["a-b"]}, geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=UTM)
    markers = gpd.GeoDataFrame({"marker_no": ["a-b-01", "a-b-02", "x-01"], "line_id": ["a-b", "a-b", "x"]},
                               geometry=shapely.points([(100, 10), (500, 120), (0, 0)]), crs=UTM)
    off = check_topology(units, markers=markers, lines=lines).problems
    off = off[off["check"] == "marker_off_line"]
    assert off["codes"].tolist() == ["a-b-02", "x-01"]
    assert off["distance_m"].iloc[0] == pytest.approx(120)
    assert "界线不存在" in off["message"].iloc[1]
    with pytest.raises(CRSError, match="projected CRS"):
        check_topology(units.to_crs("EPSG:4326"))
    with pytest.raises(CRSError, match="use one CRS"):
        check_topology(units, outline=units.to_crs("EPSG:32649"))


def test_repair_removes_overlaps_and_narrow_gaps_by_hand() -> None:
    units = _units([(0, 0, 1000, 1000), (900, 0, 2000, 1000), (2050, 0, 3000, 1000)],
                   ["500118001000", "500118002000", "500118003000"], ["甲", "乙", "丙"])
    open_gap = repair_coverage(units, gap_width_m=100)  # without an outline the 50 m gap is open, not closed
    assert bool(shapely.coverage_is_valid(open_gap.geometry.to_numpy()))
    assert open_gap["area_km2_after"].sum() == pytest.approx(2.95)  # 3.05 − the 0.1 overlap
    outline = gpd.GeoDataFrame({"name": ["区"]}, geometry=[shapely.box(0, 0, 3000, 1000)], crs=UTM)
    fixed = repair_coverage(units, outline=outline, gap_width_m=100)
    assert bool(shapely.coverage_is_valid(fixed.geometry.to_numpy()))
    assert fixed["area_km2_after"].sum() == pytest.approx(3.0)  # the 0.05 km² gap goes to a neighbour
    assert fixed.index.equals(units.index)
    assert fixed["area_km2_before"].tolist() == pytest.approx([1.0, 1.1, 0.95])


# -------------------------------------------------------------------------------------------- real 永川 data


def test_real_yongchuan_gap_and_overlaps() -> None:
    """The known figures of SOURCES.md, found by the check and equal to plain shapely on the real polygons."""
    towns = gpd.read_file(shared_data("boundaries", "yongchuan_townships_gcj02.geojson")).to_crs(UTM)
    district = gpd.read_file(shared_data("boundaries", "yongchuan_500118_district_gcj02.geojson")).to_crs(UTM)
    district = district.assign(code12="500118000000", name="永川区")
    report = check_topology(towns[["code12", "name", "geometry"]], outline=district, parents=district)
    by_name = towns.set_index("name").geometry

    def overlap(a: str, b: str) -> float:
        return float(shapely.area(shapely.intersection(by_name[a], by_name[b]))) / KM2

    pairs = report.problems[report.problems["check"] == "overlap"].set_index("names")["area_km2"]
    assert pairs["南大街街道；卫星湖街道"] == pytest.approx(overlap("南大街街道", "卫星湖街道"), rel=1e-9)
    assert pairs["中山路街道；南大街街道"] == pytest.approx(overlap("中山路街道", "南大街街道"), rel=1e-9)
    assert pairs["南大街街道；卫星湖街道"] == pytest.approx(1.51, abs=0.005)
    assert pairs["中山路街道；南大街街道"] == pytest.approx(0.56, abs=0.005)
    assert report.totals["overlap_km2"] == pytest.approx(2.13, abs=0.005)
    union = shapely.union_all(towns.geometry.to_numpy())
    gap = float(shapely.area(shapely.difference(district.geometry.iloc[0], union))) / KM2
    assert report.totals["outline_gap_km2"] == pytest.approx(gap, rel=1e-9)
    assert report.totals["outline_gap_km2"] == pytest.approx(3.17, abs=0.02)
    assert report.totals["outside_outline_km2"] == pytest.approx(9.5, abs=0.05)
    assert "sliver" in set(report.problems["check"])  # the 何埂镇/松溉镇 0.04 km² strip
    assert not shapely.coverage_is_valid(towns.geometry.to_numpy())
    assert report.totals["edge_mismatch_km"] > 0


def test_check_command_on_the_workspace_then_repair_and_apply(store: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["boundaries", "check", "-w", str(store), "--crs", UTM, "--out",
                                 str(store.parent / "problems.csv")])
    assert result.exit_code == 0, result.output
    assert "南大街街道；卫星湖街道 1.51 km²" in result.output
    assert "重叠合计 overlaps: 2.13 km²" in result.output
    assert "区界内不属于任何单元 outline area in no unit: 3.16 km²" in result.output  # WGS84 copies: 3.16, GCJ: 3.17
    ws = open_workspace(store)
    problems = ws.read_layer("boundary_problems")
    assert problems.crs.to_epsg() == 4326
    assert {"overlap", "sliver", "outline_gap", "outside_outline", "edge_mismatch"} <= set(problems["check"])
    worst = problems[problems["check"] == "overlap"].sort_values("area_km2").iloc[-1]
    assert (worst["names"], round(worst["area_km2"], 2)) == ("南大街街道；卫星湖街道", 1.51)
    assert shapely.Point(worst["lon"], worst["lat"]).within(worst.geometry)  # where it is, readable in a table
    assert (store.parent / "problems.csv").read_text(encoding="utf-8-sig").startswith("check,severity,codes")
    before = ws.read_layer("townships")

    result = runner.invoke(cli, ["boundaries", "check", "-w", str(store), "--crs", UTM, "--repair"])
    assert result.exit_code == 0, result.output
    assert "townships_repair" in result.output
    assert ws.read_layer("townships").geometry.geom_equals_exact(before.geometry, 0).all()  # untouched until --apply

    result = runner.invoke(cli, ["boundaries", "check", "-w", str(store), "--crs", UTM, "--apply", "--note", "已核对"])
    assert result.exit_code == 0, result.output
    assert "重叠合计 overlaps: 0.00 km²" in result.output
    after = ws.read_layer("townships")
    assert after["code12"].tolist() == before["code12"].tolist()
    assert bool(shapely.coverage_is_valid(after.to_crs(UTM).geometry.to_numpy()))
    assert not ws.has_layer("townships_repair")
    log = ws.changelog()
    applied = log[log["action"] == "boundaries-apply-repair"]
    assert applied["layer"].tolist() == ["townships", "townships_repair"]  # one revision: written, draft dropped
    assert applied["revision"].nunique() == 1
    assert "已核对" in applied["detail"].iloc[0]
    again = runner.invoke(cli, ["boundaries", "check", "-w", str(store), "--apply"])
    assert again.exit_code == 1
    assert "no repair draft" in again.output


# ------------------------------------------------------------------------------------------- lines, markers

EXPECTED_KM = {"泸县": 49.9, "合江县": 17.2, "江津区": 57.1, "大足区": 34.1, "铜梁区": 32.4, "璧山区": 27.6, "荣昌区": 23.1}


def _neighbour_files() -> list[str]:
    return [str(shared_data("boundaries", "chongqing_districts_gcj02.geojson")),
            str(shared_data("boundaries", "yongchuan_sichuan_neighbours_gcj02.geojson"))]


def test_boundary_lines_of_yongchuan(store: Path) -> None:
    result = CliRunner().invoke(cli, ["boundaries", "lines", "-w", str(store), "--crs", UTM,
                                      "--neighbours", *_neighbour_files()])
    assert result.exit_code == 0, result.output
    assert "7 条界线 lines: 县级 5 条，省级 2 条" in result.output
    lines = open_workspace(store).read_layer("boundary_lines")
    got = dict(zip(lines["side_b_name"], lines["length_km"], strict=True))
    assert set(got) == set(EXPECTED_KM)
    for name, km in EXPECTED_KM.items():
        assert got[name] == pytest.approx(km, rel=0.03), name
    levels = dict(zip(lines["side_b_name"], lines["level"], strict=True))
    assert {n for n, lv in levels.items() if lv == "省级"} == {"泸县", "合江县"}
    assert (lines["side_a_name"] == "永川区").all()
    assert lines["parts"].tolist() == [1] * 7  # each neighbour's shared outline is one continuous line
    assert lines["length_km"].sum() == pytest.approx(240.7, rel=0.01)


def test_lines_match_segments_despite_digitising_differences() -> None:
    # the neighbour's edge is 30 m off and has other vertices: within 50 m it is still one shared 2 km line
    district = gpd.GeoDataFrame({"code12": ["500118000000"], "name": ["甲区"]},
                                geometry=[shapely.box(0, 0, 2000, 2000)], crs=UTM)
    wobbly = shapely.Polygon([(2030, 0), (2010, 700), (2030, 1300), (2030, 2000), (4000, 2000), (4000, 0)])
    n = gpd.GeoDataFrame({"code12": ["500119000000"], "name": ["乙区"]}, geometry=[wobbly], crs=UTM)
    lines = boundary_lines(district, n, tolerance_m=50)
    shared = lines[lines["side_b_name"] == "乙区"]
    assert shared["length_km"].tolist() == [2.0]
    assert lines.loc[lines["side_b_name"] == "", "length_km"].tolist() == [6.0]  # no neighbour given there


def test_markers_script_is_seeded_and_labelled(tmp_path: Path) -> None:
    shared = shared_data()
    for out in (tmp_path / "a", tmp_path / "b"):
        out.mkdir()
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_boundary_markers.py"), "--shared", str(shared),
                        "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    name = "yongchuan_boundary_markers_illustrative.csv"
    a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
    assert a == b
    assert a == (ROOT / "layers" / name).read_bytes()  # the shipped file is the script's output
    table = pd.read_csv(tmp_path / "a" / name, encoding="utf-8-sig", dtype={"line_id": str})
    assert len(table) == 14
    per_line = table.groupby("side_b_name").size().to_dict()
    assert per_line == {"泸县": 1, "江津区": 4, "大足区": 3, "铜梁区": 2, "璧山区": 2, "荣昌区": 2}
    assert table["note"].str.startswith("示意").all()
    assert table["illustrative"].all()


def test_markers_inspection_and_the_joint_inspection_sheet(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["boundaries", "lines", "-w", str(store), "--neighbours", *_neighbour_files()]).exit_code == 0
    markers_csv = ROOT / "layers" / "yongchuan_boundary_markers_illustrative.csv"
    result = runner.invoke(cli, ["boundaries", "markers", "-w", str(store), "--import", str(markers_csv)])
    assert result.exit_code == 0, result.output
    assert "14 markers imported" in result.output
    assert "示意" in result.output
    result = runner.invoke(cli, ["boundaries", "inspect", "-w", str(store), "500118-510521-01", "--date", "2024-05-20",
                                 "--inspectors", "张三,李四", "--state", "倾斜", "--remarks", "=HYPERLINK(\"x\")",
                                 "--photo", "photos/01.jpg", "--photo", "photos/02.jpg"])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(cli, ["boundaries", "inspect", "-w", str(store), "500118-999999-01", "--date", "2024-5-2",
                              "--state", "完好"])
    assert bad.exit_code == 1
    assert "界桩 '500118-999999-01' 不存在" in bad.output
    assert "不是 YYYY-MM-DD" in bad.output
    sheet = tmp_path / "联检表.xlsx"
    result = runner.invoke(cli, ["boundaries", "inspect", "-w", str(store), "--sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    book = load_workbook(sheet)
    rows = list(book["联检表"].iter_rows(values_only=True))
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert len(rows) == 15
    assert first["界线级别 level"] == "省级"
    assert first["乙方 side B"] == "泸县"
    assert first["现状 state"] == "倾斜"
    assert first["检查人 inspectors"] == "张三,李四"
    assert first["照片 photos"] == "photos/01.jpg；photos/02.jpg"
    assert book["联检表"].cell(row=2, column=header.index("备注 remarks") + 1).data_type == "s"  # text, not a formula
    assert first["说明 note"] == "示意 illustrative"
    assert "说明" in book.sheetnames
    # GCJ-02 lies about 350 m east/south-west of CGCS2000 here, as in the data notes
    shift_m = np.hypot((first["经度 lon GCJ-02"] - first["经度 lon CGCS2000"]) * 97_000,
                       (first["纬度 lat GCJ-02"] - first["纬度 lat CGCS2000"]) * 111_000)
    assert 300 < shift_m < 600
    ws = open_workspace(store)
    assert ws.read_layer("boundary_markers").set_index("marker_no").loc["500118-510521-01", "state"] == "倾斜"
    assert ws.read_table("marker_inspections")["marker_no"].tolist() == ["500118-510521-01"]
    # markers far from their line show up in the check (move one 500 m away)
    check = runner.invoke(cli, ["boundaries", "check", "-w", str(store)])
    assert "界桩偏离界线" not in check.output


def test_place_markers_stay_on_their_lines() -> None:
    lines = gpd.GeoDataFrame({"line_id": ["a", "b"], "side_a_name": ["甲", "甲"], "side_b_name": ["乙", "丙"]},
                             geometry=[shapely.LineString([(0, 0), (1000, 0)]),
                                       shapely.LineString([(0, 0), (0, 3000)])], crs=UTM)
    m = place_markers(lines, {"a": 1, "b": 3}, rng=7)
    assert m["marker_no"].tolist() == ["a-01", "b-01", "b-02", "b-03"]
    assert shapely.distance(m.geometry.to_numpy(), lines.set_index("line_id").geometry[m["line_id"]].to_numpy()).max() < 1e-6
    assert m.equals(place_markers(lines, {"a": 1, "b": 3}, rng=7))
