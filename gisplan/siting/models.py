"""Siting models on a long-form cost table, solved exactly with HiGHS (``highspy``, :mod:`gisplan.siting.highs`).

The cost table holds only the pairs that matter (demand, candidate, cost); coverage sets are sparse
matrices built from it, never a dense demand × candidate matrix. Existing facilities are candidates
that are always open (``fixed``): ``p`` counts the *new* sites. Every model returns a
:class:`SiteSelection` with HiGHS's status, objective, dual bound and MIP gap; with a time limit the best
solution found so far is returned with its gap, and is marked not exact.

The coverage models (MCLP, LSCP, one per unit) first apply the exact reductions of
:mod:`gisplan.siting.reduce` — rows the fixed sites reach leave as a constant, identical rows merge,
dominated candidates go — and start HiGHS from the greedy solution improved by swaps; an MCLP is then cut down
by Lagrangian fixing (:func:`gisplan.siting.reduce.lagrangian_fixing`: candidates whose Lagrangian bound is below
the best solution found go; the 永川 p = 25 MCLP fell from 2,705 candidates to 165, its solve from 3.5–4.4 s to
1.1 s of CPU, same objective). On the ten proposals
of the 永川 run this took the solves from 97 s to 30 s in one measurement under the same load (a busy 2-core
machine; the old figure quiet was 33 s), with the same objective values (``tests/test_reduce.py`` compares
them with the unreduced program solved by ``scipy.optimize.milp``).

Models:

* :func:`mclp` — maximal covering: p new sites that cover the most demand weight within ``cutoff``;
* :func:`lscp` — set covering: the fewest new sites that cover every coverable demand point, or a target
  share of the weight ("fewest new stations to reach 85 %");
* :func:`p_median` — p new sites minimising the weighted cost of every demand point to its nearest open site;
* :func:`capacitated_coverage` — MCLP where each site serves at most its capacity (households, 60+ …);
* :func:`one_per_unit` — one new site in each administrative unit that lacks one, placed where it covers most;
* :func:`best_in_each_unit` — the same for a facility that serves its own unit only (a village's 社会工作室):
  each unit's site covers the most of that unit's demand; the units do not interact, so the best site of each
  is found exactly by enumeration, without a MIP.

:func:`phase_order` orders the chosen sites by marginal gain (for a build programme over the plan period) with the
cumulative covered weight after each site. The cost table itself, its checks and the gains are in
:mod:`gisplan.siting.costs` (their names stay importable from here).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from gisplan.errors import InfeasibleError
from gisplan.i18n import _
from gisplan.progress import silent
from gisplan.siting.costs import (
    CostTable,
    cost_table,
    coverage_matrix,
    covered_rows,
    marginal_gains,
    phase_order,
)
from gisplan.siting.highs import Solved, solve_mip
from gisplan.siting.reduce import Reduced, greedy_cover, improve_by_swaps, lagrangian_fixing, reduce_coverage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from gisplan.progress import ProgressSink

__all__ = [
    "CostTable",
    "SiteSelection",
    "best_in_each_unit",
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


def _fixed_mask(table: CostTable, fixed: Sequence[str]) -> NDArray[np.bool_]:
    index = pd.Index(table.candidate_ids.astype(str))
    idx = index.get_indexer([str(f) for f in fixed])
    if (idx < 0).any():
        unknown = [str(f) for f, i in zip(fixed, idx, strict=True) if i < 0]
        msg = _("fixed site(s) {unknown} are not candidates; add them to the candidates.").format(
                unknown=', '.join(unknown[:5]))
        raise ValueError(msg)
    mask = np.zeros(table.n_candidates, dtype=bool)
    mask[idx] = True
    return mask


def _milp(  # noqa: PLR0913, PLR0917 - the parts of one program, then how to solve it
    c: NDArray[np.float64], integer: NDArray[np.bool_], lb: NDArray[np.float64], ub: NDArray[np.float64],
    blocks: list[tuple[sparse.csr_array, float | NDArray[np.float64], float | NDArray[np.float64]]],
    time_limit_s: float | None, start: NDArray[np.float64] | None = None, progress: ProgressSink = silent,
    stage: str = "solve",
) -> Solved:
    """Stack the constraint blocks ``(matrix, lower, upper)`` and solve with :func:`solve_mip`."""
    a = sparse.csr_array(sparse.vstack([m for m, _, _ in blocks], format="csr"))
    row_lb = np.concatenate([np.broadcast_to(np.asarray(lo, dtype=float), (m.shape[0],)) for m, lo, _ in blocks])
    row_ub = np.concatenate([np.broadcast_to(np.asarray(hi, dtype=float), (m.shape[0],)) for m, _, hi in blocks])
    return solve_mip(c, integer, lb, ub, a, row_lb, row_ub, start=start, time_limit_s=time_limit_s,
                     progress=progress, stage=stage)


def _result(  # noqa: PLR0913 - one answer's parts
    model: str, table: CostTable, x_sites: NDArray[np.float64], fixed: NDArray[np.bool_], cutoff: float | None,
    solved: Solved, started: float, *, sign: float = 1.0, constant: float = 0.0,
) -> SiteSelection:
    """The answer in the model's own sense: objective and bound are ``constant + sign * (HiGHS's)``, and the
    gap is measured on them (a maximised covered weight includes what the fixed sites reach)."""
    chosen = x_sites > 0.5
    objective, bound = constant + sign * solved.objective, constant + sign * solved.bound
    if constant == 0.0:
        gap = solved.gap
    else:
        gap = abs(bound - objective) / abs(objective) if objective else (0.0 if bound == objective else np.inf)
    if cutoff is not None:
        order, gains = phase_order(table, chosen, fixed, cutoff)
        cover = coverage_matrix(table, cutoff)
        covered_weight = float(table.weights[covered_rows(cover, chosen | fixed)].sum())
    else:
        order, gains, covered_weight = [int(j) for j in np.flatnonzero(chosen & ~fixed)], [], float("nan")
    result = SiteSelection(
        model=model, status=solved.status, exact=solved.exact, objective=objective, bound=bound, gap=gap,
        selected=tuple(str(table.candidate_ids[j]) for j in order),
        fixed=tuple(str(c) for c in table.candidate_ids[fixed]), covered_weight=covered_weight,
        total_weight=float(table.weights.sum()), seconds=time.perf_counter() - started, gains=tuple(gains),
    )
    logger.info("%s: %d new site(s), %s, objective %.6g, bound %.6g, gap %.2g, %.2f s", model, len(order),
                solved.status, objective, bound, gap, result.seconds)
    return result


def _p_row(n_vars: int, sites: NDArray[np.bool_]) -> sparse.csr_array:
    """One row summing the site variables marked in `sites` (the first ``len(sites)`` columns)."""
    row = np.zeros(n_vars)
    row[: len(sites)] = sites.astype(float)
    return sparse.csr_array(row[None, :])


def _check_p(p: int, fixed: NDArray[np.bool_]) -> None:
    if p < 0 or p > int((~fixed).sum()):
        msg = _("`p` must be between 0 and the {free} candidates that are not fixed (got {p}).").format(
                free=int((~fixed).sum()), p=p)
        raise ValueError(msg)


def _start(red: Reduced, p: int, *, groups: NDArray[np.int64] | None = None) -> NDArray[np.bool_]:
    """The warm start: greedy, then improved by single swaps."""
    return improve_by_swaps(red.cover, red.weights, greedy_cover(red.cover, red.weights, p, groups=groups),
                            groups=groups)


def _covering(
    red: Reduced, *, fixed: NDArray[np.bool_], extra: list[tuple[sparse.csr_array, float, float]],
    start_sites: NDArray[np.bool_], time_limit_s: float | None, progress: ProgressSink = silent, stage: str = "solve",
) -> tuple[NDArray[np.float64], Solved]:
    """Maximise the covered weight of a reduced instance: x (kept candidates, binary), y (rows, in [0, 1]),
    ``y_i <= sum_j a_ij x_j``, the `extra` rows on x; started from `start_sites`. Returns the site
    variables over all candidates (fixed ones 1) and HiGHS's answer (objective = − covered weight)."""
    a, w = red.cover, red.weights
    n_k, n_y = a.shape[1], a.shape[0]
    link = sparse.csr_array(sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr"))
    blocks: list[tuple[sparse.csr_array, float | NDArray[np.float64], float | NDArray[np.float64]]] = [
        (link, -np.inf, 0.0)]
    blocks += [(sparse.csr_array(sparse.hstack([m, sparse.csr_array((m.shape[0], n_y))], format="csr")), lo, hi)
               for m, lo, hi in extra]
    c = np.concatenate([np.zeros(n_k), -w])
    integer = np.concatenate([np.ones(n_k, dtype=bool), np.zeros(n_y, dtype=bool)])
    start = np.concatenate([start_sites.astype(float), np.minimum(1.0, a @ start_sites.astype(float))])
    solved = _milp(c, integer, np.zeros(n_k + n_y), np.ones(n_k + n_y), blocks, time_limit_s, start, progress, stage)
    x = fixed.astype(float)
    x[red.columns] = sites = np.rint(solved.x[:n_k])
    # the objective of the rounded sites, exactly (HiGHS's is within its feasibility tolerance of it)
    return x, replace(solved, objective=-float(w @ np.minimum(1.0, a @ sites)))


def mclp(
    table: CostTable, *, p: int, cutoff: float, fixed: Sequence[str] = (), time_limit_s: float | None = None,
    progress: ProgressSink = silent,
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
    red = reduce_coverage(coverage_matrix(table, cutoff), table.weights, fixed=fixed_mask, at_least=p)
    n_before = len(red.columns), red.cover.shape[0]
    fixing = lagrangian_fixing(red, p, _start(red, p))
    red = fixing.reduced
    n_k = len(red.columns)
    logger.info("mclp: p = %d; %d candidates, %d demand rows -> %d and %d after the exact reductions, %d and %d "
                "after Lagrangian fixing (bound %.6g, start %.6g)", p, table.n_candidates, table.n_demand,
                *n_before, n_k, red.cover.shape[0], fixing.bound + red.constant, fixing.incumbent + red.constant)
    x, solved = _covering(red, fixed=fixed_mask,
                          extra=[(_p_row(n_k, np.ones(n_k, dtype=bool)), p, p)],
                          start_sites=fixing.start, time_limit_s=time_limit_s, progress=progress, stage="mclp")
    return _result("mclp", table, x, fixed_mask, cutoff, solved, started, sign=-1.0, constant=red.constant)


def lscp(
    table: CostTable, *, cutoff: float, share: float = 1.0, fixed: Sequence[str] = (),
    time_limit_s: float | None = None, progress: ProgressSink = silent,
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
        msg = _("`share` must be in (0, 1] (got {share}).").format(share=share)
        raise ValueError(msg)
    fixed_mask = _fixed_mask(table, fixed)
    cover = coverage_matrix(table, cutoff)
    coverable = np.asarray(cover.sum(axis=1)).ravel() > 0
    red = reduce_coverage(cover, table.weights, fixed=fixed_mask)
    a, w = red.cover, red.weights
    n_k, n_y = a.shape[1], a.shape[0]
    logger.info("lscp: share %.4g; %d candidates, %d demand rows -> %d and %d after the exact reductions", share,
                table.n_candidates, table.n_demand, n_k, n_y)
    if share >= 1:
        start = greedy_cover(a, w, n_k, need=float(w.sum()))
        solved = _milp(np.ones(n_k), np.ones(n_k, dtype=bool), np.zeros(n_k), np.ones(n_k), [(a, 1.0, np.inf)],
                       time_limit_s, start.astype(float), progress, "lscp")
    else:
        need = share * float(table.weights.sum())
        if float(table.weights[coverable].sum()) < need - 1e-9:
            msg = (_("no set of candidates covers {share:.1%} of the weight within {cutoff:g}: at most {coverable:.1%} "
                     "is coverable; add candidates.").format(
                     share=share, cutoff=cutoff, coverable=table.weights[coverable].sum() / table.weights.sum()))
            raise InfeasibleError(msg)
        need_new = need - red.constant  # what the fixed sites reach counts towards the share
        start = greedy_cover(a, w, n_k, need=need_new)
        link = sparse.csr_array(sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr"))
        target = sparse.csr_array(np.concatenate([np.zeros(n_k), w])[None, :])
        integer = np.concatenate([np.ones(n_k, dtype=bool), np.zeros(n_y, dtype=bool)])
        solved = _milp(np.concatenate([np.ones(n_k), np.zeros(n_y)]), integer, np.zeros(n_k + n_y),
                       np.ones(n_k + n_y), [(link, -np.inf, 0.0), (target, need_new, np.inf)], time_limit_s,
                       np.concatenate([start.astype(float), np.minimum(1.0, a @ start.astype(float))]), progress,
                       "lscp")
    x = fixed_mask.astype(float)
    x[red.columns] = sites = np.rint(solved.x[:n_k])
    solved = replace(solved, objective=float(sites.sum()))  # a count, exactly
    return _result("lscp", table, x, fixed_mask, cutoff, solved, started)


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
        msg = (_("{n_orphans} demand point(s) have no cost to any candidate (e.g. {demand_ids}); p-median must "
                 "assign everyone: add their costs or drop them.").format(
                 n_orphans=len(orphans), demand_ids=table.demand_ids[orphans[0]]))
        raise InfeasibleError(msg)
    n_c, n_z = table.n_candidates, len(table.cost)
    c = np.concatenate([np.zeros(n_c), table.weights[table.pair_demand] * table.cost])
    z = np.arange(n_z)
    assign = sparse.csr_array((np.ones(n_z), (table.pair_demand, n_c + z)), shape=(table.n_demand, n_c + n_z))
    link = sparse.csr_array((np.concatenate([np.ones(n_z), -np.ones(n_z)]),
                             (np.concatenate([z, z]), np.concatenate([n_c + z, table.pair_candidate]))),
                            shape=(n_z, n_c + n_z))  # z_ij - x_j <= 0
    blocks: list[tuple[sparse.csr_array, float | NDArray[np.float64], float | NDArray[np.float64]]] = [
        (assign, 1.0, 1.0), (link, -np.inf, 0.0), (_p_row(n_c + n_z, ~fixed_mask), p, p)]
    lb = np.concatenate([fixed_mask.astype(float), np.zeros(n_z)])
    integer = np.concatenate([np.ones(n_c, dtype=bool), np.zeros(n_z, dtype=bool)])
    solved = _milp(c, integer, lb, np.ones(n_c + n_z), blocks, time_limit_s)
    return _result("p_median", table, solved.x[:n_c], fixed_mask, None, solved, started)


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
        msg = _("capacitated coverage needs a `capacity` column in the candidates.")
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
    blocks: list[tuple[sparse.csr_array, float | NDArray[np.float64], float | NDArray[np.float64]]] = [
        (once, -np.inf, 1.0), (cap, -np.inf, 0.0), (_p_row(n_c + n_z, ~fixed_mask), p, p)]
    lb = np.concatenate([fixed_mask.astype(float), np.zeros(n_z)])
    integer = np.concatenate([np.ones(n_c, dtype=bool), np.zeros(n_z, dtype=bool)])
    solved = _milp(c, integer, lb, np.ones(n_c + n_z), blocks, time_limit_s)
    result = _result("capacitated_coverage", table, solved.x[:n_c], fixed_mask, cutoff, solved, started,
                     sign=-1.0)
    return replace(result, covered_weight=float(w @ solved.x[n_c:]))


def one_per_unit(
    table: CostTable, unit_of_candidate: Sequence[str | None], units_lacking: Sequence[str], *, cutoff: float,
    fixed: Sequence[str] = (), count: int | None = None, time_limit_s: float | None = None,
    progress: ProgressSink = silent,
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
    units = _unit_text(unit_of_candidate)
    empty = [u for u in units_lacking if not (units == str(u)).any()]
    if empty:
        msg = _("unit(s) {empty} lack a facility but have no candidate site; add candidates.").format(
                empty=', '.join(map(str, empty[:5])))
        raise InfeasibleError(msg)
    lacking = [str(u) for u in units_lacking]
    group = pd.Index(lacking).drop_duplicates().get_indexer(pd.Index(units)).astype(np.int64)  # -1: not a lacking unit
    allowed = group >= 0  # no new site outside the lacking units
    k = len(set(lacking)) if count is None else min(count, len(set(lacking)))
    red = reduce_coverage(coverage_matrix(table, cutoff), table.weights, fixed=fixed_mask, allowed=allowed,
                          groups=group)
    g = group[red.columns]
    n_k = len(red.columns)
    logger.info("one_per_unit: %d of %d lacking units; %d candidates, %d demand rows -> %d and %d after the exact "
                "reductions", k, len(set(lacking)), table.n_candidates, table.n_demand, n_k, red.cover.shape[0])
    extra: list[tuple[sparse.csr_array, float, float]] = []
    if n_k:
        member = sparse.csr_array((np.ones(n_k), (g, np.arange(n_k))), shape=(int(g.max()) + 1, n_k))
        if count is None or count >= len(set(lacking)):
            extra.append((member, 1.0, 1.0))
        else:  # at most one per unit, `count` in all
            extra += [(member, 0.0, 1.0), (_p_row(n_k, np.ones(n_k, dtype=bool)), float(count), float(count))]
    x, solved = _covering(red, fixed=fixed_mask, extra=extra,
                          start_sites=_start(red, k, groups=g), time_limit_s=time_limit_s, progress=progress,
                          stage="one_per_unit")
    return _result("one_per_unit", table, x, fixed_mask, cutoff, solved, started, sign=-1.0, constant=red.constant)


def _unit_text(units: Sequence[str | None]) -> NDArray[np.object_]:
    """Each unit as text, None as "" (vectorised: the demand of a district has tens of thousands of rows)."""
    values = np.empty(len(units), dtype=object)
    values[:] = list(units) if not isinstance(units, np.ndarray) else units
    none = np.asarray(values == None, dtype=bool)  # noqa: E711 - elementwise, in numpy
    out = values.astype(str).astype(object)
    out[none] = ""
    return out


def best_in_each_unit(
    table: CostTable, unit_of_candidate: Sequence[str | None], units_lacking: Sequence[str],
    unit_of_demand: Sequence[str | None], *, cutoff: float, fixed: Sequence[str] = (), count: int | None = None,
) -> SiteSelection:
    """One new site in every unit that lacks one (or in the `count` units where it reaches most), each chosen to
    reach the most of its own unit's demand weight within `cutoff` not already reached by a fixed site.

    The objective is a sum over units of terms that depend only on that unit's site (each demand row belongs to
    one unit), so the best site of each unit, found by enumerating its candidates, is the exact optimum: the
    answer is reported ``Optimal`` with bound = objective and gap 0.

    Examples
    --------
    >>> t = cost_table(pd.DataFrame({"demand_id": ["a", "b", "c"], "candidate_id": ["X", "Y", "Y"],
    ...                              "m": [5, 5, 5]}),
    ...                pd.DataFrame({"demand_id": ["a", "b", "c"], "weight": [5, 1, 1]}),
    ...                pd.DataFrame({"candidate_id": ["X", "Y"]}))
    >>> r = best_in_each_unit(t, ["u", "u"], ["u"], ["u", "u", "v"], cutoff=10)
    >>> r.selected, r.objective
    (('X',), 5.0)
    """
    started = time.perf_counter()
    fixed_mask = _fixed_mask(table, fixed)
    cunit, dunit = _unit_text(unit_of_candidate), _unit_text(unit_of_demand)
    lacking = pd.Index([str(u) for u in units_lacking]).drop_duplicates()
    empty = [u for u in lacking if not ((cunit == u) & ~fixed_mask).any()]
    if empty:
        msg = _("unit(s) {empty} lack a facility but have no candidate site; add candidates.").format(
                empty=', '.join(map(str, empty[:5])))
        raise InfeasibleError(msg)
    cover = coverage_matrix(table, cutoff)
    reached = covered_rows(cover, fixed_mask)
    # own[i, j]: row i is in candidate j's unit and not reached by a fixed site
    coo = sparse.coo_array(cover)
    same = (dunit[coo.row] == cunit[coo.col]) & ~reached[coo.row]
    gain = np.bincount(coo.col[same], weights=table.weights[coo.row[same]], minlength=table.n_candidates)
    group = lacking.get_indexer(pd.Index(cunit))
    ok = (group >= 0) & ~fixed_mask
    frame = pd.DataFrame({"j": np.flatnonzero(ok), "g": group[ok], "gain": gain[ok]})
    best = frame.sort_values(["g", "gain", "j"], ascending=[True, False, True]).groupby("g").head(1)
    k = len(best) if count is None else min(count, len(best))
    best = best.sort_values(["gain", "g"], ascending=[False, True]).head(k)
    chosen = np.zeros(table.n_candidates, dtype=bool)
    chosen[best["j"].to_numpy()] = True
    objective = float(best["gain"].sum())
    solved = Solved(x=chosen.astype(float), status="Optimal", exact=True, objective=objective, bound=objective,
                    gap=0.0)
    logger.info("best_in_each_unit: %d of %d lacking units; %d candidates, %d demand rows", k, len(lacking),
                table.n_candidates, table.n_demand)
    return _result("best_in_each_unit", table, chosen.astype(float) + fixed_mask, fixed_mask, cutoff, solved,
                   started)
