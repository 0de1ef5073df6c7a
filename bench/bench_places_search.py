"""Benchmark: place-name search over the whole Chongqing gazetteer (12,339 divisions, ../shared/data).

Builds the search index once (pinyin of every name; timed separately), then runs a fixed set of queries —
characters, a homophone typo, pinyin with and without tones, initials, a pinyin typo and a code prefix —
each REPEAT times, and prints p50/p95 per query kind and overall. The peer, measured in the same run on the
same names, is a plain ``rapidfuzz.process.extract(query, names, limit=10)`` (default WRatio scorer), and the
same with ``scorer=fuzz.ratio`` (the scorer gisplan uses); both find near misses by characters only (no
pinyin, initials, homophones or codes), so gisplan does more work per query than the ratio peer.
Run: ``.venv/bin/python bench/bench_places_search.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from gisplan.placenames.search import build_index, search

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GAZETTEER = SHARED / "gazetteer" / "chongqing_500000_divisions_2023.csv"
REPEAT = 30
QUERIES = {
    "characters": ["朱龙花村", "兴隆村", "永川", "中山路街道", "金龙场社区"],
    "homophone typo": ["朱龙华村", "兴龙村"],
    "pinyin": ["zhulonghuacun", "xinglong", "zhū lóng huā", "zhu1long2hua1"],
    "initials": ["zlhc", "jlcsq"],
    "pinyin typo": ["zhulonghau", "yongchaun"],
    "code prefix": ["500118102", "500118006200"],
}


def _times(fn: object, queries: list[str]) -> np.ndarray:
    out = []
    for _ in range(REPEAT):
        for q in queries:
            t0 = time.perf_counter()
            fn(q)  # type: ignore[operator]
            out.append(time.perf_counter() - t0)
    return np.array(out) * 1000


def main() -> None:
    """Print index build time, p50/p95 per query kind, and the ratio to the plain rapidfuzz peer."""
    gazetteer = pd.read_csv(GAZETTEER, dtype=str)
    t0 = time.perf_counter()
    index = build_index(gazetteer, name_column="name", id_column="code12")
    build_s = time.perf_counter() - t0
    names = gazetteer["name"].tolist()
    print(f"names: {len(index):,}; index built in {build_s:.1f} s (pypinyin for every name, once)")
    all_ours = []
    for kind, queries in QUERIES.items():
        ms = _times(lambda q: search(index, q, limit=10), queries)
        all_ours.append(ms)
        print(f"  {kind:<15} p50 {np.percentile(ms, 50):6.2f} ms   p95 {np.percentile(ms, 95):6.2f} ms")
    ours = np.concatenate(all_ours)
    flat = [q for qs in QUERIES.values() for q in qs]
    peer = _times(lambda q: process.extract(q, names, limit=10), flat)
    plain = _times(lambda q: process.extract(q, names, scorer=fuzz.ratio, limit=10), flat)
    p50, p95 = np.percentile(ours, 50), np.percentile(ours, 95)
    q50, q95 = np.percentile(peer, 50), np.percentile(peer, 95)
    print(f"gisplan search (all kinds):          p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
    print(f"rapidfuzz.process.extract (peer):    p50 {q50:6.2f} ms   p95 {q95:6.2f} ms")
    print(f"  same, scorer=fuzz.ratio:           p50 {np.percentile(plain, 50):6.2f} ms   "
          f"p95 {np.percentile(plain, 95):6.2f} ms (characters only)")
    print(f"ratio gisplan/peer: p50 {p50 / q50:.2f}x, p95 {p95 / q95:.2f}x (target: well under 50 ms a query)")


if __name__ == "__main__":
    main()
