"""The one marginal-gain routine (gisplan.siting.costs.marginal_gains), behind phase_order and the proposals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from gisplan.siting.costs import cost_table, marginal_gains, phase_order
from gisplan.siting.models import mclp

if TYPE_CHECKING:
    from gisplan.siting.costs import CostTable

# demand a..e with weights 1, 2, 4, 8, 16; candidate E (existing) reaches a; X reaches a, b, c; Y reaches c, d;
# Z reaches e. Costs 10 are beyond the cutoff 5.
COSTS = pd.DataFrame({
    "demand_id": ["a", "a", "b", "c", "c", "d", "e", "e"],
    "candidate_id": ["E", "X", "X", "X", "Y", "Y", "Z", "X"],
    "minutes": [1, 2, 3, 4, 1, 2, 3, 10],
})
DEMAND = pd.DataFrame({"demand_id": list("abcde"), "weight": [1, 2, 4, 8, 16]})
CANDIDATES = pd.DataFrame({"candidate_id": ["E", "X", "Y", "Z"]})


def _table() -> CostTable:
    return cost_table(COSTS, DEMAND, CANDIDATES)


def test_gains_in_a_given_order_after_the_fixed_sites() -> None:
    table = _table()
    fixed = np.array([True, False, False, False])
    # X first: b + c (a is reached by E already) = 6; then Y: d = 8 (c taken); then Z: e = 16
    assert marginal_gains(table, [1, 2, 3], fixed=fixed, cutoff=5) == [6.0, 8.0, 16.0]
    # Y first: c + d = 12; then X: b = 2
    assert marginal_gains(table, [2, 1], fixed=fixed, cutoff=5) == [12.0, 2.0]
    # without the existing site, X also adds a
    assert marginal_gains(table, [1], fixed=np.zeros(4, dtype=bool), cutoff=5) == [7.0]


def test_other_weights_count_nan_as_nothing() -> None:
    table = _table()
    persons = np.array([10.0, np.nan, 30.0, 40.0, np.nan])
    fixed = np.array([True, False, False, False])
    assert marginal_gains(table, [1, 2, 3], fixed=fixed, cutoff=5, weights=persons) == [30.0, 40.0, 0.0]


def test_phase_order_reports_the_marginal_gains_of_its_order() -> None:
    table = _table()
    fixed = np.array([True, False, False, False])
    selected = np.array([True, True, True, True])
    order, gains = phase_order(table, selected, fixed, 5)
    assert order == [3, 2, 1]  # Z (16), then Y (12), then X (b = 2)
    assert gains == [16.0, 12.0, 2.0]
    assert gains == marginal_gains(table, order, fixed=fixed, cutoff=5)


def test_a_models_gains_add_up_to_its_new_coverage() -> None:
    table = _table()
    result = mclp(table, p=2, cutoff=5, fixed=["E"])
    assert result.selected == ("Z", "Y")
    assert result.gains == (16.0, 12.0)
    assert sum(result.gains) == pytest.approx(result.covered_weight - 1.0)  # E covers a (1) before
