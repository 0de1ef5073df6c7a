"""Keep the interface catalogues (gisplan/locale/<lang>/LC_MESSAGES/gisplan.po and .mo) in step with the code.

    python scripts/i18n.py extract   # update the .po: strings marked _()/N_()/ngettext() and every --help text
    python scripts/i18n.py compile   # .po → .mo (Babel), what the package ships and gisplan.i18n reads
    python scripts/i18n.py check     # exit 1 when a string lacks its translation or the .mo is stale

The --help texts are the exact strings click hands the help formatter, recorded by rendering every command's
help in English (gisplan.cli.helptext.RecordingFormatter): no copy of them is kept by hand.

click's own texts (Usage:, Error: …, Missing argument …) have their own catalogue, click.po beside gisplan.po,
extracted from the installed click's source (gisplan.cli.clicktext routes click's gettext calls to it). A click
text without its translation is listed by `check` but does not fail it: a newer click may add texts, and they
are shown in English until translated.
"""

from __future__ import annotations

import ast
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from gisplan.cli.helptext import GisplanContext, HelpFormatter, RecordingFormatter, walk_commands  # noqa: E402
from gisplan.cli.main import cli  # noqa: E402

KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
LANGS = {"zh_CN": "zh"}


DOMAINS = ("gisplan", "click")


def _po(locale: str, domain: str = "gisplan") -> Path:
    return ROOT / "gisplan" / "locale" / locale / "LC_MESSAGES" / f"{domain}.po"


def click_template() -> Catalog:
    """The catalogue of click's own texts, from the installed click's source."""
    import click  # noqa: PLC0415 — only this catalogue needs its source folder

    cat = Catalog(project="click", charset="utf-8")
    folder = Path(click.__file__).parent
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(folder), method_map=[("**.py", "python")], keywords={"_": None, "ngettext": (1, 2)}):
        if filename.startswith("_winconsole"):
            continue  # Windows consoles only
        cat.add(message, locations=[(f"click/{filename}", lineno)])
    return cat


def _templates() -> dict[str, Catalog]:
    return {"gisplan": template(), "click": click_template()}


def help_texts() -> list[str]:
    """Every text the help formatter is asked to translate, over every command's --help."""
    RecordingFormatter.seen.clear()
    GisplanContext.formatter_class = RecordingFormatter
    try:
        paths: list[list[str]] = []

        def collect(cmd: object, path: list[str]) -> None:
            paths.append(path)
            for name, sub in sorted(getattr(cmd, "commands", {}).items()):
                collect(sub, [*path, name])

        collect(cli, [])
        assert len(paths) == len(list(walk_commands(cli)))
        runner = CliRunner()
        for path in paths:
            result = runner.invoke(cli, [*path, "--help"], env={"GISPLAN_LANG": "en", "COLUMNS": "100"})
            if result.exit_code != 0:
                sys.exit(f"gisplan {' '.join(path)} --help failed: {result.output}")
    finally:
        GisplanContext.formatter_class = HelpFormatter
    return list(RecordingFormatter.seen)


#: the constant message and fix of a problem, by call: ``Problem(source, row, field, message, fix)`` and the
#: validators' collector ``.table(field, message, fix)`` / ``.at(mask, field, message, fix)``;
#: errors.Problem translates them when shown, so the modules that raise them need no marks
PROBLEM_CALLS = {"Problem": (3, 4), "table": (1, 2), "at": (2, 3)}


def problem_texts() -> list[tuple[str, str, int]]:
    """(text, file, line) of every constant problem message and fix in gisplan/."""
    found = []
    for path in sorted((ROOT / "gisplan").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in PROBLEM_CALLS:
                continue
            args = [node.args[i] for i in PROBLEM_CALLS[name] if i < len(node.args)]
            args += [kw.value for kw in node.keywords if kw.arg in {"message", "fix"}]
            found += [(a.value, str(path.relative_to(ROOT)), a.lineno) for a in args
                      if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value]
    return found


def template() -> Catalog:
    """The catalogue of every msgid: marked strings in gisplan/, problems' constant texts and the --help texts."""
    cat = Catalog(project="gisplan", charset="utf-8")
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT / "gisplan"), method_map=[("**.py", "python")], keywords=KEYWORDS):
        cat.add(message, locations=[(f"gisplan/{filename}", lineno)])
    for text, filename, lineno in problem_texts():
        if text not in cat:
            cat.add(text, locations=[(filename, lineno)])
    for text in help_texts():
        if text not in cat:
            cat.add(text, locations=[("--help", 0)])
    return cat


def extract() -> None:
    for domain, tmpl in _templates().items():
        for locale in LANGS:
            path = _po(locale, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with path.open("rb") as fh:
                    cat = read_po(fh, locale=locale)
            else:
                cat = Catalog(locale=locale, project=domain, charset="utf-8")
            cat.update(tmpl, no_fuzzy_matching=True)
            if domain == "gisplan":
                cat.obsolete.clear()  # click's: kept, for the texts of other click versions
            with path.open("wb") as fh:
                write_po(fh, cat, width=120, no_location=True, sort_output=True)  # as committed; stable under merges
            missing = [m.id for m in cat if m.id and not m.string]
            print(f"{path.relative_to(ROOT)}: {len(cat)} messages, {len(missing)} untranslated")


def _compiled(locale: str, domain: str = "gisplan") -> bytes:
    with _po(locale, domain).open("rb") as fh:
        cat = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    return buf.getvalue()


def compile_mo() -> None:
    for domain in DOMAINS:
        for locale in LANGS:
            mo = _po(locale, domain).with_suffix(".mo")
            mo.write_bytes(_compiled(locale, domain))
            print(mo.relative_to(ROOT))


def _gaps(tmpl: Catalog, locale: str, domain: str) -> list[str]:
    with _po(locale, domain).open("rb") as fh:
        cat = read_po(fh, locale=locale)
    gaps = []
    for msg in tmpl:
        if not msg.id:
            continue
        have = cat.get(msg.id)
        if have is None:
            gaps.append(f"{locale}: not in {domain}.po (run scripts/i18n.py extract): {msg.id!r:.80}")
        elif not have.string or (isinstance(have.string, tuple) and not all(have.string)):
            gaps.append(f"{locale}: untranslated in {domain}.po: {msg.id!r:.80}")
    return gaps


def check() -> list[str]:
    """What is out of step: msgids missing from gisplan.po, untranslated ones, a stale .mo."""
    tmpl = template()
    problems = []
    for locale in LANGS:
        problems += _gaps(tmpl, locale, "gisplan")
        for domain in DOMAINS:
            if _po(locale, domain).with_suffix(".mo").read_bytes() != _compiled(locale, domain):
                problems.append(f"{locale}: {domain}.mo is stale (run scripts/i18n.py compile)")
    return problems


def click_gaps() -> list[str]:
    """click's texts (of the installed click) that click.po lacks or leaves untranslated (shown in English)."""
    tmpl = click_template()
    return [gap for locale in LANGS for gap in _gaps(tmpl, locale, "click")]


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "extract":
        extract()
    elif command == "compile":
        compile_mo()
    elif command == "check":
        found = check()
        notes = click_gaps()
        if notes:
            print("\n".join(["note: shown in English until translated:", *notes]))
        print("\n".join(found) or "catalogues complete and compiled")
        sys.exit(1 if found else 0)
    else:
        sys.exit(__doc__)
