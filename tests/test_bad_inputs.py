"""Every validation rule, each with a real bad file on disk, through the CLI.

Each case asserts: exit code 1, no traceback, the message names the row and/or field and gives a fix,
and the workspace is byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.store import open_workspace
from tests.conftest import LAYERS, sha256

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

HEAD = "facility_id,name,code12,lon,lat,beds,nursing_beds"


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path, dict[str, object]], Path]
    args: tuple[str, ...]
    expect: tuple[str, ...]
    extra: tuple[str, ...] = field(default=())


def csv(text: str, *, name: str = "bad.csv", encoding: str = "utf-8") -> Callable[[Path, dict[str, object]], Path]:
    def write(tmp: Path, p: dict[str, object]) -> Path:
        path = tmp / name
        path.write_bytes(text.format(**p).encode(encoding))
        return path

    return write


def raw(data: bytes, name: str) -> Callable[[Path, dict[str, object]], Path]:
    def write(tmp: Path, p: dict[str, object]) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return write


def geojson(features: list[dict[str, object]], name: str = "bad.geojson") -> Callable[[Path, dict[str, object]], Path]:
    def write(tmp: Path, p: dict[str, object]) -> Path:
        path = tmp / name
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
        return path

    return write


def feature(geom: object, **props: object) -> dict[str, object]:
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom) if geom else None}


def shapefile_without_prj(tmp: Path, p: dict[str, object]) -> Path:
    gdf = gpd.GeoDataFrame({"facility_id": ["A"], "name": ["甲"], "code12": [p["code12"]]},
                           geometry=[shapely.Point(p["lon"], p["lat"])], crs="EPSG:4326")
    path = tmp / "no_prj.shp"
    gdf.rename(columns={"facility_id": "fid_text"}).to_file(path, engine="pyogrio")
    path.with_suffix(".prj").unlink()
    return path


def two_layer_gpkg(tmp: Path, p: dict[str, object]) -> Path:
    path = tmp / "two.gpkg"
    gdf = gpd.GeoDataFrame({"facility_id": ["A"], "name": ["甲"], "code12": [p["code12"]]},
                           geometry=[shapely.Point(p["lon"], p["lat"])], crs="EPSG:4326")
    gdf.to_file(path, layer="a", engine="pyogrio")
    gdf.to_file(path, layer="b", engine="pyogrio")
    return path


def xlsx(tmp: Path, p: dict[str, object]) -> Path:
    path = tmp / "ledger.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "2023"
    wb.active.append(["facility_id", "name", "code12"])
    wb.save(path)
    return path


BOWTIE = shapely.Polygon([(105.9, 29.3), (105.95, 29.35), (105.95, 29.3), (105.9, 29.35)])
TEC = ("--kind", "facilities", "--type", "township_elderly_centre", "--crs", "EPSG:4326")
INST = ("--kind", "facilities", "--type", "elderly_institution", "--crs", "EPSG:4326")
CSC = ("--kind", "facilities", "--type", "community_service_centre", "--crs", "EPSG:4326")

CASES = [
    Case("missing file", lambda t, p: t / "nope.csv", TEC, ("nope.csv", "does not exist")),
    Case("unsupported extension", raw(b"hello", "ledger.docx"), TEC, ("ledger.docx", "'.docx'", "convert it")),
    Case("old xls", raw(b"\xd0\xcf\x11\xe0", "ledger.xls"), TEC, ("ledger.xls", "save it as .xlsx")),
    Case("undecodable bytes", raw(b"facility_id,name\nA,\xff\xfe\xff\n", "bad.csv"), TEC,
         ("bad.csv, row 2", "neither UTF-8 nor GBK")),
    Case("empty file", raw(b"", "empty.csv"), TEC, ("empty.csv", "no data rows")),
    Case("header only", csv(HEAD + "\n"), TEC, ("bad.csv", "no data rows")),
    Case("missing required column", csv("facility_id,code12,lon,lat\nA,{code12},{lon},{lat}\n"), TEC,
         ("field `name`", "required column `name` is missing", "名称")),
    Case("no coordinate columns", csv("facility_id,name,code12\nA,甲,{code12}\n"), TEC,
         ("field `lon/lat`", "no coordinate columns")),
    Case("coordinates without --crs", csv(HEAD + "\nA,甲,{code12},{lon},{lat},10,5\n"),
         ("--kind", "facilities", "--type", "township_elderly_centre"), ("carry no coordinate system", "gcj02")),
    Case("non-numeric longitude", csv(HEAD + "\nA,甲,{code12},东经105度,{lat},10,5\n"), TEC,
         ("row 2, field `lon`", "'东经105度' is not a number")),
    Case("swapped lon/lat", csv(HEAD + "\nA,甲,{code12},{lat},{lon},10,5\n"), TEC,
         ("row 2", "look swapped", "swap the two columns")),
    Case("latitude out of range", csv(HEAD + "\nA,甲,{code12},105.9,95.0,10,5\n"), TEC,
         ("row 2", "is not a longitude/latitude")),
    Case("duplicate ids", csv(HEAD + "\nA,甲,{code12},{lon},{lat},1,0\nA,乙,{code12},{lon},{lat},1,0\n"), TEC,
         ("row 3, field `facility_id`", "'A' is used already on row 2")),
    Case("empty name", csv(HEAD + "\nA,,{code12},{lon},{lat},1,0\n"), TEC, ("row 2, field `name`", "is empty")),
    Case("malformed code", csv(HEAD + "\nA,甲,5001180010,{lon},{lat},1,0\n"), TEC,
         ("row 2, field `code12`", "not a 12-digit division code")),
    Case("code in scientific notation", csv(HEAD + "\nA,甲,5.00118E+11,{lon},{lat},1,0\n"), TEC,
         ("row 2, field `code12`", "Excel turned into scientific notation", "format the column as text")),
    Case("code not in gazetteer", csv(HEAD + "\nA,甲,500118999000,{lon},{lat},1,0\n"), TEC,
         ("row 2, field `code12`", "500118999000 is not in the gazetteer")),
    Case("code disagrees with polygon", csv(HEAD + "\nA,甲,{other_code},{lon},{lat},1,0\n"), TEC,
         ("row 2, field `code12`", "the point falls in", "that its code {other_code} declares")),
    Case("point outside district", csv(HEAD + "\nA,甲,{code12},{near_lon},{lat},1,0\n"), TEC,
         ("row 2, field `lon/lat`", "outside 永川区", "gcj02")),
    Case("township name unknown", csv("facility_id,name,所属镇街,lon,lat\nA,甲,胜利街道办事处,{lon},{lat}\n"), TEC,
         ("row 2, field `所属镇街`", "'胜利街道办事处' matches no township", "Did you mean 胜利路街道")),
    Case("village name unknown",
         csv("facility_id,name,所属村社区,lon,lat,建筑面积\nA,甲,火星社区,{lon},{lat},100\n"), CSC,
         ("row 2, field `所属村社区`", "'火星社区' matches no village/community")),
    Case("non-numeric floor area", csv("facility_id,name,code12,lon,lat,建筑面积\nA,甲,{village},{lon},{lat},约120平方米\n"),
         CSC, ("row 2, field `建筑面积`", "'约120平方米' is not a number", "a unit word ㎡/m2")),
    Case("negative beds", csv("facility_id,name,code12,lon,lat,床位数,护理型床位,运营方式\nA,甲,{code12},{lon},{lat},-5,0,公办\n"),
         INST, ("row 2, field `床位数`", "below the minimum 0")),
    Case("nursing beds exceed beds",
         csv("facility_id,name,code12,lon,lat,床位数,护理型床位,运营方式\nA,甲,{code12},{lon},{lat},10,12,民办\n"),
         INST, ("row 2, field `护理型床位`", "nursing beds (12) exceed beds (10)")),
    Case("bad enum value", csv("facility_id,name,code12,lon,lat,床位数,护理型床位,运营方式\nA,甲,{code12},{lon},{lat},10,2,外资\n"),
         INST, ("row 2, field `运营方式`", "'外资' is not one of: government, private")),
    Case("invalid polygon", geojson([feature(BOWTIE, code12="500118001000", name="中山路街道")]),
         ("--kind", "townships", "--crs", "EPSG:4326"), ("row 1, field `geometry`", "invalid (Self-intersection",
                                                         "Fix geometries")),
    Case("empty geometry", geojson([feature(None, facility_id="A", name="甲", code12="500118001000")]), TEC,
         ("row 1, field `geometry`", "the geometry is empty")),
    Case("wrong geometry type",
         geojson([feature(shapely.LineString([(105.9, 29.3), (105.91, 29.31)]), facility_id="A", name="甲",
                          code12="500118001000")]), TEC, ("row 1, field `geometry`", "is a LineString", "needs Point")),
    Case("shapefile without .prj", shapefile_without_prj, ("--kind", "facilities", "--type", "township_elderly_centre"),
         ("no_prj.shp", "does not say which coordinate system")),
    Case("households not whole", csv("code12,户数,常住人口\n{village},12.5,30\n"), ("--kind", "households"),
         ("row 2, field `户数`", "'12.5' is not a whole number")),
    Case("population below households", csv("code12,户数,常住人口\n{village},300,120\n"), ("--kind", "households"),
         ("row 2, field `常住人口`", "smaller than households", "swapped")),
    Case("gazetteer orphan and level", csv("code12,name,level,parent_code12\n500118000000,永川区,3,500100000000\n"
                                           "500118001000,中山路街道,5,500118000000\n500118001001,甲社区,5,500118009000\n"),
         ("--kind", "gazetteer"), ("row 3, field `level`", "level 5 does not fit", "row 4, field `parent_code12`",
                                   "parent 500118009000 is not in the gazetteer")),
    Case("road layer of points", geojson([feature(shapely.Point(105.9, 29.3))]), ("--kind", "roads", "--crs", "gcj02"),
         ("row 1, field `geometry`", "is a Point", "needs LineString or MultiLineString")),
    Case("volunteer host unknown", csv("facility_id,name,code12,lon,lat,host_facility_id\nV1,甲,{village},{lon},{lat},CSC-9999\n"),
         ("--kind", "facilities", "--type", "volunteer_service_point", "--crs", "4326"),
         ("row 2, field `host_facility_id`", "'CSC-9999' is not a community service centre")),
    Case("missing sheet", xlsx, (*TEC, "--sheet", "2024"), ("ledger.xlsx", "has no sheet '2024'", "2023")),
    Case("two columns for one attribute", csv("facility_id,name,名称,code12,lon,lat\nA,甲,甲,{code12},{lon},{lat}\n"),
         TEC, ("field `名称`", "all mean `name`")),
    Case("gpkg needs --layer", two_layer_gpkg, TEC, ("two.gpkg", "holds 2 layers", "--layer")),
    Case("district of two features",
         geojson([feature(shapely.box(105.9, 29.3, 105.91, 29.31), code12="500118000000", name="永川区"),
                  feature(shapely.box(105.92, 29.3, 105.93, 29.31), code12="500118000000", name="永川区")]),
         ("--kind", "district", "--crs", "4326"), ("exactly 1 feature", "dissolve")),
    Case("township code of a village", geojson([feature(shapely.box(105.9, 29.3, 105.91, 29.31), code12="500118001001",
                                                        name="中山路社区居民委员会")]),
         ("--kind", "townships", "--crs", "4326"), ("row 1, field `code12`", "is a village code")),
]


def cr_only(tmp: Path, p: dict[str, object]) -> Path:
    """An old-Mac (CR-only) file whose third line is wrong: rows are still counted as the user sees them."""
    path = tmp / "mac.csv"
    text = f"{HEAD}\rA,甲,{p['code12']},{p['lon']},{p['lat']},10,2\rB,乙,{p['code12']},{p['lon']},{p['lat']},x,2\r"
    path.write_bytes(text.encode("utf-8"))
    return path


def cpg_disagrees(tmp: Path, p: dict[str, object]) -> Path:
    """A GBK .dbf whose .cpg says UTF-8 (GDAL would garble every name)."""
    path = tmp / "tec.shp"
    gdf = gpd.GeoDataFrame({"fid_text": ["A"], "name": ["来苏镇养老服务中心"], "code12": [p["code12"]]},
                           geometry=[shapely.Point(p["lon"], p["lat"])], crs="EPSG:4326")
    gdf.to_file(path, engine="pyogrio", encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
    return path


def overlapping_townships(tmp: Path, p: dict[str, object]) -> Path:
    """The real 永川 townships with 胜利路街道's polygon replaced by 中山路街道's (one unit drawn twice)."""
    towns = pyogrio.read_dataframe(LAYERS / "yongchuan_boundaries.gpkg", layer="townships")
    towns.loc[1, "geometry"] = towns.geometry.iloc[0]
    path = tmp / "towns.gpkg"
    towns.to_file(path, engine="pyogrio")
    return path


def workbook(rows: list[list[object]], *, merge: str | None = None, hidden_first: bool = False,
             name: str = "ledger.xlsx") -> Callable[[Path, dict[str, object]], Path]:
    def write(tmp: Path, p: dict[str, object]) -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        if hidden_first:
            ws.title = "说明"
            ws.append(["填表说明"])
            ws.sheet_state = "hidden"
            ws = wb.create_sheet("2023")
        else:
            ws.title = "2023"
        for row in rows:
            ws.append([str(c).format(**p) if isinstance(c, str) else c for c in row])
        if merge:
            ws.merge_cells(merge)
        wb.create_sheet("2024")
        path = tmp / name
        wb.save(path)
        return path

    return write


BIG5_ROW = "A,永川區來蘇鎮養老服務中心,{code12},{lon},{lat},10,2\n"
HH = ("--kind", "households")

# issue 13: every input class that got through or ended in a traceback
CASES_13 = [
    Case("bare CR in a cell", csv(HEAD + "\nA,甲\r乙,{code12},{lon},{lat},10,2\n"), TEC,
         ("bad.csv, row 2", "bare carriage return (CR) inside a cell", "CHAR(13)")),
    Case("CR-only line endings keep row numbers", cr_only, TEC, ("mac.csv, row 3, field `beds`", "'x' is not a number")),
    Case("unclosed ring in GeoJSON", geojson([{"type": "Feature", "properties": {"code12": "500118001000", "name": "中山路街道"},
                                               "geometry": {"type": "Polygon", "coordinates": [[[105.9, 29.3],
                                                            [105.95, 29.3], [105.95, 29.35], [105.9, 29.35]]]}}]),
         ("--kind", "townships"), ("row 1, field `geometry`", "a polygon ring is not closed", "Fix geometries")),
    Case("unclosed ring in WKT", csv('code12,name,wkt\n500118001000,中山路街道,"POLYGON((105.9 29.3,105.95 29.3,105.95 '
                                     '29.35))"\n'), ("--kind", "townships", "--crs", "4326"),
         ("row 2, field `wkt`", "a polygon ring is not closed", "ends on its first point")),
    Case("infinite population", csv("code12,户数,常住人口\n{village},300,inf\n"), HH,
         ("row 2, field `常住人口`", "'inf' is not a finite number")),
    Case("number too large for its column", csv(HEAD + "\nA,甲,{code12},{lon},{lat},1e30,2\n"), TEC,
         ("row 2, field `beds`", "'1e30' is too large for the `beds` column")),
    Case("NaN road coordinates", raw(b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
                                     b'"geometry":{"type":"LineString","coordinates":[[105.9,29.3],[NaN,29.31]]}}]}',
                                     "roads.geojson"), ("--kind", "roads", "--crs", "gcj02"),
         ("row 1, field `geometry`", "is not a number (NaN)")),
    Case("Big5 read as GBK", csv(HEAD + "\n" + BIG5_ROW, encoding="big5"), TEC,
         ("bad.csv", "looks like Big5 (Traditional Chinese)", "--encoding big5")),
    Case("NUL byte in a name", csv(HEAD + "\nA,甲\x00乙,{code12},{lon},{lat},10,2\n"), TEC,
         ("bad.csv, row 2", "NUL byte")),
    Case(".cpg disagrees with the .dbf", cpg_disagrees, ("--kind", "facilities", "--type", "township_elderly_centre"),
         ("tec.shp", "the .cpg file says the attribute text is UTF-8", "reads as GBK", "--encoding gbk")),
    Case("DMS seconds of 60 or more", csv(HEAD + "\nA,甲,{code12},105°55′67″,{lat},10,2\n"), TEC,
         ("row 2, field `lon`", "minutes or seconds of 60 or more")),
    Case("township polygon covering another", overlapping_townships, ("--kind", "townships"),
         ("row 2, field `geometry`", "overlaps that of 中山路街道 (row 1)", "100% of the smaller one")),
    Case("population 10⁶× too large", csv("code12,户数,常住人口\n{village},300,3000000000\n"), HH,
         ("row 2, field `常住人口`", "implausibly large", "--accept-large")),
    Case("floor area 10⁶× too large", csv("facility_id,name,code12,lon,lat,建筑面积\nA,甲,{village},{lon},{lat},"
                                          "300000000\n"), CSC,
         ("row 2, field `建筑面积`", "300,000,000 is implausibly large for `floor_area_m2`")),
    Case("formula without a saved value", workbook([["facility_id", "name", "code12", "lon", "lat", "beds",
                                                     "nursing_beds"], ["A", "甲", "{code12}", "{lon}", "{lat}",
                                                                       "=B9*2", 1]]), TEC,
         ("ledger.xlsx [sheet 2023], row 2, field `beds`", "a formula (=B9*2) whose value was never saved")),
    Case("merged across columns is not 'empty'", workbook([["facility_id", "name", "code12", "lon", "lat"],
                                                           ["A", None, "{code12}", "{lon}", "{lat}"]], merge="A2:B2"),
         TEC, ("row 2, field `name`", "part of the merged cells A2:B2")),
    Case("wrong sheet lists the sheets", workbook([["facility_id", "name", "code12"]]), (*TEC, "--sheet", "2024"),
         ("ledger.xlsx [sheet 2024]", "no data rows", "sheets: 2023, 2024")),
    Case("unknown GeoPackage layer lists the layers", two_layer_gpkg, (*TEC, "--layer", "c"),
         ("two.gpkg [layer c]", "has no layer 'c' (layers: a, b)")),
    Case("far point gets no GCJ-02 hint", csv(HEAD + "\nA,甲,{code12},116.39,39.91,1,0\n"), TEC,
         ("row 2, field `lon/lat`", "far beyond what a coordinate-system offset"), ("gcj02",)),
]


@pytest.fixture
def params(centre_point: dict[str, object], base_store: Path) -> dict[str, object]:
    code = str(centre_point["code12"])
    other = "500118001000" if code != "500118001000" else "500118002000"
    village = code[:9] + "001"
    return {**centre_point, "other_code": other, "village": village, "near_lon": 106.067}


def test_at_least_twenty_distinct_rules() -> None:
    assert len({c.name for c in CASES + CASES_13}) == len(CASES) + len(CASES_13) >= 20


@pytest.mark.parametrize("case", CASES + CASES_13, ids=[c.name for c in CASES + CASES_13])
def test_bad_input_is_reported_and_nothing_written(case: Case, store: Path, tmp_path: Path,
                                                   params: dict[str, object]) -> None:
    before = sha256(store)
    path = case.write(tmp_path, params)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *case.args, "-w", str(store)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for text in case.expect:
        assert text.format(**params) in result.output, result.output
    for text in case.extra:  # what the message must not say
        assert text not in result.output, result.output
    assert "site-packages" not in result.output  # no raw library warning with its internal path
    if path.suffix == ".csv":  # a bad coordinate is reported once, not again as an empty geometry
        assert "the geometry is empty" not in result.output
    assert sha256(store) == before


def test_every_problem_in_a_file_is_listed(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """Six problems of five kinds on three rows: all are reported in one run, in row order."""
    path = tmp_path / "many.csv"
    path.write_text(
        HEAD + "\n"
        f"A,甲,{params['code12']},{params['lon']},{params['lat']},10,2\n"
        f"A,乙,{params['code12']},{params['lon']},{params['lat']},x,2\n"
        f"B,,5001180010,{params['lon']},{params['lat']},10,2\n"
        f"C,丙,{params['code12']},106.55,29.56,10,20\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(store)])
    assert result.exit_code == 1
    assert "6 problems found; nothing was written" in result.output
    expected = {3: ["row 3, field `beds`", "row 3, field `facility_id`"],
                4: ["row 4, field `name`", "row 4, field `code12`"],
                5: ["row 5, field `nursing_beds`", "row 5, field `lon/lat`"]}
    where = {row: [result.output.index(text) for text in texts] for row, texts in expected.items()}
    # every problem is listed, and in row order
    assert max(where[3]) < min(where[4])
    assert max(where[4]) < min(where[5])


def test_name_suggestion_and_short_names_accepted(store: Path, tmp_path: Path, params: dict[str, object],
                                                  base_store: Path) -> None:
    """Short standard forms (…社区 for …社区居民委员会) resolve to codes; the result is stored."""
    gaz = open_workspace(base_store).read_table("gazetteer")
    village = gaz[gaz["code12"] == params["village"]].iloc[0]
    town = gaz[gaz["code12"] == params["code12"]].iloc[0]
    short = village["name"].replace("居民委员会", "").replace("村民委员会", "村")
    path = tmp_path / "names.csv"
    path.write_text("facility_id,name,所属镇街,所属村社区,lon,lat,建筑面积\n"
                    f"N1,甲,{town['name']},{short},{params['lon']},{params['lat']},300\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *CSC, "-w", str(store)])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_community_service_centre")
    assert stored["code12"].tolist() == [params["village"]]


def test_townships_by_name_only(store: Path, tmp_path: Path, base_store: Path) -> None:
    """A township layer with only XZQMC names gets its codes from the gazetteer; bad names are listed."""
    towns = open_workspace(base_store).read_layer("townships")[["name", "geometry"]]
    good = towns.rename(columns={"name": "XZQMC"})
    wrong = "某" + towns.loc[0, "name"][1:]
    good.loc[0, "XZQMC"] = wrong
    path = tmp_path / "towns.gpkg"
    good.to_file(path, engine="pyogrio")
    before = sha256(store)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "townships", "-w", str(store)])
    assert result.exit_code == 1
    assert f"row 1, field `XZQMC`: '{wrong}' matches no township" in result.output
    assert f"Did you mean {towns.loc[0, 'name']}" in result.output
    assert sha256(store) == before
    good.loc[0, "XZQMC"] = towns.loc[0, "name"] + "办事处"  # the office's name is the township's
    good.to_file(path, engine="pyogrio")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "townships", "-w", str(store)])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("townships")
    original = open_workspace(base_store).read_layer("townships")
    assert stored["code12"].tolist() == original["code12"].tolist()


def _imported(store: Path, path: Path, args: tuple[str, ...], layer: str) -> gpd.GeoDataFrame:
    """Import `path` with `args` through the CLI (it must succeed) and read `layer` back."""
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *args, "-w", str(store)])
    assert result.exit_code == 0, result.output
    return open_workspace(store).read_layer(layer)


def test_full_width_digits_are_read(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """１２０．５㎡ and full-width codes, as typed with a Chinese input method, are plain numbers."""
    wide = str.maketrans("0123456789.", "０１２３４５６７８９．")
    path = tmp_path / "wide.csv"
    path.write_text("facility_id,name,code12,lon,lat,建筑面积\n"
                    f"W1,甲,{str(params['village']).translate(wide)},{str(params['lon']).translate(wide)},"
                    f"{params['lat']},１２０．５㎡\n", encoding="utf-8")
    stored = _imported(store, path, CSC, "facilities_community_service_centre")
    assert stored["floor_area_m2"].tolist() == [120.5]
    assert stored["code12"].tolist() == [params["village"]]
    assert abs(stored.geometry.x.iloc[0] - float(params["lon"])) < 1e-9


def test_gazetteer_code_must_extend_its_parent(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "gaz.csv"
    path.write_text("code12,name,level,parent_code12\n500118000000,永川区,3,500100000000\n"
                    "500118001000,中山路街道,4,500118000000\n500118002000,胜利路街道,4,500118000000\n"
                    "500118001001,甲社区居民委员会,5,500118002000\n500118002001,乙社区居民委员会,5,500118002000\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "gazetteer", "-w", str(store)])
    assert result.exit_code == 1
    assert "1 problem found" in result.output
    assert "row 5, field `parent_code12`: code 500118001001 does not start with its parent's digits" in result.output


def test_ledger_without_ids_and_with_unit_words(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """序号-only ledgers: --make-ids numbers rows <type>-<row>; '60张' beds are 60 beds."""
    path = tmp_path / "inst.csv"
    path.write_text("序号,机构名称,区划代码,经度,纬度,床位数,护理型床位,运营方式\n"
                    f"1,甲敬老院,{params['code12']},{params['lon']},{params['lat']},60张,20,公办\n"
                    f"2,乙养老院,{params['code12']},{params['lon']},{params['lat']},120,40床,公建民营\n",
                    encoding="utf-8")
    args = ["layers", "import", str(path), *INST, "-w", str(store)]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1
    assert "--make-ids" in refused.output
    result = CliRunner().invoke(cli, [*args, "--make-ids"])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_elderly_institution")
    assert stored["facility_id"].tolist() == ["elderly_institution-2", "elderly_institution-3"]
    assert stored["beds"].tolist() == [60, 120]
    assert stored["nursing_beds"].tolist() == [20, 40]
    assert stored["operator"].tolist() == ["government", "private"]


def _projected(params: dict[str, object]) -> tuple[float, float]:
    from pyproj import Transformer

    return Transformer.from_crs(4326, 4545, always_xy=True).transform(params["lon"], params["lat"])


def test_projected_file_declared_as_lonlat(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """A projected shapefile without .prj imported as EPSG:4326: reported, no traceback, nothing written."""
    x, y = _projected(params)
    path = tmp_path / "tec_4545.shp"
    gpd.GeoDataFrame({"fid_text": ["A"], "name": ["甲"], "code12": [params["code12"]]},
                     geometry=[shapely.Point(x, y)], crs="EPSG:4545").to_file(path, engine="pyogrio")
    path.with_suffix(".prj").unlink()
    before = sha256(store)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(store)])
    assert result.exit_code == 1, result.output
    assert "row 1, field `geometry`" in result.output
    assert "are not longitude/latitude degrees after conversion" in result.output
    assert "Traceback" not in result.output
    assert sha256(store) == before
    ok = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC[:-1], "EPSG:4545", "-w", str(store)])
    assert ok.exit_code == 0, ok.output
    stored = open_workspace(store).read_layer("facilities_township_elderly_centre")
    assert abs(stored.geometry.x.iloc[0] - float(params["lon"])) < 1e-7


def test_swapped_point_in_a_spatial_file(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    path = geojson([feature(shapely.Point(params["lat"], params["lon"]), facility_id="A", name="甲",
                            code12=params["code12"])])(tmp_path, params)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(store)])
    assert result.exit_code == 1
    assert "look like latitude, longitude (swapped)" in result.output
    assert "Traceback" not in result.output


def test_projected_xy_table(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """x/y in metres with a projected --crs are stored at the right place; survey X=north is caught."""
    x, y = _projected(params)
    path = tmp_path / "xy.csv"
    path.write_text(f"facility_id,name,code12,x,y\nA,甲,{params['code12']},{x:.3f},{y:.3f}\n", encoding="utf-8")
    args = ["layers", "import", str(path), "--kind", "facilities", "--type", "township_elderly_centre",
            "--crs", "EPSG:4545", "-w", str(store)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_township_elderly_centre")
    assert abs(stored.geometry.x.iloc[0] - float(params["lon"])) < 1e-7
    assert abs(stored.geometry.y.iloc[0] - float(params["lat"])) < 1e-7
    path.write_text(f"facility_id,name,code12,X坐标,Y坐标\nA,甲,{params['code12']},{y:.3f},{x:.3f}\n", encoding="utf-8")
    survey = CliRunner().invoke(cli, args)
    assert survey.exit_code == 1
    assert "looks like a northing" in survey.output
    assert "北坐标" in survey.output


def test_reserved_and_case_clashing_columns(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """A QGIS export's `fid` column is kept as source_fid; 'name' and 'Name' cannot both be stored."""
    path = tmp_path / "fid.csv"
    path.write_text(f"fid,facility_id,name,code12,lon,lat\n7,A,甲,{params['code12']},{params['lon']},{params['lat']}\n",
                    encoding="utf-8")
    args = ["layers", "import", str(path), *TEC, "-w", str(store)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_township_elderly_centre")
    assert stored["source_fid"].astype(str).tolist() == ["7"]
    path.write_text(f"facility_id,name,code12,lon,lat,NAME\nA,甲,{params['code12']},{params['lon']},{params['lat']},x\n",
                    encoding="utf-8")
    validate = CliRunner().invoke(cli, ["layers", "validate", *args[2:]])
    assert validate.exit_code == 1
    assert "columns 'name' and 'NAME' differ only in case" in validate.output


def test_single_part_multipoints_are_points(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    mp = shapely.MultiPoint([(params["lon"], params["lat"])])
    path = geojson([feature(mp, facility_id="A", name="甲", code12=params["code12"])])(tmp_path, params)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(store)])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_township_elderly_centre")
    assert stored.geom_type.tolist() == ["Point"]


