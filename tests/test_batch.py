"""`gisplan batch`: a 3-district region batch on a real dask LocalCluster (2 workers) writes exactly what the
in-process run writes; a failing district is reported while the others complete; a rerun skips districts whose
inputs are unchanged."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from gisplan.cli.main import cli
from gisplan.errors import ConfigError
from gisplan.io.spatial import list_file_layers, read_file_layer
from gisplan.outputs.batch import write_district, write_municipal
from gisplan.workflows.batch import DistrictJob, Region, jobs_for_region, jobs_for_scenarios, load_region, run_batch
from gisplan.workflows.engine import ROADS_STAGE, shared_roads
from tests.conftest import shared_data

if TYPE_CHECKING:
    from gisplan.progress import Tick

ROOT = Path(__file__).resolve().parents[1]
REGION = ROOT / "scenarios" / "chongqing-districts.toml"
CODES = ["500229", "500153", "500104"]  # 城口县 (zone 49N), 荣昌区, 大渡口区: small road networks
_FOLIUM_ID = re.compile(r"_[0-9a-f]{32}")


def _same_outputs(a: Path, b: Path) -> list[str]:
    """Every output file under `a` equals its twin under `b`: CSVs and HTML byte for byte (folium's random
    element ids aside), GeoPackage layers cell for cell. Returns the files compared."""
    compared = []
    for path in sorted(a.rglob("*")):
        rel = path.relative_to(a)
        if not path.is_file() or rel.parts[1:2] == ("work",) or rel.name in {"batch.json", "batch_status.csv"}:
            continue
        twin = b / rel
        assert twin.is_file(), f"{rel} is missing from the cluster run"
        if path.suffix == ".gpkg":
            assert list_file_layers(path) == list_file_layers(twin), rel
            for layer in list_file_layers(path):
                left, right = read_file_layer(path, layer=layer), read_file_layer(twin, layer=layer)
                if "geometry" in left:
                    assert_geodataframe_equal(left, right, check_less_precise=False)
                else:
                    pd.testing.assert_frame_equal(pd.DataFrame(left), pd.DataFrame(right))
        elif path.suffix == ".html":
            left = _FOLIUM_ID.sub("_id", path.read_text(encoding="utf-8"))
            assert left == _FOLIUM_ID.sub("_id", twin.read_text(encoding="utf-8")), rel
        else:
            assert path.read_bytes() == twin.read_bytes(), rel
        compared.append(str(rel))
    return compared


@pytest.fixture(scope="module")
def region_roads() -> Region:
    shared_data("roads", "chongqing_roadlinks_gcj02.parquet")  # each process reads it once (shared_roads)
    return load_region(REGION)


def test_local_cluster_equals_in_process(tmp_path: Path, region_roads: Region,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GISPLAN_OFFLINE", "1")
    region = region_roads
    ticks: dict[str, list[Tick]] = {"in": [], "dask": []}
    runs = {}
    for name, workers in (("in", None), ("dask", 2)):
        jobs = jobs_for_region(region, tmp_path / name, only=CODES)
        bad = DistrictJob("500101", "万州区", tmp_path / name / "500101", "x",
                          scenario=tmp_path / "missing.toml")  # fails at once: the others must complete
        result = run_batch([*jobs, bad], write=write_district, workers=workers,
                           progress=ticks[name].append)
        write_municipal(result, tmp_path / name, title=region.name)
        runs[name] = result
    for result in runs.values():
        assert [o.status for o in result.outcomes] == ["done", "done", "done", "failed"]
        assert "missing.toml does not exist" in result.outcomes[-1].error
    assert runs["in"].engine == "in-process"
    assert runs["dask"].engine.startswith("dask LocalCluster (2 workers")
    assert len({o.worker for o in runs["dask"].outcomes[:3]}) == 2  # both workers ran districts
    # each worker read the municipal road file at most once (nothing sent from the client, nothing per task)
    readers = [o.worker for o in runs["dask"].outcomes if ROADS_STAGE in o.seconds]
    assert 1 <= len(readers) == len(set(readers)) <= 2
    assert sum(ROADS_STAGE in o.seconds for o in runs["in"].outcomes) <= 1
    assert all(50 < o.peak_rss_mb < 4000 for o in runs["dask"].outcomes[:3])  # each worker's own peak (VmHWM)
    compared = _same_outputs(tmp_path / "in", tmp_path / "dask")
    for code in CODES:
        for name in ("indicators.csv", "units.csv", "gaps.csv", "admin_gaps.csv", "results.gpkg", "map.html"):
            assert f"{code}/results/{name}" in compared
    for name in ("scenario.toml", "layers/illustrative.gpkg", "layers/households_illustrative.csv",
                 "layers/roads.parquet"):  # the generated inputs too
        assert f"500229/scenario/{name}" in compared
    assert {"indicators_by_district.csv", "coverage_by_district.csv", "proposed_sites.csv",
            "municipal_map.html"} <= set(compared)
    table = pd.read_csv(tmp_path / "in" / "indicators_by_district.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(set(table["district_code"])) == sorted(CODES)
    assert (table["illustrative"] == "True").all()
    status = pd.read_csv(tmp_path / "dask" / "batch_status.csv", dtype=str, encoding="utf-8-sig",
                         keep_default_na=False)
    assert dict(zip(status["district_code"], status["status"], strict=True)) == {
        "500101": "failed", "500104": "done", "500153": "done", "500229": "done"}
    page = (tmp_path / "dask" / "municipal_map.html").read_text(encoding="utf-8")
    assert "500229/results/map.html" in page
    assert "城口县" in page
    assert "示意" in page
    assert "<script src=" not in page  # Leaflet inlined: opens offline
    # progress: a start tick, one per district, the last saying 4 of 4 with one failed
    for seen in ticks.values():
        assert seen[0].done == 0
        assert (seen[-1].done, seen[-1].total) == (4, 4)
        assert "失败 failed 1" in seen[-1].message


def test_rerun_skips_unchanged_districts_and_resumes(tmp_path: Path, region_roads: Region,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GISPLAN_OFFLINE", "1")
    region = region_roads
    jobs = jobs_for_region(region, tmp_path, only=["500229"])
    first = run_batch(jobs, write=write_district)
    assert [o.status for o in first.outcomes] == ["done"]
    again = run_batch(jobs_for_region(region, tmp_path, only=["500229"]), write=write_district)
    assert [o.status for o in again.outcomes] == ["skipped"]
    assert again.outcomes[0].seconds == first.outcomes[0].seconds
    # a crash after the outputs but before the marker: the district runs again
    (tmp_path / "500229" / "batch.json").unlink()
    assert [o.status for o in run_batch(jobs, write=write_district).outcomes] == ["done"]
    # changed inputs (another seed): runs again
    changed = region.__class__(**{**{f: getattr(region, f) for f in region.__dataclass_fields__}, "seed": 1})
    rerun = run_batch(jobs_for_region(changed, tmp_path, only=["500229"]), write=write_district)
    assert [o.status for o in rerun.outcomes] == ["done"]


def test_cli_batch_over_a_folder_of_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GISPLAN_OFFLINE", "1")
    runner = CliRunner()
    folder = tmp_path / "scenarios"
    for code in ("500229", "500153"):
        assert runner.invoke(cli, ["init", code, "--out", str(tmp_path / code)]).exit_code == 0
        folder.mkdir(exist_ok=True)
        shutil.copy(tmp_path / code / "scenario.toml", folder / f"{code}.toml")
        text = (folder / f"{code}.toml").read_text(encoding="utf-8")
        (folder / f"{code}.toml").write_text(text.replace('"layers/', f'"../{code}/layers/').replace(
            'workspace = "work/', f'workspace = "../{code}/work/'), encoding="utf-8")
    shutil.copy(REGION, folder / "region.toml")  # a region file in the folder is not a scenario: left out
    result = runner.invoke(cli, ["batch", str(folder), "--out", str(tmp_path / "out"), "--no-map"])
    assert result.exit_code == 0, result.output
    assert "in-process: 2 done, 0 skipped" in result.output
    assert (tmp_path / "out" / "500153" / "results" / "indicators.csv").is_file()
    assert not (tmp_path / "out" / "municipal_map.html").exists()
    again = runner.invoke(cli, ["batch", str(folder), "--out", str(tmp_path / "out"), "--no-map"])
    assert "0 done, 2 skipped" in again.output


def test_region_and_engine_errors(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('[region]\nname = "x"\nsede = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_region(bad)
    region = load_region(REGION)
    with pytest.raises(ConfigError, match="500999 not in the region"):
        jobs_for_region(region, tmp_path, only=["500999"])
    with pytest.raises(ConfigError, match="not both"):
        run_batch([], write=write_district, workers=2, scheduler="tcp://127.0.0.1:1")
    result = CliRunner().invoke(cli, ["batch", str(REGION), "--out", str(tmp_path / "o"), "--only", "500999"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert jobs_for_scenarios([], tmp_path) == []


def test_municipal_files_escape_names_and_report_failures(tmp_path: Path) -> None:
    from gisplan.workflows.batch import BatchResult, DistrictOutcome

    outcomes = (DistrictOutcome("500118", "永川区", "failed", tmp_path / "500118", error='=HYPERLINK("http://x","y")'),)
    files = write_municipal(BatchResult(outcomes, "in-process", 1.0), tmp_path, title="<script>alert(1)</script>")
    assert [f.name for f in files] == ["indicators_by_district.csv", "coverage_by_district.csv",
                                       "proposed_sites.csv", "batch_status.csv", "municipal_map.html"]
    page = (tmp_path / "municipal_map.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    status = (tmp_path / "batch_status.csv").read_text(encoding="utf-8-sig")
    assert "500118,永川区,failed,\"'=HYPERLINK(" in status  # an error text is never a live formula in Excel/WPS


def test_an_existing_scheduler_runs_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    from gisplan.outputs.batch import write_district_tables

    monkeypatch.setenv("GISPLAN_OFFLINE", "1")
    assert CliRunner().invoke(cli, ["init", "500229", "--out", str(tmp_path / "ck")]).exit_code == 0
    jobs = jobs_for_scenarios([tmp_path / "ck" / "scenario.toml"], tmp_path / "out")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster:
        result = run_batch(jobs, write=write_district_tables, scheduler=cluster.scheduler_address)
    assert result.engine == f"dask scheduler {cluster.scheduler_address} (1 workers)"
    assert [o.status for o in result.outcomes] == ["done"]
    assert (tmp_path / "out" / "500229" / "results" / "indicators.csv").is_file()


def test_shared_roads_are_read_once_per_process_and_checked(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    from gisplan.io.spatial import file_sha256
    from gisplan.workflows.engine import clear_shared_roads

    path = tmp_path / "roads.parquet"
    gpd.GeoDataFrame({"link_id": [1, 2]}, geometry=[shapely.LineString([(106, 29), (106.1, 29)]),
                                                    shapely.LineString([(106, 29.1), (106.1, 29.1)])],
                     crs="EPSG:4326").to_parquet(path)
    sha = file_sha256(path)
    first = shared_roads(path, sha)
    assert shared_roads(path, sha) is first  # the same copy for every later task of the process
    assert list(first["link_id"]) == [1, 2]
    with pytest.raises(ConfigError, match="not the one the batch was planned with"):
        shared_roads(path, "0" * 64)  # a worker that sees another file says so
    clear_shared_roads()
    assert shared_roads(path, sha) is not first
    clear_shared_roads()


def test_a_scheduler_that_is_not_there_is_a_clear_error(tmp_path: Path) -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(ConfigError, match=r"no Dask scheduler answers there .* does not start one"):
        run_batch([], write=write_district, scheduler="tcp://127.0.0.1:9")
