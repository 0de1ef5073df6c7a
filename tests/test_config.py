"""Scenario loading: the [coverage] table and travel-profile overrides; every choice value parsed on load, and
every problem of a file listed at once with its line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.config import IndicatorSpec, load_scenario
from gisplan.errors import ConfigError, ConfigFileError
from gisplan.scenariocat import check_scenario_types, scenario_profiles
from gisplan.tomllines import TomlLines
from gisplan.vocab import CoverageMethod, Metric, Scope, Spread, Weight
from tests.conftest import ROOT

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


ROW = '\n[[indicator]]\nid = "{id}"\nrow = "{id}"\nname_zh = "x"\n'


def _problems(tmp_path: Path, extra: str) -> list[tuple[str, int | None, str | None, str]]:
    with pytest.raises(ConfigFileError) as err:
        load_scenario(_scenario(tmp_path, extra))
    assert isinstance(err.value, ConfigError)
    return [(p.source.removeprefix(f"{tmp_path / 's.toml'} "), p.row, p.field, p.message) for p in err.value.problems]


@pytest.mark.parametrize(("extra", "expected"), [
    (ROW.format(id="a") + 'metric = "admin_share"\ntype = "public_cemetery"\nscope = "cities"\n',
     ("[[indicator]] #1", 13, "scope", "`scope` must be one of all, towns, streets, urban_communities, "
      "rural_villages (got 'cities').")),
    (ROW.format(id="a") + 'metric = "network_coverage"\ntype = "elderly_day_care"\nweight = "elders"\n',
     ("[[indicator]] #1", 13, "weight", "`weight` must be one of population, households, pop_60plus (got 'elders').")),
    (ROW.format(id="a") + 'metric = "admin_shar"\ntype = "public_cemetery"\n',
     ("[[indicator]] #1", 11, "metric", "`metric` must be one of admin_share, facility_count, network_coverage, "
      "floor_area_compliance, floor_area_per_100hh, host_share, nursing_bed_share, government_bed_share, "
      "quality_share, reported (got 'admin_shar').")),
    (ROW.format(id="a") + 'metric = "admin_share"\n',
     ("[[indicator]] #1", 11, "metric", "metric 'admin_share' needs `type` (a facility type id).")),
    (ROW.format(id="a") + 'metric = "reported"\nminutes = 0\n',
     ("[[indicator]] #1", 12, "minutes", "`minutes` must be a number of minutes between 0 and 600 (got 0).")),
    (ROW.format(id="a") + 'metric = "reported"\nscpoe = "towns"\n',
     ("[[indicator]] #1", 12, "scpoe", "unknown key `scpoe`.")),
    (ROW.format(id="a") + 'metric = "reported"\nmin_population = "many"\n',
     ("[[indicator]] #1", 12, "min_population", "`min_population` must be a whole number of residents ≥ 0 "
      "(got 'many').")),
    ('[coverage]\nmethod = "crow"\n', ("[coverage]", 7, "method", "`method` must be one of network, straight_line "
                                                                  "(got 'crow').")),
    ('[coverage]\nspread = "evenly"\n', ("[coverage]", 7, "spread", "`spread` must be one of roads, area "
                                                                    "(got 'evenly').")),
    ("[standard]\nmax_minutes = -5\n", ("[standard]", 7, "max_minutes", "`max_minutes` must be a positive number "
                                                                        "(got -5).")),
    ('\n[[layer]]\nkind = "shops"\npath = "x.csv"\n', ("[[layer]] #1", 8, "kind", "`kind` must be one of "
     "gazetteer, district, townships, villages, households, facilities, roads (got 'shops').")),
    ('\n[[layer]]\nkind = "facilities"\npath = "x.csv"\n', ("[[layer]] #1", 8, "kind", "a facilities layer needs "
                                                                                      "`type` (a facility type id).")),
    ("[standrad]\nmax_minutes = 15\n", ("[standrad]", 6, None, "unknown table or key `standrad`.")),
    ('\n[[indicator]]\nrow = 7\nname_zh = "x"\nmetric = "reported"\n',
     ("[[indicator]] #1", 8, "row", "`row` has the wrong type (got 7).")),
    ('\n[[indicator]]\nrow = "7"\nmetric = "reported"\n', ("[[indicator]] #1", 7, "name_zh", "`name_zh` is required.")),
])
def test_each_bad_value_is_refused_on_load_at_its_line(tmp_path: Path, extra: str,
                                                       expected: tuple[str, int | None, str | None, str]) -> None:
    assert _problems(tmp_path, extra) == [expected]


def test_every_problem_of_the_file_at_once(tmp_path: Path) -> None:
    """Bad values in three tables, a bad district code and a repeated id: all listed in one error, each at its
    line, with the allowed values and the closest one."""
    text = ('[scenario]\nname = "x"\ndistrict_code = "5001"\ncrs = "EPSG:32648"\nworkspace = "w.gpkg"\n'
            '[coverage]\nmethod = "netwrok"\n'
            + ROW.format(id="a") + 'metric = "reported"\n'
            + ROW.format(id="b") + 'metric = "facility_count"\ntype = "public_cemetery"\nscope = "town"\n'
            + ROW.format(id="a") + 'metric = "network_coverage"\ntype = "elderly_day_care"\nweight = "pop60"\n')
    path = tmp_path / "many.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as err:
        load_scenario(path)
    problems = [(p.source.removeprefix(f"{path} "), p.row, p.field) for p in err.value.problems]
    assert problems == [("[scenario]", 3, "district_code"), ("[coverage]", 7, "method"),
                        ("[[indicator]] #2", 21, "scope"), ("[[indicator]] #3", 24, "id"),
                        ("[[indicator]] #3", 29, "weight")]
    assert text.splitlines()[20] == 'scope = "town"'
    message = str(err.value)
    assert message.startswith("5 problems found in the configuration file; nothing was done:\n")
    assert (f"  - {path} [[indicator]] #2, line 21: `scope` must be one of all, towns, streets, urban_communities, "
            "rural_villages (got 'town'). Fix: did you mean 'towns'?") in message
    assert (f"  - {path} [coverage], line 7: `method` must be one of network, straight_line (got 'netwrok'). "
            "Fix: did you mean 'network'?") in message
    assert "[[indicator]] #3, line 24: indicator id 'a' is used by [[indicator]] #1 already." in message
    assert "[scenario], line 3: `district_code` must be 6 digits (got '5001')." in message
    assert message.index("line 3:") < message.index("line 7:") < message.index("line 21:") < message.index("line 29:")


def test_lines_in_the_demo_scenario(tmp_path: Path) -> None:
    """Typos in a copy of the 永川 scenario (comments, multi-line arrays and 30 indicator tables) are placed at
    the lines a text editor shows."""
    lines = (ROOT / "scenarios" / "yongchuan-2025.toml").read_text(encoding="utf-8").splitlines()
    streets = lines.index('scope = "streets"')
    lines[streets] = 'scope = "street"'
    method = lines.index('method = "network"')
    lines[method] = 'method = "walking"'
    path = tmp_path / "yc.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as err:
        load_scenario(path)
    found = {(p.field, p.row) for p in err.value.problems}
    assert found == {("scope", streets + 1), ("method", method + 1)}
    nth = sum(1 for line in lines[:streets] if line == "[[indicator]]")
    assert f"[[indicator]] #{nth}, line {streets + 1}: `scope`" in str(err.value)


def test_toml_lines_skip_multiline_values() -> None:
    text = ('[a]\nx = [\n  "y = 1",\n  2,\n]\ny = """\nz = 3\n"""\nz = 4  # [b]\n[[t]]\nk = 1\n[[t]]\n'
            "# k = 0\nk = 2\n")
    lines = TomlLines(text)
    assert (lines.line("a", key="x"), lines.line("a", key="y"), lines.line("a", key="z")) == (2, 6, 9)
    assert (lines.line("t", 1, "k"), lines.line("t", 2, "k"), lines.line("t", 2, "missing")) == (11, 14, 12)
    assert lines.line("b") is None


def test_scenario_types_are_checked_against_the_catalogue(tmp_path: Path) -> None:
    path = _scenario(tmp_path, '\n[[layer]]\nkind = "facilities"\ntype = "cinema"\npath = "x.csv"\n'
                     + ROW.format(id="a") + 'metric = "admin_share"\ntype = "public_cemetry"\n')
    sc = load_scenario(path)
    assert sc.indicators[0].metric is Metric.ADMIN_SHARE
    with pytest.raises(ConfigFileError) as err:
        check_scenario_types(sc, load_catalogue())
    assert [(p.row, p.field) for p in err.value.problems] == [(9, "type"), (17, "type")]
    assert "`type` 'public_cemetry' is not a facility type of the catalogue." in str(err.value)


def test_values_are_parsed_into_the_vocabulary(tmp_path: Path) -> None:
    sc = load_scenario(_scenario(tmp_path, '[coverage]\nmethod = "straight_line"\n' + ROW.format(id="a")
                                 + 'metric = "network_coverage"\ntype = "elderly_day_care"\nweight = "pop_60plus"\n'
                                 'scope = "towns"\n'))
    spec = sc.indicators[0]
    assert (spec.metric, spec.weight, spec.scope) == (Metric.NETWORK_COVERAGE, Weight.POP_60PLUS, Scope.TOWNS)
    assert type(spec.metric) is Metric
    assert type(sc.coverage.method) is CoverageMethod
    assert sc.coverage.spread is Spread.ROADS
    with pytest.raises(ConfigError, match=r"\[indicator\] `weight` must be one of population, households"):
        IndicatorSpec(row="1", name_zh="x", unit="%", baseline_2020="", target_2025="", nature="",
                      metric="reported", weight="elders")  # type: ignore[arg-type]


def test_cli_exit_code_1_and_the_listed_problems(tmp_path: Path) -> None:
    path = _scenario(tmp_path, ROW.format(id="a") + 'metric = "admin_share"\ntype = "public_cemetery"\n'
                     'scope = "cities"\n' + ROW.format(id="b") + 'metric = "count"\n')
    for command in (["run", str(path)], ["coverage", str(path)], ["map", str(path)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "error: 2 problems found in the configuration file; nothing was done:" in result.output
        assert f"{path} [[indicator]] #1, line 13: `scope` must be one of all, towns" in result.output
        assert f"{path} [[indicator]] #2, line 19: `metric` must be one of admin_share" in result.output
        assert "(got 'count'). Fix: did you mean 'facility_count'?" in result.output


def test_paths_must_be_text(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "catalogue = 5\n[roads]\npath = true\n")
    with pytest.raises(ConfigFileError) as err:
        load_scenario(path)
    assert [(p.row, p.field, p.message) for p in err.value.problems] == [
        (6, "catalogue", "`catalogue` must be a file path (got 5)."),
        (8, "path", "`path` must be a file path (got True)."),
    ]
