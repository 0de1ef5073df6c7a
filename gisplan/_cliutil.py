"""Helpers shared by the command-line modules: table printing and scenario import."""

from __future__ import annotations

import logging
import math
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisplan.catalogue import Catalogue, load_catalogue
from gisplan.errors import NetworkError, SchemaError
from gisplan.ingest import ImportSpec, import_layers
from gisplan.io import fetch_osm_roads, read_spatial

catalogue_option = click.option(
    "--catalogue", "catalogue_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Extra facility-type catalogue TOML (adds or replaces types and profiles).",
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from gisplan.config import Scenario

__all__ = ["catalogue_for", "format_table", "import_scenario", "report_problems", "scenario_specs"]

logger = logging.getLogger("gisplan")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value)


def format_table(frame: pd.DataFrame) -> str:
    """Render a DataFrame as an aligned plain-text table (CJK characters count two columns)."""
    cells = [[str(c) for c in frame.columns]] + [[_fmt(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(_width(r[j]) for r in cells) for j in range(len(frame.columns))]
    lines = []
    for i, row in enumerate(cells):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_problems(exc: SchemaError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


def scenario_specs(sc: Scenario, store: Path) -> list[ImportSpec]:
    specs = [ImportSpec(s.path, s.kind, s.facility_type, s.crs, s.layer, s.sheet, None, s.illustrative)
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
    cache = store.with_name(f"{store.stem}_osm_roads.gpkg")
    logger.warning("road layer %s not found; fetching OpenStreetMap roads (cache: %s)", where, cache)
    try:
        area = read_spatial(district.path, layer=district.layer)
        specs.append(ImportSpec(fetch_osm_roads(area, cache), "roads", crs="EPSG:4326", layer="roads"))
    except (NetworkError, ImportError) as exc:
        logger.warning("%s Roads not imported; coverage needs them.", exc)
    return specs


def catalogue_for(sc: Scenario | None, extra: Sequence[Path]) -> Catalogue:
    """The built-in catalogue plus the scenario's and the command line's extra files."""
    files = ([sc.catalogue] if sc is not None and sc.catalogue else []) + list(extra)
    return load_catalogue(*files)


def import_scenario(sc: Scenario, store: Path, cat: Catalogue) -> None:
    specs = scenario_specs(sc, store)
    click.echo(f"{sc.name}: importing {len(specs)} layers into {store} …", err=True)
    try:
        import_layers(store, specs, catalogue=cat, tolerance_m=sc.tolerance_m, progress=sys.stderr.isatty(),
                      district_code=sc.district_code, planning_crs=sc.crs)
    except SchemaError as exc:
        report_problems(exc)
