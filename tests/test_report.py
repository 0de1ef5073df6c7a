"""The report of a run (`gisplan report`, written by `gisplan run` too): the PDF's text layer, the Word document and
the workbook hold the same indicator values, targets and statuses as indicators.csv and the same sites as the
sites layer, the 示意 label is on every page of an illustrative report, user names stay text, and the pages render.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.cli.options import catalogue_for
from gisplan.config import load_scenario
from gisplan.outputs.report import SITE_PAGES_PER_ROW, ReportContent, build_report, write_report
from gisplan.outputs.report_data import PlanPeriod, plan_period, read_report_data, shared_sites
from gisplan.outputs.report_tables import STATUS_ENDED, completion_rate, display
from gisplan.store import open_workspace
from gisplan.vocab import ReportFormat
from tests.conftest import ROOT, missing

if TYPE_CHECKING:
    from pathlib import Path

    from gisplan.outputs.report_data import ReportData

EVIL_FORMULA = '=HYPERLINK("http://x")'
EVIL_HTML = "<script>alert(1)</script>"


def _flat(text: str) -> str:
    """Text without white space (table cells wrap their lines in the PDF) or the zero-width breaks."""
    return re.sub(r"[\s\u200b]+", "", text)


def _pdf_pages(path: Path) -> list[str]:
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        missing(f"pypdfium2 is not installed ({exc}); `bash scripts/setup.sh --test` installs it")
    pdf = pdfium.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def _docx(path: Path) -> tuple[str, list[list[list[str]]]]:
    from docx import Document

    doc = Document(str(path))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return "\n".join(p.text for p in doc.paragraphs), tables


def _need_weasyprint() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        missing(f"WeasyPrint or its Debian libraries are missing ({exc}); run scripts/setup.sh")
    if shutil.which("pdftoppm") is None:
        missing("pdftoppm (Debian poppler-utils) is missing; `bash scripts/setup.sh --test` installs it")


@pytest.fixture(scope="module")
def run_out(yongchuan_run: tuple[Path, Path, Path, str]) -> tuple[Path, Path, Path]:
    _need_weasyprint()
    scenario, store, out, _ = yongchuan_run
    return scenario, store, out


@pytest.fixture(scope="module")
def data(run_out: tuple[Path, Path, Path]) -> ReportData:
    scenario, store, out = run_out
    sc = load_scenario(scenario)
    return read_report_data(out / "results.gpkg", open_workspace(store), sc, catalogue_for(sc, ()),
                            today=dt.date(2026, 12, 1))


def test_run_writes_the_report(yongchuan_run: tuple[Path, Path, Path, str]) -> None:
    out, printed = yongchuan_run[2], yongchuan_run[3]
    for name in ("report.pdf", "report.docx", "tables.xlsx", "report.html"):
        assert (out / name).stat().st_size > 10_000, name
        assert name in printed


def test_pdf_holds_every_indicator_value_target_and_status(run_out: tuple[Path, Path, Path]) -> None:
    out = run_out[2]
    table = pd.read_csv(out / "indicators.csv", dtype={"target_2025": str, "baseline_2020": str})
    pages = _pdf_pages(out / "report.pdf")
    text = _flat("".join(pages))
    start = text.index("指标终期评估表")  # the plan period 2021—2025 has ended on the test date (2026)
    section = text[start:text.index("覆盖分析", start)]
    ids = table["indicator_id"].astype(str).tolist()
    for i, row in table.iterrows():
        at = section.index(row["indicator_id"])
        end = section.index(ids[i + 1], at + 1) if i + 1 < len(ids) else len(section)
        cells = section[at:end]
        assert _flat(str(row["target_2025"])) in cells, row["indicator_id"]
        assert display(row["value"], "G") in cells or pd.isna(row["value"]), row["indicator_id"]
        assert STATUS_ENDED[row["status"]] in _flat(cells), row["indicator_id"]


def test_docx_indicator_table_equals_indicators_csv(run_out: tuple[Path, Path, Path]) -> None:
    out = run_out[2]
    table = pd.read_csv(out / "indicators.csv", dtype={"target_2025": str})
    _, tables = _docx(out / "report.docx")
    rows = next(t for t in tables if t[0][0] == "编号")
    header = rows[0]
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert list(by_id) == table["indicator_id"].tolist()
    for _, row in table.iterrows():
        cells = by_id[row["indicator_id"]]
        assert cells["期末值"] == display(row["value"], "G")
        assert cells["目标（2025年）"] == str(row["target_2025"])
        assert cells["是否完成"] == STATUS_ENDED[row["status"]]
    assert by_id["YC-1-06"]["期末值"] == "63.3"  # 38 / 60 communities, as the plan writes it
    assert by_id["YC-1-06"]["完成率（%）"] == "63.3"


@pytest.fixture(scope="module")
def content(data: ReportData) -> ReportContent:
    return build_report(data)


def _site_order(out: Path) -> pd.DataFrame:
    """proposed_sites.csv as the report orders it (build year, row, rank), with the featured flag."""
    sites = shared_sites(pd.read_csv(out / "proposed_sites.csv", dtype=str))
    order = sites.assign(year=sites["year"].astype(int), rank=sites["rank"].astype(int))
    order = order.sort_values(["year", "indicator_id", "rank"], kind="stable")
    return order.assign(featured=order.groupby("indicator_id", sort=False).cumcount() < SITE_PAGES_PER_ROW)


def test_every_proposed_site_is_in_the_report(run_out: tuple[Path, Path, Path], data: ReportData) -> None:
    """Each row's first sites have a page; every other site is a row of the table after them, in Word and PDF."""
    out = run_out[2]
    order = _site_order(out)
    assert data.proposals is not None
    assert len(data.proposals) == len(order) > 400  # 永川's 263 social-work rooms among them
    text, tables = _docx(out / "report.docx")
    rows = next(t for t in tables if t[0][0] == "年份")
    shown = pd.DataFrame(rows[1:], columns=rows[0])
    rest = order[~order["featured"]]
    assert len(shown) == len(rest)
    for (_, row), (_, site) in zip(shown.iterrows(), rest.iterrows(), strict=True):
        assert row["指标（同时服务）"].split("（")[0] == site["indicator_id"]
        assert (row["序号"], row["镇街"], row["村（社区）"]) == (str(site["rank"]), site["township"], site["village"])
    for _, site in order[order["featured"]].iterrows():
        page = f"{site['indicator_id']} 第 {site['rank']} 处：{site['township']} {site['village']}"
        assert page in text
        assert f"镇街：{site['township']}" in text
        assert f"村（社区）：{site['village']}" in text
    pdf = _flat("".join(_pdf_pages(out / "report.pdf")))
    for _, site in order[order["featured"]].iterrows():
        assert _flat(f"{site['indicator_id']} 第 {site['rank']} 处：{site['township']} {site['village']}") in pdf
    # every site of the table: its township and village as a pair of cells; a village holding n sites appears
    # at least n times
    for (town, village), n in rest.groupby(["township", "village"]).size().items():
        assert pdf.count(_flat(town) + _flat(village)) >= n, (town, village)
    assert "其余建议选址" in pdf
    assert "前20处" not in pdf


