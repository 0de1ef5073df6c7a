"""Siting models: brute force on small instances, spopt on identical cost tables (San Francisco case), the
phased order, and `gisplan propose`."""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pulp
import pytest
from click.testing import CliRunner
from spopt.locate import LSCP, MCLP, PMedian

from gisplan.cli.main import cli
from gisplan.errors import InfeasibleError, SchemaError
from gisplan.siting.models import CostTable, capacitated_coverage, cost_table, lscp, mclp, one_per_unit, p_median
from tests.conftest import shared_data

if TYPE_CHECKING:
    from pathlib import Path

CBC = pulp.PULP_CBC_CMD(msg=False)


def random_table(seed: int, n_d: int = 14, n_c: int = 7, density: float = 0.6) -> tuple[CostTable, np.ndarray]:
    """A seeded sparse instance and its dense cost matrix (inf where no pair)."""
    rng = np.random.default_rng(seed)
    cost = rng.uniform(100, 3000, (n_d, n_c)).round(1)
    present = rng.random((n_d, n_c)) < density
    present[np.arange(n_d), rng.integers(0, n_c, n_d)] = True  # every demand has a pair
    d, c = np.nonzero(present)
    table = cost_table(
        pd.DataFrame({"demand_id": [f"d{i}" for i in d], "candidate_id": [f"c{j}" for j in c], "m": cost[d, c]}),
        pd.DataFrame({"demand_id": [f"d{i}" for i in range(n_d)], "weight": rng.integers(1, 50, n_d)}),
        pd.DataFrame({"candidate_id": [f"c{j}" for j in range(n_c)], "capacity": rng.integers(20, 120, n_c)}),
    )
    return table, np.where(present, cost, np.inf)


def covered_weight(dense: np.ndarray, weights: np.ndarray, sites: tuple[int, ...], cutoff: float) -> float:
    return float(weights[(dense[:, list(sites)] <= cutoff).any(axis=1)].sum()) if sites else 0.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mclp_lscp_pmedian_equal_brute_force(seed: int) -> None:
    table, dense = random_table(seed)
    w, n_c = table.weights, table.n_candidates
    for p in (1, 2, 3):
        best = max(covered_weight(dense, w, s, 1200) for s in itertools.combinations(range(n_c), p))
        assert mclp(table, p=p, cutoff=1200).objective == pytest.approx(best)
        medians = [np.sum(w * dense[:, list(s)].min(axis=1)) for s in itertools.combinations(range(n_c), p)]
        best_median = min(m for m in medians if np.isfinite(m)) if any(np.isfinite(medians)) else None
        if best_median is not None:
            assert p_median(table, p=p).objective == pytest.approx(best_median)
    coverable = (dense <= 1500).any(axis=1)
    fewest = next(k for k in range(1, n_c + 1) for s in itertools.combinations(range(n_c), k)
                  if ((dense[:, list(s)] <= 1500).any(axis=1) >= coverable).all())
    assert lscp(table, cutoff=1500).objective == fewest
    share = 0.6
    need = share * w.sum()
    fewest_share = next(k for k in range(1, n_c + 1) for s in itertools.combinations(range(n_c), k)
                        if covered_weight(dense, w, s, 1500) >= need - 1e-9)
    result = lscp(table, cutoff=1500, share=share)
    assert result.objective == fewest_share
    assert result.covered_weight >= need - 1e-9


def test_fixed_sites_stay_open_and_are_not_counted() -> None:
    table, dense = random_table(4)
    w = table.weights
    best = max(covered_weight(dense, w, (0, *s), 1200) for s in itertools.combinations(range(1, 7), 2))
    result = mclp(table, p=2, cutoff=1200, fixed=["c0"])
    assert result.fixed == ("c0",)
    assert len(result.selected) == 2
    assert "c0" not in result.selected
    assert result.objective == pytest.approx(best)
    with pytest.raises(ValueError, match="fixed site\\(s\\) zz are not candidates"):
        mclp(table, p=1, cutoff=1200, fixed=["zz"])
    with pytest.raises(ValueError, match="`p` must be between 0 and the 6 candidates"):
        mclp(table, p=7, cutoff=1200, fixed=["c0"])


