"""Recognising an import already made: :func:`inputs_key` digests everything an import's outcome depends on
besides the workspace, the import's revision records it, and :func:`imported_already` finds that revision when
its layers (and the layers they were checked against) are unchanged since — then importing again is skipped.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from gisplan import __version__
from gisplan.catalogue import facility_type_of
from gisplan.io.spatial import file_sha256
from gisplan.workflows.divisions import CROSSWALK_LAYER

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gisplan.catalogue import Catalogue
    from gisplan.store import Workspace
    from gisplan.workflows.importing import ImportSpec

__all__ = ["imported_already", "inputs_key"]


#: the layers whose content an import is checked against (besides its own): a later change of any of them means
#: the same files may no longer pass as they did
_CONTEXT_LAYERS = frozenset({"gazetteer", "district", "townships", "villages", "places", CROSSWALK_LAYER})


def inputs_key(
    specs: Sequence[ImportSpec], *, catalogue: Catalogue, tolerance_m: float, district_code: str | None,
    planning_crs: str | None,
) -> str:
    """A digest of everything an import's outcome depends on besides the workspace: every file's bytes
    (:func:`~gisplan.io.spatial.file_sha256`), kind, type and options, the catalogue's types and attributes, the
    tolerance, district and planning CRS, and the gisplan version. Recorded with the import's revision
    (``detail.inputs``) so that the same import again is recognised by it (:func:`imported_already`)."""
    files = sorted([spec.kind, spec.facility_type, str(spec.path.resolve()), file_sha256(spec.path), spec.layer,
                    spec.sheet, spec.note, json.dumps(spec.options(), ensure_ascii=False, sort_keys=True, default=str)]
                   for spec in specs)
    described = {"version": __version__, "catalogue": repr((catalogue.types, catalogue.attributes)),
                 "tolerance_m": tolerance_m, "district_code": district_code, "planning_crs": planning_crs,
                 "files": files}
    text = json.dumps(described, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def imported_already(workspace: Workspace, names: set[str], key: str) -> int | None:
    """The revision that imported exactly these inputs (`key`, see :func:`inputs_key`) into the layers `names`,
    when the workspace holds them unchanged: no later revision touched them or a layer they were checked against
    (gazetteer, boundaries, place names, division crosswalk, facility layers). None otherwise (then import)."""
    if not workspace.exists():
        return None
    revs = workspace.revisions()
    if revs.empty:
        return None
    same = [int(r) for r, action, detail in zip(revs["revision"], revs["action"], revs["detail"], strict=True)
            if action == "import" and _detail_inputs(detail) == key]
    if not same:
        return None
    if not names <= workspace.layer_names():
        return None
    later = revs.loc[revs["revision"] > same[-1], "layers"].dropna().astype(str)
    touched = {n for text in later for n in text.split(",") if n}
    if any(n in names or n in _CONTEXT_LAYERS or facility_type_of(n) is not None for n in touched):
        return None
    return same[-1]


def _detail_inputs(detail: object) -> str | None:
    if not isinstance(detail, str) or "inputs" not in detail:
        return None
    try:
        value = json.loads(detail)
    except ValueError:
        return None
    found = value.get("inputs") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None
