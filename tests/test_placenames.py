"""The place-name register's pure parts: romanisation, name normalisation, name checks, search, QR codes."""

from __future__ import annotations

import struct
from pathlib import Path

import pandas as pd
import pytest
import segno

from gisplan.placenames import (
    build_index,
    check_names,
    places_from_gazetteer,
    qr_image,
    record_url,
    romanise,
    search,
    standard_characters,
)
from gisplan.placenames.register import name_fields
from gisplan.toponym import short_name, split_name
from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
GAZETTEER = ROOT / "layers" / "yongchuan_gazetteer.csv"


@pytest.fixture(scope="module")
def register() -> pd.DataFrame:
    return places_from_gazetteer(pd.read_csv(GAZETTEER, dtype=str), source="yongchuan_gazetteer.csv")


@pytest.mark.parametrize(("name", "category", "expected"), [
    ("中山路", "街路巷", "Zhongshan Lu"),                       # specific and generic apart, capitalised
    ("景山后街", "街路巷", "Jingshan Houjie"),                   # monosyllabic modifier joined to the generic
    ("中山东路", "街路巷", "Zhongshan Donglu"),
    ("王家庄", "居民点", "Wangjiazhuang"),                       # natural village: one word
    ("西安", None, "Xi'an"),                                     # apostrophe at an ambiguous syllable boundary
    ("天安门广场", "城市公园和自然保护地", "Tian'anmen Guangchang"),
    ("绿水村", "居民点", "Lüshuicun"),                            # ü kept
    ("女儿湖", "自然地理实体", "Nü'er Hu"),
    ("巴县", "行政区域", "Baxian"),                               # monosyllabic specific joined
    ("永川区", "行政区域", "Yongchuan Qu"),
    ("重庆市", "行政区域", "Chongqing Shi"),                      # phrase reading of 重
    ("朱龙花村村民委员会", "群众自治组织", "Zhulonghuacun Cunmin Weiyuanhui"),
    ("中山路社区居民委员会", "群众自治组织", "Zhongshanlu Shequ Jumin Weiyuanhui"),
    ("中山路街道", "行政区域", "Zhongshanlu Jiedao"),
])
def test_pinyin_follows_the_place_name_rules(name: str, category: str | None, expected: str) -> None:
    assert romanise(name, category=category).text == expected


def test_polyphonic_characters_are_flagged_for_review() -> None:
    assert romanise("长寿区").polyphonic == ("长",)
    assert romanise("重庆市").polyphonic == ("重",)
    assert romanise("中山路").polyphonic == ()  # 路 has one reading in the 通用规范汉字表
    r = romanise("朱龙花村")
    assert (r.toneless, r.initials, r.tone_marks) == ("zhulonghuacun", "zlhc", "zhū lóng huā cūn")


def test_the_shared_normalisation_matches_short_names() -> None:
    assert short_name("朱龙花村村民委员会") == short_name("朱龙花村") == "朱龙花村"
    assert short_name("中山路社区居民委员会") == short_name("中山路社区") == "中山路社区"
    assert short_name("三教村民委员会") == "三教村"
    assert split_name("凤凰大道") == ("凤凰", "大道")


def test_the_gazetteer_divisions_are_the_first_entries(register: pd.DataFrame) -> None:
    assert len(register) == 291
    row = register.set_index("place_id").loc["500118006200"]
    assert (row["standard_name"], row["category"], row["parent_id"], row["status"]) == (
        "朱龙花村村民委员会", "群众自治组织", "500118006000", "现行")
    assert row["pinyin"] == "Zhulonghuacun Cunmin Weiyuanhui"
    assert register.set_index("place_id").loc["500118102000", "category"] == "行政区域"


def _candidate(name: str, category: str, parent: str, place_id: str = "(new)") -> pd.DataFrame:
    return pd.DataFrame([name_fields(name, category) | {"place_id": place_id, "category": category,
                                                        "parent_id": parent}])


def test_the_real_register_has_no_duplicate_and_two_xinglong_villages_are_allowed(register: pd.DataFrame) -> None:
    xinglong = register[register["standard_name"] == "兴隆村村民委员会"]
    assert sorted(xinglong["parent_id"]) == ["500118003000", "500118104000"]  # two townships
    problems = check_names(register, register)
    assert not problems["rule"].eq("重名").any()
    assert not problems["place_id"].isin(xinglong["place_id"]).any() or set(
        problems.loc[problems["place_id"].isin(xinglong["place_id"]), "rule"]) <= {"多音字"}


def test_checks_catch_a_seeded_duplicate(register: pd.DataFrame) -> None:
    # 金龙村 already exists in 金龙镇 (500118102000): the short form is a duplicate too
    problems = check_names(_candidate("金龙村", "群众自治组织", "500118102000"), register)
    dup = problems[problems["rule"] == "重名"]
    assert dup["severity"].tolist() == ["error"]
    assert "金龙村村民委员会" in dup["message"].iloc[0]
    assert "500118102200" in dup["message"].iloc[0]
    # the same name in another township is allowed
    other = check_names(_candidate("金龙村", "群众自治组织", "500118003000"), register)
    assert not other["rule"].eq("重名").any()


