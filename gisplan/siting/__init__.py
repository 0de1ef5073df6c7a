"""Tier 4 — site-selection models on cost tables (no geometry) and the proposals built on them."""

from __future__ import annotations

from gisplan.siting.models import (
    CostTable,
    SiteSelection,
    capacitated_coverage,
    cost_table,
    coverage_matrix,
    covered_rows,
    lscp,
    marginal_gains,
    mclp,
    one_per_unit,
    p_median,
    phase_order,
)
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
