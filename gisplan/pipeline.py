"""Scenario workflows: from a workspace's layers to coverage results, and results to files.

The CLI calls these; they take an already loaded :class:`~gisplan.config.Scenario` and never read
``scenarios/`` themselves. Every file they write is written atomically (temporary file, then rename),
and workspace layers go through :func:`gisplan.store.write_layers`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gisplan.access import METHOD_LABELS, CoverageResult, TypeTarget, assign_units, measure_coverage
from gisplan.config import scenario_profiles
from gisplan.demand import demand_from_points, demand_from_raster, demand_from_table
from gisplan.errors import ConfigError, NetworkError
from gisplan.indicators import existing_only
from gisplan.io import STORAGE_CRS
from gisplan.network import build_network
from gisplan.store import LayerWrite, list_layers, read_store_layer, write_layers

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from gisplan.catalogue import Catalogue, Profile
    from gisplan.config import Scenario
    from gisplan.network import RoadNetwork

__all__ = [
    "coverage_for_scenario",
    "demand_table",
    "scenario_demand",
    "scenario_network",
    "write_atomic_csv",
    "write_atomic_gpkg",
    "write_atomic_text",
    "write_coverage",
]

logger = logging.getLogger(__name__)


def scenario_network(store: Path, scenario: Scenario) -> RoadNetwork | None:
    """Build the road network of a workspace (its ``roads`` layer) in the scenario's CRS; None without roads."""
    layers = set(list_layers(store)["layer"])
    if "roads" not in layers:
        return None
    roads = read_store_layer(store, "roads")
    cov = scenario.coverage
    return build_network(gpd.GeoDataFrame(roads), crs=scenario.crs, snap_tolerance_m=cov.snap_tolerance_m,
                         min_piece_m=cov.min_piece_m)


def scenario_demand(store: Path, scenario: Scenario, network: RoadNetwork | None) -> gpd.GeoDataFrame:
    """Demand points for a scenario: its raster, else the households layer (points, or a table spread
    over village polygons or road length), with township and village codes filled in.

    Raises
    ------
    ConfigError
        If there is no demand source.
    """
    cov = scenario.coverage
    layers = set(list_layers(store)["layer"])
    townships = gpd.GeoDataFrame(read_store_layer(store, "townships")) if "townships" in layers else None
    villages = gpd.GeoDataFrame(read_store_layer(store, "villages")) if "villages" in layers else None
    if cov.raster is not None:
        area = gpd.GeoDataFrame(read_store_layer(store, "district")) if "district" in layers else None
        demand = demand_from_raster(cov.raster, crs=scenario.crs, area=area)
    elif "households" in layers:
        households = read_store_layer(store, "households")
        if isinstance(households, gpd.GeoDataFrame) and (households.geom_type == "Point").all():
            demand = demand_from_points(households, crs=scenario.crs, source="households")
        else:
            if townships is None:
                msg = ("the households table has no coordinates, and the workspace has no township polygons to "
                       "spread it over; import `townships` (and `villages` if you have them).")
                raise ConfigError(msg)
            spread = cov.spread if network is not None else "area"
            demand = demand_from_table(pd.DataFrame(households), villages=villages, townships=townships,
                                       crs=scenario.crs, spread=spread, spacing_m=cov.spread_spacing_m,
                                       network=network)
    else:
        msg = ("no demand: import a `households` layer (table by village code, or points), or give a population "
               "raster as `raster = \"...tif\"` in the scenario's [coverage] table.")
        raise ConfigError(msg)
    return assign_units(demand, townships=townships, villages=villages)


def _targets(
    store: Path, catalogue: Catalogue, profiles: dict[str, Profile], types: Sequence[str] | None,
) -> list[TypeTarget]:
    layers = set(list_layers(store)["layer"])
    chosen = list(types) if types else [t.id for t in catalogue.types.values() if "network" in t.coverage]
    out = []
    for type_id in chosen:
        ftype = catalogue.get_type(type_id)
        if ftype.layer_name not in layers:
            if types:
                msg = f"the workspace has no `{ftype.layer_name}` layer; import the {ftype.name_zh} ledger first."
                raise ConfigError(msg)
            continue
        facilities = gpd.GeoDataFrame(existing_only(read_store_layer(store, ftype.layer_name)))
        if ftype.profile not in profiles:
            msg = f"facility type {type_id} uses travel profile {ftype.profile!r}, which no catalogue defines."
            raise ConfigError(msg)
        out.append(TypeTarget(type_id, ftype.name_zh, facilities, profiles[ftype.profile], ftype.max_minutes))
    return out


