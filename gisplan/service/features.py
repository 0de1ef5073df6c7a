"""OGC API – Features (Part 1: Core, GeoJSON, OpenAPI) over a workspace: the read side, with FastAPI.

Every spatial layer of the workspace is a collection, except the sensitive boundary layers (boundary lines, markers
and their inspections), which a bureau opts into with ``include_sensitive=True``. Items are served in the layer's
stored row order, so ``limit``/``offset`` pages of the same query never overlap or skip (QGIS pages a bbox this way);
the feature id is the row's position (1-based, stable while the layer is not replaced). ``bbox`` uses the layer's
spatial index; any other query parameter named like a column is an equality filter on it.

Layers are read through the Workspace (never SQL here) and cached per layer: the service's own edits patch the
cached row; a layer is read again only when another writer changed it (:mod:`gisplan.service.freshness`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import anyio
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import Request  # noqa: TC002 - FastAPI reads the annotations at run time
from fastapi.responses import JSONResponse

from gisplan.service.common import ERROR_SCHEMA
from gisplan.service.common import RequestError as _RequestError
from gisplan.service.freshness import LayerClock

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI

    from gisplan.service.edits import VersionBook
    from gisplan.store import Workspace

__all__ = ["CONFORMANCE", "SENSITIVE_LAYERS", "Catalogue", "add_feature_routes", "patch_frame"]

logger = logging.getLogger(__name__)

#: Boundary data is sensitive: not served unless the bureau opts in.
SENSITIVE_LAYERS = frozenset({"boundary_lines", "boundary_markers", "marker_inspections"})
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
_GEOJSON = "application/geo+json"
_OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
_RESERVED_PARAMS = frozenset({"f", "bbox", "limit", "offset", "bbox-crs", "datetime", "crs"})


@dataclass(frozen=True, slots=True)
class _Layer:
    token: int  # LayerClock.foreign(name) when the layer was read: current while another writer has not moved it
    frame: gpd.GeoDataFrame
    title: str
    extent: tuple[float, float, float, float] | None
    features: tuple[str, ...]  # each row as GeoJSON text with its id, encoded once when the layer is read
    texts: dict[str, np.ndarray] = field(default_factory=dict)  # filterable columns as text, made on first use


def _encoded(frame: gpd.GeoDataFrame, positions: np.ndarray) -> list[str]:
    return [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in _features(frame, positions)]


def _extent(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    bounds = frame.total_bounds
    return None if frame.empty or not np.isfinite(bounds).all() else tuple(float(b) for b in bounds)  # type: ignore[return-value]


def patch_frame(frame: pd.DataFrame, position: int, values: Mapping[str, object],
                geometry: shapely.Geometry | None = None) -> pd.DataFrame:
    """A copy of `frame` (RangeIndex) with row `position` (1-based) set to `values` (and `geometry`).

    The copy is shallow (pandas copies on write): only the changed columns are copied, and the geometry array —
    with its spatial index — is shared when the geometry is not changed."""
    patched = frame.copy(deep=False)
    row = position - 1
    for column, value in values.items():
        if value is None or not pd.api.types.is_dtype_equal(patched[column].dtype, pd.Series([value]).dtype):
            patched[column] = patched[column].astype(object)
        patched.loc[row, column] = value  # type: ignore[call-overload]
    if geometry is not None:
        name = patched.geometry.name
        shapes = patched[name].to_numpy().copy()
        shapes[row] = geometry
        patched[name] = gpd.GeoSeries(shapes, index=patched.index, crs=patched.crs)
    return patched


class Catalogue:
    """The workspace's collections, each layer read once and then kept current by this service's own edits
    (:meth:`patch`: the edited row only); read again only when another writer changed it (:class:`LayerClock`).

    A layer being read again blocks no reader: other requests keep the previous frame until the new one is ready,
    and readers of other layers never wait (one lock per layer).
    """

    def __init__(self, workspace: Workspace, *, include_sensitive: bool, clock: LayerClock | None = None) -> None:
        self.workspace = workspace
        self.include_sensitive = include_sensitive
        self.clock = clock if clock is not None else LayerClock(workspace)
        self._cache: dict[str, _Layer] = {}
        self._names: tuple[int, list[str]] | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def names(self) -> list[str]:
        """The served collections."""
        token = self.clock.any_foreign()
        cached = self._names
        if cached is not None and cached[0] >= token:
            return cached[1]
        if not self.workspace.exists():
            return []
        meta = self.workspace.metadata()
        names = [str(n) for n in meta["layer"] if self.include_sensitive or str(n) not in SENSITIVE_LAYERS]
        names = [n for n in names if self.workspace.is_spatial(n)]
        self._names = (token, names)
        return names

    def layer(self, name: str) -> _Layer | None:
        """Layer `name` as served (EPSG:4326, spatial index built), or None when it is not a collection."""
        if name not in self.names():
            return None
        token = self.clock.foreign(name)
        cached = self._cache.get(name)
        if cached is not None and cached.token >= token:
            return cached
        lock = self._lock(name)
        if not lock.acquire(blocking=cached is None):
            return cached  # another request is reading it again: serve the previous frame meanwhile
        try:
            cached = self._cache.get(name)
            if cached is not None and cached.token >= token:
                return cached
            layer = self._read(name, token)
            self._cache[name] = layer
            return layer
        finally:
            lock.release()

    def layer_now(self, name: str) -> _Layer | None:
        """:meth:`layer` when it can answer without waiting for the workspace (for the event loop): the cached layer
        while it is current — or, while another thread reads it again, the previous frame, as :meth:`layer` gives;
        None otherwise (not read yet, changed by another writer, not a collection): then call :meth:`layer` off the
        loop, which decides."""
        token, any_token = self.clock.foreign_if_known(name), self.clock.any_foreign_if_known()
        names = self._names
        if token is None or any_token is None or names is None or names[0] < any_token or name not in names[1]:
            return None
        cached = self._cache.get(name)
        if cached is None:
            return None
        return cached if cached.token >= token or self._lock(name).locked() else None

    def _read(self, name: str, token: int) -> _Layer:
        frame = self.workspace.read_layer(name)
        if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
            frame = frame.to_crs("EPSG:4326")
        frame = frame.reset_index(drop=True)
        frame.sindex  # noqa: B018 - build the spatial index once, outside the requests
        meta = self.workspace.metadata().set_index("layer")
        note = meta["note"].get(name)
        title = f"{name} — {note}" if isinstance(note, str) and note else name
        return _Layer(token, frame, title, _extent(frame), tuple(_encoded(frame, np.arange(len(frame)))))

    def patch(self, name: str, position: int, values: Mapping[str, object], geometry: shapely.Geometry | None) -> None:
        """Row `position` (1-based) of cached layer `name` was edited by this service: set it in the cached frame
        and its encoded feature (copy on write: requests holding the previous layer keep it whole)."""
        with self._lock(name):
            cached = self._cache.get(name)
            if cached is None or not 1 <= position <= len(cached.frame):
                return
            frame = patch_frame(cached.frame, position, values, geometry)
            features = list(cached.features)
            if geometry is None:  # the encoded feature with the new values (as GeoJSON writes them); index kept
                feature = json.loads(features[position - 1])
                feature["properties"].update(values)
                features[position - 1] = json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
                extent = cached.extent
            else:
                frame.sindex  # noqa: B018 - built here, not in the next bbox request
                features[position - 1] = _encoded(frame, np.array([position - 1]))[0]  # type: ignore[arg-type]
                extent = _extent(frame)  # type: ignore[arg-type]
            texts = {c: t for c, t in cached.texts.items() if c not in values}
            self._cache[name] = _Layer(cached.token, frame, cached.title, extent, tuple(features), texts)  # type: ignore[arg-type]


class _EncodedJSON(JSONResponse):
    """A JSON response whose body is already JSON text (a page joined from encoded features)."""

    def render(self, content: Any) -> bytes:
        return content.encode("utf-8") if isinstance(content, str) else super().render(content)


def _int_param(value: str | None, name: str, default: int, *, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        msg = f"参数 {name} 应为整数 (`{name}` must be an integer, got {value!r})"
        raise _RequestError(400, "InvalidParameterValue", msg) from None
    if not low <= number <= high:
        msg = f"参数 {name} 应在 {low}–{high} 之间 (`{name}` must be within {low}..{high}, got {number})"
        raise _RequestError(400, "InvalidParameterValue", msg)
    return number


def _bbox_param(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers) or numbers[0] > numbers[2] \
            or numbers[1] > numbers[3]:
        msg = f"参数 bbox 应为 minx,miny,maxx,maxy（经纬度）(`bbox` must be minx,miny,maxx,maxy, got {value!r})"
        raise _RequestError(400, "InvalidParameterValue", msg)
    return numbers[0], numbers[1], numbers[2], numbers[3]


def _positions(layer: _Layer, bbox: tuple[float, float, float, float] | None,
               filters: dict[str, str]) -> np.ndarray:
    """Row positions matching the query, in stored order."""
    frame = layer.frame
    if bbox is None:
        positions = np.arange(len(frame))
    else:
        positions = np.sort(frame.sindex.query(shapely.box(*bbox), predicate="intersects"))
    for column, wanted in filters.items():
        text = layer.texts.get(column)
        if text is None:  # each column's values as text once per layer ("" for a missing value)
            series = pd.Series(frame[column].to_numpy(), dtype=object)
            text = series.astype(str).where(series.notna(), "").to_numpy(dtype=object)
            layer.texts[column] = text
        positions = positions[text[positions] == wanted]
    return positions


def _features(frame: gpd.GeoDataFrame, positions: np.ndarray) -> list[dict[str, Any]]:
    page = frame.iloc[positions]
    collection = json.loads(page.to_json(na="null", drop_id=True, to_wgs84=False))
    features: list[dict[str, Any]] = collection["features"]
    for feature, position in zip(features, positions.tolist(), strict=True):
        feature["id"] = position + 1
    return features


def _collection_doc(root: str, name: str, layer: _Layer) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": name, "title": layer.title, "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"href": f"{root}/collections/{name}", "rel": "self", "type": "application/json"},
            {"href": f"{root}/collections/{name}/items", "rel": "items", "type": _GEOJSON},
        ],
    }
    if layer.extent is not None:
        doc["extent"] = {"spatial": {"bbox": [list(layer.extent)], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    return doc


def _landing(root: str, title: str, label: str) -> dict[str, Any]:
    return {"title": title, "description": f"OGC API – Features: {label}", "links": [
        {"href": f"{root}/", "rel": "self", "type": "application/json", "title": "this document"},
        {"href": f"{root}/openapi.json", "rel": "service-desc", "type": _OPENAPI, "title": "OpenAPI"},
        {"href": f"{root}/api.html", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
        {"href": f"{root}/conformance", "rel": "conformance", "type": "application/json"},
        {"href": f"{root}/collections", "rel": "data", "type": "application/json"},
    ]}


def _items(layer: _Layer, name: str, root: str, params: Mapping[str, str]) -> str:
    """One page of a collection's items as a GeoJSON FeatureCollection with numberMatched and paging links (JSON
    text, joined from the features encoded when the layer was read)."""
    count = _int_param(params.get("limit"), "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    start = _int_param(params.get("offset"), "offset", 0, low=0, high=2**62)
    box = _bbox_param(params.get("bbox"))
    filters = {k: v for k, v in params.items() if k not in _RESERVED_PARAMS}
    unknown = sorted(set(filters) - {str(c) for c in layer.frame.columns if c != "geometry"})
    if unknown:
        msg = (f"未知的查询参数 {', '.join(unknown)} (unknown query parameter(s) {', '.join(unknown)}; "
               f"filter on a property of {name})")
        raise _RequestError(400, "InvalidParameterValue", msg)
    matched = _positions(layer, box, filters)
    page = matched[start:start + count]
    here = f"{root}/collections/{name}/items"
    query = {k: v for k, v in params.items() if k not in {"limit", "offset"}}

    def link(rel: str, offset: int) -> dict[str, str]:
        return {"href": f"{here}?{urlencode({**query, 'limit': count, 'offset': offset})}", "rel": rel,
                "type": _GEOJSON}

    links = [link("self", start)]
    if start + count < len(matched):
        links.append(link("next", start + count))
    if start > 0:
        links.append(link("prev", max(0, start - count)))
    rest = json.dumps({"numberMatched": len(matched), "numberReturned": len(page), "links": links},
                      ensure_ascii=False, separators=(",", ":"))
    features = ",".join(layer.features[p] for p in page.tolist())
    return f'{{"type":"FeatureCollection","features":[{features}],{rest[1:]}'



def _item(layer: _Layer, name: str, root: str, feature_id: str) -> dict[str, Any]:
    position = int(feature_id) - 1 if feature_id.isdigit() and len(feature_id) < 19 else -1
    if not 0 <= position < len(layer.frame):
        msg = f"集合 {name} 没有要素 {feature_id!r} (no feature {feature_id!r} in {name})"
        raise _RequestError(404, "NotFound", msg)
    feature: dict[str, Any] = json.loads(layer.features[position])
    feature["links"] = [{"href": f"{root}/collections/{name}/items/{position + 1}", "rel": "self", "type": _GEOJSON},
                        {"href": f"{root}/collections/{name}", "rel": "collection", "type": "application/json"}]
    return feature


_OBJECT = {"type": "object"}
_LINKS = {"type": "array", "items": {"type": "object", "required": ["href", "rel"],
                                     "properties": {"href": {"type": "string"}, "rel": {"type": "string"}}}}
_FEATURE = {"type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"enum": ["Feature"]}, "id": {"type": "integer"},
                           "geometry": {"type": ["object", "null"]}, "properties": {"type": ["object", "null"]},
                           "version": {"type": "integer"}, "links": _LINKS}}
_COLLECTION = {"type": "object", "required": ["id", "links"], "properties": {
    "id": {"type": "string"}, "title": {"type": "string"}, "itemType": {"type": "string"}, "links": _LINKS,
    "crs": {"type": "array", "items": {"type": "string"}}, "extent": _OBJECT}}


def _docs(schema: dict[str, Any], media: str = "application/json", *, errors: tuple[int, ...] = ()) -> dict[
        int | str, dict[str, Any]]:
    docs: dict[int | str, dict[str, Any]] = {200: {"description": "OK", "content": {media: {"schema": schema}}}}
    docs |= {code: {"description": "Error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}
             for code in (*errors, 503)}
    return docs


def add_feature_routes(app: FastAPI, workspace: Workspace, *, include_sensitive: bool = False,
                       title: str = "gisplan", versions: VersionBook | None = None,
                       clock: LayerClock | None = None) -> Catalogue:
    """Add the OGC API – Features reads over `workspace` to `app`; return the catalogue of served collections.

    Parameters
    ----------
    app : fastapi.FastAPI
        The service (see :func:`gisplan.service.create_app`).
    workspace : Workspace
        Any backend (GeoPackage or PostGIS).
    include_sensitive : bool
        Serve the boundary lines, markers and inspections too (boundary data is sensitive; off by default).
    title : str
        The service's title on the landing page.
    versions : VersionBook, optional
        Row versions: a single feature then carries its ``version`` and an ``ETag``.
    clock : LayerClock, optional
        Which layers another writer changed (shared with the other caches of the service).

    Returns
    -------
    Catalogue
    """
    catalogue = Catalogue(workspace, include_sensitive=include_sensitive, clock=clock)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def require(name: str) -> _Layer:
        layer = catalogue.layer(name)
        if layer is None:
            msg = f"没有集合 {name[:80]!r} (no collection {name[:80]!r}; see /collections)"
            raise _RequestError(404, "NotFound", msg)
        return layer

    # Items and single features are answered on the event loop from the cached layers (no thread hand-over, which
    # under load waits for the GIL twice); only a layer or its versions still to be read go to the thread pool.
    async def require_now(name: str) -> _Layer:
        layer = catalogue.layer_now(name)
        return layer if layer is not None else await anyio.to_thread.run_sync(require, name)

    @app.get("/", summary="Landing page", responses=_docs({**_OBJECT, "required": ["links"],
                                                          "properties": {"links": _LINKS}}))
    def landing(request: Request) -> dict[str, Any]:
        return _landing(base(request), title, workspace.label)

    @app.get("/conformance", summary="Conformance classes", responses=_docs(
        {"type": "object", "required": ["conformsTo"],
         "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}}))
    def conformance() -> dict[str, Any]:
        return {"conformsTo": list(CONFORMANCE)}

    @app.get("/collections", summary="Collections", responses=_docs(
        {"type": "object", "required": ["collections", "links"],
         "properties": {"links": _LINKS, "collections": {"type": "array", "items": _COLLECTION}}}))
    def collections(request: Request) -> dict[str, Any]:
        layers = [(name, catalogue.layer(name)) for name in catalogue.names()]
        return {"links": [{"href": f"{base(request)}/collections", "rel": "self", "type": "application/json"}],
                "collections": [_collection_doc(base(request), n, layer) for n, layer in layers if layer is not None]}

    @app.get("/collections/{collection_id}", summary="One collection", responses=_docs(_COLLECTION, errors=(404,)))
    def collection(request: Request, collection_id: str) -> dict[str, Any]:
        return _collection_doc(base(request), collection_id, require(collection_id))

    @app.get("/collections/{collection_id}/items", summary="Features of a collection", response_class=JSONResponse,
             responses=_docs({"type": "object", "required": ["type", "features"], "properties": {
                 "type": {"enum": ["FeatureCollection"]}, "features": {"type": "array", "items": _FEATURE},
                 "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"}, "links": _LINKS}},
                 _GEOJSON, errors=(400, 404)))
    async def items(request: Request, collection_id: str, limit: str | None = None, offset: str | None = None,
                    bbox: str | None = None) -> JSONResponse:
        del limit, offset, bbox  # declared for the OpenAPI document; read with the property filters below
        page = _items(await require_now(collection_id), collection_id, base(request), dict(request.query_params))
        return _EncodedJSON(page, media_type=_GEOJSON)

    @app.get("/collections/{collection_id}/items/{feature_id}", summary="One feature (with its version and ETag)",
             response_class=JSONResponse, responses=_docs(_FEATURE, _GEOJSON, errors=(404,)))
    async def item(request: Request, collection_id: str, feature_id: str) -> JSONResponse:
        feature = _item(await require_now(collection_id), collection_id, base(request), feature_id)
        state = None
        if versions is not None:
            known, state = versions.state_now(collection_id, int(feature["id"]))
            if not known:
                state = await anyio.to_thread.run_sync(versions.state, collection_id, int(feature["id"]))
        headers = {}
        if state is not None:
            feature["version"] = state.version
            headers["ETag"] = f'"{state.version}"'
        return JSONResponse(feature, media_type=_GEOJSON, headers=headers)

    return catalogue
