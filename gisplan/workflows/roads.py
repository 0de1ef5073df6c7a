"""`gisplan roads fetch` as a workflow: OpenStreetMap roads for a district's outline plus a buffer, downloaded
(or taken from the cache beside the workspace), converted and imported as the workspace's ``roads`` layer with
their source, date and ODbL attribution in the layer metadata's ``note``.

Callable without the CLI (no click, no sys.exit).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gisplan import settings
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.osm import fetch_osm_roads
from gisplan.io.spatial import read_spatial
from gisplan.workflows.importing import OSM_CACHE_SUFFIX, ImportResult, import_layers, osm_import_spec

if TYPE_CHECKING:
    from pathlib import Path

    import geopandas as gpd
    import pandas as pd

    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.io.osm import Downloader, OsmRoads
    from gisplan.store import Workspace

__all__ = ["RoadsFetched", "district_outline", "fetch_roads", "scenario_outline"]

logger = logging.getLogger(__name__)

_CODE_COLUMNS = ("code12", "adcode", "code", "xzqdm", "区划代码", "行政区代码")


@dataclass(frozen=True, slots=True)
class RoadsFetched:
    """What :func:`fetch_roads` did: the cache it used or wrote, and the import into the workspace."""

    roads: OsmRoads
    imported: ImportResult


def _code_column(frame: pd.DataFrame) -> str | None:
    lower = {str(c).lower(): str(c) for c in frame.columns}
    return next((lower[c] for c in _CODE_COLUMNS if c in lower), None)


def district_outline(
    code: str, *, workspace: Workspace | None = None, boundaries: Path | None = None,
) -> gpd.GeoDataFrame:
    """The outline of district `code` (6 or 12 digits): its feature in `boundaries` (a file of district
    polygons with a ``code12``/``adcode``/``code`` column), else the workspace's ``district`` layer.

    Raises
    ------
    ConfigError
        If the code is malformed, the file or workspace has no such district, or neither is given.
    """
    code = code.strip()
    if not re.fullmatch(r"\d{6}(\d{6})?", code):
        msg = _("`{code}` is not a district code: give 6 digits (500118) or 12 (500118000000), or a scenario "
                "TOML.").format(
                code=code)
        raise ConfigError(msg)
    six = code[:6]
    if boundaries is not None:
        frame = read_spatial(boundaries)
        column = _code_column(frame)
        if column is None:
            msg = (_("{name}: no district code column (one of {code_columns}); give a file of district polygons "
                     "with their codes.").format(name=boundaries.name, code_columns=', '.join(_CODE_COLUMNS)))
            raise ConfigError(msg)
        found = frame[frame[column].astype(str).str.slice(0, 6) == six]
        where = boundaries.name
    elif workspace is not None and workspace.has_layer("district"):
        frame = workspace.read_layer("district")
        column = _code_column(frame)
        found = frame if column is None else frame[frame[column].astype(str).str.slice(0, 6) == six]
        where = _("the workspace's district layer ({label})").format(label=workspace.label)
    else:
        msg = (_("no outline for district {six}: import the district outline first (gisplan layers import FILE "
                 "--kind district -w WORKSPACE), or give --boundaries FILE, or fetch for a scenario instead.").format(
                six=six))
        raise ConfigError(msg)
    if found.empty:
        msg = _("{where} has no district {six}; check the code, or give the file holding its outline.").format(
                where=where, six=six)
        raise ConfigError(msg)
    return found


def scenario_outline(sc: Scenario, workspace: Workspace) -> gpd.GeoDataFrame:
    """The district outline of a scenario: its ``district`` layer file, else the workspace's district layer.

    Raises
    ------
    ConfigError
        If neither exists.
    """
    spec = next((s for s in sc.layers if s.kind == "district"), None)
    if spec is not None and spec.path.exists():
        return read_spatial(spec.path, layer=spec.layer)
    return district_outline(sc.district_code, workspace=workspace)


def fetch_roads(
    workspace: Workspace,
    area: gpd.GeoDataFrame,
    *,
    catalogue: Catalogue,
    district_code: str | None = None,
    buffer_m: float = settings.OSM_BUFFER_M,
    refresh: bool = False,
    download: Downloader | None = None,
    source: str | None = None,
) -> RoadsFetched:
    """Fetch OpenStreetMap roads (walk and drive networks) for `area` plus `buffer_m` and import them as the
    workspace's ``roads`` layer, all or nothing. The download is cached beside the workspace
    (``<workspace>_osm_roads.gpkg`` and its manifest) and reused, offline too, while it is fresh
    (:func:`gisplan.io.osm.fetch_osm_roads`, whose `refresh`, `download` and `source` this passes on).

    Raises
    ------
    NetworkError
        If there is no usable cache and the download fails (offline); the message gives the alternatives.
    ImportError
        If osmnx is not installed.
    SchemaError
        If the roads fail the checks of a road layer; the workspace is then unchanged.
    """
    cache = workspace.derived_path(OSM_CACHE_SUFFIX)
    roads = fetch_osm_roads(area, cache, buffer_m=buffer_m, refresh=refresh, download=download, source=source)
    results = import_layers(workspace, [osm_import_spec(roads)], catalogue=catalogue, district_code=district_code)
    logger.info("fetch_roads: %d road pieces imported from %s", results[0].rows, cache)
    return RoadsFetched(roads, results[0])
