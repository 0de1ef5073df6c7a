"""Tier 4 — cost tables, the site-selection models on them (no geometry), and the proposals built on them."""

from __future__ import annotations

from gisplan.siting.costs import CostTable, cost_table, coverage_matrix, covered_rows, marginal_gains, phase_order
from gisplan.siting.models import SiteSelection, capacitated_coverage, lscp, mclp, one_per_unit, p_median
from gisplan.siting.proposals import Proposal, SiteQuestion, generate_candidates, propose_sites

__all__ = [
    "CostTable",
    "Proposal",
    "SiteQuestion",
    "SiteSelection",
    "capacitated_coverage",
    "cost_table",
    "coverage_matrix",
    "covered_rows",
    "generate_candidates",
    "lscp",
    "marginal_gains",
    "mclp",
    "one_per_unit",
    "p_median",
    "phase_order",
    "propose_sites",
]
