"""The house (STYLE.md §1): subpackages by tier, imports pointing down only, siblings only where declared."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "gisplan"

# Top-level base modules and subpackages, by tier. A unit imports only from lower tiers, from base modules
# it does not sit below (tier 0 is one layer; its order is declared in BASE_ORDER) and from the siblings
# declared in SIBLINGS.
TIERS = {
    "i18n": 0, "errors": 0, "vocab": 0, "tomllines": 0, "settings": 0, "profiles": 0, "catalogue": 0, "config": 0, "scenariocat": 0, "periods": 0, "fieldchecks": 0, "crs": 0, "coords": 0,
    "divisions": 0, "offsets": 0, "laps": 0, "progress": 0, "toponym": 0, "lazyexports": 0,
    "io": 1, "validation": 1, "store": 1,
    "network": 2, "boundaries": 2, "placenames": 2,
    "analysis": 3,
    "siting": 4,
    "workflows": 5, "outputs": 5, "service": 5,
    "cli": 6,
}
# base modules may import the ones listed before them, never after (no cycles among them)
BASE_ORDER = ("lazyexports", "i18n", "errors", "laps", "progress", "vocab", "toponym", "tomllines", "settings", "offsets", "coords",
              "divisions", "crs", "profiles", "catalogue", "fieldchecks", "config", "scenariocat", "periods")
# imports between units of one tier that are allowed: the unit on the left may import the one on the right
SIBLINGS = {
    ("validation", "io"),  # checks read what the readers return (RawTable) and convert CRSs with them
    ("outputs", "workflows"),  # results files are written from a workflow's RunResult
    ("service", "workflows"),  # the naming workflow and the register are served as they run in the CLI
}
TOP = "__init__"  # gisplan/__init__.py re-exports the public verbs of every tier but the CLI


def _unit(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else path.stem


def _imports(path: Path, package: tuple[str, ...] | None = None) -> set[str]:
    """The gisplan units (top-level modules or subpackages) that `path` imports; relative imports are resolved
    against `package` (default: where `path` lies in gisplan/)."""
    found = set()
    package = path.relative_to(PKG).parts[:-1] if package is None else package
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:  # relative: resolve against the package
            base = package[: len(package) - node.level + 1]
            parts = [*base, *(node.module.split(".") if node.module else [])]
            if parts:
                found.add(parts[0])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gisplan"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("gisplan."))
    return found


def _modules() -> list[Path]:
    return [p for p in PKG.rglob("*.py") if "data" not in p.relative_to(PKG).parts]


def test_every_unit_has_a_tier() -> None:
    units = {_unit(p) for p in _modules()} - {TOP}
    assert units == set(TIERS), units ^ set(TIERS)
    assert set(BASE_ORDER) == {u for u, t in TIERS.items() if t == 0}


def test_packages_are_one_level_deep_and_name_their_api() -> None:
    for path in _modules():
        assert len(path.relative_to(PKG).parts) <= 2, path
    for package in (p for p in PKG.iterdir() if p.is_dir() and p.name in TIERS):
        init = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
        names = [n for n in init.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"]
        assert names, f"{package.name}/__init__.py must name its public API in __all__"


def _allowed(unit: str, target: str) -> bool:
    if target == unit:
        return True
    tier, other = TIERS[unit], TIERS[target]
    if tier == 0 and other == 0:
        return BASE_ORDER.index(target) < BASE_ORDER.index(unit)
    return other < tier or (other == tier and (unit, target) in SIBLINGS)


def test_imports_point_down() -> None:
    bad = []
    for path in _modules():
        unit = _unit(path)
        for target in _imports(path) - {"__version__"}:
            if target not in TIERS:
                continue
            if unit == TOP:
                if target == "cli":
                    bad.append("gisplan/__init__.py imports the CLI")
                continue
            if not _allowed(unit, target):
                bad.append(f"{path.relative_to(PKG)} ({unit}, tier {TIERS[unit]}) imports {target} (tier {TIERS[target]})")
    assert not bad, bad


def test_only_the_store_speaks_to_the_workspace() -> None:
    """Nothing outside gisplan/store/ opens a GeoPackage workspace with sqlite3, and only io (input files, result
    files) and the store call pyogrio: everything else reads and writes the workspace through its Workspace."""
    offenders = [str(p.relative_to(PKG)) for p in _modules()
                 if _unit(p) != "store" and "sqlite3" in _imports_modules(p)]
    assert not offenders, offenders
    gdal = [str(p.relative_to(PKG)) for p in _modules()
            if _unit(p) not in {"io", "store"} and "pyogrio" in _imports_modules(p)]
    assert not gdal, gdal


def test_facility_layer_names_are_spelled_once() -> None:
    """The ``facilities_`` prefix is built in one place (catalogue.facility_layer_name / facility_type_of):
    no other module glues it to a type id or strips it off."""
    offenders = []
    for path in _modules():
        if _unit(path) == "catalogue":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            glued = isinstance(node, ast.JoinedStr) and any(
                isinstance(part, ast.Constant) and str(part.value).endswith("facilities_") for part in node.values)
            literal = isinstance(node, ast.Constant) and node.value == "facilities_"
            if glued or literal:
                offenders.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert not offenders, offenders


def _imports_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize(("source", "where", "expected"), [
    ("from .cli import main\nfrom . import store\nfrom gisplan.io import read_table\n", ("m.py",), {"cli", "store", "io"}),
    ("from ..store import open_workspace\nfrom .graph import build_network\n", ("network", "m.py"),
     {"store", "network"}),
])
def test_relative_imports_are_seen(tmp_path: Path, source: str, where: tuple[str, ...], expected: set[str]) -> None:
    fake = tmp_path / "m.py"
    fake.write_text(source, encoding="utf-8")
    assert _imports(fake, package=where[:-1]) == expected


def test_siblings_rule() -> None:
    assert _allowed("validation", "io")
    assert not _allowed("io", "validation")
    assert not _allowed("store", "validation")
    assert not _allowed("workflows", "outputs")
    assert _allowed("crs", "coords")
    assert not _allowed("coords", "crs")
