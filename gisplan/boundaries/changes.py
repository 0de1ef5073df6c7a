"""Division changes (区划调整) as pure functions: a change becomes crosswalk rows (old code → new code), and the
crosswalk re-codes every layer that carries division codes.

Merge, rename, re-code and level/type changes (村改社区, 撤镇设街) are expressed entirely by the crosswalk, so
that the same rows re-code a facility ledger or a households table imported later from files that still use
the old codes. Splits and boundary adjustments also need the new polygons: points go to the unit whose new
polygon holds them, and rows without a location are reported, never silently left coded to a retired unit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import divisions
from gisplan.vocab import DivisionChange

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CROSSWALK_COLUMNS",
    "Change",
    "ChangeResult",
    "apply_change",
    "apply_crosswalk",
    "crosswalk_rows",
]

logger = logging.getLogger(__name__)

#: the crosswalk table (workspace layer ``division_crosswalk``), one row per old → new code
CROSSWALK_COLUMNS = ("old_code", "old_name", "new_code", "new_name", "new_level_name", "kind", "date", "basis",
                     "basis_date", "revision", "note")

# the code column → name column pairs a layer kind carries (facility names are facility names, not divisions)
_NAMED: dict[str, dict[str, str | None]] = {
    "gazetteer": {"code12": "name"}, "townships": {"code12": "name"}, "villages": {"code12": "name"},
    "households": {"code12": "name", "township_code12": "township"}, "facilities": {"code12": None},
}
_SUMMED = ("households", "population", "pop_60plus")


@dataclass(frozen=True, slots=True)
class Change:
    """One division change, with its legal basis.

    Attributes
    ----------
    kind : DivisionChange
        merge, split, rename, recode, change-level or adjust.
    codes : tuple of str
        The units changed: merge: the units merged (all of them, the surviving one too); split, rename,
        recode, change-level: the one unit; adjust: (from, to).
    new_code : str or None
        merge: the surviving code (one of `codes`, or a new code); recode / change-level: the new code.
    new_name : str or None
        The new (or surviving) unit's standard name.
    new_level_name : str or None
        change-level: the gazetteer's ``level_name`` afterwards, if it changes.
    parts : geopandas.GeoDataFrame or None
        split: the new units (``code12``, ``name``, polygons); adjust: the area that moves (polygons); EPSG:4326.
    date : str
        Date the change takes effect (ISO, ``2024-06-30``).
    basis : str
        The approval (批文) number, e.g. ``渝府〔2024〕12号``.
    basis_date : str
        The approval's date.
    """

    kind: DivisionChange
    codes: tuple[str, ...]
    new_code: str | None = None
    new_name: str | None = None
    new_level_name: str | None = None
    parts: gpd.GeoDataFrame | None = field(default=None, compare=False)
    date: str = ""
    basis: str = ""
    basis_date: str = ""


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What :func:`apply_change` makes.

    Attributes
    ----------
    layers : Mapping[str, pandas.DataFrame]
        Every layer that changed, whole, by workspace layer name.
    crosswalk : pandas.DataFrame
        The new crosswalk rows (:data:`CROSSWALK_COLUMNS`).
    recoded : pandas.DataFrame
        Per layer: ``layer``, ``recoded`` (rows re-coded), ``reported`` (rows that could not be re-coded) and
        ``detail``.
    problems : tuple of str
        Why the change cannot be committed (empty when it can).
    """

    layers: Mapping[str, pd.DataFrame]
    crosswalk: pd.DataFrame
    recoded: pd.DataFrame
    problems: tuple[str, ...]


def _next_children(prefix9: str, taken: pd.Series, n: int) -> list[str]:
    """`n` free village codes under township `prefix9`, after the highest taken."""
    used = taken[taken.str.slice(0, 9) == prefix9].str.slice(9).astype(int)
    start = int(used.max()) + 1 if len(used) else 1
    return [f"{prefix9}{k:03d}" for k in range(start, start + n)]


