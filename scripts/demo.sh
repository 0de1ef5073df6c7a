#!/usr/bin/env bash
# The main job on the bundled demo: set up, then run the plan scenarios end to end — import and validate
# every layer, measure 15-minute network coverage (永川: the real road links in ../shared/data when present;
# else, for both scenarios, OpenStreetMap roads fetched when online and cached beside the workspace; else the
# 15-minute rows are straight-line estimates labelled 直线/参考), print the indicator tables and the largest
# uncovered areas, and write indicators.csv, units.csv, gaps.csv, results.gpkg, map.html and the report
# (report.pdf, report.docx, tables.xlsx, report.html; the 珠山 one says plainly what it cannot compute).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/gisplan run scenarios/yongchuan-2025.toml --out out/yongchuan "$@"
.venv/bin/gisplan run scenarios/zhushan-2025.toml --out out/zhushan "$@"
# the 十五五 (2026–2030) template of 永川: 2025 baseline, the 十四五 targets as placeholders (see its header)
.venv/bin/gisplan run scenarios/yongchuan-2030.toml --out out/yongchuan-2030 "$@"
