"""`gisplan propose`: siting models on your own cost table (an OD matrix from ArcGIS, r5py …)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import pandas as pd

from gisplan.cli.options import format_table, report_problems
from gisplan.errors import GisplanError, Problem, SchemaError
from gisplan.io.atomic import write_atomic_text
from gisplan.io.tables import read_table
from gisplan.siting.costs import CostTable, cost_table
from gisplan.siting.models import SiteSelection, capacitated_coverage, lscp, mclp, p_median

__all__ = ["propose_command"]

_EPILOG = """\b
Examples:
  gisplan propose --costs costs.csv --demand demand.csv --candidates candidates.csv \\
      --model mclp --p 4 --cutoff 5000 --out result.json
  gisplan propose --costs od.csv --demand households.csv --candidates sites.csv \\
      --model lscp --cutoff 15 --share 0.85 --fixed existing.csv
  gisplan propose --costs od.csv --demand d.csv --candidates sites.csv --model p_median --p 10
\b
CSV files (UTF-8 or GBK), long form:
  costs       demand_id,candidate_id,<cost>   (metres or minutes; pairs beyond reach may be left out)
  demand      demand_id,weight                 (households, persons 60+ …)
  candidates  candidate_id[,capacity]          (capacity for --model capacitated)
  fixed       candidate_id                     (existing facilities: always open, not counted in --p)
result.json: model, status, objective, bound, gap, selected (new sites, largest gain first), fixed,
covered_weight, total_weight, seconds, gains.
"""




def _solve(
    model: str, table: CostTable, *, p: int | None, cutoff: float | None, share: float, fixed: list[str],
    time_limit_s: float | None,
) -> SiteSelection:
    if model == "mclp":
        return mclp(table, p=int(p or 0), cutoff=float(cutoff or 0), fixed=fixed, time_limit_s=time_limit_s)
    if model == "lscp":
        return lscp(table, cutoff=float(cutoff or 0), share=share, fixed=fixed, time_limit_s=time_limit_s)
    if model == "p_median":
        return p_median(table, p=int(p or 0), fixed=fixed, time_limit_s=time_limit_s)
    return capacitated_coverage(table, p=int(p or 0), cutoff=float(cutoff or 0), fixed=fixed,
                                time_limit_s=time_limit_s)


@click.command("propose", epilog=_EPILOG)
@click.option("--costs", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Long-form costs: demand_id,candidate_id,<cost>.")
@click.option("--demand", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="demand_id,weight.")
@click.option("--candidates", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="candidate_id[,capacity].")
@click.option("--model", type=click.Choice(["mclp", "lscp", "p_median", "capacitated"]), required=True)
@click.option("--p", "p", type=click.IntRange(min=0), help="New sites to open (mclp, p_median, capacitated).")
@click.option("--cutoff", type=click.FloatRange(min=0, min_open=True),
              help="Coverage reach, in the cost's unit (mclp, lscp, capacitated).")
@click.option("--share", type=click.FloatRange(min=0, min_open=True, max=1), default=1.0, show_default=True,
              help="lscp: share of the demand weight to cover.")
@click.option("--fixed", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Existing facilities (candidate_id), always open.")
@click.option("--time-limit-s", type=click.FloatRange(min=0, min_open=True),
              help="Stop HiGHS after this many seconds; the best solution and its gap are reported.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write result.json here.")
def propose_command(
    costs: Path, demand: Path, candidates: Path, model: str, p: int | None, cutoff: float | None, share: float,
    fixed: Path | None, time_limit_s: float | None, out: Path | None,
) -> None:
    """Choose sites on a cost table: MCLP, LSCP, p-median or capacitated coverage, solved exactly (HiGHS)."""
    if model in {"mclp", "p_median", "capacitated"} and p is None:
        raise click.UsageError(f"--model {model} needs --p (the number of new sites).")
    if model in {"mclp", "lscp", "capacitated"} and cutoff is None:
        raise click.UsageError(f"--model {model} needs --cutoff (the coverage reach, in the cost's unit).")
    try:
        # read as the user typed them: title rows above the header are skipped, and messages name the
        # rows the user sees (RawTable.rows)
        c_raw = read_table(costs, known_headers={"demand_id", "candidate_id"})
        d_raw = read_table(demand, known_headers={"demand_id", "weight"})
        k_raw = read_table(candidates, known_headers={"candidate_id", "capacity"})
        fixed_ids: list[str] = []
        if fixed is not None:
            f_raw = read_table(fixed, known_headers={"candidate_id"})
            if "candidate_id" not in f_raw.frame:
                raise SchemaError([Problem(f_raw.source, None, None, "missing column candidate_id",
                                           "give one column candidate_id.")])
            fixed_ids = f_raw.frame["candidate_id"].astype(str).tolist()
        table = cost_table(c_raw.frame, d_raw.frame, k_raw.frame, source=(c_raw.source, d_raw.source, k_raw.source),
                           rows=(c_raw.rows, d_raw.rows, k_raw.rows))
    except SchemaError as exc:
        report_problems(exc)
    try:
        result = _solve(model, table, p=p, cutoff=cutoff, share=share, fixed=fixed_ids, time_limit_s=time_limit_s)
    except ValueError as exc:  # a p beyond the candidates, an unknown fixed site, no capacity column
        if isinstance(exc, GisplanError):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    data = result.to_dict()
    if out is not None:
        write_atomic_text(json.dumps(data, ensure_ascii=False, indent=2), out)
    share_text = (f"{result.covered_weight / result.total_weight:.2%} of the weight within {cutoff:g}"
                  if cutoff is not None and result.total_weight else "")
    click.echo(f"{model}: {result.status}; objective {result.objective:,.6g} (bound {result.bound:,.6g}, gap "
               f"{result.gap:.2%}); {len(result.selected)} new site(s) in {result.seconds:.2f} s. {share_text}")
    if result.selected:
        gains = list(result.gains) + [float("nan")] * (len(result.selected) - len(result.gains))
        order = pd.DataFrame({"phase": range(1, len(result.selected) + 1), "site": result.selected, "gain": gains})
        click.echo(format_table(order))
    if out is not None:
        click.echo(os.path.normpath(out))
