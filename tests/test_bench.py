"""The import benchmark compares like with like: run on the real 永川 road file, its peer and gisplan write
the same rows, and it reports both times and their ratio."""

from __future__ import annotations

from bench.bench_import import measure
from tests.conftest import shared_data


def test_import_benchmark_has_a_peer_writing_the_same_rows() -> None:
    result = measure(shared_data("roads", "yongchuan_roadlinks_gcj02.geojson"), rounds=1)
    assert result["rows"] == 10_830  # SOURCES.md: 10,830 links
    assert result["peer_s"] > 0
    assert result["gisplan_s"] > 0
    assert result["ratio"] == result["gisplan_s"] / result["peer_s"]
    assert result["peer_cpu_s"] > 0
    assert result["cpu_ratio"] == result["gisplan_cpu_s"] / result["peer_cpu_s"]
