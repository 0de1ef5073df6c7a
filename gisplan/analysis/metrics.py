"""The metric registry and the plan's indicator table computed with it.

Every ``metric`` a scenario's ``[[indicator]]`` row may name (:class:`gisplan.vocab.Metric`) has one entry in
:data:`REGISTRY`: its compute function, the facility types it reads, its method label (the ``method`` column
of indicators.csv) and the siting question a row that misses its target asks (or none). The types come from
the row's ``type`` or from the catalogue (the type listing the metric in its ``metrics`` key, and that type's
``host``), never from ids written in code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.analysis.indicators import (
    administrative_coverage,
    bed_shares,
    existing_only,
    floor_area_per_100_households,
    meets_target,
    parse_target,
    populous_units,
    target_status,
)
from gisplan.analysis.precision import precision_counts
from gisplan.catalogue import facility_layer_name
from gisplan.divisions import township_code, units_in_scope
from gisplan.i18n import _
from gisplan.vocab import CoverageMethod, Level, Method, Metric, QuestionKind, Scope, Status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gisplan.catalogue import Catalogue
    from gisplan.config import IndicatorSpec, Standard

__all__ = ["REGISTRY", "MetricDef", "MetricInputs", "evaluate_indicators", "types_used"]

logger = logging.getLogger(__name__)

#: (value, numerator, denominator) of one row; value in percent, m² per 100 households or a count
Value = tuple[float, float, float]


class _NotComputed(Exception):  # noqa: N818 - control flow inside this module only
    """Raised by a metric that lacks the data it needs; the message is the reason shown."""


@dataclass(frozen=True, slots=True, eq=False)
class MetricInputs:
    """What indicator rows are computed from.

    Attributes
    ----------
    facilities : Mapping[str, pandas.DataFrame]
        Facility layers by type id (existing facilities only).
    households : pandas.DataFrame or None
        ``code12``, ``households`` (and ``population``) per village/community.
    gazetteer : pandas.DataFrame
    standard : Standard
    catalogue : Catalogue
    coverage : pandas.DataFrame or None
        Per-unit network coverage tables (:func:`gisplan.analysis.coverage.unit_totals`).
    """

    facilities: Mapping[str, pd.DataFrame]
    households: pd.DataFrame | None
    gazetteer: pd.DataFrame
    standard: Standard
    catalogue: Catalogue
    coverage: pd.DataFrame | None

    def layer(self, type_id: str) -> pd.DataFrame:
        """The layer of `type_id`; a row needing a layer the workspace lacks is "not computed"."""
        if type_id not in self.facilities:
            msg = _("the workspace has no `{facility_layer_name}` layer").format(
                    facility_layer_name=facility_layer_name(type_id))
            raise _NotComputed(msg)
        return self.facilities[type_id]

    def households_layer(self) -> pd.DataFrame:
        """The households layer; "not computed" without one."""
        if self.households is None:
            msg = _("the workspace has no `households` layer")
            raise _NotComputed(msg)
        return self.households


#: the types a row reads, from the row and the catalogue
TypesUsed = Callable[["IndicatorSpec", "Catalogue"], tuple[str, ...]]
#: the value of a row, from its inputs and the types its TypesUsed gave
Compute = Callable[["IndicatorSpec", MetricInputs, tuple[str, ...]], Value]


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric of the registry.

    Attributes
    ----------
    metric : Metric
    method : Method
        The label written in indicators.csv (computed-spatial, computed-attribute, count, reported).
    types : callable
        ``types(spec, catalogue)``: the facility types the row reads (none for a reported value).
    compute : callable
        ``compute(spec, inputs, types)`` → (value, numerator, denominator); a reported row's value is the number
        it was given.
    question : QuestionKind or None
        What a row missing its target asks of siting: ``count`` more facilities, a facility in more
        ``units`` (divisions), or a ``share`` of the demand within reach; None when building cannot answer it.
    """

    metric: Metric
    method: Method
    types: TypesUsed
    compute: Compute
    question: QuestionKind | None = None


def _ratio(num: float, den: float) -> float:
    return 100.0 * float(num) / float(den) if den else float("nan")


