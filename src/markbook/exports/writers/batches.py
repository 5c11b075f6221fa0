"""Writers of columnar batches: CSV, NDJSON, JSON and Parquet, a chunk per batch.

Each writer turns one polars frame at a time into bytes, so a caller can send them
down an HTTP response or into a file as they come and memory stays one batch deep
whatever the row count. The text of each cell follows :mod:`.cells` (through the
vectorised rules of :mod:`.frames`).

A writer also knows how to end a file that failed half way: CSV gets a last line
and JSON a last element saying so, so a cut-off export never looks complete.
"""

from __future__ import annotations

import codecs
import io
import json
import zlib
from collections.abc import Sequence
from typing import Any, Protocol

import polars as pl

from markbook.exports.writers.cells import Column, DateStyle, Kind
from markbook.exports.writers.frames import (
    CANONICAL,
    DATE_PATTERNS,
    DATETIME_PATTERNS,
    text_frame,
)
from markbook.exports.writers.markers import error_text

__all__ = [
    "BatchWriter",
    "CsvBatches",
    "Gzip",
    "JsonBatches",
    "NdjsonBatches",
    "ParquetBatches",
    "error_text",
]


class BatchWriter(Protocol):
    def start(self) -> bytes: ...

    def write(self, frame: pl.DataFrame) -> bytes: ...

    def finish(self) -> bytes: ...

    def fail(self, rows: int, reason: str) -> bytes: ...


class CsvBatches:
    """RFC 4180 CSV (CRLF rows, fields quoted only when they must be)."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        delimiter: str = ",",
        bom: bool = True,
        null: str = "",
        guard: bool = True,
        date_style: DateStyle = DateStyle.ISO,
    ) -> None:
        self.columns = list(columns)
        self.delimiter = delimiter
        self.bom = bom
        self.null = null
        self.guard = guard
        self.date_style = date_style

    def _csv(self, frame: pl.DataFrame, *, header: bool) -> bytes:
        buffer = io.BytesIO()
        frame.write_csv(
            buffer,
            include_header=header,
            separator=self.delimiter,
            line_terminator="\r\n",
            null_value=self.null,
            quote_style="necessary",
        )
        return buffer.getvalue()

    def start(self) -> bytes:
        empty = pl.DataFrame(
            {column.name: pl.Series([], dtype=pl.String) for column in self.columns}
        )
        head = self._csv(empty, header=True)
        return (codecs.BOM_UTF8 + head) if self.bom else head

    def write(self, frame: pl.DataFrame) -> bytes:
        text = text_frame(frame, self.columns, date_style=self.date_style, guard=self.guard)
        return self._csv(text, header=False)

    def finish(self) -> bytes:
        return b""

    def fail(self, rows: int, reason: str) -> bytes:
        return ("\r\n" + error_text(rows, reason) + "\r\n").encode()


def _json_frame(frame: pl.DataFrame, columns: Sequence[Column], style: DateStyle) -> pl.DataFrame:
    """Dates as text in the chosen style; everything else keeps its JSON type."""
    exprs = []
    for column in columns:
        expr = pl.col(column.name)
        if column.kind is Kind.DATE:
            if style is DateStyle.FULL:
                expr = expr.cast(pl.Datetime("us")).dt.strftime(DATETIME_PATTERNS[style])
            else:
                expr = expr.dt.strftime(DATE_PATTERNS[style])
        elif column.kind is Kind.DATETIME:
            expr = expr.dt.strftime(DATETIME_PATTERNS[style])
        exprs.append(expr.alias(column.name))
    return frame.select(exprs)


class NdjsonBatches:
    """One JSON object per line (https://github.com/ndjson/ndjson-spec)."""

    def __init__(self, columns: Sequence[Column], *, date_style: DateStyle = DateStyle.ISO) -> None:
        self.columns = list(columns)
        self.date_style = date_style

    def _lines(self, frame: pl.DataFrame) -> bytes:
        buffer = io.BytesIO()
        _json_frame(frame, self.columns, self.date_style).write_ndjson(buffer)
        return buffer.getvalue()

    def start(self) -> bytes:
        return b""

    def write(self, frame: pl.DataFrame) -> bytes:
        return self._lines(frame)

    def finish(self) -> bytes:
        return b""

    def fail(self, rows: int, reason: str) -> bytes:
        return (json.dumps({"error": error_text(rows, reason)}) + "\n").encode()


class JsonBatches(NdjsonBatches):
    """One JSON array of objects, written a batch at a time."""

    def __init__(self, columns: Sequence[Column], *, date_style: DateStyle = DateStyle.ISO) -> None:
        super().__init__(columns, date_style=date_style)
        self._first = True

    def start(self) -> bytes:
        return b"["

    def write(self, frame: pl.DataFrame) -> bytes:
        # NDJSON lines are objects separated by newlines; a newline inside a string
        # is escaped, so each bare newline is a row boundary.
        lines = self._lines(frame).rstrip(b"\n")
        if not lines:
            return b""
        body = lines.replace(b"\n", b",\n")
        prefix = b"\n" if self._first else b",\n"
        self._first = False
        return prefix + body

    def finish(self) -> bytes:
        return b"\n]\n" if not self._first else b"]\n"

    def fail(self, rows: int, reason: str) -> bytes:
        separator = b"\n" if self._first else b",\n"
        self._first = False
        marker = json.dumps({"error": error_text(rows, reason)}).encode()
        return separator + marker + b"\n]\n"


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken out after each write."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class ParquetBatches:
    """Apache Parquet with typed columns; a row group per batch (pyarrow)."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self._drain = _Drain()
        self._writer: Any = None

    def _table(self, frame: pl.DataFrame) -> Any:
        exprs = []
        for column in self.columns:
            expr = pl.col(column.name)
            if column.kind is Kind.DATETIME:
                # Markbook keeps times in UTC: say so in the file.
                expr = expr.dt.replace_time_zone("UTC")
            exprs.append(expr)
        return frame.select(exprs).to_arrow()

    def start(self) -> bytes:
        return b""

    def write(self, frame: pl.DataFrame) -> bytes:
        import pyarrow.parquet as pq

        table = self._table(frame)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._drain, table.schema, compression="snappy")
        self._writer.write_table(table)
        return self._drain.take()

    def finish(self) -> bytes:
        if self._writer is None:
            empty = pl.DataFrame(schema={c.name: CANONICAL[c.kind] for c in self.columns})
            self.write(empty)
        self._writer.close()
        return self._drain.take()

    def fail(self, rows: int, reason: str) -> bytes:
        # A Parquet file without its footer is refused by every reader; the text
        # after the last row group says why.
        return ("\n" + error_text(rows, reason) + "\n").encode()


class Gzip:
    """gzip (RFC 1952) around another writer's chunks."""

    def __init__(self, inner: BatchWriter, level: int = 6) -> None:
        self.inner = inner
        self._zip = zlib.compressobj(level, zlib.DEFLATED, 31)

    def start(self) -> bytes:
        return self._zip.compress(self.inner.start())

    def write(self, frame: pl.DataFrame) -> bytes:
        return self._zip.compress(self.inner.write(frame))

    def finish(self) -> bytes:
        return self._zip.compress(self.inner.finish()) + self._zip.flush()

    def fail(self, rows: int, reason: str) -> bytes:
        return self._zip.compress(self.inner.fail(rows, reason)) + self._zip.flush()
