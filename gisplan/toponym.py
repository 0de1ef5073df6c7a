"""Place-name text (tier 0): the generic part (通名) of a name, and the one normalisation that matching uses.

A Chinese place name is a specific part (专名) plus a generic part (通名): 中山 + 路, 兴隆 + 村民委员会,
朱龙花村 + 村民委员会. :func:`split_name` finds the generic part (the longest known one at the end, with a
monosyllabic modifier such as 后 in 景山后街 joined to it); :func:`normalise_name` is the key every matcher
compares (the register's search, and the short-name matching of ledgers: 朱龙花村 ↔ 朱龙花村村民委员会).

Pure functions on strings and Series, no I/O: usable from every tier.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

__all__ = [
    "COMMITTEE_SUFFIXES",
    "GENERIC_PARTS",
    "MODIFIERS",
    "normalise_name",
    "normalise_names",
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

#: Committee suffixes and the short form they leave (朱龙花村村民委员会 → 朱龙花村, 中山路社区居民委员会 → 中山路社区).
COMMITTEE_SUFFIXES = (("村民委员会", "村"), ("社区居民委员会", "社区"), ("居民委员会", "社区"), ("村委会", "村"),
                      ("居委会", "社区"), ("街道办事处", "街道"))

_SPACE = re.compile(r"\s+")


def split_name(name: str) -> tuple[str, str]:
    """Split `name` into (specific part 专名, generic part 通名); ``""`` as generic when none is known.

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


def normalise_name(name: str) -> str:
    """The comparison key of a name: NFKC (full-width letters and digits to half-width), no whitespace,
    committee and office suffixes reduced to the short form.

    Examples
    --------
    >>> normalise_name("朱龙花村村民委员会"), normalise_name(" 朱龙花村 "), normalise_name("三教村民委员会")
    ('朱龙花村', '朱龙花村', '三教村')
    >>> normalise_name("中山路社区居民委员会"), normalise_name("胜利路街道办事处"), normalise_name("Ｂ区")
    ('中山路社区', '胜利路街道', 'B区')
    """
    text = _SPACE.sub("", unicodedata.normalize("NFKC", name))
    for suffix, short in COMMITTEE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            stem = text[: -len(suffix)]
            return stem if stem.endswith(short) else stem + short
    return text


def normalise_names(names: pd.Series) -> pd.Series:
    """:func:`normalise_name` of every name (missing stays missing), on the input index.

    Examples
    --------
    >>> normalise_names(pd.Series(["朱龙花村村民委员会", None])).tolist()
    ['朱龙花村', None]
    """
    out = [normalise_name(n) if isinstance(n, str) else None for n in names.astype(object)]
    return pd.Series(out, index=names.index, name=names.name, dtype=object)
