"""click's own texts (``Usage:``, ``Error: …``, ``Missing argument``, ``Try '… --help' for help.``, the messages of
its parameter types) in the interface language.

click marks its texts with the standard library's ``gettext.gettext``/``ngettext``, which follow the process's
locale variables and the default text domain, not ``--lang``. :func:`install_click_catalogue` points the names
click's modules call at :mod:`gisplan.i18n`'s catalogue of click's texts (``locale/<lang>/LC_MESSAGES/click.po``,
kept by ``scripts/i18n.py`` from the installed click's source), so they follow the language chosen per command.
"""

from __future__ import annotations

import contextlib
import gettext
import importlib
import sys

from gisplan.i18n import CLICK_DOMAIN, dgettext, dngettext

__all__ = ["click_gettext", "click_ngettext", "install_click_catalogue"]


def click_gettext(message: str) -> str:
    """One of click's texts in the language spoken now."""
    return dgettext(CLICK_DOMAIN, message)


def click_ngettext(singular: str, plural: str, n: int) -> str:
    """One of click's texts with a count, in the language spoken now."""
    return dngettext(CLICK_DOMAIN, singular, plural, n)


def install_click_catalogue() -> list[str]:
    """Make every loaded ``click`` module translate through gisplan's catalogue of click's texts.

    Only the names bound to the standard library's functions are replaced (``from gettext import gettext as _``,
    ``from gettext import ngettext``); calling it again changes nothing. English stays English: the catalogue
    is consulted only when the language spoken is not English.

    Returns
    -------
    list[str]
        The click modules changed (empty on a second call).
    """
    for lazy in ("click.shell_completion", "click._termui_impl"):  # click imports these on first use
        with contextlib.suppress(ImportError):
            importlib.import_module(lazy)
    changed = []
    for name, module in sorted(sys.modules.items()):
        if module is None or not (name == "click" or name.startswith("click.")):
            continue
        names = vars(module)
        touched = False
        if names.get("_") is gettext.gettext:
            module._ = click_gettext  # type: ignore[attr-defined]
            touched = True
        if names.get("ngettext") is gettext.ngettext:
            module.ngettext = click_ngettext  # type: ignore[attr-defined]
            touched = True
        if touched:
            changed.append(name)
    return changed
