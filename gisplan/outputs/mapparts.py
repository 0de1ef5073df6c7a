"""The parts of a plan map that orient a reader without tiles: name label points of townships and villages,
the neighbouring districts' names at the edge of the outline, and a local GeoTIFF basemap embedded as an image.

No folium here (that is :mod:`gisplan.outputs.webmap`'s); every function returns plain values in WGS84.
"""

from __future__ import annotations

import base64
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisplan import settings
from gisplan.analysis.metrics import REGISTRY, types_used
from gisplan.crs import utm_crs
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.outputs.mapstyle import MapRow
from gisplan.vocab import Method, Metric

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario

__all__ = ["BasemapImage", "label_points", "map_rows", "neighbour_labels", "read_basemap", "read_neighbours"]

logger = logging.getLogger(__name__)

_LABEL_TOLERANCE_M = 25.0  # precision of the inscribed-circle search: labels need no better
_NEIGHBOUR_TOUCH_M = 300.0  # real neighbouring polygons do not share exact edges: this near counts as shared
_NEIGHBOUR_MIN_SHARED_M = 1000.0  # a neighbour that shares less outline than this gets no label
_NEIGHBOUR_OFFSET_M = 2500.0  # how far outside the outline a neighbour's name is written
_PAGE_RGB = (0xF4, 0xF3, 0xEF)  # the map's background (gisplan-map.css), under a basemap's empty corners