def test_levels_of_district_and_household_codes(store: Path, tmp_path: Path, base_store: Path) -> None:
    """A township polygon is not a district outline; households are per village or township."""
    towns = open_workspace(base_store).read_layer("townships")
    path = tmp_path / "district.gpkg"
    towns.iloc[[0]].to_file(path, engine="pyogrio")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "district", "-w", str(store)])
    assert result.exit_code == 1
    assert f"code {towns['code12'].iloc[0]} is a township code; a district code is expected here" in result.output
    hh = tmp_path / "hh.csv"
    hh.write_text("code12,户数\n500118000000,400000\n500118001000,3000\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(hh), "--kind", "households", "-w", str(store)])
    assert result.exit_code == 1
    assert "1 problem found" in result.output
    assert "row 2, field `code12`: code 500118000000 is a district code; a village or township code" in result.output


def test_numeric_codes_in_a_shapefile(store: Path, tmp_path: Path, base_store: Path) -> None:
    """XZQDM stored as a Real field (500118001000.0) is the code 500118001000."""
    towns = open_workspace(base_store).read_layer("townships")
    shp = tmp_path / "towns.shp"
    towns.assign(XZQDM=towns["code12"].astype(float), XZQMC=towns["name"])[["XZQDM", "XZQMC", "geometry"]].to_file(
        shp, engine="pyogrio", encoding="UTF-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(shp), "--kind", "townships", "-w", str(store)])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("townships")
    assert stored["code12"].tolist() == towns["code12"].tolist()


def test_shapefile_truncated_field_names(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """dBase cuts facility_id to facility_i and nursing_beds to nursing_be: they are still recognised."""
    path = tmp_path / "inst.shp"
    gdf = gpd.GeoDataFrame({"facility_id": ["A"], "name": ["甲"], "code12": [params["code12"]], "beds": [50],
                            "nursing_beds": [20], "operator": ["公办"]},
                           geometry=[shapely.Point(params["lon"], params["lat"])], crs="EPSG:4326")
    with warnings.catch_warnings():  # GDAL and geopandas both say they truncate: that is the point here
        warnings.simplefilter("ignore")
        gdf.to_file(path, engine="pyogrio", encoding="UTF-8")
    assert {"facility_i", "nursing_be"} <= set(pyogrio.read_info(path)["fields"])
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "elderly_institution", "-w", str(store)])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_elderly_institution")
    assert stored[["facility_id", "nursing_beds"]].values.tolist() == [["A", 20]]


def test_township_polygon_outside_the_district(store: Path, tmp_path: Path, base_store: Path) -> None:
    """A township layer of another place (here 永川's shifted 0.5° east) is refused polygon by polygon."""
    towns = open_workspace(base_store).read_layer("townships")
    moved = towns.set_geometry(towns.geometry.translate(xoff=0.5))
    path = tmp_path / "moved.gpkg"
    moved.to_file(path, engine="pyogrio")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "townships", "-w", str(store)])
    assert result.exit_code == 1
    assert "row 1, field `geometry`: the feature lies" in result.output
    assert "m outside 永川区" in result.output


