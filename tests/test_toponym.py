"""One name matcher (issue 13 item 1, issue 15 item 6): the rules of gisplan.toponym, and ledgers located and
matched through the workspace's place-name register (current and former names) or, without one, the gazetteer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.store import open_workspace
from gisplan.toponym import match_names, name_key, register_names, short_name, short_names, split_name
from gisplan.validation.locate import address_matches
from tests.conftest import LAYERS

if TYPE_CHECKING:
    from pathlib import Path

MPS = ("--kind", "facilities", "--type", "minor_protection_station", "--make-ids", "--locate-by-name")


@pytest.mark.parametrize(("written", "standard"), [
    ("胜利路街道办事处", "胜利路街道"), ("来苏镇人民政府", "来苏镇"), ("朱龙花村", "朱龙花村村民委员会"),
    ("中山路社区", "中山路社区居民委员会"), ("中山路社区居委会", "中山路社区居民委员会"),
    ("朱龙花村委会", "朱龙花村村民委员会"), ("朱龙花村村委会", "朱龙花村村民委员会"), ("三教村民委员会", "三教村"),
    ("桂山居委会", "桂山社区居民委员会"), ("Ｂ区社区", "B区社区居民委员会"),
])
def test_equivalent_forms_share_one_key(written: str, standard: str) -> None:
    assert name_key(written) == name_key(standard)
    assert short_name(written) == short_name(standard)


def test_short_names_of_a_series_keep_missing_and_index() -> None:
    s = pd.Series(["胜利路街道办事处", None, "朱龙花村村民委员会", "胜利路街道办事处"], index=[5, 6, 7, 8])
    out = short_names(s)
    assert out.tolist() == ["胜利路街道", None, "朱龙花村", "胜利路街道"]
    assert out.index.tolist() == [5, 6, 7, 8]


def test_split_name_keeps_the_generic_as_written_for_pinyin() -> None:
    assert split_name("兴隆村村民委员会") == ("兴隆村", "村民委员会")
    assert split_name("景山后街") == ("景山", "后街")


def test_xincun_is_a_community_core_not_a_village() -> None:
    """煤建新村 is the community 煤建新村社区居民委员会; 德新村 stays the village 德新村村民委员会."""
    units = pd.DataFrame({"code12": ["500103014001", "500102125219"],
                          "name": ["煤建新村社区居民委员会", "德新村村民委员会"]})
    found = match_names(pd.Series(["煤建新村", "德新村", "煤建新村社区", "新村"]), units)
    assert found.code12.tolist() == ["500103014001", "500102125219", "500103014001", None]


def _register() -> pd.DataFrame:
    return pd.DataFrame({"place_id": ["500118006200", "P000009", "500118006000"],
                         "standard_name": ["朱龙村", "朱龙花村村民委员会", "陈食街道"],
                         "code12": ["500118006200", None, "500118006000"],
                         "status": ["现行", "历史", "现行"],
                         "former_of": [None, "500118006200", None]})


def test_register_names_give_current_and_former_names() -> None:
    gaz = pd.DataFrame({"code12": ["500118006000", "500118006200"], "name": ["陈食街道", "朱龙花村村民委员会"]})
    names = register_names(gaz, _register()).set_index("name")
    assert names.loc["朱龙村", "code12"] == "500118006200"
    assert not names.loc["朱龙村", "former"]
    assert names.loc["朱龙花村村民委员会", "former"]  # the gazetteer's name is the register's former name
    assert names.loc["朱龙花村村民委员会", "current"] == "朱龙村"
    found = match_names(pd.Series(["朱龙村", "朱龙花村", "陈食街道办事处"]), register_names(gaz, _register()))
    assert found.code12.tolist() == ["500118006200", "500118006200", "500118006000"]
    assert found.former.tolist() == [None, "朱龙村", None]
    # without a register: the gazetteer alone, no notes, the new name unknown
    alone = match_names(pd.Series(["朱龙村", "朱龙花村"]), register_names(gaz, None))
    assert alone.code12.tolist() == [None, "500118006200"]
    assert alone.former.tolist() == [None, None]


def test_address_with_a_former_name_is_located_with_a_note() -> None:
    gaz = pd.DataFrame({"code12": ["500118006000", "500118006200"], "name": ["陈食街道", "朱龙花村村民委员会"]})
    addresses = pd.Series(["永川区陈食街道朱龙花村3组", "陈食街道朱龙村5组", "陈食街道朱龙村（原朱龙花村）"])
    found = address_matches(addresses, gaz, _register())
    assert found.code12.tolist() == ["500118006200"] * 3
    assert found.former.tolist() == ["朱龙村", None, None]  # the current name written too: no note
    assert address_matches(addresses, gaz).code12.tolist() == ["500118006200", "500118006000", "500118006200"]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_ledger_located_through_the_workspace_register(store: Path, tmp_path: Path) -> None:
    """A village renamed in the register (朱龙花村 → 朱龙村): a ledger with the new name and one with the old name are
    both located, the old one with a note; without the register the new name is unknown."""
    path = tmp_path / "stations.csv"
    path.write_text("站点名称,所属镇街,所属村社区,地址\n"
                    "甲站,陈食街道,朱龙村,\n"
                    "乙站,陈食街道,朱龙花村,\n"
                    "丙站,,,永川区陈食街道朱龙花村3组\n", encoding="utf-8")
    w = ("-w", str(store))
    code, output = _cli("layers", "import", str(path), *MPS, *w)
    assert code == 1  # the gazetteer alone does not know 朱龙村
    assert "朱龙村" in output
    for step in (("places", "import-gazetteer"),
                 ("places", "add", "朱龙村", "--category", "群众自治组织", "--parent", "500118006000",
                  "--applicant", "陈食街道", "--rename", "500118006200"),
                 ("places", "review", "A000001", "--reviewer", "地名科"), ("places", "approve", "A000001")):
        code, output = _cli(*step, *w)
        assert code == 0, (step, output)
    code, output = _cli("layers", "import", str(path), *MPS, *w)
    assert code == 0, output
    stored = open_workspace(store).read_layer("facilities_minor_protection_station")
    assert stored["code12"].tolist() == ["500118006000", "500118006000", "500118006200"]
    assert stored["location_precision"].tolist() == ["township"] * 3  # no village polygons in this workspace
    notes = stored["location_note"].tolist()
    assert notes[0] is None or pd.isna(notes[0])
    assert "朱龙花村 为历史地名，今 朱龙村" in notes[1]
    assert "今 朱龙村" in notes[2]
    # a later boundary import checks the layer again: its township codes agree with the villages named
    code, output = _cli("layers", "import", str(LAYERS / "yongchuan_boundaries.gpkg"), "--kind", "townships",
                        "--layer", "townships", *w)
    assert code == 0, output
