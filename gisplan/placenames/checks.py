"""Name checks from the place-name regulations (《地名管理条例》 2022 and the long-standing rules it keeps).

Each rule returns rows of one problem table (:data:`PROBLEM_COLUMNS`) with a message that names the name,
the rule and the fix:

- ``重名`` (error): the same name (compared by :func:`gisplan.toponym.short_name`) as another current
  name with the same parent — villages and communities within one township, townships within one county,
  streets within one town. The same name under two parents (兴隆村村民委员会 in two townships) is allowed.
- ``同音`` (warning): the same pronunciation (toneless pinyin) as a sibling written differently.
- ``通名不符`` (error): a generic part that does not fit the category (a 社区 named …村; a 路 filed as 居民点).
- ``生僻字`` (warning): a character outside the 通用规范汉字表 (2013), 8,105 characters
  (``gisplan/data/hanzi``).
- ``人名`` (warning): the name contains a personal name from a user-supplied list.
- ``多音字`` (info): a character with more than one reading; check the pinyin.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import pandas as pd

from gisplan.placenames.pinyin import is_han
from gisplan.toponym import short_name, split_name
from gisplan.vocab import PlaceCategory, PlaceStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ALLOWED_GENERICS", "PROBLEM_COLUMNS", "check_names", "standard_characters"]

PROBLEM_COLUMNS = ("place_id", "name", "parent_id", "rule", "severity", "message")

#: Generic parts that fit each category (a modifier + one of these also fits: 后街, 东路).
ALLOWED_GENERICS: dict[PlaceCategory, frozenset[str]] = {
    PlaceCategory.ADMINISTRATIVE: frozenset({"省", "市", "区", "县", "自治县", "自治州", "镇", "乡", "街道", "开发区"}),
    PlaceCategory.SELF_GOVERNING: frozenset({"村民委员会", "居民委员会", "社区居民委员会", "村委会", "居委会", "社区",
                                             "村"}),
    PlaceCategory.STREET: frozenset({"大道", "大街", "胡同", "步行街", "环路", "路", "街", "巷", "道", "弄", "里"}),
    PlaceCategory.SETTLEMENT: frozenset({"村", "庄", "寨", "屯", "院子", "院", "湾", "坝", "坪", "场", "嘴", "岗", "垭",
                                         "坡", "沟", "塝", "堡", "坎", "小区", "花园", "家园", "新村", "公寓", "苑"}),
    PlaceCategory.TRANSPORT: frozenset({"立交桥", "大桥", "桥", "隧道", "客运站", "火车站", "汽车站", "车站", "站",
                                        "码头", "港", "机场", "渡口", "道", "路"}),
    PlaceCategory.WATER_POWER: frozenset({"水库", "水电站", "电站", "堰", "渠", "站"}),
    PlaceCategory.MEMORIAL: frozenset({"纪念馆", "纪念碑", "烈士陵园", "陵园", "故居", "遗址", "寺", "庙", "祠", "塔",
                                       "观", "阁", "亭", "碑", "牌坊"}),
    PlaceCategory.PARK: frozenset({"公园", "广场", "保护区"}),
    PlaceCategory.NATURAL: frozenset({"山", "峰", "岭", "岩", "洞", "河", "江", "溪", "湖", "池", "塘", "潭", "泉",
                                      "滩", "岛", "峡", "谷", "湾", "沟", "坝", "坡"}),
}
_COMMUNITY_GENERICS = frozenset({"居民委员会", "社区居民委员会", "居委会", "社区"})


@lru_cache(maxsize=1)
def standard_characters() -> frozenset[str]:
    """The 8,105 characters of the 通用规范汉字表 (2013), from ``gisplan/data/hanzi`` (see its README)."""
    text = resources.files("gisplan").joinpath("data/hanzi/tongyong_guifan_8105.txt").read_text(encoding="utf-8")
    return frozenset(text.split())


def _fits(generic: str, allowed: frozenset[str]) -> bool:
    return generic in allowed or (len(generic) == 2 and generic[1:] in allowed)


def _generic_problem(name: str, category: str) -> str | None:
    specific, generic = split_name(name)
    try:
        cat = PlaceCategory(category)
    except ValueError:
        return f"类别 {category!r} 不是地名分类之一（{'、'.join(c.value for c in PlaceCategory)}）"
    if cat == PlaceCategory.SELF_GOVERNING and generic in _COMMUNITY_GENERICS:
        stem = short_name(name).removesuffix("社区")
        if stem.endswith("村") and not stem.endswith("新村"):  # 新村 is a residential-area name, not a village
            return (f"“{name}”是社区（居民委员会），专名却以“村”结尾：社区不以村命名，"
                    f"请改用社区名（如“{stem[:-1]}社区”），或按村民委员会申报")
    allowed = ALLOWED_GENERICS.get(cat)
    if allowed is None:
        return None
    if not generic:
        return f"“{name}”没有可识别的通名；{cat.value}的通名应为{'、'.join(sorted(allowed, key=len))}之一"
    if not _fits(generic, allowed):
        return (f"“{name}”的通名“{generic}”与类别“{cat.value}”不符；应为{'、'.join(sorted(allowed, key=len))}"
                f"之一，或改正类别")
    del specific
    return None


def check_names(
    candidates: pd.DataFrame,
    register: pd.DataFrame,
    *,
    personal_names: Iterable[str] = (),
) -> pd.DataFrame:
    """Check names against the register and the rules in the module docstring.

    Parameters
    ----------
    candidates : pandas.DataFrame
        ``place_id``, ``standard_name``, ``category``, ``parent_id``, ``short_name``, ``pinyin_key`` and
        ``pinyin_review`` (see :func:`gisplan.placenames.register.name_fields`): names being applied for, or
        the register itself.
    register : pandas.DataFrame
        The register (only current names count as siblings).
    personal_names : iterable of str
        Personal names to flag (a user's list, e.g. of leaders; two characters or more).

    Returns
    -------
    pandas.DataFrame
        :data:`PROBLEM_COLUMNS`, one row per problem, sorted by place and rule.
    """
    cand = candidates.reset_index(drop=True)
    current = register[register["status"] == PlaceStatus.CURRENT.value]
    siblings = current[["place_id", "standard_name", "parent_id", "short_name", "pinyin_key"]].rename(
        columns={"place_id": "other_id", "standard_name": "other_name"})
    cols = ["place_id", "standard_name", "parent_id", "short_name", "pinyin_key"]
    found: list[pd.DataFrame] = []

    same = cand[cols].merge(siblings.drop(columns=["pinyin_key"]), on=["parent_id", "short_name"])
    same = same[same["place_id"] != same["other_id"]]
    found.append(_problems(same, "重名", "error", lambda r: (
        f"“{r.standard_name}”与同一上级（{r.parent_id}）下的“{r.other_name}”（{r.other_id}）重名；"
        "同一乡镇内的村和社区、同一区县内的乡镇、同一镇内的街路巷不应重名，请另取专名")))

    homo = cand[cols].merge(siblings.drop(columns=["short_name"]).rename(columns={}), on=["parent_id", "pinyin_key"])
    homo = homo.merge(siblings[["other_id", "short_name"]].rename(columns={"short_name": "other_short"}),
                      on="other_id")
    homo = homo[(homo["place_id"] != homo["other_id"]) & (homo["short_name"] != homo["other_short"])]
    found.append(_problems(homo, "同音", "warning", lambda r: (
        f"“{r.standard_name}”与同一上级（{r.parent_id}）下的“{r.other_name}”（{r.other_id}）同音"
        f"（{r.pinyin_key}）；同一区域内应避免同音地名，请复核")))

    generic = [_generic_problem(str(n), str(c)) for n, c in zip(cand["standard_name"], cand["category"], strict=True)]
    wrong = cand.assign(message=pd.Series(generic, index=cand.index, dtype=object))
    wrong = wrong[wrong["message"].notna()]
    found.append(wrong.assign(rule="通名不符", severity="error", name=wrong["standard_name"]))

    table = standard_characters()
    rare = [[ch for ch in dict.fromkeys(str(n)) if is_han(ch) and ch not in table] for n in cand["standard_name"]]
    has_rare = cand.assign(chars=pd.Series(rare, index=cand.index, dtype=object))
    has_rare = has_rare[has_rare["chars"].map(len) > 0]
    found.append(has_rare.assign(rule="生僻字", severity="warning", name=has_rare["standard_name"], message=[
        f"“{n}”含有《通用规范汉字表》（2013）以外的字：{'、'.join(c)}；地名应避免生僻字、异体字和繁体字"
        for n, c in zip(has_rare["standard_name"], has_rare["chars"], strict=True)]))

    people = [p.strip() for p in personal_names if len(p.strip()) >= 2]
    if people:
        hits = [[p for p in people if p in str(n)] for n in cand["standard_name"]]
        named = cand.assign(hits=pd.Series(hits, index=cand.index, dtype=object))
        named = named[named["hits"].map(len) > 0]
        found.append(named.assign(rule="人名", severity="warning", name=named["standard_name"], message=[
            f"“{n}”含有名单中的人名：{'、'.join(h)}；地名一般不以人名命名，禁止以国家领导人的名字命名，请复核"
            for n, h in zip(named["standard_name"], named["hits"], strict=True)]))

    if "pinyin_review" in cand:
        poly = cand[cand["pinyin_review"].notna() & cand["pinyin_review"].astype(str).ne("")]
        pinyin_text = poly["pinyin"] if "pinyin" in poly else pd.Series("", index=poly.index)
        found.append(poly.assign(rule="多音字", severity="info", name=poly["standard_name"], message=[
            f"“{n}”含多音字 {c}，拼音为 {p}，请核对读音" for n, c, p in
            zip(poly["standard_name"], poly["pinyin_review"], pinyin_text, strict=True)]))

    parts = [f.assign(name=f["name"] if "name" in f else f["standard_name"])[list(PROBLEM_COLUMNS)]
             for f in found if len(f)]
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in PROBLEM_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["place_id", "rule"], kind="stable").reset_index(drop=True)


def _problems(pairs: pd.DataFrame, rule: str, severity: str, message: object) -> pd.DataFrame:
    if pairs.empty:
        return pairs
    text = [message(r) for r in pairs.itertuples(index=False)]  # type: ignore[operator]
    return pairs.assign(rule=rule, severity=severity, name=pairs["standard_name"], message=text)
