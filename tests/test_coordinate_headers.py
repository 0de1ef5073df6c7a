"""One table of coordinate-column headers (gisplan.io.tables), read alike by layer import and the ad-hoc
`gisplan coverage` points."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from gisplan.catalogue import normalise_header
from gisplan.cli.coverage import read_points
from gisplan.cli.main import cli
from gisplan.crs import parse_crs
from gisplan.io.tables import COORDINATE_HEADERS, LAT_HEADERS, LON_HEADERS, LONLAT_HEADERS, WKT_HEADERS
from gisplan.store import open_workspace
from gisplan.validation.cells import _LAT, _LON, _LONLAT, _WKT

if TYPE_CHECKING:
    from pathlib import Path


def test_headers_are_normalised_and_each_has_one_meaning() -> None:
    roles = (LON_HEADERS, LAT_HEADERS, LONLAT_HEADERS, WKT_HEADERS)
    for role in roles:
        assert all(normalise_header(h) == h for h in role), role
        assert len(set(role)) == len(role), role
    assert sum(len(r) for r in roles) == len(COORDINATE_HEADERS)  # no header in two roles
    # layer validation reads the same table, canonical name first
    assert (_LON.aliases, _LAT.aliases, _LONLAT.aliases, _WKT.aliases) == roles


@pytest.mark.parametrize(("lon", "lat"), [("经度", "纬度"), ("long", "lat"), ("经度（E）", "纬度（N）"),
                                          ("Lng", "Latitude"), ("x坐标", "y坐标")])
def test_import_and_adhoc_points_read_the_same_coordinate_columns(
    lon: str, lat: str, store: Path, tmp_path: Path, centre_point: dict[str, object],
) -> None:
    x, y, code = float(centre_point["lon"]), float(centre_point["lat"]), str(centre_point["code12"])  # type: ignore[arg-type]
    path = tmp_path / "养老机构台账.csv"
    path.write_text(
        "永川区养老机构台账（2024年）\n"  # a title row above the header
        f"设施编号,名称,区划代码,{lon},{lat},床位数,护理型床位,运营方式,质量达标\n"
        f"YL-001,甲敬老院,{code},{x},{y},120,60,公办,是\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type",
                                      "elderly_institution", "--crs", "EPSG:4326", "-w", str(store)])
    assert result.exit_code == 0, result.output
    stored = open_workspace(store).read_layer("facilities_elderly_institution")
    assert stored["facility_id"].tolist() == ["YL-001"]
    assert (stored.geometry.x.iloc[0], stored.geometry.y.iloc[0]) == pytest.approx((x, y), abs=1e-9)

    points = read_points(path, parse_crs("EPSG:4326"), role="facilities")
    assert len(points) == 1
    assert (points.geometry.x.iloc[0], points.geometry.y.iloc[0]) == pytest.approx((x, y), abs=1e-9)
