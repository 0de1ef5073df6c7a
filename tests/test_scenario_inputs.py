"""Scenario files (issue 13 items 2 and 6): a scenario without indicators fails before anything is imported,
misspelt keys and tables are refused with the right spelling, and [[layer]] takes the options of `layers import`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.config import load_scenario
from gisplan.errors import ConfigFileError
from gisplan.store import open_workspace
from gisplan.workflows.importing import import_scenario
from tests.conftest import LAYERS

if TYPE_CHECKING:
    from pathlib import Path

HEAD = f"""[scenario]
name = "test"
district_code = "500118"
crs = "EPSG:32648"
workspace = "ws/yc.gpkg"

[[layer]]
kind = "gazetteer"
path = "{LAYERS / 'yongchuan_gazetteer.csv'}"

[[layer]]
kind = "district"
path = "{LAYERS / 'yongchuan_boundaries.gpkg'}"
layer = "district"

[[layer]]
kind = "townships"
path = "{LAYERS / 'yongchuan_boundaries.gpkg'}"
layer = "townships"
"""

INDICATOR = """
[[indicator]]
row = "1"
name_zh = "未成年人保护工作站覆盖率"
metric = "admin_share"
type = "minor_protection_station"

"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_scenario_without_indicators_fails_before_import(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD)
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "has no [[indicator]] table" in result.output
    assert "nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "ws").exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("typo", "suggestion"), [
    ("[[layers]]", "did you mean [layer]?"),
    ("[[indicators]]", "did you mean [indicator]?"),
])
def test_misspelt_tables_are_refused(tmp_path: Path, typo: str, suggestion: str) -> None:
    text = HEAD + f'\n{typo}\nkind = "households"\npath = "x.csv"\n' + INDICATOR
    with pytest.raises(ConfigFileError) as err:
        load_scenario(_write(tmp_path, text))
    assert suggestion in str(err.value)


def test_misspelt_layer_option_is_refused_with_the_right_key(tmp_path: Path) -> None:
    text = HEAD.replace('layer = "townships"', 'layer = "townships"\ntolerence_m = 500') + INDICATOR
    with pytest.raises(ConfigFileError) as err:
        load_scenario(_write(tmp_path, text))
    assert "unknown key `tolerence_m`" in str(err.value)
    assert "did you mean `tolerance_m`?" in str(err.value)


def test_bad_layer_option_values(tmp_path: Path) -> None:
    text = HEAD.replace('layer = "townships"', 'layer = "townships"\nencoding = "klingon"\nmake_ids = true')
    with pytest.raises(ConfigFileError) as err:
        load_scenario(_write(tmp_path, text + INDICATOR))
    assert "'klingon' is not a text encoding" in str(err.value)
    assert "`make_ids` numbers facilities only" in str(err.value)


def test_layer_takes_the_options_of_layers_import(tmp_path: Path, centre_point: dict[str, object]) -> None:
    """make_ids, tolerance_m, encoding and sheet in a [[layer]] do what the CLI options do, and are kept."""
    ledger = tmp_path / "台账.csv"
    ledger.write_text("序号,名称,区划代码,经度,纬度\n"
                      f"1,甲站,{centre_point['code12']},{centre_point['lon']},{centre_point['lat']}\n",
                      encoding="gbk")
    text = HEAD + f"""
[[layer]]
kind = "facilities"
type = "minor_protection_station"
path = "{ledger}"
crs = "EPSG:4326"
encoding = "gbk"
make_ids = true
tolerance_m = 300
""" + INDICATOR
    sc = load_scenario(_write(tmp_path, text))
    source = sc.layers[-1]
    assert (source.make_ids, source.tolerance_m, source.encoding) == (True, 300.0, "gbk")
    ws = open_workspace(tmp_path / "ws.gpkg")
    import_scenario(sc, ws, load_catalogue())
    stored = ws.read_layer("facilities_minor_protection_station")
    assert stored["facility_id"].tolist() == ["minor_protection_station-2"]
    options = json.loads(ws.metadata().set_index("layer").loc["facilities_minor_protection_station", "options"])
    assert options == {"crs": "EPSG:4326", "encoding": "gbk", "make_ids": True, "tolerance_m": 300.0}
