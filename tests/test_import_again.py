"""Importing a scenario again (issue 17): the same files, options and catalogue into a workspace that holds their
layers unchanged is recognised by a digest of the inputs and costs no validation and no write; any change — a
file's bytes, an option, the tolerance, or a later change of a layer they were checked against — imports again."""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING

import pandas as pd

from gisplan.catalogue import load_catalogue
from gisplan.config import load_scenario
from gisplan.store import LayerWrite, open_workspace
from gisplan.workflows import importing
from gisplan.workflows.importing import import_scenario, scenario_specs
from gisplan.workflows.importkey import inputs_key
from tests.conftest import LAYERS

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _scenario(tmp_path: Path, *, tolerance_m: int = 50) -> Path:
    if not (tmp_path / "gaz.csv").exists():
        shutil.copy(LAYERS / "yongchuan_gazetteer.csv", tmp_path / "gaz.csv")
    text = f"""[scenario]
name = "again"
district_code = "500118"
crs = "EPSG:32648"
workspace = "yc.gpkg"
tolerance_m = {tolerance_m}

[[layer]]
kind = "gazetteer"
path = "{tmp_path / 'gaz.csv'}"

[[layer]]
kind = "district"
path = "{LAYERS / 'yongchuan_boundaries.gpkg'}"
layer = "district"

[[layer]]
kind = "townships"
path = "{LAYERS / 'yongchuan_boundaries.gpkg'}"
layer = "townships"

[[indicator]]
row = "1"
name_zh = "未成年人保护工作站覆盖率"
metric = "admin_share"
type = "minor_protection_station"
"""
    path = tmp_path / "sc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_same_import_again_is_recognised_and_writes_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = load_catalogue()
    sc = load_scenario(_scenario(tmp_path))
    ws = open_workspace(tmp_path / "yc.gpkg")
    import_scenario(sc, ws, cat)
    assert ws.revision() == 1
    key = inputs_key(scenario_specs(sc, ws), catalogue=cat, tolerance_m=sc.tolerance_m, district_code="500118",
                     planning_crs="EPSG:32648")
    assert f'"inputs": "{key}"' in ws.revisions()["detail"].iloc[-1]
    validated: list[int] = []
    real = importing.validate_imports
    monkeypatch.setattr(importing, "validate_imports", lambda *a, **k: validated.append(1) or real(*a, **k))
    with caplog.at_level(logging.INFO, logger="gisplan.workflows.importing"):
        import_scenario(sc, ws, cat)
    assert ws.revision() == 1  # no revision, no write
    assert validated == []
    assert "as imported in revision 1 from the same files, options and catalogue" in caplog.text
    assert f"(inputs {key})" in caplog.text
    assert len(ws.changelog()) == 4  # init + the three layers of revision 1


def test_a_changed_file_option_or_context_layer_imports_again(tmp_path: Path) -> None:
    cat = load_catalogue()
    path = _scenario(tmp_path)
    ws = open_workspace(tmp_path / "yc.gpkg")
    import_scenario(load_scenario(path), ws, cat)
    # the tolerance is part of the inputs: a stricter one checks the layers again
    import_scenario(load_scenario(_scenario(tmp_path, tolerance_m=60)), ws, cat)
    assert ws.revision() == 2
    import_scenario(load_scenario(_scenario(tmp_path, tolerance_m=60)), ws, cat)
    assert ws.revision() == 2
    # a file's bytes: one more line at the end of the gazetteer (a new village)
    gaz = pd.read_csv(tmp_path / "gaz.csv", dtype=str)
    village = gaz[~gaz["code12"].str.endswith("000")].iloc[-1].copy()
    village["code12"] = village["code12"][:9] + "999"
    village["name"] = "新建社区居民委员会"
    pd.concat([gaz, village.to_frame().T]).to_csv(tmp_path / "gaz.csv", index=False)
    sc = load_scenario(_scenario(tmp_path, tolerance_m=60))
    import_scenario(sc, ws, cat)
    assert ws.revision() == 3
    assert "新建社区居民委员会" in set(ws.read_table("gazetteer")["name"])
    # a layer the files were checked against changed since (a hand edit of the gazetteer): imported again
    edited = ws.read_table("gazetteer")
    edited.loc[0, "name"] = "改过的名字"
    ws.write([LayerWrite("gazetteer", "gazetteer", edited)], action="edit")
    assert ws.revision() == 4
    import_scenario(sc, ws, cat)
    assert ws.revision() == 5
    assert "改过的名字" not in set(ws.read_table("gazetteer")["name"])
    # a result layer written since is no reason to import again
    ws.write([LayerWrite("scratch", "result", pd.DataFrame({"n": [1]}))], action="coverage")
    import_scenario(sc, ws, cat)
    assert ws.revision() == 6
    ws.undo()  # takes back the result layer
    import_scenario(sc, ws, cat)
    assert ws.revision() == 7
    # undoing the import brings its layers back to an older state: imported again
    ws.undo()
    assert ws.revisions()["undoes"].iloc[-1] == 5
    import_scenario(sc, ws, cat)
    assert ws.revision() == 9
