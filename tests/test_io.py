"""Reading real input files: text encodings and delimiters, XLSX ledgers, Shapefile code pages, and the
coordinate systems a 民政局 ledger arrives in (WGS84, CGCS2000, GCJ-02, BD-09, UTM).

Every file is written to disk, imported through the CLI (`gisplan layers import`) and read back from the
workspace, value by value. No mocks.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pandas.testing import assert_frame_equal
from pyproj import Geod

from gisplan.cli.main import cli
from gisplan.coords import wgs84_to_bd09, wgs84_to_gcj02
from gisplan.crs import parse_crs, to_planning_crs
from gisplan.errors import CRSError
from gisplan.io.spatial import read_file_layer, read_spatial
from gisplan.io.tables import read_table
from gisplan.store import open_workspace
from tests.conftest import LAYERS, sha256, shared_data

if TYPE_CHECKING:
    from pathlib import Path

GEOD = Geod(ellps="WGS84")
INSTITUTIONS = "facilities_elderly_institution"
INST = ("--kind", "facilities", "--type", "elderly_institution")
HEADER = ["设施编号", "名称", "区划代码", "经度", "纬度", "床位数", "护理型床位", "运营方式", "质量达标"]
# Names GBK can carry (full-width brackets, middle dot) …
GBK_NAMES = ["永川区中心敬老院", "康乐·颐养院（民办）", "胜利路街道福寿养老院"]
# … and one with 㵘 (U+3D58, CJK Ext. A): a four-byte GB18030 character that GBK cannot encode.
EXT_NAMES = [*GBK_NAMES[:2], "㵘水湾福寿养老院"]
IDS = ["YL-001", "YL-002", "YL-003"]
BEDS = [120, 80, 50]
NURSING = [60, 30, 10]
OPERATOR_ZH = ["公办", "民办", "公办"]
OPERATOR = ["government", "private", "government"]
QUALITY_ZH = ["是", "否", "是"]
QUALITY = [True, False, True]
OFFSETS = [(0.0, 0.0), (0.0004, -0.0003), (-0.0005, 0.0005)]  # degrees, ≤ 0.0005°


def _distance_m(a: shapely.Point, b: shapely.Point) -> float:
    return float(GEOD.inv(a.x, a.y, b.x, b.y)[2])


def _import(path: Path, store: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *args, "-w", str(store)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    return result.output


def _points(centre: dict[str, object]) -> list[tuple[float, float]]:
    lon, lat = float(centre["lon"]), float(centre["lat"])  # type: ignore[arg-type]
    return [(round(lon + dx, 6), round(lat + dy, 6)) for dx, dy in OFFSETS]


def _ledger_rows(centre: dict[str, object], names: list[str]) -> list[list[object]]:
    return [
        [IDS[i], names[i], str(centre["code12"]), lon, lat, BEDS[i], NURSING[i], OPERATOR_ZH[i], QUALITY_ZH[i]]
        for i, (lon, lat) in enumerate(_points(centre))
    ]


def _assert_ledger_stored(stored: pd.DataFrame, centre: dict[str, object], names: list[str]) -> None:
    """The three institutions, value by value, typed."""
    assert isinstance(stored, gpd.GeoDataFrame)
    assert stored.crs is not None
    assert stored.crs.to_epsg() == 4326
    stored = stored.sort_values("facility_id").reset_index(drop=True)
    assert stored["facility_id"].tolist() == IDS
    assert stored["name"].tolist() == names
    for col, expected in (("beds", BEDS), ("nursing_beds", NURSING)):
        assert pd.api.types.is_integer_dtype(stored[col]), stored[col].dtype
        assert stored[col].tolist() == expected
        assert all(type(v) is int for v in stored[col].tolist())
    assert stored["operator"].tolist() == OPERATOR
    assert pd.api.types.is_bool_dtype(stored["quality_ok"]), stored["quality_ok"].dtype
    assert stored["quality_ok"].tolist() == QUALITY
    assert stored["code12"].tolist() == [str(centre["code12"])] * 3
    for geom, (lon, lat) in zip(stored.geometry, _points(centre), strict=True):
        assert geom.geom_type == "Point"
        assert _distance_m(geom, shapely.Point(lon, lat)) < 0.001


# --------------------------------------------------------------------------- 1, 2: encodings, delimiters


@dataclass(frozen=True)
class TextVariant:
    id: str
    filename: str
    encoding: str
    delimiter: str
    newline: str
    names: list[str]
    detected: str


VARIANTS = [
    TextVariant("utf8", "养老机构.csv", "utf-8", ",", "\n", EXT_NAMES, "utf-8"),
    TextVariant("utf8_bom", "养老机构_bom.csv", "utf-8-sig", ",", "\r\n", EXT_NAMES, "utf-8"),
    TextVariant("gbk", "养老机构_gbk.csv", "gbk", ",", "\r\n", GBK_NAMES, "gb18030"),
    TextVariant("gb18030", "养老机构_gb18030.csv", "gb18030", ",", "\r\n", EXT_NAMES, "gb18030"),
    TextVariant("utf16_tab", "养老机构_unicode.txt", "utf-16", "\t", "\r\n", EXT_NAMES, "utf-16"),
    TextVariant("semicolon", "养老机构_semicolon.csv", "utf-8", ";", "\n", EXT_NAMES, "utf-8"),
]


def _write_text_ledger(tmp_path: Path, v: TextVariant, centre: dict[str, object]) -> Path:
    lines = [v.delimiter.join(HEADER)]
    lines += [v.delimiter.join(str(c) for c in row) for row in _ledger_rows(centre, v.names)]
    path = tmp_path / v.filename
    path.write_bytes((v.newline.join(lines) + v.newline).encode(v.encoding))
    return path


def test_variants_really_differ_on_disk(tmp_path: Path, centre_point: dict[str, object]) -> None:
    """Guard: the six files are six different byte streams, and the GB18030 one is not GBK."""
    paths = [_write_text_ledger(tmp_path, v, centre_point) for v in VARIANTS]
    assert len({p.read_bytes() for p in paths}) == len(VARIANTS)
    gb18030 = paths[[v.id for v in VARIANTS].index("gb18030")].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gb18030.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        gb18030.decode("utf-8")
    assert paths[1].read_bytes().startswith(b"\xef\xbb\xbf")
    assert paths[4].read_bytes()[:2] in {b"\xff\xfe", b"\xfe\xff"}


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_text_ledger_variants_import_identically(variant: TextVariant, store: Path, tmp_path: Path,
                                                 centre_point: dict[str, object]) -> None:
    path = _write_text_ledger(tmp_path, variant, centre_point)
    out = _import(path, store, *INST, "--crs", "EPSG:4326")
    assert f"imported 3 rows into layer `{INSTITUTIONS}`" in out
    _assert_ledger_stored(open_workspace(store).read_layer(INSTITUTIONS), centre_point, variant.names)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_read_table_reports_detected_encoding(variant: TextVariant, tmp_path: Path,
                                              centre_point: dict[str, object]) -> None:
    path = _write_text_ledger(tmp_path, variant, centre_point)
    raw = read_table(path, known_headers=["名称", "经度", "纬度"])
    assert raw.encoding == variant.detected
    assert list(raw.frame.columns) == HEADER
    assert raw.frame["名称"].tolist() == variant.names
    assert raw.frame["床位数"].tolist() == [str(b) for b in BEDS]
    assert raw.rows.tolist() == [2, 3, 4]
    assert raw.source == variant.filename


# --------------------------------------------------------------------------- 3: XLSX


def _write_workbook(path: Path, centre: dict[str, object], *, bad_beds_row: int | None = None) -> Path:
    """A ledger as offices keep it: a cover sheet first, then sheet '2023' with a merged title row, a date
    row, the header on row 3 and data from row 4; numbers as numbers, the code as an integer cell."""
    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "说明"
    cover.append(["本工作簿为示意台账，数据见 2023 工作表。"])
    ws = wb.create_sheet("2023")
    ws.append(["永川区养老机构台账（示意）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(["填报日期", dt.date(2023, 12, 31), None, "填报单位", "永川区民政局"])
    ws.append(HEADER)
    for row in _ledger_rows(centre, EXT_NAMES):
        row[2] = int(str(row[2]))  # Excel users type the code as a number
        ws.append(row)
    if bad_beds_row is not None:
        ws.cell(row=bad_beds_row, column=HEADER.index("床位数") + 1, value="abc")
    wb.save(path)
    return path


def test_xlsx_with_title_rows_and_numeric_code_imports(store: Path, tmp_path: Path,
                                                       centre_point: dict[str, object]) -> None:
    path = _write_workbook(tmp_path / "养老机构台账.xlsx", centre_point)
    # guard: the code really is a numeric cell, the data starts on Excel row 4
    wb = openpyxl.load_workbook(path)
    assert isinstance(wb["2023"]["C4"].value, int)
    assert isinstance(wb["2023"]["D4"].value, float)
    assert wb["2023"]["B4"].value == EXT_NAMES[0]
    assert "A1:I1" in {str(r) for r in wb["2023"].merged_cells.ranges}
    wb.close()

    raw = read_table(path, known_headers=["名称", "经度", "纬度", "区划代码"], sheet="2023")
    assert raw.rows.tolist() == [4, 5, 6]
    assert raw.frame["区划代码"].tolist() == [str(centre_point["code12"])] * 3

    _import(path, store, *INST, "--crs", "EPSG:4326", "--sheet", "2023")
    stored = open_workspace(store).read_layer(INSTITUTIONS)
    assert all(isinstance(c, str) and len(c) == 12 and c.isdigit() for c in stored["code12"])
    _assert_ledger_stored(stored, centre_point, EXT_NAMES)


def test_xlsx_problem_reported_with_excel_row_number(store: Path, tmp_path: Path,
                                                     centre_point: dict[str, object]) -> None:
    path = _write_workbook(tmp_path / "养老机构台账.xlsx", centre_point, bad_beds_row=5)
    before = sha256(store)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *INST, "--crs", "EPSG:4326",
                                      "--sheet", "2023", "-w", str(store)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "养老机构台账.xlsx" in result.output
    assert "row 5, field `床位数`: 'abc' is not a number" in result.output
    assert "row 4" not in result.output
    assert "row 6" not in result.output
    assert sha256(store) == before


def test_xlsx_problem_names_the_sheet(store: Path, tmp_path: Path, centre_point: dict[str, object]) -> None:
    path = _write_workbook(tmp_path / "养老机构台账.xlsx", centre_point, bad_beds_row=5)
    result = CliRunner().invoke(cli, ["layers", "import", str(path), *INST, "--crs", "EPSG:4326",
                                      "--sheet", "2023", "-w", str(store)])
    assert result.exit_code == 1, result.output
    assert "养老机构台账.xlsx [sheet 2023], row 5, field `床位数`" in result.output


# --------------------------------------------------------------------------- 4: CRSs


def _write_point_csv(path: Path, lon: float, lat: float, code12: object) -> Path:
    path.write_text(
        ",".join(HEADER) + "\n"
        f"YL-001,{GBK_NAMES[0]},{code12},{lon!r},{lat!r},120,60,公办,是\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(("crs", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_chinese_web_map_points_are_stored_in_wgs84(crs: str, forward: object, store: Path, tmp_path: Path,
                                                    centre_point: dict[str, object]) -> None:
    wgs = shapely.Point(float(centre_point["lon"]), float(centre_point["lat"]))  # type: ignore[arg-type]
    lon, lat = forward(wgs.x, wgs.y)  # type: ignore[operator]
    lon, lat = float(lon), float(lat)
    assert _distance_m(wgs, shapely.Point(lon, lat)) > 100  # guard: the offset is real
    path = _write_point_csv(tmp_path / f"point_{crs}.csv", lon, lat, centre_point["code12"])
    _import(path, store, *INST, "--crs", crs)
    stored = open_workspace(store).read_layer(INSTITUTIONS)
    assert stored.crs.to_epsg() == 4326
    assert len(stored) == 1
    assert _distance_m(stored.geometry.iloc[0], wgs) < 0.01


def test_cgcs2000_point_is_stored_in_place(store: Path, tmp_path: Path, centre_point: dict[str, object]) -> None:
    wgs = shapely.Point(float(centre_point["lon"]), float(centre_point["lat"]))  # type: ignore[arg-type]
    path = _write_point_csv(tmp_path / "point_4490.csv", wgs.x, wgs.y, centre_point["code12"])
    _import(path, store, *INST, "--crs", "EPSG:4490")
    stored = open_workspace(store).read_layer(INSTITUTIONS)
    assert stored.crs.to_epsg() == 4326
    assert _distance_m(stored.geometry.iloc[0], wgs) < 0.1


def test_projected_geopackage_is_stored_in_wgs84(store: Path, tmp_path: Path,
                                                 centre_point: dict[str, object]) -> None:
    wgs = shapely.Point(float(centre_point["lon"]), float(centre_point["lat"]))  # type: ignore[arg-type]
    gdf = gpd.GeoDataFrame(
        {"facility_id": ["YL-001"], "name": [GBK_NAMES[0]], "code12": [str(centre_point["code12"])],
         "beds": [120], "nursing_beds": [60], "operator": ["公办"]},
        geometry=[wgs], crs="EPSG:4326",
    ).to_crs("EPSG:32648")
    x, y = gdf.geometry.iloc[0].x, gdf.geometry.iloc[0].y
    assert 100_000 < x < 900_000  # guard: metres, UTM 48N
    assert 3_000_000 < y < 3_500_000
    path = tmp_path / "institutions_utm48.gpkg"
    gdf.to_file(path, layer="institutions", engine="pyogrio")
    _import(path, store, *INST)
    stored = open_workspace(store).read_layer(INSTITUTIONS)
    assert stored.crs.to_epsg() == 4326
    assert stored["name"].tolist() == [GBK_NAMES[0]]
    assert _distance_m(stored.geometry.iloc[0], wgs) < 0.01


# --------------------------------------------------------------------------- 5: reference vertices


def test_gcj02_district_vertices_land_on_wgs84_vertices(store: Path, tmp_path: Path) -> None:
    """Five real vertices of the 高德 (GCJ-02) 永川 outline, imported as points with --crs gcj02, land
    within 1 m of the same vertices of the WGS84 outline."""
    gcj_file = shared_data("boundaries", "yongchuan_500118_district_gcj02.geojson")
    wgs_file = shared_data("boundaries", "yongchuan_500118_district_wgs84.geojson")
    gcj = shapely.get_coordinates(gpd.read_file(gcj_file, engine="pyogrio").geometry.to_numpy())
    wgs = shapely.get_coordinates(gpd.read_file(wgs_file, engine="pyogrio").geometry.to_numpy())
    assert gcj.shape == wgs.shape  # vertex i of one file is vertex i of the other

    # each vertex's township: the nearest township polygon of the workspace. The township layer and this
    # outline come from different sources and disagree by up to ~100 m in places, so take the vertices
    # within 10 m of a township (the import's location check allows 50 m), spread along the outline.
    towns = open_workspace(store).read_layer("townships")
    utm = towns.estimate_utm_crs()
    verts = gpd.GeoDataFrame(geometry=shapely.points(wgs), crs="EPSG:4326").to_crs(utm)
    near = gpd.sjoin_nearest(verts, towns.to_crs(utm)[["code12", "geometry"]], distance_col="d")
    near = near[~near.index.duplicated(keep="first")].sort_index()
    close = np.flatnonzero(near["d"].to_numpy() <= 10.0)
    assert len(close) > len(wgs) // 2
    picks = close[np.linspace(0, len(close) - 1, 6)[:-1].round().astype(int)]
    assert len(set(picks.tolist())) == 5
    codes = [str(near["code12"].iloc[i]) for i in picks]

    path = tmp_path / "boundary_vertices_gcj02.csv"
    lines = ["facility_id,name,code12,lon,lat"]
    lines += [f"V{k},界桩{k},{codes[k]},{float(gcj[i, 0])!r},{float(gcj[i, 1])!r}" for k, i in enumerate(picks)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _import(path, store, "--kind", "facilities", "--type", "township_elderly_centre", "--crs", "gcj02")

    stored = open_workspace(store).read_layer("facilities_township_elderly_centre").set_index("facility_id")
    for k, i in enumerate(picks):
        got = stored.geometry.loc[f"V{k}"]
        want = shapely.Point(wgs[i])
        assert _distance_m(shapely.Point(gcj[i]), want) > 100  # guard: the two files really differ
        assert _distance_m(got, want) < 1.0, (k, i, got, want)


# --------------------------------------------------------------------------- 6: Shapefile code pages


def test_gbk_shapefile_without_cpg(store: Path, tmp_path: Path, centre_point: dict[str, object]) -> None:
    pts = [shapely.Point(lon, lat) for lon, lat in _points(centre_point)]
    gdf = gpd.GeoDataFrame(
        {"编号": IDS, "名称": GBK_NAMES, "区划代码": [str(centre_point["code12"])] * 3, "床位数": BEDS,
         "护理型床位": NURSING, "运营方式": OPERATOR_ZH, "质量达标": QUALITY_ZH},
        geometry=pts, crs="EPSG:4326",
    )
    path = tmp_path / "养老机构.shp"
    gdf.to_file(path, engine="pyogrio", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert not path.with_suffix(".cpg").exists()
    dbf = path.with_suffix(".dbf").read_bytes()
    assert "康乐·颐养院（民办）".encode("gbk") in dbf  # guard: the .dbf really holds GBK bytes
    assert "护理型床位".encode("gbk") in dbf

    _import(path, store, *INST)
    _assert_ledger_stored(open_workspace(store).read_layer(INSTITUTIONS), centre_point, GBK_NAMES)


def test_utf8_shapefile_without_cpg(tmp_path: Path, centre_point: dict[str, object]) -> None:
    pts = [shapely.Point(lon, lat) for lon, lat in _points(centre_point)]
    gdf = gpd.GeoDataFrame({"fid_text": IDS, "name": GBK_NAMES, "code12": [str(centre_point["code12"])] * 3},
                           geometry=pts, crs="EPSG:4326")
    path = tmp_path / "utf8.shp"
    gdf.to_file(path, engine="pyogrio", encoding="UTF-8")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert GBK_NAMES[1].encode("utf-8") in path.with_suffix(".dbf").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's "could not convert" on the wrong guess
        read = read_spatial(path)
    assert read["name"].tolist() == GBK_NAMES


# --------------------------------------------------------------------------- 7, 8: parse_crs, to_planning_crs


@pytest.mark.parametrize(("text", "epsg", "system"), [
    ("gcj02", 4326, "gcj02"),
    ("GCJ-02", 4326, "gcj02"),
    ("bd09", 4326, "bd09"),
    ("4326", 4326, None),
    ("EPSG:4490", 4490, None),
    ("wgs84", 4326, None),
    ("cgcs2000", 4490, None),
])
def test_parse_crs_accepts(text: str, epsg: int, system: str | None) -> None:
    declared = parse_crs(text)
    assert declared.text == text
    assert declared.crs.to_epsg() == epsg
    assert declared.chinese_system == system


def test_parse_crs_rejects_unknown_name() -> None:
    with pytest.raises(CRSError, match="'mars'") as info:
        parse_crs("mars")
    assert "gcj02" in str(info.value)


def test_to_planning_crs_picks_utm_48n_for_yongchuan() -> None:
    gdf = gpd.GeoDataFrame({"name": ["永川"]}, geometry=[shapely.Point(105.927, 29.356)], crs="EPSG:4326")
    out = to_planning_crs(gdf)
    assert out.crs.to_epsg() == 32648
    assert 500_000 < out.geometry.iloc[0].x < 600_000  # just east of the 105° E central meridian
    assert gdf.crs.to_epsg() == 4326  # input untouched
    assert to_planning_crs(gdf, "EPSG:32648").crs.to_epsg() == 32648


def test_to_planning_crs_rejects_geographic_target() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(105.927, 29.356)], crs="EPSG:4326")
    with pytest.raises(CRSError, match="projected"):
        to_planning_crs(gdf, crs="EPSG:4326")


def test_to_planning_crs_rejects_missing_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(105.927, 29.356)])
    assert gdf.crs is None
    with pytest.raises(CRSError, match="no CRS"):
        to_planning_crs(gdf)


def test_geojson_is_not_trusted_over_declared_gcj02(store: Path, tmp_path: Path,
                                                    centre_point: dict[str, object]) -> None:
    """A GeoJSON always says EPSG:4326; `--crs gcj02` overrides that label (高德 exports)."""
    wgs = shapely.Point(float(centre_point["lon"]), float(centre_point["lat"]))  # type: ignore[arg-type]
    lon, lat = (float(v) for v in wgs84_to_gcj02(wgs.x, wgs.y))
    path = tmp_path / "amap.geojson"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
               "properties": {"设施编号": "YL-001", "名称": GBK_NAMES[0], "区划代码": str(centre_point["code12"]),
                              "床位数": 120, "护理型床位": 60, "运营方式": "公办", "质量达标": "是"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False),
                    encoding="utf-8")
    _import(path, store, *INST, "--crs", "gcj02")
    stored = open_workspace(store).read_layer(INSTITUTIONS)
    assert stored["name"].tolist() == [GBK_NAMES[0]]
    assert stored["quality_ok"].tolist() == [True]
    assert _distance_m(stored.geometry.iloc[0], wgs) < 0.01


def _dms(value: float, pos: str, neg: str) -> str:
    hemi = pos if value >= 0 else neg
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return f"{d}°{m}′{s:.4f}″{hemi}"


def test_dms_and_single_lonlat_column(store: Path, tmp_path: Path, centre_point: dict[str, object]) -> None:
    """Ledgers write 105°55′37″E, 105度55分37秒 or one 经纬度 column: all land on the same point."""
    lon, lat = float(centre_point["lon"]), float(centre_point["lat"])
    code = centre_point["code12"]
    d, m = int(lon), int((lon - int(lon)) * 60)
    s = (lon - d - m / 60) * 3600
    chinese_lon = f"{d}度{m}分{s:.4f}秒"
    path = tmp_path / "dms.csv"
    path.write_text(
        "设施编号,名称,区划代码,经度,纬度\n"
        f"D1,甲,{code},{_dms(lon, 'E', 'W')},{_dms(lat, 'N', 'S')}\n"
        f"D2,乙,{code},{chinese_lon},{lat}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "minor_protection_station", "--crs", "4326", "-w", str(store)])
    assert result.exit_code == 0, result.output
    got = open_workspace(store).read_layer("facilities_minor_protection_station")
    assert np.allclose(got.geometry.x, lon, atol=1e-7)
    assert np.allclose(got.geometry.y, lat, atol=1e-7)

    one = tmp_path / "one.csv"
    one.write_text(f"设施编号,名称,区划代码,经纬度\nS1,甲,{code},\"{lon}, {lat}\"\nS2,乙,{code},{lon}，{lat}\n"
                   f"S3,丙,{code},{lon}\n", encoding="utf-8")
    bad = CliRunner().invoke(cli, ["layers", "import", str(one), "--kind", "facilities", "--type",
                                   "minor_protection_station", "--crs", "4326", "-w", str(store)])
    assert bad.exit_code == 1
    assert "1 problem found" in bad.output
    assert f"row 4, field `经纬度`: '{lon}' is not 'longitude,latitude'" in bad.output
    one.write_text(one.read_text(encoding="utf-8").rsplit("S3", 1)[0], encoding="utf-8")
    ok = CliRunner().invoke(cli, ["layers", "import", str(one), "--kind", "facilities", "--type",
                                  "minor_protection_station", "--crs", "4326", "-w", str(store)])
    assert ok.exit_code == 0, ok.output
    got = open_workspace(store).read_layer("facilities_minor_protection_station")
    assert np.allclose(got.geometry.x, lon)
    assert np.allclose(got.geometry.y, lat)


def test_total_rows_of_a_ledger_are_skipped(store: Path, tmp_path: Path, centre_point: dict[str, object]) -> None:
    """合计 / 小计 lines at the foot of a ledger are summaries, not facilities."""
    p = centre_point
    path = tmp_path / "ledger.csv"
    path.write_text("序号,设施编号,名称,区划代码,经度,纬度\n"
                    f"1,T1,甲,{p['code12']},{p['lon']},{p['lat']}\n"
                    f"2,T2,乙,{p['code12']},{p['lon']},{p['lat']}\n"
                    "合 计,,2个,,,\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "minor_protection_station", "--crs", "4326", "-w", str(store)])
    assert result.exit_code == 0, result.output
    assert open_workspace(store).read_layer("facilities_minor_protection_station")["facility_id"].tolist() == ["T1", "T2"]


def test_osm_fetch_without_osmnx_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The optional extra is imported lazily; without it the error gives the pip command."""
    import sys

    import geopandas as gpd
    import shapely

    from gisplan.io.osm import fetch_osm_roads

    monkeypatch.setitem(sys.modules, "osmnx", None)
    area = gpd.GeoDataFrame(geometry=[shapely.box(117.2, 29.3, 117.21, 29.31)], crs="EPSG:4326")
    with pytest.raises(ImportError, match=r'pip install "gisplan\[osm\]"'):
        fetch_osm_roads(area, tmp_path / "roads.gpkg")
    assert not (tmp_path / "roads.gpkg").exists()


