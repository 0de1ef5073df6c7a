"""The exact reductions and the warm start of the coverage models (issue 17): the same objective as the
formulation before them — the unreduced program solved by ``scipy.optimize.milp``, kept here as it was — on
random instances with fixed sites and dominated candidates, and on the proposals of the real 永川 run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

import gisplan.siting.proposals as proposals_module
from gisplan import settings
from gisplan.catalogue import load_catalogue
from gisplan.config import load_scenario
from gisplan.errors import ConfigError
from gisplan.siting.costs import CostTable, coverage_matrix
from gisplan.siting.models import best_in_each_unit, lscp, mclp, one_per_unit
from gisplan.siting.reduce import (
    distinct_rows,
    drop_dominated,
    greedy_cover,
    improve_by_swaps,
    lagrangian_fixing,
    reduce_coverage,
)
from gisplan.store import open_workspace
from gisplan.workflows.plan import run_scenario

if TYPE_CHECKING:
    from pathlib import Path


def _old_rows(cover: sparse.csr_array, w: np.ndarray) -> tuple[sparse.csr_array, np.ndarray]:
    """The row merging of the code before issue 17 (demand rows with the same set; uncovered rows dropped)."""
    nnz = np.diff(cover.indptr)
    h = cover @ np.random.default_rng(0).random((cover.shape[1], 2))
    keep = np.flatnonzero(nnz > 0)
    group = pd.factorize(pd.MultiIndex.from_frame(pd.DataFrame({"a": h[keep, 0], "b": h[keep, 1],
                                                                "n": nnz[keep]})))[0]
    order = np.unique(group, return_index=True)[1]
    return sparse.csr_array(cover[keep[order]]), np.bincount(group, w[keep], len(order))


def old_objective(model: str, table: CostTable, *, cutoff: float, fixed: np.ndarray, p: int | None = None,
                  share: float = 1.0, units: np.ndarray | None = None, lacking: tuple[str, ...] = ()) -> float:
    """The objective of the formulation before issue 17: every candidate a column (fixed ones at 1), every
    distinct demand row a row, solved by scipy.optimize.milp (HiGHS, no start, default options)."""
    a, w = _old_rows(coverage_matrix(table, cutoff), table.weights)
    n_c, n_y = table.n_candidates, a.shape[0]
    free = (~fixed).astype(float)
    link = sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr")
    lb = np.concatenate([fixed.astype(float), np.zeros(n_y)])
    ub = np.ones(n_c + n_y)
    integrality = np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_y, dtype=int)])
    cons = [LinearConstraint(link, -np.inf, 0.0)]
    c = np.concatenate([np.zeros(n_c), -w])
    if model == "mclp":
        cons.append(LinearConstraint(np.concatenate([free, np.zeros(n_y)])[None, :], p, p))
    elif model == "lscp":
        c = np.concatenate([free, np.zeros(n_y)])
        cons.append(LinearConstraint(np.concatenate([np.zeros(n_c), w])[None, :], share * table.weights.sum(), np.inf))
    else:
        assert units is not None
        member = np.stack([np.concatenate([(units == u) & ~fixed, np.zeros(n_y, bool)]) for u in lacking])
        if p is None or p >= len(lacking):
            cons.append(LinearConstraint(member.astype(float), 1.0, 1.0))
        else:
            cons += [LinearConstraint(member.astype(float), 0.0, 1.0),
                     LinearConstraint(np.concatenate([free, np.zeros(n_y)])[None, :], p, p)]
        ub[:n_c] = np.where(np.isin(units, lacking) | fixed, 1.0, 0.0)
    res = milp(c, integrality=integrality, bounds=Bounds(lb, ub), constraints=cons,
               options={"disp": False, "mip_rel_gap": 1e-9})
    assert res.status == 0, res.message
    return float(res.fun) if model == "lscp" else -float(res.fun)


def clustered_table(seed: int, n_d: int = 300, n_c: int = 60) -> CostTable:
    """Demand and candidates in a 3 km square, metres as the crow flies within 800 m: many candidates
    reach subsets of their neighbours' sets, many demand points share a set."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 3000, (n_d, 2)).round(-2)  # on a 100 m grid: repeated sets
    c = np.concatenate([rng.uniform(0, 3000, (n_c - 10, 2)), d[rng.integers(0, n_d, 10)] + 1.0])
    dist = np.hypot(d[:, None, 0] - c[None, :, 0], d[:, None, 1] - c[None, :, 1])
    i, j = np.nonzero(dist <= 800)
    return CostTable(np.array([f"d{k}" for k in range(n_d)], dtype=object),
                     np.array([f"c{k}" for k in range(n_c)], dtype=object),
                     rng.integers(1, 60, n_d).astype(float), None, i.astype(np.int64), j.astype(np.int64),
                     dist[i, j])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_models_equal_the_unreduced_formulation(seed: int) -> None:
    table = clustered_table(seed)
    fixed = np.zeros(table.n_candidates, dtype=bool)
    fixed[:4] = True
    fixed_ids = list(table.candidate_ids[:4])
    red = reduce_coverage(coverage_matrix(table, 600), table.weights, fixed=fixed)
    assert len(red.columns) < table.n_candidates - 4  # the reductions do drop candidates here
    for p in (1, 3, 8):
        new = mclp(table, p=p, cutoff=600, fixed=fixed_ids)
        assert new.exact
        assert new.objective == pytest.approx(old_objective("mclp", table, cutoff=600, fixed=fixed, p=p), rel=1e-9)
    for share in (0.6, 0.9, 1.0):
        new = lscp(table, cutoff=600, share=share, fixed=fixed_ids)
        need = share * table.weights.sum() if share < 1 else None
        if need is None:  # share 1: every coverable row, which the old code wrote as a covering constraint
            a, _ = _old_rows(coverage_matrix(table, 600), table.weights)
            res = milp(~fixed * 1.0, integrality=np.ones(table.n_candidates), bounds=Bounds(fixed * 1.0, 1),
                       constraints=[LinearConstraint(a, 1, np.inf)], options={"mip_rel_gap": 1e-9})
            assert new.objective == pytest.approx(res.fun)
        else:
            assert new.objective == pytest.approx(old_objective("lscp", table, cutoff=600, fixed=fixed,
                                                                share=share))
    units = np.array([f"u{int(k) % 5}" for k in range(table.n_candidates)], dtype=object)
    units[fixed] = ""
    for count in (None, 2):
        new = one_per_unit(table, list(units), ["u0", "u1", "u3"], cutoff=600, fixed=fixed_ids, count=count)
        old = old_objective("one_per_unit", table, cutoff=600, fixed=fixed, p=count, units=units,
                            lacking=("u0", "u1", "u3"))
        assert new.objective == pytest.approx(old, rel=1e-9)


