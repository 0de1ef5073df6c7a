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

from gisplan.catalogue import facility_layer_name
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
    "existing_only",
    "floor_area_per_100_households",
    "floor_area_table",
    "populous_units",
    "target_status",
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


def floor_area_table(
    centres: pd.DataFrame, households: pd.DataFrame, gazetteer: pd.DataFrame, *, standard_m2_per_100hh: float,
    district_code: str,
) -> pd.DataFrame:
    """Floor area per 100 households for every community, township and the district.

    Returns
    -------
    pandas.DataFrame
        ``level, code12, name, kind (urban/rural for communities), households, floor_area_m2,
        floor_area_m2_per_100hh, meets_standard``. Units with no households have NaN per 100 households
        (never inf) and do not meet the standard.

    Examples
    --------
    >>> gaz = pd.DataFrame({"code12": ["500118001000", "500118001001"], "name": ["甲街道", "甲社区居民委员会"]})
    >>> hh = pd.DataFrame({"code12": ["500118001001"], "households": [200]})
    >>> c = pd.DataFrame({"code12": ["500118001001"], "floor_area_m2": [80.0]})
    >>> t = floor_area_table(c, hh, gaz, standard_m2_per_100hh=30, district_code="500118000000")
    >>> t[["level", "floor_area_m2_per_100hh", "meets_standard"]].values.tolist()
    [['village', 40.0, True], ['township', 40.0, True], ['district', 40.0, True]]
    """
    names = dict(zip(gazetteer["code12"].astype(str), gazetteer["name"].astype(str), strict=True))
    area = centres.groupby(centres["code12"].astype(str))["floor_area_m2"].sum()
    villages = pd.DataFrame({"code12": households["code12"].astype(str),
                             "households": households["households"].astype(float)})
    villages["floor_area_m2"] = villages["code12"].map(area).fillna(0.0)
    villages["township_code12"] = township_code(villages["code12"])
    towns = villages.groupby("township_code12")[["households", "floor_area_m2"]].sum().reset_index()
    towns = towns.rename(columns={"township_code12": "code12"})
    district = pd.DataFrame({"code12": [district_code], "households": [villages["households"].sum()],
                             "floor_area_m2": [villages["floor_area_m2"].sum()]})
    frames = []
    for level, frame in (("village", villages.drop(columns="township_code12")), ("township", towns),
                         ("district", district)):
        frame = frame.assign(level=level, name=frame["code12"].map(names).fillna(""))  # noqa: PLW2901
        hh = frame["households"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(hh > 0, frame["floor_area_m2"].to_numpy(dtype=float) / hh * 100.0, np.nan)
        frame["floor_area_m2_per_100hh"] = per
        frame["meets_standard"] = per >= standard_m2_per_100hh - 1e-9  # NaN never meets
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    kind = out["name"].str.endswith(("居民委员会", "居委会")).map({True: "urban", False: "rural"})
    out["kind"] = kind.where(out["level"] == "village", "")
    return out[["level", "code12", "name", "kind", "households", "floor_area_m2", "floor_area_m2_per_100hh",
                "meets_standard"]]


@dataclass(frozen=True, slots=True)
class BedShares:
    """Bed totals and shares over elderly-care institutions.

    Shares are NaN when there are no beds; ``quality_share`` is NaN unless every institution has a
    ``quality_ok`` value (an unknown is not a pass).
    """

    beds: int
    nursing_beds: int
    government_beds: int
    institutions: int
    quality_ok: int
    quality_known: int
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
    quality = institutions["quality_ok"] if "quality_ok" in institutions else pd.Series(dtype=object)
    known = int(quality.notna().sum())
    ok = int(quality.dropna().astype(bool).sum())
    return BedShares(
        beds=beds,
        nursing_beds=nursing,
        government_beds=gov,
        institutions=n,
        quality_ok=ok,
        quality_known=known,
        nursing_share=nursing / beds if beds else float("nan"),
        government_share=gov / beds if beds else float("nan"),
        quality_share=ok / n if n and known == n else float("nan"),
    )


_OPS = {"≥": ">=", ">=": ">=", "≤": "<=", "<=": "<=", ">": ">", "<": "<", None: ">="}


def parse_target(target: str) -> tuple[str, float]:
    """Comparator and number of a plan's target text; ``("text", nan)`` when it is not a number.

    A bare number means "at least" (the plans' coverage and share targets).

    Examples
    --------
    >>> parse_target("≥90"), parse_target("≤40"), parse_target("100"), parse_target(">30")
    (('>=', 90.0), ('<=', 40.0), ('>=', 100.0), ('>', 30.0))
    >>> parse_target("不低于上年度居民人均消费支出增速")
    ('text', nan)
    """
    m = re.fullmatch(r"\s*(≥|>=|≤|<=|>|<)?\s*([\d.]+)\s*%?\s*", target)
    if m is None:
        return "text", float("nan")
    return _OPS[m.group(1)], float(m.group(2))


def _meets(value: float, target: str, comparator: str | None = None) -> bool | None:
    op, number = parse_target(target)
    op = comparator or op
    if op == "text" or np.isnan(value) or np.isnan(number):
        return None
    checks = {"<=": value <= number + 1e-9, ">": value > number, "<": value < number,
              "==": abs(value - number) <= 1e-9}
    return bool(checks.get(op, value >= number - 1e-9))


class _NotComputed(Exception):  # noqa: N818 - control flow inside this module only
    """Raised by a metric that lacks the data it needs; the message is the reason shown."""


def _layer(facilities: Mapping[str, pd.DataFrame], type_id: str) -> pd.DataFrame:
    if type_id not in facilities:
        msg = f"the workspace has no `{facility_layer_name(type_id)}` layer"
        raise _NotComputed(msg)
    return facilities[type_id]


def _households(households: pd.DataFrame | None) -> pd.DataFrame:
    if households is None:
        msg = "the workspace has no `households` layer"
        raise _NotComputed(msg)
    return households


def _spatial_metric(
    spec: IndicatorSpec,
    facilities: Mapping[str, pd.DataFrame],
    households: pd.DataFrame | None,
    gazetteer: pd.DataFrame,
    catalogue: Catalogue,
    coverage: pd.DataFrame | None,
) -> tuple[float, ...]:
    """Administrative coverage, facility counts and network coverage: (value, numerator, denominator)."""
    if spec.metric == "admin_share":
        ftype = catalogue.get_type(str(spec.facility_type))
        units = units_in_scope(gazetteer, level=ftype.admin_level, scope=spec.scope or ftype.admin_scope)
        if spec.min_population is not None:
            try:
                units = populous_units(units, _households(households), spec.min_population, ftype.admin_level)
            except ValueError as exc:
                raise _NotComputed(str(exc)) from None
        has = administrative_coverage(_layer(facilities, ftype.id), units, level=ftype.admin_level)
        return _ratio(has.sum(), len(units)), float(has.sum()), float(len(units))
    if spec.metric == "facility_count":
        layer = _layer(facilities, str(spec.facility_type))
        for column, wanted in spec.where:
            if column not in layer:
                msg = f"the `{facility_layer_name(str(spec.facility_type))}` layer has no `{column}` column"
                raise _NotComputed(msg)
            layer = layer[layer[column].astype(str) == wanted]
        if spec.scope:
            towns = units_in_scope(gazetteer, level="township", scope=spec.scope)["code12"]
            layer = layer[township_code(layer["code12"].astype(str)).isin(set(towns))]
        return float(len(layer)), float(len(layer)), float("nan")
    return _network_share(spec, coverage, catalogue)


def _metric(
    spec: IndicatorSpec,
    facilities: Mapping[str, pd.DataFrame],
    households: pd.DataFrame | None,
    gazetteer: pd.DataFrame,
    standard: Standard,
    catalogue: Catalogue,
    coverage: pd.DataFrame | None = None,
) -> tuple[float, ...]:
    """Return (value, numerator, denominator) of one computable indicator, value in percent or m²."""
    if spec.metric in {"admin_share", "facility_count", "network_coverage"}:
        return _spatial_metric(spec, facilities, households, gazetteer, catalogue, coverage)
    if spec.metric == "floor_area_compliance":
        centres, hh = _layer(facilities, "community_service_centre"), _households(households)
        units = units_in_scope(gazetteer, level="village", scope=spec.scope or "all")
        missing = int((~units["code12"].isin(hh["code12"])).sum())
        if missing:
            msg = f"{missing} of {len(units)} villages/communities have no row in the `households` layer"
            raise _NotComputed(msg)
        hh = hh[hh["code12"].isin(units["code12"])].reset_index(drop=True)
        meets = int((floor_area_per_100_households(centres, hh) >= standard.floor_area_m2_per_100hh).sum())
        return _ratio(meets, len(units)), float(meets), float(len(units))
    if spec.metric == "floor_area_per_100hh":
        area = float(_layer(facilities, "community_service_centre")["floor_area_m2"].sum())
        total = float(_households(households)["households"].sum())
        return (area / total * 100.0 if total else float("nan")), area, total
    if spec.metric == "host_share":
        centres = _layer(facilities, "community_service_centre")
        points = _layer(facilities, str(spec.facility_type or "volunteer_service_point"))
        hosts = int(centres["facility_id"].isin(set(points["host_facility_id"].dropna())).sum())
        return _ratio(hosts, len(centres)), float(hosts), float(len(centres))
    s = bed_shares(_layer(facilities, "elderly_institution"))
    if spec.metric == "quality_share":
        if s.quality_known < s.institutions:
            msg = f"{s.institutions - s.quality_known} of {s.institutions} institutions have no `quality_ok` value"
            raise _NotComputed(msg)
        return _ratio(s.quality_ok, s.institutions), float(s.quality_ok), float(s.institutions)
    if not s.beds:
        msg = "the institutions have no beds"
        raise _NotComputed(msg)
    num = s.nursing_beds if spec.metric == "nursing_bed_share" else s.government_beds
    return _ratio(num, s.beds), float(num), float(s.beds)


def existing_only(facilities: pd.DataFrame) -> pd.DataFrame:
    """The rows of a facility layer that exist now (``status`` not ``planned``: 规划/拟建/在建).

    Examples
    --------
    >>> existing_only(pd.DataFrame({"status": ["existing", "planned", None]})).index.tolist()
    [0, 2]
    """
    if "status" not in facilities:
        return facilities
    return facilities[facilities["status"].fillna("existing").astype(str) != "planned"]


def populous_units(units: pd.DataFrame, households: pd.DataFrame, min_population: int, level: str) -> pd.DataFrame:
    """The units (townships or villages) with at least `min_population` residents in the households layer.

    Raises
    ------
    ValueError
        If the households layer has no complete ``population`` column.
    """
    if "population" not in households or households["population"].isna().any():
        msg = "the `households` layer has no complete `population` column, needed for the population threshold"
        raise ValueError(msg)
    codes = households["code12"].astype(str)
    key = township_code(codes) if level == "township" else codes
    population = households["population"].groupby(key.to_numpy()).sum()
    return units[units["code12"].map(population).fillna(0).to_numpy() >= min_population].reset_index(drop=True)


def _network_share(spec: IndicatorSpec, coverage: pd.DataFrame | None, catalogue: Catalogue) -> tuple[float, ...]:
    """District share of the weight within the type's (or the row's) minutes, from the coverage tables."""
    if coverage is None or coverage.empty:
        msg = "no road network in the workspace, so no network coverage (import roads, or see `gisplan coverage`)"
        raise _NotComputed(msg)
    ftype = catalogue.get_type(str(spec.facility_type))
    minutes = spec.minutes if spec.minutes is not None else ftype.max_minutes
    rows = coverage[(coverage["level"] == "district") & (coverage["facility_type"] == ftype.id)
                    & (coverage["threshold"] == minutes)]
    if rows.empty:
        msg = f"no coverage of {ftype.id} at {minutes:g} min (no facilities of this type in the workspace?)"
        raise _NotComputed(msg)
    row = rows.iloc[0]
    total, covered = float(row[spec.weight]), float(row[f"{spec.weight}_covered"])
    if np.isnan(total):
        msg = f"the demand layer has no `{spec.weight}` values"
        raise _NotComputed(msg)
    return _ratio(covered, total), covered, total


def _types_used(spec: IndicatorSpec) -> tuple[str, ...]:
    """The facility types an indicator is computed from."""
    if spec.metric in {"admin_share", "facility_count", "network_coverage"}:
        return (str(spec.facility_type),)
    if spec.metric == "host_share":
        return ("community_service_centre", str(spec.facility_type or "volunteer_service_point"))
    if spec.metric in {"floor_area_compliance", "floor_area_per_100hh"}:
        return ("community_service_centre",)
    return ("elderly_institution",)


def _ratio(num: float, den: float) -> float:
    return 100.0 * float(num) / float(den) if den else float("nan")


def evaluate_indicators(  # noqa: PLR0913 - keyword-only layers and options
    specs: Sequence[IndicatorSpec],
    *,
    facilities: Mapping[str, pd.DataFrame],
    households: pd.DataFrame | None,
    gazetteer: pd.DataFrame,
    standard: Standard,
    catalogue: Catalogue,
    illustrative: bool,
    coverage: pd.DataFrame | None = None,
    coverage_method: str = "network",
) -> pd.DataFrame:
    """Compute a plan's indicator table from the layers.

    Only existing facilities count: rows whose ``status`` is ``planned`` (规划/拟建/在建) are left out
    of every baseline value, and the basis says how many were.

    Parameters
    ----------
    specs : sequence of IndicatorSpec
        The scenario's ``[[indicator]]`` rows.
    facilities : Mapping[str, pandas.DataFrame]
        Facility layers by type id. A row needing a layer the workspace lacks is "not computed".
    households : pandas.DataFrame, optional
        ``code12``, ``households`` per village/community.
    gazetteer : pandas.DataFrame
    standard : Standard
    catalogue : Catalogue
    illustrative : bool
        Whether any layer used is generated; the ``basis`` column then says 示意.
    coverage : pandas.DataFrame, optional
        Per-unit coverage tables of :func:`gisplan.analysis.coverage.unit_totals` (network coverage rows).
    coverage_method : str
        The method those tables were measured with; only ``network`` answers a 15-minute row.

    Returns
    -------
    pandas.DataFrame
        One row per spec: ``indicator_id``, ``row``, ``section``, ``name_zh``, ``unit``,
        ``baseline_2020``, ``target_2025``, ``comparator``, ``target``, ``nature``, ``method``
        (computed-spatial / computed-attribute / count / reported), ``value`` (percent, m² per 100
        households or a count; NaN when not computed), ``numerator``, ``denominator``,
        ``meets_target``, ``status`` (达标 / 未达标 against the target; 无数据 when there is no value;
        无目标 for a value whose target is not a number, e.g. "——") and ``basis`` (computed / reported
        with its source / "not computed: " and the reason).
    """
    existing: dict[str, pd.DataFrame] = {}
    planned: dict[str, int] = {}
    for type_id, frame in facilities.items():
        existing[type_id] = existing_only(frame)
        if len(existing[type_id]) < len(frame):
            planned[type_id] = len(frame) - len(existing[type_id])
    computed = "computed (示意 illustrative layers)" if illustrative else "computed"
    if coverage is not None and coverage_method != "network":
        coverage = None  # a straight-line radius never answers a network-minutes row
    out = []
    for spec in specs:
        value = num = den = float("nan")
        if spec.metric == "reported":
            reported = _number(spec.value)
            value = reported
            basis = (f"reported: {spec.source or 'plan text'}" + (f" (value {spec.value})" if spec.value else
                                                                  "; no value supplied"))
        else:
            try:
                value, num, den = _metric(spec, existing, households, gazetteer, standard, catalogue, coverage)
                left_out = sum(planned.get(t, 0) for t in _types_used(spec))
                basis = computed + (f"; {left_out} planned facilities left out" if left_out else "")
            except _NotComputed as exc:
                basis = f"not computed: {exc}"
        comparator, target = parse_target(spec.target_2025)
        comparator = spec.comparator or comparator
        meets = _meets(value, spec.target_2025, spec.comparator)
        out.append({
            "indicator_id": spec.indicator_id, "row": spec.row, "section": spec.section, "name_zh": spec.name_zh,
            "unit": spec.unit, "baseline_2020": spec.baseline_2020, "target_2025": spec.target_2025,
            "comparator": comparator, "target": target, "nature": spec.nature, "method": spec.method,
            "value": value, "numerator": num, "denominator": den, "meets_target": meets,
            "status": _status(meets, value, comparator), "basis": basis,
        })
    return pd.DataFrame(out)


def _status(meets: bool | None, value: float, comparator: str) -> str:
    """达标 / 未达标 against a numeric target; 无数据 without a value; 无目标 for a value with no numeric target."""
    if meets is not None:
        return "达标" if meets else "未达标"
    return "无目标" if comparator == "text" and not np.isnan(value) else "无数据"


def target_status(value: float, target: str, comparator: str | None = None) -> str:
    """达标 / 未达标 / 无数据 / 无目标 of `value` against a target text (see :func:`evaluate_indicators`).

    Examples
    --------
    >>> target_status(91.0, "≥90"), target_status(float("nan"), "100"), target_status(3.0, "——")
    ('达标', '无数据', '无目标')
    """
    return _status(_meets(value, target, comparator), value, comparator or parse_target(target)[0])


def _number(text: str | None) -> float:
    try:
        return float(str(text).strip().rstrip("%")) if text is not None else float("nan")
    except ValueError:
        return float("nan")
