"""CLI exit codes, help text and the listing commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from click.testing import CliRunner

from gisplan.cli.main import cli
from tests.conftest import sha256

if TYPE_CHECKING:
    from pathlib import Path


def test_help_has_examples() -> None:
    for args in (["--help"], ["layers", "import", "--help"], ["run", "--help"], ["types", "list", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0
        assert "Example" in result.output
    assert "gcj02" in CliRunner().invoke(cli, ["layers", "import", "--help"]).output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["layers", "import"]).exit_code == 2
    assert runner.invoke(cli, ["layers", "import", "x.csv", "--kind", "bogus"]).exit_code == 2
    result = runner.invoke(cli, ["layers", "import", "x.csv", "--kind", "facilities", "-w", str(tmp_path / "w.gpkg")])
    assert result.exit_code == 2
    assert "--type is required" in result.output
    assert runner.invoke(cli, ["run", str(tmp_path / "missing.toml")]).exit_code == 2


def test_data_errors_exit_1_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\ndistrict_code = "5001"\ncrs = "EPSG:32648"\nworkspace = "w.gpkg"\n',
                   encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(bad)])
    assert result.exit_code == 1
    assert "`district_code` must be 6 digits" in result.output
    assert "Traceback" not in result.output
    listing = CliRunner().invoke(cli, ["layers", "list", "-w", str(tmp_path / "none.gpkg")])
    assert listing.exit_code == 1
    assert "does not exist" in listing.output


def test_layers_list_and_types_list(store: Path) -> None:
    out = CliRunner().invoke(cli, ["layers", "list", "-w", str(store)])
    assert out.exit_code == 0
    assert "facilities_community_service_centre  facilities  267" in out.output
    assert "示意" in out.output
    types = CliRunner().invoke(cli, ["types", "list"])
    assert "城乡公益性安葬（放）设施" in types.output
    assert "public_cemetery" in types.output


def test_validate_writes_nothing(store: Path, tmp_path: Path, centre_point: dict[str, object]) -> None:
    before = sha256(store)
    path = tmp_path / "ok.csv"
    p = centre_point
    path.write_text(f"facility_id,name,code12,lon,lat\nT1,甲,{p['code12']},{p['lon']},{p['lat']}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["layers", "validate", str(path), "--kind", "facilities", "--type",
                                      "minor_protection_station", "--crs", "4326", "-w", str(store)])
    assert result.exit_code == 0, result.output
    assert "1 rows" in result.output
    assert sha256(store) == before


def test_layers_show(store: Path) -> None:
    out = CliRunner().invoke(cli, ["layers", "show", "townships", "--limit", "2", "-w", str(store)])
    assert out.exit_code == 0
    assert "500118001000  中山路街道  MultiPolygon" in out.output
    assert "… 21 more rows" in out.output
    pts = CliRunner().invoke(cli, ["layers", "show", "facilities_community_service_centre", "-w", str(store)])
    assert "lon" in pts.output
    assert "105." in pts.output
    missing = CliRunner().invoke(cli, ["layers", "show", "nope", "-w", str(store)])
    assert missing.exit_code == 1
    assert "has no layer 'nope'" in missing.output


def test_crs_hint_in_file_name_warns(tmp_path: Path, centre_point: dict[str, object], store: Path) -> None:
    p = centre_point
    path = tmp_path / "养老站_高德坐标.csv"
    path.write_text(f"facility_id,name,code12,lon,lat\nT1,甲,{p['code12']},{p['lon']},{p['lat']}\n", encoding="utf-8")
    args = ["layers", "validate", str(path), "--kind", "facilities", "--type", "minor_protection_station",
            "-w", str(store)]
    warned = CliRunner().invoke(cli, [*args, "--crs", "4326"])
    assert warned.exit_code == 0, warned.output
    assert "suggests 高德/腾讯 GCJ-02" in warned.output
    quiet = CliRunner().invoke(cli, [*args, "--crs", "gcj02"])
    assert "suggests" not in quiet.output


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    """A wrong --crs, an unknown --type, --sheet on a CSV: exit 2 with the option named; nothing read."""
    path = tmp_path / "x.csv"
    path.write_text("facility_id,name\nA,甲\n", encoding="utf-8")
    base = ["layers", "import", str(path), "-w", str(tmp_path / "w.gpkg")]
    crs = CliRunner().invoke(cli, [*base, "--kind", "facilities", "--type", "public_cemetery", "--crs", "mars"])
    assert crs.exit_code == 2
    assert "Invalid value for --crs" in crs.output
    assert "'mars' is not a known coordinate system" in crs.output
    kind = CliRunner().invoke(cli, [*base, "--kind", "facilities", "--type", "cinema"])
    assert kind.exit_code == 2
    assert "unknown facility type `cinema`" in kind.output
    assert "public_cemetery" in kind.output
    sheet = CliRunner().invoke(cli, [*base, "--kind", "gazetteer", "--sheet", "2023"])
    assert sheet.exit_code == 2
    assert "--sheet applies to .xlsx workbooks only" in sheet.output
    layer = CliRunner().invoke(cli, [*base, "--kind", "gazetteer", "--layer", "a"])
    assert layer.exit_code == 2
    assert not (tmp_path / "w.gpkg").exists()


def test_workspace_uris_are_opened_once_by_the_option(tmp_path: Path, store: Path) -> None:
    """`-w gpkg:PATH` is the same workspace as PATH; a PostGIS URI whose server cannot be reached is a clear
    error (exit 1) naming the host and what to check, without echoing the password."""
    same = CliRunner().invoke(cli, ["layers", "list", "-w", f"gpkg:{store}"])
    assert same.exit_code == 0, same.output
    assert "facilities_community_service_centre  facilities  267" in same.output
    for command in (["layers", "list"], ["history"]):
        pg = CliRunner().invoke(cli, [*command, "-w", "postgresql://planner:s3cret@db.invalid/yongchuan"])
        assert pg.exit_code == 1, pg.output
        assert "cannot connect to workspace postgresql://planner:…@db.invalid/yongchuan" in pg.output
        assert "s3cret" not in pg.output
        assert "Traceback" not in pg.output
