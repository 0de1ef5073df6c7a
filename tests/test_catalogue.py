"""The facility-type catalogue is data: every DOMAIN type is there, and users add types by file."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import pyogrio
import pytest
from click.testing import CliRunner

from gisplan.catalogue import MAP_PALETTE, load_catalogue, normalise_header
from gisplan.cli.main import cli
from gisplan.errors import ConfigError
from gisplan.vocab import Level, Metric, Scope
from tests.conftest import FACILITIES

if TYPE_CHECKING:
    from pathlib import Path

DOMAIN_TYPES = {
    "community_service_centre", "elderly_day_care", "township_elderly_centre", "rural_mutual_aid_elderly",
    "elderly_institution", "public_cemetery", "funeral_service_station", "minor_protection_station",
    "social_work_station", "volunteer_service_point",
}

USER_TYPE = """
[attributes.counters]
dtype = "int"
min = 0
aliases = ["窗口数"]

[[type]]
id = "rescue_station"
name_zh = "救助管理站"
name_en = "Rescue station"
coverage = ["network", "administrative"]
admin_level = "township"
profile = "walk"
max_minutes = 20
required = ["facility_id", "name", "code12"]
optional = ["counters"]
plan_rows = ["永川 专栏2"]
"""


def test_all_domain_types_present(catalogue) -> None:
    assert set(catalogue.types) == DOMAIN_TYPES
    cem = catalogue.get_type("public_cemetery")
    assert (cem.admin_level, cem.admin_scope, cem.coverage) == ("township", "towns", ("administrative",))
    assert catalogue.get_type("funeral_service_station").min_population == 50_000
    assert catalogue.get_type("elderly_day_care").profile == "elderly_walk"
    assert catalogue.profiles["walk"].speed_m_per_min == pytest.approx(4000 / 60, rel=1e-4)
    assert catalogue.profiles["elderly_walk"].speed_m_per_min == pytest.approx(3600 / 60)
    assert "永川 专栏1 #12" in cem.plan_rows
    inst = catalogue.get_type("elderly_institution")
    assert {"beds", "nursing_beds", "operator"} <= set(inst.required)
    assert catalogue.attributes["operator"].values["公建民营"] == "private"
    assert "建筑面积(m2)" in catalogue.attributes["floor_area_m2"].aliases


def test_user_file_adds_a_type(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(USER_TYPE, encoding="utf-8")
    cat = load_catalogue(path)
    t = cat.get_type("rescue_station")
    assert (t.name_zh, t.max_minutes, t.layer_name) == ("救助管理站", 20.0, "facilities_rescue_station")
    assert len(cat.types) == len(DOMAIN_TYPES) + 1
    out = CliRunner().invoke(cli, ["types", "show", "rescue_station", "--catalogue", str(path)])
    assert out.exit_code == 0
    assert "窗口数" in out.output


@pytest.mark.parametrize(("text", "match"), [
    ('[[type]]\nid = "Bad-Id"\n', "lower_snake_case"),
    ('[[type]]\nid = "x"\nname_zh = "甲"\nname_en = "x"\ncoverage = ["teleport"]\n', "coverage"),
    ('[[type]]\nid = "x"\nname_zh = "甲"\nname_en = "x"\ncoverage = ["network"]\nadmin_level = "township"\n'
     'required = ["facility_id", "name", "colour"]\n', "attribute `colour` is not defined"),
    ("[attributes.a]\ndtype = \"complex\"\n", "dtype"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_user_catalogue(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_catalogue(path)


def test_unknown_type_lists_known(catalogue) -> None:
    with pytest.raises(ConfigError, match="public_cemetery"):
        catalogue.get_type("cinema")


def test_normalise_header() -> None:
    assert normalise_header(" 建筑面积（㎡） ") == "建筑面积(m2)"
    assert normalise_header("Floor Area") == "floorarea"


def test_metric_inputs_and_host_relations_come_from_the_toml(catalogue) -> None:
    assert catalogue.get_type("volunteer_service_point").host == "community_service_centre"
    assert catalogue.get_type("community_service_centre").host is None
    assert catalogue.get_type("community_service_centre").metrics == ("floor_area_compliance", "floor_area_per_100hh")
    fed = {m.value: t.id for m in Metric if (t := catalogue.metric_type(m)) is not None}
    assert fed == {"floor_area_compliance": "community_service_centre", "floor_area_per_100hh": "community_service_centre",
                   "host_share": "volunteer_service_point", "nursing_bed_share": "elderly_institution",
                   "government_bed_share": "elderly_institution", "quality_share": "elderly_institution"}
    assert catalogue.metric_type(Metric.ADMIN_SHARE) is None  # takes the indicator row's `type`
    assert (catalogue.host_depth("volunteer_service_point"), catalogue.host_depth("public_cemetery")) == (1, 0)
    assert catalogue.get_type("public_cemetery").admin_scope is Scope.TOWNS
    assert catalogue.get_type("public_cemetery").admin_level is Level.TOWNSHIP


TYPE_HEAD = '[[type]]\nid = "meal_point"\nname_zh = "老年助餐点"\nname_en = "Meal point"\ncoverage = ["administrative"]\n'


@pytest.mark.parametrize(("text", "match"), [
    (TYPE_HEAD + 'admin_level = "county"\nrequired = ["facility_id", "name", "code12"]\n',
     r"meal_point`: `admin_level` must be one of township, village \(got 'county'\)"),
    (TYPE_HEAD + 'admin_level = "township"\nadmin_scope = "cities"\nrequired = ["facility_id", "name", "code12"]\n',
     r"`admin_scope` must be one of all, towns, streets, urban_communities, rural_villages \(got 'cities'\)"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12", "host_facility_id"]\n'
     'host = "canteen"\n',
     r"bad.toml: type `meal_point`: `host` 'canteen' is not a facility type; known types: community_service_centre"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12"]\n'
     'host = "community_service_centre"\n', "must list `host_facility_id`"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12", "host_facility_id"]\n'
     'host = "meal_point"\n', r"`host` must be the id of another facility type \(got 'meal_point'\)"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12"]\nmetrics = ["meals_served"]\n',
     r"`metrics` names 'meals_served'; a type may feed floor_area_compliance, floor_area_per_100hh, host_share, "
     r"nursing_bed_share, government_bed_share, quality_share"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12"]\nmetrics = ["admin_share"]\n',
     "the other metrics take the indicator row's `type`"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12", "floor_area_m2"]\n'
     'metrics = ["floor_area_per_100hh"]\n',
     "type `meal_point`: metric 'floor_area_per_100hh' is fed by type `community_service_centre` already"),
    (TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12", "host_facility_id"]\n'
     'host = "helper"\n\n[[type]]\nid = "helper"\nname_zh = "甲"\nname_en = "x"\ncoverage = ["administrative"]\n'
     'admin_level = "village"\nrequired = ["facility_id", "name", "code12", "host_facility_id"]\nhost = "meal_point"\n',
     r"its `host` relation returns to it \(meal_point -> helper -> meal_point\)"),
])
def test_bad_metric_inputs_and_hosts(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_catalogue(path)


def test_streets_scope_is_one_vocabulary_with_divisions(tmp_path: Path) -> None:
    """The catalogue accepts every scope `units_in_scope` knows (it lacked `streets` before)."""
    path = tmp_path / "mine.toml"
    path.write_text(TYPE_HEAD + 'admin_level = "township"\nadmin_scope = "streets"\n'
                    'required = ["facility_id", "name", "code12"]\n', encoding="utf-8")
    assert load_catalogue(path).get_type("meal_point").admin_scope is Scope.STREETS


def test_a_user_type_with_a_host_is_checked_against_it(store: Path, tmp_path: Path) -> None:
    """A new type hosted by community service centres, declared in a user catalogue only: its rows must name a
    centre of the workspace and carry its code, like volunteer points."""
    path = tmp_path / "mine.toml"
    path.write_text(TYPE_HEAD + 'admin_level = "village"\nrequired = ["facility_id", "name", "code12", '
                    '"host_facility_id"]\nhost = "community_service_centre"\n', encoding="utf-8")
    centre = pyogrio.read_dataframe(FACILITIES, layer="community_service_centre").iloc[0]
    ledger = tmp_path / "meals.csv"
    where = f"{centre['code12']},{centre.geometry.x:.6f},{centre.geometry.y:.6f}"
    ledger.write_text(f"facility_id,name,code12,lon,lat,host_facility_id\nM1,甲,{where},CSC-9999\n"
                      f"M2,乙,{where},{centre['facility_id']}\n", encoding="utf-8")
    args = ["layers", "import", str(ledger), "--kind", "facilities", "--type", "meal_point", "--crs", "4326",
            "--catalogue", str(path), "-w", str(store)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "1 problem found" in result.output
    assert ("row 2, field `host_facility_id`: host 'CSC-9999' is not a community service centre in this workspace. "
            "Fix: give the facility_id of the hosting 城乡社区综合服务设施.") in result.output
    ledger.write_text(f"facility_id,name,code12,lon,lat,host_facility_id\nM2,乙,{where},{centre['facility_id']}\n",
                      encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("extra", "match"), [
    ('metrics = ["floor_area_compliance"]\n',
     "metric 'floor_area_compliance' reads floor_area_m2; add floor_area_m2 to `required` or `optional`"),
    ('optional = ["beds"]\nmetrics = ["quality_share"]\n',
     "metric 'quality_share' reads beds, nursing_beds, operator, quality_ok; add nursing_beds, operator, quality_ok"),
    ('optional = ["host_facility_id"]\nmetrics = ["host_share"]\n',
     "metric 'host_share' counts the hosts of this type's facilities; give the type a `host`"),
])
def test_a_type_feeding_a_metric_declares_what_it_reads(tmp_path: Path, extra: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TYPE_HEAD.replace('"meal_point"', '"canteen"') + 'admin_level = "village"\n'
                    'required = ["facility_id", "name", "code12"]\n' + extra, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"bad.toml: type `canteen`: {match}"):
        load_catalogue(path)


def test_map_colour_and_glyph_come_from_the_catalogue(catalogue, tmp_path: Path) -> None:
    centre = catalogue.get_type("community_service_centre")
    assert (centre.colour, centre.glyph, centre.map_colour, centre.map_glyph) == ("#1565c0", "社", "#1565c0", "社")
    assert catalogue.get_type("public_cemetery").map_glyph == "墓"
    colours = {t.colour for t in catalogue.types.values()}
    assert len(colours) == len({t.glyph for t in catalogue.types.values()}) == len(DOMAIN_TYPES)  # all distinct
    assert not colours & set(MAP_PALETTE)  # so a user type's fallback colour never looks like a built-in type
    path = tmp_path / "mine.toml"
    path.write_text(USER_TYPE, encoding="utf-8")  # rescue_station: no colour, no glyph
    rescue = load_catalogue(path).get_type("rescue_station")
    assert (rescue.colour, rescue.glyph) == (None, None)
    assert rescue.map_colour == "#5c6bc0" == MAP_PALETTE[zlib.crc32(b"rescue_station") % 8]  # on every load
    assert rescue.map_glyph == "救"  # the first character of 救助管理站
    path.write_text(USER_TYPE.replace('max_minutes = 20', 'max_minutes = 20\ncolour = "#ABCDEF"\nglyph = "救助"'),
                    encoding="utf-8")
    rescue = load_catalogue(path).get_type("rescue_station")
    assert (rescue.map_colour, rescue.map_glyph) == ("#abcdef", "救助")


@pytest.mark.parametrize(("line", "match"), [
    ('colour = "blue"', r"`colour` must be a colour written #rrggbb.*got 'blue'"),
    ('colour = "#12345"', "`colour` must be a colour written #rrggbb"),
    ('colour = "#12345g"', "`colour` must be a colour written #rrggbb"),
    ("colour = 1193046", "`colour` must be a colour written #rrggbb"),
    ('glyph = ""', r"`glyph` must be one or two characters.*got ''"),
    ('glyph = "救助站"', "`glyph` must be one or two characters"),
    ('glyph = "救 "', "`glyph` must be one or two characters without spaces"),
    ("glyph = 7", "`glyph` must be one or two characters"),
])
def test_bad_map_colour_or_glyph_is_refused_with_file_and_type(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "styled.toml"
    path.write_text(USER_TYPE.replace("max_minutes = 20", f"max_minutes = 20\n{line}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"styled.toml: type `rescue_station`: {match}"):
        load_catalogue(path)
