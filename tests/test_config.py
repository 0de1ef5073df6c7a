"""Scenario settings for coverage: the [coverage] table and travel-profile overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gisplan.catalogue import load_catalogue
from gisplan.config import load_scenario, scenario_profiles
from gisplan.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

HEAD = '[scenario]\nname = "x"\ndistrict_code = "500118"\ncrs = "EPSG:32648"\nworkspace = "w.gpkg"\n'


def _scenario(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(HEAD + extra, encoding="utf-8")
    return path


def test_coverage_defaults_and_overrides(tmp_path: Path) -> None:
    sc = load_scenario(_scenario(tmp_path, '[coverage]\nbands_minutes = [10, 15]\nraster = "pop.tif"\n'
                                           '[standard]\nwalk_speed_m_per_min = 80\n'
                                           '[profiles.drive]\nspeed_m_per_min = 400\n'
                                           '[profiles.drive.class_speed_km_per_h]\nresidential = 15\n'))
    assert sc.coverage.bands_minutes == (10, 15)
    assert sc.coverage.raster == tmp_path / "pop.tif"
    assert (sc.coverage.method, sc.coverage.max_snap_m, sc.coverage.trim_m) == ("network", 1000.0, 100.0)
    profiles = scenario_profiles(sc, load_catalogue())
    assert profiles["walk"].speed_m_per_min == 80
    assert profiles["walk"].access_speed_m_per_min == 80
    assert profiles["elderly_walk"].speed_m_per_min == 60
    assert profiles["drive"].speed_m_per_min == 400
    assert profiles["drive"].class_speeds_m_per_min["residential"] == pytest.approx(250)
    assert profiles["drive"].class_speeds_m_per_min["motorway"] == pytest.approx(80_000 / 60)
    assert profiles["drive"].oneway


@pytest.mark.parametrize(("extra", "message"), [
    ('[coverage]\nmethod = "crow"\n', r"`method` must be one of network, straight_line \(got 'crow'\)"),
    ("[coverage]\nbands_minutes = 15\n", "`bands_minutes` must be a list of minutes"),
    ("[coverage]\nbands_minutes = [5, -1]\n", "`bands_minutes` must be a list of minutes between 0 and 600"),
    ("[coverage]\nmax_snap_m = 0\n", "`max_snap_m` must be a positive number of metres"),
    ("[coverage]\nsnap_tolerance_m = -1\n", "`snap_tolerance_m` must be a number of metres ≥ 0"),
    ('[coverage]\nspread = "evenly"\n', r"`spread` must be one of roads, area \(got 'evenly'\)"),
    ("[coverage]\nmax_snap = 5\n", "unknown key `max_snap`. Fix: did you mean `max_snap_m`?"),
    ("[profiles]\nwalk = 3\n", r"\[profiles.walk\] must be a table \(got 3\)"),
    ("[[indicator]]\nrow = \"1\"\nname_zh = \"x\"\nmetric = \"reported\"\ncomparator = \"about\"\n", "`comparator` must be one of"),
])
def test_bad_coverage_settings(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_scenario(_scenario(tmp_path, extra))


@pytest.mark.parametrize(("extra", "message"), [
    ("[profiles.walk]\nspeed_m_per_min = 0\n", r"profiles.walk\].speed_m_per_min must be a positive number"),
    ('[profiles.walk]\noneway = "yes"\n', "oneway must be true or false"),
    ("[profiles.walk]\nspeed = 70\n", "unknown key\\(s\\) speed"),
    ("[profiles.horse]\noneway = true\n", "horse\\].speed_m_per_min is required"),
    ('[profiles.drive]\nexcluded_classes = "footway"\n', "excluded_classes must be a list"),
])
def test_bad_profiles(tmp_path: Path, extra: str, message: str) -> None:
    sc = load_scenario(_scenario(tmp_path, extra))
    with pytest.raises(ConfigError, match=message):
        scenario_profiles(sc, load_catalogue())
