"""The workspace layers an import must check again: a layer that replaces the gazetteer, the boundaries or a
host facility type leaves the layers checked against it to be validated anew (:func:`recheck_dependents`, called by
:func:`gisplan.workflows.importing.validate_imports`), each with the options it was imported with
(:func:`stored_options`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np

from gisplan.errors import SchemaError
from gisplan.i18n import _
from gisplan.io.tables import RawTable
from gisplan.validation.schema import validate_layer

if TYPE_CHECKING:
    import pandas as pd

    from gisplan.catalogue import Catalogue, FacilityType
    from gisplan.errors import Problem
    from gisplan.store import Workspace
    from gisplan.validation.schema import Context

__all__ = ["recheck_dependents", "stored_options"]


def stored_options(text: object) -> dict[str, object]:
    """The options kept in a layer's metadata (``{}`` when none, or unreadable)."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _depends_on(kind: str, host: FacilityType | None) -> set[str]:
    """Store layers whose content a layer of this kind (of a facility type with `host`) is checked against."""
    if kind in {"facilities", "households"}:
        hosts = {host.layer_name} if host is not None else set()
        return {"gazetteer", "district", "townships"} | hosts
    if kind in {"townships", "villages"}:
        return {"gazetteer", "district"}
    if kind == "district":
        return {"gazetteer"}
    return set()


def _loaded(ctx: Context, kind: str, facility_type: object) -> pd.DataFrame | None:
    """A workspace layer the context already holds (read once by :func:`load_context`)."""
    if kind == "facilities":
        return ctx.facilities.get(str(facility_type))
    return {"district": ctx.district, "townships": ctx.townships}.get(kind)


def recheck_dependents(
    workspace: Workspace, replaced: set[str], ctx: Context, catalogue: Catalogue,
) -> list[Problem]:
    """Validate again the workspace layers that depend on a layer this import replaces.

    Re-importing the gazetteer, the boundaries or the community service centres must not leave
    facilities with unknown codes, points outside the new outline or volunteer points without host.
    """
    problems: list[Problem] = []
    meta = workspace.metadata()
    for row in meta.itertuples(index=False):
        name, kind, facility_type = str(row.layer), str(row.kind), row.facility_type
        ftype = catalogue.types.get(str(facility_type)) if kind == "facilities" else None
        host = catalogue.types.get(ftype.host) if ftype is not None and ftype.host is not None else None
        changed = _depends_on(kind, host) & replaced
        if name in replaced or not changed:
            continue
        if kind == "facilities" and ftype is None:
            continue  # a type from a catalogue not given this time: it cannot be checked
        options = stored_options(row.options)
        source = _("workspace layer `{name}` (checked again: this import replaces {changed}").format(
                name=name, changed=', '.join(sorted(changed)))
        if options.get("tolerance_m") is not None:
            source += _("; with its own --tolerance-m {tolerance_m:g}").format(
                    tolerance_m=float(options['tolerance_m']))  # type: ignore[arg-type]
        source += ")"
        own = replace(ctx, accept_large=bool(options.get("accept_large", False)), locate_by_name=False,
                      tolerance_m=ctx.tolerance_m
                      if options.get("tolerance_m") is None else float(options["tolerance_m"]))  # type: ignore[arg-type]
        try:
            stored = _loaded(ctx, kind, facility_type)
            if stored is None:
                stored = workspace.read(name)
            data = stored if isinstance(stored, gpd.GeoDataFrame) else RawTable(
                stored.astype(object), np.arange(1, len(stored) + 1), source)
            validate_layer(data, kind=kind, catalogue=catalogue, ftype=ftype, context=own, source=source)
        except SchemaError as exc:
            problems.extend(exc.problems)
    return problems