def test_capacitated_coverage_equals_brute_force() -> None:
    table, dense = random_table(5, n_d=8, n_c=5)
    w, cap = table.weights, table.capacity
    assert cap is not None

    def served(sites: tuple[int, ...]) -> float:  # split demand: an LP per site set, solved by HiGHS
        from scipy.optimize import linprog

        pairs = [(i, j) for i in range(len(w)) for j in sites if dense[i, j] <= 1500]
        if not pairs:
            return 0.0
        c = [-w[i] for i, _ in pairs]
        a_ub, b_ub = [], []
        for i in range(len(w)):
            a_ub.append([1.0 if pi == i else 0.0 for pi, _ in pairs])
            b_ub.append(1.0)
        for j in sites:
            a_ub.append([w[pi] if pj == j else 0.0 for pi, pj in pairs])
            b_ub.append(cap[j])
        return float(-linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs").fun)

    best = max(served(s) for s in itertools.combinations(range(5), 2))
    result = capacitated_coverage(table, p=2, cutoff=1500)
    assert result.objective == pytest.approx(best)
    assert result.covered_weight == pytest.approx(best)
    assert result.covered_weight <= sum(sorted(cap)[-2:]) + 1e-9


def test_one_per_unit_places_one_site_in_each_lacking_unit() -> None:
    table, dense = random_table(6)
    units = ["A", "A", "B", "B", "B", "C", "C"]
    result = one_per_unit(table, units, ["A", "B"], cutoff=1200)
    chosen = [int(s[1:]) for s in result.selected]
    assert sorted(units[j] for j in chosen) == ["A", "B"]
    best = max(covered_weight(dense, table.weights, (a, b), 1200) for a in (0, 1) for b in (2, 3, 4))
    assert result.objective == pytest.approx(best)
    with pytest.raises(InfeasibleError, match="unit\\(s\\) D lack a facility but have no candidate"):
        one_per_unit(table, units, ["D"], cutoff=1200)


def test_phased_order_gains_add_up() -> None:
    table, _ = random_table(7)
    result = mclp(table, p=3, cutoff=1500)
    assert sum(result.gains) == pytest.approx(result.covered_weight)
    assert list(result.gains) == sorted(result.gains, reverse=True)


def _sf() -> tuple[CostTable, np.ndarray, np.ndarray]:
    folder = shared_data("fallback", "spopt_sf_facility_location")
    raw = pd.read_csv(folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    stores = sorted(raw["name"].unique(), key=lambda s: int(s.split("_")[1]))
    tracts = sorted(raw["DestinationName"].unique())
    table = cost_table(
        raw.rename(columns={"DestinationName": "demand_id", "name": "candidate_id"})[
            ["demand_id", "candidate_id", "distance"]],
        raw.drop_duplicates("DestinationName").rename(columns={"DestinationName": "demand_id", "demand": "weight"})[
            ["demand_id", "weight"]].set_index("demand_id").loc[tracts].reset_index(),
        pd.DataFrame({"candidate_id": stores}),
    )
    matrix = raw.pivot_table(index="DestinationName", columns="name", values="distance").loc[tracts, stores]
    return table, matrix.to_numpy(), table.weights


def test_san_francisco_case_equals_spopt() -> None:
    """spopt's own case: MCLP p=4 at 5,000 m covers 89.7561 % of the 205 tracts; p-median p=4 gives a mean
    distance of 2,982.127; both equal spopt (PuLP/CBC) on the identical cost matrix."""
    table, matrix, weights = _sf()
    ours = mclp(table, p=4, cutoff=5000)
    peer = MCLP.from_cost_matrix(matrix, weights, service_radius=5000, p_facilities=4, name="m").solve(CBC)
    cover = (matrix[:, [list(table.candidate_ids).index(s) for s in ours.selected]] <= 5000).any(axis=1)
    assert cover.mean() * 100 == pytest.approx(89.7561, abs=1e-4)
    assert peer.perc_cov == pytest.approx(89.7561, abs=1e-4)
    assert ours.objective == pytest.approx(weights[cover].sum())
    assert ours.exact
    assert ours.gap == pytest.approx(0.0, abs=1e-9)
    median = p_median(table, p=4)
    peer_median = PMedian.from_cost_matrix(matrix, weights, p_facilities=4, name="p").solve(CBC)
    assert median.objective / weights.sum() == pytest.approx(2982.127, abs=1e-3)
    assert peer_median.mean_dist == pytest.approx(median.objective / weights.sum())
    assert set(median.selected) == {"Store_2", "Store_11", "Store_12", "Store_15"}
    covering = lscp(table, cutoff=8000)
    peer_lscp = LSCP.from_cost_matrix(matrix, service_radius=8000, name="l").solve(CBC)
    assert covering.objective == sum(1 for f in peer_lscp.fac2cli if f) == 3


@pytest.mark.parametrize("seed", [11, 12])
def test_random_instances_equal_spopt(seed: int) -> None:
    table, dense = random_table(seed, n_d=60, n_c=15, density=0.5)
    matrix = np.where(np.isfinite(dense), dense, 1e7)
    ours = mclp(table, p=4, cutoff=1000)
    peer = MCLP.from_cost_matrix(matrix, table.weights, service_radius=1000, p_facilities=4, name="m").solve(CBC)
    peer_sites = [j for j, f in enumerate(peer.fac2cli) if f]
    assert ours.objective == pytest.approx(covered_weight(dense, table.weights, tuple(peer_sites), 1000))


def test_propose_command_writes_result_json(tmp_path: Path) -> None:
    table, _, _ = _sf()
    folder = shared_data("fallback", "spopt_sf_facility_location")
    raw = pd.read_csv(folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    raw.rename(columns={"DestinationName": "demand_id", "name": "candidate_id"})[
        ["demand_id", "candidate_id", "distance"]].to_csv(tmp_path / "costs.csv", index=False)
    pd.DataFrame({"demand_id": table.demand_ids, "weight": table.weights}).to_csv(tmp_path / "demand.csv",
                                                                                  index=False, encoding="gbk")
    pd.DataFrame({"candidate_id": table.candidate_ids}).to_csv(tmp_path / "candidates.csv", index=False)
    pd.DataFrame({"candidate_id": ["Store_2"]}).to_csv(tmp_path / "fixed.csv", index=False)
    args = ["propose", "--costs", str(tmp_path / "costs.csv"), "--demand", str(tmp_path / "demand.csv"),
            "--candidates", str(tmp_path / "candidates.csv")]
    result = CliRunner().invoke(cli, [*args, "--model", "mclp", "--p", "4", "--cutoff", "5000", "--out",
                                      str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {"model", "status", "objective", "bound", "gap", "selected", "covered_weight", "total_weight",
            "seconds"} <= set(data)
    assert data["status"] == "Optimal"
    assert sorted(data["selected"]) == ["Store_11", "Store_12", "Store_15", "Store_2"]
    fixed = CliRunner().invoke(cli, [*args, "--model", "mclp", "--p", "3", "--cutoff", "5000", "--fixed",
                                     str(tmp_path / "fixed.csv"), "--out", str(tmp_path / "f.json")])
    assert fixed.exit_code == 0, fixed.output
    data = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    assert data["fixed"] == ["Store_2"]
    assert len(data["selected"]) == 3
    missing = CliRunner().invoke(cli, [*args, "--model", "mclp", "--cutoff", "5000"])
    assert missing.exit_code == 2
    assert "needs --p" in missing.output


def test_bad_cost_tables_are_reported() -> None:
    costs = pd.DataFrame({"demand_id": ["a", "zz", "b"], "candidate_id": ["X", "X", "Q"], "m": [1, 2, -3]})
    demand = pd.DataFrame({"demand_id": ["a", "b", "b"], "weight": [1, "many", 2]})
    with pytest.raises(SchemaError) as exc:
        cost_table(costs, demand, pd.DataFrame({"candidate_id": ["X"]}), source=("c.csv", "d.csv", "k.csv"))
    text = str(exc.value)
    assert "d.csv, row 4, field `demand_id`: duplicate id 'b'" in text
    assert "d.csv, row 3, field `weight`: 'many' is not a number" in text
    assert "c.csv, row 4, field `m`: -3 is not a number ≥ 0" in text
    assert "c.csv, row 3, field `demand_id`: 'zz' is not in d.csv" in text
    assert "c.csv, row 4, field `candidate_id`: 'Q' is not in k.csv" in text
    with pytest.raises(SchemaError, match="missing column\\(s\\) weight"):
        cost_table(costs, demand.drop(columns="weight"), pd.DataFrame({"candidate_id": ["X"]}))


def test_propose_command_errors_exit_1_without_traceback(tmp_path: Path) -> None:
    pd.DataFrame({"demand_id": ["a"], "candidate_id": ["X"], "m": [10.0]}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"demand_id": ["a"], "weight": [3]}).to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame({"candidate_id": ["X"]}).to_csv(tmp_path / "k.csv", index=False)
    args = ["propose", "--costs", str(tmp_path / "c.csv"), "--demand", str(tmp_path / "d.csv"), "--candidates",
            str(tmp_path / "k.csv")]
    runner = CliRunner()
    no_capacity = runner.invoke(cli, [*args, "--model", "capacitated", "--p", "1", "--cutoff", "100"])
    assert no_capacity.exit_code == 1
    assert "needs a `capacity` column" in no_capacity.output
    assert "Traceback" not in no_capacity.output
    unreachable = runner.invoke(cli, [*args, "--model", "lscp", "--cutoff", "5", "--share", "0.5"])
    assert unreachable.exit_code == 1
    assert "no set of candidates covers 50.0% of the weight within 5" in unreachable.output
    too_many = runner.invoke(cli, [*args, "--model", "mclp", "--p", "3", "--cutoff", "100"])
    assert too_many.exit_code == 1
    assert "`p` must be between 0 and the 1 candidates" in too_many.output
