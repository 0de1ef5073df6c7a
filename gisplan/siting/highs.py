"""One mixed-integer program solved by HiGHS through ``highspy``, with a warm start.

``scipy.optimize.milp`` runs the same solver but takes no start solution; ``highspy`` does, and lets the
models pass HiGHS's own options: its threads (:func:`gisplan.settings.thread_count`, which a Dask worker sets
to 1), presolve, symmetry detection, heuristics and a time limit. Every model of
:mod:`gisplan.siting.models` solves through :func:`solve_mip`; the answer carries HiGHS's status text,
objective, dual bound and MIP gap, as before.

The options and why are in :data:`OPTIONS`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from highspy import _core
from scipy import sparse

from gisplan import settings
from gisplan.errors import InfeasibleError
from gisplan.i18n import _
from gisplan.progress import SolverState, Tick, silent

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.progress import ProgressSink

__all__ = ["Solved", "solve_mip"]

logger = logging.getLogger(__name__)

_INF = float(_core.kHighsInf)
#: HiGHS's options for the reduced coverage programs, each with its measured reason (the ten proposals of the
#: 永川 run, one run each on the shared 2-core machine under the same load):
#:
#: * ``mip_rel_gap`` 1e-9: the answers are exact, as with the scipy call before;
#: * ``presolve`` off: the exact reductions have done its work, and its probing alone took 25 s of the 26 s
#:   of the MCLP with p = 1 (1.5 s without it);
#: * symmetry detection on (it found generators on the large MCLPs and costs 0.1 s);
#: * the primal heuristics that search for the incumbent off: the start (greedy + swaps) is within 1.5 % of the
#:   optimum and the cuts close the rest; with them the ten solves took 43 s, without 30.5 s.
OPTIONS: tuple[tuple[str, bool | float | str], ...] = (
    ("mip_rel_gap", 1e-9), ("presolve", "off"), ("mip_detect_symmetry", True),
    ("mip_heuristic_run_feasibility_jump", False), ("mip_heuristic_run_rins", False),
    ("mip_heuristic_run_rens", False), ("mip_heuristic_run_root_reduced_cost", False),
    ("mip_heuristic_run_zi_round", False), ("mip_heuristic_run_shifting", False),
)


#: the thread count HiGHS's scheduler of this thread was started with (see solve_mip): HiGHS keeps one scheduler
#: per calling thread, so the proposals of different types solving side by side each have their own
_SCHEDULER = threading.local()


@dataclass(frozen=True, slots=True)
class Solved:
    """What HiGHS returned for one program (objective and bound in the program's own minimisation sense)."""

    x: NDArray[np.float64]
    status: str
    exact: bool
    objective: float
    bound: float
    gap: float


def solve_mip(  # noqa: PLR0913 - the parts of one program, keyword-only options
    c: NDArray[np.float64],
    integer: NDArray[np.bool_],
    lb: NDArray[np.float64],
    ub: NDArray[np.float64],
    a: sparse.csr_array,
    row_lb: NDArray[np.float64],
    row_ub: NDArray[np.float64],
    *,
    start: NDArray[np.float64] | None = None,
    time_limit_s: float | None = None,
    progress: ProgressSink = silent,
    stage: str = "solve",
) -> Solved:
    """Minimise ``c @ x`` subject to ``row_lb <= a @ x <= row_ub``, ``lb <= x <= ub``, `integer` columns integral.

    Parameters
    ----------
    start : ndarray, optional
        A feasible solution to start from (a greedy one): HiGHS keeps it as its incumbent.
    time_limit_s : float, optional
        Seconds; when they run out, the best solution found and its gap are returned (``exact`` False).
    progress : ProgressSink
        Receives a :class:`~gisplan.progress.Tick` of `stage` with HiGHS's :class:`~gisplan.progress.SolverState`
        (elapsed seconds, incumbent, bound, gap; in HiGHS's minimisation sense) at each improving solution and
        at most every half second while it searches, and one when it ends.

    Raises
    ------
    InfeasibleError
        If HiGHS finds no solution (the message carries its status).
    """
    h = _core._Highs()  # the class under highspy.Highs, which prints a banner on stdout; stdout holds results
    n_threads = settings.thread_count()
    if getattr(_SCHEDULER, "threads", n_threads) != n_threads:
        # HiGHS sizes the calling thread's scheduler on its first run and refuses a later run that asks for
        # another thread count (it returns no solution), so a new count restarts the scheduler first
        _core._Highs.resetGlobalScheduler(True)
    _SCHEDULER.threads = n_threads
    for name, value in (("output_flag", False), ("threads", n_threads), *OPTIONS):
        h.setOptionValue(name, value)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    csc = sparse.csc_array(a)
    csc.sort_indices()
    lp = _core.HighsLp()
    lp.num_col_, lp.num_row_ = len(c), a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = c, lb, ub
    lp.row_lower_ = np.where(np.isfinite(row_lb), row_lb, -_INF)
    lp.row_upper_ = np.where(np.isfinite(row_ub), row_ub, _INF)
    lp.a_matrix_.format_ = _core.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = len(c), a.shape[0]
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.integrality_ = [_core.HighsVarType.kInteger if i else _core.HighsVarType.kContinuous for i in integer]
    h.passModel(lp)
    if progress is not silent:
        _report_to(h, progress, stage)
    if start is not None:
        given = _core.HighsSolution()
        given.col_value = list(np.asarray(start, dtype=np.float64))
        given.value_valid = True
        h.setSolution(given)
    h.run()
    model_status = h.getModelStatus()
    status = h.modelStatusToString(model_status)
    info = h.getInfo()
    if info.primal_solution_status != _core.kSolutionStatusFeasible:
        msg = _("the model has no solution: {status}").format(status=status)
        raise InfeasibleError(msg)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    progress(Tick(stage, 1, 1, status, SolverState(float(h.getRunTime()), float(info.objective_function_value),
                                                   float(info.mip_dual_bound), float(info.mip_gap))))
    return Solved(x=x, status=status, exact=model_status == _core.HighsModelStatus.kOptimal,
                  objective=float(info.objective_function_value), bound=float(info.mip_dual_bound),
                  gap=float(info.mip_gap))


def _report_to(h: _core._Highs, progress: ProgressSink, stage: str) -> None:
    """Send HiGHS's MIP state to `progress`: at every improving solution, and from its interrupt check at most
    every half second (the callbacks run on HiGHS's own thread, between its steps)."""
    last = [0.0]
    kinds = _core.cb.HighsCallbackType

    def callback(kind: _core.cb.HighsCallbackType, _message: str, out: _core.cb.HighsCallbackOutput,
                 _inp: _core.cb.HighsCallbackInput, _user: object) -> None:
        now = time.perf_counter()
        improving = kind == kinds.kCallbackMipImprovingSolution
        if not improving and now - last[0] < 0.5:  # half a second between ticks
            return
        last[0] = now
        incumbent = float(out.objective_function_value)
        progress(Tick(stage, None, None, "improving solution" if improving else "searching",
                      SolverState(float(out.running_time), incumbent if abs(incumbent) < _INF else None,
                                  float(out.mip_dual_bound), float(out.mip_gap))))

    h.setCallback(callback, None)
    h.startCallback(kinds.kCallbackMipImprovingSolution)
    h.startCallback(kinds.kCallbackMipInterrupt)
