"""Benchmark: the whole 永川 report (`gisplan report` from the results of a run), per stage, wall and CPU.

The facility and household layers are the demo's generated 示意 layers; the roads are the real 永川 links in
../shared/data. When ``--out`` (default ``out/yongchuan``) has no ``results.gpkg``, the scenario is run once first
(not timed). Then, once: reading the results (and building the road network for the site pages' service
areas), the tables and maps, report.pdf, report.docx, tables.xlsx, report.html. With ``--floor``, also WeasyPrint
alone rendering the PDF's HTML again (what any HTML-to-PDF report of these pages costs; another ~10 s).
Issue 14's goal: the whole report in ≤ 15 s.

When the scenario is run first, it runs in this same process, as in ``gisplan run`` (which writes the report after
the run); with results already there the process is the one ``gisplan report`` is.

On a shared machine the wall time depends on the load, and so, less, does the CPU time (user + system of this
process): compare against the previous code measured in the same minutes (``git archive`` of it into a folder,
its ``work`` folder linked to this one's, then this command there with ``--out`` the same), not against figures
from another day. On the quiet 2-core machine (load average 1.0–1.3, 2026-12-02), five runs one after the other on
the same results: 12.30, 15.45, 13.16, 12.44 and 11.13 s wall, 12.01, 14.25, 12.93, 12.35 and 11.11 s CPU (PDF
6.2–7.9 s, 55 pages; maps and tables 3.5–4.8; Excel 0.6; Word 0.6; reading with the network build 0.7–1.2);
the code of the day before measured 14.9–16.5 s CPU there.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_report.py [--out out/yongchuan] [--floor]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium
import weasyprint  # imported before the clock starts, like the CLI's start-up (about 1 s)
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.cli.options import catalogue_for
from gisplan.config import load_scenario
from gisplan.outputs.report import REPORT_FILES, build_report, render_html, write_report
from gisplan.outputs.report_data import read_report_data
from gisplan.store import open_workspace
from gisplan.vocab import ReportFormat

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "yongchuan-2025.toml"


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


class Clock:
    """Wall and CPU seconds of each stage."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self._wall, self._cpu = time.perf_counter(), _cpu()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), _cpu()
        self.rows.append((name, wall - self._wall, cpu - self._cpu))
        self._wall, self._cpu = wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "yongchuan")
    parser.add_argument("--floor", action="store_true", help="also time WeasyPrint alone on the same HTML")
    args = parser.parse_args()
    sc = load_scenario(SCENARIO)
    if not (args.out / "results.gpkg").is_file():
        print(f"{args.out} has no results: running the scenario once (not timed) …")
        result = CliRunner().invoke(cli, ["run", str(SCENARIO), "--out", str(args.out), "--no-map", "--no-report"])
        if result.exit_code != 0:
            raise SystemExit(result.output)
    ws = open_workspace(sc.workspace)
    cat = catalogue_for(sc, ())

    clock = Clock()
    data = read_report_data(args.out / "results.gpkg", ws, sc, cat, today=dt.datetime.now(tz=dt.UTC).date())
    clock.lap("read results and workspace")
    content = build_report(data)
    clock.lap("tables, findings, maps")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for fmt in ReportFormat:
            write_report(content, folder, formats=(fmt,))
            clock.lap(REPORT_FILES[fmt])
        report = list(clock.rows)
        total_wall, total_cpu = sum(r[1] for r in report), sum(r[2] for r in report)
        pdf = pdfium.PdfDocument(str(folder / REPORT_FILES[ReportFormat.PDF]))
        pages = len(pdf)
        pdf.close()
        floor = Clock()
        if args.floor:
            weasyprint.HTML(string=render_html(content)).write_pdf(folder / "floor.pdf")
            floor.lap("WeasyPrint alone, same HTML")
    print(f"\n永川 report: {len(data.indicators)} indicator rows, "
          f"{0 if data.proposals is None else len(data.proposals)} proposed sites, {pages} PDF pages, "
          f"{len(content.site_pages)} site pages with a service-area map")
    print(f"{'stage':34} {'wall s':>8} {'CPU s':>8}")
    for name, wall, cpu in report:
        print(f"{name:34} {wall:8.2f} {cpu:8.2f}")
    print(f"{'whole report':34} {total_wall:8.2f} {total_cpu:8.2f}   (goal ≤ 15 s)")
    if floor.rows:
        name, wall, cpu = floor.rows[0]
        print(f"{name:34} {wall:8.2f} {cpu:8.2f}")
        print(f"ratio whole report / WeasyPrint floor: wall {total_wall / wall:.2f}x, CPU {total_cpu / cpu:.2f}x")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