def _metric(frame: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The geometries in a local UTM zone (metres)."""
    if frame.crs is None:
        msg = _("a map layer has no CRS; layers must carry one (the workspace stores EPSG:4326)")
        raise ConfigError(msg)
    geo = frame.geometry
    return geo.to_crs(utm_crs(geo)) if frame.crs.is_geographic else geo  # no PROJ database query per call


def label_points(frame: gpd.GeoDataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Where each polygon's name goes: the centre of its largest inscribed circle (inside the polygon even
    when it is crescent-shaped, unlike the centroid), in WGS84, and the circle's radius in metres (the room
    the label has; the map shrinks or moves labels whose text is wider).

    Returns
    -------
    lon, lat, radius_m : numpy.ndarray
        Aligned with `frame`'s rows.
    """
    metric = _metric(frame)
    lines = shapely.maximum_inscribed_circle(metric.to_numpy(), _LABEL_TOLERANCE_M)
    centres = shapely.get_point(lines, 0)
    radius = shapely.length(lines)
    wgs = gpd.GeoSeries(centres, crs=metric.crs).to_crs(4326)
    return (np.asarray(wgs.x, dtype=np.float64), np.asarray(wgs.y, dtype=np.float64),
            np.asarray(radius, dtype=np.float64))


def neighbour_labels(neighbours: gpd.GeoDataFrame, district: gpd.GeoDataFrame) -> pd.DataFrame:
    """The names of the units that share the district's outline, each placed just outside the middle of its
    longest shared stretch.

    Parameters
    ----------
    neighbours : geopandas.GeoDataFrame
        Polygons with a ``name`` (e.g. all districts of the province; the district itself, and units that do
        not touch it, are left out).
    district : geopandas.GeoDataFrame
        The district outline.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``lon``, ``lat`` (WGS84) and ``shared_km`` (outline shared), longest first.
    """
    if "name" not in neighbours:
        msg = _("a neighbours layer needs a `name` column (the neighbouring districts' names)")
        raise ConfigError(msg)
    outline_geo = _metric(district)
    crs = outline_geo.crs
    assert crs is not None  # internal invariant: _metric refuses layers without a CRS
    area = shapely.union_all(outline_geo.to_numpy())
    outline = shapely.boundary(area)
    polys = neighbours.geometry.to_crs(crs).to_numpy()
    # a polygon whose box stays _NEIGHBOUR_TOUCH_M from the district's box is farther than that from the district:
    # only the others are measured (a province's districts: a handful of the 41 of 重庆)
    west, south, east, north = shapely.bounds(area)
    box = shapely.bounds(polys)
    maybe = np.flatnonzero((box[:, 0] < east + _NEIGHBOUR_TOUCH_M) & (box[:, 2] > west - _NEIGHBOUR_TOUCH_M)
                           & (box[:, 1] < north + _NEIGHBOUR_TOUCH_M) & (box[:, 3] > south - _NEIGHBOUR_TOUCH_M))
    inside = shapely.area(shapely.intersection(polys[maybe], area)) / np.maximum(shapely.area(polys[maybe]), 1.0)
    near = np.zeros(len(polys), dtype=bool)
    near[maybe] = (shapely.distance(polys[maybe], area) < _NEIGHBOUR_TOUCH_M) & (inside < 0.5)
    shared = shapely.intersection(outline, shapely.buffer(polys[near], _NEIGHBOUR_TOUCH_M))
    lengths = shapely.length(shared)
    keep = lengths >= _NEIGHBOUR_MIN_SHARED_M
    names = neighbours.loc[near, "name"].astype(str).to_numpy()[keep]
    shared, lengths = shared[keep], lengths[keep]
    # the middle of each neighbour's longest stretch (a shared border can come in pieces), pushed outwards
    parts, owner = shapely.get_parts(shapely.line_merge(shared), return_index=True)
    longest = pd.Series(shapely.length(parts)).groupby(owner).idxmax().to_numpy()
    mids = shapely.line_interpolate_point(parts[longest], 0.5, normalized=True)
    centre = shapely.centroid(area)
    away_x, away_y = shapely.get_x(mids) - shapely.get_x(centre), shapely.get_y(mids) - shapely.get_y(centre)
    norm = np.hypot(away_x, away_y)
    norm[norm == 0] = 1.0
    points = shapely.points(shapely.get_x(mids) + away_x / norm * _NEIGHBOUR_OFFSET_M,
                            shapely.get_y(mids) + away_y / norm * _NEIGHBOUR_OFFSET_M)
    wgs = gpd.GeoSeries(points, crs=crs).to_crs(4326)
    out = pd.DataFrame({"name": names, "lon": wgs.x.to_numpy(), "lat": wgs.y.to_numpy(),
                        "shared_km": np.round(lengths / 1000.0, 1)})
    return out.sort_values("shared_km", ascending=False, ignore_index=True)


@dataclass(frozen=True, slots=True)
class BasemapImage:
    """A local GeoTIFF resampled into Web Mercator (the map's display projection, so an image overlay lines up
    with the layers) and encoded for the page.

    Attributes
    ----------
    data_uri : str
        ``data:image/jpeg;base64,…`` (PNG when the raster has transparent parts).
    south, west, north, east : float
        The image's corners, WGS84 degrees.
    width_px, height_px : int
    size_bytes : int
        The encoded image (the page grows by about 4/3 of it).
    metres_per_px : float
        Ground size of a pixel after resampling (Web Mercator metres at the image's centre).
    source : str
        The file's name.
    """

    data_uri: str
    south: float
    west: float
    north: float
    east: float
    width_px: int
    height_px: int
    size_bytes: int
    metres_per_px: float
    source: str

    @property
    def caption(self) -> str:
        """What the map says about the image: file, size in pixels and bytes, ground resolution.

        Examples
        --------
        >>> BasemapImage("", 0, 0, 1, 1, 2048, 1500, 1_300_000, 2.44, "ortho.tif").caption
        '本地影像 ortho.tif（2048×1500 像素，1.3 MB，约 2.4 m/像素）'
        """
        return (f"本地影像 {self.source}（{self.width_px}×{self.height_px} 像素，{self.size_bytes / 1e6:.1f} MB，"
                f"约 {self.metres_per_px:.1f} m/像素）")


def _rgba(data: NDArray[Any], valid: NDArray[np.bool_], colormap: dict[int, tuple[int, ...]] | None, *,
          holes: bool) -> tuple[NDArray[np.uint8], bool]:
    """Bands (band, row, col) as 3 or 4 uint8 bands; grey and paletted rasters are expanded to RGB; bands
    that are not bytes are stretched between their 2nd and 98th percentiles. Only a raster with `holes`
    (no-data inside it) gets an alpha band (PNG, about 4x slower and larger than JPEG); the corners the warp
    leaves empty are painted in the page's background colour."""
    if data.shape[0] == 1 and colormap:
        table = np.zeros((256, 4), dtype=np.uint8)
        for value, colour in colormap.items():
            if 0 <= value < 256:
                table[value, : len(colour)] = colour
        rgb = np.moveaxis(table[np.clip(data[0], 0, 255).astype(np.uint8)], -1, 0)[:3]
    else:
        rgb = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    if rgb.dtype != np.uint8:
        values = rgb[:, valid] if valid.any() else rgb.reshape(3, -1)
        low, high = (float(v) for v in np.percentile(values, [2, 98])) if values.size else (0.0, 255.0)
        rgb = np.clip((rgb - low) * (255.0 / max(high - low, 1e-9)), 0, 255).astype(np.uint8)
    transparent = holes and not bool(valid.all())
    if transparent:
        rgb = np.concatenate([rgb, (valid * 255).astype(np.uint8)[None]], axis=0)
    else:
        rgb = np.where(valid, rgb, np.array(_PAGE_RGB, dtype=np.uint8)[:, None, None])
    return np.ascontiguousarray(rgb, dtype=np.uint8), transparent


def read_basemap(path: Path, *, max_px: int = settings.BASEMAP_MAX_PX,
                 max_bytes: int = settings.BASEMAP_MAX_BYTES) -> BasemapImage:
    """Read a GeoTIFF (any CRS rasterio knows) and resample it into Web Mercator, its longest side at most
    `max_px` pixels, encoded as JPEG (PNG where it has no-data or an alpha band) of at most `max_bytes`
    (fewer pixels until it fits).

    The raster is read decimated to about the target size first (GDAL's overview/decimated read), then
    warped in memory: warping the full 2,500² test raster took 3–5 s on the loaded test machine, this 1.5 s.

    Raises
    ------
    ConfigError
        The file does not exist, is not a raster rasterio can read, or has no CRS.
    """
    import rasterio  # noqa: PLC0415 - heavy import, only with a basemap
    from rasterio.enums import Resampling  # noqa: PLC0415
    from rasterio.errors import RasterioIOError  # noqa: PLC0415
    from rasterio.warp import calculate_default_transform, reproject  # noqa: PLC0415

    if not path.is_file():
        msg = _("basemap {path} does not exist; give a GeoTIFF in [map] basemap or --basemap-file").format(path=path)
        raise ConfigError(msg)
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        msg = _("basemap {path} is not a raster rasterio can read ({exc}); give a GeoTIFF").format(path=path, exc=exc)
        raise ConfigError(msg) from None
    with src:
        if src.crs is None:
            msg = _("basemap {path} has no coordinate system; georeference it (e.g. gdal_edit.py -a_srs "
                    "EPSG:4490)").format(path=path)
            raise ConfigError(msg)
        transform, width, height = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height,
                                                               *src.bounds)
        scale = max(width, height) / max_px
        if scale > 1:
            transform = transform * transform.scale(scale, scale)
            width, height = max(1, round(width / scale)), max(1, round(height / scale))
        # read decimated to about the output size, then warp the small array
        factor = max(1.0, min(src.width / width, src.height / height))
        shape = (max(1, round(src.height / factor)), max(1, round(src.width / factor)))
        count = 3 if src.count >= 3 else 1
        bands = src.read(list(range(1, count + 1)), out_shape=(count, *shape), resampling=Resampling.average,
                         masked=True)
        mask = src.dataset_mask(out_shape=shape, resampling=Resampling.nearest)
        colormap = _colormap(src) if src.count == 1 else None
        src_transform = src.transform * src.transform.scale(src.width / shape[1], src.height / shape[0])
        crs = src.crs
    dtype = np.uint8 if bands.dtype == np.uint8 else np.float64  # bytes stay bytes: warped 2x faster
    data = np.zeros((count, height, width), dtype=dtype)
    warped_mask = np.zeros((height, width), dtype=np.uint8)
    reproject(np.asarray(bands.filled(0), dtype=dtype), data, src_transform=src_transform, src_crs=crs,
              dst_transform=transform, dst_crs="EPSG:3857", resampling=Resampling.bilinear)
    reproject(mask, warped_mask, src_transform=src_transform, src_crs=crs, dst_transform=transform,
              dst_crs="EPSG:3857", dst_nodata=0, resampling=Resampling.nearest)
    valid = warped_mask > 0
    pixels, transparent = _rgba(data, valid, colormap, holes=not bool(mask.all()))
    encoded, driver, pixels = _encode(pixels, transparent, max_bytes)
    height, width = pixels.shape[1:]
    step = data.shape[2] / width  # > 1 when the image had to be shrunk to fit max_bytes
    west, north = transform * (0, 0)
    east, south = transform * (data.shape[2], data.shape[1])
    to_wgs = Transformer.from_crs(3857, 4326, always_xy=True)
    lons, lats = to_wgs.transform([west, east], [south, north])
    mid_lat = np.radians((lats[0] + lats[1]) / 2)
    return BasemapImage(
        data_uri=f"data:image/{driver.lower()};base64," + base64.b64encode(encoded).decode("ascii"),
        south=float(lats[0]), west=float(lons[0]), north=float(lats[1]), east=float(lons[1]),
        width_px=int(width), height_px=int(height), size_bytes=len(encoded),
        metres_per_px=float(abs(transform.a) * step * np.cos(mid_lat)), source=Path(path).name,
    )


