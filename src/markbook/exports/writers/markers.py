"""The end of a file that failed half way: it must never look complete.

The worker writes the marker itself when it catches the failure
(:mod:`.batches`, ``fail``); when the worker dies outright the server appends the
same marker from here, knowing only the format and how many rows went out.
"""

from __future__ import annotations

import gzip
import json


def error_text(rows: int, reason: str) -> str:
    return (
        f"EXPORT INCOMPLETE: it failed after {rows:,} rows ({reason}). "
        "This file is not the whole export; run it again."
    )


def closing_marker(fmt: str, rows: int, reason: str, *, compressed: bool) -> bytes:
    """Bytes that end a ``fmt`` file cut off after ``rows`` rows; gzip files get a
    gzip member of their own (RFC 1952 allows several in one file)."""
    text = error_text(rows, reason)
    if fmt == "json":
        element = json.dumps({"error": text})
        marker = ((",\n" if rows else "\n") + element + "\n]\n").encode()
    elif fmt == "ndjson":
        marker = (json.dumps({"error": text}) + "\n").encode()
    elif fmt == "csv":
        marker = ("\r\n" + text + "\r\n").encode()
    else:  # parquet: a file without its footer is refused by every reader anyway
        marker = ("\n" + text + "\n").encode()
    return gzip.compress(marker) if compressed else marker