def _row_type(spec: IndicatorSpec, catalogue: Catalogue) -> tuple[str, ...]:
    """The row's own ``type`` (required on load for these metrics)."""
    return (str(spec.facility_type),)


def _fed_type(spec: IndicatorSpec, catalogue: Catalogue) -> tuple[str, ...]:
    """The catalogue type that lists the row's metric in its ``metrics``."""
    ftype = catalogue.metric_type(spec.metric)
    if ftype is None:
        msg = _("no facility type of the catalogue lists `{metric}` in its `metrics`").format(metric=spec.metric)
        raise _NotComputed(msg)
    return (ftype.id,)


def _hosted_types(spec: IndicatorSpec, catalogue: Catalogue) -> tuple[str, ...]:
    """The host type and the hosted one: the row's ``type`` or the catalogue's type for the metric."""
    hosted = str(spec.facility_type) if spec.facility_type else _fed_type(spec, catalogue)[0]
    ftype = catalogue.types.get(hosted)
    if ftype is None or ftype.host is None:
        msg = _("facility type `{hosted}` has no `host` in the catalogue").format(hosted=hosted)
        raise _NotComputed(msg)
    return ftype.host, hosted


def _admin_share(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """Share of the divisions in scope holding at least one facility."""
    ftype = inputs.catalogue.get_type(types[0])
    units = units_in_scope(inputs.gazetteer, level=ftype.admin_level, scope=spec.scope or ftype.admin_scope)
    if spec.min_population is not None:
        try:
            units = populous_units(units, inputs.households_layer(), spec.min_population, ftype.admin_level)
        except ValueError as exc:
            raise _NotComputed(str(exc)) from None
    has = administrative_coverage(inputs.layer(ftype.id), units, level=ftype.admin_level)
    return _ratio(has.sum(), len(units)), float(has.sum()), float(len(units))


def _facility_count(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """Facilities (matching ``where``) in the townships of the scope."""
    layer = inputs.layer(types[0])
    for column, wanted in spec.where:
        if column not in layer:
            msg = _("the `{facility_layer_name}` layer has no `{column}` column").format(
                    facility_layer_name=facility_layer_name(types[0]), column=column)
            raise _NotComputed(msg)
        layer = layer[layer[column].astype(str) == wanted]
    if spec.scope:
        towns = units_in_scope(inputs.gazetteer, level=Level.TOWNSHIP, scope=spec.scope)["code12"]
        layer = layer[township_code(layer["code12"].astype(str)).isin(set(towns))]
    return float(len(layer)), float(len(layer)), float("nan")


def _network_coverage(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """District share of the weight within the type's (or the row's) minutes, from the coverage tables."""
    coverage = inputs.coverage
    if coverage is None or coverage.empty:
        msg = _("no road network in the workspace, so no network coverage (import roads, or see `gisplan coverage`)")
        raise _NotComputed(msg)
    ftype = inputs.catalogue.get_type(types[0])
    minutes = spec.minutes if spec.minutes is not None else ftype.max_minutes
    rows = coverage[(coverage["level"] == "district") & (coverage["facility_type"] == ftype.id)
                    & (coverage["threshold"] == minutes)]
    if rows.empty:
        msg = _("no coverage of {id} at {minutes:g} min (no facilities of this type in the workspace?)").format(
                id=ftype.id, minutes=minutes)
        raise _NotComputed(msg)
    return _district_share(rows, spec)


def _straight_line_coverage(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """District share of the weight within the straight-line radius of the type: the estimate shown for a
    network row when there are no roads (its radius is the only threshold of the straight-line tables)."""
    coverage = inputs.coverage
    ftype = inputs.catalogue.get_type(types[0])
    rows = (coverage[(coverage["level"] == "district") & (coverage["facility_type"] == ftype.id)]
            if coverage is not None else pd.DataFrame())
    if rows.empty:
        msg = _("no straight-line coverage of {id} (no facilities of this type in the workspace?)").format(
                id=ftype.id)
        raise _NotComputed(msg)
    return _district_share(rows, spec)



def _district_share(rows: pd.DataFrame, spec: IndicatorSpec) -> Value:
    """The row's weight within reach over its total, from the district row of a coverage table."""
    row = rows.iloc[0]
    total, covered = float(row[spec.weight]), float(row[f"{spec.weight}_covered"])
    if np.isnan(total):
        msg = _("the demand layer has no `{weight}` values").format(weight=spec.weight)
        raise _NotComputed(msg)
    return _ratio(covered, total), covered, total


def _straight_line_radius(coverage: pd.DataFrame) -> float:
    """The radius (m) of straight-line coverage tables."""
    return float(coverage["threshold"].iloc[0]) if len(coverage) else float("nan")


def _floor_area_compliance(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """Share of the villages/communities in scope whose centres reach the floor-area standard."""
    centres, hh = inputs.layer(types[0]), inputs.households_layer()
    units = units_in_scope(inputs.gazetteer, level=Level.VILLAGE, scope=spec.scope or Scope.ALL)
    missing = int((~units["code12"].isin(hh["code12"])).sum())
    if missing:
        msg = _("{missing} of {n} villages/communities have no row in the `households` layer").format(
                missing=missing, n=len(units))
        raise _NotComputed(msg)
    hh = hh[hh["code12"].isin(units["code12"])].reset_index(drop=True)
    per100 = floor_area_per_100_households(centres, hh)
    meets = int((per100 >= inputs.standard.floor_area_m2_per_100hh).sum())
    return _ratio(meets, len(units)), float(meets), float(len(units))


def _floor_area_per_100hh(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """District floor area of the centres per 100 households."""
    area = float(inputs.layer(types[0])["floor_area_m2"].sum())
    total = float(inputs.households_layer()["households"].sum())
    return (area / total * 100.0 if total else float("nan")), area, total


def _host_share(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """Share of the host facilities (centres) named as host by at least one hosted facility (volunteer point)."""
    hosts, hosted = inputs.layer(types[0]), inputs.layer(types[1])
    n = int(hosts["facility_id"].isin(set(hosted["host_facility_id"].dropna())).sum())
    return _ratio(n, len(hosts)), float(n), float(len(hosts))


def _bed_share(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """Nursing or government-operated beds as a share of all beds of the institutions."""
    s = bed_shares(inputs.layer(types[0]))
    if not s.beds:
        msg = _("the institutions have no beds")
        raise _NotComputed(msg)
    num = s.nursing_beds if spec.metric == Metric.NURSING_BED_SHARE else s.government_beds
    return _ratio(num, s.beds), float(num), float(s.beds)


def _quality_share(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """Share of the institutions passing the quality check (every one must have a value)."""
    s = bed_shares(inputs.layer(types[0]))
    if s.quality_known < s.institutions:
        msg = _("{missing} of {institutions} institutions have no `quality_ok` value").format(
                missing=s.institutions - s.quality_known, institutions=s.institutions)
        raise _NotComputed(msg)
    return _ratio(s.quality_ok, s.institutions), float(s.quality_ok), float(s.institutions)


def _no_types(spec: IndicatorSpec, catalogue: Catalogue) -> tuple[str, ...]:
    """A reported row reads no layer."""
    return ()


def _reported(spec: IndicatorSpec, inputs: MetricInputs, types: tuple[str, ...]) -> Value:
    """The number a reported row was given (its ``value``, ``%`` allowed), NaN without one."""
    try:
        value = float(str(spec.value).strip().rstrip("%")) if spec.value is not None else float("nan")
    except ValueError:
        value = float("nan")
    return value, float("nan"), float("nan")


_SPATIAL, _ATTRIBUTE = Method.COMPUTED_SPATIAL, Method.COMPUTED_ATTRIBUTE

#: every metric: its method label, the types it reads, its compute function and its siting question
REGISTRY: Mapping[Metric, MetricDef] = MappingProxyType({d.metric: d for d in (
    MetricDef(Metric.ADMIN_SHARE, _SPATIAL, _row_type, _admin_share, QuestionKind.UNITS),
    MetricDef(Metric.FACILITY_COUNT, Method.COUNT, _row_type, _facility_count, QuestionKind.COUNT),
    MetricDef(Metric.NETWORK_COVERAGE, _SPATIAL, _row_type, _network_coverage, QuestionKind.SHARE),
    MetricDef(Metric.FLOOR_AREA_COMPLIANCE, _ATTRIBUTE, _fed_type, _floor_area_compliance),
    MetricDef(Metric.FLOOR_AREA_PER_100HH, _ATTRIBUTE, _fed_type, _floor_area_per_100hh),
    MetricDef(Metric.HOST_SHARE, _ATTRIBUTE, _hosted_types, _host_share),
    MetricDef(Metric.NURSING_BED_SHARE, _ATTRIBUTE, _fed_type, _bed_share),
    MetricDef(Metric.GOVERNMENT_BED_SHARE, _ATTRIBUTE, _fed_type, _bed_share),
    MetricDef(Metric.QUALITY_SHARE, _ATTRIBUTE, _fed_type, _quality_share),
    MetricDef(Metric.REPORTED, Method.REPORTED, _no_types, _reported),
)})


def types_used(spec: IndicatorSpec, catalogue: Catalogue) -> tuple[str, ...]:
    """The facility types an indicator row is computed from (none for a reported row, or when its metric's
    type is missing from the catalogue).

    Examples
    --------
    >>> from gisplan.catalogue import load_catalogue
    >>> from gisplan.config import IndicatorSpec
    >>> row = IndicatorSpec(row="10", name_zh="x", unit="%", baseline_2020="", target_2025="", nature="",
    ...                     metric=Metric.HOST_SHARE)
    >>> types_used(row, load_catalogue())
    ('community_service_centre', 'volunteer_service_point')
    """
    try:
        return REGISTRY[spec.metric].types(spec, catalogue)
    except _NotComputed:
        return ()


def _value(spec: IndicatorSpec, inputs: MetricInputs) -> tuple[Value, tuple[str, ...]]:
    """The row's (value, numerator, denominator) and the types it read; raises _NotComputed."""
    entry = REGISTRY[spec.metric]
    types = entry.types(spec, inputs.catalogue)
    return entry.compute(spec, inputs, types), types


def evaluate_indicators(
    specs: Sequence[IndicatorSpec],
    *,
    facilities: Mapping[str, pd.DataFrame],
    households: pd.DataFrame | None,
    gazetteer: pd.DataFrame,
    standard: Standard,
    catalogue: Catalogue,
    illustrative: bool,
    coverage: pd.DataFrame | None = None,
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
        Gives each row's facility types (:data:`REGISTRY`).
    illustrative : bool
        Whether any layer used is generated; the ``basis`` column then says 示意.
    coverage : pandas.DataFrame, optional
        Per-unit coverage tables of :func:`gisplan.analysis.coverage.unit_totals` (network coverage rows).
        Only rows measured with the ``network`` method (by their ``method`` column, when there is one) answer
        a minutes row. When there are none but there are ``straight_line`` rows (no roads), a minutes row shows
        the straight-line estimate instead: method ``straight-line``, status 参考, basis 直线; it is never
        judged against the network-defined target.

    Returns
    -------
    pandas.DataFrame
        One row per spec: ``indicator_id``, ``row``, ``section``, ``name_zh``, ``unit``,
        ``baseline_2020``, ``target_2025``, ``comparator``, ``target``, ``nature``, ``method``
        (computed-spatial / computed-attribute / count / reported), ``value`` (percent, m² per 100
        households or a count; NaN when not computed), ``numerator``, ``denominator``,
        ``meets_target``, ``status`` (达标 / 未达标 against the target; 无数据 when there is no value;
        无目标 for a value whose target is not a number, e.g. "——"; 参考 for a straight-line estimate) and
        ``basis`` (computed / reported with its source / "not computed: " and the reason).
    """
    existing: dict[str, pd.DataFrame] = {}
    planned: dict[str, int] = {}
    # facilities placed at a village/township point (a ledger without coordinates; gisplan.analysis.precision)
    approximate: dict[str, dict[str, int]] = {}
    for type_id, frame in facilities.items():
        existing[type_id] = existing_only(frame)
        if len(existing[type_id]) < len(frame):
            planned[type_id] = len(frame) - len(existing[type_id])
        approximate[type_id] = precision_counts(existing[type_id])
    straight = None
    if coverage is not None and "method" in coverage:
        straight = coverage[coverage["method"] == CoverageMethod.STRAIGHT_LINE]
        coverage = coverage[coverage["method"] == CoverageMethod.NETWORK]
    inputs = MetricInputs(existing, households, gazetteer, standard, catalogue, coverage)
    computed = "computed (示意 illustrative layers)" if illustrative else "computed"
    estimate = (straight is not None and not straight.empty) and (coverage is None or coverage.empty)
    out = []
    for spec in specs:
        if estimate and spec.metric is Metric.NETWORK_COVERAGE:
            out.append(_estimate_row(spec, MetricInputs(existing, households, gazetteer, standard, catalogue,
                                                        straight), illustrative=illustrative))
            continue
        value = num = den = float("nan")
        try:
            (value, num, den), types = _value(spec, inputs)
            left_out = sum(planned.get(t, 0) for t in types)
            basis = computed + (f"; {left_out} planned facilities left out" if left_out else "")
            basis += _precision_basis(spec.metric, [approximate.get(t, {}) for t in types])
        except _NotComputed as exc:
            basis = f"not computed: {exc}"
        if REGISTRY[spec.metric].method is Method.REPORTED:
            basis = (f"reported: {spec.source or 'plan text'}" + (f" (value {spec.value})" if spec.value else
                                                                  "; no value supplied"))
        comparator, target = parse_target(spec.target_2025)
        comparator = spec.comparator or comparator
        out.append({
            "indicator_id": spec.indicator_id, "row": spec.row, "section": spec.section, "name_zh": spec.name_zh,
            "unit": spec.unit, "baseline_2020": spec.baseline_2020, "target_2025": spec.target_2025,
            "comparator": comparator.value, "target": target, "nature": spec.nature,
            "method": REGISTRY[spec.metric].method.value, "value": value, "numerator": num, "denominator": den,
            "meets_target": meets_target(value, spec.target_2025, spec.comparator),
            "status": target_status(value, spec.target_2025, spec.comparator).value, "basis": basis,
        })
    return pd.DataFrame(out)


def _estimate_row(spec: IndicatorSpec, inputs: MetricInputs, *, illustrative: bool) -> dict[str, object]:
    """A network-coverage row estimated by the straight-line radius: labelled 直线, status 参考 (never 达标/未达标)."""
    value = num = den = float("nan")
    radius = _straight_line_radius(inputs.coverage if inputs.coverage is not None else pd.DataFrame())
    try:
        value, num, den = _straight_line_coverage(spec, inputs, _row_type(spec, inputs.catalogue))
        basis = (f"直线估算 straight-line estimate: share within {radius:g} m of a facility as the crow flies, "
                 "not along roads (参考 only; network coverage needs roads: gisplan roads fetch)")
        if illustrative:
            basis += "; 示意 illustrative layers"
    except _NotComputed as exc:
        basis = f"not computed: {exc}"
    comparator, target = parse_target(spec.target_2025)
    return {
        "indicator_id": spec.indicator_id, "row": spec.row, "section": spec.section, "name_zh": spec.name_zh,
        "unit": spec.unit, "baseline_2020": spec.baseline_2020, "target_2025": spec.target_2025,
        "comparator": (spec.comparator or comparator).value, "target": target, "nature": spec.nature,
        "method": Method.STRAIGHT_LINE.value, "value": value, "numerator": num, "denominator": den,
        "meets_target": None, "status": (Status.NO_DATA if np.isnan(value) else Status.REFERENCE).value,
        "basis": basis,
    }


def _precision_basis(metric: Metric, counts: list[dict[str, int]]) -> str:
    """What the facilities located by name (``location_precision``) change in a row's basis, under the rule of
    :mod:`gisplan.analysis.precision`; empty where there are none."""
    village = sum(c.get("village", 0) for c in counts)
    township = sum(c.get("township", 0) for c in counts)
    if metric is Metric.NETWORK_COVERAGE:
        parts = []
        if village:
            parts.append(f"{village} facilities located only at their village's representative point counted "
                         "(location_precision village): approximate, the points they reach are approx_<type>")
        if township:
            parts.append(f"{township} facilities located only to their township left out of network coverage "
                         "(location_precision township): they count for their township's administrative share only")
        return "".join(f"; {p}" for p in parts)
    if metric is Metric.ADMIN_SHARE and village + township:
        return (f"; {village + township} facilities located by name counted by their division code (a township-level "
                "location counts for no village)")
    return ""