def test_blank_optional_cells_stay_empty(store: Path, tmp_path: Path, params: dict[str, object],
                                        base_store: Path) -> None:
    """Rows with a code and rows with only names, blank 状态/地址 cells: blanks are nulls, never 'nan'."""
    gaz = open_workspace(base_store).read_table("gazetteer")
    town = gaz.loc[gaz["code12"] == params["code12"], "name"].iloc[0]
    path = tmp_path / "mixed.csv"
    path.write_text("facility_id,name,code12,所属镇街,lon,lat,状态,地址,质量达标\n"
                    f"A,甲,{params['code12']},,{params['lon']},{params['lat']},,,\n"
                    f"B,乙,,{town},{params['lon']},{params['lat']},规划,中山路1号,是\n", encoding="gbk")
    stored = _imported(store, path, TEC, "facilities_township_elderly_centre")
    assert stored["code12"].tolist() == [params["code12"]] * 2
    assert stored["status"].isna().tolist() == [True, False]
    assert stored["address"].isna().tolist() == [True, False]
    assert not (stored.drop(columns="geometry").astype(object) == "nan").any().any()


def test_one_layer_from_several_ledgers(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """Per-township ledgers of one type import together; an id repeated across them is named with both files."""
    head = "facility_id,name,code12,lon,lat\n"
    row = f"{params['code12']},{params['lon']},{params['lat']}\n"
    a, b = tmp_path / "镇A.csv", tmp_path / "镇B.csv"
    a.write_text(head + f"A1,甲,{row}A2,乙,{row}", encoding="utf-8")
    b.write_text(head + f"B1,丙,{row}A2,丁,{row}", encoding="gbk")
    args = ["layers", "import", str(a), str(b), "--kind", "facilities", "--type", "minor_protection_station",
            "--crs", "4326", "-w", str(store)]
    clash = CliRunner().invoke(cli, args)
    assert clash.exit_code == 1
    assert "镇B.csv, field `facility_id`: 'A2' is also in 镇A.csv" in clash.output
    b.write_text(head + f"B1,丙,{row}B2,丁,{row}", encoding="gbk")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_minor_protection_station")
    assert stored["facility_id"].tolist() == ["A1", "A2", "B1", "B2"]
    assert stored["name"].tolist() == ["甲", "乙", "丙", "丁"]


def test_missing_crs_is_listed_beside_other_problems(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """A shapefile without .prj and without --crs, with a bad row too: both problems are listed."""
    path = tmp_path / "two.shp"
    gpd.GeoDataFrame({"fid_text": ["A", "B"], "name": ["甲", "乙"], "code12": [params["code12"], "5001"]},
                     geometry=[shapely.Point(params["lon"], params["lat"])] * 2, crs="EPSG:4326").to_file(
        path, engine="pyogrio")
    path.with_suffix(".prj").unlink()
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "township_elderly_centre", "-w", str(store)])
    assert result.exit_code == 1
    assert "row 2, field `code12`: '5001' is not a 12-digit division code" in result.output
    assert "does not say which coordinate system it uses" in result.output


