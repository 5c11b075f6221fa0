"""The export worker process: ``python -m markbook.exports.worker``.

The server starts one per export (see :mod:`markbook.exports.pipeline` for why)
and talks to it here: the request goes in on stdin (pickled plain data: the SQL,
its parameters, the columns and the writer's options), frames come back on stdout.
This module is what the server imports, so it loads nothing heavy; the worker's
side (:func:`_main`) imports the pipeline.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import secrets
import struct
import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import IO, Any

HEADER = struct.Struct("<cQ")
NUMBER = struct.Struct("<Q")


class WorkerError(RuntimeError):
    """The worker failed; ``reference`` is in the server log with its traceback."""

    def __init__(self, message: str, reference: str = "", details: str = "") -> None:
        super().__init__(message)
        self.reference = reference
        self.details = details  # the worker's traceback (its stderr)


class Worker:
    """A running export: its count, then its frames; close() stops it."""

    def __init__(self, request: dict[str, Any]) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(pickle.dumps(request))
        finally:
            stdin.close()
        self._stdout: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        kind, payload = self._frame()
        if kind != b"C":
            self.close()
            raise self._error(kind, payload)
        self.total: int = NUMBER.unpack(payload)[0]

    def _frame(self) -> tuple[bytes, bytes]:
        head = self._stdout.read(HEADER.size)
        if len(head) < HEADER.size:
            return b"", b""
        kind, size = HEADER.unpack(head)
        payload = self._stdout.read(size)
        if len(payload) < size:
            return b"", b""
        return kind, payload

    def _error(self, kind: bytes, payload: bytes) -> WorkerError:
        self._process.wait(timeout=10)
        stderr = self._process.stderr
        text = stderr.read().decode(errors="replace").strip() if stderr else ""
        if kind == b"E":
            reported = json.loads(payload)
            return WorkerError(reported["message"], reported["reference"], text)
        return WorkerError(
            f"the export worker stopped (exit code {self._process.returncode})", details=text
        )

    def frames(self) -> Iterator[tuple[bytes, bytes]]:
        """Frames up to the end ("Z"); a failure raises WorkerError."""
        while True:
            kind, payload = self._frame()
            if kind == b"Z":
                return
            if kind in (b"", b"E"):
                raise self._error(kind, payload)
            yield kind, payload

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __del__(self) -> None:
        # An export dropped before its stream started (a client gone before the
        # body) never runs its generator's cleanup: stop and reap the worker here.
        self.close()


def report(out: IO[bytes], error: BaseException, reference: str) -> None:
    """Send the "E" frame for ``error``, its traceback to stderr for the server's log."""
    sys.stderr.write(f"export worker failed (reference {reference}):\n")
    traceback.print_exception(error, file=sys.stderr)
    body = json.dumps(
        {"message": f"{type(error).__name__}: {error}", "reference": reference}
    ).encode()
    # The server may be gone already (client gone, export cancelled): nobody to tell.
    with contextlib.suppress(OSError):
        out.write(HEADER.pack(b"E", len(body)) + body)
        out.flush()


def _main() -> int:  # pragma: no cover - runs in the worker; covered through Worker
    from markbook.exports import pipeline
    from markbook.exports.writers.cells import DateStyle, Kind

    out = sys.stdout.buffer
    try:
        raw = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own server process
        sources = [
            pipeline.Source(
                **{
                    **source,
                    "fields": [pipeline.Field(name, Kind(kind)) for name, kind in source["fields"]],
                }
            )
            for source in raw.pop("sources")
        ]
        request = pipeline.Request(
            **{**raw, "sources": sources, "date_style": DateStyle(raw["date_style"])}
        )
        pipeline.run(request, out)
    except BrokenPipeError:
        return 0  # the server went away (client gone, export cancelled)
    except pipeline.Failed as failed:
        report(out, failed.error, failed.reference)
        return 1
    except Exception as error:
        report(out, error, secrets.token_hex(4))
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
