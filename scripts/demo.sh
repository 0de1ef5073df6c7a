#!/usr/bin/env bash
# The main job on the bundled 永川 demo: set up, import + validate every layer, print the indicator table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/gisplan run scenarios/yongchuan-2025.toml "$@"
