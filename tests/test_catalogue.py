"""The facility-type catalogue is data: every DOMAIN type is there, and users add types by file."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from gisplan.catalogue import MAP_PALETTE, load_catalogue, normalise_header
from gisplan.cli.main import cli
from gisplan.errors import ConfigError

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
