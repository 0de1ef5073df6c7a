"""Tier 2 — the place-name register (地名信息库): romanisation by the place-name rules, name checks, search
and place-name signs (issue 15). Pure functions on frames; :mod:`gisplan.workflows.places` stores them in a
workspace."""

from __future__ import annotations

from gisplan.placenames.checks import PROBLEM_COLUMNS, check_names, standard_characters
from gisplan.placenames.pinyin import Romanisation, romanise
from gisplan.placenames.register import (
    APPLICATION_COLUMNS,
    PLACE_COLUMNS,
    Application,
    approve,
    places_from_gazetteer,
    retire,
)
from gisplan.placenames.search import SearchIndex, build_index, search
from gisplan.placenames.signs import SIGN_COLUMNS, qr_image, record_url

__all__ = [
    "APPLICATION_COLUMNS",
    "PLACE_COLUMNS",
    "PROBLEM_COLUMNS",
    "SIGN_COLUMNS",
    "Application",
    "Romanisation",
    "SearchIndex",
    "approve",
    "build_index",
    "check_names",
    "places_from_gazetteer",
    "qr_image",
    "record_url",
    "retire",
    "romanise",
    "search",
    "standard_characters",
]