def test_the_run_s_network_is_used_not_built_again(run_out: tuple[Path, Path, Path], data: ReportData,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`gisplan run` hands its road network to the report (RunResult.network): given one, reading the report's
    data never builds the network again."""
    import gisplan.workflows.coverage as coverage_module

    def _no_rebuild(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the road network was built again")

    monkeypatch.setattr(coverage_module, "scenario_network", _no_rebuild)
    scenario, store, out = run_out
    sc = load_scenario(scenario)
    again = read_report_data(out / "results.gpkg", open_workspace(store), sc, catalogue_for(sc, ()),
                             today=dt.date(2026, 12, 1), network=data.network)
    assert again.network is data.network


def test_site_pages_show_the_service_area(content: ReportContent, data: ReportData) -> None:
    """The data behind each site page's map: the road-network service area of the new site within its type's
    threshold holds the site, has an area, and holds the demand points the site reaches (up to their access leg)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    assert data.network is not None
    pages = content.site_pages
    assert len(pages) >= 10
    props = data.proposals.set_index(data.proposals["site_id"].astype(str))
    demand = data.demand.to_crs(data.crs)
    trim = data.scenario.coverage.trim_m
    reached_any = 0
    for page in pages:
        area = page.area
        assert area is not None, page.heading
        site = props.loc[page.site_id]
        here = gpd.GeoSeries(gpd.points_from_xy([float(site["lon"])], [float(site["lat"])]), crs="EPSG:4326")
        point = here.to_crs(data.crs).iloc[0]
        assert area.minutes == data.type_thresholds[str(site["facility_type"])]
        assert 0.01 < area.area_km2 < 100, page.heading
        assert shapely.distance(area.polygon, point) < 1.0 or area.polygon.contains(point), page.heading
        pts = demand.geometry.iloc[area.reached].to_numpy()
        gap = shapely.distance(area.polygon, pts)
        assert np.all(gap <= np.maximum(0.0, area.reached_access_m - 0.75 * trim) + 1.0), page.heading
        reached_any += len(area.reached) > 0
        assert any(k == "服务范围" and f"{area.minutes:g} 分钟" in v for k, v in page.fields)
    assert reached_any >= len(pages) - 1


def test_illustrative_label_on_the_cover_and_every_page(run_out: tuple[Path, Path, Path]) -> None:
    pages = _pdf_pages(run_out[2] / "report.pdf")
    assert len(pages) > 10
    assert "示意 ILLUSTRATIVE" in pages[0]
    assert all("示意" in page for page in pages)
    # the map notice (内部用图 unless the scenario gives a 审图号) and the boundary disclaimer on every page
    assert all("内部用图" in page and "界线不作为权属争议依据" in page for page in pages)
    text, _ = _docx(run_out[2] / "report.docx")
    assert "示意 ILLUSTRATIVE" in text


def test_chart_labels_are_text_in_the_pdf(run_out: tuple[Path, Path, Path]) -> None:
    text = "".join(_pdf_pages(run_out[2] / "report.pdf"))
    assert "出行时间（分钟）" in text  # the coverage curve's axis, drawn as SVG text
    assert "目录" in text
    assert "数据来源" in text


def test_workbook_numbers_and_codes(run_out: tuple[Path, Path, Path]) -> None:
    from openpyxl import load_workbook

    out = run_out[2]
    book = load_workbook(out / "tables.xlsx")
    assert {"指标", "镇街覆盖", "每百户面积", "覆盖缺口", "缺设施区划", "建议选址", "数据来源", "说明"} <= set(book.sheetnames)
    sheet = book["指标"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref
    table = pd.read_csv(out / "indicators.csv")
    col = header.index("期末值")
    values = [r[col].value for r in sheet.iter_rows(min_row=2)]
    expected = table["value"].round(1)
    assert [None if pd.isna(v) else v for v in expected] == values
    sites = book["建议选址"]
    header = [c.value for c in sites[1]]
    code = header.index("村（社区）代码")
    cells = [r[code] for r in sites.iter_rows(min_row=2)]
    assert all(c.data_type == "s" and re.fullmatch(r"\d{12}", c.value) for c in cells)
    lon = header.index("经度（WGS84）")
    assert sites.cell(row=2, column=lon + 1).number_format == "0.000000"
    floor = book["每百户面积"]
    header = [c.value for c in floor[1]]
    assert floor.cell(row=2, column=header.index("每百户面积（㎡）") + 1).number_format == "0.0"
    assert "示意" in book["说明"]["A1"].value


def test_pages_render_to_png(run_out: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """pdftoppm renders the pages (the closing note of issue 14 says what they looked like)."""
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "3", str(run_out[2] / "report.pdf"),
                    str(tmp_path / "p")], check=True, timeout=120)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == 3
    from PIL import Image

    with Image.open(pngs[0]) as page:
        width, height = page.size
    assert abs(height / width - 297 / 210) < 0.02  # A4 portrait


def test_user_names_stay_text(data: ReportData, tmp_path: Path) -> None:
    """A facility called =HYPERLINK(…) and a village called <script> are printed as typed, never run."""
    assert data.proposals is not None
    facilities = {t: f.assign(name=EVIL_FORMULA) for t, f in data.facilities.items()}
    proposals = data.proposals.assign(village=EVIL_HTML)
    evil = replace(data, facilities=facilities, proposals=proposals)
    content = build_report(evil)
    write_report(content, tmp_path, formats=(ReportFormat.HTML, ReportFormat.DOCX, ReportFormat.XLSX))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert EVIL_HTML not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;)" in html
    _, tables = _docx(tmp_path / "report.docx")
    assert any(EVIL_HTML in cell for t in tables for row in t for cell in row)
    assert any(EVIL_FORMULA in cell for t in tables for row in t for cell in row)
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "tables.xlsx")["建议选址"]
    header = [c.value for c in sheet[1]]
    village = sheet.cell(row=2, column=header.index("村（社区）") + 1)
    assert village.value == EVIL_HTML
    assert village.data_type == "s"
    reason = sheet.cell(row=2, column=header.index("选址理由") + 1)
    assert reason.data_type == "s"
    assert EVIL_FORMULA in reason.value


