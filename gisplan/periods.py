"""Plan periods: where a run stands against its scenario's Five-Year Plan period (十四五 2021–2025, 十五五
2026–2030 …), and the years its proposed sites are built in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gisplan import settings
from gisplan.vocab import PeriodPhase

if TYPE_CHECKING:
    from datetime import date

    from gisplan.config import Scenario

__all__ = ["PLAN_YEARS", "PeriodStatus", "current_period", "period_status"]

#: length of a Five-Year Plan period (十四五 2021–2025, 十五五 2026–2030 …)
PLAN_YEARS = 5
#: the first year of the 三五 plan (1966); every later Five-Year Plan starts a multiple of PLAN_YEARS after it
_PLAN_ANCHOR_YEAR = 1966


@dataclass(frozen=True, slots=True)
class PeriodStatus:
    """Where a run stands against its scenario's plan period (:func:`period_status`).

    Attributes
    ----------
    period : tuple of int
        The scenario's plan period (first year, last year).
    baseline_year : int
    phase : PeriodPhase
        ``规划期内`` (the period runs) or ``终期评估`` (it has ended: its targets are evaluated).
    proposal_period : tuple of int
        The period the proposed sites are phased over: the scenario's, or the next one once it has ended.
    years : tuple of int
        The build years, in order: from the run's year (never before it) to the end of `proposal_period`.
    today : datetime.date
    """

    period: tuple[int, int]
    baseline_year: int
    phase: PeriodPhase
    proposal_period: tuple[int, int]
    years: tuple[int, ...]
    today: date

    @property
    def ended(self) -> bool:
        """True when the scenario's period has ended (终期评估)."""
        return self.phase is PeriodPhase.ENDED

    @property
    def note(self) -> str:
        """One line for the outputs: 终期评估 (and the next period the proposals are phased over) or 规划期内."""
        (a, b), (c, d) = self.period, self.proposal_period
        if self.ended:
            return (f"终期评估：规划期 {a}–{b} 已结束（{self.today.isoformat()}），"
                    f"新增选址按下一规划期 {c}–{d} 分年安排 — "
                    f"the plan period {a}–{b} has ended: its targets are evaluated (终期评估) and the proposed sites "
                    f"are phased over the next period, {self.years[0]}–{self.years[-1]}.")
        return (f"规划期内：新增选址按 {self.years[0]}–{self.years[-1]} 分年安排 — within the plan period {a}–{b}: "
                f"the proposed sites are phased over {self.years[0]}–{self.years[-1]}.")


def current_period(year: int) -> tuple[int, int]:
    """The Five-Year Plan period that holds `year`.

    Examples
    --------
    >>> current_period(2026), current_period(2025)
    ((2026, 2030), (2021, 2025))
    """
    start = _PLAN_ANCHOR_YEAR + (year - _PLAN_ANCHOR_YEAR) // PLAN_YEARS * PLAN_YEARS
    return start, start + PLAN_YEARS - 1


def period_status(scenario: Scenario, today: date | None = None) -> PeriodStatus:
    """Whether the scenario's plan period has ended on `today`, and the years new sites are built in.

    While the period runs, the proposals are phased from the run's year (or the period's first year, if later)
    to its last year. Once it has ended (a 十四五 scenario run in 2026 is a 终期评估), they are phased over the
    next period of the same length that has not ended — never over years already past. A scenario's own
    ``[coverage] years`` replaces the phasing (years before `today` are dropped from it).

    Parameters
    ----------
    today : datetime.date, optional
        The run's date (default: :func:`gisplan.settings.today`, which ``GISPLAN_TODAY`` can set).

    Examples
    --------
    >>> from datetime import date
    >>> from pathlib import Path
    >>> from gisplan.config import Scenario, Standard
    >>> s = Scenario("x", "500118", "EPSG:32648", Path("w.gpkg"), (), None, Standard(), (), period=(2021, 2025),
    ...              baseline_year=2020)
    >>> st = period_status(s, date(2026, 3, 1))
    >>> str(st.phase), st.proposal_period, st.years
    ('终期评估', (2026, 2030), (2026, 2027, 2028, 2029, 2030))
    >>> period_status(s, date(2023, 6, 1)).years
    (2023, 2024, 2025)
    """
    today = today or settings.today()
    period = scenario.period or current_period(today.year)
    baseline = scenario.baseline_year if scenario.baseline_year is not None else period[0] - 1
    length = period[1] - period[0] + 1
    ended = today.year > period[1]
    proposal = period
    while proposal[1] < today.year:
        proposal = (proposal[1] + 1, proposal[1] + length)
    years = tuple(range(max(proposal[0], today.year), proposal[1] + 1))
    if scenario.coverage.years:
        given = tuple(y for y in scenario.coverage.years if y >= today.year)
        years = given or years
    phase = PeriodPhase.ENDED if ended else PeriodPhase.CURRENT
    return PeriodStatus(period=period, baseline_year=baseline, phase=phase, proposal_period=proposal, years=years,
                        today=today)
