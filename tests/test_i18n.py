"""The Chinese interface: the language chosen from --lang and the locale, the catalogue complete and compiled, --help,
error messages and the problem frames in Chinese, English kept."""

from __future__ import annotations

import importlib.util
import re
from typing import TYPE_CHECKING

import click.core
import click.exceptions
import pytest
from click.testing import CliRunner

from gisplan import i18n
from gisplan.cli.clicktext import click_gettext, install_click_catalogue
from gisplan.cli.main import cli
from gisplan.errors import ConfigFileError, Problem, SchemaError
from tests.conftest import ROOT, missing

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType


def _script() -> ModuleType:
    if importlib.util.find_spec("babel") is None:
        missing("babel is not installed (`bash scripts/setup.sh --test` installs it)")
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("env", "lang"), [
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "zh_TW.UTF-8"}, "zh"),
    ({"LC_MESSAGES": "zh_CN.GB18030"}, "zh"),
    ({"LANGUAGE": "zh_CN:en_US", "LANG": "C"}, "zh"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "POSIX"}, "en"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # LC_ALL wins over LANG, as in gettext
    ({}, "en"),
])
def test_language_from_the_locale(env: dict[str, str], lang: str) -> None:
    assert i18n.language_from_env(env) == lang


def test_use_language_returns_the_previous_and_refuses_unknown() -> None:
    before = i18n.use_language("zh")
    try:
        assert i18n._("Fix:") == "修改方法："
        assert i18n._("") == ""  # not the catalogue's header
        assert i18n.ngettext("{n} problem found; nothing was written:", "{n} problems found; nothing was written:",
                             3).format(n=3) == "发现 3 个问题；未写入任何内容："
    finally:
        assert i18n.use_language(before) == "zh"
    assert i18n._("Fix:") == "Fix:"
    with pytest.raises(ValueError, match="`lang` must be one of en, zh"):
        i18n.use_language("fr")


def test_catalogues_are_complete_and_compiled() -> None:
    """Every marked string, every problem's constant text and every --help text has its Chinese, and the shipped
    .mo is the compiled .po (scripts/i18n.py check; after changing a text: extract, translate, compile)."""
    assert _script().check() == []


def test_problem_frames_in_chinese() -> None:
    problem = Problem("台账.csv", 5, "经度", "the file does not exist.", "check the path.")
    assert str(problem) == "台账.csv, row 5, field `经度`: the file does not exist. Fix: check the path."
    before = i18n.use_language("zh")
    try:
        assert str(problem) == "台账.csv，第 5 行，字段 `经度`: 文件不存在。 修改方法： 请检查路径。"
        assert str(SchemaError([problem, problem])).startswith("发现 2 个问题；未写入任何内容：\n  - 台账.csv，第 5 行")
        assert str(ConfigFileError([Problem("a.toml [scenario]", 3, "crs", "x.", "y.")])).startswith(
            "情景文件中发现 1 个问题；未执行任何操作：\n  - a.toml [scenario]，第 3 行: x. 修改方法： y.")
    finally:
        i18n.use_language(before)