def test_plan_period_and_completion() -> None:
    sc = load_scenario(ROOT / "scenarios" / "yongchuan-2025.toml")
    assert plan_period(sc, dt.date(2026, 12, 1)) == PlanPeriod(2021, 2025, 2020, ended=True)
    assert not plan_period(sc, dt.date(2024, 6, 1)).ended
    rate = completion_rate(pd.Series([45.0, 50.0, 30.0, float("nan")]), pd.Series([90.0, 40.0, 40.0, 100.0]),
                           pd.Series([">=", "<=", "<=", ">="]))
    assert rate.tolist()[:3] == [50.0, 80.0, 100.0]
    assert pd.isna(rate.iloc[3])


def test_shared_sites_folds_repeated_sites() -> None:
    old = pd.DataFrame({"indicator_id": ["A", "A", "B"], "facility_type": ["t", "t", "t"],
                        "candidate_id": ["N1", "N2", "N1"], "rank": [1, 2, 1]})
    folded = shared_sites(old)
    assert folded["indicator_ids"].tolist() == ["A；B", "A"]
    assert folded["site_id"].tolist() == ["t-N1", "t-N2"]
    new = old.assign(indicator_ids=["A", "A", "B"])
    assert shared_sites(new) is new


def test_zhushan_report_says_what_it_cannot_compute(tmp_path: Path) -> None:
    _need_weasyprint()
    store, out = tmp_path / "zs.gpkg", tmp_path / "out"
    result = CliRunner().invoke(cli, ["report", str(ROOT / "scenarios" / "zhushan-2025.toml"), "-w", str(store),
                                      "--out", str(out), "--format", "pdf,docx"])
    assert result.exit_code == 0, result.output
    assert "has no results yet: running the scenario first" in result.output
    pages = _pdf_pages(out / "report.pdf")
    text = _flat("".join(pages))
    assert _flat("工作空间没有镇街边界面") in text
    assert _flat("没有导入设施台账") in text
    assert "示意" not in "".join(pages)  # real layers only
    assert not (out / "tables.xlsx").exists()
    doc, _ = _docx(out / "report.docx")
    assert "工作空间没有镇街边界面" in doc


