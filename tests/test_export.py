"""`gisplan export`, each format read back by a reader no one here wrote: QGIS (Debian's python3-qgis, headless, in
a subprocess), GDAL through pyogrio, ezdxf's reader, openpyxl and a plain XML parser; coordinates compared with
pyproj's projection and an independent GCJ-02 converter (eviltransform)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import eviltransform
import ezdxf
import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.io.atomic import write_atomic_gpkg, write_atomic_parquet
from gisplan.io.export import STAGE_PREFIX
from gisplan.io.geoparquet import write_points_parquet
from tests.conftest import missing, sha256
from tests.test_gpkg_version import user_version

PROBE = Path(__file__).with_name("qgis_probe.py")
QGIS_PYTHON = "/usr/bin/python3"  # Debian's, which python3-qgis installs into
KML = "{http://www.opengis.net/kml/2.2}"
XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://x","点我")'
CATALOGUE = load_catalogue()


def qgis_open(specs: list[tuple[str, str]]) -> tuple[dict[str, dict[str, object]], str]:
    """Open each (uri, provider) in QGIS under Debian's /usr/bin/python3; return what it saw by uri and stderr
    (GDAL's warnings). Fails under CI=true when QGIS is missing (scripts/setup.sh --test installs it), else skips."""
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False) \
        if Path(QGIS_PYTHON).exists() else None
    if probe is None or probe.returncode != 0:
        missing("QGIS (Debian's python3-qgis) is not installed; scripts/setup.sh --test installs it")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([QGIS_PYTHON, str(PROBE), json.dumps(specs)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {item["uri"]: item for item in result["layers"]}, done.stderr + "\n".join(result["messages"])


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, base_store: Path) -> Path:
    """A small result GeoPackage: proposed sites of two types (names that try to be formulas, HTML, long text),
    the real 永川 townships and the illustrative community service centres."""
    towns = pyogrio.read_dataframe(base_store, layer="townships")
    centres = pyogrio.read_dataframe(base_store, layer="facilities_community_service_centre").head(40)
    sites = gpd.GeoDataFrame({
        "rank": [1, 2, 3, 1],
        "candidate_id": ["N1", "N2", "N3", "N4"],
        "facility_type": ["elderly_day_care", "elderly_day_care", "elderly_day_care", "public_cemetery"],
        "township": ["中山路街道", "胜利路街道", "卫星湖街道", "何埂镇"],
        "village": [FORMULA, XSS, "-1+2", "@SUM(A1)"],
        "village_code12": ["500118001001", "500118002001", "500118003001", "500118104001"],
        "population_added": [1200.5, 800.0, 640.25, 0.0],
        "illustrative": [True] * 4,
    }, geometry=[shapely.Point(105.9271234567, 29.3561234567), shapely.Point(105.8811, 29.3612),
                 shapely.Point(105.8655, 29.3204), shapely.Point(105.7012, 29.1988)], crs="EPSG:4326")
    path = tmp_path_factory.mktemp("results") / "results.gpkg"
    write_atomic_gpkg({"proposed_sites": sites, "townships": towns,
                       "facilities_community_service_centre": centres,
                       "indicators": pd.DataFrame({"indicator_id": ["YC-1-6"], "name": ["=1+1"]})}, path)
    return path


def export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", *args])
    return result.exit_code, result.output


def test_missing_qgis_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(globals(), "QGIS_PYTHON", "/nowhere/python3")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"python3-qgis.*setup\.sh --test installs it.*CI=true"):
        qgis_open([])


# ---------------------------------------------------------------------------------------------- GeoPackage