def _run(args: list[str], env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_help_in_chinese_by_option_and_by_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(["--lang", "zh", "--help"])
    assert code == 0
    assert out.startswith("用法： cli [OPTIONS] COMMAND [ARGS]...")  # CliRunner names the program `cli`
    assert "gisplan：区县民政局（民政局）设施覆盖与规划指标工具。" in out
    assert "选项:" in out
    assert "命令:" in out
    assert re.search(r"^  coverage +测算路网覆盖：每位居民到各类最近设施的分钟数。", out, re.MULTILINE)  # column width varies
    assert "显示本帮助并退出。" in out
    monkeypatch.delenv("GISPLAN_LANG")
    for env in ({"LANG": "zh_CN.UTF-8", "LC_ALL": None, "LANGUAGE": None, "LC_MESSAGES": None},):
        code, out, _ = _run(["coverage", "--help"], env=env)
        assert code == 0
        assert "测算路网覆盖：每位居民到各类最近设施的分钟数。" in out
        assert "[默认：walk]" in out
        assert "临时测算：道路线图层或 OSM 文件。" in out
    code, out, _ = _run(["coverage", "--help"], env={"LANG": "C.UTF-8", "LC_ALL": None, "LANGUAGE": None})
    assert "Measure network coverage: minutes from every resident" in out
    assert "[default: walk]" in out
    assert "测算" not in out


def test_every_command_help_in_chinese() -> None:
    """Each command's first help line is its Chinese one under --lang zh."""
    firsts = {
        ("run",): "导入并校验情景的全部图层", ("coverage",): "测算路网覆盖", ("propose",): "选择新站点",
        ("map",): "根据 --out 中 `gisplan run` 的结果绘制", ("export",): "为其他软件导出图层",
        ("layers", "import"): "校验 FILES 并导入工作库", ("layers", "list"): "列出工作库的图层",
        ("roads", "fetch"): "为 TARGET", ("types", "list"): "列出设施类型",
    }
    for path, first in firsts.items():
        code, out, _ = _run(["--lang", "zh", *path, "--help"])
        assert code == 0, out
        assert out.splitlines()[2].strip().startswith(first), (path, out.splitlines()[2])


def test_errors_in_chinese_and_english(tmp_path: Path) -> None:
    ledger = tmp_path / "台账.csv"
    ledger.write_text("name,lon,lat\n养老站,abc,29.3\n", encoding="utf-8")
    args = ["layers", "import", str(ledger), "--kind", "facilities", "--type", "elderly_day_care", "--crs", "gcj02",
            "-w", str(tmp_path / "w.gpkg")]
    code, _, err = _run(["--lang", "zh", *args])
    assert code == 1
    assert err.startswith("错误：发现 4 个问题；未写入任何内容：")
    assert "台账.csv: 工作库中没有区界，无法检查位置。 修改方法： 请先导入：`gisplan layers import <区界文件> --kind district`。" in err
    assert "台账.csv，第 2 行，字段 `lon`:" in err
    assert "Traceback" not in err
    assert not (tmp_path / "w.gpkg").exists()
    code, _, err = _run(args)
    assert code == 1
    assert err.startswith("error: 4 problems found; nothing was written:")
    assert "台账.csv: the workspace has no district outline, so locations cannot be checked. Fix: import it first" in err


def test_language_is_restored_after_a_command_and_bad_values_are_usage_errors() -> None:
    assert i18n.language() == "en"
    code, _, _ = _run(["--lang", "zh", "types", "list"])
    assert code == 0
    assert i18n.language() == "en"
    code, _, err = _run(["--lang", "fr", "types", "list"])
    assert code == 2
    assert "'fr' is not one of 'en', 'zh'" in err


def test_usage_errors_in_chinese() -> None:
    code, _, err = _run(["--lang", "zh", "propose"])
    assert code == 2
    assert "运行 'cli propose --help' 查看帮助。" in err
    assert err.rstrip().endswith("错误：请给出 -w 工作库及 --type、--p，或成本表：--costs、--demand、--candidates 和 --model。")
    code, _, err = _run(["--lang", "zh", "coverage", "--minutes", "-3"])
    assert code == 2
    assert "错误：'--minutes' 的值无效：-3.0 不在范围 0<x<=240 内。" in err  # click's own texts, from click.po
    code, _, err = _run(["--lang", "zh", "--bogus"])
    assert code == 2
    assert "错误：没有选项 '--bogus'。" in err
    assert "用法： cli [OPTIONS] COMMAND [ARGS]..." in err
    assert "运行 'cli --help' 查看帮助。" in err
    code, _, err = _run(["--lang", "zh", "layers", "import"])
    assert code == 2
    assert "错误：缺少参数 'FILES...'" in err
    assert "运行 'cli layers import --help' 查看帮助。" in err
    assert "Missing" not in err
    assert "Usage" not in err
    code, _, err = _run(["--lang", "zh", "types", "list", "extra"])
    assert code == 2
    assert "错误：多余的参数（extra），命令不接受它们" in err
    code, _, err = _run(["--lang", "zh", "--lang", "fr", "types", "list"])
    assert code == 2
    assert "错误：'--lang' 的值无效：'fr' 不是可选值之一：'en', 'zh'。" in err
    code, _, err = _run(["--lang", "zh", "layers", "import", "/nonexistent/台账.csv"])
    assert code == 2
    assert "错误：缺少选项 '--kind'. 可选：\n\tgazetteer," in err
    code, _, err = _run(["propose"])
    assert code == 2
    assert "Try 'cli propose --help' for help." in err
    assert "Error: give -w WORKSPACE with --type and --p" in err
    code, _, err = _run(["layers", "import"])
    assert code == 2
    assert "Error: Missing argument 'FILES...'." in err  # English stays click's English


def test_click_texts_in_help_in_chinese() -> None:
    """`gisplan --help` and `gisplan run --help` under zh: click's headings, usage and its own option help."""
    for path in ([], ["run"]):
        code, out, _ = _run(["--lang", "zh", *path, "--help"])
        assert code == 0, out
        assert out.startswith("用法： cli ")
        assert "\n选项:\n" in out
        assert "显示本帮助并退出。" in out
        for english in ("Usage:", "Options:", "Show this message and exit.", "Commands:"):
            assert english not in out, (path, english)
    code, out, _ = _run(["--lang", "zh", "--help"])
    assert "\n命令:\n" in out
    assert "显示版本并退出。" in out
    code, out, _ = _run(["--help"])
    assert "Usage: cli [OPTIONS] COMMAND [ARGS]..." in out
    assert "Show this message and exit." in out


def test_click_catalogue_is_installed_once_and_english_untouched() -> None:
    assert install_click_catalogue() == []  # the CLI's import did it
    assert click.core._ is click_gettext
    assert click.exceptions._("Missing argument") == "Missing argument"
    before = i18n.use_language("zh")
    try:
        assert click.exceptions._("Missing argument") == "缺少参数"
        assert click.exceptions.ngettext("Option {name!r} requires an argument.",
                                         "Option {name!r} requires {nargs} arguments.", 2) == "选项 {name!r} 需要 {nargs} 个值。"
    finally:
        i18n.use_language(before)