def test_xlsx_with_stale_dimension(tmp_path: Path) -> None:
    """Streaming exporters write <dimension ref="A1"/>; the rows are read all the same."""
    import re
    import zipfile

    import openpyxl

    from gisplan.io.tables import read_table

    src = tmp_path / "src.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["台账"])
    wb.active.append(["名称", "床位数"])
    wb.active.append(["甲", 10])
    wb.save(src)
    out = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1"/>', data)
                assert n == 1
            zout.writestr(item, data)
    table = read_table(out, known_headers={"名称", "床位数"})
    assert table.frame.to_dict("list") == {"名称": ["甲"], "床位数": ["10"]}
    assert table.rows.tolist() == [3]


def test_bad_encoding_name_is_a_usage_error(store: Path, tmp_path: Path) -> None:
    """GDAL would ignore an unknown encoding for a shapefile with .cpg: it is refused up front."""
    import geopandas as gpd

    towns = gpd.read_file(LAYERS / "yongchuan_boundaries.gpkg", layer="townships", engine="pyogrio")
    shp = tmp_path / "towns.shp"
    towns.to_file(shp, engine="pyogrio", encoding="UTF-8")
    before = sha256(store)
    for path, kind in ((shp, "townships"), (LAYERS / "yongchuan_gazetteer.csv", "gazetteer")):
        result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", kind, "--encoding", "klingon",
                                          "-w", str(store)])
        assert result.exit_code == 2, result.output
        assert "'klingon' is not a text encoding" in result.output
    assert sha256(store) == before


