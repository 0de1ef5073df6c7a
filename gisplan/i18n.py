"""The interface language: gettext catalogues (``gisplan/locale/<lang>/LC_MESSAGES/gisplan.mo``, compiled with
Babel from the ``.po`` beside them by ``scripts/i18n.py``) and the ``_()`` every user-facing string goes through.

English is the source language and the fallback. The CLI chooses the language once per command
(:func:`use_language`: ``--lang``, else ``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG``); the library on its own
speaks English until told otherwise.

Examples
--------
>>> previous = use_language("zh")
>>> _("Fix:"), language()
('修改方法：', 'zh')
>>> use_language(previous)  # back to what it was
'zh'
>>> _("Fix:")
'Fix:'
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CLICK_DOMAIN", "DOMAIN", "LANGUAGES", "LOCALE_DIR", "N_", "_", "dgettext", "dngettext", "language",
           "language_from_env", "ngettext", "use_language"]

DOMAIN = "gisplan"
#: the catalogue of click's own texts (Usage:, Error: …, Missing argument …), kept beside gisplan's
CLICK_DOMAIN = "click"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: the languages of the interface: code → the catalogue folder under LOCALE_DIR ("en" is the source, no catalogue)
LANGUAGES = {"en": None, "zh": "zh_CN"}

_NULL = gettext.NullTranslations()
_loaded: dict[tuple[str, str], gettext.NullTranslations] = {}
_state = {"lang": "en"}  # the one piece of mutable state: the CLI sets it per command, tests restore it


def _translations(lang: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    folder = LANGUAGES[lang]
    if folder is None:
        return _NULL
    if (lang, domain) not in _loaded:
        path = LOCALE_DIR / folder / "LC_MESSAGES" / f"{domain}.mo"
        with path.open("rb") as fh:
            _loaded[lang, domain] = gettext.GNUTranslations(fh)
    return _loaded[lang, domain]


def language_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``"zh"`` when the locale is Chinese (the first set of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``
    starts with ``zh``), else ``"en"`` (C, POSIX, en_US … or nothing set).

    >>> language_from_env({"LANG": "zh_CN.UTF-8"}), language_from_env({"LANG": "C.UTF-8"}), language_from_env({})
    ('zh', 'en', 'en')
    >>> language_from_env({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"})
    'en'
    """
    env = os.environ if environ is None else environ
    for key in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key, "")
        if value:
            return "zh" if value.split(":")[0].lower().startswith("zh") else "en"
    return "en"


def use_language(lang: str | None) -> str:
    """Speak `lang` (``"en"`` or ``"zh"``; ``None``: the locale's, :func:`language_from_env`) from now on.

    Returns
    -------
    str
        The language spoken before, to restore it.

    Raises
    ------
    ValueError
        If `lang` is not one of :data:`LANGUAGES`.
    """
    chosen = language_from_env() if lang is None else lang
    if chosen not in LANGUAGES:
        msg = f"`lang` must be one of {', '.join(LANGUAGES)} (got {lang!r})."
        raise ValueError(msg)
    for domain in (DOMAIN, CLICK_DOMAIN):
        _translations(chosen, domain)  # a missing catalogue fails here, not in the middle of a message
    before = _state["lang"]
    _state["lang"] = chosen
    return before


def language() -> str:
    """The language spoken now (``"en"`` or ``"zh"``)."""
    return _state["lang"]


def _(message: str) -> str:
    """`message` in the language spoken now (itself when the catalogue has no translation)."""
    if not message:  # gettext("") is the catalogue's header
        return message
    return _translations(_state["lang"]).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """`singular` or `plural` by `n`, in the language spoken now."""
    return _translations(_state["lang"]).ngettext(singular, plural, n)


def dgettext(domain: str, message: str) -> str:
    """`message` from another catalogue (:data:`CLICK_DOMAIN`) in the language spoken now.

    >>> previous = use_language("zh")
    >>> dgettext(CLICK_DOMAIN, "Missing argument")
    '缺少参数'
    >>> use_language(previous)
    'zh'
    """
    if not message:
        return message
    return _translations(_state["lang"], domain).gettext(message)


def dngettext(domain: str, singular: str, plural: str, n: int) -> str:
    """`singular` or `plural` by `n` from another catalogue, in the language spoken now."""
    return _translations(_state["lang"], domain).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 — the gettext name for "mark for translation, translate later"
    """Mark `message` for the catalogue without translating it now (it is translated where it is shown)."""
    return message