def test_geopackage_is_1_2_and_qgis_opens_it_without_a_version_warning(results: Path, tmp_path: Path) -> None:
    code, out = export("-w", str(results), "--format", "gpkg", "--out", str(tmp_path / "a"))
    assert code == 0, out
    path = tmp_path / "a" / "export.gpkg"
    assert user_version(path) == 10200
    code, out = export("-w", str(results), "--format", "gpkg", "--gpkg-version", "1.4", "--out", str(tmp_path / "b"))
    assert code == 0, out
    assert user_version(tmp_path / "b" / "export.gpkg") == 10400
    seen, log = qgis_open([(f"{path}|layername=townships", "ogr"), (f"{path}|layername=proposed_sites", "ogr"),
                           (f"{path}|layername=indicators", "ogr")])
    assert "partially supported" not in log, log
    towns = seen[f"{path}|layername=townships"]
    assert towns["valid"]
    assert towns["count"] == 23
    assert towns["crs"] == "EPSG:4326"
    assert seen[f"{path}|layername=proposed_sites"]["count"] == 4
    assert seen[f"{path}|layername=indicators"]["count"] == 1
    # the control: the same QGIS does warn on the 1.4 file, so the check above can fail
    _, log14 = qgis_open([(f"{tmp_path / 'b' / 'export.gpkg'}|layername=townships", "ogr")])
    assert "may only be partially supported" in log14


# ---------------------------------------------------------------------------------------------- Shapefile


@pytest.mark.parametrize(("encoding", "cpg", "field"), [("gbk", "GBK", "护理型床位"), ("utf-8", "UTF-8", "护理型")])
def test_shapefile_keeps_chinese_names_in_qgis(results: Path, tmp_path: Path, encoding: str, cpg: str,
                                               field: str) -> None:
    sites = pyogrio.read_dataframe(results, layer="facilities_community_service_centre")
    sites["护理型床位数"] = np.arange(len(sites))
    source = tmp_path / "src.gpkg"
    write_atomic_gpkg({"facilities_community_service_centre": sites}, source)
    code, out = export("-w", str(source), "--format", "shp", "--encoding", encoding, "--out", str(tmp_path / "o"))
    assert code == 0, out
    base = tmp_path / "o" / "facilities_community_service_centre"
    assert base.with_suffix(".cpg").read_text() == cpg
    assert "GEOGCS" in base.with_suffix(".prj").read_text()
    mapping = pd.read_csv(base.with_name(base.name + ".fields.csv"), encoding="utf-8-sig")
    assert dict(zip(mapping["column"], mapping["shapefile_field"], strict=True))["护理型床位数"] == field
    assert all(len(f.encode(encoding)) <= 10 for f in mapping["shapefile_field"])
    shp = str(base.with_suffix(".shp"))
    seen, _ = qgis_open([(shp, "ogr")])
    layer = seen[shp]
    assert layer["valid"]
    assert layer["count"] == len(sites)
    assert layer["crs"] == "EPSG:4326"
    assert field in layer["fields"]
    assert [r["attrs"]["name"] for r in layer["rows"]] == list(sites["name"])  # Chinese names intact
    assert any("社区" in n for n in sites["name"])
    back = pyogrio.read_dataframe(shp)  # GDAL reads the .cpg too
    assert list(back["name"]) == list(sites["name"])


def test_shapefile_refuses_what_it_cannot_hold_and_writes_nothing(tmp_path: Path) -> None:
    long_text = "长" * 200  # 400 bytes in GBK
    frame = gpd.GeoDataFrame({"name": ["甲", long_text, "𠀀字"]}, crs="EPSG:4326",
                             geometry=[shapely.Point(105.9, 29.3), shapely.Point(105.91, 29.3),
                                       shapely.box(105.9, 29.3, 105.92, 29.32)])
    source = tmp_path / "bad.gpkg"
    write_atomic_gpkg({"bad": frame}, source)
    code, out = export("-w", str(source), "--format", "shp", "--out", str(tmp_path / "o"))
    assert code == 1
    assert "Traceback" not in out
    assert "row 2, field `name`: text of 400 bytes in GBK; a Shapefile holds 254" in out
    assert "row 3, field `name`: '𠀀' cannot be written in GBK" in out
    assert "--encoding utf-8" in out
    assert "mixes point, polygon" in out
    assert "nothing was written" in out
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------- KMZ


