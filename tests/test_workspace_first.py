"""Workspace-first commands: `coverage`, `propose` and `map` on a workspace's imported layers with -w and
--type/--p/--minutes, no scenario file; and the CSVs written for people in Chinese (headers, rounding, type names)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.i18n import use_language
from gisplan.outputs.people import for_people
from gisplan.store import open_workspace
from gisplan.workflows.workspace import workspace_scenario
from tests.conftest import ROOT, shared_data

if TYPE_CHECKING:
    from pathlib import Path

    from gisplan.catalogue import Catalogue


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 永川 demo's layers (real roads) imported into a workspace by a scenario run once."""
    shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    tmp = tmp_path_factory.mktemp("wsfirst")
    store = tmp / "yc.gpkg"
    result = CliRunner().invoke(cli, ["-q", "coverage", str(ROOT / "scenarios" / "yongchuan-2025.toml"), "-w",
                                      str(store), "--type", "elderly_day_care", "--no-polygons",
                                      "--out", str(tmp / "first")])
    assert result.exit_code == 0, result.output
    return store


@pytest.fixture
def store(imported: Path, tmp_path: Path) -> Path:
    path = tmp_path / "yc.gpkg"
    shutil.copyfile(imported, path)
    return path


def test_workspace_scenario_from_the_workspace(store: Path, catalogue: Catalogue) -> None:
    sc = workspace_scenario(open_workspace(store), catalogue)
    assert sc.district_code == "500118"
    assert sc.name == "永川区 (yc.gpkg)"
    assert sc.crs == "EPSG:32648"  # UTM 48N, estimated from the boundaries
    assert sc.layers == ()
    ids = [s.indicator_id for s in sc.indicators]
    assert "WS-elderly_day_care" in ids
    assert "WS-community_service_centre" in ids
    day_care = next(s for s in sc.indicators if s.indicator_id == "WS-elderly_day_care")
    assert (day_care.minutes, day_care.name_zh) == (15.0, "社区养老服务站15分钟覆盖率（常住人口）")


def test_coverage_with_a_workspace_only_in_both_languages(store: Path, tmp_path: Path) -> None:
    args = ["coverage", "-w", str(store), "--type", "elderly_day_care", "--minutes", "10", "--no-polygons"]
    en = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "en")])
    assert en.exit_code == 0, en.output
    assert "社区养老服务站" in en.output
    units = pd.read_csv(tmp_path / "en" / "coverage_units.csv", dtype={"code12": str})
    assert set(units["facility_type"]) == {"elderly_day_care"}
    assert set(units["threshold"]) == {5.0, 10.0, 15.0, 20.0}
    district = units[units["level"] == "district"].set_index("threshold")
    assert district.loc[15.0, "population"] == pytest.approx(1_148_896)
    zh = CliRunner().invoke(cli, ["--lang", "zh", *args, "--out", str(tmp_path / "zh")])
    assert zh.exit_code == 0, zh.output
    assert "用时" in zh.stderr
    people = pd.read_csv(tmp_path / "zh" / "coverage_units.csv", dtype={"区划代码": str})
    assert list(people.columns[:4]) == ["层级", "区划代码", "名称", "设施类型"]
    assert set(people["设施类型"]) == {"社区养老服务站"}
    assert set(people["层级"]) == {"区", "镇街", "村（社区）"}
    assert set(people["示意数据"]) == {"是"}
    row = people[(people["层级"] == "区") & (people["阈值"] == 10.0)].iloc[0]
    en_row = district.loc[10.0]
    assert row["人口覆盖率（%）"] == round(100 * en_row["population_share"], 1)
    assert row["覆盖人口（人）"] == round(en_row["population_covered"])
    assert row["户数"] == 501_444
    assert row["人口（人）"] == 1_148_896
    # the GeoPackage and the workspace stay machine-readable
    ws = open_workspace(store)
    assert "population_share" in ws.read("coverage_units").columns


