"""Reading input files (CSV, XLSX, GeoJSON, Shapefile, GeoPackage) and moving between CRSs.

Tables are read as text, exactly as the user typed them, with the row numbers the user sees, so that
validation can name rows; typing and geometry building happen in :mod:`gisplan.schema`.
"""

from __future__ import annotations

import csv
import hashlib
import io as _stdio
import logging
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gisplan import coords
from gisplan.catalogue import normalise_header
from gisplan.errors import CRSError, NetworkError, Problem, SchemaError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = [
    "STORAGE_CRS",
    "DeclaredCRS",
    "RawTable",
    "fetch_osm_roads",
    "file_sha256",
    "parse_crs",
    "read_spatial",
    "read_table",
    "to_planning_crs",
    "to_storage_crs",
]

logger = logging.getLogger(__name__)

STORAGE_CRS = "EPSG:4326"
TABLE_SUFFIXES = frozenset({".csv", ".txt", ".tsv", ".xlsx", ".xlsm"})
SPATIAL_SUFFIXES = frozenset({".geojson", ".json", ".shp", ".gpkg", ".parquet"})
_HEADER_SCAN_ROWS = 30


@dataclass(frozen=True, slots=True)
class DeclaredCRS:
    """The coordinate system a user declared for an input.

    Attributes
    ----------
    text : str
        As given (``EPSG:4490``, ``gcj02`` …).
    crs : pyproj.CRS
        The CRS of the numbers in the file; for GCJ-02/BD-09 this is EPSG:4326 (the offset is applied
        by :mod:`gisplan.coords`).
    chinese_system : str | None
        ``"gcj02"`` or ``"bd09"`` when the coordinates are offset Chinese web-map coordinates.
    """

    text: str
    crs: CRS
    chinese_system: str | None = None


def parse_crs(text: str) -> DeclaredCRS:
    """Parse a ``--crs`` value: an EPSG code, any PROJ-readable text, ``gcj02`` or ``bd09``.

    Raises
    ------
    CRSError
        If the text is not understood; the message lists the accepted forms.

    Examples
    --------
    >>> parse_crs("gcj02").chinese_system
    'gcj02'
    >>> parse_crs("4490").crs.to_epsg()
    4490
    """
    key = text.strip().lower().replace("-", "").replace("_", "")
    aliases = {"gcj02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "bd09": "bd09", "bd09ll": "bd09"}
    if key in aliases:
        return DeclaredCRS(text, CRS.from_epsg(4326), aliases[key])
    if key in {"wgs84", "cgcs2000"}:
        return DeclaredCRS(text, CRS.from_epsg(4326 if key == "wgs84" else 4490))
    candidate = f"EPSG:{text.strip()}" if text.strip().isdigit() else text.strip()
    try:
        crs = CRS.from_user_input(candidate)
    except ProjCRSError:
        msg = (
            f"`--crs` value {text!r} is not a known coordinate system; give an EPSG code "
            "(4326 for GPS/WGS84, 4490 for CGCS2000/天地图, 4545 for a CGCS2000 3° zone …), "
            "`gcj02` for 高德/腾讯 coordinates or `bd09` for 百度 coordinates."
        )
        raise CRSError(msg) from None
    return DeclaredCRS(text, crs)


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


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table read as text.

    Attributes
    ----------
    frame : pandas.DataFrame
        One string column per header cell (``None`` where empty), in file order.
    rows : numpy.ndarray
        The row number the user sees for each frame row (CSV line / Excel row, 1-based).
    source : str
        File name (and sheet) for messages.
    encoding : str | None
        The text encoding detected for CSV files.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    source: str
    encoding: str | None = None


def _decode(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            msg = f"cannot decode the file as {encoding}: {exc}."
            fix = "check `--encoding`, or leave it out to detect UTF-8 / GBK automatically."
            raise SchemaError([Problem(source, None, None, msg, fix)]) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        line = data[: utf8_error.start].count(b"\n") + 1
        msg = (
            f"the file is neither UTF-8 nor GBK/GB18030 text (undecodable bytes on line {line}, "
            f"byte {utf8_error.start})."
        )
        fix = "save it from Excel as 'CSV UTF-8' (or 'CSV' in GBK), or give `--encoding`."
        raise SchemaError([Problem(source, line, None, msg, fix)]) from None


def _pick_header(grid: list[list[Any]], known: set[str]) -> int:
    best, best_hits = -1, 0
    for i, row in enumerate(grid[:_HEADER_SCAN_ROWS]):
        hits = sum(1 for cell in row if cell is not None and normalise_header(str(cell)) in known)
        if hits > best_hits:
            best, best_hits = i, hits
    if best >= 0:
        return best
    for i, row in enumerate(grid):
        if any(cell not in (None, "") for cell in row):
            return i
    return 0


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return text or None


_TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "total", "sum"})


