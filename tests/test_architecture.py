"""Imports point down the tiers only (STYLE.md §1); nothing imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "gisplan"
TIERS = {
    "errors": 0, "catalogue": 0, "coords": 0, "divisions": 0, "config": 0,
    "io": 1, "_validation": 1, "_cells": 1, "_crosschecks": 1, "schema": 1, "store": 1, "ingest": 1,
    "osm": 1,
    "network": 2, "snapping": 2, "demand": 2,
    "coverage": 3, "access": 3, "indicators": 3, "gaps": 3,
    "optimise": 4, "siting": 4,
    "webmap": 5, "pipeline": 5, "plan": 5,
    "cli": 6, "_cliutil": 6, "cli_coverage": 6, "cli_propose": 6, "cli_map": 6, "__init__": 6,
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:  # from .io import x / from . import io
            if node.module:
                found.add(node.module.split(".")[0])
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


def test_every_module_has_a_tier() -> None:
    modules = {p.stem for p in PKG.glob("*.py")}
    assert modules == set(TIERS), modules ^ set(TIERS)


def test_imports_point_down() -> None:
    bad = []
    for path in PKG.glob("*.py"):
        tier = TIERS[path.stem]
        for target in _imports(path) - {"__version__"}:
            if target not in TIERS:
                continue
            if TIERS[target] > tier or (target == "cli" and path.stem != "cli"):
                bad.append(f"{path.stem} (tier {tier}) imports {target} (tier {TIERS[target]})")
    assert not bad, bad


def test_relative_imports_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("from .cli import main\nfrom . import store\nfrom gisplan.io import read_table\n", encoding="utf-8")
    assert _imports(path) == {"cli", "store", "io"}
