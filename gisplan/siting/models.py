"""Siting models on a long-form cost table, solved exactly with HiGHS (scipy.optimize.milp).

The cost table holds only the pairs that matter (demand, candidate, cost); coverage sets are sparse
matrices built from it, never a dense demand × candidate matrix. Existing facilities are candidates
that are always open (``fixed``): ``p`` counts the *new* sites. Every model returns a
:class:`SiteSelection` with HiGHS's status, objective, dual bound and MIP gap; with a time limit the best
solution found so far is returned with its gap, and is marked not exact.

Models:

* :func:`mclp` — maximal covering: p new sites that cover the most demand weight within ``cutoff``;
* :func:`lscp` — set covering: the fewest new sites that cover every coverable demand point, or a target
  share of the weight ("fewest new stations to reach 85 %");
* :func:`p_median` — p new sites minimising the weighted cost of every demand point to its nearest open site;
* :func:`capacitated_coverage` — MCLP where each site serves at most its capacity (households, 60+ …);
* :func:`one_per_unit` — one new site in each administrative unit that lacks one, placed where it covers most.

:func:`phase_order` orders the chosen sites by marginal gain (for a 2021–2025 build programme) with the
cumulative covered weight after each site. The cost table itself, its checks and the gains are in
:mod:`gisplan.siting.costs` (their names stay importable from here).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from gisplan.errors import InfeasibleError
from gisplan.siting.costs import (
    CostTable,
    cost_table,
    coverage_matrix,
    covered_rows,
    marginal_gains,
    phase_order,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = [
    "CostTable",
    "SiteSelection",
    "capacitated_coverage",
    "cost_table",
    "coverage_matrix",
    "covered_rows",
    "lscp",
    "marginal_gains",
    "mclp",
    "one_per_unit",
    "p_median",
    "phase_order",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteSelection:
    """A siting model's answer.

    Attributes
    ----------
    model : str
    status : str
        HiGHS's status text (``Optimal``, ``Time limit reached`` …).
    exact : bool
        True when solved to optimality (gap 0 within tolerance).
    objective, bound, gap : float
        Objective of the solution, HiGHS's dual bound, and the relative MIP gap.
    selected : tuple of str
        The new sites, in phased order (largest marginal gain first).
    fixed : tuple of str
        Existing sites kept open.
    covered_weight, total_weight : float
        Demand weight within the cutoff of an open site (coverage models), and all demand weight.
    seconds : float
    gains : tuple of float
        Weight each new site adds, in the order of ``selected``.
    """

    model: str
    status: str
    exact: bool
    objective: float
    bound: float
    gap: float
    selected: tuple[str, ...]
    fixed: tuple[str, ...]
    covered_weight: float
    total_weight: float
    seconds: float
    gains: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The fields of ``result.json``."""
        return {
            "model": self.model, "status": self.status, "exact": self.exact, "objective": self.objective,
            "bound": self.bound, "gap": self.gap, "selected": list(self.selected), "fixed": list(self.fixed),
            "covered_weight": self.covered_weight, "total_weight": self.total_weight,
            "seconds": round(self.seconds, 3), "gains": list(self.gains),
        }


def _distinct_rows(
    cover: sparse.csr_array, weights: NDArray[np.float64],
) -> tuple[sparse.csr_array, NDArray[np.float64]]:
    """Merge demand rows with the same coverage set (summing their weights), and drop rows no site covers.

    Points along one road or in one block usually share a coverage set: the model then has one row per
    distinct set, which is exact and often many times smaller. Sets are told apart by two random
    projections and the set size (equal sums of different random subsets are, in practice, impossible).
    """
    nnz = np.diff(cover.indptr)
    rng = np.random.default_rng(0)
    h = cover @ rng.random((cover.shape[1], 2))
    keep = np.flatnonzero(nnz > 0)
    key = pd.DataFrame({"a": h[keep, 0], "b": h[keep, 1], "n": nnz[keep]})
    group = pd.factorize(pd.MultiIndex.from_frame(key))[0]
    order = np.unique(group, return_index=True)[1]
    merged = np.bincount(group, weights[keep], len(order)).astype(np.float64)
    return cover[keep[order]], merged


def _fixed_mask(table: CostTable, fixed: Sequence[str]) -> NDArray[np.bool_]:
    index = pd.Index(table.candidate_ids.astype(str))
    idx = index.get_indexer([str(f) for f in fixed])
    if (idx < 0).any():
        unknown = [str(f) for f, i in zip(fixed, idx, strict=True) if i < 0]
        msg = f"fixed site(s) {', '.join(unknown[:5])} are not candidates; add them to the candidates."
        raise ValueError(msg)
    mask = np.zeros(table.n_candidates, dtype=bool)
    mask[idx] = True
    return mask


