"""The Chinese interface reaches the messages built from values (issue 13 item 5): under `--lang zh` a bad ledger
and a bad scenario are reported in Chinese with the file, row and field; the same input under `--lang en` keeps
the English text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd
from click.testing import CliRunner

from gisplan.cli.main import cli
from tests.conftest import LAYERS, sha256

if TYPE_CHECKING:
    from pathlib import Path

DAY_CARE = ("--kind", "facilities", "--type", "elderly_day_care", "--crs", "gcj02")

#: a wrong field value, a duplicate id, degrees-minutes-seconds with 75 minutes, longitude and latitude swapped
BAD_LEDGER = ("facility_id,name,lon,lat,floor_area_m2\n"
              "F1,养老站甲,105.93,29.36,abc\n"
              "F1,养老站乙,105.93,29.36,300\n"
              "F3,养老站丙,105°75′10″,29.35,200\n"
              "F4,养老站丁,29.35,105.92,200\n")


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_bad_ledger_in_chinese_names_file_row_and_field(store: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "台账.csv"
    ledger.write_text(BAD_LEDGER, encoding="utf-8")
    before = sha256(store)
    code, out = _run(["--lang", "zh", "layers", "import", str(ledger), *DAY_CARE, "-w", str(store)])
    assert code == 1
    assert "错误：发现 5 个问题；未写入任何内容：" in out
    assert ("台账.csv，第 2 行，字段 `floor_area_m2`: 'abc' 不是数字（应为 `floor_area_m2`，单位为 m2）。 修改方法： "
            "请填写纯数字，例如 350 或 350.5（后面可带单位 ㎡/m2/m²/平方米/平米）。") in out
    assert "台账.csv，第 3 行，字段 `facility_id`: 'F1' 已在第 2 行使用。 修改方法： 每行给一个不同的值。" in out
    assert ("台账.csv，第 4 行，字段 `lon`: '105°75′10″' 的分或秒达到 60 或以上（`lon` 应为度分秒，分、秒都小于 60）。"
            in out)
    assert "台账.csv，第 5 行，字段 `lon/lat`: 经度 29.35 与纬度 105.92 看起来写反了（中国位于东经 73–135°、北纬 18–54°）。" in out
    assert sha256(store) == before
    code, out = _run(["--lang", "en", "layers", "import", str(ledger), *DAY_CARE, "-w", str(store)])
    assert code == 1
    assert "台账.csv, row 2, field `floor_area_m2`: 'abc' is not a number (expected `floor_area_m2` in m2)." in out
    assert "台账.csv, row 3, field `facility_id`: 'F1' is used already on row 2." in out
    assert "longitude 29.35 and latitude 105.92 look swapped" in out


def test_unknown_sheet_in_chinese_lists_the_sheets(store: Path, tmp_path: Path) -> None:
    book = tmp_path / "台账.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"facility_id": ["F1"], "name": ["甲"], "lon": [105.93], "lat": [29.36]}).to_excel(
            writer, sheet_name="日间照料", index=False)
        pd.DataFrame({"说明": ["x"]}).to_excel(writer, sheet_name="说明", index=False)
    code, out = _run(["--lang", "zh", "layers", "import", str(book), *DAY_CARE, "--sheet", "养老", "-w", str(store)])
    assert code == 1
    assert "台账.xlsx" in out
    assert "工作簿中没有工作表 '养老'（现有工作表：" in out
    assert "日间照料" in out
    assert "Traceback" not in out
    code, out = _run(["layers", "import", str(book), *DAY_CARE, "--sheet", "养老", "-w", str(store)])
    assert "the workbook has no sheet '养老' (sheets: " in out


SCENARIO = f"""[scenario]
name = "test"
district_code = "500118"
crs = "EPSG:32648"
workspace = "ws/yc.gpkg"
colour_scheme = "blue"

[[layer]]
kind = "gazetteer"
path = "{LAYERS / 'yongchuan_gazetteer.csv'}"

[[layer]]
kind = "townships"
path = "{LAYERS / 'yongchuan_boundaries.gpkg'}"
layer = "townships"
tolerence_m = 500

[[indicator]]
row = "1"
name_zh = "日间照料中心覆盖率"
metric = "admin_share"
type = "elderly_daycare"
"""


def test_bad_scenario_in_chinese_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "情景.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    code, out = _run(["--lang", "zh", "run", str(path), "--out", str(tmp_path / "out")])
    assert code == 1
    assert out.startswith("错误：情景文件中发现 2 个问题；未执行任何操作：")
    assert f"{path} [scenario]，第 6 行: 未知的键 `colour_scheme`。 修改方法： 请使用以下键：" in out
    assert f"{path} [[layer]] #2，第 16 行: 未知的键 `tolerence_m`。 修改方法： 是否应为 `tolerance_m`？" in out
    assert not (tmp_path / "ws").exists()
    assert not (tmp_path / "out").exists()
    code, out = _run(["--lang", "en", "run", str(path), "--out", str(tmp_path / "out")])
    assert code == 1
    assert f"{path} [scenario], line 6: unknown key `colour_scheme`. Fix: use some of " in out
    assert "did you mean `tolerance_m`?" in out


def test_unknown_facility_type_in_a_scenario_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "情景.toml"
    path.write_text(SCENARIO.replace('colour_scheme = "blue"\n', "").replace("tolerence_m = 500\n", ""),
                    encoding="utf-8")
    code, out = _run(["--lang", "zh", "run", str(path), "--out", str(tmp_path / "out")])
    assert code == 1
    assert (f"{path} [[indicator]] #1，第 20 行: `type` 'elderly_daycare' 不是设施目录中的设施类型。 "
            "修改方法： 请使用设施目录中的类型（") in out
    assert "elderly_day_care" in out  # the types to choose from
    assert not (tmp_path / "ws").exists()
    code, out = _run(["--lang", "en", "run", str(path), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "`type` 'elderly_daycare' is not a facility type of the catalogue." in out


def test_point_outside_the_district_in_chinese(store: Path, tmp_path: Path) -> None:
    """A point in 渝中 (about 45 km away) imported into 永川: where it lies, in metres, and the fix, in Chinese."""
    ledger = tmp_path / "台账.csv"
    ledger.write_text("facility_id,name,lon,lat\nF1,养老站甲,106.55,29.56\n", encoding="utf-8")
    code, out = _run(["--lang", "zh", "layers", "import", str(ledger), *DAY_CARE, "-w", str(store)])
    assert code == 1
    found = re.search(r"台账.csv，第 2 行，字段 `lon/lat`: 该点在永川区以外 ([\d,]+) 米，距镇街 \S+ [\d,]+ 米。 修改方法： "
                      r"该点偏离的距离远超坐标系偏移（300–500 米）所能解释的范围", out)
    assert found is not None, out
    assert 40_000 < int(found[1].replace(",", "")) < 50_000
    code, out = _run(["layers", "import", str(ledger), *DAY_CARE, "-w", str(store)])
    assert f"row 2, field `lon/lat`: the point lies {found[1]} m outside 永川区 and " in out
