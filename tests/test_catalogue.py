"""The facility-type catalogue is data: every DOMAIN type is there, and users add types by file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from gisplan.catalogue import load_catalogue, normalise_header
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