def _solve(
    c: NDArray[np.float64], integrality: NDArray[np.int_], bounds: Bounds, constraints: list[LinearConstraint],
    time_limit_s: float | None,
) -> tuple[NDArray[np.float64] | None, str, bool, float, float, float]:
    """Run HiGHS; return (x, status text, exact, objective, dual bound, gap)."""
    options: dict[str, object] = {"disp": False, "mip_rel_gap": 1e-9}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    res = milp(c, integrality=integrality, bounds=bounds, constraints=constraints, options=options)
    if res.x is None:
        msg = f"the model has no solution: {res.message}"
        raise InfeasibleError(msg)
    bound = float(getattr(res, "mip_dual_bound", np.nan))
    gap = float(getattr(res, "mip_gap", np.nan))
    exact = res.status == 0
    found = re.search(r"HiGHS Status \d+: ([^)]*)", str(res.message))
    return res.x, found.group(1) if found else str(res.message), exact, float(res.fun), bound, gap


def _result(
    model: str, table: CostTable, x_sites: NDArray[np.float64], fixed: NDArray[np.bool_], cutoff: float | None,
    solved: tuple[NDArray[np.float64] | None, str, bool, float, float, float], started: float, *, sign: float = 1.0,
) -> SiteSelection:
    _, status, exact, objective, bound, gap = solved
    chosen = x_sites > 0.5
    if cutoff is not None:
        order, gains = phase_order(table, chosen, fixed, cutoff)
        cover = coverage_matrix(table, cutoff)
        covered_weight = float(table.weights[covered_rows(cover, chosen | fixed)].sum())
    else:
        order, gains, covered_weight = [int(j) for j in np.flatnonzero(chosen & ~fixed)], [], float("nan")
    return SiteSelection(
        model=model, status=status, exact=exact, objective=sign * objective, bound=sign * bound, gap=gap,
        selected=tuple(str(table.candidate_ids[j]) for j in order),
        fixed=tuple(str(c) for c in table.candidate_ids[fixed]), covered_weight=covered_weight,
        total_weight=float(table.weights.sum()), seconds=time.perf_counter() - started, gains=tuple(gains),
    )


def _p_constraint(n_vars: int, n_sites: int, fixed: NDArray[np.bool_], p: int) -> LinearConstraint:
    row = np.zeros(n_vars)
    row[:n_sites] = (~fixed).astype(float)
    return LinearConstraint(sparse.csr_array(row[None, :]), p, p)


def _check_p(p: int, fixed: NDArray[np.bool_]) -> None:
    if p < 0 or p > int((~fixed).sum()):
        msg = f"`p` must be between 0 and the {int((~fixed).sum())} candidates that are not fixed (got {p})."
        raise ValueError(msg)


def mclp(
    table: CostTable, *, p: int, cutoff: float, fixed: Sequence[str] = (), time_limit_s: float | None = None,
) -> SiteSelection:
    """Maximal covering location: `p` new sites maximising the demand weight within `cutoff`.

    Examples
    --------
    >>> t = cost_table(pd.DataFrame({"demand_id": ["a", "b", "c"], "candidate_id": ["X", "Y", "Y"],
    ...                              "m": [100, 50, 80]}),
    ...                pd.DataFrame({"demand_id": ["a", "b", "c"], "weight": [5, 1, 1]}),
    ...                pd.DataFrame({"candidate_id": ["X", "Y"]}))
    >>> r = mclp(t, p=1, cutoff=100)
    >>> r.selected, r.objective
    (('X',), 5.0)
    """
    started = time.perf_counter()
    fixed_mask = _fixed_mask(table, fixed)
    _check_p(p, fixed_mask)
    a, w = _distinct_rows(coverage_matrix(table, cutoff), table.weights)  # uncoverable demand: y = 0, dropped
    n_c, n_y = table.n_candidates, a.shape[0]
    c = np.concatenate([np.zeros(n_c), -w])
    link = sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr")  # y_i - sum_j a_ij x_j <= 0
    constraints = [LinearConstraint(link, -np.inf, 0.0), _p_constraint(n_c + n_y, n_c, fixed_mask, p)]
    lb = np.concatenate([fixed_mask.astype(float), np.zeros(n_y)])
    integrality = np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_y, dtype=int)])
    solved = _solve(c, integrality, Bounds(lb, np.ones(n_c + n_y)), constraints, time_limit_s)
    assert solved[0] is not None
    return _result("mclp", table, solved[0][:n_c], fixed_mask, cutoff, solved, started, sign=-1.0)