def test_bad_format_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(ROOT / "scenarios" / "zhushan-2025.toml"), "-w",
                                      str(tmp_path / "w.gpkg"), "--format", "pdf,odt"])
    assert result.exit_code == 2
    assert "unknown report format 'odt'" in result.output
    assert not (tmp_path / "w.gpkg").exists()


def test_osm_road_attribution_in_the_sources(run_out: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The ODbL attribution of an OpenStreetMap road layer (its metadata note) is in section 7 (issue 22)."""
    import geopandas as gpd
    from shapely.geometry import LineString

    from gisplan.io.osmcache import OSM_ATTRIBUTION
    from gisplan.store import LayerWrite

    scenario, store, out = run_out
    copy = tmp_path / "w.gpkg"
    shutil.copyfile(store, copy)
    ws = open_workspace(copy)
    note = f"OpenStreetMap walk+drive, fetched 2026-11-30; {OSM_ATTRIBUTION}"
    roads = gpd.GeoDataFrame({"road_id": ["1"]}, geometry=[LineString([(105.9, 29.3), (105.91, 29.31)])],
                             crs="EPSG:4326")
    ws.write([LayerWrite("roads", "roads", roads, note=note)], action="test")
    sc = load_scenario(scenario)
    data = read_report_data(out / "results.gpkg", ws, sc, catalogue_for(sc, ()), today=dt.date(2026, 12, 1))
    assert note in data.notes
    write_report(build_report(data), tmp_path, formats=(ReportFormat.HTML,))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    sources = html[html.index('id="sources"'):]
    assert "© OpenStreetMap contributors, ODbL 1.0" in sources


def test_maps_go_into_the_pdf_without_being_compressed_again() -> None:
    """The PDF's map images are the PNGs' own compressed rows: WeasyPrint's image cache is filled with them (if
    a WeasyPrint update changes its images, this fails instead of the report silently getting slower)."""
    import io
    import zlib

    import weasyprint
    from PIL import Image

    from gisplan.outputs.report import MAP_SCHEME, _map_images, png_rows

    pngs = []
    for colour, size in (("red", (30, 20)), ("#1565c0", (7, 11))):
        buf = io.BytesIO()
        Image.new("RGB", size, colour).save(buf, format="PNG", compress_level=3)
        pngs.append(buf.getvalue())
    cache = _map_images(pngs, weasyprint.DEFAULT_OPTIONS)
    assert {f"{MAP_SCHEME}:0", f"{MAP_SCHEME}:1"} <= cache.keys()
    stream = cache[f"{MAP_SCHEME}:1"].get_x_object(interpolate=True, dpi_ratio=1)
    data = b"".join(bytes(part.data) if hasattr(part, "data") else bytes(part) for part in stream.stream)
    assert data == png_rows(pngs[1])
    assert len(zlib.decompress(data)) == 11 * (1 + 3 * 7)  # a filter byte and RGB for each row
    assert stream.extra["Width"] == 7
    assert stream.extra["DecodeParms"]["Colors"] == 3


def test_the_html_is_parsed_as_xml(run_out: tuple[Path, Path, Path]) -> None:
    """The template writes well-formed XHTML, so the PDF's HTML is parsed by Python's XML parser (a few ms) and
    not WeasyPrint's pure-Python HTML5 parser; HTML that is not well-formed still goes to WeasyPrint's."""
    from xml.etree import ElementTree

    import weasyprint

    from gisplan.outputs.report import _parsed

    html = (run_out[2] / "report.html").read_text(encoding="utf-8")
    assert ElementTree.fromstring(html).tag == "html"
    document = _parsed(html, None)
    assert document.etree_element.find("body") is not None
    assert document.etree_element.find(".//{http://www.w3.org/2000/svg}svg") is not None  # the coverage curve
    broken = _parsed("<html><body><p>村\x01</p></body></html>", None)
    assert isinstance(broken, weasyprint.HTML)
    assert broken.etree_element.find(".//p").text == "村\x01"
