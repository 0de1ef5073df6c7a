"""The cost table of the siting models: demand points, candidate sites and the costs between them.

:func:`cost_table` builds a :class:`CostTable` from long-form frames (an OD matrix from ArcGIS, r5py …) and
checks every row, naming the rows the user sees; :func:`coverage_matrix` turns it into sparse coverage sets;
:func:`marginal_gains` gives the weight each site of a build order adds, and :func:`phase_order` orders the
chosen sites greedily by it (for a build programme over the plan period). Like the models, this imports only ``errors``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from gisplan.errors import Problem, SchemaError
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CostTable",
    "cost_table",
    "coverage_matrix",
    "covered_rows",
    "marginal_gains",
    "phase_order",
]


@dataclass(frozen=True, slots=True, eq=False)
class CostTable:
    """Demand points, candidate sites and the costs between them, as index arrays.

    Attributes
    ----------
    demand_ids, candidate_ids : ndarray of object
    weights : ndarray of float64
        Weight of each demand point (households, persons 60+ …).
    capacity : ndarray of float64 or None
        Capacity of each candidate, in the weight's unit.
    pair_demand, pair_candidate : ndarray of int64
        The pairs present in the table.
    cost : ndarray of float64
        Cost of each pair (metres or minutes).
    """

    demand_ids: NDArray[np.object_]
    candidate_ids: NDArray[np.object_]
    weights: NDArray[np.float64]
    capacity: NDArray[np.float64] | None
    pair_demand: NDArray[np.int64]
    pair_candidate: NDArray[np.int64]
    cost: NDArray[np.float64]

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return len(self.demand_ids)

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return len(self.candidate_ids)


def cost_table(
    costs: pd.DataFrame,
    demand: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    cost_column: str | None = None,
    source: tuple[str, str, str] = ("costs", "demand", "candidates"),
    rows: tuple[ArrayLike | None, ArrayLike | None, ArrayLike | None] = (None, None, None),
) -> CostTable:
    """Build a :class:`CostTable` from long-form frames, checking every row.

    Parameters
    ----------
    costs : pandas.DataFrame
        ``demand_id, candidate_id, <cost>`` (the third column, or `cost_column`).
    demand : pandas.DataFrame
        ``demand_id, weight``.
    candidates : pandas.DataFrame
        ``candidate_id`` and optionally ``capacity``.
    source : tuple of str
        Names of the three inputs for messages.
    rows : tuple of three arrays of int or None
        For each input, the row number the user sees for each of its rows (the ``rows`` of a
        :class:`gisplan.io.tables.RawTable`, which count title rows above the header); None: the
        position + 2, as in a file with its header on the first line.

    Raises
    ------
    SchemaError
        Listing missing columns, duplicate ids, unknown ids in the costs, and non-numeric or negative
        costs, weights or capacities, with their rows.
    """
    problems: list[Problem] = []
    for frame, name, needed in ((costs, source[0], ("demand_id", "candidate_id")), (demand, source[1],
                                ("demand_id", "weight")), (candidates, source[2], ("candidate_id",))):
        missing = [c for c in needed if c not in frame]
        if missing:
            problems.append(Problem(name, None, None, _("missing column(s) {missing}").format(
                                                        missing=', '.join(missing)),
                                    _("give the columns {needed}.").format(needed=', '.join(needed))))
    if problems:
        raise SchemaError(problems)
    extra = [c for c in costs.columns if c not in {"demand_id", "candidate_id"}]
    column = cost_column or (extra[0] if extra else None)
    if column is None or column not in costs:
        raise SchemaError([Problem(source[0], None, None, "no cost column", "add a third column with the cost.")])
    c_rows, d_rows, k_rows = (_row_numbers(f, r) for f, r in zip((costs, demand, candidates), rows, strict=True))
    d_ids = demand["demand_id"].astype(str)
    c_ids = candidates["candidate_id"].astype(str)
    for ids, name, field, at in ((d_ids, source[1], "demand_id", d_rows), (c_ids, source[2], "candidate_id", k_rows)):
        for i in np.flatnonzero(ids.duplicated().to_numpy())[:10]:
            problems.append(Problem(name, int(at[i]), field, _("duplicate id {value!r}").format(value=ids.iloc[i]),
                                    "give each row its own id."))
    weights = _numbers(demand["weight"], source[1], "weight", problems, d_rows)
    capacity = (_numbers(candidates["capacity"], source[2], "capacity", problems, k_rows)
                if "capacity" in candidates else None)
    cost = _numbers(costs[column], source[0], column, problems, c_rows)
    d_index = pd.Index(d_ids.to_numpy()).drop_duplicates()  # duplicates are reported above
    c_index = pd.Index(c_ids.to_numpy()).drop_duplicates()
    pd_idx = d_index.get_indexer(pd.Index(costs["demand_id"].astype(str)))
    pc_idx = c_index.get_indexer(pd.Index(costs["candidate_id"].astype(str)))
    for idx, field, name in ((pd_idx, "demand_id", source[1]), (pc_idx, "candidate_id", source[2])):
        for i in np.flatnonzero(idx < 0)[:10]:
            problems.append(Problem(source[0], int(c_rows[i]), field, _("{value!r} is not in {name}").format(
                                                                        value=costs[field].iloc[i], name=name),
                                    _("add it to {name} or remove the row.").format(name=name)))
    pair = pd.Series(pd_idx.astype(np.int64) * (len(c_index) + 1) + pc_idx.astype(np.int64))
    twice = np.flatnonzero(pair.duplicated().to_numpy() & (pd_idx >= 0) & (pc_idx >= 0))
    first = pd.Series(np.arange(len(pair))).groupby(pair.to_numpy()).transform("min").to_numpy()
    for i in twice[:10]:
        problems.append(Problem(source[0], int(c_rows[i]), "candidate_id", _(
                                    "the pair ({demand!r}, {candidate!r}) is given already on row {row} (costs "
                                    "{first:g} and {cost:g}).").format(
                                    demand=costs["demand_id"].iloc[i], candidate=costs["candidate_id"].iloc[i],
                                    row=int(c_rows[first[i]]), first=cost[first[i]], cost=cost[i]),
                                "keep one row per demand–candidate pair (the shortest route)."))
    if problems:
        raise SchemaError(problems)
    return CostTable(d_index.to_numpy(dtype=object), c_index.to_numpy(dtype=object), weights, capacity,
                     pd_idx.astype(np.int64), pc_idx.astype(np.int64), cost)


def _row_numbers(frame: pd.DataFrame, rows: ArrayLike | None) -> NDArray[np.int64]:
    """The row the user sees for each row of `frame`: `rows` as given, else the position + 2."""
    if rows is None:
        return np.arange(len(frame), dtype=np.int64) + 2
    out = np.asarray(rows, dtype=np.int64)
    if out.shape != (len(frame),):
        msg = _("`rows` must give one row number per row ({n_frame}), got {got}.").format(
                n_frame=len(frame), got=out.shape[0] if out.ndim else 0)
        raise ValueError(msg)
    return out


def _numbers(
    values: pd.Series, source: str, field: str, problems: list[Problem], rows: NDArray[np.int64],
) -> NDArray[np.float64]:
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(out) | (out < 0)
    for i in np.flatnonzero(bad)[:10]:
        value = values.iloc[i]
        shown = repr(value) if isinstance(value, str) else str(value)
        problems.append(Problem(source, int(rows[i]), field, _("{shown} is not a number ≥ 0").format(shown=shown),
                                "give a non-negative number."))
    return out


#: the coverage matrix of the last few (table, cutoff) pairs: a proposal reads its table's coverage seven times
#: (the model, its phase order, the gains of three weights, the covered weight before and after); the table is
#: kept with its entry, so its id cannot be reused while the entry lives
_COVER: dict[tuple[int, float], tuple[CostTable, sparse.csr_array]] = {}
_COVER_LOCK = threading.Lock()


def coverage_matrix(table: CostTable, cutoff: float) -> sparse.csr_array:
    """Sparse demand × candidate matrix of 1 where the cost is within `cutoff` (a new copy on every call)."""
    key = (id(table), float(cutoff))
    with _COVER_LOCK:  # proposals of different types run on several threads
        found = _COVER.get(key)
    if found is None:
        found = (table, _coverage_matrix(table, cutoff))
        with _COVER_LOCK:
            while len(_COVER) >= 4:
                _COVER.pop(next(iter(_COVER)))
            _COVER[key] = found
    return found[1].copy()


def _coverage_matrix(table: CostTable, cutoff: float) -> sparse.csr_array:
    keep = table.cost <= cutoff
    data = np.ones(int(keep.sum()), dtype=np.float64)
    matrix = sparse.coo_array((data, (table.pair_demand[keep], table.pair_candidate[keep])),
                              shape=(table.n_demand, table.n_candidates)).tocsr()
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def covered_rows(cover: sparse.csr_array | sparse.csc_array, open_sites: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The demand points within reach of any open site.

    Parameters
    ----------
    cover : scipy.sparse array
        Demand × candidate coverage (:func:`coverage_matrix`).
    open_sites : ndarray of bool
        A mask over the candidates.

    Returns
    -------
    ndarray of bool
        A mask over the demand points.

    Examples
    --------
    >>> cover = sparse.csr_array(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    >>> covered_rows(cover, np.array([True, False])).tolist()
    [True, False, False]
    """
    if not open_sites.any():
        return np.zeros(cover.shape[0], dtype=bool)
    return np.asarray(cover[:, np.flatnonzero(open_sites)].sum(axis=1)).ravel() > 0