def lscp(
    table: CostTable, *, cutoff: float, share: float = 1.0, fixed: Sequence[str] = (),
    time_limit_s: float | None = None,
) -> SiteSelection:
    """Set covering: the fewest new sites so that `share` of the demand weight is within `cutoff`.

    With ``share = 1`` every demand point that some candidate can cover is covered (points no candidate
    reaches are left out and reported through ``covered_weight``).

    Raises
    ------
    InfeasibleError
        If even every candidate together cannot reach `share`.
    """
    started = time.perf_counter()
    if not 0 < share <= 1:
        msg = f"`share` must be in (0, 1] (got {share})."
        raise ValueError(msg)
    fixed_mask = _fixed_mask(table, fixed)
    cover = coverage_matrix(table, cutoff)
    coverable = np.asarray(cover.sum(axis=1)).ravel() > 0
    n_c = table.n_candidates
    lb = fixed_mask.astype(float)
    a, w = _distinct_rows(cover, table.weights)
    if share >= 1:
        c = (~fixed_mask).astype(float)
        constraints = [LinearConstraint(a, 1.0, np.inf)]
        solved = _solve(c, np.ones(n_c, dtype=int), Bounds(lb, np.ones(n_c)), constraints, time_limit_s)
    else:
        need = share * float(table.weights.sum())
        if float(table.weights[coverable].sum()) < need - 1e-9:
            msg = (f"no set of candidates covers {share:.1%} of the weight within {cutoff:g}: at most "
                   f"{table.weights[coverable].sum() / table.weights.sum():.1%} is coverable; add candidates.")
            raise InfeasibleError(msg)
        n_y = a.shape[0]
        c = np.concatenate([(~fixed_mask).astype(float), np.zeros(n_y)])
        link = sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr")
        target = sparse.csr_array(np.concatenate([np.zeros(n_c), w])[None, :])
        constraints = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(target, need, np.inf)]
        integrality = np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_y, dtype=int)])
        solved = _solve(c, integrality, Bounds(np.concatenate([lb, np.zeros(n_y)]), np.ones(n_c + n_y)),
                        constraints, time_limit_s)
    assert solved[0] is not None
    return _result("lscp", table, solved[0][:n_c], fixed_mask, cutoff, solved, started)


def p_median(
    table: CostTable, *, p: int, fixed: Sequence[str] = (), time_limit_s: float | None = None,
) -> SiteSelection:
    """p-median: `p` new sites minimising the weighted cost of every demand point to its nearest open site.

    Only the pairs in the table are allowed assignments (a sparse table is a cutoff).

    Raises
    ------
    InfeasibleError
        If some demand point has no pair at all.
    """
    started = time.perf_counter()
    fixed_mask = _fixed_mask(table, fixed)
    _check_p(p, fixed_mask)
    orphans = np.setdiff1d(np.arange(table.n_demand), table.pair_demand)
    if len(orphans):
        msg = (f"{len(orphans)} demand point(s) have no cost to any candidate (e.g. {table.demand_ids[orphans[0]]}); "
               "p-median must assign everyone: add their costs or drop them.")
        raise InfeasibleError(msg)
    n_c, n_z = table.n_candidates, len(table.cost)
    c = np.concatenate([np.zeros(n_c), table.weights[table.pair_demand] * table.cost])
    z = np.arange(n_z)
    assign = sparse.csr_array((np.ones(n_z), (table.pair_demand, n_c + z)), shape=(table.n_demand, n_c + n_z))
    link = sparse.csr_array((np.concatenate([np.ones(n_z), -np.ones(n_z)]),
                             (np.concatenate([z, z]), np.concatenate([n_c + z, table.pair_candidate]))),
                            shape=(n_z, n_c + n_z))  # z_ij - x_j <= 0
    constraints = [LinearConstraint(assign, 1.0, 1.0), LinearConstraint(link, -np.inf, 0.0),
                   _p_constraint(n_c + n_z, n_c, fixed_mask, p)]
    lb = np.concatenate([fixed_mask.astype(float), np.zeros(n_z)])
    integrality = np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_z, dtype=int)])
    solved = _solve(c, integrality, Bounds(lb, np.ones(n_c + n_z)), constraints, time_limit_s)
    assert solved[0] is not None
    return _result("p_median", table, solved[0][:n_c], fixed_mask, None, solved, started)