def _distinct_rows_before(cover: sparse.csr_array, weights: np.ndarray) -> tuple[sparse.csr_array, np.ndarray]:
    """distinct_rows as it was before issue 17: the keys factorized by pandas as a MultiIndex."""
    nnz = np.diff(cover.indptr)
    h = cover @ np.random.default_rng(0).random((cover.shape[1], 2))
    keep = np.flatnonzero(nnz > 0)
    group = pd.factorize(pd.MultiIndex.from_frame(pd.DataFrame({"a": h[keep, 0], "b": h[keep, 1], "n": nnz[keep]})))[0]
    order = np.unique(group, return_index=True)[1]
    return sparse.csr_array(cover[keep[order]]), np.bincount(group, weights[keep], len(order)).astype(np.float64)


@pytest.mark.parametrize(("rows", "columns", "density"), [(20_000, 2_000, 0.003), (600, 40, 0.1), (7, 3, 0.5),
                                                          (0, 4, 0.1)])
def test_distinct_rows_equal_the_code_before(rows: int, columns: int, density: float) -> None:
    """The same rows in the same order and the same summed weights, bit for bit (repeated and empty rows)."""
    rng = np.random.default_rng(rows)
    base = sparse.random(max(1, rows // 6), columns, density=density, format="csr", random_state=rng)
    base.data[:] = 1.0
    cover = sparse.csr_array(base[rng.integers(0, base.shape[0], rows)]) if rows else sparse.csr_array((0, columns))
    weights = rng.random(rows)
    got, merged = distinct_rows(cover, weights)
    want, want_merged = _distinct_rows_before(cover, weights)
    assert got.shape == want.shape
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    assert np.array_equal(merged, want_merged)


def test_dominated_candidates_are_dropped_but_p_are_kept() -> None:
    # rows × candidates: c0 ⊂ c1; c2 = c3 (the lower index stays); c4 reaches nothing
    a = sparse.csr_array(np.array([[1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0]], dtype=float))
    assert drop_dominated(a).tolist() == [1, 2]
    assert drop_dominated(a, at_least=3).tolist() == [0, 1, 2]  # kept back: the largest dropped set first (c0)
    assert drop_dominated(a, groups=np.array([0, 1, 1, 2, 2])).tolist() == [0, 1, 2, 3]  # c0, c3 alone in group
    # an exchange argument needs p kept candidates: MCLP with p = 3 on this instance picks 3 sites
    w = np.array([5.0, 1.0, 2.0])
    red = reduce_coverage(a, w, fixed=np.zeros(5, dtype=bool), at_least=3)
    assert len(red.columns) >= 3
    assert red.constant == 0.0


def test_fixed_sites_leave_as_a_constant() -> None:
    a = sparse.csr_array(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=float))
    red = reduce_coverage(a, np.array([5.0, 1.0, 2.0, 3.0]), fixed=np.array([True, False, False]))
    assert red.constant == 5.0
    assert red.columns.tolist() == [1, 2]
    assert sorted(red.weights.tolist()) == [1.0, 5.0]  # rows 2 and 3 share a set: merged


def test_greedy_and_swaps_keep_one_per_group() -> None:
    a = sparse.csr_array(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 0, 1]], dtype=float))
    w = np.array([3.0, 3.0, 5.0])
    groups = np.array([0, 0, 1, 1])
    start = greedy_cover(a, w, 2, groups=groups)
    assert start.sum() == 2
    better = improve_by_swaps(a, w, start, groups=groups)
    assert (np.bincount(groups[better]) == 1).all()
    assert (a @ better.astype(float)).clip(0, 1) @ w == pytest.approx(11.0)  # {0, 3} or {1, 2}: 11 of 11


