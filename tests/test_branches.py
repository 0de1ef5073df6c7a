"""Branches the other modules do not reach: the solver's time limit, an infeasible p-median, a failing atomic
GeoPackage write and township edges still shared after simplification."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gisplan.errors import InfeasibleError
from gisplan.io.atomic import write_atomic_gpkg
from gisplan.outputs.webmap import _display_geoms
from gisplan.siting.models import cost_table, mclp, p_median
from tests.conftest import LAYERS, sha256

if TYPE_CHECKING:
    from pathlib import Path


def _big_table(seed: int = 4, n_d: int = 4000, n_c: int = 600, per: int = 25) -> object:
    rng = np.random.default_rng(seed)
    d = np.repeat(np.arange(n_d), per)
    c = rng.integers(0, n_c, len(d))
    pairs = pd.DataFrame({"demand_id": d.astype(str), "candidate_id": c.astype(str), "m": rng.uniform(0, 2000, len(d))})
    return cost_table(
        pairs.drop_duplicates(["demand_id", "candidate_id"]),  # one cost per pair, as cost tables must give
        pd.DataFrame({"demand_id": np.arange(n_d).astype(str), "weight": rng.integers(1, 100, n_d)}),
        pd.DataFrame({"candidate_id": np.arange(n_c).astype(str)}),
    )


def test_a_time_limit_returns_the_best_solution_so_far_marked_not_exact() -> None:
    """An instance HiGHS cannot prove optimal in minutes: with a limit it returns its best solution so far.
    On a loaded machine the first limit may pass before any solution is found (then it says so), so the
    limit is doubled until one is."""
    table = _big_table()
    cut, early = None, []
    for limit in (1.0, 2.0, 4.0, 8.0, 16.0):
        try:
            cut = mclp(table, p=60, cutoff=1000, time_limit_s=limit)  # type: ignore[arg-type]
        except InfeasibleError as exc:
            early.append(str(exc))
            continue
        break
    assert all("Time limit reached" in message for message in early), early
    assert cut is not None, "no solution within 16 s"
    assert not cut.exact
    assert "time limit" in cut.status.lower()
    assert len(cut.selected) == 60
    assert cut.bound >= cut.objective - 1e-6  # maximising: the dual bound lies above what was found
    assert cut.gap >= 0
    assert cut.objective > 0


def test_p_median_with_one_site_and_no_candidate_reaching_everyone_is_infeasible() -> None:
    # d0 only has a cost to c0, d1 only to c1: one site cannot serve both
    table = cost_table(pd.DataFrame({"demand_id": ["d0", "d1"], "candidate_id": ["c0", "c1"], "m": [1.0, 2.0]}),
                       pd.DataFrame({"demand_id": ["d0", "d1"], "weight": [1, 1]}),
                       pd.DataFrame({"candidate_id": ["c0", "c1"]}))
    with pytest.raises(InfeasibleError, match="no solution"):
        p_median(table, p=1)
    assert sorted(p_median(table, p=2).selected) == ["c0", "c1"]


def test_a_failing_gpkg_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.gpkg"
    good = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(105.9, 29.35)], crs=4326)
    write_atomic_gpkg({"first": good}, path)
    before = sha256(path)
    bad = pd.DataFrame({"z": [1 + 2j]})  # a column no GeoPackage field can hold
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever pyogrio raises, the write must not land
        write_atomic_gpkg({"second": good, "third": bad}, path)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.gpkg"]
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["first"]


def test_township_edges_are_still_shared_after_simplification() -> None:
    """The map simplifies the real 永川 townships to 5 m as one coverage: a border two townships share in the
    data is still drawn once, the same line in both (simplified one by one, each side would move apart)."""
    towns = pyogrio.read_dataframe(LAYERS / "yongchuan_boundaries.gpkg", layer="townships")
    simple = _display_geoms(towns, system="wgs84", simplify_m=5.0, coverage=True)
    raw = towns.geometry.to_numpy()
    checked = 0
    for i, j in itertools.combinations(range(len(raw)), 2):
        shared = shapely.length(shapely.intersection(raw[i].boundary, raw[j].boundary))
        if shared < 0.005:  # about 500 m of common border
            continue
        after = shapely.length(shapely.intersection(simple[i].boundary, simple[j].boundary))
        assert after >= 0.95 * shared, (towns["name"].iloc[i], towns["name"].iloc[j], shared, after)
        checked += 1
    assert checked >= 30
