"""Tier 6 — the ``gisplan`` command line, one module per command group; the only place that configures
logging, prints or exits.
"""

from __future__ import annotations

from gisplan.cli.main import cli, main

__all__ = ["cli", "main"]
