"""The OpenStreetMap download cache beside a workspace: a GeoPackage of roads (layer ``roads``) and a JSON
manifest written after it (``<cache>.json``: source, date, ODbL attribution, row count, sha256, the area).

The manifest is written last, so a download or a write cut short leaves a GeoPackage without one, or one whose
hash or row count disagrees with it: :func:`check_osm_cache` calls such a cache ``partial``, and it is never
used. A complete cache that is too old, or was fetched for another outline or buffer, is ``stale``: refetched
when online, reused (and said so) offline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyogrio
import shapely

from gisplan import settings
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_gpkg, write_atomic_text
from gisplan.io.spatial import file_sha256
from gisplan.vocab import OsmCacheState

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    import geopandas as gpd

__all__ = ["OSM_ATTRIBUTION", "OsmCacheCheck", "area_key", "check_osm_cache", "manifest_path", "write_osm_cache"]

OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
_KEYS = ("rows", "sha256", "fetched_at", "area_key")


@dataclass(frozen=True, slots=True)
class OsmCacheCheck:
    """The state of a cached download, why, and its manifest (empty when there is none)."""

    state: OsmCacheState
    reason: str
    manifest: Mapping[str, Any] = field(default_factory=dict)


def manifest_path(cache: Path) -> Path:
    """The manifest beside `cache`: ``<cache>.json``."""
    return cache.with_name(cache.name + ".json")


def area_key(polygon: shapely.Geometry, *, buffer_m: float, network_types: Sequence[str]) -> str:
    """A hash of what was asked for: the polygon (EPSG:4326, to 1e-6°), the buffer and the network types.

    Examples
    --------
    >>> square = shapely.box(0, 0, 1, 1)
    >>> area_key(square, buffer_m=2000, network_types=("walk",)) == area_key(
    ...     shapely.box(0, 0, 1, 1.0000001), buffer_m=2000, network_types=("walk",))
    True
    >>> area_key(square, buffer_m=2000, network_types=("walk",)) == area_key(
    ...     square, buffer_m=1000, network_types=("walk",))
    False
    """
    shape = shapely.normalize(shapely.set_precision(polygon, 1e-6))
    digest = hashlib.sha256(shapely.to_wkb(shape, hex=False))
    digest.update(f"|{buffer_m:g}|{','.join(network_types)}".encode())
    return digest.hexdigest()


def write_osm_cache(
    roads: gpd.GeoDataFrame, cache: Path, *, key: str, source: str, fetched_at: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `roads` (EPSG:4326) to `cache` atomically, then its manifest; return the manifest.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        The road layer (:func:`gisplan.io.osm.roads_from_graphs`).
    cache : Path
        GeoPackage to write (layer ``roads``).
    key : str
        :func:`area_key` of the polygon the roads were fetched for.
    source : str
        Where the roads came from (``OpenStreetMap via Overpass API (osmnx 2.1.1)``).
    fetched_at : datetime, optional
        When (UTC); default now.
    extra : mapping, optional
        More manifest entries (buffer, network types …).
    """
    when = (fetched_at or datetime.now(UTC)).astimezone(UTC)
    write_atomic_gpkg({"roads": roads}, cache)
    manifest = {"source": source, "attribution": OSM_ATTRIBUTION, "licence": "ODbL-1.0",
                "fetched_at": when.isoformat(timespec="seconds"), "rows": len(roads), "sha256": file_sha256(cache),
                "area_key": key, **(extra or {})}
    write_atomic_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", manifest_path(cache))
    return manifest


def _damage(cache: Path, manifest: Mapping[str, Any]) -> str:
    """Why a cache with a manifest is not the file the manifest describes (empty when it is)."""
    if file_sha256(cache) != manifest["sha256"]:
        return _("{name}: its sha256 differs from the manifest's (the file was cut short or changed)").format(
                name=cache.name)
    try:
        rows = int(pyogrio.read_info(cache, layer="roads")["features"])
    except Exception as exc:  # GDAL raises several kinds for a damaged file
        return f"{cache.name} cannot be read ({exc})"
    if rows != int(manifest["rows"]):
        return _("{name} holds {rows} roads, its manifest says {rows2}").format(
                name=cache.name, rows=rows, rows2=manifest['rows'])
    return ""


def _read_manifest(cache: Path) -> tuple[dict[str, Any], str]:
    """The manifest of `cache`, or an empty dict and why it cannot be used."""
    mpath = manifest_path(cache)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, _("{name} has no manifest ({name2}): the download or its write did not finish").format(
                name=cache.name, name2=mpath.name)
    except (OSError, ValueError) as exc:
        return {}, _("{name} cannot be read ({exc})").format(name=mpath.name, exc=exc)
    if not isinstance(manifest, dict) or any(k not in manifest for k in _KEYS):
        return {}, _("{name} lacks one of {keys}").format(name=mpath.name, keys=', '.join(_KEYS))
    return manifest, ""


def check_osm_cache(
    cache: Path, *, key: str | None = None, max_age_days: float = settings.OSM_CACHE_MAX_AGE_DAYS,
    now: datetime | None = None,
) -> OsmCacheCheck:
    """Whether a cached download can be used: ``fresh``, ``missing``, ``partial`` or ``stale``.

    Partial: no manifest, a manifest that cannot be read, or a file whose sha256 or ``roads`` row count
    differs from the manifest's (a download or a write cut short, or a file changed by hand). Stale: complete
    but fetched for another area (`key`, see :func:`area_key`) or more than `max_age_days` ago.
    """
    if not cache.exists():
        return OsmCacheCheck(OsmCacheState.MISSING, _("no cached download at {cache}").format(cache=cache))
    manifest, problem = _read_manifest(cache)
    problem = problem or _damage(cache, manifest)
    if problem:
        return OsmCacheCheck(OsmCacheState.PARTIAL, problem, manifest)
    age = (now or datetime.now(UTC)) - datetime.fromisoformat(manifest["fetched_at"])
    if key is not None and manifest["area_key"] != key:
        problem = _("{name} was fetched for another area (outline, buffer or network types changed)").format(
                name=cache.name)
    elif age.total_seconds() > max_age_days * 86400:
        problem = _("{name} was fetched {days} days ago (more than {max_age_days:g})").format(
                name=cache.name, days=age.days, max_age_days=max_age_days)
    if problem:
        return OsmCacheCheck(OsmCacheState.STALE, problem, manifest)
    reason = _("{name}: {rows} roads fetched {fetched_at}").format(
            name=cache.name, rows=manifest['rows'], fetched_at=manifest['fetched_at'])
    return OsmCacheCheck(OsmCacheState.FRESH, reason, manifest)
