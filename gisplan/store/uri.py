"""Opening a workspace by URI: a plain path or ``gpkg:path`` is a GeoPackage; ``postgresql://…`` is reserved for
the PostGIS backend, which is not available yet.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gisplan.errors import StoreError
from gisplan.store.gpkg import GeoPackageWorkspace
from gisplan.store.workspace import Workspace

__all__ = ["open_workspace"]

# a scheme is two or more characters, so that a Windows drive (C:\work\yc.gpkg) stays a path
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):(?P<rest>.*)$", re.DOTALL)
_POSTGRES = frozenset({"postgresql", "postgres", "postgis"})
_CREDENTIALS = re.compile(r"//[^/@]*@")


def open_workspace(uri: str | os.PathLike[str] | Workspace) -> Workspace:
    """Open the workspace at `uri` (nothing is read or created until it is used).

    Parameters
    ----------
    uri : str, path-like or Workspace
        A GeoPackage path (``work/yc.gpkg``; ``gpkg:work/yc.gpkg`` says so explicitly). A Workspace is
        returned as it is.

    Returns
    -------
    Workspace

    Raises
    ------
    StoreError
        For an empty URI, a ``postgresql://`` URI (the PostGIS backend is not available yet) or an unknown
        scheme.

    Examples
    --------
    >>> open_workspace("gpkg:work/yc.gpkg").label
    'work/yc.gpkg'
    >>> open_workspace("work/yc.gpkg").derived_path("_results").name
    'yc_results'
    """
    if isinstance(uri, Workspace):
        return uri
    if isinstance(uri, os.PathLike):
        return GeoPackageWorkspace(Path(uri))
    text = uri.strip()
    found = _SCHEME.match(text)
    scheme = found["scheme"].lower() if found else None
    if scheme == "gpkg":
        text = found["rest"] if found else text
    elif scheme in _POSTGRES:
        shown = _CREDENTIALS.sub("//…@", text)
        msg = (f"workspace {shown}: PostGIS workspaces are not available yet; use a GeoPackage workspace "
               "(`-w work/district.gpkg`).")
        raise StoreError(msg)
    elif scheme is not None:
        msg = (f"workspace {text}: unknown kind of workspace `{scheme}:`; give a GeoPackage path "
               "(`work/district.gpkg` or `gpkg:work/district.gpkg`).")
        raise StoreError(msg)
    if not text:
        msg = "the workspace is empty; give a GeoPackage path (`-w work/district.gpkg`)."
        raise StoreError(msg)
    return GeoPackageWorkspace(Path(text))