def test_geopackage_rows_are_fids_and_shapefile_hash_covers_dbf(store: Path, tmp_path: Path,
                                                                 centre_point: dict[str, object]) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    from gisplan.io.spatial import file_sha256

    p = centre_point
    gdf = gpd.GeoDataFrame({"facility_id": ["A", "B"], "name": ["甲", "乙"], "code12": [p["code12"]] * 2,
                            "beds": [10, -1], "nursing_beds": [0, 0], "operator": ["公办", "公办"]},
                           geometry=[shapely.Point(p["lon"], p["lat"])] * 2, crs="EPSG:4326")
    gpkg = tmp_path / "inst.gpkg"
    gdf.index = [40, 41]
    pyogrio.write_dataframe(gdf, gpkg, layer="inst")
    fids = pyogrio.read_dataframe(gpkg, fid_as_index=True).index.tolist()
    result = CliRunner().invoke(cli, ["layers", "import", str(gpkg), *INST, "--crs", "4326", "-w", str(store)])
    assert result.exit_code == 1
    assert f"row {fids[1]}, field `beds`: -1 is below the minimum 0" in result.output

    shp = tmp_path / "inst.shp"
    short = gdf[["name", "beds", "geometry"]]
    short.to_file(shp, engine="pyogrio", encoding="UTF-8")
    shp_bytes, before = shp.read_bytes(), file_sha256(shp)
    short.assign(name=["丙", "乙"]).to_file(shp, engine="pyogrio", encoding="UTF-8")
    assert shp.read_bytes() == shp_bytes  # only the .dbf changed ...
    assert file_sha256(shp) != before  # ... and the provenance hash sees it


