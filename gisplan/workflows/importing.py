"""Importing files into a workspace: read, validate against the workspace, then write atomically.

Every file of one import is validated before anything is written; problems from all files are
reported together, and then nothing is written at all.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from gisplan import settings
from gisplan.catalogue import facility_layer_name
from gisplan.crs import parse_crs
from gisplan.errors import ConfigError, NetworkError, Problem, SchemaError, StoreError
from gisplan.i18n import _
from gisplan.io.osm import fetch_osm_roads, is_osm_file, read_osm_roads
from gisplan.io.spatial import SPATIAL_SUFFIXES, file_sha256, read_spatial
from gisplan.io.tables import COORDINATE_HEADERS, TABLE_SUFFIXES, RawTable, read_table
from gisplan.progress import ProgressSink, Tick, silent
from gisplan.store import LayerWrite, Workspace
from gisplan.validation.schema import KINDS, Context, layer_schema, validate_layer
from gisplan.workflows.divisions import CROSSWALK_LAYER, replay_crosswalk, with_retired
from gisplan.workflows.importkey import imported_already, inputs_key
from gisplan.workflows.recheck import recheck_dependents

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.io.osm import OsmRoads

__all__ = [
    "ImportResult",
    "ImportSpec",
    "import_layers",
    "import_scenario",
    "layer_name_for",
    "load_context",
    "osm_import_spec",
    "scenario_specs",
    "validate_imports",
]

logger = logging.getLogger(__name__)

#: the OpenStreetMap download cache beside a workspace (``<workspace>_osm_roads.gpkg``, and its ``.json`` manifest)
OSM_CACHE_SUFFIX = "_osm_roads.gpkg"


@dataclass(frozen=True, slots=True)
class ImportSpec:
    """One file to import.

    Attributes
    ----------
    path : Path
        CSV/TSV, XLSX, GeoJSON, Shapefile, GeoPackage or GeoParquet file.
    kind : str
        One of :data:`gisplan.validation.schema.KINDS`.
    facility_type : str, optional
        Catalogue type id; required for ``facilities``.
    crs : str, optional
        The CRS of the coordinates: EPSG code, ``gcj02`` or ``bd09`` (overrides the file's label).
    layer, sheet, encoding : str, optional
        GeoPackage layer, XLSX sheet, CSV text encoding.
    illustrative : bool
        Flag the layer as generated (示意). A layer whose rows carry ``illustrative = true`` is
        flagged whatever this says.
    make_ids : bool
        Number facilities ``<type>-<row>`` when the file has no id column.
    note : str, optional
        Provenance for the layer metadata's ``note`` (the source, date and ODbL attribution of fetched
        OpenStreetMap roads).
    tolerance_m : float, optional
        Metres a point of this layer may lie outside its polygons (default: the import's). Kept in the layer's
        metadata and used again whenever the layer is checked again.
    accept_large : bool
        Accept magnitudes beyond the plausible (a population or floor area far above any real one); kept in
        the metadata like `tolerance_m`.
    locate_by_name : bool
        A facility table without coordinates is placed at its villages'/townships' representative points
        (column ``location_precision``).
    """

    path: Path
    kind: str
    facility_type: str | None = None
    crs: str | None = None
    layer: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    illustrative: bool = False
    make_ids: bool = False
    note: str | None = None
    tolerance_m: float | None = None
    accept_large: bool = False
    locate_by_name: bool = False

    def options(self) -> dict[str, object]:
        """The options given for this file that differ from the defaults (for the metadata and the change log)."""
        given = {"crs": self.crs, "layer": self.layer, "sheet": self.sheet, "encoding": self.encoding,
                 "make_ids": self.make_ids or None, "tolerance_m": self.tolerance_m,
                 "accept_large": self.accept_large or None, "illustrative": self.illustrative or None,
                 "locate_by_name": self.locate_by_name or None}
        return {k: v for k, v in given.items() if v is not None}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one import wrote: store layer name, row count, illustrative flag, source file, and for a ledger located
    by name the number of rows per ``location_precision`` (``{"village": 12, "township": 5}``)."""

    layer: str
    kind: str
    rows: int
    illustrative: bool
    source: str
    precision: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


def layer_name_for(spec: ImportSpec) -> str:
    """Return the workspace layer name for an import (``facilities_<type>`` for facilities)."""
    if spec.kind == "facilities":
        return facility_layer_name(str(spec.facility_type))
    return spec.kind


def _order(spec: ImportSpec, catalogue: Catalogue) -> tuple[int, int]:
    # host types (community service centres) before the types naming them as hosts (volunteer points)
    return KINDS.index(spec.kind), catalogue.host_depth(spec.facility_type)


def load_context(
    workspace: Workspace | None, *, tolerance_m: float = settings.TOLERANCE_M, planning_crs: str | None = None,
) -> Context:
    """Read the layers that cross-layer checks need from a workspace (missing ones stay ``None``)."""
    if workspace is None or not workspace.exists():
        return Context(tolerance_m=tolerance_m, planning_crs=planning_crs)
    names = workspace.layer_names()

    def get(name: str) -> pd.DataFrame | None:
        return workspace.read(name) if name in names else None

    facilities = {type_id: workspace.read_layer(name) for type_id, name in workspace.facility_layers().items()}
    return Context(
        gazetteer=get("gazetteer"),
        district=_spatial(get("district")),
        townships=_spatial(get("townships")),
        villages=_spatial(get("villages")),
        places=get("places"),
        facilities=MappingProxyType(facilities),
        tolerance_m=tolerance_m,
        planning_crs=planning_crs,
    )


def _spatial(frame: pd.DataFrame | None) -> gpd.GeoDataFrame | None:
    if frame is None or isinstance(frame, gpd.GeoDataFrame):
        return frame
    msg = _("a boundary layer in the workspace has no geometry; import it again from a spatial file.")
    raise StoreError(msg)


def _with(ctx: Context, spec: ImportSpec, data: pd.DataFrame, crosswalk: pd.DataFrame | None = None) -> Context:
    """Return the context with a layer validated earlier in the same import (a gazetteer with the codes the
    `crosswalk` retired, so that files still using them validate)."""
    if spec.kind == "facilities":
        return replace(ctx, facilities=MappingProxyType({**ctx.facilities, str(spec.facility_type): data}))
    if spec.kind == "gazetteer":
        return replace(ctx, gazetteer=with_retired(data, crosswalk))
    if spec.kind == "district":
        return replace(ctx, district=_spatial(data))
    if spec.kind == "townships":
        return replace(ctx, townships=_spatial(data))
    if spec.kind == "villages":
        return replace(ctx, villages=_spatial(data))
    return ctx


def _read(spec: ImportSpec, catalogue: Catalogue) -> pd.DataFrame | object:
    path = spec.path
    suffix = path.suffix.lower()
    if not path.exists():
        msg = _("the file does not exist.")
        raise SchemaError([Problem(str(path), None, None, msg, "check the path and the spelling.")])
    if path.is_dir():
        msg = _("this is a folder, not a file.")
        raise SchemaError([Problem(str(path), None, None, msg, "give the file inside it (.shp/.gpkg/.csv …).")])
    if is_osm_file(path):
        if spec.kind != "roads":
            msg = _("an OpenStreetMap file can only be imported as `roads`.")
            raise SchemaError([Problem(path.name, None, None, msg, "use --kind roads.")])
        gdf = read_osm_roads(path)
        gdf["_row"] = np.arange(1, len(gdf) + 1)
        return gdf
    if suffix == ".xls":
        msg = _("old .xls workbooks are not read.")
        raise SchemaError([Problem(path.name, None, None, msg, "open it in Excel/WPS and save it as .xlsx.")])
    if suffix in TABLE_SUFFIXES:
        ftype = catalogue.get_type(str(spec.facility_type)) if spec.kind == "facilities" else None
        schema = layer_schema(spec.kind, catalogue, ftype)
        known = {al for a in (*schema.required, *schema.optional) for al in a.aliases}
        known |= COORDINATE_HEADERS
        return read_table(path, known_headers=known, sheet=spec.sheet, encoding=spec.encoding)
    if suffix in SPATIAL_SUFFIXES:
        return read_spatial(path, layer=spec.layer, encoding=spec.encoding)
    accepted = ", ".join(sorted(TABLE_SUFFIXES | SPATIAL_SUFFIXES))
    msg = _("files of type {value!r} are not read.").format(value=suffix or '(no extension)')
    raise SchemaError([Problem(path.name, None, None, msg, _("convert it to one of: {accepted}.").format(
            accepted=accepted))])


def validate_imports(
    specs: Sequence[ImportSpec],
    *,
    workspace: Workspace | None,
    catalogue: Catalogue,
    tolerance_m: float = settings.TOLERANCE_M,
    progress: ProgressSink = silent,
    district_code: str | None = None,
    planning_crs: str | None = None,
) -> list[LayerWrite]:
    """Read and validate every file, in dependency order, against the workspace and each other.

    Returns
    -------
    list of LayerWrite
        Ready for :meth:`gisplan.store.Workspace.write`.

    Raises
    ------
    SchemaError
        With the problems of every file (nothing is written).
    ConfigError, CRSError
        For an unknown facility type or a bad ``--crs``.
    """
    for spec in specs:
        if spec.kind not in KINDS:
            problem = Problem(str(spec.path), None, None, _("unknown layer kind {kind!r}.").format(kind=spec.kind),
                              _("use one of: {kinds}.").format(kinds=', '.join(KINDS)))
            raise SchemaError([problem])
        if spec.kind == "facilities":
            catalogue.get_type(str(spec.facility_type))
    declared = {id(s): (parse_crs(s.crs) if s.crs else None) for s in specs}
    ctx = load_context(workspace, tolerance_m=tolerance_m, planning_crs=planning_crs)
    before = ctx.gazetteer
    # a division change retired some codes: files that still use them validate, then are re-coded
    crosswalk = workspace.read_table(CROSSWALK_LAYER) if workspace is not None and workspace.has_layer(
        CROSSWALK_LAYER) else None
    ctx = replace(ctx, gazetteer=with_retired(ctx.gazetteer, crosswalk))
    problems: list[Problem] = []
    parts: dict[str, list[_Part]] = {}
    names: dict[str, str] = {}
    ordered = sorted(specs, key=lambda s: _order(s, catalogue))
    for i, spec in enumerate(ordered):
        progress(Tick("import", i, len(ordered), getattr(spec.path, "name", str(spec.path))))
        _warn_crs_hints(spec)
        name = layer_name_for(spec)
        if name in names and spec.kind not in _COMBINABLE:
            problems.append(Problem(str(spec.path), None, None, _("layer `{name}` is also imported from {names} in "
                                                                  "this run.").format(
                    name=name, names=names[name]), "import each layer from one file."))
            continue
        names.setdefault(name, str(spec.path))
        ftype = catalogue.get_type(str(spec.facility_type)) if spec.kind == "facilities" else None
        own = replace(ctx, tolerance_m=ctx.tolerance_m if spec.tolerance_m is None else spec.tolerance_m,
                      accept_large=spec.accept_large, locate_by_name=spec.locate_by_name)
        try:
            raw = _read(spec, catalogue)
            source = _source_name(spec, raw)
            data = validate_layer(raw, kind=spec.kind, catalogue=catalogue, ftype=ftype,  # type: ignore[arg-type]
                                  declared_crs=declared[id(spec)], context=own, source=source,
                                  make_ids=spec.make_ids)
        except SchemaError as exc:
            problems.extend(exc.problems)
            continue
        parts.setdefault(name, []).append(_Part(spec, source, data, spec.crs or _file_crs(raw)))
        combined = _combine(parts[name])
        problems.extend(_cross_file_duplicates(parts[name], spec.kind))
        ctx = _with(ctx, spec, combined, crosswalk)
    if not problems and crosswalk is not None:
        parts, ctx = _replay(parts, ctx, crosswalk)
    if not problems and "gazetteer" in names and before is not None and ctx.gazetteer is not None:
        problems = _same_district(before, ctx.gazetteer, names["gazetteer"])
    if not problems and workspace is not None and workspace.exists():
        problems = recheck_dependents(workspace, set(names), ctx, catalogue)
    if problems:
        raise SchemaError(problems)
    if district_code is not None and ctx.gazetteer is not None:
        covered = _districts(ctx.gazetteer)
        if covered != [district_code]:
            msg = (_("the district is {district_code}, but the gazetteer covers {covered}; import the gazetteer of "
                     "that district (or use another workspace). Nothing was written.").format(
                    district_code=district_code, covered=', '.join(covered)))
            raise ConfigError(msg)
    return [_layer_write(name, group) for name, group in parts.items()]


def _replay(parts: dict[str, list[_Part]], ctx: Context, crosswalk: pd.DataFrame,
            ) -> tuple[dict[str, list[_Part]], Context]:
    """Re-code the validated files through the division crosswalk, and the context the workspace's other layers
    are checked against again with them."""
    out: dict[str, list[_Part]] = {}
    for name, group in parts.items():
        for part in group:
            data, n = replay_crosswalk(part.data, crosswalk, kind=part.spec.kind, source=part.source)
            spec = part.spec
            if n:
                spec = replace(spec, note="; ".join(filter(None, [spec.note,
                                                                  f"{n} rows re-coded through division_crosswalk"])))
            out.setdefault(name, []).append(replace(part, spec=spec, data=data))
        ctx = _with(ctx, out[name][0].spec, _combine(out[name]), crosswalk)
    return out, ctx


# per-township ledgers, households or road tiles of one layer may come in several files
_COMBINABLE = frozenset({"facilities", "households", "townships", "villages", "roads"})
_KEY = {"facilities": "facility_id", "households": "code12", "townships": "code12", "villages": "code12"}


@dataclass(frozen=True, slots=True)
class _Part:
    """One validated file of a layer."""

    spec: ImportSpec
    source: str
    data: pd.DataFrame
    crs_given: str | None


def _combine(group: list[_Part]) -> pd.DataFrame:
    if len(group) == 1:
        return group[0].data
    frames = [p.data for p in group]
    combined = pd.concat(frames, ignore_index=True)
    if all(isinstance(f, gpd.GeoDataFrame) for f in frames):
        return gpd.GeoDataFrame(combined, geometry=frames[0].geometry.name, crs=frames[0].crs)
    return combined


def _cross_file_duplicates(group: list[_Part], kind: str) -> list[Problem]:
    """The key of the newest file must not repeat one of an earlier file of the same layer."""
    key = _KEY.get(kind)
    if key is None or len(group) < 2:
        return []
    new = group[-1]
    seen = {v: p.source for p in group[:-1] for v in p.data[key].dropna()}
    return [Problem(new.source, None, key, _("{v!r} is also in {seen}.").format(v=v, seen=seen[v]),
                    "give every row of the layer its own value across all its files.")
            for v in new.data[key].dropna().unique() if v in seen]


def _layer_write(name: str, group: list[_Part]) -> LayerWrite:
    data = _combine(group)
    first = group[0].spec
    flagged = any(p.spec.illustrative for p in group) or bool(
        "illustrative" in data and data["illustrative"].astype(str).str.lower().isin({"true", "1"}).any())
    return LayerWrite(
        name=name,
        kind=first.kind,
        data=data,
        source_path="; ".join(str(p.spec.path.resolve()) for p in group),
        source_sha256=",".join(file_sha256(p.spec.path) for p in group),
        source_layer="; ".join(filter(None, (p.spec.layer or p.spec.sheet for p in group))) or None,
        crs_given="; ".join(dict.fromkeys(str(p.crs_given) for p in group if p.crs_given)) or None,
        facility_type=first.facility_type,
        illustrative=flagged,
        note="; ".join(filter(None, ("示意 illustrative (generated data)" if flagged else None,
                                     *dict.fromkeys(p.spec.note for p in group)))) or None,
        options=_options_text(group),
    )


def _options_text(group: list[_Part]) -> str | None:
    """The options of a layer's files as JSON (those of the first file that has any; files of one layer share
    them when imported in one command)."""
    options: dict[str, object] = {}
    for part in group:
        for key, value in part.spec.options().items():
            options.setdefault(key, value)
    return json.dumps(options, ensure_ascii=False, sort_keys=True) if options else None


def _districts(gazetteer: pd.DataFrame) -> list[str]:
    return sorted(set(gazetteer["code12"].astype(str).str.slice(0, 6)))


def _same_district(old: pd.DataFrame, new: pd.DataFrame, source: str) -> list[Problem]:
    """A workspace holds one district: a gazetteer of another district is refused in one message."""
    was, now = _districts(old), _districts(new)
    if was == now:
        return []
    msg = (_("this gazetteer covers district {now}, but the workspace holds district {was} (its boundaries and "
             "facilities are coded for it).").format(now=', '.join(now), was=', '.join(was)))
    fix = _("import it into another workspace (`-w other.gpkg`), or import the gazetteer of this workspace's district.")
    return [Problem(source, None, None, msg, fix)]


_GCJ_HINT = re.compile(r"gcj|高德|amap|gaode|腾讯|tencent|火星", re.IGNORECASE)
_BD_HINT = re.compile(r"bd09|baidu|百度", re.IGNORECASE)


def _warn_crs_hints(spec: ImportSpec) -> None:
    """Log a warning when a file's name says GCJ-02/BD-09 but it is not declared so (300–500 m error)."""
    declared = (spec.crs or "").lower().replace("-", "")
    name = spec.path.name
    if _GCJ_HINT.search(name) and "gcj" not in declared:
        logger.warning("%s: the name suggests 高德/腾讯 GCJ-02 coordinates but --crs is %s; if so, "
                       "import it with --crs gcj02 (otherwise points shift 300–500 m).", name, spec.crs or "unset")
    elif _BD_HINT.search(name) and "bd09" not in declared:
        logger.warning("%s: the name suggests 百度 BD-09 coordinates but --crs is %s; if so, "
                       "import it with --crs bd09.", name, spec.crs or "unset")


def _source_name(spec: ImportSpec, raw: object) -> str:
    """File name for messages, with the sheet or layer (``台账.xlsx [sheet 2023]``)."""
    if isinstance(raw, RawTable):
        return raw.source
    return f"{spec.path.name} [layer {spec.layer}]" if spec.layer else spec.path.name


def _file_crs(raw: object) -> str | None:
    if isinstance(raw, gpd.GeoDataFrame) and raw.crs is not None:
        return str(raw.crs.to_string())
    return None


def import_layers(
    workspace: Workspace,
    specs: Sequence[ImportSpec],
    *,
    catalogue: Catalogue,
    tolerance_m: float = settings.TOLERANCE_M,
    progress: ProgressSink = silent,
    district_code: str | None = None,
    planning_crs: str | None = None,
    inputs: str | None = None,
) -> list[ImportResult]:
    """Validate every file and write them all to the workspace in one all-or-nothing step.

    Parameters
    ----------
    workspace : Workspace
        Created by the first write if missing.
    specs : sequence of ImportSpec
    catalogue : Catalogue
    tolerance_m : float
        Metres a point may lie outside its declared polygon before it is reported.
    progress : ProgressSink
        Told of every file validated (stage ``import``) and of the write.
    district_code : str, optional
        The 6-digit district the workspace is for; a gazetteer of another district is refused.
    planning_crs : str, optional
        Projected CRS for the distance checks (the scenario's); default the data's UTM zone.
    inputs : str, optional
        :func:`inputs_key` of this import, recorded with its revision (``detail.inputs``). When the workspace
        holds the layers of an import of the same inputs unchanged (:func:`imported_already`), nothing is
        validated or written, and the result is empty.

    Returns
    -------
    list of ImportResult

    Raises
    ------
    SchemaError
        If any file has a problem; the workspace is then unchanged.
    """
    # the lock: nobody changes the workspace between validating against it and writing; the collector paused: a
    # city's roads read, converted and written are three sets of 293,467 geometries (0.4 s of its passes)
    with workspace.lock(), settings.collector_paused():
        names = {layer_name_for(s) for s in specs}
        held = imported_already(workspace, names, inputs) if inputs is not None else None
        if held is not None:
            logger.info("import layers: the workspace holds these %d layers as imported in revision %d from the "
                        "same files, options and catalogue (inputs %s), unchanged since; nothing to import",
                        len(specs), held, inputs)
            progress(Tick("import", len(specs), len(specs), workspace.label))
            return []
        writes = validate_imports(specs, workspace=workspace, catalogue=catalogue, tolerance_m=tolerance_m,
                                  progress=progress, district_code=district_code, planning_crs=planning_crs)
        progress(Tick("import", len(specs), len(specs), workspace.label))
        detail: dict[str, object] = {"files": len(writes)}
        if inputs is not None:
            detail["inputs"] = inputs
        workspace.write(writes, action="import", detail=detail, lock=False)
    return [ImportResult(w.name, w.kind, len(w.data), w.illustrative, str(w.source_path), MappingProxyType(
        {str(k): int(v) for k, v in w.data["location_precision"].value_counts().items()}
        if "location_precision" in w.data else {})) for w in writes]


def osm_import_spec(roads: OsmRoads) -> ImportSpec:
    """The import of a fetched OpenStreetMap road cache, its source, date and ODbL attribution as the note."""
    return ImportSpec(roads.path, "roads", crs="EPSG:4326", layer="roads", note=roads.note)


def scenario_specs(sc: Scenario, workspace: Workspace) -> list[ImportSpec]:
    """The import of every layer a scenario names, with its roads: the configured file, else OpenStreetMap
    roads fetched for the district (cached beside the workspace) when the scenario allows it, else none."""
    specs = [ImportSpec(s.path, s.kind, s.facility_type, s.crs, s.layer, s.sheet, s.encoding, s.illustrative,
                        s.make_ids, tolerance_m=s.tolerance_m, accept_large=s.accept_large,
                        locate_by_name=s.locate_by_name)
             for s in sc.layers]
    if sc.roads is None:
        return specs
    if sc.roads.path is not None and sc.roads.path.exists():
        specs.append(ImportSpec(sc.roads.path, "roads", crs=sc.roads.crs))
        return specs
    where = sc.roads.path or "(no path)"
    district = next((s for s in sc.layers if s.kind == "district"), None)
    if not sc.roads.osm_fallback or district is None:
        logger.warning("road layer %s not found; roads not imported (coverage needs them)", where)
        return specs
    cache = workspace.derived_path(OSM_CACHE_SUFFIX)
    logger.warning("road layer %s not found; using OpenStreetMap roads (cache: %s)", where, cache)
    try:
        area = read_spatial(district.path, layer=district.layer)
        got = fetch_osm_roads(area, cache)
        specs.append(osm_import_spec(got))
    except (NetworkError, ImportError) as exc:
        logger.warning("%s Roads not imported: the 15-minute rows will be straight-line estimates.", exc)
    return specs


def import_scenario(
    sc: Scenario, workspace: Workspace, cat: Catalogue, *, specs: Sequence[ImportSpec] | None = None,
    progress: ProgressSink = silent,
) -> None:
    """Import every layer of scenario `sc` (and its roads, fetched from OpenStreetMap when the scenario allows)
    into `workspace`, all or nothing. `specs` are :func:`scenario_specs`, when the caller has them already.

    Raises
    ------
    SchemaError
        Listing every problem of every layer; the workspace is then unchanged.
    """
    chosen = scenario_specs(sc, workspace) if specs is None else specs
    key = inputs_key(chosen, catalogue=cat, tolerance_m=sc.tolerance_m, district_code=sc.district_code,
                     planning_crs=sc.crs)
    import_layers(workspace, chosen, catalogue=cat, tolerance_m=sc.tolerance_m, progress=progress,
                  district_code=sc.district_code, planning_crs=sc.crs, inputs=key)
