"""The suite's own rules: CI sets CI=true itself, and under it a missing peer library or data file fails
(never skips); no test module hides its tests behind a module-level importorskip."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, peer, shared_data

TESTS = ROOT / "tests"


def test_ci_run_exports_ci_true_before_the_readme_test_command(tmp_path: Path) -> None:
    """Run the real `.ci/run` in a copy whose `scripts/test.sh` only reports what it was given."""
    (tmp_path / ".ci").mkdir()
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts" / "test.sh").write_text('echo "CI=${CI:-unset} args=$*"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    out = subprocess.run(["bash", str(tmp_path / ".ci" / "run"), "-q"], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "CI=true args=-q"
    # and the README's test command is what it calls
    assert "bash scripts/test.sh" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_peer_or_data_file_fails_under_ci_and_skips_outside(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException],
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no_such_peer_library"):
        peer("no_such_peer_library")
    with pytest.raises(outcome, match="no_such_file"):
        shared_data("no_such_file.geojson")
    # a peer that is installed is returned
    assert peer("networkx").__name__ == "networkx"


def test_no_test_module_skips_itself_at_import() -> None:
    """A module-level importorskip (or skip) would skip every test of the module, even those needing no peer:
    peers are imported inside the tests that use them, with `tests.conftest.peer`."""
    offenders = []
    for path in sorted(TESTS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"importorskip", "skip"} and (
                    isinstance(node.value, ast.Name) and node.value.id == "pytest"):
                if path.name == "conftest.py" or path.name == Path(__file__).name:
                    continue
                offenders.append(f"{path.name}:{node.lineno} pytest.{node.attr}")
    assert offenders == []


def test_a_skip_under_ci_is_reported_as_a_failure(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever skips (a stray importorskip in a test or at module level, a skip mark), CI=true turns it into a
    failure, so that `pytest -rs` in CI never lists a skip."""
    pytester.makeconftest("from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport\n")
    pytester.makepyfile(
        test_in_test="import pytest\n\ndef test_a():\n    pytest.importorskip('no_such_peer_library')\n\n"
                     "@pytest.mark.skip(reason='x')\ndef test_b():\n    pass\n\ndef test_c():\n    pass\n",
        test_at_import="import pytest\npytest.importorskip('no_such_peer_library')\n\ndef test_d():\n    pass\n",
    )
    monkeypatch.setenv("CI", "true")
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_in_test.py").assert_outcomes(passed=1, failed=1, errors=1)
    at_import = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_at_import.py")
    at_import.assert_outcomes(errors=1)
    assert at_import.ret != 0
    monkeypatch.setenv("CI", "")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=3)