def _encode(pixels: NDArray[np.uint8], transparent: bool, max_bytes: int) -> tuple[bytes, str, NDArray[np.uint8]]:
    """The image as JPEG (PNG when `transparent`) of at most `max_bytes`: lower quality first, then every
    other pixel, until it fits. Returns the bytes, the driver and the pixels encoded."""
    from rasterio.errors import NotGeoreferencedWarning  # noqa: PLC0415
    from rasterio.io import MemoryFile  # noqa: PLC0415

    driver = "PNG" if transparent else "JPEG"
    options = {} if transparent else {"quality": 80}
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the page places the image, not GDAL
            with MemoryFile() as mem:
                with mem.open(driver=driver, width=pixels.shape[2], height=pixels.shape[1], count=pixels.shape[0],
                              dtype="uint8", **options) as dst:
                    dst.write(pixels)
                encoded = bytes(mem.read())
        if len(encoded) <= max_bytes or min(pixels.shape[1:]) < 64:
            return encoded, driver, pixels
        step = int(np.ceil(np.sqrt(len(encoded) / max_bytes)))  # bytes go with the pixel count
        pixels = np.ascontiguousarray(pixels[:, ::step, ::step])


def _colormap(src: object) -> dict[int, tuple[int, ...]] | None:
    """The palette of a one-band raster, or None."""
    try:
        return src.colormap(1)  # type: ignore[attr-defined,no-any-return]
    except ValueError:
        return None


