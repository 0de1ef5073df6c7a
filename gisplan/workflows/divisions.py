"""Division changes (区划调整) on a workspace: validate, then commit every re-coded layer and the crosswalk in ONE
Workspace transaction; and the replay of the crosswalk on layers imported later from files with the old codes.

The crosswalk is the workspace layer ``division_crosswalk`` (:data:`gisplan.boundaries.CROSSWALK_COLUMNS`),
appended by every change. The legal basis (批文 number and date) goes into the crosswalk rows and into the
transaction's change-log detail (``note``), so the workspace history says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import geopandas as gpd
import pandas as pd

from gisplan.boundaries import CROSSWALK_COLUMNS, Change, ChangeResult, apply_change, apply_crosswalk, check_topology
from gisplan.crs import to_planning_crs
from gisplan.errors import DivisionChangeError
from gisplan.store import LayerWrite, Workspace
from gisplan.vocab import DivisionChange

__all__ = [
    "CROSSWALK_LAYER",
    "DivisionOutcome",
    "change_divisions",
    "recode_table",
    "replay_crosswalk",
    "rewrite_layer",
    "with_retired",
]

logger = logging.getLogger(__name__)

CROSSWALK_LAYER = "division_crosswalk"
_DIVISION_LAYERS = ("gazetteer", "townships", "villages", "households")
_EPS_KM2 = 1e-4  # 100 m²: below this, a change in overlap is rounding in the reprojection


@dataclass(frozen=True, slots=True)
class DivisionOutcome:
    """What a change did (or, with `dry_run`, would do).

    Attributes
    ----------
    result : ChangeResult
        Changed layers, crosswalk rows and the per-layer re-coding report.
    revision : int or None
        The committed revision; None for a dry run.
    """

    result: ChangeResult
    revision: int | None


def _layers(ws: Workspace) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    meta = ws.metadata()
    kinds = dict(zip(meta["layer"].astype(str), meta["kind"].astype(str), strict=True))
    names = [n for n in _DIVISION_LAYERS if n in kinds] + sorted(ws.facility_layers().values())
    return {n: ws.read(n) for n in names}, {n: kinds[n] for n in names}


def _topology_problems(ws: Workspace, result: ChangeResult, crs: str | None) -> list[str]:
    """A change must not add invalid rings or overlaps to the township or village polygons."""
    problems = []
    for name in ("townships", "villages"):
        if name not in result.layers:
            continue
        stored = ws.read_layer(name)
        after_layer = result.layers[name]
        if not isinstance(after_layer, gpd.GeoDataFrame):  # a polygon layer stays one
            continue
        # validity as stored (degrees): reprojecting may turn a valid near-touching ring invalid
        invalid = int((~after_layer.is_valid).sum())
        if invalid > int((~stored.is_valid).sum()):
            problems.append(f"调整后的 {name} 有 {invalid} 个无效边界；请检查新界线文件。")
        before = check_topology(to_planning_crs(stored, crs), level=name[:-1])
        after = check_topology(to_planning_crs(after_layer, crs), level=name[:-1])
        grown = after.totals["overlap_km2"] - before.totals["overlap_km2"]
        if grown > _EPS_KM2:
            problems.append(f"调整后的 {name} 重叠面积增加了 {grown:.3f} km²；新界线与相邻单元重叠，请修正后再提交。")
        dupes = after.problems[after.problems["check"] == "duplicate_code"]
        if len(dupes):
            problems.append(f"调整后的 {name} 有重复代码：{'、'.join(sorted(set(dupes['codes'])))}。")
    return problems


def rewrite_layer(ws: Workspace, name: str, data: pd.DataFrame, note: str) -> LayerWrite:
    """A write that replaces layer `name` with `data`, keeping its metadata (kind, source, flags) and adding
    `note` to its note."""
    row = ws.metadata().set_index("layer").loc[name]

    def text(key: str) -> str | None:
        value = row[key]
        return value if isinstance(value, str) else None

    return LayerWrite(name, str(row["kind"]), data, source_path=text("source_path"),
                      source_sha256=text("source_sha256"), source_layer=text("source_layer"),
                      crs_given=text("crs_given"), facility_type=text("facility_type"),
                      illustrative=bool(row["illustrative"]),
                      note="; ".join(filter(None, [text("note"), note])))


def change_divisions(
    ws: Workspace, change: Change, *, dry_run: bool = False, crs: str | None = None,
) -> DivisionOutcome:
    """Validate a division change and commit it atomically (unless `dry_run`).

    Every layer that carries division codes (gazetteer, townships, villages, households, every facility layer)
    is re-coded through the change's crosswalk; the crosswalk rows are appended to ``division_crosswalk``;
    all of it is one transaction (one revision) whose change-log detail holds the basis.

    Parameters
    ----------
    ws : Workspace
    change : Change
    dry_run : bool
        Validate and report, write nothing.
    crs : str, optional
        Planning CRS for the topology validation (default: the data's UTM zone).

    Returns
    -------
    DivisionOutcome

    Raises
    ------
    DivisionChangeError
        With every problem (unknown or clashing codes, units of different levels or parents, invalid new
        polygons, new overlaps); nothing is written.
    StoreError
        If the workspace has no gazetteer.
    """
    with ws.lock():
        layers, kinds = _layers(ws)
        if "gazetteer" not in layers:
            ws.read_table("gazetteer")  # raises the store's message
        revision = ws.revision() + 1
        result = apply_change(change, layers, kinds=kinds, revision=revision)
        problems = list(result.problems) or _topology_problems(ws, result, crs)
        if problems:
            raise DivisionChangeError(problems)
        if dry_run:
            return DivisionOutcome(result, None)
        note = (f"{change.kind.value} {' '.join(change.codes)}"
                + (f" → {change.new_code}" if change.new_code else "")
                + (f" {change.new_name}" if change.new_name else "")
                + f"; 依据 basis: {change.basis or '—'} ({change.basis_date or '—'}); 生效 {change.date or '—'}")
        old = ws.read_table(CROSSWALK_LAYER) if ws.has_layer(CROSSWALK_LAYER) else None
        crosswalk = result.crosswalk if old is None else pd.concat([old, result.crosswalk], ignore_index=True)
        detail = {"kind": change.kind.value, "codes": list(change.codes), "new_code": change.new_code,
                  "new_name": change.new_name, "basis": change.basis, "basis_date": change.basis_date,
                  "date": change.date, "note": note}
        with ws.transaction(action="divisions", detail=detail, lock=False) as tx:
            tx.write(*(rewrite_layer(ws, name, frame, f"区划调整 rev {revision}: {note}")
                       for name, frame in result.layers.items()))
            tx.write(LayerWrite(CROSSWALK_LAYER, "result", crosswalk.astype({"revision": "int64"}),
                                note="区划调整对照表 division crosswalk (old code → new code)"))
        logger.info("divisions: %s committed as revision %d", change.kind.value, tx.revision)
        return DivisionOutcome(replace(result), tx.revision)


def with_retired(gazetteer: pd.DataFrame | None, crosswalk: pd.DataFrame | None) -> pd.DataFrame | None:
    """The gazetteer with a row for every code a division change retired (its old name, the level and parent of
    the unit it went to), so that a file still using old codes validates before :func:`replay_crosswalk`
    re-codes it."""
    if gazetteer is None or crosswalk is None or not len(crosswalk):
        return gazetteer
    codes = gazetteer["code12"].astype(str)
    retired = crosswalk[~crosswalk["old_code"].astype(str).isin(codes)].drop_duplicates("old_code")
    successor = gazetteer.set_index(codes)
    retired = retired[retired["new_code"].astype(str).isin(successor.index)]
    if not len(retired):
        return gazetteer
    added = successor.reindex(retired["new_code"].astype(str).to_numpy()).reset_index(drop=True)
    added["code12"] = retired["old_code"].astype(str).to_numpy()
    added["name"] = retired["old_name"].astype(str).to_numpy()
    if "parent_code12" in added:  # a retired village's parent is its own old township
        village = added["code12"].str.slice(9) != "000"
        added.loc[village, "parent_code12"] = added.loc[village, "code12"].str.slice(0, 9) + "000"
    return pd.concat([gazetteer, added], ignore_index=True)


def replay_crosswalk(data: pd.DataFrame, crosswalk: pd.DataFrame | None, *, kind: str, source: str = "",
                     ) -> tuple[pd.DataFrame, int]:
    """Re-code one layer imported from a file that still uses retired codes, through the workspace's crosswalk,
    change by change in revision order; rows coded to a unit that was split are logged as warnings.

    Parameters
    ----------
    data : pandas.DataFrame
        A validated layer.
    crosswalk : pandas.DataFrame or None
        The workspace's ``division_crosswalk``.
    kind : str
        The layer kind (gazetteer, townships, villages, households, facilities; others are returned as given).
    source : str
        The file, for the log.

    Returns
    -------
    data : pandas.DataFrame
        Re-coded where the crosswalk applies.
    recoded : int
        Rows re-coded.
    """
    if crosswalk is None or not len(crosswalk) or kind not in {*_DIVISION_LAYERS, "facilities"}:
        return data, 0
    simple = crosswalk[~crosswalk["kind"].isin([DivisionChange.SPLIT.value, DivisionChange.ADJUST.value])]
    split = crosswalk[crosswalk["kind"] == DivisionChange.SPLIT.value]
    total = 0
    for _, rows in simple.groupby("revision", sort=True):
        data, n, _left = apply_crosswalk(data, rows[list(CROSSWALK_COLUMNS)], kind=kind)
        total += n
    if "code12" in data and len(split):
        retired = data["code12"].astype(str).isin(set(split["old_code"].astype(str)))
        if kind == "gazetteer" and retired.any():
            old = data[retired].set_index(data.loc[retired, "code12"].astype(str))
            parts = split[split["old_code"].astype(str).isin(old.index)]
            added = old.reindex(parts["old_code"].astype(str).to_numpy()).reset_index(drop=True)
            added["code12"] = parts["new_code"].astype(str).to_numpy()
            added["name"] = parts["new_name"].astype(str).to_numpy()
            data = pd.concat([data[~retired], added], ignore_index=True).drop_duplicates("code12")
            total += int(retired.sum())
        elif retired.any():
            logger.warning("%s: %d rows are coded to a unit that was split (%s); re-code them by hand",
                           source, int(retired.sum()), ", ".join(sorted(set(data.loc[retired, "code12"]))))
    if total:
        logger.warning("%s: %d rows re-coded through the division crosswalk (retired codes in the file)",
                       source, total)
    return data, total


def recode_table(frame: pd.DataFrame, crosswalk: pd.DataFrame, *, column: str = "code12") -> tuple[pd.DataFrame, int]:
    """Re-code a table keyed by division code (a 2020 baseline's units, a ledger) through the crosswalk, so that
    it can be compared with a run after the change; the old code is kept in ``<column>_before``.

    Rows coded to a unit that was split keep their code (one old unit became several) and are counted.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table with the code `column`.
    crosswalk : pandas.DataFrame
        The workspace's ``division_crosswalk``.
    column : str
        The code column.

    Returns
    -------
    table : pandas.DataFrame
        A copy with `column` re-coded and ``<column>_before``.
    unresolved : int
        Rows coded to a split unit.

    Examples
    --------
    >>> cw = pd.DataFrame({"old_code": ["500118001002"], "old_name": ["二村"], "new_code": ["500118001001"],
    ...                    "new_name": ["一村"], "new_level_name": [""], "kind": ["merge"], "revision": [2]})
    >>> out, left = recode_table(pd.DataFrame({"code12": ["500118001002", "500118001003"], "v": [1, 2]}), cw)
    >>> out["code12"].tolist(), out["code12_before"].tolist(), left
    (['500118001001', '500118001003'], ['500118001002', '500118001003'], 0)
    """
    codes = pd.DataFrame({"code12": frame[column].astype(str).to_numpy()})
    recoded, _ = replay_crosswalk(codes, crosswalk.reindex(columns=list(CROSSWALK_COLUMNS)).fillna(
        {"kind": DivisionChange.MERGE.value, "revision": 0}), kind="facilities", source=column)
    out = frame.copy()
    out[f"{column}_before"] = frame[column]
    out[column] = recoded["code12"].to_numpy()
    split = crosswalk.loc[crosswalk["kind"] == DivisionChange.SPLIT.value, "old_code"].astype(str)
    return out, int(out[column].astype(str).isin(set(split)).sum())
