"""The CSV writer: typed rows in, RFC 4180 bytes out, a chunk at a time.

Nothing holds the whole file: rows are encoded into a small buffer that is handed
to the sink whenever it fills, so a million-row export needs as much memory as a
ten-row one.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import BinaryIO, Literal, Self

from markbook.exports.writers.cells import Column, DateStyle, Renderer, guard_formula, renderer

__all__ = ["DELIMITERS", "CsvWriter", "Encoding"]

DELIMITERS = frozenset({",", ";", "\t", "|"})
Encoding = Literal["utf-8", "utf-8-sig"]
# Big enough that a sink (a socket, a storage upload) sees few large writes.
_CHUNK_CHARS = 64 * 1024


class CsvWriter:
    """Writes headers and rows of typed values to a binary sink.

    ``encoding="utf-8-sig"`` starts the file with a byte order mark, which Excel
    needs to read UTF-8; text cells are guarded against formula injection unless
    ``guard=False``. The sink is flushed, never closed: that is the caller's.
    """

    def __init__(
        self,
        sink: BinaryIO,
        *,
        delimiter: str = ",",
        encoding: Encoding = "utf-8",
        null: str = "",
        guard: bool = True,
        date_style: DateStyle = DateStyle.ISO,
    ) -> None:
        if delimiter not in DELIMITERS:
            raise ValueError(f"delimiter must be one of {sorted(DELIMITERS)!r}, not {delimiter!r}")
        if encoding not in ("utf-8", "utf-8-sig"):
            raise ValueError(f"encoding must be utf-8 or utf-8-sig, not {encoding!r}")
        self._buffer = _ChunkBuffer(sink, bom=encoding == "utf-8-sig")
        self._csv = csv.writer(
            self._buffer,
            delimiter=delimiter,
            quoting=csv.QUOTE_MINIMAL,
            lineterminator="\r\n",
        )
        self._null = null
        self._guard = guard
        self._date_style = date_style
        self._sections = 0

    def write_header(self, columns: Sequence[Column]) -> None:
        self._write_texts([column.label for column in columns])

    def write_rows(self, columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> int:
        """Write ``rows`` (one value per column, in order); returns how many were written."""
        renderers = self._renderers(columns)
        writerow = self._csv.writerow
        count = 0
        for row in rows:
            writerow([render(value) for render, value in zip(renderers, row, strict=True)])
            count += 1
        return count

    def write_section(
        self, title: str, columns: Sequence[Column], rows: Iterable[Sequence[object]]
    ) -> int:
        """A titled table: a blank line before it (unless it is the first), the title row,
        the header row and the rows."""
        if self._sections:
            self._csv.writerow(())
        self._sections += 1
        self._write_texts([title])
        self.write_header(columns)
        return self.write_rows(columns, rows)

    def flush(self) -> None:
        """Hand everything written so far to the sink."""
        self._buffer.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()

    def _write_texts(self, texts: list[str]) -> None:
        self._csv.writerow([guard_formula(text) if self._guard else text for text in texts])

    def _renderers(self, columns: Sequence[Column]) -> list[Renderer]:
        return [
            renderer(column.kind, null=self._null, date_style=self._date_style, guard=self._guard)
            for column in columns
        ]


class _ChunkBuffer:
    """The text file the csv module writes to: collects lines, encodes them in chunks."""

    def __init__(self, sink: BinaryIO, *, bom: bool) -> None:
        self._sink = sink
        self._parts: list[str] = []
        self._size = 0
        self._pending_bom = bom

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _CHUNK_CHARS:
            self.flush()
        return len(text)

    def flush(self) -> None:
        data = "".join(self._parts).encode("utf-8")
        self._parts.clear()
        self._size = 0
        if self._pending_bom:
            # Once, at the very start of the file, whatever the sections after it.
            data = codecs.BOM_UTF8 + data
            self._pending_bom = False
        self._write_all(data)
        self._sink.flush()

    def _write_all(self, data: bytes) -> None:
        # A raw (unbuffered) sink may take only part of a chunk; one whose write()
        # returns None (some hand-made sinks) is taken to have taken all of it.
        view = memoryview(data)
        while view:
            written = self._sink.write(view)
            view = view[len(view) if written is None else written :]