def map_rows(scenario: Scenario, catalogue: Catalogue) -> tuple[MapRow, ...]:
    """The scenario's indicator rows as the map groups its layers: each row with the facility types it is
    computed from; rows that read no facility layer (reported values) are left out. A row is a headline row
    (on in the default view) when its ``headline`` says so, else when its metric is spatial (network or
    administrative coverage).
    """
    rows = []
    for spec in scenario.indicators:
        types = types_used(spec, catalogue)
        if not types:
            continue
        spatial = REGISTRY[spec.metric].method is Method.COMPUTED_SPATIAL
        rows.append(MapRow(indicator_id=spec.indicator_id, name=spec.name_zh, types=types,
                           coverage=spec.metric is Metric.NETWORK_COVERAGE,
                           headline=spatial if spec.headline is None else spec.headline))
    return tuple(rows)


def read_neighbours(paths: tuple[Path, ...]) -> gpd.GeoDataFrame | None:
    """The neighbouring units' polygons (``name``) from `paths`; files that are absent are skipped (and
    logged): the map then names no neighbours there.

    Raises
    ------
    ConfigError
        A file that exists but is not a polygon layer with a ``name`` column.
    """
    frames = []
    for path in paths:
        if not path.is_file():
            logger.warning("neighbours file %s is absent: the map names no neighbouring districts from it", path)
            continue
        try:
            frame = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several kinds: all mean "not a layer"
            msg = _("neighbours file {path} is not a vector layer ({exc}); give polygons with a `name` column").format(
                    path=path, exc=exc)
            raise ConfigError(msg) from None
        if "name" not in frame or frame.crs is None:
            msg = _("neighbours file {path} needs a `name` column and a CRS (e.g. GeoJSON in WGS84)").format(
                    path=path)
            raise ConfigError(msg)
        frames.append(frame[["name", "geometry"]].to_crs(4326))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326) if frames else None
