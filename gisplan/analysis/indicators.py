"""Plan indicators as pure functions on the workspace layers: administrative coverage, floor area per 100
households, bed shares, and a value's status against a plan's target text.

The plan's indicator table is computed with them by :func:`gisplan.analysis.metrics.evaluate_indicators`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisplan.divisions import township_code
from gisplan.i18n import _
from gisplan.vocab import Comparator, Level, Status

__all__ = [
    "BedShares",
    "administrative_coverage",
    "bed_shares",
    "existing_only",
    "floor_area_per_100_households",
    "floor_area_table",
    "meets_target",
    "parse_target",
    "populous_units",
    "target_status",
]

logger = logging.getLogger(__name__)


def administrative_coverage(facilities: pd.DataFrame, units: pd.DataFrame, *, level: Level) -> pd.Series:
    """Tell, for each division, whether at least one facility belongs to it.

    Parameters
    ----------
    facilities : pandas.DataFrame
        With ``code12`` (validated on import against the polygon each point falls in).
    units : pandas.DataFrame
        The divisions of the denominator, with ``code12`` (see :func:`gisplan.divisions.units_in_scope`).
    level : Level
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
    if level == Level.TOWNSHIP:
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


_OPS = {"≥": Comparator.GE, ">=": Comparator.GE, "≤": Comparator.LE, "<=": Comparator.LE, ">": Comparator.GT,
        "<": Comparator.LT, None: Comparator.GE}


def parse_target(target: str) -> tuple[Comparator, float]:
    """Comparator and number of a plan's target text; ``(Comparator.TEXT, nan)`` when it is not a number.

    A bare number means "at least" (the plans' coverage and share targets).

    Examples
    --------
    >>> [(str(op), n) for op, n in map(parse_target, ["≥90", "≤40", "100", ">30", "不低于上年度居民人均消费支出增速"])]
    [('>=', 90.0), ('<=', 40.0), ('>=', 100.0), ('>', 30.0), ('text', nan)]
    """
    m = re.fullmatch(r"\s*(≥|>=|≤|<=|>|<)?\s*([\d.]+)\s*%?\s*", target)
    if m is None:
        return Comparator.TEXT, float("nan")
    return _OPS[m.group(1)], float(m.group(2))


def meets_target(value: float, target: str, comparator: Comparator | None = None) -> bool | None:
    """Whether `value` meets a target text (with the row's own `comparator`, if any); None when the target or
    the value is not a number.

    Examples
    --------
    >>> meets_target(91.0, "≥90"), meets_target(5.0, "≤4"), meets_target(5.0, "——"), meets_target(5.0, "5", "==")
    (True, False, None, True)
    """
    op, number = parse_target(target)
    op = Comparator(comparator) if comparator else op
    if op is Comparator.TEXT or np.isnan(value) or np.isnan(number):
        return None
    checks = {Comparator.LE: value <= number + 1e-9, Comparator.GT: value > number, Comparator.LT: value < number,
              Comparator.EQ: abs(value - number) <= 1e-9}
    return bool(checks.get(op, value >= number - 1e-9))


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


def populous_units(units: pd.DataFrame, households: pd.DataFrame, min_population: int, level: Level) -> pd.DataFrame:
    """The units (townships or villages) with at least `min_population` residents in the households layer.

    Raises
    ------
    ValueError
        If the households layer has no complete ``population`` column.
    """
    if "population" not in households or households["population"].isna().any():
        msg = _("the `households` layer has no complete `population` column, needed for the population threshold")
        raise ValueError(msg)
    codes = households["code12"].astype(str)
    key = township_code(codes) if level == Level.TOWNSHIP else codes
    population = households["population"].groupby(key.to_numpy()).sum()
    return units[units["code12"].map(population).fillna(0).to_numpy() >= min_population].reset_index(drop=True)


def target_status(value: float, target: str, comparator: Comparator | None = None) -> Status:
    """达标 / 未达标 against a numeric target; 无数据 without a value; 无目标 for a value whose target is not a
    number (see :func:`gisplan.analysis.metrics.evaluate_indicators`).

    Examples
    --------
    >>> [str(target_status(v, t)) for v, t in ((91.0, "≥90"), (float("nan"), "100"), (3.0, "——"), (1.0, "≥2"))]
    ['达标', '无数据', '无目标', '未达标']
    """
    meets = meets_target(value, target, comparator)
    if meets is not None:
        return Status.MET if meets else Status.NOT_MET
    text = (Comparator(comparator) if comparator else parse_target(target)[0]) is Comparator.TEXT
    return Status.NO_TARGET if text and not np.isnan(value) else Status.NO_DATA