def _kml(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as kmz:
        names = kmz.namelist()
        assert names[0] == "doc.kml"
        assert any(n.startswith("files/") and n.endswith(".png") for n in names)
        return ET.fromstring(kmz.read("doc.kml"))


def _points(root: ET.Element, folder_title: str) -> dict[str, tuple[float, float]]:
    folder = next(f for f in root.iter(f"{KML}Folder") if f.findtext(f"{KML}name") == folder_title)
    out = {}
    for mark in folder.iter(f"{KML}Placemark"):
        lon, lat = mark.findtext(f"{KML}Point/{KML}coordinates").split(",")
        out[mark.findtext(f"{KML}name")] = (float(lon), float(lat))
    return out


def test_kmz_folders_names_styles_and_wgs84_coordinates(results: Path, tmp_path: Path) -> None:
    code, out = export("-w", str(results), "--layers", "proposed_sites,townships", "--format", "kmz",
                       "--out", str(tmp_path))
    assert code == 0, out
    path = tmp_path / "export.kmz"
    root = _kml(path)
    titles = [f.findtext(f"{KML}name") for f in root.iter(f"{KML}Folder")]
    assert titles == ["建议新增选址 proposed_sites (示意)", "镇街 townships"]  # the real boundaries are not 示意
    source = pyogrio.read_dataframe(results, layer="proposed_sites")
    points = _points(root, titles[0])
    assert list(points.values()) == list(zip(source.geometry.x, source.geometry.y, strict=True))  # exact
    assert "建议社区养老服务站 第1处 中山路街道" + FORMULA in points
    # styled by facility type in the catalogue's map colours (KML's aabbggrr)
    styles = {s.get("id"): s.findtext(f"{KML}LineStyle/{KML}color") for s in root.iter(f"{KML}Style")}
    colour = CATALOGUE.types["public_cemetery"].map_colour
    assert styles["s_public_cemetery"] == f"ff{colour[5:7]}{colour[3:5]}{colour[1:3]}".lower()
    marks = {m.findtext(f"{KML}name"): m for m in root.iter(f"{KML}Placemark")}
    assert next(m for n, m in marks.items() if "何埂镇" in n).findtext(f"{KML}styleUrl") == "#s_public_cemetery"
    # the description table shows the HTML-looking name as text
    xss = next(m for n, m in marks.items() if "胜利路街道" in n).findtext(f"{KML}description")
    assert "&lt;img src=x onerror=alert(1)&gt;" in xss
    assert XSS not in xss
    assert "村社区 village" in xss
    # QGIS opens the KMZ: both folders, with the same coordinates
    uri = f"{path}|layername={titles[0]}"
    seen, _ = qgis_open([(uri, "ogr"), (f"{path}|layername={titles[1]}", "ogr")])
    assert seen[uri]["valid"]
    assert seen[uri]["count"] == 4
    assert seen[f"{path}|layername={titles[1]}"]["count"] == 23
    for row, (x, y) in zip(seen[uri]["rows"], zip(source.geometry.x, source.geometry.y, strict=True), strict=True):
        qx, qy = shapely.from_wkt(row["wkt"]).coords[0][:2]
        assert abs(qx - x) < 1e-9
        assert abs(qy - y) < 1e-9
        assert row["attrs"]["township"] in set(source["township"])


def test_kmz_gcj02_option_equals_an_independent_conversion(results: Path, tmp_path: Path) -> None:
    code, out = export("-w", str(results), "--layers", "proposed_sites", "--format", "kmz", "--crs", "gcj02",
                       "--out", str(tmp_path))
    assert code == 0, out
    root = _kml(tmp_path / "export.kmz")
    assert root.findtext(f"{KML}Document/{KML}name").endswith("GCJ-02")
    source = pyogrio.read_dataframe(results, layer="proposed_sites")
    got = list(_points(root, "建议新增选址 proposed_sites (示意)").values())
    for (lon, lat), (x, y) in zip(zip(source.geometry.x, source.geometry.y, strict=True), got, strict=True):
        lat_gcj, lon_gcj = eviltransform.wgs2gcj(lat, lon)
        # eviltransform's constants differ in the last digits: agree to 1 cm (1e-7 degrees), not bit for bit
        assert abs(x - lon_gcj) * 97_000 < 0.01
        assert abs(y - lat_gcj) * 111_000 < 0.01
        assert abs(x - lon) > 1e-3  # really shifted (hundreds of metres)


# ---------------------------------------------------------------------------------------------- DXF


def test_dxf_blocks_layers_and_gauss_kruger_round_trip(results: Path, tmp_path: Path) -> None:
    code, out = export("-w", str(results), "--layers", "proposed_sites,townships", "--format", "dxf",
                       "--out", str(tmp_path))
    assert code == 0, out
    path = tmp_path / "export.dxf"
    doc = ezdxf.readfile(path)
    layers = {layer.dxf.name for layer in doc.layers}
    cemetery = f"建议新增选址 {CATALOGUE.types['public_cemetery'].name_zh} (示意)"  # generated sites say so
    assert {"建议新增选址 社区养老服务站 (示意)", cemetery, "镇街 townships"} <= layers
    assert doc.styles.get("GISPLAN_CJK").dxf.font == "simsun.ttc"
    source = pyogrio.read_dataframe(results, layer="proposed_sites")
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)  # 永川: CM 105E
    back = Transformer.from_crs("EPSG:4544", "EPSG:4326", always_xy=True)
    inserts = doc.modelspace().query("INSERT")
    assert len(inserts) == 4
    for ref, (_, row) in zip(inserts, source.iterrows(), strict=True):
        attribs = {a.dxf.tag: a.dxf.text for a in ref.attribs}
        assert attribs["CODE"] == row["village_code12"]
        assert row["township"] in attribs["NAME"]
        x, y = to_gk.transform(row.geometry.x, row.geometry.y)
        assert abs(ref.dxf.insert.x - x) < 0.01
        assert abs(ref.dxf.insert.y - y) < 0.01
        lon, lat = back.transform(ref.dxf.insert.x, ref.dxf.insert.y)  # back to the source within 1 cm
        assert abs(lon - row.geometry.x) * 97_000 < 0.01
        assert abs(lat - row.geometry.y) * 111_000 < 0.01
    assert ref.dxf.layer == cemetery
    polylines = doc.modelspace().query('LWPOLYLINE[layer=="镇街 townships"]')
    assert len(polylines) >= 23
    assert all(p.closed for p in polylines)
    # GDAL's DXF reader: the block references as points at the same place, the townships as closed rings
    with pyogrio_config(DXF_INLINE_BLOCKS="FALSE"):
        entities = pyogrio.read_dataframe(path, layer="entities")
    points = entities[entities.geometry.geom_type == "Point"]
    assert len(points) == 4
    assert set(points["BlockName"]) == {"GP_proposed_sites_elderly_day_care", "GP_proposed_sites_public_cemetery"}
    assert any(a.startswith("NAME 建议社区养老服务站 第1处 中山路街道") for a in points["BlockAttributes"].iloc[0])
    expected = np.array([to_gk.transform(g.x, g.y) for g in source.geometry])
    assert np.abs(np.c_[points.geometry.x, points.geometry.y] - expected).max() < 0.01
    towns = pyogrio.read_dataframe(results, layer="townships").to_crs("EPSG:4544")
    rings = entities[entities["Layer"] == "镇街 townships"]
    first = np.asarray(towns.geometry.iloc[0].geoms[0].exterior.coords)
    got = np.asarray(rings.geometry.iloc[0].exterior.coords if rings.geometry.iloc[0].geom_type == "Polygon"
                     else rings.geometry.iloc[0].coords)
    assert np.abs(got[: len(first) - 1, :2] - first[:-1]).max() < 0.01


