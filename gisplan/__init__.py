"""gisplan: facility coverage, indicators and site selection for district civil-affairs plans."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from gisplan.lazyexports import lazy_exports

if TYPE_CHECKING:
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

# the public verbs and the module each comes from, imported on first use (PEP 562): `import gisplan.cli.main` and
# every `gisplan` command start without loading geopandas, pyproj and the workflows they do not need
_PUBLIC = {
    "ImportSpec": "gisplan.workflows.importing",
    "Workspace": "gisplan.store",
    "import_layers": "gisplan.workflows.importing",
    "load_catalogue": "gisplan.catalogue",
    "open_workspace": "gisplan.store",
    "read_spatial": "gisplan.io.spatial",
    "read_table": "gisplan.io.tables",
    "to_planning_crs": "gisplan.crs",
    "validate_layer": "gisplan.validation.schema",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
