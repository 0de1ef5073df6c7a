"""Matching the names people write for divisions to the gazetteer's standard names (tier 0, pure).

Ledgers rarely copy the 统计用区划代码's names: they write ``朱龙花村`` for ``朱龙花村村民委员会``, ``中山路社区``
for ``中山路社区居民委员会``, ``胜利路街道办事处`` for ``胜利路街道``, with spaces or full-width characters. A name
is split here into its *core* (the specific part, 专名: ``朱龙花``) and its *generic* part (通名: ``村``, ``社区``,
``镇``, ``乡``, ``街道``); two names match when their cores are equal and their generics agree (a name written
without a generic matches on its core alone). The place-name register reuses :func:`split_name` and
:func:`name_key` for its search; the ledger checks use :func:`match_units`.

Examples
--------
>>> split_name("朱龙花村村民委员会"), split_name("朱龙花村"), split_name("中山路社区居民委员会")
(('朱龙花', '村'), ('朱龙花', '村'), ('中山路', '社区'))
>>> split_name("胜利路街道办事处"), split_name("来苏镇人民政府"), split_name("来苏")
(('胜利路', '街道'), ('来苏', '镇'), ('来苏', ''))
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["GENERICS", "match_units", "name_key", "split_name"]

# what names an office or a committee rather than the unit itself (longest first)
_OFFICE = ("办事处", "人民政府", "政府", "管委会", "党工委", "工作站")
_COMMITTEE = (("村民委员会", "村"), ("居民委员会", "社区"), ("村委会", "村"), ("居委会", "社区"), ("村委", "村"),
              ("居委", "社区"))
#: the generic parts (通名) of division names, longest first; 居 is how a few ledgers shorten 社区
GENERICS = ("民族乡", "街道", "社区", "村", "镇", "乡", "居")
_CANONICAL = {"居": "社区", "民族乡": "乡"}
_SPACES = re.compile(r"[\s\u3000]+")


def _clean(name: str) -> str:
    """NFKC (full-width letters and digits as ASCII), no white space, no brackets' contents such as （原XX村）."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[(（][^)）]*[)）]", "", text)
    return _SPACES.sub("", text)


def split_name(name: str) -> tuple[str, str]:
    """Return the core (专名) and the generic part (通名, ``""`` when the name carries none) of a division name.

    The committee words (村民委员会 → 村, 居民委员会 → 社区) and office words (办事处, 人民政府 …) are removed; a
    committee whose stem already ends in the generic (``朱龙花村`` + ``村民委员会``) is one generic, not two.

    Examples
    --------
    >>> split_name("红旗村民委员会"), split_name("三星村村委会"), split_name("卫星湖街道")
    (('红旗', '村'), ('三星', '村'), ('卫星湖', '街道'))
    """
    text = _clean(name)
    for word in _OFFICE:
        if text.endswith(word) and len(text) > len(word):
            text = text[: -len(word)]
            break
    generic = ""
    for word, kind in _COMMITTEE:
        if text.endswith(word) and len(text) > len(word):
            text, generic = text[: -len(word)], kind
            break
    for word in GENERICS:
        if text.endswith(word) and len(text) > len(word):
            found = _CANONICAL.get(word, word)
            if generic in {"", found}:
                text, generic = text[: -len(word)], found
            break
    return text, generic


def name_key(name: str) -> str:
    """The key two names must share to match: core and generic, joined by ``|``.

    Examples
    --------
    >>> name_key("朱龙花村") == name_key("朱龙花村村民委员会") == name_key(" 朱龙花村 村委会")
    True
    >>> name_key("朱龙花社区") == name_key("朱龙花村")
    False
    """
    core, generic = split_name(name)
    return f"{core}|{generic}"