def test_row_without_code_or_name(store: Path, tmp_path: Path, params: dict[str, object], base_store: Path) -> None:
    """A names-only ledger with a blank township cell: that row cannot be linked to a division."""
    gaz = open_workspace(base_store).read_table("gazetteer")
    town = gaz.loc[gaz["code12"] == params["code12"], "name"].iloc[0]
    path = tmp_path / "names.csv"
    path.write_text(f"facility_id,name,所属镇街,lon,lat\nA,甲,{town},{params['lon']},{params['lat']}\n"
                    f"B,乙,,{params['lon']},{params['lat']}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(store)])
    assert result.exit_code == 1
    assert "1 problem found" in result.output
    assert "row 3, field `所属镇街`: the row gives no division code and no township/village name" in result.output


# correct input must never be rejected: valid variants of the classes above
VALID = [
    ("real GBK", csv(HEAD + "\n" + "A,永川区来苏镇敬老院（中心）,{code12},{lon},{lat},10,2\n", encoding="gbk"), TEC),
    ("Big5 with --encoding big5", csv(HEAD + "\n" + BIG5_ROW, encoding="big5"), (*TEC, "--encoding", "big5")),
    ("valid DMS", csv(HEAD + "\nA,甲,{code12},{lon_dms},{lat_dms},10,2\n"), TEC),
    ("large but plausible numbers", csv(HEAD + "\nA,甲,{code12},{lon},{lat},1800,1200\n"), TEC),
    ("CR-only line endings", raw(b"", "unused.csv"), TEC),
    ("CRLF with a line break in a quoted cell", csv(HEAD + '\r\nA,"甲\r\n乙",{code12},{lon},{lat},10,2\r\n'), TEC),
    ("hidden first sheet", workbook([["facility_id", "name", "code12", "lon", "lat"],
                                     ["A", "甲", "{code12}", "{lon}", "{lat}"]], hidden_first=True), TEC),
    ("merged down one column", workbook([["facility_id", "name", "code12", "lon", "lat"],
                                         ["A", "甲", "{code12}", "{lon}", "{lat}"],
                                         ["B", "乙", None, "{lon}", "{lat}"]], merge="C2:C3"), TEC),
    ("population 10⁶× too large, accepted on purpose", csv("code12,户数,常住人口\n{village},300,3000000000\n"),
     (*HH, "--accept-large")),
]


def _dms(value: float) -> str:
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return f"{d}°{m}′{s:.3f}″"


@pytest.mark.parametrize(("name", "write", "args"), VALID, ids=[v[0] for v in VALID])
def test_valid_variants_are_accepted(name: str, write: Callable[[Path, dict[str, object]], Path],
                                     args: tuple[str, ...], store: Path, tmp_path: Path,
                                     params: dict[str, object]) -> None:
    p = {**params, "lon_dms": _dms(float(params["lon"])), "lat_dms": _dms(float(params["lat"]))}
    path = write(tmp_path, p)
    if name == "CR-only line endings":
        path = cr_only(tmp_path, p)
        path.write_bytes(path.read_bytes().replace(b",x,", b",10,"))
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *args, "-w", str(store)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    layer = "households" if "--kind" in args and "households" in args else "facilities_township_elderly_centre"
    stored = open_workspace(store).read(layer)
    if name == "valid DMS":
        assert abs(stored.geometry.x.iloc[0] - float(params["lon"])) < 1e-6
    if name == "merged down one column":
        assert stored["code12"].tolist() == [params["code12"]] * 2
    if name == "Big5 with --encoding big5":
        assert stored["name"].tolist() == ["永川區來蘇鎮養老服務中心"]
    if name == "CRLF with a line break in a quoted cell":
        assert stored["name"].tolist() == ["甲\r\n乙"]
    if name.startswith("population"):
        assert stored["population"].tolist() == [3_000_000_000]
        assert json.loads(open_workspace(store).metadata().set_index("layer").loc["households", "options"]) == {
            "accept_large": True}


def test_failed_import_creates_no_folders(tmp_path: Path, params: dict[str, object]) -> None:
    path = csv(HEAD + "\nA,甲,{code12},x,{lat},10,2\n")(tmp_path, params)
    ws = tmp_path / "new" / "deeper" / "ws.gpkg"
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(ws)])
    assert result.exit_code == 1
    assert not (tmp_path / "new").exists()