def test_propose_with_a_workspace_only(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "新增养老站.csv"
    result = CliRunner().invoke(cli, ["propose", "-w", str(store), "--type", "elderly_day_care", "--p", "2",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "社区养老服务站 (elderly_day_care): 2 new site(s) within 15 min; residents covered 4.4% →" in result.output
    sites = pd.read_csv(out)
    assert sites["rank"].tolist() == [1, 2]
    assert (sites["population_added"] > 10_000).all()
    assert sites["population_added"].is_monotonic_decreasing  # phased order: the largest gain first
    assert set(sites["facility_type"]) == {"elderly_day_care"}
    zh = CliRunner().invoke(cli, ["--lang", "zh", "propose", "-w", str(store), "--type", "elderly_day_care",
                                  "--p", "2", "--out", str(tmp_path / "zh.csv")])
    assert zh.exit_code == 0, zh.output
    people = pd.read_csv(tmp_path / "zh.csv")
    assert people["新增覆盖人口（人）"].tolist() == [round(v) for v in sites["population_added"]]
    assert set(people["设施类型"]) == {"社区养老服务站"}


def test_map_with_a_workspace_only(store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-q", "map", "-w", str(store), "--out", str(tmp_path / "o"), "--no-propose"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "map.html").stat().st_size > 100_000
    table = pd.read_csv(tmp_path / "o" / "indicators.csv")
    assert "WS-elderly_day_care" in set(table["indicator_id"])


def test_workspace_first_usage_and_data_errors(store: Path, tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["coverage", "-w", str(tmp_path / "none.gpkg")])
    assert missing.exit_code == 1
    assert "does not exist; import its layers first" in missing.output
    assert not (tmp_path / "none.gpkg").exists()
    no_p = CliRunner().invoke(cli, ["propose", "-w", str(store), "--type", "elderly_day_care"])
    assert no_p.exit_code == 2
    assert "-w needs --type (the facility type) and --p" in no_p.output
    unknown = CliRunner().invoke(cli, ["propose", "-w", str(store), "--type", "nursing_home", "--p", "1"])
    assert unknown.exit_code == 1
    assert "unknown facility type `nursing_home`" in unknown.output
    bare = CliRunner().invoke(cli, ["map"])
    assert bare.exit_code == 2
    assert "give a SCENARIO, or -w WORKSPACE." in bare.output


def test_for_people_rounds_and_names() -> None:
    frame = pd.DataFrame({
        "level": ["district", "village"], "code12": ["500118000000", "500118001001"],
        "facility_type": ["elderly_day_care", "unknown_type"], "population": [1148895.9999, 10.4],
        "population_share": [0.043587, None], "minutes_elderly_day_care": [12.345, None],
        "covered": [True, False], "my_column": ["x", "y"],
    })
    names = {"elderly_day_care": "社区养老服务站"}
    assert for_people(frame, type_names=names, lang="en") is frame
    before = use_language("zh")
    try:
        out = for_people(frame, type_names=names)
    finally:
        use_language(before)
    assert list(out.columns) == ["层级", "区划代码", "设施类型", "人口（人）", "人口覆盖率（%）",
                                 "社区养老服务站：分钟", "是否覆盖", "my_column"]
    assert out["层级"].tolist() == ["区", "村（社区）"]
    assert out["区划代码"].tolist() == ["500118000000", "500118001001"]  # codes stay text
    assert out["设施类型"].tolist() == ["社区养老服务站", "unknown_type"]
    assert out["人口（人）"].tolist() == [1_148_896, 10]
    assert out["人口覆盖率（%）"].iloc[0] == 4.4
    assert pd.isna(out["人口覆盖率（%）"].iloc[1])
    assert out["社区养老服务站：分钟"].iloc[0] == 12.3
    assert out["是否覆盖"].tolist() == ["是", "否"]
    assert frame["population"].iloc[0] == 1148895.9999  # the input is not changed
    # `lang` chooses the labels whatever is spoken; flags in an object column; name_zh beside the named type dropped
    mixed = pd.DataFrame({"facility_type": ["public_cemetery"], "name_zh": ["城乡公益性安葬（放）设施"],
                          "meets_target": pd.Series([None], dtype=object),
                          "meets_standard": pd.Series([True], dtype=object),
                          "kind": ["rural"], "population_added": [2.5]})
    shown = for_people(mixed, type_names={"public_cemetery": "城乡公益性安葬（放）设施"}, lang="zh")
    assert shown.to_dict("records") == [{"设施类型": "城乡公益性安葬（放）设施", "是否达标": None, "是否达到配建标准": "是",
                                         "城乡类型": "农村", "新增覆盖人口（人）": 3}]  # 四舍五入: 2.5 → 3
