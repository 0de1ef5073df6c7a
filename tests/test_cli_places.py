"""`gisplan places`, `history`, `undo`, `revert` end to end on the real 永川 gazetteer: the planner's session of
the README, every register edit undone to identical layers and redone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from gisplan.cli.main import cli
from gisplan.store import LayerWrite, Workspace, layer_hash, open_workspace

ROOT = Path(__file__).resolve().parents[1]
GAZETTEER = ROOT / "layers" / "yongchuan_gazetteer.csv"


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _hashes(ws: Workspace) -> dict[str, str | None]:
    return {name: layer_hash(ws.read(name)) for name in sorted(ws.layer_names())}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = open_workspace(tmp_path / "yc.gpkg")
    w.write([LayerWrite("gazetteer", "gazetteer", pd.read_csv(GAZETTEER, dtype=str))], action="import")
    result = _run("places", "import-gazetteer", "-w", str(w.label), "--user", "地名科", "--note", "区划入库")
    assert result.exit_code == 0, result.output
    assert "added 291 names" in result.output
    return w


def test_a_planners_session_every_step_undoes_exactly_and_redoes(ws: Workspace, tmp_path: Path) -> None:
    w = ["-w", ws.label]
    steps = [
        ["places", "add", "凤凰大道", "--category", "街路巷", "--parent", "500118001000", "--applicant", "中山路街道办",
         "--origin", "因凤凰湖得名", "--lon", "105.93", "--lat", "29.36", "--date", "2025-03-01"],
        ["places", "review", "A000001", "--reviewer", "地名科", "--date", "2025-03-05"],
        ["places", "approve", "A000001", "--note", "永川府地名〔2025〕3号", "--date", "2025-03-10"],
        ["places", "announce", "A000001", "--date", "2025-03-20"],
        ["places", "add", "朱龙村", "--category", "群众自治组织", "--parent", "500118006000", "--applicant", "来苏镇",
         "--rename", "500118006200"],
        ["places", "review", "A000002", "--reviewer", "地名科"],
        ["places", "approve", "A000002"],
        ["places", "add", "金隆村", "--category", "群众自治组织", "--parent", "500118102000", "--applicant", "金龙镇"],
        ["places", "reject", "A000003", "--reason", "与金龙村同音"],
        ["places", "retire", "500118003202", "--reason", "撤并入相邻村"],
        ["places", "edit", "500118102200", "--origin", "因金龙山得名", "--lon", "105.80", "--lat", "29.30"],
        ["places", "signs", "add", "P000001", "--type", "街路巷标志", "--installed", "2025-06-01"],
    ]
    for step in steps:
        before = _hashes(ws)
        result = _run(*step, *w)
        assert result.exit_code == 0, (step, result.output)
        after = _hashes(ws)
        assert after != before, step
        undone = _run("undo", *w, "--user", "李四")
        assert undone.exit_code == 0, undone.output
        assert _hashes(ws) == before, step  # exactly the layers before the step
        redo = _run("revert", str(ws.revision()), *w)
        assert redo.exit_code == 0, redo.output
        assert _hashes(ws) == after, step

    register = ws.read_table("places").set_index("place_id")
    assert register.loc["P000001", "standard_name"] == "凤凰大道"
    assert register.loc["P000001", "pinyin"] == "Fenghuang Dadao"
    assert register.loc["P000001", "announced_date"] == "2025-03-20"
    assert register.loc["500118006200", "standard_name"] == "朱龙村"
    historical = register[register["status"] == "历史"]
    assert set(historical["standard_name"]) == {"朱龙花村村民委员会", "兴隆村村民委员会"}
    apps = ws.read_table("place_applications").set_index("application_id")
    assert apps["stage"].to_dict() == {"A000001": "公告", "A000002": "批准", "A000003": "驳回"}
    assert apps.loc["A000003", "rejection_reason"] == "与金龙村同音"

    # history of one unit says who, when, why
    hist = _run("history", "--unit", "500118006200", "--layer", "places", *w)
    assert "朱龙花村村民委员会 → 朱龙村" in hist.output
    revs = ws.revisions().set_index("revision")
    assert "永川府地名〔2025〕3号" in set(revs["note"])
    assert "李四" in set(revs["user"])

    out = tmp_path / "lists"
    exported = _run("places", "export", "--out", str(out), *w)
    assert exported.exit_code == 0, exported.output
    standard = pd.read_excel(out / "标准地名录.xlsx", sheet_name="标准地名录", dtype=str)
    protected = pd.read_excel(out / "历史地名保护名录.xlsx", sheet_name="历史地名保护名录", dtype=str)
    assert len(standard) == 291 - 1 + 1  # 291 divisions, one retired, one new road
    assert "Fenghuang Dadao" in set(standard["汉语拼音"])
    assert set(protected["标准名称"]) == {"朱龙花村村民委员会", "兴隆村村民委员会"}
    assert "朱龙村（500118006200）" in set(protected["现名编号"])

    csv_out = _run("places", "export", "--out", str(out), "--format", "csv", *w)
    assert csv_out.exit_code == 0
    assert pd.read_csv(out / "标准地名录.csv", dtype=str)["区划代码"].notna().sum() == 290  # the new road has none

    qr = _run("places", "signs", "qr", "--out", str(tmp_path / "qr"), "--base-url", "http://dm.example.cn/places/{id}",
              *w)
    assert qr.exit_code == 0, qr.output
    signs = pd.read_csv(tmp_path / "qr" / "signs.csv", dtype=str)
    assert signs[["sign_id", "url", "qr_file"]].to_numpy().tolist() == [
        ["S000001", "http://dm.example.cn/places/P000001", "S000001_P000001.png"]]
    assert (tmp_path / "qr" / "S000001_P000001.png").read_bytes().startswith(b"\x89PNG")


def test_a_name_failing_its_checks_cannot_pass_review(ws: Workspace) -> None:
    w = ["-w", ws.label]
    added = _run("places", "add", "红旗村社区", "--category", "群众自治组织", "--parent", "500118001000",
                 "--applicant", "某街道", *w)
    assert added.exit_code == 0
    assert "社区不以村命名" in added.output
    before = _hashes(ws)
    review = CliRunner().invoke(cli, ["places", "review", "A000001", "--reviewer", "地名科", *w])
    assert review.exit_code == 1
    assert "fails the name checks" in review.output
    assert "places reject A000001" in review.output
    assert _hashes(ws) == before
    approve = CliRunner().invoke(cli, ["places", "approve", "A000001", *w])
    assert approve.exit_code == 1
    assert "at stage 申报; it cannot go to 批准" in approve.output


def test_search_and_show(ws: Workspace) -> None:
    found = _run("places", "search", "zlhc", "-w", ws.label)
    assert "朱龙花村村民委员会" in found.output
    shown = _run("places", "show", "500118006200", "-w", ws.label)
    assert "Zhulonghuacun Cunmin Weiyuanhui" in shown.output


def test_layers_show_as_of_and_diff(ws: Workspace) -> None:
    first = ws.revision()
    _run("places", "retire", "500118003202", "--reason", "撤并", "-w", ws.label)
    shown = _run("layers", "show", "places", "--as-of", str(first), "--limit", "0", "-w", ws.label)
    assert shown.exit_code == 0
    assert "历史" not in shown.output
    diff = _run("layers", "diff", "places", "--since", str(first), "-w", ws.label)
    assert "0 added, 1 changed, 0 removed (rows matched by place_id)" in diff.output
    assert "status: 现行 → 历史" in diff.output


def test_nothing_to_undo_and_a_conflicting_revert_exit_1(tmp_path: Path) -> None:
    empty = CliRunner().invoke(cli, ["undo", "-w", str(tmp_path / "none.gpkg")])
    assert empty.exit_code == 1
    assert "has no change to undo" in empty.output
