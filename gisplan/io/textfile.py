"""A CSV/TSV file's bytes as the text its user typed: the encoding found (UTF-8 with or without BOM, GBK/GB18030,
UTF-16; Big5 refused with a message), line endings made ``\n``, NUL bytes and bare carriage returns inside cells
refused by the row the user sees. :mod:`gisplan.io.tables` reads the text as a table."""

from __future__ import annotations

import logging
import re

from gisplan.errors import Problem, SchemaError
from gisplan.i18n import _

__all__ = ["clean_text", "decode_text"]

logger = logging.getLogger(__name__)


def decode_text(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    """`data` as text and the encoding used: `encoding` when given, else the one found."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            msg = _("cannot decode the file as {encoding}: {exc}.").format(encoding=encoding, exc=exc)
            fix = _("check `--encoding`, or leave it out to detect UTF-8 / GBK automatically.")
            raise SchemaError([Problem(source, None, None, msg, fix)]) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        _refuse_big5(data, text, source)
        return text, "gb18030"
    line = data[: utf8_error.start].count(b"\n") + 1
    msg = (
        _("the file is neither UTF-8 nor GBK/GB18030 text (undecodable bytes on line {line}, byte {start}).").format(
            line=line, start=utf8_error.start)
    )
    fix = _("save it from Excel as 'CSV UTF-8' (or 'CSV' in GBK), or give `--encoding`.")
    raise SchemaError([Problem(source, line, None, msg, fix)])


def _odd_share(text: str) -> tuple[float, int]:
    """The share of the distinct non-ASCII characters of `text` that a simplified-Chinese ledger hardly uses (kana,
    bopomofo, symbols, Han characters outside GB2312's 6,763), and how many non-ASCII characters it has. Real GBK
    text stays near 0; Big5 bytes read as GBK give kana and rare characters (永川區 → ッ跋ㄓ)."""
    chars = _NON_ASCII.findall(text)
    if not chars:
        return 0.0, 0
    distinct = set(chars)
    odd = sum(1 for c in distinct if not _PUNCTUATION.match(c) and not _in_gb2312_han(c))
    return odd / len(distinct), len(chars)


def _in_gb2312_han(char: str) -> bool:
    if not _HAN.match(char):
        return False
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


_HAN = re.compile("[\u4e00-\u9fff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
# CJK and general punctuation, full-width forms, the 〇 and ㎡ of ledgers
_PUNCTUATION = re.compile("[\u2000-\u206f\u3000-\u303f\uff00-\uffef\u00b0-\u00b7\u2103\u33a1\u3007]")
_ODD_LIMIT = 0.3  # share of odd characters above which GBK text is suspect


def _refuse_big5(data: bytes, text: str, source: str) -> None:
    """Big5 (Traditional Chinese, 台湾/香港) bytes decode as GBK without an error, into nonsense characters:
    refuse them and say how to read the file."""
    share, count = _odd_share(text)
    if count < 2 or share <= _ODD_LIMIT:
        return
    try:
        big5 = data.decode("big5")
    except UnicodeDecodeError:
        return
    chars = set(_NON_ASCII.findall(big5))
    if not chars or sum(1 for c in chars if _HAN.match(c) or _PUNCTUATION.match(c)) / len(chars) < 1 - _ODD_LIMIT:
        return
    sample = "".join(_HAN.findall(big5)[:12])
    msg = (_("the file looks like Big5 (Traditional Chinese) text, which reads as nonsense characters in GBK (read "
             "as Big5 it says {sample!r}).").format(sample=sample))
    fix = _("import it with `--encoding big5`, or save it from Excel as 'CSV UTF-8'.")
    raise SchemaError([Problem(source, None, None, msg, fix)])


_BARE_CR = re.compile("\r(?!\n)")


def _line_of(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def clean_text(text: str, source: str) -> str:
    """Line endings made ``\n``; NUL bytes and bare carriage returns inside unquoted cells refused by row.

    Old Mac files end their lines with CR alone: they are read as lines. A CR inside a quoted cell is a line
    break in the cell; outside quotes it would split a row in two, and is reported.
    """
    if "\r" in text and "\n" not in text:
        logger.info("%s: lines end with CR only (old Mac format); read as lines", source)
        text = text.replace("\r", "\n")
    problems = []
    if "\x00" in text:
        lines = sorted({_line_of(text, m.start()) for m in re.finditer("\x00", text)})
        problems += [Problem(source, line, None, "the row holds a NUL byte (\\0), which cuts the text short.",
                             "remove it (often a UTF-16 file without its byte-order mark, or a broken export): "
                             "save the file again from Excel/WPS as 'CSV UTF-8'.") for line in lines[:20]]
    if "\r" in text:
        quoted = []
        for m in _BARE_CR.finditer(text):
            start = text.rfind("\n", 0, m.start()) + 1
            if text.count('"', start, m.start()) % 2:
                quoted.append(m.start())
            else:
                line = _line_of(text, m.start())
                problems.append(Problem(source, line, None, "a bare carriage return (CR) inside a cell splits the "
                                        "row.", "remove the line break from the cell (in Excel: find CHAR(13) / "
                                        "Ctrl+J and replace it), or put the cell in double quotes."))
        for at in quoted:
            text = text[:at] + "\n" + text[at + 1:]
    if problems:
        raise SchemaError(problems[:50])
    return text
