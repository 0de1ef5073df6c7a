"""A layer as the store reads it back right after writing it, without reading its geometry back.

A commit records the hash and rows of every layer it wrote as *stored* (:mod:`gisplan.store.history`). Reading a
large layer back for that costs as much as writing it (293,467 road links: GDAL's row-wise read of every geometry
and shapely parsing it again). The attributes are still read back, as the store stores them (dtypes, missing
values, text), but the geometry is taken from the frame just written: shapely → WKB → GeoPackage or PostGIS →
WKB → shapely gives the same geometries (points, lines, polygons, their multi forms and collections, 2D and 3D,
empty and missing; tests/test_store_written.py on both backends). Measured (M) coordinates do not survive a
GeoPackage (GDAL drops them): a layer with any is read back whole.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd  # noqa: TC002 - the doctest's namespace
import shapely

from gisplan.store.layerhash import geometry_name

__all__ = ["with_written_geometry"]


def with_written_geometry(attributes: pd.DataFrame, data: pd.DataFrame, *, crs: Any,
                          spatial: bool) -> pd.DataFrame | None:
    """The layer as the store reads it back: `attributes` as read back from the store and the geometry of `data`,
    the frame that was written, in the stored CRS `crs` (None when the geometry has to be read back instead).

    Parameters
    ----------
    attributes : pandas.DataFrame
        The stored layer's attribute columns, read back, in stored order.
    data : pandas.DataFrame or geopandas.GeoDataFrame
        The frame the layer was written from.
    crs : pyproj.CRS or str or None
        The CRS the store reads the layer back in.
    spatial : bool
        Whether the stored layer has a geometry column.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame or None
        The frame a whole read gives (geometry last, named ``geometry``, on the attributes' index); None where
        that cannot be vouched for: another row count, geometry written but not stored (or the reverse), or
        measured (M) coordinates.

    Examples
    --------
    >>> data = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(1, 2)], crs="EPSG:4326")
    >>> back = with_written_geometry(pd.DataFrame({"n": [1]}), data, crs="EPSG:4326", spatial=True)
    >>> list(back.columns), back.geometry.iloc[0].wkt
    (['n', 'geometry'], 'POINT (1 2)')
    """
    written_geometry = geometry_name(data)
    if len(attributes) != len(data) or (written_geometry is not None) != spatial:
        return None
    if written_geometry is None:
        return attributes
    values = data.geometry.to_numpy()
    if bool(shapely.has_m(values).any()):
        return None
    return gpd.GeoDataFrame(attributes, geometry=values, crs=crs)