def coverage_for_scenario(
    store: Path,
    scenario: Scenario,
    catalogue: Catalogue,
    *,
    types: Sequence[str] | None = None,
    polygons: bool = True,
    progress: bool = False,
    network: RoadNetwork | None = None,
) -> CoverageResult:
    """Measure coverage of every network-covered facility type in a workspace (`network`: already built).

    Raises
    ------
    NetworkError
        If the network method is chosen and the workspace has no roads.
    """
    cov = scenario.coverage
    profiles = scenario_profiles(scenario, catalogue)
    if network is None and cov.method == "network":
        network = scenario_network(store, scenario)
    if cov.method != "network":
        network = None
    if cov.method == "network" and network is None:
        msg = ("the workspace has no road layer, so network coverage cannot be measured. Give roads in the "
               "scenario's [roads] path (or osm_fallback = true when online), or choose the clearly labelled "
               "straight-line method with [coverage] method = \"straight_line\".")
        raise NetworkError(msg)
    demand = scenario_demand(store, scenario, network)
    targets = _targets(store, catalogue, profiles, types)
    gaz = read_store_layer(store, "gazetteer") if "gazetteer" in set(list_layers(store)["layer"]) else None
    names = dict(zip(gaz["code12"].astype(str), gaz["name"].astype(str), strict=True)) if gaz is not None else {}
    return measure_coverage(
        demand, targets, network=network, method=cov.method, bands_minutes=cov.bands_minutes,
        max_snap_m=cov.max_snap_m, radius_m=cov.radius_m, trim_m=cov.trim_m, polygons=polygons, names=names,
        district_code=scenario.district_code + "000000", progress=progress,
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _atomic(path: Path, encoding: str) -> Iterator[TextIO]:
    """A text file handle on a temporary file beside `path`, renamed over it when the block succeeds:
    readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic_text(text: str, path: Path, *, encoding: str = "utf-8") -> None:
    """Write a text file through a temporary file and a rename."""
    with _atomic(path, encoding) as fh:
        fh.write(text)


def write_atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a UTF-8 CSV (with BOM, so Excel/WPS show Chinese) through a temporary file and a rename."""
    with _atomic(path, "utf-8-sig") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")


def write_atomic_gpkg(layers: dict[str, pd.DataFrame], path: Path) -> None:
    """Write layers (GeoDataFrames, or DataFrames as attribute tables) to a new GeoPackage at `path`
    (replacing it) through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".gpkg")
    os.close(fd)
    Path(tmp).unlink()
    try:
        for name, gdf in layers.items():
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def demand_table(result: CoverageResult) -> gpd.GeoDataFrame:
    out = result.demand.to_crs(STORAGE_CRS)
    xy = shapely.get_coordinates(out.geometry.to_numpy())
    out.insert(1, "lon", np.round(xy[:, 0], 7))
    out.insert(2, "lat", np.round(xy[:, 1], 7))
    out["method"] = result.method
    return out


def write_coverage(
    result: CoverageResult,
    *,
    out_dir: Path,
    store: Path | None = None,
    illustrative: bool = False,
) -> list[Path]:
    """Write coverage results: CSVs and a GeoPackage in `out_dir`, and layers in the workspace `store`.

    Files: ``coverage_demand.csv`` (per demand point and type: minutes, nearest facility, covered),
    ``coverage_units.csv`` (per district/township/village, type and threshold),
    ``coverage_facilities.csv`` and ``coverage.gpkg`` (layers ``demand``, ``units`` … in EPSG:4326).
    Workspace layers: ``coverage_demand``, ``coverage_units``, ``coverage_areas``.

    Returns
    -------
    list of Path
        The files written.
    """
    demand = demand_table(result)
    units = result.units.copy()
    units["illustrative"] = illustrative
    areas = result.areas.to_crs(STORAGE_CRS)
    areas["method"] = METHOD_LABELS[result.method]
    areas["illustrative"] = illustrative
    written = []
    for name, frame in (("coverage_demand.csv", pd.DataFrame(demand.drop(columns="geometry"))),
                        ("coverage_units.csv", units), ("coverage_facilities.csv", result.facilities)):
        write_atomic_csv(frame, out_dir / name)
        written.append(out_dir / name)
    gpkg_layers = {"demand": demand, "areas": areas}
    write_atomic_gpkg({k: v for k, v in gpkg_layers.items() if len(v)}, out_dir / "coverage.gpkg")
    written.append(out_dir / "coverage.gpkg")
    if store is not None:
        note = METHOD_LABELS[result.method] + ("; 示意 illustrative inputs" if illustrative else "")
        writes = [
            LayerWrite("coverage_demand", "result", demand, illustrative=illustrative, note=note),
            LayerWrite("coverage_units", "result", units, illustrative=illustrative, note=note),
        ]
        if len(areas):
            writes.append(LayerWrite("coverage_areas", "result", areas, illustrative=illustrative, note=note))
        write_layers(store, writes, action="coverage", detail={"method": result.method})
    return written