def crosswalk_rows(change: Change, gazetteer: pd.DataFrame, *, revision: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """The crosswalk rows of a change, children included (a township re-coded or merged re-codes its
    villages), and the problems that stop it.

    Parameters
    ----------
    change : Change
    gazetteer : pandas.DataFrame
        The workspace gazetteer (``code12``, ``name``, ``level_name``, ``parent_code12``) before the change.
    revision : int
        The workspace revision the change will be (written into the rows).

    Returns
    -------
    rows : pandas.DataFrame
        :data:`CROSSWALK_COLUMNS`.
    problems : list of str
        Chinese messages naming the code and the fix; empty when the change is consistent with the gazetteer.

    Examples
    --------
    >>> g = pd.DataFrame({"code12": ["500118001000", "500118001001", "500118001002"],
    ...                   "name": ["甲街道", "一村民委员会", "二村民委员会"],
    ...                   "level_name": ["乡镇街道", "村居", "村居"],
    ...                   "parent_code12": ["500118000000", "500118001000", "500118001000"]})
    >>> rows, problems = crosswalk_rows(Change(DivisionChange.MERGE, ("500118001001", "500118001002"),
    ...                                        new_code="500118001001", new_name="一二村民委员会"), g)
    >>> rows[["old_code", "new_code", "new_name"]].to_numpy().tolist(), problems
    ([['500118001001', '500118001001', '一二村民委员会'], ['500118001002', '500118001001', '一二村民委员会']], [])
    """
    gaz = gazetteer.assign(code12=gazetteer["code12"].astype(str))
    names = dict(zip(gaz["code12"], gaz["name"].astype(str), strict=True))
    problems = [f"代码 {c} 不在区划代码表中（或已撤销）；请用 `gisplan layers show gazetteer` 查看现有代码。"
                for c in change.codes if c not in names]
    new = change.new_code
    if new is not None and not divisions.is_code12(new):
        problems.append(f"新代码 {new!r} 不是12位统计用区划代码。")
    if problems:
        return pd.DataFrame(columns=list(CROSSWALK_COLUMNS)), problems
    level = divisions.division_level(pd.Series(list(change.codes)))
    if level.nunique() != 1:
        problems.append("同一次调整的单元必须同级（都是乡镇街道，或都是村/社区）。")
    pairs = _pairs(change, names, problems)
    if pairs and level.iloc[0] != "village":
        if divisions.division_level(pd.Series([p[1] for p in pairs])).ne(level.iloc[0]).any():
            problems.append("新代码与原单元不同级。")
        pairs += _children(pairs, gaz)
    elif pairs:
        parents = {p[1][:9] for p in pairs} | {p[0][:9] for p in pairs}
        if len(parents) > 1:
            problems.append("村/社区只能在同一乡镇街道内合并或改码；跨乡镇请先调整乡镇。")
        if divisions.division_level(pd.Series([p[1] for p in pairs])).ne("village").any():
            problems.append("新代码不是村级代码。")
    rows = pd.DataFrame({
        "old_code": [p[0] for p in pairs], "old_name": [names.get(p[0], "") for p in pairs],
        "new_code": [p[1] for p in pairs], "new_name": [p[2] or names.get(p[0], "") for p in pairs],
        "new_level_name": change.new_level_name or "", "kind": change.kind.value, "date": change.date,
        "basis": change.basis, "basis_date": change.basis_date, "revision": revision,
        "note": "",
    }, columns=list(CROSSWALK_COLUMNS))
    children = ~rows["old_code"].isin(change.codes)
    rows.loc[children, "note"] = "下属村居随之改码"
    rows.loc[children, "new_level_name"] = ""
    return rows, problems


def _pairs(change: Change, names: dict[str, str], problems: list[str]) -> list[tuple[str, str, str | None]]:
    """(old code, new code, new name) of the units a merge, rename, re-code or level change names."""
    kind, new = change.kind, change.new_code
    pairs: list[tuple[str, str, str | None]] = []
    if kind is DivisionChange.MERGE:
        if len(change.codes) < 2:
            problems.append("合并至少需要两个单元（--codes A B）。")
        target = new or change.codes[0]
        pairs = [(c, target, change.new_name or names.get(target)) for c in change.codes]
        if target not in change.codes and target in names:
            problems.append(f"合并后的代码 {target} 已被 {names[target]} 使用；请给一个新代码或合并单元之一的代码。")
    elif kind in {DivisionChange.RENAME, DivisionChange.RECODE, DivisionChange.CHANGE_LEVEL}:
        code = change.codes[0]
        target = new or code
        if kind is DivisionChange.RENAME and not change.new_name:
            problems.append("更名需要 --new-name。")
        if kind is DivisionChange.RECODE and (new is None or new == code):
            problems.append("改码需要一个不同的 --new-code。")
        if target != code and target in names:
            problems.append(f"新代码 {target} 已被 {names[target]} 使用。")
        pairs = [(code, target, change.new_name or names[code])]
    return pairs


def _children(pairs: list[tuple[str, str, str | None]], gaz: pd.DataFrame) -> list[tuple[str, str, str | None]]:
    """Village rows for townships whose code changes: the suffix is kept when free, else renumbered."""
    out: list[tuple[str, str, str | None]] = []
    taken = gaz["code12"][divisions.division_level(gaz["code12"]) == "village"]
    for old, new, _ in pairs:
        if old == new:
            continue
        kids = taken[taken.str.slice(0, 9) == old[:9]].sort_values()
        if new[:9] in set(taken.str.slice(0, 9)):  # merging into a township that has villages: renumber
            codes = _next_children(new[:9], pd.concat([taken, pd.Series([c for _, c, _ in out], dtype=str)]),
                                   len(kids))
        else:
            codes = [new[:9] + k[9:] for k in kids]
        out += [(k, c, None) for k, c in zip(kids, codes, strict=True)]
    return out


def _mapping(crosswalk: pd.DataFrame) -> tuple[dict[str, str], dict[str, str], dict[str, str], set[str]]:
    """code → new code, code → new name, code → new level name, codes split into several."""
    one = crosswalk.drop_duplicates("old_code", keep=False)
    many = set(crosswalk.loc[crosswalk["old_code"].duplicated(keep=False), "old_code"].astype(str))
    to_code = dict(zip(one["old_code"].astype(str), one["new_code"].astype(str), strict=True))
    to_name = dict(zip(one["old_code"].astype(str), one["new_name"].astype(str), strict=True))
    level_names = one[one["new_level_name"].astype(str) != ""]
    to_level = dict(zip(level_names["old_code"].astype(str), level_names["new_level_name"].astype(str), strict=True))
    return to_code, to_name, to_level, many


def apply_crosswalk(frame: pd.DataFrame, crosswalk: pd.DataFrame, *, kind: str) -> tuple[pd.DataFrame, int, int]:
    """Re-code a layer through crosswalk rows of one change (see :func:`crosswalk_rows`).

    Rows whose code the crosswalk maps to one new code are re-coded (and renamed, for the division layers);
    rows coded to a unit split into several are left as they are and counted as reported. Polygon layers
    dissolve the units merged into one; a households table by village sums their counts; the gazetteer keeps
    one row per code.

    Parameters
    ----------
    frame : pandas.DataFrame
        A workspace layer (gazetteer, townships, villages, households or a facility layer).
    crosswalk : pandas.DataFrame
        :data:`CROSSWALK_COLUMNS` rows of one change.
    kind : str
        Layer kind: ``gazetteer``, ``townships``, ``villages``, ``households`` or ``facilities``.

    Returns
    -------
    frame : pandas.DataFrame
        A new frame (the input is not changed).
    recoded, reported : int
        Rows re-coded, and rows still coded to a retired unit.

    Examples
    --------
    >>> cw = pd.DataFrame({"old_code": ["500118001002"], "old_name": ["二村"], "new_code": ["500118001001"],
    ...                    "new_name": ["一村"], "new_level_name": [""]})
    >>> hh = pd.DataFrame({"code12": ["500118001001", "500118001002"], "name": ["一村", "二村"],
    ...                    "households": [10, 5]})
    >>> out, n, left = apply_crosswalk(hh, cw, kind="households")
    >>> out.to_numpy().tolist(), n, left
    ([['500118001001', '一村', 15]], 1, 0)
    """
    to_code, to_name, to_level, many = _mapping(crosswalk)
    out = frame.copy()
    recoded = np.zeros(len(out), dtype=bool)
    reported = np.zeros(len(out), dtype=bool)
    for code_col, name_col in _NAMED.get(kind, {"code12": None}).items():
        if code_col not in out:
            continue
        codes = out[code_col].astype("string")
        hit = codes.isin(list(to_code)).fillna(False).to_numpy()
        recoded |= hit & (codes.map(to_code) != codes).fillna(False).to_numpy()
        reported |= codes.isin(list(many)).fillna(False).to_numpy()
        if name_col is not None and name_col in out:
            renamed = codes.map(to_name)
            recoded |= hit & (renamed != out[name_col].astype("string")).fillna(False).to_numpy()
            out.loc[hit, name_col] = renamed[hit]
        if kind == "gazetteer" and "level_name" in out and to_level:
            has = codes.isin(list(to_level)).fillna(False).to_numpy()
            out.loc[has, "level_name"] = codes[has].map(to_level)
        out.loc[hit, code_col] = codes[hit].map(to_code)
    if kind == "gazetteer" and "parent_code12" in out:
        parents = out["parent_code12"].astype("string")
        moved = parents.isin(list(to_code)).fillna(False).to_numpy()
        out.loc[moved, "parent_code12"] = parents[moved].map(to_code)
    out = _collapse(out, kind)
    return out, int(recoded.sum()), int(reported.sum())


def _collapse(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One row per code in the division layers after a merge."""
    if kind not in {"gazetteer", "townships", "villages", "households"} or "code12" not in frame:
        return frame
    if not frame["code12"].duplicated().any():
        return frame
    if isinstance(frame, gpd.GeoDataFrame) and kind in {"townships", "villages"}:
        geometry = frame.geometry.name
        merged = frame.dissolve(by="code12", sort=False, as_index=False, aggfunc="first")
        merged = merged[list(frame.columns)]
        return gpd.GeoDataFrame(merged, geometry=geometry, crs=frame.crs)
    if kind == "households" and not isinstance(frame, gpd.GeoDataFrame):
        sums = [c for c in _SUMMED if c in frame]
        agg = {c: ("sum" if c in sums else "first") for c in frame.columns if c != "code12"}
        return frame.groupby("code12", sort=False, as_index=False).agg(agg)[list(frame.columns)]
    if kind == "gazetteer":
        return frame.drop_duplicates("code12", keep="first").reset_index(drop=True)
    return frame


def _by_location(frame: gpd.GeoDataFrame, old: Sequence[str], parts: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int]:
    """Points coded to one of `old` take the code of the new polygon that holds them (others keep theirs)."""
    out = frame.copy()
    codes = out["code12"].astype("string")
    mine = codes.isin(list(old)).fillna(False).to_numpy()
    points = gpd.GeoSeries(out.geometry.to_numpy()[mine], crs=out.crs)
    found = divisions.division_code_at(points, parts.to_crs(points.crs or "EPSG:4326"))
    hit = np.array([f is not None for f in found], dtype=bool)
    picked = np.where(hit, found, codes[mine].to_numpy(dtype=object))
    out.loc[mine, "code12"] = picked
    return out, int(hit.sum())


def _split(change: Change, frame: pd.DataFrame, kind: str, parts: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int, int]:
    old = change.codes[0]
    codes = frame["code12"].astype(str) if "code12" in frame else pd.Series(dtype=str)
    if kind == "gazetteer":
        src = frame[codes == old]
        added = pd.DataFrame({c: src[c].iloc[0] for c in frame.columns}, index=range(len(parts)))
        added["code12"] = parts["code12"].astype(str).to_numpy()
        added["name"] = parts["name"].astype(str).to_numpy()
        return pd.concat([frame[codes != old], added], ignore_index=True), len(parts), 0
    level = divisions.division_level(pd.Series([old])).iloc[0]
    if isinstance(frame, gpd.GeoDataFrame) and kind in {"townships", "villages"} and level == kind[:-1]:
        new = parts.to_crs(frame.crs or "EPSG:4326")[["code12", "name", parts.geometry.name]]
        if new.geometry.name != frame.geometry.name:
            new = new.rename_geometry(frame.geometry.name)
        joined = pd.concat([frame[codes != old], new], ignore_index=True)
        return gpd.GeoDataFrame(joined, geometry=frame.geometry.name, crs=frame.crs), len(parts), 0
    if isinstance(frame, gpd.GeoDataFrame) and kind in {"facilities", "households"}:
        relocated, moved = _by_location(frame, [old], parts)
        return relocated, moved, int((codes == old).sum()) - moved
    return frame, 0, int((codes == old).sum())


def _adjust(change: Change, frame: pd.DataFrame, kind: str, parts: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int, int]:
    source, target = change.codes[0], change.codes[-1]
    area = shapely.union_all(parts.to_crs("EPSG:4326").geometry.to_numpy())
    if "code12" not in frame:
        return frame, 0, 0
    codes = frame["code12"].astype(str)
    if isinstance(frame, gpd.GeoDataFrame) and kind in {"townships", "villages"}:
        geoms = frame.geometry.to_numpy().copy()
        give, take = (codes == source).to_numpy(), (codes == target).to_numpy()
        geoms[give] = shapely.difference(geoms[give], area)
        geoms[take] = shapely.union(geoms[take], area)
        out = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
        return out, int(give.sum() + take.sum()), 0
    if isinstance(frame, gpd.GeoDataFrame) and kind in {"facilities", "households"}:
        moved = gpd.GeoDataFrame({"code12": [target]}, geometry=[area], crs="EPSG:4326")
        relocated, n = _by_location(frame, [source], moved)
        return relocated, n, 0
    # a households table by village: how many households move is not known from the codes
    return frame, 0, int((codes == source).sum()) if kind == "households" else 0


def _check_parts(change: Change) -> list[str]:
    if change.parts is None or not len(change.parts):
        return ["拆分和边界调整需要新界线文件（--parts FILE）：拆分给出新单元的面（code12, name），"
                "调整给出划转区域的面。"]
    geoms = change.parts.geometry.to_numpy()
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    return [f"新界线第 {i + 1} 个面无效：{shapely.is_valid_reason(geoms[i])}" for i in bad]


def apply_change(change: Change, layers: Mapping[str, pd.DataFrame], *, kinds: Mapping[str, str],
                 revision: int = 0) -> ChangeResult:
    """Apply one division change to the workspace's layers, without writing anything.

    Parameters
    ----------
    change : Change
    layers : Mapping[str, pandas.DataFrame]
        Workspace layers by name; must hold ``gazetteer``; ``townships``, ``villages``, ``households`` and facility
        layers when the workspace has them. Geometry in EPSG:4326.
    kinds : Mapping[str, str]
        Layer name → kind (``facilities`` for every facility layer).
    revision : int
        The revision the change will be committed as.

    Returns
    -------
    ChangeResult
    """
    gaz = layers["gazetteer"]
    rows, problems = crosswalk_rows(change, gaz, revision=revision) if change.kind not in {
        DivisionChange.SPLIT, DivisionChange.ADJUST} else _geometry_rows(change, gaz, revision)
    if change.kind in {DivisionChange.SPLIT, DivisionChange.ADJUST}:
        problems += _check_parts(change)
    if problems:
        return ChangeResult({}, rows, pd.DataFrame(columns=["layer", "recoded", "reported", "detail"]),
                            tuple(problems))
    changed: dict[str, pd.DataFrame] = {}
    report = []
    for name, frame in layers.items():
        kind = kinds.get(name, "facilities")
        if change.parts is not None and change.kind is DivisionChange.SPLIT:
            new, n, left = _split(change, frame, kind, change.parts)
        elif change.parts is not None and change.kind is DivisionChange.ADJUST:
            new, n, left = _adjust(change, frame, kind, change.parts)
        else:
            new, n, left = apply_crosswalk(frame, rows, kind=kind)
        if n or left or len(new) != len(frame):
            changed[name] = new
        moves = [f"{a}→{b}" for a, b in zip(rows["old_code"], rows["new_code"], strict=True) if a != b]
        detail = "；".join(moves[:6]) + ("…" if len(moves) > 6 else "") if n else ""
        warn = f"；{left} 行仍为被撤销的代码，无位置无法自动改码，请人工改码" if left else ""
        report.append({"layer": name, "recoded": n, "reported": left, "detail": detail + warn})
    return ChangeResult(changed, rows, pd.DataFrame(report), ())


def _geometry_rows(change: Change, gaz: pd.DataFrame, revision: int) -> tuple[pd.DataFrame, list[str]]:
    names = dict(zip(gaz["code12"].astype(str), gaz["name"].astype(str), strict=True))
    problems = [f"代码 {c} 不在区划代码表中。" for c in change.codes if c not in names]
    if change.kind is DivisionChange.SPLIT:
        parts = change.parts if change.parts is not None else gpd.GeoDataFrame({"code12": [], "name": []})
        new = parts["code12"].astype(str).tolist()
        problems += [f"新代码 {c} 已被 {names[c]} 使用。" for c in new if c in names and c not in change.codes]
        problems += [f"新代码 {c} 不在 {change.codes[0][:9]} 之下（拆分后的单元应同属原上级）。"
                     for c in new if change.codes and c[:6] != change.codes[0][:6]]
        pairs: list[tuple[str, str, str | None]] = [
            (change.codes[0], c, n) for c, n in zip(new, parts["name"].astype(str), strict=True)]
    else:
        if len(change.codes) != 2:
            problems.append("边界调整需要两个单元：--from A --to B。")
        pairs = [(change.codes[0], change.codes[-1], names.get(change.codes[-1]))]
    rows = pd.DataFrame({
        "old_code": [p[0] for p in pairs], "old_name": [names.get(p[0], "") for p in pairs],
        "new_code": [p[1] for p in pairs], "new_name": [p[2] or "" for p in pairs], "new_level_name": "",
        "kind": change.kind.value, "date": change.date, "basis": change.basis, "basis_date": change.basis_date,
        "revision": revision,
        "note": "部分区域划入；原代码保留" if change.kind is DivisionChange.ADJUST else "按新界线改码",
    }, columns=list(CROSSWALK_COLUMNS))
    return rows, problems
