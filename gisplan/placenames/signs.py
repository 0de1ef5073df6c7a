"""地名标志 (place-name signs): sign records and the QR codes that link a sign to its name's public record.

A sign record (layer ``place_signs``, :data:`SIGN_COLUMNS`) holds the sign's location, the standard name and
pinyin it shows, its type, its state and the date it was installed. Its QR code encodes the name's public
record URL, ``base_url`` with ``{id}`` replaced by the place id (``http://HOST/places/{id}``; the service issue
publishes these pages).
"""

from __future__ import annotations

import io

import segno

from gisplan.errors import ConfigError
from gisplan.i18n import _

__all__ = ["SIGN_COLUMNS", "qr_image", "record_url"]

SIGN_COLUMNS = ("sign_id", "place_id", "standard_name", "pinyin", "sign_type", "state", "installed_date",
                "inspected_date", "remarks", "url")


def record_url(base_url: str, place_id: str) -> str:
    """The public record URL of a place: `base_url` with ``{id}`` replaced (or the id appended after ``/``).

    Raises
    ------
    ConfigError
        If `base_url` is not an http(s) URL.

    Examples
    --------
    >>> record_url("http://dm.example.cn/places/{id}", "P000001")
    'http://dm.example.cn/places/P000001'
    >>> record_url("https://dm.example.cn/places", "500118102200")
    'https://dm.example.cn/places/500118102200'
    """
    if not base_url.startswith(("http://", "https://")):
        msg = _("`--base-url` must start with http:// or https:// (got {base_url!r}), e.g. "
                "http://HOST/places/{{id}}.").format(base_url=base_url)
        raise ConfigError(msg)
    if "{id}" in base_url:
        return base_url.replace("{id}", place_id)
    return f"{base_url.rstrip('/')}/{place_id}"


def qr_image(url: str, *, kind: str = "png", scale: int = 8) -> bytes:
    """A QR code (error correction M, 4-module quiet zone) of `url` as PNG or SVG bytes.

    Raises
    ------
    ConfigError
        If `kind` is neither ``png`` nor ``svg``.

    Examples
    --------
    >>> qr_image("http://dm.example.cn/places/P000001")[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    if kind not in {"png", "svg"}:
        msg = _("QR image kind must be png or svg (got {kind!r}).").format(kind=kind)
        raise ConfigError(msg)
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()
