"""The maps in a real headless Chromium (Debian's, installed by scripts/setup.sh --test) with the network
off: the 永川 map loads within 3 s without console errors or requests, every layer draws all its features,
the measure tool works in Chinese, and a facility named like an HTML tag shows as text. In the rendered DOM:
all 23 township names are labels that do not overlap, the legend lists gaps and service areas, the default
view has on only what the headline rows ask for, the panel leaves the district free (and is collapsed on a
small screen); print layout, PNG export, and a 5 km GeoTIFF basemap that still opens within 3 s.

Set GISPLAN_MAP_SHOTS=/some/folder to keep the screenshots (default view, zoomed, print, small screen, PNG)."""

from __future__ import annotations

import os
import shutil
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyogrio
import pytest

from gisplan.cli.options import catalogue_for
from gisplan.config import load_scenario
from gisplan.io.spatial import read_file_layer
from gisplan.outputs.mapstyle import proposal_sites
from gisplan.outputs.results import map_layers
from gisplan.outputs.webmap import build_map, layer_counts, render_map_html
from gisplan.store import open_workspace
from tests.conftest import missing
from tests.test_webmap import XSS, illustrative_geotiff, sample_layers, setup_of

if TYPE_CHECKING:
    from collections.abc import Iterator

_MAP = "Object.values(window).find(v => v instanceof L.Map)"

def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        missing("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    return path


class Page:
    """One offline page: console errors, page errors, dialogs and every attempted request are recorded."""

    def __init__(self, browser: Any, url: str, viewport: tuple[int, int] = (1400, 900)) -> None:
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, offline=True,
                                           accept_downloads=True)
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
        """Tick every layer of the panel (folded groups included), as a user would one by one."""
        self.page.evaluate("""() => document.querySelectorAll('#gp-layers input[data-k]').forEach(c => {
          if (!c.checked) { c.checked = true; c.dispatchEvent(new Event('change')); } })""")

    def rect(self, selector: str) -> tuple[float, float, float, float]:
        """An element's box (left, top, right, bottom) in page pixels."""
        r = self.page.locator(selector).first.bounding_box()
        assert r is not None, selector
        return r["x"], r["y"], r["x"] + r["width"], r["y"] + r["height"]

    def district_box(self) -> tuple[float, float, float, float]:
        """The district's bounding box on screen (left, top, right, bottom), from the map's own projection."""
        return tuple(self.page.evaluate(f"""(b) => {{ const m = {_MAP};
          const a = m.latLngToContainerPoint(b[0]), c = m.latLngToContainerPoint(b[1]);
          const o = m.getContainer().getBoundingClientRect();
          return [a.x + o.left, c.y + o.top, c.x + o.left, a.y + o.top]; }}""", self.bounds))

    @property
    def bounds(self) -> list[list[float]]:
        return self.page.evaluate("window.gisplanBounds")  # type: ignore[no-any-return]

    def shot(self, name: str, tmp_path: Path) -> Path:
        folder = Path(os.environ.get("GISPLAN_MAP_SHOTS", tmp_path))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        self.page.screenshot(path=str(path))
        return path

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


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])  # type: ignore[return-value]


