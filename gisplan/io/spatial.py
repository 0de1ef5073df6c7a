"""Reading vector files (GeoJSON, Shapefile with GBK .dbf, GeoPackage, GeoParquet) and hashing
input files for provenance.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely

from gisplan.errors import Problem, SchemaError
from gisplan.i18n import _

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
                    msg = _("the GeoPackage holds {n} layers ({names}).").format(n=len(names), names=', '.join(names))
                    raise SchemaError([Problem(path.name, None, None, msg, "choose one with `--layer`.")])
            kwargs: dict[str, Any] = {"layer": layer}
            if encoding is not None:
                kwargs["encoding"] = encoding
            elif path.suffix.lower() == ".shp" and not path.with_suffix(".cpg").exists():
                kwargs["encoding"] = _guess_dbf_encoding(path)
            elif path.suffix.lower() == ".shp":
                _check_cpg(path)
            # a GeoPackage's rows are named by fid, as QGIS shows them
            gdf = _read_checked(path, source, fid_as_index=path.suffix.lower() == ".gpkg", **kwargs)
    except SchemaError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, ValueError, LookupError) as exc:
        raise SchemaError([_unreadable(path, source, layer, exc)]) from None
    if not isinstance(gdf, gpd.GeoDataFrame):
        gdf = gpd.GeoDataFrame(gdf)
    rows = gdf.index.to_numpy() if path.suffix.lower() == ".gpkg" else np.arange(1, len(gdf) + 1)
    gdf = gdf.reset_index(drop=True)
    gdf["_row"] = rows
    return gdf


def _unreadable(path: Path, source: str, layer: str | None, exc: Exception) -> Problem:
    """Why a vector file could not be read; for a GeoPackage layer that is not there, the layers that are."""
    msg = _("cannot read the file as a spatial layer: {reason}.").format(reason=str(exc).rstrip('.'))
    fix = _("check the file opens in QGIS; for a GeoPackage give `--layer`.")
    if path.suffix.lower() == ".gpkg" and layer is not None:
        try:
            names = list_file_layers(path)
        except (pyogrio.errors.DataSourceError, OSError):
            names = ()
        if names and layer not in names:
            msg = _("the GeoPackage has no layer {layer!r} (layers: {names}).").format(
                    layer=layer, names=', '.join(names))
            fix = _("give one of those with `--layer`.")
    return Problem(source, None, None, msg, fix)


def _read_checked(path: Path, source: str, **kwargs: Any) -> gpd.GeoDataFrame:
    """Read with pyogrio; geometries GEOS cannot build (a polygon ring that is not closed …) are reported by row,
    and the library's own warnings (NaN coordinates …) do not reach the user's terminal raw."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(path, **kwargs)
        except shapely.errors.GEOSException as exc:
            broken = pyogrio.read_dataframe(path, on_invalid="ignore", **kwargs)
            raw = pyogrio.raw.read(path, layer=kwargs.get("layer"), encoding=kwargs.get("encoding"))[2]
            bad = np.flatnonzero(broken.geometry.isna().to_numpy() & np.asarray(pd.notna(raw), dtype=bool))
            rows = broken.index.to_numpy()[bad] if kwargs.get("fid_as_index") else bad + 1
            reason = _geos_reason(str(exc))
            raise SchemaError([Problem(source, int(r), "geometry", _("the geometry cannot be read: {reason}.").format(
                    reason=reason),
                                       "repair it (QGIS: Processing › Fix geometries) and import again.")
                               for r in rows[:50]]) from None
    return gdf


def _geos_reason(text: str) -> str:
    """GEOS's reason in words a user knows."""
    if "closed linestring" in text:
        return "a polygon ring is not closed (its first and last points differ)"
    if "at least 4" in text or "must have" in text:
        return "a polygon ring has fewer than 4 points"
    return text.split(": ", 1)[-1].rstrip(".")


def list_file_layers(path: Path) -> tuple[str, ...]:
    """Return the names of the layers in a vector file (a GeoPackage may hold several), in file order."""
    return tuple(str(n) for n in pyogrio.list_layers(path)[:, 0])


def read_file_layer(path: Path, *, layer: str) -> gpd.GeoDataFrame:
    """Read one layer of a file gisplan wrote (``results.gpkg`` …) as it was written: no row numbers, no
    encoding guesses (for the user's own files use :func:`read_spatial`).

    Read through Arrow (half the time of the row-wise read on a run's ``results.gpkg``) into the frame the
    row-wise read gives: a true/false field with empty cells comes back as 1.0/0.0/NaN, as it did, and an empty
    layer is read row-wise (its text columns' dtype)."""
    gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(path, layer=layer, use_arrow=True)
    if len(gdf) == 0:
        empty: gpd.GeoDataFrame = pyogrio.read_dataframe(path, layer=layer)
        return empty
    info = pyogrio.read_info(path, layer=layer)
    for field, dtype in zip(info["fields"], info["dtypes"], strict=True):
        if dtype == "bool" and field in gdf.columns and gdf[field].dtype == object:
            gdf[field] = gdf[field].astype("float64")
    return gdf


def _dbf_text(path: Path) -> bytes:
    """The text bytes of a shapefile's .dbf: its field names (11 bytes in each 32-byte descriptor) and its
    records; the rest of the header is binary and never valid text."""
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        return b""
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little") if len(data) >= 10 else 0
    names = b"".join(data[32 + 32 * i : 43 + 32 * i].rstrip(b"\0") for i in range(max(0, (header_len - 33) // 32)))
    return names + data[header_len:]


def _guess_dbf_encoding(path: Path) -> str:
    try:
        _dbf_text(path).decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


# how .cpg files name their code page (ArcGIS writes 65001 / UTF-8, 936 for GBK)
_CPG_CODECS = {"65001": "utf-8", "utf8": "utf-8", "936": "gbk", "cp936": "gbk", "950": "big5", "ansi 936": "gbk",
               "1252": "cp1252", "ansi 1252": "cp1252", "utf-8": "utf-8"}


def _check_cpg(path: Path) -> None:
    """A .cpg that names another encoding than the .dbf's text is in would garble every name: refuse it."""
    cpg = path.with_suffix(".cpg")
    said = cpg.read_bytes().decode("ascii", errors="replace").strip()
    codec = _CPG_CODECS.get(said.lower(), said.lower())
    text = _dbf_text(path)
    try:
        text.decode(codec)
    except LookupError:
        return  # a code page Python does not know: GDAL decides
    except UnicodeDecodeError:
        actual = _guess_dbf_encoding(path)
        msg = (_("the .cpg file says the attribute text is {said}, but the .dbf is not {said} text (it reads as "
                 "GBK/GB18030).") if actual == "gb18030"
               else _("the .cpg file says the attribute text is {said}, but the .dbf is not {said} text.")).format(
            said=said)
        fix = (_("correct or delete {name} (its content should be {value}), or give `--encoding gbk`.").format(
                name=cpg.name, value='GBK' if actual == 'gb18030' else 'UTF-8'))
        raise SchemaError([Problem(path.name, None, None, msg, fix)]) from None
    if codec == "utf-8":
        return
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return
    if any(b >= 0x80 for b in text):  # valid UTF-8 with non-ASCII text, yet the .cpg names a legacy code page
        msg = _("the .cpg file says the attribute text is {said}, but the .dbf holds UTF-8 text.").format(said=said)
        raise SchemaError([Problem(path.name, None, None, msg, _("write UTF-8 into {name} (or delete it), or give "
                                                                 "`--encoding utf-8`.").format(name=cpg.name))])