class pyogrio_config:  # noqa: N801 - used as a context manager like a function
    """Set GDAL config options for a block."""

    def __init__(self, **options: str) -> None:
        self.options = options

    def __enter__(self) -> None:
        pyogrio.set_gdal_config_options(self.options)

    def __exit__(self, *exc: object) -> None:
        pyogrio.set_gdal_config_options(dict.fromkeys(self.options))


# ---------------------------------------------------------------------------------------------- XLSX


def test_xlsx_keeps_text_as_text_and_gives_coordinates_in_the_chosen_crs(results: Path, tmp_path: Path) -> None:
    code, out = export("-w", str(results), "--layers", "proposed_sites,indicators", "--format", "xlsx", "--crs",
                       "gk3-zone", "--out", str(tmp_path))
    assert code == 0, out
    path = tmp_path / "export.xlsx"
    with zipfile.ZipFile(path) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets
        assert not any(b"<f>" in book.read(n) for n in sheets)
    book = openpyxl.load_workbook(path)
    sheet = book["proposed_sites"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in r], strict=True)) for r in sheet.iter_rows(min_row=2)]
    assert [r["village"] for r in rows] == [FORMULA, XSS, "-1+2", "@SUM(A1)"]
    assert all(sheet.cell(row=i, column=header.index("village") + 1).data_type == "s" for i in range(2, 6))
    assert book["indicators"]["B2"].value == "=1+1"
    assert book["indicators"]["B2"].data_type == "s"
    source = pyogrio.read_dataframe(results, layer="proposed_sites")
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4523", always_xy=True)  # zone 35 with its prefix
    for row, geom in zip(rows, source.geometry, strict=True):
        x, y = to_gk.transform(geom.x, geom.y)
        assert abs(row["东坐标 easting_m"] - x) < 0.01
        assert abs(row["北坐标 northing_m"] - y) < 0.01
        assert row["东坐标 easting_m"] > 35_000_000
    assert "示意 ILLUSTRATIVE" in book["说明"]["A2"].value


