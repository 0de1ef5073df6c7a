"""汉语拼音 of place names by the place-name romanisation rules (GB/T 16159-2012 and the 《中国地名汉语拼音字母拼写
规则（汉语地名部分）》).

- The specific part (专名) is one word, the generic part (通名) another, each capitalised: 中山路 → Zhongshan Lu.
- A monosyllabic modifier of the generic is joined to it: 景山后街 → Jingshan Houjie.
- A monosyllabic specific is joined to its generic: 巴县 → Baxian.
- Natural-village names (居民点) are one word: 王家庄 → Wangjiazhuang.
- Long generics are written as words: 兴隆村村民委员会 → Xinglongcun Cunmin Weiyuanhui.
- An apostrophe separates a syllable beginning with a, o or e from the one before it in a word: 西安 → Xi'an.
- ü is kept (绿水 → Lüshui); after j, q, x, y it is written u, as in standard pinyin.

pypinyin gives the syllables (its phrase dictionary reads 重庆 as Chongqing); characters with more than one
reading (in the specific part; readings as the 通用规范汉字表 lists them, so 长 and 重 are flagged but not 路)
are returned in :attr:`Romanisation.polyphonic` so that a reviewer checks the reading.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from gisplan.toponym import split_name
from gisplan.vocab import PlaceCategory

__all__ = ["Romanisation", "is_han", "romanise", "strip_tones"]

# generic parts written as several words
_GENERIC_WORDS = {
    "村民委员会": ("村民", "委员会"),
    "居民委员会": ("居民", "委员会"),
    "社区居民委员会": ("社区", "居民", "委员会"),
    "街道办事处": ("街道", "办事处"),
    "村委会": ("村委会",),
    "居委会": ("居委会",),
    "烈士陵园": ("烈士", "陵园"),
}
# settlement generics that are not natural villages (written apart: Jinxiu Huayuan)
_NOT_NATURAL_VILLAGE = frozenset({"小区", "花园", "家园", "公寓", "新村", "苑"})
_VOWEL_START = ("a", "o", "e")


@dataclass(frozen=True, slots=True)
class Romanisation:
    """A name in 汉语拼音.

    Attributes
    ----------
    text : str
        As written on signs and in the 标准地名录 (``Zhongshan Lu``).
    tone_marks : str
        Syllables with tone marks, space-separated (``zhōng shān lù``).
    toneless : str
        Syllables without tones, joined (``zhongshanlu``): the search key.
    initials : str
        First letters of the syllables (``zsl``).
    polyphonic : tuple of str
        Characters with more than one reading (flagged for review).
    """

    text: str
    tone_marks: str
    toneless: str
    initials: str
    polyphonic: tuple[str, ...]


def is_han(ch: str) -> bool:
    """Whether `ch` is a CJK ideograph.

    Examples
    --------
    >>> is_han("永"), is_han("A"), is_han("〇")
    (True, False, True)
    """
    return ch == "〇" or unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH")


def strip_tones(text: str) -> str:
    """Drop tone marks and tone digits, keep ü: ``Lǚ shuǐ`` → ``lüshui``.

    Examples
    --------
    >>> strip_tones("zhōng1 shān"), strip_tones("Lǚ")
    ('zhongshan', 'lü')
    """
    decomposed = unicodedata.normalize("NFD", text.lower())
    marks_dropped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn" or c == "\u0308")  # keep ü
    kept = unicodedata.normalize("NFC", marks_dropped)
    return "".join(c for c in kept if c.isalpha())


def _word(syllables: list[str]) -> str:
    """Syllables joined into one word, with an apostrophe before a syllable starting a, o or e."""
    out = ""
    for i, s in enumerate(syllables):
        out += ("'" if i and s[:1] in _VOWEL_START else "") + s
    return out


@lru_cache(maxsize=1)
def _table_readings() -> dict[str, tuple[str, ...]]:
    """Toneless readings of the 8,105 characters as the 通用规范汉字表 lists them (``gisplan/data/hanzi``)."""
    data = resources.files("gisplan").joinpath("data/hanzi")
    chars = data.joinpath("tongyong_guifan_8105.txt").read_text(encoding="utf-8").split()
    lines = data.joinpath("tongyong_guifan_8105_pinyin.txt").read_text(encoding="utf-8").splitlines()
    return {ch: tuple(dict.fromkeys(strip_tones(r) for r in line.split()))
            for ch, line in zip(chars, lines, strict=True)}


@lru_cache(maxsize=8192)
def _readings(ch: str) -> tuple[str, ...]:
    """A character's readings: the table's (长 cháng/zhǎng, not the rare ones pypinyin also knows), else
    pypinyin's."""
    table = _table_readings().get(ch)
    if table is not None:
        return table
    from pypinyin import Style, pinyin  # noqa: PLC0415 - its phrase dictionary costs ~1 s of every CLI start-up

    found = pinyin(ch, style=Style.NORMAL, heteronym=True, v_to_u=True)[0]
    return tuple(dict.fromkeys(found))


def _syllables(text: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415 - loaded on first use, not at CLI start-up

    return [s for s in lazy_pinyin(text, style=Style.NORMAL, v_to_u=True, errors="default") if s.strip()]


def romanise(name: str, *, category: PlaceCategory | str | None = None) -> Romanisation:
    """Spell `name` in 汉语拼音 by the place-name rules (see the module docstring).

    Parameters
    ----------
    name : str
        The standard name in Chinese characters.
    category : PlaceCategory, optional
        ``居民点`` names (natural villages) are written as one word.

    Returns
    -------
    Romanisation

    Examples
    --------
    >>> romanise("中山路").text, romanise("景山后街").text, romanise("西安").text
    ('Zhongshan Lu', 'Jingshan Houjie', "Xi'an")
    >>> romanise("王家庄", category="居民点").text, romanise("绿水村", category="居民点").text
    ('Wangjiazhuang', 'Lüshuicun')
    >>> romanise("兴隆村村民委员会").text, romanise("永川区").text, romanise("巴县").text
    ('Xinglongcun Cunmin Weiyuanhui', 'Yongchuan Qu', 'Baxian')
    >>> romanise("重庆市").text, romanise("长寿区").polyphonic
    ('Chongqing Shi', ('长',))
    """
    text = "".join(name.split())
    specific, generic = split_name(text)
    natural = (category == PlaceCategory.SETTLEMENT and generic not in _NOT_NATURAL_VILLAGE)
    all_syllables = _syllables(text)
    if natural or not generic or len(all_syllables) != len(text):
        words = [_word(all_syllables)]
    else:
        spec_syl = all_syllables[: len(specific)]
        gen_syl = all_syllables[len(specific):]
        if len(specific) == 1:
            words = [_word(spec_syl + gen_syl)]
        else:
            words = [_word(spec_syl)]
            parts = _GENERIC_WORDS.get(generic, (generic,))
            start = 0
            for part in parts:
                words.append(_word(gen_syl[start:start + len(part)]))
                start += len(part)
    romanised = " ".join(w[:1].upper() + w[1:] for w in words if w)
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415 - loaded on first use, not at CLI start-up

    tones = lazy_pinyin(text, style=Style.TONE, v_to_u=True)
    toneless = "".join(strip_tones(s) for s in all_syllables)
    initials = "".join(s[:1].lower() for s in all_syllables if s[:1].isalpha())
    # the generic part's readings are fixed (区 qū, 街 jiē): only the specific part is flagged
    poly = tuple(dict.fromkeys(ch for ch in specific if is_han(ch) and len(_readings(ch)) > 1))
    return Romanisation(romanised, " ".join(tones), toneless, initials, poly)
