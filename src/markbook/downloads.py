"""What every download shares: file names and the Content-Disposition header."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def ascii_name(text: str) -> str:
    """``text`` as plain ASCII for a file name: accents dropped, anything else ``_``.

    "José Núñez" -> "Jose_Nunez"; a name with no Latin letters at all comes back
    empty, so the caller can choose a fallback.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _UNSAFE.sub("_", plain).strip("._-")


def file_name(text: str) -> str:
    """``text`` made safe as a file name in any script: no path separators, control
    characters or quotes, and at most 150 characters."""
    cleaned = "".join(
        "_" if ch in '/\\"<>:|?*' or unicodedata.category(ch)[0] in "CZ" else ch
        for ch in unicodedata.normalize("NFC", text)
    )
    return cleaned.strip("._")[:150] or "download"


def content_disposition(filename: str, ascii_fallback: str) -> str:
    """``attachment`` with both file names of RFC 6266: the ASCII ``filename`` for old
    clients and ``filename*`` (RFC 8187, UTF-8, percent-encoded) for everyone else."""
    return f"attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