def capacitated_coverage(
    table: CostTable, *, p: int, cutoff: float, fixed: Sequence[str] = (), time_limit_s: float | None = None,
) -> SiteSelection:
    """MCLP with capacities: each open site serves at most its ``capacity`` of weight within `cutoff`.

    Demand may be split between sites. ``covered_weight`` is the weight actually served.

    Raises
    ------
    ValueError
        If the table has no capacities.
    """
    if table.capacity is None:
        msg = "capacitated coverage needs a `capacity` column in the candidates."
        raise ValueError(msg)
    started = time.perf_counter()
    fixed_mask = _fixed_mask(table, fixed)
    _check_p(p, fixed_mask)
    keep = table.cost <= cutoff
    pd_, pc_ = table.pair_demand[keep], table.pair_candidate[keep]
    n_c, n_z = table.n_candidates, len(pd_)
    z = np.arange(n_z)
    w = table.weights[pd_]
    c = np.concatenate([np.zeros(n_c), -w])
    once = sparse.csr_array((np.ones(n_z), (pd_, n_c + z)), shape=(table.n_demand, n_c + n_z))  # sum_j z_ij <= 1
    cap = sparse.csr_array((np.concatenate([w, -table.capacity]),
                            (np.concatenate([pc_, np.arange(n_c)]), np.concatenate([n_c + z, np.arange(n_c)]))),
                           shape=(n_c, n_c + n_z))  # sum_i w_i z_ij - cap_j x_j <= 0
    constraints = [LinearConstraint(once, -np.inf, 1.0), LinearConstraint(cap, -np.inf, 0.0),
                   _p_constraint(n_c + n_z, n_c, fixed_mask, p)]
    lb = np.concatenate([fixed_mask.astype(float), np.zeros(n_z)])
    integrality = np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_z, dtype=int)])
    solved = _solve(c, integrality, Bounds(lb, np.ones(n_c + n_z)), constraints, time_limit_s)
    assert solved[0] is not None
    result = _result("capacitated_coverage", table, solved[0][:n_c], fixed_mask, cutoff, solved, started,
                     sign=-1.0)
    return replace(result, covered_weight=float(w @ solved[0][n_c:]))


def one_per_unit(
    table: CostTable, unit_of_candidate: Sequence[str | None], units_lacking: Sequence[str], *, cutoff: float,
    fixed: Sequence[str] = (), count: int | None = None, time_limit_s: float | None = None,
) -> SiteSelection:
    """One new site in every unit that lacks one (or in `count` of them), chosen jointly to cover the most
    demand weight.

    Raises
    ------
    InfeasibleError
        If a lacking unit has no candidate; the message names it.
    """
    started = time.perf_counter()
    fixed_mask = _fixed_mask(table, fixed)
    units = np.asarray([str(u) if u is not None else "" for u in unit_of_candidate], dtype=object)
    empty = [u for u in units_lacking if not (units == str(u)).any()]
    if empty:
        msg = f"unit(s) {', '.join(map(str, empty[:5]))} lack a facility but have no candidate site; add candidates."
        raise InfeasibleError(msg)
    a, w = _distinct_rows(coverage_matrix(table, cutoff), table.weights)
    n_c, n_y = table.n_candidates, a.shape[0]
    c = np.concatenate([np.zeros(n_c), -w])
    link = sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr")
    lacking = [str(u) for u in units_lacking]
    member = sparse.csr_array(np.stack([np.concatenate([(units == u) & ~fixed_mask, np.zeros(n_y, bool)])
                                        for u in lacking]).astype(float)) if lacking else None
    constraints = [LinearConstraint(link, -np.inf, 0.0)]
    if member is not None:
        if count is None or count >= len(lacking):
            constraints.append(LinearConstraint(member, 1.0, 1.0))
        else:  # at most one per unit, `count` in all
            constraints.append(LinearConstraint(member, 0.0, 1.0))
            constraints.append(_p_constraint(n_c + n_y, n_c, fixed_mask, count))
    # no new site outside the lacking units
    ub = np.concatenate([np.where(np.isin(units, lacking) | fixed_mask, 1.0, 0.0), np.ones(n_y)])
    lb = np.concatenate([fixed_mask.astype(float), np.zeros(n_y)])
    integrality = np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_y, dtype=int)])
    solved = _solve(c, integrality, Bounds(lb, ub), constraints, time_limit_s)
    assert solved[0] is not None
    return _result("one_per_unit", table, solved[0][:n_c], fixed_mask, cutoff, solved, started, sign=-1.0)