def _keys(names: pd.Series) -> pd.DataFrame:
    """Cleaned full name, core and generic of every name (empty for a missing one), once per distinct name."""
    text = names.astype(object).where(names.notna(), "")
    codes, uniques = pd.factorize(text)
    parts = [(_clean(str(u)), *split_name(str(u))) for u in uniques]
    cols = {k: np.array([p[j] for p in parts], dtype=object) for j, k in enumerate(("full", "core", "generic"))}
    return pd.DataFrame({k: v[codes] if len(codes) else v[:0] for k, v in cols.items()}, index=names.index)


def match_units(
    names: pd.Series, units: pd.DataFrame, *, within: pd.Series | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Look names up among division units: the exact standard name, else the same core and generic, else (for a
    name written without a generic) the same core.

    Parameters
    ----------
    names : pandas.Series
        Names as written (``None`` where missing).
    units : pandas.DataFrame
        Candidate units with ``code12`` and ``name`` (all villages of a district …).
    within : pandas.Series, optional
        Per name, a code prefix (9 digits: a township) to search in first; ``None`` to search everywhere. A
        name found inside its prefix is taken even when the district has it more than once.

    Returns
    -------
    code12 : pandas.Series
        The matched code; None where the name matches nothing or more than one unit.
    ambiguous : pandas.Series
        True where the name matches more than one unit.

    Examples
    --------
    >>> units = pd.DataFrame({"code12": ["500118001001", "500118001202", "500118002201"],
    ...                       "name": ["中山路社区居民委员会", "朱龙花村村民委员会", "朱龙花村村民委员会"]})
    >>> codes, amb = match_units(pd.Series(["中山路社区", "朱龙花村", "朱龙花村", "火星村"]), units,
    ...                          within=pd.Series([None, "500118001", None, None]))
    >>> codes.tolist(), amb.tolist()
    (['500118001001', '500118001202', None, None], [False, False, True, False])
    """
    given = names.notna().to_numpy()
    out = np.full(len(names), None, dtype=object)
    ambiguous = np.zeros(len(names), dtype=bool)
    if not given.any() or len(units) == 0:
        return pd.Series(out, index=names.index, dtype=object), pd.Series(ambiguous, index=names.index)
    cand = units[["code12", "name"]].astype(str).reset_index(drop=True)
    ckeys = _keys(cand["name"])
    cand = cand.assign(full=ckeys["full"], core=ckeys["core"], both=ckeys["core"] + "|" + ckeys["generic"])
    nkeys = _keys(names)
    wanted = pd.DataFrame({"full": nkeys["full"].to_numpy(), "core": nkeys["core"].to_numpy(),
                           "both": (nkeys["core"] + "|" + nkeys["generic"]).to_numpy(),
                           "bare": (nkeys["generic"] == "").to_numpy()})
    scope = (within.astype(object).where(within.notna(), "").astype(str).to_numpy() if within is not None
             else np.full(len(names), "", dtype=object))
    todo = given.copy()
    for key in ("full", "both", "core"):
        if not todo.any():
            break
        rows = todo & (wanted["bare"].to_numpy() if key == "core" else True)
        for scoped in (True, False) if within is not None else (False,):
            take = rows & todo & ((scope != "") if scoped else True)
            if not take.any():
                continue
            pool = cand.assign(scope=cand["code12"].str.slice(0, 9) if scoped else "")
            grouped = pool.groupby(["scope", key])["code12"]
            table = pd.DataFrame({"code12": grouped.first(), "n": grouped.nunique()})
            idx = np.flatnonzero(take)
            look = pd.MultiIndex.from_arrays([scope[idx] if scoped else np.full(len(idx), ""),
                                              wanted[key].to_numpy()[idx]])
            found = table.reindex(look)
            n = found["n"].fillna(0).to_numpy()
            hit, many = n == 1, n > 1
            out[idx[hit]] = found["code12"].to_numpy(dtype=object)[hit]
            # a name that is ambiguous in the whole district but unique in its township is decided there
            ambiguous[idx[many]] = not scoped
            todo[idx[hit | (many & (not scoped))]] = False
    ambiguous &= pd.isna(out)
    return pd.Series(out, index=names.index, dtype=object), pd.Series(ambiguous, index=names.index)