def _check_default_view(page: Page, layers: Any, setup: dict[str, Any], expected: dict[str, Any]) -> None:
    """In the rendered DOM of the default view: labels, neighbours, panel and title clear of the district, the
    layers on are exactly the headline rows' and the base ones, the legend, the notice."""
    p = page.page
    # all 23 township names are labels on screen, inside the view, none over another nor under the panel
    towns = set(layers.townships["name"])
    labels = p.evaluate("""() => [...document.querySelectorAll('.gp-label-town:not(.gp-hidden) .gp-lt')]
      .filter(e => e.offsetParent !== null).map(e => { const r = e.getBoundingClientRect();
        return [e.textContent, r.left, r.top, r.right, r.bottom]; })""")
    assert {t for t, *_ in labels} == towns
    assert len(labels) == 23
    boxes = [tuple(b) for _, *b in labels]
    assert all(b[0] >= 0 and b[2] <= 1400 and b[1] >= 0 and b[3] <= 900 for b in boxes)
    assert not any(_overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    side = page.rect("#gp-side")
    assert not any(_overlaps(b, side) for b in boxes)
    assert p.locator(".gp-label-neighbour:not(.gp-hidden)").count() == 7  # 永川's 7 neighbours at the edge
    # the panel and the title leave the district free
    district = page.district_box()
    assert not _overlaps(district, side)
    assert not _overlaps(district, page.rect("#gp-title"))
    # the default view: the base layers and the headline rows' groups, nothing else
    headline = [g for g in setup["groups"] if g["headline"]]
    assert [g["title"].split()[0] for g in headline] == [
        "YC-1-11", "YC-1-12", "YC-1-16", "YC-9-TOWN-CEMETERIES", "YC-9-FUNERAL-STATIONS", "YC-15MIN-ELDERLY",
        "YC-15MIN-ELDERLY-HH"]  # spatial rows, less YC-15MIN-CSC (headline = false)
    wanted = set(setup["base"]) | {k for g in headline for k in g["layers"]}
    assert set(p.evaluate("window.gisplanOn()")) == wanted
    for key in expected:
        if key.removeprefix("gp-") not in wanted:
            assert page.drawn(key) == 0, key
    legend = p.locator("#gp-legend").inner_text()
    assert "覆盖缺口 — 社区养老服务站" in legend
    assert "服务范围（15 分钟）— 社区养老服务站" in legend
    assert "城乡社区综合服务设施（" not in legend  # its layers are off: not in the legend
    assert "内部用图" in p.locator("#gp-notice").inner_text()
    assert "界线不作为权属争议依据" in p.locator("#gp-notice").inner_text()


def _check_print(page: Page, tmp_path: Path) -> None:
    """The print layout, with the default layers back on."""
    p = page.page
    # print layout: title, legend, scale, north arrow, notice and 示意; no layer list, buttons or zoom
    p.evaluate("() => { document.querySelectorAll('#gp-layers input[data-k]').forEach(c => { "
               "c.checked = false; c.dispatchEvent(new Event('change')); }); }")
    p.evaluate("() => document.querySelectorAll('.gp-group').forEach((g, i) => { if (i === 0 || "
               "g.classList.contains('gp-headline')) { const c = g.querySelector('.gp-gcheck'); c.checked = true; "
               "c.dispatchEvent(new Event('change')); } })")
    p.emulate_media(media="print")
    p.evaluate("() => { window.dispatchEvent(new Event('beforeprint')); window.gisplanFit(); }")
    for selector in ("#gp-legend", "#gp-title", "#gp-north", ".leaflet-control-scale-line", "#gp-notice"):
        assert p.locator(selector).is_visible(), selector
    for selector in ("#gp-layers", "#gp-png", ".leaflet-control-zoom"):
        assert not p.locator(selector).is_visible(), selector
    assert "制图日期" in p.locator("#gp-title").inner_text()
    page.shot("yongchuan_print.png", tmp_path)
    p.emulate_media(media="screen")
    assert page.errors == []
    assert page.external() == []


def _check_small_screen(browser: Any, html_path: Path, tmp_path: Path) -> None:
    # a small screen: the panel starts collapsed and leaves the district free
    small = Page(browser, html_path.as_uri(), viewport=(600, 800))
    assert "gp-collapsed" in (small.page.locator("#gp-side").get_attribute("class") or "")
    assert not _overlaps(small.district_box(), small.rect("#gp-side"))
    assert not small.page.locator("#gp-legend").is_visible()
    small.page.click("#gp-toggle")
    assert small.page.locator("#gp-legend").is_visible()
    small.shot("yongchuan_small.png", tmp_path)
    assert small.errors == []
    small.context.close()


def test_yongchuan_map_in_chromium(yongchuan_run: tuple[Path, Path, Path, str], browser: Any, tmp_path: Path,
                                   ) -> None:
    scenario, store, out, _ = yongchuan_run
    html_path = out / "map.html"
    assert html_path.stat().st_size <= 15_000_000
    sc = load_scenario(scenario)
    ws = open_workspace(store)
    layers = map_layers(out / "results.gpkg", ws, sc, catalogue_for(sc, ()))
    expected = layer_counts(build_map(layers))
    setup = setup_of(html_path.read_text(encoding="utf-8"))
    # the overlays hold the data: every township, facility, gap and proposed site (once per site)
    stored = ws.metadata().set_index("layer")["row_count"]
    by_kind: dict[str, int] = {}
    for key, (_, _, count) in expected.items():
        by_kind[key.split("-")[1]] = by_kind.get(key.split("-")[1], 0) + count
    assert by_kind["townships"] == 23
    assert by_kind["fac"] == sum(stored[n] for n in ws.facility_layers().values())
    assert by_kind["gap"] == pyogrio.read_info(out / "results.gpkg", layer="gaps")["features"]
    assert by_kind["site"] == len(proposal_sites(read_file_layer(out / "results.gpkg", layer="proposed_sites")))

    page = Page(browser, html_path.as_uri())
    p = page.page
    assert page.ready_ms < 3000, f"ready after {page.ready_ms:.0f} ms (wall {page.wall_s:.2f} s)"
    assert page.errors == []
    assert page.external() == []

    _check_default_view(page, layers, setup, expected)
    page.shot("yongchuan_default.png", tmp_path)

    # zoomed in on the city: village names appear, still without overlaps
    p.evaluate(f"() => {{ {_MAP}.setView([29.36, 105.90], 13.25, {{animate: false}}); }}")
    p.wait_for_timeout(300)
    villages = p.evaluate("""() => [...document.querySelectorAll('.gp-label:not(.gp-hidden) .gp-lt')]
      .filter(e => e.offsetParent !== null).map(e => { const r = e.getBoundingClientRect();
        return [r.left, r.top, r.right, r.bottom, e.closest('.gp-label-village') !== null]; })""")
    assert sum(v[4] for v in villages) >= 20
    shown = [tuple(v[:4]) for v in villages]
    assert not any(_overlaps(a, b) for i, a in enumerate(shown) for b in shown[i + 1:])
    page.shot("yongchuan_zoomed.png", tmp_path)

    # every layer on: each draws all its features
    p.evaluate("() => window.gisplanFit()")
    page.show_every_overlay()
    drawn = {key: page.drawn(key) for key in expected if "label" not in key and "basemap" not in key}
    assert drawn == {key: count for key, (_, _, count) in expected.items() if key in drawn}
    assert page.page.locator("#gp-title").inner_text().count("示意") >= 1
    assert "城乡社区综合服务设施" in page.page.locator("#gp-legend").inner_text()
    assert page.page.locator(".leaflet-control-scale-line").inner_text().endswith(("km", "m"))

    # PNG export of the current view (2x), offline
    with p.expect_download() as download:
        p.click("#gp-png")
    png = tmp_path / "export.png"
    download.value.save_as(png)
    assert _png_size(png) == (2800, 1800)
    assert png.stat().st_size > 100_000
    if os.environ.get("GISPLAN_MAP_SHOTS"):
        shutil.copy(png, Path(os.environ["GISPLAN_MAP_SHOTS"]) / "yongchuan_export.png")

    _check_print(page, tmp_path)
    page.context.close()

    _check_small_screen(browser, html_path, tmp_path)


def test_geotiff_basemap_opens_within_3_s(yongchuan_run: tuple[Path, Path, Path, str], browser: Any,
                                           tmp_path: Path) -> None:
    """A 5 km × 5 km GeoTIFF (2 m pixels, 示意, generated here) under the 永川 map: embedded, capped, stated."""
    scenario, store, out, _ = yongchuan_run
    sc = load_scenario(scenario)
    tif = illustrative_geotiff(tmp_path / "ortho_2m.tif")
    layers = map_layers(out / "results.gpkg", open_workspace(store), sc, catalogue_for(sc, ()), basemap_file=tif)
    assert layers.basemap_image is not None
    assert max(layers.basemap_image.width_px, layers.basemap_image.height_px) == 2048
    path = tmp_path / "map.html"
    path.write_text(render_map_html(build_map(layers)), encoding="utf-8")
    assert path.stat().st_size <= 15_000_000
    page = Page(browser, path.as_uri())
    assert page.ready_ms < 3000, f"ready after {page.ready_ms:.0f} ms (wall {page.wall_s:.2f} s)"
    image = page.page.locator("img.gp-basemap")
    assert image.count() == 1
    assert page.page.evaluate("document.querySelector('img.gp-basemap').naturalWidth") == \
        layers.basemap_image.width_px
    assert "本地影像 ortho_2m.tif（" in page.page.locator("#gp-title").inner_text()
    page.page.evaluate(f"() => {{ {_MAP}.setView([29.355, 105.925], 13, {{animate: false}}); }}")
    page.shot("yongchuan_basemap.png", tmp_path)
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