def test_checks_catch_a_homophone(register: pd.DataFrame) -> None:
    problems = check_names(_candidate("金隆村", "群众自治组织", "500118102000"), register)
    homo = problems[problems["rule"] == "同音"]
    assert homo["severity"].tolist() == ["warning"]
    assert "金龙村村民委员会" in homo["message"].iloc[0]
    assert "jinlongcun" in homo["message"].iloc[0]


@pytest.mark.parametrize(("name", "category", "expected"), [
    ("红旗村社区", "群众自治组织", "社区不以村命名"),
    ("红旗村居民委员会", "群众自治组织", "社区不以村命名"),
    ("凤凰路", "居民点", "与类别“居民点”不符"),
    ("凤凰小区", "街路巷", "与类别“街路巷”不符"),
])
def test_checks_catch_a_wrong_generic_part(register: pd.DataFrame, name: str, category: str, expected: str) -> None:
    problems = check_names(_candidate(name, category, "500118001000"), register)
    wrong = problems[problems["rule"] == "通名不符"]
    assert wrong["severity"].tolist() == ["error"]
    assert expected in wrong["message"].iloc[0]


def test_fitting_generic_parts_pass(register: pd.DataFrame) -> None:
    for name, category in (("凤凰大道", "街路巷"), ("景山后街", "街路巷"), ("凤凰社区", "群众自治组织"),
                           ("桂花园新村社区", "群众自治组织"),
                           ("王家庄", "居民点"), ("凤凰湖", "自然地理实体")):
        problems = check_names(_candidate(name, category, "500118001000"), register)
        assert not problems["severity"].eq("error").any(), (name, problems)


def test_rare_characters_and_personal_names_are_flagged(register: pd.DataFrame) -> None:
    assert len(standard_characters()) == 8105
    problems = check_names(_candidate("峽谷路", "街路巷", "500118001000"), register)  # traditional 峽
    assert "峽" in problems.loc[problems["rule"] == "生僻字", "message"].iloc[0]
    people = check_names(_candidate("张三丰路", "街路巷", "500118001000"), register, personal_names=["张三丰"])
    assert people.loc[people["rule"] == "人名", "severity"].tolist() == ["warning"]


@pytest.fixture(scope="module")
def index(register: pd.DataFrame) -> object:
    return build_index(register)


@pytest.mark.parametrize(("query", "expected", "how"), [
    ("朱龙花村", "朱龙花村村民委员会", "name"),
    ("朱龙花村村民委员会", "朱龙花村村民委员会", "name"),
    ("zhulonghuacun", "朱龙花村村民委员会", "pinyin"),
    ("Zhū Lóng Huā Cūn", "朱龙花村村民委员会", "pinyin"),
    ("zhu1long2hua1", "朱龙花村村民委员会", "pinyin prefix"),
    ("zlhc", "朱龙花村村民委员会", "initials"),
    ("zhulonghau", "朱龙花村村民委员会", "pinyin near miss"),  # a typo
    ("朱龙华村", "朱龙花村村民委员会", "same sound 同音"),     # a homophone typo
    ("500118006200", "朱龙花村村民委员会", "code"),
])
def test_search_by_characters_pinyin_initials_and_code(index: object, query: str, expected: str, how: str) -> None:
    found = search(index, query, limit=5)  # type: ignore[arg-type]
    assert found["name"].iloc[0] == expected
    assert found["matched_by"].iloc[0] == how


def test_search_by_code_prefix_lists_a_township_and_its_villages(index: object) -> None:
    found = search(index, "500118102", limit=50)  # type: ignore[arg-type]
    assert found["code12"].iloc[0] == "500118102000"
    assert found["code12"].str.startswith("500118102").all()


def test_search_over_the_whole_chongqing_gazetteer() -> None:
    gazetteer = pd.read_csv(shared_data("gazetteer", "chongqing_500000_divisions_2023.csv"), dtype=str)
    assert len(gazetteer) == 12339
    big = build_index(gazetteer, name_column="name", id_column="code12")
    found = search(big, "zlhc", limit=5)
    assert found["code12"].tolist()[0] == "500118006200"


def test_qr_codes_link_to_the_public_record() -> None:
    url = record_url("http://dm.example.cn/places/{id}", "P000001")
    assert url == "http://dm.example.cn/places/P000001"
    assert record_url("https://dm.example.cn/places/", "500118006200") == "https://dm.example.cn/places/500118006200"
    png = qr_image(url)
    assert png.startswith(b"\x89PNG")
    # the image is the symbol of exactly this URL: version 3-M (29 modules) + 4-module border, 8 px a module
    symbol = segno.make(url, error="m", micro=False)
    assert (symbol.version, symbol.error) == (3, "M")
    width, height = struct.unpack(">II", png[16:24])
    assert width == height == (29 + 2 * 4) * 8
    svg = qr_image(url, kind="svg").decode()
    assert "<svg" in svg
