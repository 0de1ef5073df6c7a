"""The maps in a real headless Chromium (Debian's, installed by scripts/setup.sh --test) with the network
off: the 永川 map loads within 3 s without console errors or requests, every layer draws all its features,
the measure tool works in Chinese, and a facility named like an HTML tag shows as text."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

import pyogrio
import pytest

from gisplan.cli.options import catalogue_for
from gisplan.config import load_scenario
from gisplan.outputs.results import map_layers
from gisplan.outputs.webmap import build_map, layer_counts, render_map_html
from gisplan.store import open_workspace
from tests.conftest import missing
from tests.test_webmap import XSS, sample_layers

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        missing("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    return path


class Page:
    """One offline page: console errors, page errors, dialogs and every attempted request are recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

        def route(r: Any) -> None:
            self.requests.append(r.request.url)
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url[:120]}"))
        start = time.perf_counter()
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function("window.gisplanReady === true", timeout=10_000)
        self.wall_s = time.perf_counter() - start
        self.ready_ms = float(self.page.evaluate("performance.now()"))

    def show_every_overlay(self) -> None:
        boxes = self.page.locator(".leaflet-control-layers-overlays input[type=checkbox]")
        for i in range(boxes.count()):
            if not boxes.nth(i).is_checked():
                boxes.nth(i).check()

    def drawn(self, key: str) -> int:
        """Features of overlay `key` on the page: SVG paths, single markers and the counts of its clusters."""
        return int(self.page.evaluate("""(cls) => {
          let n = document.querySelectorAll('path.' + cls).length;
          n += document.querySelectorAll('.leaflet-marker-icon.' + cls + ':not(.gp-cl)').length;
          document.querySelectorAll('.gp-cl.' + cls).forEach(e => { n += parseInt(e.textContent, 10); });
          return n;
        }""", key))

    def external(self) -> list[str]:
        return [u for u in self.requests if not u.startswith("file:")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def test_yongchuan_map_in_chromium(yongchuan_run: tuple[Path, Path, Path, str], browser: Any, tmp_path: Path,
                                   ) -> None:
    scenario, store, out, _ = yongchuan_run
    html_path = out / "map.html"
    assert html_path.stat().st_size <= 15_000_000
    sc = load_scenario(scenario)
    ws = open_workspace(store)
    layers = map_layers(out / "results.gpkg", ws, sc, catalogue_for(sc, ()))
    expected = layer_counts(build_map(layers))
    # the overlays hold the data: every township, facility, gap and proposed site
    stored = ws.metadata().set_index("layer")["row_count"]
    by_kind: dict[str, int] = {}
    for key, (_, _, count) in expected.items():
        by_kind[key.split("-")[1]] = by_kind.get(key.split("-")[1], 0) + count
    assert by_kind["townships"] == 23
    assert by_kind["fac"] == sum(stored[n] for n in ws.facility_layers().values())
    assert by_kind["gap"] == pyogrio.read_info(out / "results.gpkg", layer="gaps")["features"]
    assert by_kind["site"] == pyogrio.read_info(out / "results.gpkg", layer="proposed_sites")["features"]

    page = Page(browser, html_path.as_uri())
    assert page.ready_ms < 3000, f"ready after {page.ready_ms:.0f} ms (wall {page.wall_s:.2f} s)"
    assert page.errors == []
    assert page.external() == []
    page.show_every_overlay()
    drawn = {key: page.drawn(key) for key in expected}
    assert drawn == {key: count for key, (_, _, count) in expected.items()}
    assert page.page.locator("#gp-title").inner_text().count("示意") >= 1
    assert "城乡社区综合服务设施" in page.page.locator("#gp-legend").inner_text()
    assert page.page.locator(".leaflet-control-scale-line").inner_text().endswith(("km", "m"))
    shot = tmp_path / "yongchuan_map.png"
    page.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000
    assert page.errors == []
    assert page.external() == []
    page.context.close()


def test_measure_tool_and_escaped_names_in_chromium(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "sample.html"
    path.write_text(render_map_html(build_map(sample_layers())), encoding="utf-8")
    page = Page(browser, path.as_uri())
    p = page.page
    p.locator(".gp-fac-0").first.dispatch_event("click")  # the facility called <img src=x onerror=alert(1)>
    popup = p.locator(".leaflet-popup-content").inner_text()
    assert XSS in popup
    assert "示意数据，非真实设施" in popup
    assert "甲街道" in popup
    assert p.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    p.hover(".leaflet-control-measure")
    p.click(".leaflet-control-measure .js-start")
    p.mouse.click(500, 450)
    p.mouse.click(700, 450)
    p.click(".leaflet-control-measure .js-finish")
    result = p.locator(".leaflet-popup-content", has_text="距离测量").inner_text()
    assert "距离测量" in result
    assert "米" in result
    assert page.dialogs == []
    assert page.errors == []
    assert page.external() == []
    page.context.close()