def _is_total_row(cells: list[str | None]) -> bool:
    """A ledger's 合计/小计 line: its first non-empty cells (up to two) hold only such a word."""
    first = [c for c in cells if c][:2]
    return any("".join(c.split()).lower().rstrip(":：") in _TOTAL_WORDS for c in first)


def _grid_to_table(
    grid: list[list[Any]], source: str, known: set[str], encoding: str | None, *, lines: list[int] | None = None
) -> RawTable:
    """Find the header, drop blank and 合计 rows, and keep each row's number as the user sees it."""
    line = lines if lines is not None else list(range(1, len(grid) + 1))
    if not any(any(_cell_text(c) for c in row) for row in grid):
        msg = "the file has no data rows."
        fix = "check that the right file (and sheet) was given and that it was saved with its rows."
        raise SchemaError([Problem(source, None, None, msg, fix)])
    h = _pick_header(grid, known)
    header = [(_cell_text(c) or f"column_{j + 1}") for j, c in enumerate(grid[h])]
    seen: dict[str, int] = {}
    problems = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if count > 1:
            msg = f"the header row (row {line[h]}) has {count} columns named {name!r}."
            problems.append(Problem(source, line[h], name, msg, "rename or delete the duplicate column."))
    if problems:
        raise SchemaError(problems)
    width = len(header)
    body = [
        (line[i], [_cell_text(c) for c in (row + [None] * width)[:width]])
        for i, row in enumerate(grid)
        if i > h and any(_cell_text(c) for c in row)
    ]
    totals = [n for n, cells in body if _is_total_row(cells)]
    if totals:
        logger.info("%s: skipped summary row(s) %s (合计/小计)", source, ", ".join(map(str, totals)))
        body = [(n, cells) for n, cells in body if n not in set(totals)]
    frame = pd.DataFrame([cells for _, cells in body], columns=header, dtype=object)
    rows = np.array([n for n, _ in body], dtype=np.int64)
    if frame.empty:
        msg = f"the table has a header (row {line[h]}) but no data rows."
        raise SchemaError([Problem(source, None, None, msg, "fill in the rows, or choose the right sheet.")])
    return RawTable(frame, rows, source, encoding)


def read_table(
    path: Path, *, known_headers: Iterable[str] = (), sheet: str | None = None, encoding: str | None = None
) -> RawTable:
    """Read a CSV/TSV (UTF-8, UTF-16, GBK or GB18030, detected) or XLSX sheet as text.

    The header is the row among the first 30 with the most cells in `known_headers` (normalised with
    :func:`gisplan.catalogue.normalise_header`): ledgers often open with a title row.

    Parameters
    ----------
    path : Path
        The file.
    known_headers : iterable of str
        Normalised header names that identify the header row.
    sheet : str, optional
        XLSX sheet name; default the first sheet.
    encoding : str, optional
        Force a text encoding for CSV files.

    Returns
    -------
    RawTable

    Raises
    ------
    SchemaError
        On an undecodable, empty, or unreadable file, naming the file and the fix.
    """
    known = set(known_headers)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, known, sheet)
    data = path.read_bytes()
    text, used = _decode(data, path.name, encoding)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel_tab if suffix == ".tsv" else csv.excel
    reader = csv.reader(_stdio.StringIO(text), dialect)
    grid: list[list[Any]] = []
    lines: list[int] = []  # the text line each record starts on (a quoted cell may span lines)
    start = 1
    for record in reader:
        grid.append(list(record))
        lines.append(start)
        start = reader.line_num + 1
    return _grid_to_table(grid, path.name, known, used, lines=lines)


def _read_xlsx(path: Path, known: set[str], sheet: str | None) -> RawTable:
    import openpyxl  # noqa: PLC0415 - only needed for Excel input
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        msg = f"cannot open the workbook: {str(exc).rstrip('.')}."
        fix = "open and re-save it in Excel/WPS as .xlsx (old .xls files must be saved as .xlsx)."
        raise SchemaError([Problem(path.name, None, None, msg, fix)]) from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            msg = f"the workbook has no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})."
            raise SchemaError([Problem(path.name, None, None, msg, "give one of those with `--sheet`.")])
        if hasattr(ws, "reset_dimensions"):  # exporters often write a stale <dimension ref="A1"/>
            ws.reset_dimensions()
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        source = f"{path.name} [sheet {ws.title}]"
    finally:
        book.close()
    return _grid_to_table(grid, source, known, None)


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
                names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
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


