"""Place-name text and the one name matcher (tier 0): the register, the ledger checks and address location all
compare names through this module.

A Chinese place name is a specific part (专名) plus a generic part (通名): 中山 + 路, 兴隆 + 村民委员会,
朱龙花村 + 村民委员会. :func:`split_name` finds the generic part as written (the longest known one at the end,
with a monosyllabic modifier such as 后 in 景山后街 joined to it: the register's fields and the pinyin rules);
:func:`short_name` is the form people write (朱龙花村 for 朱龙花村村民委员会, 胜利路街道 for 胜利路街道办事处,
来苏镇 for 来苏镇人民政府: the register's ``short_name`` and its duplicate check); :func:`division_parts` and
:func:`name_key` reduce a division name to its core and canonical generic (朱龙花 + 村), and :func:`match_names`
looks names up among units by the standard name, else the key, else the bare core — over every name a unit has
had when given the register's historical names (:func:`register_names`).

Examples
--------
>>> short_name("朱龙花村村民委员会"), short_name("胜利路街道办事处"), short_name("来苏镇人民政府")
('朱龙花村', '胜利路街道', '来苏镇')
>>> name_key("朱龙花村") == name_key("朱龙花村村委会"), name_key("XX社区") == name_key("XX社区居民委员会")
(True, True)

Pure functions on strings and Series, no I/O: usable from every tier.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.vocab import PlaceStatus

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "COMMITTEE_SUFFIXES",
    "DIVISION_GENERICS",
    "GENERIC_PARTS",
    "MODIFIERS",
    "OFFICE_SUFFIXES",
    "NameMatch",
    "clean_name",
    "division_parts",
    "match_names",
    "match_units",
    "name_key",
    "name_keys",
    "name_suggestions",
    "register_names",
    "short_name",
    "short_names",
    "split_name",
]

#: Known generic parts (通名), any category; the longest match at the end of a name wins.
GENERIC_PARTS = (
    # administrative areas and self-governing organisations
    "社区居民委员会", "村民委员会", "居民委员会", "村委会", "居委会", "自治县", "自治州", "街道办事处", "街道", "社区",
    "开发区", "管委会", "省", "市", "区", "县", "镇", "乡", "村",
    # streets and roads
    "大道", "大街", "胡同", "步行街", "环路", "路", "街", "巷", "道", "弄", "里",
    # settlements
    "小区", "花园", "家园", "新村", "公寓", "苑", "庄", "寨", "屯", "院子", "院", "湾", "坝", "坪", "场", "嘴",
    "岗", "垭", "坡", "沟", "塝", "堡", "坎",
    # transport, water and power
    "立交桥", "大桥", "桥", "隧道", "客运站", "火车站", "汽车站", "车站", "站", "码头", "港", "机场", "渡口",
    "水库", "水电站", "电站", "堰", "渠",
    # memorials and historic sites
    "纪念馆", "纪念碑", "烈士陵园", "陵园", "故居", "遗址", "寺", "庙", "祠", "塔", "观", "阁", "亭", "碑", "牌坊",
    "公园", "广场",
    # natural features
    "山", "峰", "岭", "岩", "洞", "河", "江", "溪", "湖", "池", "塘", "潭", "泉", "滩", "岛", "峡", "谷",
)
_BY_LENGTH = tuple(sorted(set(GENERIC_PARTS), key=len, reverse=True))

#: Monosyllabic modifiers joined to a one-character generic part (景山后街 → 景山 + 后街 → Jingshan Houjie).
MODIFIERS = frozenset("东西南北中前后上下大小新老正横内外")
_MODIFIABLE = frozenset("路街巷道里弄")

#: What names the office of a unit rather than the unit (胜利路街道办事处, 来苏镇人民政府), longest first.
OFFICE_SUFFIXES = ("人民政府", "办事处", "管委会", "党工委", "工作站", "政府")
#: Committee suffixes and the short form they leave (朱龙花村村民委员会 → 朱龙花村, 中山路社区居民委员会 → 中山路社区).
COMMITTEE_SUFFIXES = (("社区居民委员会", "社区"), ("村民委员会", "村"), ("居民委员会", "社区"), ("村委会", "村"),
                      ("居委会", "社区"), ("村委", "村"), ("居委", "社区"))
#: The generic parts of division names, longest first; 居 is how a few ledgers shorten 社区.
DIVISION_GENERICS = ("民族乡", "街道", "社区", "村", "镇", "乡", "居")
_CANONICAL = {"居": "社区", "民族乡": "乡"}
_SPACE = re.compile(r"[\s\u3000]+")
_BRACKETS = re.compile(r"[(（][^)）]*[)）]")


def split_name(name: str) -> tuple[str, str]:
    """Split `name` into (specific part 专名, generic part 通名) as written; ``""`` as generic when none is known.

    Examples
    --------
    >>> split_name("中山路"), split_name("景山后街"), split_name("兴隆村村民委员会")
    (('中山', '路'), ('景山', '后街'), ('兴隆村', '村民委员会'))
    >>> split_name("西安"), split_name("永川区")
    (('西安', ''), ('永川', '区'))
    """
    text = _SPACE.sub("", name)
    for generic in _BY_LENGTH:
        if text.endswith(generic) and len(text) > len(generic):
            specific = text[: -len(generic)]
            if generic in _MODIFIABLE and len(specific) >= 3 and specific[-1] in MODIFIERS:
                return specific[:-1], specific[-1] + generic
            return specific, generic
    return text, ""


def clean_name(name: str) -> str:
    """NFKC (full-width letters and digits to half-width), no white space, no bracketed remarks (（原XX村）).

    Examples
    --------
    >>> clean_name(" 中山路社区（原中山村） "), clean_name("Ｂ区")
    ('中山路社区', 'B区')
    """
    text = unicodedata.normalize("NFKC", name)
    return _SPACE.sub("", _BRACKETS.sub("", text))


def short_name(name: str) -> str:
    """The short form people write for a name, and the comparison key of the register's duplicate check:
    :func:`clean_name`, office words dropped (胜利路街道办事处 → 胜利路街道, 来苏镇人民政府 → 来苏镇), committee
    suffixes reduced (朱龙花村村民委员会 → 朱龙花村, 三教村民委员会 → 三教村, XX社区居委会 → XX社区).

    Examples
    --------
    >>> short_name("朱龙花村村民委员会"), short_name(" 朱龙花村 "), short_name("三教村民委员会")
    ('朱龙花村', '朱龙花村', '三教村')
    >>> short_name("中山路社区居民委员会"), short_name("胜利路街道办事处"), short_name("Ｂ区")
    ('中山路社区', '胜利路街道', 'B区')
    >>> short_name("朱龙花村村委会"), short_name("煤建新村居委会"), short_name("三教镇")
    ('朱龙花村', '煤建新村社区', '三教镇')
    """
    text = clean_name(name)
    for word in OFFICE_SUFFIXES:
        if text.endswith(word) and len(text) > len(word):
            text = text[: -len(word)]
            break
    for suffix, short in COMMITTEE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            stem = text[: -len(suffix)]
            return stem if stem.endswith(short) else stem + short
    return text


def _per_distinct(names: pd.Series, func: Callable[[str], str]) -> pd.Series:
    """`func` of every distinct name (computed once each), missing stays missing, on the input index."""
    text = names.astype(object)
    given = text.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    codes, uniques = pd.factorize(text.where(given, ""))
    done = pd.Series([func(str(u)) for u in uniques], dtype=object)
    out = done.take(codes).to_numpy(dtype=object, copy=True) if len(codes) else np.empty(0, dtype=object)
    out[~given] = None
    return pd.Series(out, index=names.index, name=names.name, dtype=object)


def short_names(names: pd.Series) -> pd.Series:
    """:func:`short_name` of every name (missing stays missing), on the input index.

    Examples
    --------
    >>> short_names(pd.Series(["朱龙花村村民委员会", None])).tolist()
    ['朱龙花村', None]
    """
    return _per_distinct(names, short_name)


def division_parts(name: str) -> tuple[str, str]:
    """The core (专名) and the canonical generic (村, 社区, 街道, 镇, 乡; ``""`` when written without one) of a
    division name: the two parts a written name must share with the standard name to match it.

    Examples
    --------
    >>> division_parts("朱龙花村村民委员会"), division_parts("朱龙花村"), division_parts("中山路社区居民委员会")
    (('朱龙花', '村'), ('朱龙花', '村'), ('中山路', '社区'))
    >>> division_parts("胜利路街道办事处"), division_parts("来苏镇人民政府"), division_parts("来苏")
    (('胜利路', '街道'), ('来苏', '镇'), ('来苏', ''))
    >>> division_parts("红旗村民委员会"), division_parts("三星村村委会"), division_parts("桂山居委会")
    (('红旗', '村'), ('三星', '村'), ('桂山', '社区'))
    """
    text = short_name(name)
    for word in DIVISION_GENERICS:
        if text.endswith(word) and len(text) > len(word):
            return text[: -len(word)], _CANONICAL.get(word, word)
    return text, ""


def name_key(name: str) -> str:
    """The key two division names must share to match: core and canonical generic, joined by ``|``.

    Examples
    --------
    >>> name_key("朱龙花村") == name_key("朱龙花村村民委员会") == name_key(" 朱龙花村 村委会")
    True
    >>> name_key("朱龙花社区") == name_key("朱龙花村")
    False
    """
    core, generic = division_parts(name)
    return f"{core}|{generic}"


def name_keys(names: pd.Series) -> pd.Series:
    """:func:`name_key` of every name (missing stays missing), each distinct name computed once.

    Examples
    --------
    >>> name_keys(pd.Series(["胜利路街道办事处", None, "胜利路街道"])).tolist()
    ['胜利路|街道', None, '胜利路|街道']
    """
    return _per_distinct(names, name_key)


def _keys(names: pd.Series) -> pd.DataFrame:
    """Short form, core and generic of every name (empty for a missing one), once per distinct name."""
    text = names.astype(object).where(names.notna(), "")
    codes, uniques = pd.factorize(text)
    parts = [(short_name(str(u)), *division_parts(str(u))) for u in uniques]
    cols = {k: np.array([p[j] for p in parts], dtype=object) for j, k in enumerate(("full", "core", "generic"))}
    return pd.DataFrame({k: v[codes] if len(codes) else v[:0] for k, v in cols.items()}, index=names.index)


@dataclass(frozen=True, slots=True)
class NameMatch:
    """What :func:`match_names` found, on the index of the names looked up.

    Attributes
    ----------
    code12 : pandas.Series
        The matched unit's code; None where the name matches nothing or more than one unit.
    ambiguous : pandas.Series
        True where the name matches more than one unit.
    former : pandas.Series
        The unit's current name where the written name is one of its former names (历史地名), else None.
    """

    code12: pd.Series
    ambiguous: pd.Series
    former: pd.Series


def match_names(
    names: pd.Series, units: pd.DataFrame, *, within: pd.Series | None = None,
) -> NameMatch:
    """Look names up among division units: the standard name or its short form, else the same core and
    generic, else (for a name written without a generic) the same core, else (for ``XX新村``, a residential-area
    name that is also the core of the community ``XX新村社区``) the whole name as core.

    Parameters
    ----------
    names : pandas.Series
        Names as written (``None`` where missing).
    units : pandas.DataFrame
        Candidate units with ``code12`` and ``name`` (all villages of a district …); a unit may appear under
        several names (the register's, the gazetteer's, its former names). An optional boolean ``former``
        marks former names (:func:`register_names`), and then ``current`` gives the unit's current name.
    within : pandas.Series, optional
        Per name, a code prefix (9 digits: a township) to search in first; ``None`` to search everywhere. A
        name found inside its prefix is taken even when the district has it more than once.

    Examples
    --------
    >>> units = pd.DataFrame({"code12": ["500118001001", "500118001202", "500118002201", "500103014001"],
    ...                       "name": ["中山路社区居民委员会", "朱龙花村村民委员会", "朱龙花村村民委员会",
    ...                                "煤建新村社区居民委员会"]})
    >>> m = match_names(pd.Series(["中山路社区", "朱龙花村", "朱龙花村", "火星村", "煤建新村"]), units,
    ...                 within=pd.Series([None, "500118001", None, None, None]))
    >>> m.code12.tolist(), m.ambiguous.tolist()
    (['500118001001', '500118001202', None, None, '500103014001'], [False, False, True, False, False])
    """
    given = names.notna().to_numpy()
    out = np.full(len(names), None, dtype=object)
    former = np.full(len(names), None, dtype=object)
    ambiguous = np.zeros(len(names), dtype=bool)
    if not given.any() or len(units) == 0:
        return NameMatch(pd.Series(out, index=names.index, dtype=object), pd.Series(ambiguous, index=names.index),
                         pd.Series(former, index=names.index, dtype=object))
    cand = units[["code12", "name"]].astype(str).reset_index(drop=True)
    was = (units["former"].fillna(False).astype(bool).to_numpy() if "former" in units
           else np.zeros(len(cand), dtype=bool))
    now = (units["current"].astype(object).to_numpy() if "current" in units else cand["name"].to_numpy())
    ckeys = _keys(cand["name"])
    cand = cand.assign(full=ckeys["full"], core=ckeys["core"], both=ckeys["core"] + "|" + ckeys["generic"],
                       was=was, now=now)
    nkeys = _keys(names)
    full = nkeys["full"].to_numpy()
    wanted = pd.DataFrame({"full": full, "core": nkeys["core"].to_numpy(),
                           "both": (nkeys["core"] + "|" + nkeys["generic"]).to_numpy(),
                           "bare": (nkeys["generic"] == "").to_numpy(),
                           "xincun": pd.Series(full).str.endswith("新村").to_numpy(dtype=bool)})
    scope = (within.astype(object).where(within.notna(), "").astype(str).to_numpy() if within is not None
             else np.full(len(names), "", dtype=object))
    todo = given.copy()
    # (key of the written name, key of the unit, rows it applies to)
    tiers = (("full", "full", None), ("both", "both", None), ("core", "core", "bare"), ("full", "core", "xincun"))
    for mine, theirs, only in tiers:
        if not todo.any():
            break
        rows = todo & (wanted[only].to_numpy(dtype=bool) if only else True)
        for scoped in (True, False) if within is not None else (False,):
            take = rows & todo & ((scope != "") if scoped else True)
            if not take.any():
                continue
            pool = cand.assign(scope=cand["code12"].str.slice(0, 9) if scoped else "")
            grouped = pool.groupby(["scope", theirs])
            table = pd.DataFrame({"code12": grouped["code12"].first(), "n": grouped["code12"].nunique(),
                                  "was": grouped["was"].all(), "now": grouped["now"].first()})
            idx = np.flatnonzero(take)
            look = pd.MultiIndex.from_arrays([scope[idx] if scoped else np.full(len(idx), ""),
                                              wanted[mine].to_numpy()[idx]])
            found = table.reindex(look)
            n = found["n"].fillna(0).to_numpy()
            hit, many = n == 1, n > 1
            out[idx[hit]] = found["code12"].to_numpy(dtype=object)[hit]
            old = hit & found["was"].fillna(False).to_numpy(dtype=bool)
            former[idx[old]] = found["now"].to_numpy(dtype=object)[old]
            # a name that is ambiguous in the whole district but unique in its township is decided there
            ambiguous[idx[many]] = not scoped
            todo[idx[hit | (many & (not scoped))]] = False
    ambiguous &= pd.isna(out)
    return NameMatch(pd.Series(out, index=names.index, dtype=object), pd.Series(ambiguous, index=names.index),
                     pd.Series(former, index=names.index, dtype=object))


def match_units(
    names: pd.Series, units: pd.DataFrame, *, within: pd.Series | None = None,
) -> tuple[pd.Series, pd.Series]:
    """:func:`match_names` as (code12, ambiguous).

    Examples
    --------
    >>> units = pd.DataFrame({"code12": ["500118006200"], "name": ["朱龙花村村民委员会"]})
    >>> match_units(pd.Series(["朱龙花村村委会"]), units)[0].tolist()
    ['500118006200']
    """
    found = match_names(names, units, within=within)
    return found.code12, found.ambiguous


def register_names(units: pd.DataFrame, places: pd.DataFrame | None) -> pd.DataFrame:
    """Every name of the `units` (``code12``, ``name``): their gazetteer names, their current standard names in the
    place-name register (``places`` layer, :data:`gisplan.placenames.PLACE_COLUMNS`) and their historical names
    (rows with ``status`` 历史 whose ``former_of`` is the unit's ``place_id``).

    Returns
    -------
    pandas.DataFrame
        ``code12``, ``name``, ``former`` (True for a historical name) and ``current`` (the unit's current name:
        the register's where it has one). Without a register, the units with ``former`` False.

    Examples
    --------
    >>> units = pd.DataFrame({"code12": ["500118111000"], "name": ["来苏镇"]})
    >>> places = pd.DataFrame({"place_id": ["500118111000", "P000001"], "standard_name": ["来苏镇", "来苏乡"],
    ...                        "code12": ["500118111000", None], "status": ["现行", "历史"],
    ...                        "former_of": [None, "500118111000"]})
    >>> register_names(units, places)[["name", "former", "current"]].values.tolist()
    [['来苏乡', True, '来苏镇'], ['来苏镇', False, '来苏镇']]
    """
    base = units[["code12", "name"]].astype({"code12": str, "name": str}).reset_index(drop=True)
    if places is None or len(places) == 0 or not {"place_id", "standard_name", "code12", "status"} <= set(places):
        return base.assign(former=False, current=base["name"])
    reg = pd.DataFrame(places[["place_id", "standard_name", "code12", "status"]]).astype(object)
    live = reg[(reg["status"] == PlaceStatus.CURRENT.value) & reg["code12"].isin(set(base["code12"]))]
    now = live.drop_duplicates("code12").set_index("code12")["standard_name"]
    current = base["code12"].map(now).fillna(base["name"])
    names = [base.assign(former=False, current=current),
             pd.DataFrame({"code12": live["code12"].astype(str), "name": live["standard_name"].astype(str),
                           "former": False})]
    if "former_of" in places:
        old = pd.DataFrame(places[["standard_name", "status", "former_of"]]).astype(object)
        old = old[old["status"] == PlaceStatus.HISTORICAL.value]
        code_of = live.drop_duplicates("place_id").set_index("place_id")["code12"]
        codes = old["former_of"].map(code_of)
        old = old[codes.notna()]
        names.append(pd.DataFrame({"code12": codes[codes.notna()].astype(str),
                                   "name": old["standard_name"].astype(str), "former": True}))
    out = pd.concat(names, ignore_index=True)
    out["current"] = out["code12"].map(pd.Series(current.to_numpy(), index=base["code12"]).groupby(level=0).first())
    out = out.sort_values("former", kind="stable", ascending=False).drop_duplicates(["code12", "name"])
    out = out.reset_index(drop=True)
    return out[["code12", "name", "former", "current"]]


def name_suggestions(name: str, names: pd.Series, *, n: int = 3) -> list[str]:
    """Return up to `n` standard names closest to `name`, best first.

    A name that differs only by an office suffix (``胜利路街道办事处``) or by ``居民委员会`` suggests its
    division first; the rest are ranked by string similarity of short forms.

    Examples
    --------
    >>> s = pd.Series(["中山路街道", "胜利路街道", "南大街街道"])
    >>> name_suggestions("胜利路街道办事处", s)[0]
    '胜利路街道'
    """
    standard = names.astype(str).tolist()
    target = short_name(name)
    exact = [s for s in standard if short_name(s) == target]
    by_short = {short_name(s): s for s in standard}
    close = difflib.get_close_matches(target, list(by_short), n=n, cutoff=0.5)
    ranked = exact + [by_short[c] for c in close]
    return list(dict.fromkeys(ranked))[:n]