# The proposals of the 永川 run (`gisplan run scenarios/yongchuan-2025.toml`, real roads, illustrative
# facilities), in the order the run asks them. Since issue 13 the run asks per plan row: the per-unit rows of
# types counted by division solve `best_in_each_unit` (exact by enumeration), the cemeteries and funeral
# stations take the area rule (no model), and the sites of one type are shared between its rows. Two of the
# instances are those the code before issue 17 solved (commit 014e68e, scipy.optimize.milp on the unreduced
# program, "Optimal"): YC-1-16 (one_per_unit, 6 of 8 townships, 76721.5589…) and YC-11-COMMUNITY-STATIONS
# (mclp, p = 25, 379770.4475…); their objectives are the ones recorded then. The other instances are new and
# are compared with their unreduced formulations (scipy.optimize.milp) in the test.
YONGCHUAN_MODELS = (
    ("best_in_each_unit", 113547.41451597388),   # YC-1-11 未成年人保护工作站, 17 townships
    ("one_per_unit", 76721.55891861618),         # YC-1-16, as recorded before issue 17
    ("one_per_unit", 79939.5914758963),          # YC-11-TOWN-CENTRES, the 2 towns YC-1-16 left
    ("mclp", 379770.4475323204),                 # YC-11-COMMUNITY-STATIONS p = 25, as recorded before issue 17
    ("best_in_each_unit", 60493.84169504271),    # YC-11-VILLAGE-MUTUAL-AID, 87 villages
    ("best_in_each_unit", 70949.50531683229),    # YC-6-SOCIAL-WORK-STATIONS, 13 townships
    ("best_in_each_unit", 538046.3159209606),    # YC-6-SOCIAL-WORK-ROOMS, 263 villages
)