def to_storage_crs(gdf: gpd.GeoDataFrame, declared: DeclaredCRS | None, *, source: str) -> gpd.GeoDataFrame:
    """Return a copy in the storage CRS (EPSG:4326, WGS84), converting GCJ-02/BD-09 if declared.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        As read; its CRS may be missing.
    declared : DeclaredCRS, optional
        What the user declared; it overrides the file's label (GeoJSON always says EPSG:4326, even
        for 高德 GCJ-02 data).
    source : str
        File name for messages.

    Raises
    ------
    CRSError
        If neither the file nor the user gives a CRS.
    """
    out = gdf.copy()
    if declared is None:
        if out.crs is None:
            msg = (
                f"{source}: the file does not say which coordinate system it uses. Give `--crs`: "
                "EPSG:4326 (GPS/WGS84), EPSG:4490 (CGCS2000), gcj02 (高德/腾讯) or bd09 (百度)."
            )
            raise CRSError(msg)
        return out.to_crs(STORAGE_CRS)
    if out.crs is not None and not out.crs.equals(declared.crs):
        logger.warning("%s: file says %s; using --crs %s as declared", source, out.crs.to_string(), declared.text)
    out = out.set_crs(declared.crs, allow_override=True)
    if declared.chinese_system is not None:
        geoms = coords.transform_geometries(out.geometry.to_numpy(), source=declared.chinese_system)
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=STORAGE_CRS))
        return out
    return out.to_crs(STORAGE_CRS)


def to_planning_crs(gdf: gpd.GeoDataFrame, crs: str | CRS | None = None) -> gpd.GeoDataFrame:
    """Return a copy in the metric planning CRS: `crs` if given, else the UTM zone of the data.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any CRS.
    crs : str or pyproj.CRS, optional
        The scenario's CRS (for example ``EPSG:32648`` for 永川).

    Returns
    -------
    geopandas.GeoDataFrame
        Projected, in metres.

    Raises
    ------
    CRSError
        If `gdf` has no CRS, or `crs` is not projected.

    Examples
    --------
    >>> from shapely import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(105.93, 29.36)], crs="EPSG:4326")
    >>> to_planning_crs(g).crs.to_epsg()
    32648
    """
    if gdf.crs is None:
        msg = "`gdf` has no CRS; set it (gdf.set_crs) or import it through `gisplan layers import`."
        raise CRSError(msg)
    target = CRS.from_user_input(crs) if crs is not None else gdf.estimate_utm_crs()
    if not target.is_projected:
        msg = f"the planning CRS must be projected in metres (got {target.to_string()}); use a UTM zone."
        raise CRSError(msg)
    return gdf.to_crs(target)


def fetch_osm_roads(
    area: gpd.GeoDataFrame, cache: Path, *, network_type: str = "walk", buffer_m: float = 2000.0,
) -> Path:
    """Download the OpenStreetMap road network covering `area` with osmnx, caching it as a GeoPackage.

    The cache is reused when present, so a workspace fetched once works offline afterwards.

    Parameters
    ----------
    area : geopandas.GeoDataFrame
        Polygons (any CRS) whose union bounds the download.
    cache : Path
        GeoPackage to write (layer ``roads``, EPSG:4326, © OpenStreetMap contributors, ODbL).
    network_type : str
        osmnx network type (``walk`` by default: the 15-minute circle is a walking measure).
    buffer_m : float
        The area is widened by this many metres, so that roads just across the boundary (which
        residents near it use) are in the network.

    Returns
    -------
    Path
        `cache`.

    Raises
    ------
    ImportError
        If osmnx is not installed (``pip install "gisplan[osm]"``).
    NetworkError
        If the download fails (offline, or Overpass refused); the message gives the alternatives.
    """
    if cache.exists():
        logger.info("fetch_osm_roads: using cached %s", cache)
        return cache
    try:
        import osmnx as ox  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        msg = 'fetching OpenStreetMap roads needs osmnx: pip install "gisplan[osm]"'
        raise ImportError(msg) from exc
    projected = area.to_crs(area.estimate_utm_crs())
    widened = gpd.GeoSeries([shapely.union_all(projected.geometry.buffer(buffer_m).to_numpy())], crs=projected.crs)
    polygon = widened.to_crs(STORAGE_CRS).iloc[0]
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon):
        msg = f"the area to fetch roads for must be polygons (got {polygon.geom_type})."
        raise NetworkError(msg)
    ox.settings.requests_timeout = 60
    try:
        graph = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=True)
    except Exception as exc:  # osmnx raises requests/HTTP errors of several kinds
        msg = (f"could not fetch OpenStreetMap roads ({type(exc).__name__}: {exc}); when offline, give a "
               "road line layer or an OpenStreetMap extract (.osm.pbf) in the scenario's [roads] path instead.")
        raise NetworkError(msg) from None
    edges = ox.graph_to_gdfs(graph, nodes=False).reset_index()
    keep = [c for c in ("u", "v", "osmid", "highway", "name", "oneway", "length") if c in edges]
    out = edges[[*keep, "geometry"]].copy()
    for column in keep:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v)
    out["source"] = "© OpenStreetMap contributors (ODbL), via osmnx"
    cache.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(out.to_crs(STORAGE_CRS), cache, layer="roads", driver="GPKG")
    logger.info("fetch_osm_roads: %d edges cached in %s", len(out), cache)
    return cache