def test_xlsx_for_people_in_chinese(results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the Chinese interface the sheets carry Chinese headers, whole persons and type names; text stays text."""
    monkeypatch.setenv("GISPLAN_LANG", "zh")
    code, out = export("-w", str(results), "--layers", "proposed_sites", "--format", "xlsx", "--out", str(tmp_path))
    assert code == 0, out
    sheet = openpyxl.load_workbook(tmp_path / "export.xlsx")["proposed_sites"]
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["排名", "候选点编号", "设施类型", "镇街", "村（社区）", "村（社区）代码"]
    rows = [dict(zip(header, [c.value for c in r], strict=True)) for r in sheet.iter_rows(min_row=2)]
    assert [r["设施类型"] for r in rows] == ["社区养老服务站"] * 3 + ["城乡公益性安葬（放）设施"]
    assert [r["新增覆盖人口（人）"] for r in rows] == [1201, 800, 640, 0]  # 四舍五入: 1200.5 → 1201
    assert [r["村（社区）"] for r in rows] == [FORMULA, XSS, "-1+2", "@SUM(A1)"]
    assert [r["示意数据"] for r in rows] == ["是"] * 4
    assert "经度 lon" in header  # the export's own coordinate columns keep their names


# ---------------------------------------------------------------------------------------------- rules


def test_never_overwrites_without_force(results: Path, tmp_path: Path) -> None:
    args = ["-w", str(results), "--layers", "proposed_sites", "--format", "geojson", "--out", str(tmp_path)]
    assert export(*args)[0] == 0
    path = tmp_path / "proposed_sites.geojson"
    before = sha256(path)
    path.write_text("{}", encoding="utf-8")
    code, out = export(*args)
    assert code == 1
    assert "already holds proposed_sites.geojson; nothing was written" in out
    assert "--force" in out
    assert path.read_text(encoding="utf-8") == "{}"
    assert export(*args, "--force")[0] == 0
    assert sha256(path) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind



def test_a_killed_exports_staging_folder_is_removed_by_the_next(results: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = tmp_path / f"{STAGE_PREFIX}{done.stdout.strip()}-abc123"  # a writer that was killed mid-write
    dead.mkdir()
    (dead / "proposed_sites.geojson").write_text("{", encoding="utf-8")
    running = tmp_path / f"{STAGE_PREFIX}{os.getpid()}-def456"  # a writer still at work: left alone
    running.mkdir()
    args = ["-w", str(results), "--layers", "proposed_sites", "--format", "geojson", "--out", str(tmp_path)]
    assert export(*args)[0] == 0
    assert not dead.exists()
    assert running.is_dir()

def test_workspace_and_run_folder_sources(base_store: Path, results: Path, tmp_path: Path) -> None:
    code, out = export("-w", str(base_store), "--layers", "townships", "--format", "geojson", "--out",
                       str(tmp_path / "ws"))
    assert code == 0, out
    assert len(pyogrio.read_dataframe(tmp_path / "ws" / "townships.geojson")) == 23
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(results, run / "results.gpkg")
    code, out = export("-w", str(run), "--layers", "proposed_sites", "--format", "geojson", "--out",
                       str(tmp_path / "run_out"))
    assert code == 0, out


@pytest.mark.parametrize(("args", "message"), [
    (["--layers", "nowhere", "--format", "gpkg"], "has no layer `nowhere`. Fix: choose from: "),
    (["--layers", "indicators", "--format", "kmz"], "layer `indicators` is a table without geometry"),
    (["--layers", "indicators,proposed_sites", "--format", "shp"], "layer `indicators` is a table without geometry"),
    (["--format", "geojson", "--crs", "EPSG:4544"], "`--format geojson` is WGS84 (EPSG:4326) by its standard"),
    (["--format", "dxf", "--crs", "gcj02"], "is for KMZ only"),
    (["--format", "dxf", "--crs", "EPSG:4490"], "needs a projected CRS in metres"),
])
def test_bad_requests_exit_1_with_the_fix(results: Path, tmp_path: Path, args: list[str], message: str) -> None:
    """Every layer by default (tables are left out of formats that hold only features); a bad request exits 1."""
    code, out = export("-w", str(results), *args, "--out", str(tmp_path / "o"))
    assert code == 1, out
    assert message in out
    assert "Traceback" not in out
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_help_shows_examples_and_names_gcj02_as_an_app_option() -> None:
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert result.exit_code == 0
    assert "--format dxf --out to_cad/" in result.output
    assert "--format kmz --out to_phone/" in result.output
    assert "gcj02" in result.output
    assert "only for apps known to want" in result.output


def test_atomic_writers_leave_the_usual_permissions_and_nothing_behind(tmp_path: Path) -> None:
    """GeoPackage, GeoParquet (geopandas and the ad-hoc points' pyarrow writer) come out with the permissions
    the umask gives (mkstemp's 0600 would hide a bureau's outputs from colleagues); a failed write leaves
    the old file and no temporary one."""
    frame = gpd.GeoDataFrame({"名称": ["甲", "乙"]}, geometry=gpd.points_from_xy([105.9, 105.95], [29.35, 29.4]),
                             crs="EPSG:4326")
    mask = os.umask(0o022)
    try:
        write_atomic_gpkg({"points": frame}, tmp_path / "a.gpkg")
        write_atomic_parquet(frame, tmp_path / "b.parquet")
        write_points_parquet({"id": pa.array(["a", "b"])}, np.array([105.9, 105.95]), np.array([29.35, 29.4]),
                             tmp_path / "c.parquet", crs="EPSG:4326")
    finally:
        os.umask(mask)
    for name in ("a.gpkg", "b.parquet", "c.parquet"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert gpd.read_parquet(tmp_path / "c.parquet").geometry.x.tolist() == [105.9, 105.95]
    before = (tmp_path / "b.parquet").read_bytes()
    with pytest.raises(pa.ArrowException):  # the write itself fails, inside the temporary file
        write_atomic_parquet(frame.assign(bad=[object(), object()]), tmp_path / "b.parquet")
    assert (tmp_path / "b.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gpkg", "b.parquet", "c.parquet"]


def test_a_data_sheet_titled_like_the_notes_sheet_keeps_its_title(tmp_path: Path) -> None:
    """The notes go to 说明 unless a data sheet has that title: then they go to 说明1 (XlsxWriter refused the
    duplicate name and the workbook was not written)."""
    from gisplan.io.export import write_xlsx

    write_xlsx({"说明": pd.DataFrame({"a": [1]})}, tmp_path / "t.xlsx", notes=["示意 illustrative"])
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["说明", "说明1"]
    assert book["说明1"]["A1"].value == "示意 illustrative"


@pytest.mark.parametrize(("z", "kind"), [(None, "Point"), (12.5, "Point Z")])
def test_the_points_geoparquet_states_its_geometry_type(tmp_path: Path, z: float | None, kind: str) -> None:
    x, y = np.array([105.9]), np.array([29.35])
    wkb = None if z is None else pa.array(shapely.to_wkb([shapely.Point(105.9, 29.35, z)]).tolist(), pa.binary())
    write_points_parquet({"id": pa.array(["a"])}, x, y, tmp_path / "p.parquet", crs="EPSG:4326", wkb=wkb)
    meta = json.loads(pyarrow_schema_metadata(tmp_path / "p.parquet")[b"geo"])
    assert meta["columns"]["geometry"]["geometry_types"] == [kind]
    assert gpd.read_parquet(tmp_path / "p.parquet").geometry.has_z.tolist() == [z is not None]


def pyarrow_schema_metadata(path: Path) -> dict[bytes, bytes]:
    import pyarrow.parquet as pq

    return dict(pq.read_schema(path).metadata)