def own_unit_objective(table: CostTable, units: np.ndarray, lacking: tuple[str, ...], demand_units: np.ndarray, *,
                       cutoff: float, fixed: np.ndarray) -> float:
    """best_in_each_unit's objective as a MIP solved by scipy.optimize.milp: one site per lacking unit, each demand
    row counted when a chosen site of its own unit reaches it (and no fixed site does)."""
    cover = coverage_matrix(table, cutoff).tocoo()
    reached = np.zeros(table.n_demand, dtype=bool)
    reached[cover.row[fixed[cover.col]]] = True
    keep = (demand_units[cover.row] == units[cover.col]) & ~reached[cover.row] & np.isin(units[cover.col], lacking)
    a = sparse.csr_array((np.ones(keep.sum()), (cover.row[keep], cover.col[keep])),
                         shape=(table.n_demand, table.n_candidates))
    a, w = _old_rows(a, table.weights)
    n_c, n_y = table.n_candidates, a.shape[0]
    member = np.stack([np.concatenate([(units == u) & ~fixed, np.zeros(n_y, bool)]) for u in lacking])
    ub = np.concatenate([np.isin(units, lacking) & ~fixed, np.ones(n_y)]).astype(float)
    res = milp(np.concatenate([np.zeros(n_c), -w]),
               integrality=np.concatenate([np.ones(n_c, dtype=int), np.zeros(n_y, dtype=int)]),
               bounds=Bounds(np.zeros(n_c + n_y), ub),
               constraints=[LinearConstraint(sparse.hstack([-a, sparse.identity(n_y)], format="csr"), -np.inf, 0.0),
                            LinearConstraint(member.astype(float), 1.0, 1.0)],
               options={"disp": False, "mip_rel_gap": 1e-9})
    assert res.status == 0, res.message
    return -float(res.fun)


@pytest.mark.parametrize("seed", [1, 2])
def test_best_in_each_unit_equals_its_mip(seed: int) -> None:
    table = clustered_table(seed)
    fixed = np.zeros(table.n_candidates, dtype=bool)
    fixed[:3] = True
    units = np.array([f"u{int(k) % 4}" for k in range(table.n_candidates)], dtype=object)
    demand_units = np.array([f"u{int(k) % 4}" for k in range(table.n_demand)], dtype=object)
    new = best_in_each_unit(table, list(units), ["u0", "u2", "u3"], list(demand_units), cutoff=600,
                            fixed=list(table.candidate_ids[:3]))
    assert new.exact
    assert new.gap == 0.0
    assert new.bound == new.objective
    assert len(new.selected) == 3
    assert new.objective == pytest.approx(own_unit_objective(table, units, ("u0", "u2", "u3"), demand_units,
                                                             cutoff=600, fixed=fixed), rel=1e-9)


def test_yongchuan_proposals_equal_the_code_before(yongchuan_run: tuple[Path, Path, Path, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, store, _, _ = yongchuan_run
    asked: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]] = []
    for name in ("mclp", "lscp", "one_per_unit", "best_in_each_unit"):
        real = getattr(proposals_module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            result = _real(*args, **kwargs)
            asked.append((_name, args, kwargs, result))
            return result

        monkeypatch.setattr(proposals_module, name, spy)
    monkeypatch.delenv(settings.PROPOSAL_THREADS_ENV, raising=False)
    with settings.threads(1):  # the rows one after the other: the models are asked in the rows' order
        run = run_scenario(open_workspace(store), load_scenario(scenario), load_catalogue())
    assert run.network is not None  # handed on to the report
    assert len(run.network.edge_u) > 0
    assert [(n, r.objective) for n, _, _, r in asked] == [(n, pytest.approx(v, rel=1e-9))
                                                          for n, v in YONGCHUAN_MODELS]
    assert all(r.exact and r.status == "Optimal" for *_, r in asked)
    # the new instances against their unreduced formulations
    for name, args, kwargs, result in (asked[i] for i in (0, 2, 5)):
        table = args[0]
        fixed = np.isin(table.candidate_ids.astype(str), list(kwargs["fixed"]))
        units = np.asarray([u if u is not None else "" for u in args[1]], dtype=object)
        if name == "one_per_unit":
            old = old_objective("one_per_unit", table, cutoff=kwargs["cutoff"], fixed=fixed, p=kwargs["count"],
                                units=units, lacking=tuple(args[2]))
        else:
            demand_units = np.asarray([u if u is not None else "" for u in args[3]], dtype=object)
            old = own_unit_objective(table, units, tuple(args[2]), demand_units, cutoff=kwargs["cutoff"], fixed=fixed)
        assert result.objective == pytest.approx(old, rel=1e-9)
    # the types' rows side by side on two threads: the same models, the same sites and indicators after
    one = len(asked)
    monkeypatch.setenv(settings.PROPOSAL_THREADS_ENV, "2")
    with settings.threads(2):
        assert settings.proposal_threads() == 2
        again = run_scenario(open_workspace(store), load_scenario(scenario), load_catalogue())
    assert sorted((n, r.objective) for n, _, _, r in asked[one:]) == sorted((n, r.objective)
                                                                            for n, _, _, r in asked[:one])
    pd.testing.assert_frame_equal(again.indicators, run.indicators)
    pd.testing.assert_frame_equal(pd.DataFrame(again.proposals), pd.DataFrame(run.proposals))


def test_thread_count_can_change_between_solves() -> None:
    """HiGHS's scheduler is process-wide: a solve with another thread count (a Dask worker's 1) still solves."""
    table = clustered_table(5, n_d=60, n_c=12)
    first = mclp(table, p=2, cutoff=600)
    with settings.threads(1):
        assert mclp(table, p=2, cutoff=600).objective == first.objective
    assert mclp(table, p=2, cutoff=600).status == "Optimal"


def test_proposal_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.PROPOSAL_THREADS_ENV, raising=False)
    with settings.threads(2):
        assert settings.proposal_threads() == 2  # the kernels' threads unless told
    monkeypatch.setenv(settings.PROPOSAL_THREADS_ENV, "4")
    with settings.threads(2):
        assert settings.proposal_threads() == 2  # never more than the kernels' threads
    with settings.threads(1):
        assert settings.proposal_threads() == 1  # a Dask worker
    monkeypatch.setenv(settings.PROPOSAL_THREADS_ENV, "two")
    with pytest.raises(ConfigError, match="GISPLAN_PROPOSAL_THREADS='two' must be a positive whole number"):
        settings.proposal_threads()


