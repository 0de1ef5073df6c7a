"""``report.docx``: the report's sections with real Word headings (标题 1/2/3), tables whose header row repeats on
every page, and the maps as images, so a planner can edit it in Word or WPS and keep the structure.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from gisplan.outputs.report_tables import rest_sites

if TYPE_CHECKING:
    from pathlib import Path

    from docx.document import Document as DocumentType
    from docx.table import Table as DocxTable

    from gisplan.outputs.report import ReportContent
    from gisplan.outputs.report_tables import Table

__all__ = ["write_docx"]

_EAST_ASIAN_FONT = "宋体"  # Word and WPS both have it; the text itself is Unicode either way
_RED = RGBColor(0xC6, 0x28, 0x28)


def _fonts(doc: DocumentType) -> None:
    for name in ("Normal", "Heading 1", "Heading 2", "Heading 3", "Title", "Table Grid"):
        style = doc.styles[name]
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), _EAST_ASIAN_FONT)
    doc.styles["Normal"].font.size = Pt(10.5)


def _repeat_header(table: DocxTable) -> None:
    trpr = table.rows[0]._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    trpr.append(flag)


def _table(doc: DocumentType, table: Table, *, illustrative: bool, size: float = 8.0) -> None:
    caption = doc.add_paragraph(table.title + ("（示意）" if illustrative else ""))
    caption.runs[0].bold = True
    rows = table.shown()
    columns = [str(c) for c in table.frame.columns]
    out = doc.add_table(rows=len(rows) + 1, cols=len(columns))
    out.style = doc.styles["Table Grid"]
    cells = out._cells
    width = len(columns)
    for j, name in enumerate(columns):
        cells[j].text = name
        for run in cells[j].paragraphs[0].runs:
            run.bold = True
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            cells[i * width + j].text = value
    for cell in cells:
        for paragraph in cell.paragraphs:
            for run in paragraph.runs:
                run.font.size = Pt(size)
    if not rows:
        merged = out.add_row().cells
        merged[0].merge(merged[-1]).text = "无数据"
    _repeat_header(out)
    if table.note:
        doc.add_paragraph(table.note)


def _picture(doc: DocumentType, png: bytes, caption: str, width_cm: float = 15.5) -> None:
    doc.add_picture(io.BytesIO(png), width=Cm(width_cm))
    doc.add_paragraph(caption).alignment = WD_ALIGN_PARAGRAPH.CENTER


def _warn(doc: DocumentType, text: str) -> None:
    run = doc.add_paragraph().add_run(text)
    run.font.color.rgb = _RED
    run.bold = True


def write_docx(content: ReportContent, path: Path) -> None:
    """Write the report as a Word document at `path`."""
    data = content.data
    doc = Document()
    _fonts(doc)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.orientation = WD_ORIENT.PORTRAIT
    section.left_margin = section.right_margin = Cm(1.8)
    if data.illustrative:
        section.header.paragraphs[0].text = "示意数据 ILLUSTRATIVE — 含生成的示意数据，不是真实设施"
    mark = "（示意）" if data.illustrative else ""
    doc.add_heading(data.title, level=0)
    doc.add_paragraph("设施覆盖与选址论证报告")
    ended = "（已结束，终期评估）" if data.period.ended else ""
    doc.add_paragraph(f"行政区划代码：{data.district_code}　规划期：{data.period.label}{ended}　"
                      f"报告日期：{data.generated.isoformat()}")
    if data.illustrative:
        _warn(doc, f"示意 ILLUSTRATIVE：本报告使用了生成的示意数据（{'、'.join(data.illustrative_layers)}），"
                   "不是真实设施和住户；数值只说明方法，不反映本区实际情况。")
    doc.add_heading("1　摘要", level=1)
    for line in content.findings:
        doc.add_paragraph(line, style="List Bullet")
    if content.limits:
        doc.add_heading("本报告无法测算的内容", level=2)
        for line in content.limits:
            doc.add_paragraph(line, style="List Bullet")
    doc.add_heading("2　指标评估", level=1)
    _table(doc, content.indicators, illustrative=data.illustrative, size=7.0)
    doc.add_heading("3　覆盖分析", level=1)
    for table in content.coverage:
        _table(doc, table, illustrative=data.illustrative)
    _table(doc, content.floor_area, illustrative=data.illustrative)
    _table(doc, content.admin_summary, illustrative=data.illustrative)
    _table(doc, content.gaps, illustrative=data.illustrative)
    doc.add_heading("4　专题地图", level=1)
    for figure in content.maps:
        _picture(doc, figure.png, figure.caption)
    doc.add_heading("5　选址方案", level=1)
    for page in content.site_pages:
        doc.add_heading(page.heading, level=2)
        _picture(doc, page.map.png, f"站点与其服务范围（蓝色面：新址沿道路在阈值内可达的范围）{mark}", width_cm=9.0)
        for key, value in page.fields:
            doc.add_paragraph(f"{key}：{value}")
        doc.add_paragraph(page.rationale)
    if len(content.sites.frame):
        _table(doc, rest_sites(content.sites), illustrative=data.illustrative, size=6.5)
    else:
        doc.add_paragraph("本次运行没有新增选址。")
    doc.add_heading("6　方法与参数", level=1)
    _table(doc, content.method, illustrative=False)
    doc.add_heading("7　数据来源", level=1)
    for note in content.attributions:
        doc.add_paragraph(note)
    _table(doc, content.layers, illustrative=False, size=7.0)
    doc.save(str(path))
