"""A fresh clone, as anyone outside the team gets it: no ../shared beside it and no internet. The main job
(`scripts/demo.sh`: both scenarios) still exits 0, and the 15-minute rows are straight-line estimates, labelled
直线/straight-line in method and basis, status 参考, in the console and on the map, with one line saying how to
get network coverage."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pandas as pd
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.store import open_workspace
from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

HINT = "For network coverage: `gisplan roads fetch SCENARIO` when online"


def _fresh_clone(tmp_path: Path) -> Path:
    """The shipped scenarios and layers in a folder with no sibling `shared/`."""
    repo = tmp_path / "gisplan"
    for folder in ("scenarios", "layers"):
        shutil.copytree(ROOT / folder, repo / folder)
    assert not (tmp_path / "shared").exists()
    return repo


def test_main_job_on_a_fresh_clone_offline(tmp_path: Path) -> None:
    repo = _fresh_clone(tmp_path)
    runner = CliRunner()
    out = repo / "out" / "yongchuan"
    result = runner.invoke(cli, ["run", str(repo / "scenarios" / "yongchuan-2025.toml"), "--out", str(out),
                                 "--no-propose"])
    assert result.exit_code == 0, result.output
    assert "yongchuan_roadlinks_gcj02.geojson not found; using OpenStreetMap roads" in result.output
    assert "GISPLAN_OFFLINE is set, so OpenStreetMap roads are not downloaded" in result.output
    assert not open_workspace(repo / "work" / "yongchuan.gpkg").has_layer("roads")
    # one line with the way to network coverage, printed once
    assert result.output.count(HINT) == 1
    assert "直线 straight-line: 15分钟指标为直线估算（参考）" in result.output
    table = pd.read_csv(out / "indicators.csv").set_index("indicator_id")
    rows = table.loc[["YC-15MIN-CSC", "YC-15MIN-ELDERLY", "YC-15MIN-ELDERLY-HH"]]
    assert (rows["status"] == "参考").all()
    assert (rows["method"] == "straight-line").all()
    assert rows["source"].str.startswith("直线估算 straight-line estimate: share within 1000 m").all()
    assert rows["value"].between(0, 100, inclusive="neither").all()
    assert rows["meets_target"].isna().all()
    # never mixed: no network row, no gaps or proposals from the estimate
    units = pd.read_csv(out / "units.csv")
    assert set(units["method"]) == {"straight_line"}
    assert set(units["threshold_unit"]) == {"m"}
    assert pd.read_csv(out / "gaps.csv").empty
    assert table.loc["YC-1-06", "status"] == "未达标"  # the other rows are judged as before
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "直线服务半径（非路网，仅作粗略参考）" in html
    assert "15分钟指标为直线估算（参考），非路网覆盖；获取路网覆盖：联网时运行 gisplan roads fetch" in html

    zs = runner.invoke(cli, ["run", str(repo / "scenarios" / "zhushan-2025.toml"), "--out",
                             str(repo / "out" / "zhushan")])
    assert zs.exit_code == 0, zs.output
    assert "using OpenStreetMap roads" in zs.output  # 珠山 asks for OSM roads; offline it says why it has none
