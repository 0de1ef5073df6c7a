"""Opening a workspace by URI: a plain path or ``gpkg:path`` is a GeoPackage; ``postgresql://…?schema=NAME`` (also
``postgres://`` and ``postgis://``) is a schema of a PostgreSQL database with PostGIS.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.gpkg import GeoPackageWorkspace
from gisplan.store.workspace import Workspace

__all__ = ["open_workspace"]

# a scheme is two or more characters, so that a Windows drive (C:\work\yc.gpkg) stays a path
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):(?P<rest>.*)$", re.DOTALL)
_POSTGRES = frozenset({"postgresql", "postgres", "postgis"})


def open_workspace(uri: str | os.PathLike[str] | Workspace) -> Workspace:
    """Open the workspace at `uri` (nothing is read or created until it is used).

    Parameters
    ----------
    uri : str, path-like or Workspace
        A GeoPackage path (``work/yc.gpkg``; ``gpkg:work/yc.gpkg`` says so explicitly), or a PostGIS schema
        (``postgresql://planner@db:5432/civil?schema=yongchuan``; the password from PGPASSWORD or ~/.pgpass).
        A Workspace is returned as it is.

    Returns
    -------
    Workspace

    Raises
    ------
    StoreError
        For an empty URI, a ``postgresql://`` URI without a database or with a bad schema name, or an
        unknown scheme.

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
        from gisplan.store.postgis import PostGISWorkspace  # noqa: PLC0415 - only for a PostGIS workspace

        return PostGISWorkspace(text)
    elif scheme is not None:
        msg = (_("workspace {text}: unknown kind of workspace `{scheme}:`; give a GeoPackage path "
                 "(`work/district.gpkg` or `gpkg:work/district.gpkg`) or a PostGIS URI "
                 "(`postgresql://user@host:5432/db?schema=district`).").format(text=text, scheme=scheme))
        raise StoreError(msg)
    if not text:
        msg = _("the workspace is empty; give a GeoPackage path (`-w work/district.gpkg`).")
        raise StoreError(msg)
    return GeoPackageWorkspace(Path(text))
