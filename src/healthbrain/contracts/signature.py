"""The drawn signature of a contract: a PNG image as a ``data:`` URL, checked before it is stored.

Pure: the checks read the bytes only. A canvas's ``toDataURL("image/png")`` of a 600×200 pad is about
10–30 KB; the bounds leave room for a scanned paper signature and refuse anything that is not a small PNG.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from typing import Final

PREFIX: Final = "data:image/png;base64,"
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
MAX_BYTES: Final = 256 * 1024  # decoded image
MAX_DATA_URL_CHARS: Final = len(PREFIX) + (MAX_BYTES + 2) // 3 * 4
MAX_SIDE: Final = 4000  # pixels
MIN_BYTES: Final = 67  # the smallest valid PNG (1×1)


class SignatureError(ValueError):
    """Why a signature was refused; ``reason`` names a message (``error.signature.<reason>``)."""

    def __init__(self, reason: str, **params: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


@dataclass(frozen=True, slots=True)
class SignatureImage:
    width: int
    height: int
    size: int  # bytes


def check_signature(data_url: str) -> SignatureImage:
    """The image's size if ``data_url`` is a bounded PNG data URL; raises :class:`SignatureError`."""
    if not data_url.startswith(PREFIX):
        raise SignatureError("not_png_data_url")
    if len(data_url) > MAX_DATA_URL_CHARS:
        raise SignatureError("too_large", max_kb=MAX_BYTES // 1024)
    try:
        raw = base64.b64decode(data_url[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("bad_base64") from None
    if len(raw) > MAX_BYTES:
        raise SignatureError("too_large", max_kb=MAX_BYTES // 1024)
    if len(raw) < MIN_BYTES or not raw.startswith(PNG_MAGIC) or raw[12:16] != b"IHDR":
        raise SignatureError("not_png")
    width, height = struct.unpack(">II", raw[16:24])
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise SignatureError("bad_dimensions", max_side=MAX_SIDE)
    return SignatureImage(width=width, height=height, size=len(raw))
