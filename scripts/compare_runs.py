"""Compare the result tables of two `gisplan run` output folders, byte for byte.

Used to show that a refactoring changes no result: run both scenarios before and after it, then

    python scripts/compare_runs.py BEFORE_DIR AFTER_DIR

Each folder holds one sub-folder per scenario (``yongchuan``, ``zhushan`` …). Prints one line per table and
exits 1 if any differs (the first differing line is shown).
"""

from __future__ import annotations

import sys
from pathlib import Path

TABLES = ("indicators.csv", "units.csv", "floor_area.csv", "gaps.csv", "admin_gaps.csv", "proposed_sites.csv")


def main(before: Path, after: Path) -> int:
    """Compare every table of every scenario folder in `before` with its twin in `after`."""
    differ = 0
    for folder in sorted(p for p in before.iterdir() if p.is_dir()):
        for name in TABLES:
            old, new = folder / name, after / folder.name / name
            if not old.exists() and not new.exists():
                continue
            if not old.exists() or not new.exists():
                print(f"{folder.name}/{name}: only in {'after' if new.exists() else 'before'}")
                differ += 1
                continue
            a, b = old.read_bytes(), new.read_bytes()
            if a == b:
                print(f"{folder.name}/{name}: identical ({len(a.splitlines()) - 1} rows)")
                continue
            differ += 1
            lines = zip(a.decode("utf-8-sig").splitlines(), b.decode("utf-8-sig").splitlines(), strict=False)
            first = next(((i, x, y) for i, (x, y) in enumerate(lines, 1) if x != y), None)
            print(f"{folder.name}/{name}: DIFFERS" + (f" at line {first[0]}:\n  - {first[1]}\n  + {first[2]}"
                                                     if first else " in length"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
