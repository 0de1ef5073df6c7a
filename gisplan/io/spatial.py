"""Reading vector files (GeoJSON, Shapefile with GBK .dbf, GeoPackage, GeoParquet) and hashing
input files for provenance.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pyogrio

from gisplan.errors import Problem, SchemaError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SPATIAL_SUFFIXES", "file_sha256", "list_file_layers", "read_file_layer", "read_spatial"]

logger = logging.getLogger(__name__)


SPATIAL_SUFFIXES = frozenset({".geojson", ".json", ".shp", ".gpkg", ".parquet"})


_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes.

    For a shapefile it covers every part that exists (.shp, .shx, .dbf, .prj, .cpg, each preceded by
    its suffix), so an attribute edit, which changes only the .dbf, changes the hash.
    """
    parts = [path.with_suffix(s) for s in _SHAPEFILE_PARTS] if path.suffix.lower() == ".shp" else [path]
    digest = hashlib.sha256()
    for part in parts:
        if not part.exists():
            continue
        if len(parts) > 1:
            digest.update(part.suffix.lower().encode())
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_spatial(path: Path, *, layer: str | None = None, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoJSON, Shapefile, GeoPackage or GeoParquet layer.

    Returns
    -------
    geopandas.GeoDataFrame
        With the file's CRS (possibly ``None``) and in column ``_row`` the row the user sees: the fid
        for a GeoPackage, else the 1-based feature number.

    Raises
    ------
    SchemaError
        If the file or layer cannot be read; the message lists a GeoPackage's layers.
    """
    source = path.name if layer is None else f"{path.name} [layer {layer}]"
    try:
        if path.suffix.lower() == ".parquet":
            gdf = gpd.read_parquet(path)
        else:
            if layer is None and path.suffix.lower() == ".gpkg":
                names = list_file_layers(path)
                if len(names) > 1:
                    msg = f"the GeoPackage holds {len(names)} layers ({', '.join(names)})."
                    raise SchemaError([Problem(path.name, None, None, msg, "choose one with `--layer`.")])
            kwargs: dict[str, Any] = {"layer": layer}
            if encoding is not None:
                kwargs["encoding"] = encoding
            elif path.suffix.lower() == ".shp" and not path.with_suffix(".cpg").exists():
                kwargs["encoding"] = _guess_dbf_encoding(path)
            # a GeoPackage's rows are named by fid, as QGIS shows them
            gdf = pyogrio.read_dataframe(path, fid_as_index=path.suffix.lower() == ".gpkg", **kwargs)
    except SchemaError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError, LookupError) as exc:
        msg = f"cannot read the file as a spatial layer: {str(exc).rstrip('.')}."
        fix = "check the file opens in QGIS; for a GeoPackage give `--layer`."
        raise SchemaError([Problem(source, None, None, msg, fix)]) from None
    if not isinstance(gdf, gpd.GeoDataFrame):
        gdf = gpd.GeoDataFrame(gdf)
    rows = gdf.index.to_numpy() if path.suffix.lower() == ".gpkg" else np.arange(1, len(gdf) + 1)
    gdf = gdf.reset_index(drop=True)
    gdf["_row"] = rows
    return gdf


def list_file_layers(path: Path) -> tuple[str, ...]:
    """Return the names of the layers in a vector file (a GeoPackage may hold several), in file order."""
    return tuple(str(n) for n in pyogrio.list_layers(path)[:, 0])


def read_file_layer(path: Path, *, layer: str) -> gpd.GeoDataFrame:
    """Read one layer of a file gisplan wrote (``results.gpkg`` …) as it was written: no row numbers, no
    encoding guesses (for the user's own files use :func:`read_spatial`)."""
    gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(path, layer=layer)
    return gdf


def _guess_dbf_encoding(path: Path) -> str:
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        return "utf-8"
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little") if len(data) >= 10 else 0
    # the text of a .dbf is its field names (11 bytes in each 32-byte descriptor) and its records;
    # the rest of the header is binary and never valid UTF-8
    names = b"".join(data[32 + 32 * i : 43 + 32 * i].rstrip(b"\0") for i in range(max(0, (header_len - 33) // 32)))
    try:
        (names + data[header_len:]).decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"