def test_each_thread_keeps_its_own_solver_scheduler() -> None:
    """HiGHS keeps one scheduler per calling thread (the proposals of different types solve side by side): a
    thread that solved with 2 threads leaves this thread's scheduler of 1 as it was, and a later solve here with
    2 restarts it."""
    table = clustered_table(5, n_d=60, n_c=12)

    def solve(threads: int) -> str:
        with settings.threads(threads):
            return mclp(table, p=2, cutoff=600).status

    assert solve(1) == "Optimal"
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(solve, 2).result() == "Optimal"
    assert solve(2) == "Optimal"
    assert solve(1) == "Optimal"


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_lagrangian_fixing_keeps_the_optimum(seed: int) -> None:
    """Candidates whose Lagrangian bound falls below the incumbent go, and the MCLP optimum stays: the reduced
    instance solved by scipy.optimize.milp has the unreduced program's objective; the bound is above it."""
    table = clustered_table(seed, n_d=400, n_c=120)
    fixed = np.zeros(table.n_candidates, dtype=bool)
    fixed[:2] = True
    dropped: list[int] = []
    for p in (4, 10):
        red = reduce_coverage(coverage_matrix(table, 600), table.weights, fixed=fixed, at_least=p)
        fixing = lagrangian_fixing(red, p, greedy_cover(red.cover, red.weights, p))
        old = old_objective("mclp", table, cutoff=600, fixed=fixed, p=p)
        assert fixing.bound + red.constant >= old - 1e-6
        assert fixing.incumbent + red.constant <= old + 1e-6
        dropped.append(len(red.columns) - len(fixing.reduced.columns))
        assert int(fixing.start.sum()) == p
        a, w = fixing.reduced.cover, fixing.reduced.weights
        n_k, n_y = a.shape[1], a.shape[0]
        res = milp(np.concatenate([np.zeros(n_k), -w]), integrality=np.concatenate([np.ones(n_k), np.zeros(n_y)]),
                   bounds=Bounds(0, 1), constraints=[
                       LinearConstraint(sparse.hstack([-a, sparse.identity(n_y)], format="csr"), -np.inf, 0.0),
                       LinearConstraint(np.concatenate([np.ones(n_k), np.zeros(n_y)])[None, :], p, p)],
                   options={"disp": False, "mip_rel_gap": 1e-9})
        assert red.constant - float(res.fun) == pytest.approx(old, rel=1e-9)
        assert mclp(table, p=p, cutoff=600, fixed=list(table.candidate_ids[:2])).objective == pytest.approx(
            old, rel=1e-9)
    assert min(dropped) >= 0
    assert max(dropped) > 0 or seed == 4  # it drops candidates here (seed 4 leaves a 1.4 % gap: none)