def test_control_characters_are_shown_escaped(store: Path, tmp_path: Path, params: dict[str, object]) -> None:
    """A \\r in a name would rewrite the terminal line in `layers show`; it is printed as \\r."""
    path = csv(HEAD + '\nA,"假名\r真名",{code12},{lon},{lat},10,2\n')(tmp_path, params)
    assert CliRunner().invoke(cli, ["layers", "import", str(path), *TEC, "-w", str(store)]).exit_code == 0
    shown = CliRunner().invoke(cli, ["layers", "show", "facilities_township_elderly_centre", "-w", str(store)])
    assert shown.exit_code == 0
    assert "\r" not in shown.output
    assert "假名\\n真名" in shown.output or "假名\\r真名" in shown.output


def test_killed_import_leaves_no_temporary_file(store: Path) -> None:
    """The temporary copy of a killed writer is removed by the next command that reads the workspace."""
    stale = store.with_name(f".{store.name}.99999.importing.gpkg")
    stale.write_bytes(b"half a workspace")
    result = CliRunner().invoke(cli, ["layers", "list", "-w", str(store)])
    assert result.exit_code == 0
    assert not stale.exists()


def test_duplicate_pairs_in_a_cost_table(tmp_path: Path) -> None:
    costs = tmp_path / "od.csv"
    costs.write_text("demand_id,candidate_id,minutes\nd1,c1,5\nd1,c2,9\nd1,c1,7\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text("demand_id,weight\nd1,10\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("candidate_id\nc1\nc2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["propose", "--costs", str(costs), "--demand", str(tmp_path / "d.csv"),
                                      "--candidates", str(tmp_path / "c.csv"), "--model", "p_median", "--p", "1"])
    assert result.exit_code == 1
    assert "od.csv, row 4, field `candidate_id`: the pair ('d1', 'c1') is given already on row 2" in result.output
    assert "Traceback" not in result.output


def test_library_warnings_are_one_line_without_paths(caplog: pytest.LogCaptureFixture) -> None:
    """A library's warning reaches the terminal as one log line, without its internal file path (-vv adds it)."""
    from gisplan.cli.main import _show_warning

    with caplog.at_level(logging.WARNING, logger="gisplan"):
        _show_warning(RuntimeWarning("invalid value encountered in from_wkb"), RuntimeWarning,
                      "/venv/lib/python3.11/site-packages/shapely/io.py", 358)
    assert caplog.messages == ["invalid value encountered in from_wkb"]
