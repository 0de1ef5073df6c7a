"""Every GeoPackage gisplan writes is version 1.2 (QGIS 3.22 warns on 1.4), with 1.4 as an option; the CGCS2000
3° Gauss-Krüger zones gisplan names agree with pyproj's definitions."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS

from gisplan.crs import gauss_kruger_3deg, parse_crs
from gisplan.errors import ConfigError, CRSError
from gisplan.io.atomic import write_atomic_gpkg
from gisplan.settings import GPKG_VERSION_ENV, gpkg_dataset_options, gpkg_version, gpkg_versions
from gisplan.store import LayerWrite, open_workspace

if TYPE_CHECKING:
    from pathlib import Path


def user_version(path: Path) -> int:
    """The GeoPackage version number in the SQLite header (10200 = 1.2, 10400 = 1.4)."""
    with closing(sqlite3.connect(path)) as con:
        return int(con.execute("PRAGMA user_version").fetchone()[0])


def _points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["永川"]}, geometry=[shapely.Point(105.9, 29.35)], crs="EPSG:4326")


def test_result_files_are_geopackage_1_2_by_default_and_1_4_on_request(tmp_path: Path) -> None:
    write_atomic_gpkg({"a": _points(), "b": _points()}, tmp_path / "r12.gpkg")
    assert user_version(tmp_path / "r12.gpkg") == 10200
    with gpkg_versions("1.4"):
        write_atomic_gpkg({"a": _points()}, tmp_path / "r14.gpkg")
    assert user_version(tmp_path / "r14.gpkg") == 10400
    assert gpkg_version() == "1.2"  # the option ends with its block


def test_a_new_workspace_is_geopackage_1_2(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws.gpkg")
    ws.write([LayerWrite("district", "district", _points())], action="import")
    assert user_version(tmp_path / "ws.gpkg") == 10200
    ws.write([LayerWrite("townships", "townships", _points())], action="import")
    assert user_version(tmp_path / "ws.gpkg") == 10200  # rebuilt in a copy: still 1.2


def test_the_version_comes_from_the_environment_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GPKG_VERSION_ENV, "1.4")
    assert gpkg_dataset_options() == {"VERSION": "1.4"}
    monkeypatch.setenv(GPKG_VERSION_ENV, "1.3")
    with pytest.raises(ConfigError, match=r"GISPLAN_GPKG_VERSION must be one of 1\.2, 1\.4 \(got '1\.3'\)"):
        gpkg_version()
    with pytest.raises(ConfigError, match="`gpkg_version` must be one of"), gpkg_versions("2.0"):
        pass


@pytest.mark.parametrize("zone", range(25, 46))
def test_gauss_kruger_zones_match_pyproj(zone: int) -> None:
    lon = 3.0 * zone + 1.2  # inside the zone, east of its central meridian
    plain, prefixed = gauss_kruger_3deg(lon), gauss_kruger_3deg(lon, zone_prefix=True)
    for crs, false_easting in ((plain, 500_000.0), (prefixed, zone * 1_000_000.0 + 500_000.0)):
        params = {p.name: p.value for p in crs.coordinate_operation.params}
        assert params["Longitude of natural origin"] == 3.0 * zone
        assert params["False easting"] == false_easting
        assert crs.geodetic_crs == CRS.from_epsg(4490)
    assert f"zone {zone}" in prefixed.name
    assert f"CM {3 * zone}E" in plain.name


def test_named_zones_of_the_two_districts() -> None:
    assert gauss_kruger_3deg(105.93).to_epsg() == 4544  # 永川: CM 105E
    assert gauss_kruger_3deg(105.93, zone_prefix=True).to_epsg() == 4523  # zone 35
    assert gauss_kruger_3deg(117.22).to_epsg() == 4548  # 珠山: CM 117E
    assert gauss_kruger_3deg(117.22, zone_prefix=True).to_epsg() == 4527  # zone 39
    with pytest.raises(CRSError, match="outside the CGCS2000 3° Gauss-Krüger zones"):
        gauss_kruger_3deg(-122.4)


def test_the_crs_hint_names_the_right_zone() -> None:
    with pytest.raises(CRSError) as info:
        parse_crs("not a crs")
    message = str(info.value)
    assert "4545" not in message  # 4545 is CM 108E, not zone 35
    assert "4544 for CGCS2000 3° Gauss-Krüger CM 105E" in message
    assert CRS.from_epsg(4544).name.endswith("CM 105E")
    assert CRS.from_epsg(4523).name.endswith("zone 35")


def test_the_import_hint_for_a_projected_file_names_the_right_zone(store: Path, tmp_path: Path,
                                                                    centre_point: dict[str, object]) -> None:
    """The message the issue quotes: a projected file without .prj imported as degrees suggests 4544 (CM 105E)
    or 4523 (zone 35 with its prefix), never 4545 (CM 108E, a 3° error)."""
    from click.testing import CliRunner
    from pyproj import Transformer

    from gisplan.cli.main import cli

    x, y = Transformer.from_crs(4326, 4544, always_xy=True).transform(centre_point["lon"], centre_point["lat"])
    path = tmp_path / "centre.shp"
    gpd.GeoDataFrame({"fid_text": ["A"], "name": ["甲"], "code12": [centre_point["code12"]]},
                     geometry=[shapely.Point(x, y)], crs="EPSG:4544").to_file(path, engine="pyogrio")
    path.with_suffix(".prj").unlink()
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "township_elderly_centre", "--crs", "EPSG:4326", "-w", str(store)])
    assert result.exit_code == 1, result.output
    assert "EPSG:4544 for CGCS2000 3° Gauss-Krüger CM 105E, or EPSG:4523" in result.output
    assert "4545" not in result.output
