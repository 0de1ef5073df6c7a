"""`gisplan propose`: siting models on your own cost table (an OD matrix from ArcGIS, r5py …)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan.cli.options import WORKSPACE, catalogue_for, catalogue_option, format_table, report_problems
from gisplan.cli.progressbar import close, progress_sink
from gisplan.errors import GisplanError, Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv, write_atomic_text
from gisplan.io.tables import read_table
from gisplan.outputs.people import for_people
from gisplan.siting.costs import CostTable, cost_table
from gisplan.siting.models import SiteSelection, capacitated_coverage, lscp, mclp, p_median
from gisplan.workflows.workspace import propose_for_type, workspace_scenario

if TYPE_CHECKING:
    from gisplan.store import Workspace

__all__ = ["propose_command"]

_EPILOG = """\b
Examples:
  # a workspace whose layers were imported with `gisplan layers import`, no scenario file or cost table:
  gisplan propose -w yc.gpkg --type elderly_day_care --p 5 --minutes 15 --out 新增养老站.csv
\b
  # your own cost table:
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



def _workspace_proposal(workspace: Workspace, type_id: str, p: int, minutes: float | None,
                        time_limit_s: float | None, out: Path | None, catalogue_files: tuple[Path, ...]) -> None:
    """`propose -w`: p new sites of one type on the workspace's layers, printed (and written to --out)."""
    cat = catalogue_for(None, catalogue_files)
    sc = workspace_scenario(workspace, cat)
    if time_limit_s is not None:
        sc = replace(sc, coverage=replace(sc.coverage, solver_time_limit_s=time_limit_s))
    show = progress_sink()
    found = propose_for_type(workspace, sc, cat, type_id=type_id, p=p, minutes=minutes, progress=show)
    close(show)
    prop, name = found.proposal, cat.get_type(type_id).name_zh
    sel = prop.selection
    before = prop.covered_before / prop.total if prop.total else float("nan")
    after = prop.covered_after / prop.total if prop.total else float("nan")
    click.echo(_("{name} ({type}): {n} new site(s) within {minutes:g} min; residents covered {before:.1%} → "
                 "{after:.1%} ({model}, {status}, gap {gap:.2%}).").format(
        name=name, type=type_id, n=len(sel.selected), minutes=found.minutes, before=before, after=after,
        model=sel.model, status=sel.status, gap=sel.gap))
    sites = pd.DataFrame(prop.sites.drop(columns="geometry")).assign(facility_type=type_id)
    if len(sites):
        shown = sites[[c for c in ("rank", "candidate_id", "township", "village", "population_added", "lon", "lat")
                       if c in sites]]
        click.echo(format_table(for_people(shown, type_names={type_id: name})))
    if out is not None:
        if out.suffix.lower() == ".csv":
            write_atomic_csv(for_people(sites, type_names={type_id: name}), out)
        else:
            write_atomic_text(json.dumps(sel.to_dict(), ensure_ascii=False, indent=2), out)
        click.echo(os.path.normpath(out))


def _check_model(model: str, p: int | None, cutoff: float | None) -> None:
    """The options a cost-table model needs (usage errors, exit 2)."""
    if model in {"mclp", "p_median", "capacitated"} and p is None:
        raise click.UsageError(_("--model {model} needs --p (the number of new sites).").format(model=model))
    if model in {"mclp", "lscp", "capacitated"} and cutoff is None:
        raise click.UsageError(_("--model {model} needs --cutoff (the coverage reach, in the cost's unit).").format(
            model=model))


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
@click.option("-w", "--workspace", type=WORKSPACE,
              help="Workspace GeoPackage: propose --p new sites of --type on its layers (no cost table needed).")
@click.option("--type", "type_id", help="With -w: the facility type id to propose sites for (gisplan types list).")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True, max=240),
              help="With -w: the time threshold (default: the type's in the catalogue).")
@click.option("--costs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Long-form costs: demand_id,candidate_id,<cost>.")
@click.option("--demand", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="demand_id,weight.")
@click.option("--candidates", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="candidate_id[,capacity].")
@click.option("--model", type=click.Choice(["mclp", "lscp", "p_median", "capacitated"]),
              help="The siting model on a cost table (with -w: mclp).")
@click.option("--p", "p", type=click.IntRange(min=0), help="New sites to open (-w, mclp, p_median, capacitated).")
@click.option("--cutoff", type=click.FloatRange(min=0, min_open=True),
              help="Coverage reach, in the cost's unit (mclp, lscp, capacitated).")
@click.option("--share", type=click.FloatRange(min=0, min_open=True, max=1), default=1.0, show_default=True,
              help="lscp: share of the demand weight to cover.")
@click.option("--fixed", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Existing facilities (candidate_id), always open.")
@click.option("--time-limit-s", type=click.FloatRange(min=0, min_open=True),
              help="Stop HiGHS after this many seconds; the best solution and its gap are reported.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write result.json here (with -w: the proposed sites as CSV when it ends in .csv).")
@catalogue_option
def propose_command(
    workspace: Workspace | None, type_id: str | None, minutes: float | None, costs: Path | None,
    demand: Path | None, candidates: Path | None, model: str | None, p: int | None, cutoff: float | None,
    share: float, fixed: Path | None, time_limit_s: float | None, out: Path | None,
    catalogue_files: tuple[Path, ...],
) -> None:
    """Choose new sites: on a workspace (-w, --type, --p) or on your own cost table (MCLP, LSCP, p-median or
    capacitated coverage), solved exactly (HiGHS)."""
    if workspace is not None:
        if costs or demand or candidates:
            raise click.UsageError(_("-w proposes on the workspace's layers; --costs/--demand/--candidates are for "
                                     "a cost table."))
        if not type_id or p is None:
            raise click.UsageError(_("-w needs --type (the facility type) and --p (the number of new sites)."))
        _workspace_proposal(workspace, type_id, p, minutes, time_limit_s, out, catalogue_files)
        return
    if costs is None or demand is None or candidates is None or model is None:
        raise click.UsageError(_("give -w WORKSPACE with --type and --p, or a cost table: --costs, --demand, "
                                 "--candidates and --model."))
    _check_model(model, p, cutoff)
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
        click.echo(_("error: {message}").format(message=exc), err=True)
        sys.exit(1)
    data = result.to_dict()
    if out is not None:
        write_atomic_text(json.dumps(data, ensure_ascii=False, indent=2), out)
    share_text = (_("{share:.2%} of the weight within {cutoff:g}").format(
        share=result.covered_weight / result.total_weight, cutoff=cutoff)
        if cutoff is not None and result.total_weight else "")
    click.echo(_("{model}: {status}; objective {objective:,.6g} (bound {bound:,.6g}, gap {gap:.2%}); {n} new "
                 "site(s) in {seconds:.2f} s. {share}").format(
        model=model, status=result.status, objective=result.objective, bound=result.bound, gap=result.gap,
        n=len(result.selected), seconds=result.seconds, share=share_text))
    if result.selected:
        gains = list(result.gains) + [float("nan")] * (len(result.selected) - len(result.gains))
        order = pd.DataFrame({"phase": range(1, len(result.selected) + 1), "site": result.selected, "gain": gains})
        click.echo(format_table(order))
    if out is not None:
        click.echo(os.path.normpath(out))
