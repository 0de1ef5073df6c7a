"""gisplan: facility coverage, indicators and site selection for district civil-affairs plans."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gisplan.catalogue import load_catalogue
from gisplan.crs import to_planning_crs
from gisplan.io.spatial import read_spatial
from gisplan.io.tables import read_table
from gisplan.store import Workspace, open_workspace
from gisplan.validation.schema import validate_layer
from gisplan.workflows.importing import ImportSpec, import_layers

try:
    __version__ = version("gisplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "ImportSpec",
    "Workspace",
    "__version__",
    "import_layers",
    "load_catalogue",
    "open_workspace",
    "read_spatial",
    "read_table",
    "to_planning_crs",
    "validate_layer",
]
