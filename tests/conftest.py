"""Shared fixtures: paths to the bundled layers and ../shared/data, a workspace with the real
永川 gazetteer, district and township polygons and the illustrative community service centres, and one
whole `gisplan run` of the 永川 scenario on the real roads (shared by the run and map tests)."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pyogrio
import pytest
from click.testing import CliRunner

from gisplan.catalogue import Catalogue, load_catalogue
from gisplan.cli.main import cli
from gisplan.store import open_workspace
from gisplan.workflows.importing import ImportSpec, import_layers
from tests import pg

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

pytest_plugins = ["pytester"]  # tests/test_suite_rules.py runs small suites under CI=true

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "layers"
FACILITIES = LAYERS / "yongchuan_facilities_illustrative.gpkg"


def in_ci() -> bool:
    """True when the suite runs as CI runs it (`.ci/run` exports CI=true)."""
    return os.environ.get("CI") == "true"


def missing(reason: str) -> None:
    """A part the test needs is absent: fail under CI=true, else skip this one test and say why."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: every peer library, data file and system part must be present)")
    pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    """Return a path in ../shared/data; fail under CI=true if it is missing, else skip."""
    path = ROOT.parent.joinpath("shared", "data", *parts)
    if not path.exists():
        missing(f"shared data not found at {path}")
    return path


def peer(module: str) -> ModuleType:
    """Import a peer library (a test-only reference: networkx, osmnx, spopt, coord_convert …) inside the test
    that needs it; fail under CI=true if it is missing, else skip that test only (never a whole module)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing(f"peer library {module} is not installed ({exc}; `bash scripts/setup.sh --test` installs it)")
        raise  # unreachable: missing() always raises


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true a skip is a failure, whatever raised it (a stray importorskip, a skip mark): CI runs all."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped under CI=true ({report.longrepr}); CI skips nothing"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """Under CI=true a module skipped at collection (a module-level importorskip) is an error too."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} was skipped under CI=true ({report.longrepr}); CI skips nothing"


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _offline(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never download OpenStreetMap roads (GISPLAN_OFFLINE=1), except those marked `network`."""
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setenv("GISPLAN_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests speak English whatever the developer's locale (LANG=zh_CN.UTF-8 would switch the CLI to Chinese);
    tests of the Chinese interface set --lang zh or the locale themselves."""
    monkeypatch.setenv("GISPLAN_LANG", "en")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL 15 + PostGIS cluster on a loopback port for the whole session (tests/pg.py): the URI
    of its database. Fails under CI=true when it cannot start, else skips the tests that need it."""
    try:
        with pg.cluster() as uri:
            yield uri
    except pg.ClusterUnavailableError as exc:
        missing(f"no PostgreSQL + PostGIS for the tests: {exc}")


_schemas = iter(range(1, 1_000_000))


@pytest.fixture
def postgis_uri(postgres_cluster: str) -> str:
    """The URI of a new, empty workspace schema in the session's cluster (not created yet)."""
    return f"{postgres_cluster}?schema=t{os.getpid()}_{next(_schemas)}"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def base_store(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    """A workspace with the real 永川 gazetteer, district, townships and the 267 centres."""
    store = tmp_path_factory.mktemp("base") / "yc.gpkg"
    import_layers(open_workspace(store), [
        ImportSpec(LAYERS / "yongchuan_gazetteer.csv", "gazetteer"),
        ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "district", layer="district"),
        ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "townships", layer="townships"),
        ImportSpec(FACILITIES, "facilities", "community_service_centre", layer="community_service_centre"),
    ], catalogue=catalogue)
    return store


@pytest.fixture
def store(base_store: Path, tmp_path: Path) -> Path:
    """A private copy of `base_store`."""
    path = tmp_path / "ws.gpkg"
    shutil.copyfile(base_store, path)
    return path


@pytest.fixture(scope="session")
def centre_point() -> dict[str, object]:
    """A real valid township-level facility location: (lon, lat, township code12) from the demo layer."""
    gdf = pyogrio.read_dataframe(FACILITIES, layer="township_elderly_centre")
    row = gdf.iloc[0]
    return {"lon": round(row.geometry.x, 6), "lat": round(row.geometry.y, 6), "code12": row["code12"]}


#: the date the `yongchuan_run` fixture runs on (GISPLAN_TODAY)
YONGCHUAN_RUN_DATE = "2026-03-01"


def yongchuan_scenario(tmp_path: Path, *, roads: bool) -> Path:
    """The 永川 demo scenario with absolute paths, written to `tmp_path`; without roads (and without an
    OpenStreetMap download: tests run offline) when `roads` is false."""
    text = (ROOT / "scenarios" / "yongchuan-2025.toml").read_text(encoding="utf-8")
    text = text.replace('"../layers/', f'"{ROOT / "layers"}/')
    text = text.replace('"../../shared/', f'"{ROOT.parent / "shared"}/')
    text = text.replace('"yongchuan-reported-2020.csv"', f'"{ROOT / "scenarios" / "yongchuan-reported-2020.csv"}"')
    if not roads:
        text = text.replace("yongchuan_roadlinks_gcj02.geojson", "nowhere.geojson")
        text = text.replace("osm_fallback = true", "osm_fallback = false")
    path = tmp_path / "yc.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def yongchuan_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, str]:
    """`gisplan run` of the whole 永川 scenario on the real roads, with proposals and the map:
    (scenario, workspace, output folder, printed output)."""
    shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    tmp = tmp_path_factory.mktemp("yongchuan_run")
    scenario = yongchuan_scenario(tmp, roads=True)
    store, out = tmp / "w.gpkg", tmp / "out"
    # the run's date is fixed: a 十四五 scenario evaluated in March 2026 (终期评估, proposals over 2026–2030)
    result = CliRunner().invoke(cli, ["run", str(scenario), "-w", str(store), "--out", str(out)],
                                env={"GISPLAN_TODAY": YONGCHUAN_RUN_DATE})
    assert result.exit_code == 0, result.output
    return scenario, store, out, result.output
