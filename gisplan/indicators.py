"""Plan indicators computed from the workspace layers: administrative coverage, floor area per 100
households, bed shares, and the plan's indicator table with 2020 baseline and 2025 target beside them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.divisions import township_code, units_in_scope

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gisplan.catalogue import Catalogue
    from gisplan.config import IndicatorSpec, Standard

__all__ = [
    "BedShares",
    "administrative_coverage",
    "bed_shares",
    "evaluate_indicators",
    "floor_area_per_100_households",
]

logger = logging.getLogger(__name__)


def administrative_coverage(facilities: pd.DataFrame, units: pd.DataFrame, *, level: str) -> pd.Series:
    """Tell, for each division, whether at least one facility belongs to it.

    Parameters
    ----------
    facilities : pandas.DataFrame
        With ``code12`` (validated on import against the polygon each point falls in).
    units : pandas.DataFrame
        The divisions of the denominator, with ``code12`` (see :func:`gisplan.divisions.units_in_scope`).
    level : {"township", "village"}
        At township level a facility's village code counts for its township.

    Returns
    -------
    pandas.Series
        Boolean, named ``has_facility``, on the index of `units`.

    Examples
    --------
    >>> units = pd.DataFrame({"code12": ["500118100000", "500118101000"]})
    >>> fac = pd.DataFrame({"code12": ["500118100003"]})
    >>> administrative_coverage(fac, units, level="township").tolist()
    [True, False]
    """
    codes = facilities["code12"].dropna().astype(str)
    if level == "township":
        codes = township_code(codes)
    return units["code12"].isin(set(codes)).rename("has_facility")


def floor_area_per_100_households(centres: pd.DataFrame, households: pd.DataFrame) -> pd.Series:
    """Floor area of community service centres per 100 households, for each community.

    Parameters
    ----------
    centres : pandas.DataFrame
        ``code12`` and ``floor_area_m2`` (m²) of the community service centres.
    households : pandas.DataFrame
        ``code12`` and ``households`` of each village/community.

    Returns
    -------
    pandas.Series
        ``floor_area_m2_per_100hh`` on the index of `households`: total centre floor area ÷ households
        × 100. A community with no households gives NaN (never inf); one with no centre gives 0.

    Examples
    --------
    >>> hh = pd.DataFrame({"code12": ["a", "b", "c"], "households": [1000, 500, 0]})
    >>> c = pd.DataFrame({"code12": ["a", "a", "c"], "floor_area_m2": [200.0, 150.0, 90.0]})
    >>> floor_area_per_100_households(c, hh).tolist()
    [35.0, 0.0, nan]
    """
    area = centres.groupby("code12")["floor_area_m2"].sum()
    total = households["code12"].map(area).fillna(0.0).astype(float)
    hh = households["households"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(hh > 0, total / hh * 100.0, np.nan)
    return pd.Series(value, index=households.index, name="floor_area_m2_per_100hh")


@dataclass(frozen=True, slots=True)
class BedShares:
    """Bed totals and shares over elderly-care institutions (shares are NaN when there are no beds)."""

    beds: int
    nursing_beds: int
    government_beds: int
    institutions: int
    quality_ok: int
    nursing_share: float
    government_share: float
    quality_share: float


def bed_shares(institutions: pd.DataFrame) -> BedShares:
    """Nursing-bed share, government-operated bed share and quality pass rate.

    Examples
    --------
    >>> inst = pd.DataFrame({"beds": [100, 300], "nursing_beds": [50, 90],
    ...                      "operator": ["government", "private"], "quality_ok": [True, False]})
    >>> s = bed_shares(inst)
    >>> round(s.nursing_share, 3), s.government_share, s.quality_share
    (0.35, 0.25, 0.5)
    """
    beds = int(institutions["beds"].sum())
    nursing = int(institutions["nursing_beds"].sum())
    gov = int(institutions.loc[institutions["operator"] == "government", "beds"].sum())
    n = len(institutions)
    ok = int(institutions["quality_ok"].fillna(False).astype(bool).sum()) if "quality_ok" in institutions else 0
    return BedShares(
        beds=beds,
        nursing_beds=nursing,
        government_beds=gov,
        institutions=n,
        quality_ok=ok,
        nursing_share=nursing / beds if beds else float("nan"),
        government_share=gov / beds if beds else float("nan"),
        quality_share=ok / n if n else float("nan"),
    )


def _meets(value: float, target: str) -> bool | None:
    m = re.fullmatch(r"\s*(≥|>=|≤|<=|>|<)?\s*([\d.]+)\s*%?\s*", target)
    if m is None or np.isnan(value):
        return None
    op, number = m.group(1), float(m.group(2))
    checks = {"≤": value <= number + 1e-9, "<=": value <= number + 1e-9, ">": value > number,
              "<": value < number}
    return bool(checks.get(op, value >= number - 1e-9))


def _ratio(num: float, den: float) -> float:
    return 100.0 * num / den if den else float("nan")


def evaluate_indicators(
    specs: Sequence[IndicatorSpec],
    *,
    facilities: Mapping[str, pd.DataFrame],
    households: pd.DataFrame | None,
    gazetteer: pd.DataFrame,
    standard: Standard,
    catalogue: Catalogue,
    illustrative: bool,
) -> pd.DataFrame:
    """Compute a plan's indicator table from the layers.

    Parameters
    ----------
    specs : sequence of IndicatorSpec
        The scenario's ``[[indicator]]`` rows.
    facilities : Mapping[str, pandas.DataFrame]
        Facility layers by type id (a missing type counts as no facilities).
    households : pandas.DataFrame, optional
        ``code12``, ``households`` per village/community.
    gazetteer : pandas.DataFrame
    standard : Standard
    catalogue : Catalogue
    illustrative : bool
        Whether any layer used is generated; the ``basis`` column then says 示意.

    Returns
    -------
    pandas.DataFrame
        One row per spec: ``row``, ``name_zh``, ``unit``, ``baseline_2020``, ``target_2025``,
        ``nature``, ``value`` (percent, NaN when not computable), ``numerator``, ``denominator``,
        ``meets_target`` and ``basis``.
    """
    out = []
    needs = {"floor_area_compliance": "community_service_centre",
             "floor_area_per_100hh": "community_service_centre", "host_share": "community_service_centre",
             "nursing_bed_share": "elderly_institution", "government_bed_share": "elderly_institution",
             "quality_share": "elderly_institution"}
    for spec in specs:
        value = num = den = float("nan")
        basis = "computed (示意 illustrative layers)" if illustrative else "computed"
        need = spec.facility_type if spec.metric == "admin_share" else needs.get(spec.metric)
        if need is not None and need not in facilities:
            basis = f"not computed: the workspace has no `facilities_{need}` layer"
        elif spec.metric in {"floor_area_compliance", "floor_area_per_100hh"} and households is None:
            basis = "not computed: the workspace has no `households` layer"
        elif spec.metric == "reported":
            basis = f"reported: {spec.source or 'plan text'}"
        elif spec.metric == "admin_share":
            ftype = catalogue.get_type(str(spec.facility_type))
            units = units_in_scope(gazetteer, level=ftype.admin_level, scope=spec.scope or ftype.admin_scope)
            has = administrative_coverage(facilities[ftype.id], units, level=ftype.admin_level)
            num, den = float(has.sum()), float(len(units))
            value = _ratio(num, den)
        elif spec.metric == "floor_area_compliance" and households is not None:
            units = units_in_scope(gazetteer, level="village", scope=spec.scope or "all")
            hh = households[households["code12"].isin(units["code12"])].reset_index(drop=True)
            per100 = floor_area_per_100_households(facilities["community_service_centre"], hh)
            num, den = float((per100 >= standard.floor_area_m2_per_100hh).sum()), float(len(hh))
            value = _ratio(num, den)
        elif spec.metric == "floor_area_per_100hh" and households is not None:
            num = float(facilities["community_service_centre"]["floor_area_m2"].sum())
            den = float(households["households"].sum()) / 100.0
            value = num / den if den else float("nan")
        elif spec.metric == "host_share":
            centres = facilities["community_service_centre"]
            points = facilities.get(str(spec.facility_type or "volunteer_service_point"),
                                    pd.DataFrame(columns=["host_facility_id"]))
            num = float(centres["facility_id"].isin(set(points["host_facility_id"].dropna())).sum())
            den = float(len(centres))
            value = _ratio(num, den)
        elif spec.metric in {"nursing_bed_share", "government_bed_share", "quality_share"}:
            inst = facilities["elderly_institution"]
            if len(inst):
                s = bed_shares(inst)
                num, den = {
                    "nursing_bed_share": (s.nursing_beds, s.beds),
                    "government_bed_share": (s.government_beds, s.beds),
                    "quality_share": (s.quality_ok, s.institutions),
                }[spec.metric]
                value = _ratio(num, den)
        out.append({
            "row": spec.row, "name_zh": spec.name_zh, "unit": spec.unit,
            "baseline_2020": spec.baseline_2020, "target_2025": spec.target_2025, "nature": spec.nature,
            "value": value, "numerator": num, "denominator": den,
            "meets_target": _meets(value, spec.target_2025), "basis": basis,
        })
    return pd.DataFrame(out)