def _gains_in_order(
    cover: sparse.csc_array, order: Sequence[int], covered: NDArray[np.bool_], weights: NDArray[np.float64],
) -> list[float]:
    """Weight each site of `order` adds to what `covered` already reaches, built one after the other: each demand
    point counts for the first site of `order` that reaches it (NaN weights count 0)."""
    if not len(order):
        return []
    sub = sparse.coo_array(sparse.csc_array(cover[:, list(order)]))
    first = np.full(cover.shape[0], len(order), dtype=np.int64)
    np.minimum.at(first, sub.row[sub.data > 0], sub.col[sub.data > 0])
    take = (first < len(order)) & ~covered
    return [float(g) for g in np.bincount(first[take], weights=np.nan_to_num(weights[take]), minlength=len(order))]


def marginal_gains(
    table: CostTable,
    order: Sequence[int],
    *,
    fixed: NDArray[np.bool_],
    cutoff: float,
    weights: NDArray[np.float64] | None = None,
) -> list[float]:
    """Demand weight each site adds within `cutoff` when the sites are built in `order`, after the fixed ones.

    Parameters
    ----------
    table : CostTable
    order : sequence of int
        Candidate indices, first built first.
    fixed : ndarray of bool
        Candidates open before any of `order` (existing facilities); what they reach adds nothing.
    cutoff : float
        Reach, in the cost's unit.
    weights : ndarray of float64, optional
        Weight of each demand point to add up (default the table's weights); NaN counts as 0.

    Returns
    -------
    list of float
        One gain per site of `order`.

    Examples
    --------
    >>> t = cost_table(pd.DataFrame({"demand_id": ["a", "b", "b"], "candidate_id": ["X", "X", "Y"], "m": [1, 1, 1]}),
    ...                pd.DataFrame({"demand_id": ["a", "b"], "weight": [5, 2]}),
    ...                pd.DataFrame({"candidate_id": ["X", "Y"]}))
    >>> marginal_gains(t, [1, 0], fixed=np.zeros(2, dtype=bool), cutoff=1)
    [2.0, 5.0]
    """
    cover = coverage_matrix(table, cutoff).tocsc()
    return _gains_in_order(cover, order, covered_rows(cover, fixed), table.weights if weights is None else weights)


def phase_order(
    table: CostTable, selected: NDArray[np.bool_], fixed: NDArray[np.bool_], cutoff: float,
) -> tuple[list[int], list[float]]:
    """Order the selected new sites by marginal covered weight, greedily, after the fixed ones.

    Returns
    -------
    order : list of int
        Candidate indices, first built first.
    gains : list of float
        Weight each adds when built in that order (:func:`marginal_gains`).
    """
    cover = coverage_matrix(table, cutoff).tocsc()
    before = covered_rows(cover, fixed)
    covered = before.copy()
    chosen = np.flatnonzero(selected & ~fixed)
    sub = sparse.csc_array(cover[:, chosen])
    by_site = sparse.csr_array(sub.T)
    done = np.zeros(len(chosen), dtype=bool)
    order = []
    for _step in range(len(chosen)):
        gain = by_site @ (table.weights * ~covered)  # one sparse product per step (p steps, not per pair)
        gain[done] = -np.inf
        k = int(np.argmax(gain))  # ties: the lowest candidate index
        done[k] = True
        order.append(int(chosen[k]))
        covered[sub.indices[sub.indptr[k]:sub.indptr[k + 1]]] = True
    return order, _gains_in_order(cover, order, before, table.weights)
