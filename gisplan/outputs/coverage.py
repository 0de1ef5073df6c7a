"""Coverage results as files (CSV, GeoPackage) and as workspace layers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from gisplan.analysis.coverage import METHOD_LABELS, CoverageResult
from gisplan.crs import STORAGE_CRS
from gisplan.io.atomic import write_atomic_csv, write_atomic_gpkg
from gisplan.outputs.people import for_people
from gisplan.store import LayerWrite

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import geopandas as gpd

    from gisplan.store import Workspace


__all__ = ["demand_table", "write_coverage"]

logger = logging.getLogger(__name__)


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
    workspace: Workspace | None = None,
    illustrative: bool = False,
    type_names: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write coverage results: CSVs and a GeoPackage in `out_dir`, and layers in `workspace` (when given).

    Files: ``coverage_demand.csv`` (per demand point and type: minutes, nearest facility, covered),
    ``coverage_units.csv`` (per district/township/village, type and threshold),
    ``coverage_facilities.csv`` and ``coverage.gpkg`` (layers ``demand``, ``units`` … in EPSG:4326).
    The CSVs are written for people in the language spoken (:func:`gisplan.outputs.people.for_people`, with
    `type_names`: facility type id → name); the GeoPackage and the workspace layers stay machine-readable.
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
        write_atomic_csv(for_people(frame, type_names=type_names or {}), out_dir / name)
        written.append(out_dir / name)
    gpkg_layers = {"demand": demand, "areas": areas}
    write_atomic_gpkg({k: v for k, v in gpkg_layers.items() if len(v)}, out_dir / "coverage.gpkg")
    written.append(out_dir / "coverage.gpkg")
    if workspace is not None:
        note = METHOD_LABELS[result.method] + ("; 示意 illustrative inputs" if illustrative else "")
        writes = [
            LayerWrite("coverage_demand", "result", demand, illustrative=illustrative, note=note),
            LayerWrite("coverage_units", "result", units, illustrative=illustrative, note=note),
        ]
        if len(areas):
            writes.append(LayerWrite("coverage_areas", "result", areas, illustrative=illustrative, note=note))
        workspace.write(writes, action="coverage", detail={"method": result.method})
    return written