def test_csv_rows_are_text_lines_when_a_cell_spans_lines(store: Path, tmp_path: Path,
                                                         centre_point: dict[str, object]) -> None:
    """A quoted 地址 cell with a line break: the next record's problem names the line it starts on."""
    p = centre_point
    path = tmp_path / "multi.csv"
    path.write_text("facility_id,name,code12,lon,lat,地址\n"
                    f"A,甲,{p['code12']},{p['lon']},{p['lat']},\"永川区\n中山路1号\"\n"
                    f"B,乙,{p['code12']},东经,{p['lat']},x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "minor_protection_station", "--crs", "4326", "-w", str(store)])
    assert result.exit_code == 1
    assert "multi.csv, row 4, field `lon`: '东经' is not a number" in result.output


def test_read_file_layer_gives_the_row_wise_frame(tmp_path: Path) -> None:
    """results.gpkg layers are read through Arrow, into the same frame as pyogrio's row-wise read: true/false with
    empty cells as 1.0/0.0/NaN, text, integers, dates, and an empty layer's dtypes."""
    path = tmp_path / "results.gpkg"
    full = gpd.GeoDataFrame({"value": [1.5, None, 3.0], "name": ["甲", None, "=HYPERLINK(1)"],
                             "meets": pd.array([True, None, False], dtype="boolean"), "all_true": [True, True, False],
                             "n": [1, 2, 3], "at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"])},
                            geometry=gpd.points_from_xy([105.9, 105.8, 105.7], [29.3, 29.4, 29.5]), crs="EPSG:4326")
    pyogrio.write_dataframe(full, path, layer="full", driver="GPKG")
    pyogrio.write_dataframe(full.iloc[:0], path, layer="empty", driver="GPKG")
    pyogrio.write_dataframe(pd.DataFrame(full.drop(columns="geometry")), path, layer="table", driver="GPKG")
    for layer in ("full", "empty", "table"):
        assert_frame_equal(read_file_layer(path, layer=layer), pyogrio.read_dataframe(path, layer=layer))
    assert read_file_layer(path, layer="full")["meets"].tolist()[::2] == [1.0, 0.0]
