"""Reading a SQLite export in a child process, through ADBC.

ADBC's SQLite driver fills Arrow batches in C, several times faster than building
Python tuples with the sqlite3 module. But it carries its own copy of SQLite, and
two copies of SQLite in one process corrupt a database: POSIX locks belong to the
process, so one copy closing the file drops the other's locks, and the last
connection of one copy checkpoints and deletes the WAL under the other
(https://www.sqlite.org/howtocorrupt.html, section 2.2.1). We saw exactly that
("file is not a database") when both ran in the server.

So the driver only ever runs in a child process of its own
(``python -m markbook.exports.sqlite_child``), which imports pyarrow and the driver
and nothing of Markbook. It reads the request (JSON) on stdin, counts and reads
inside one read transaction (one snapshot), and writes the count (8 bytes) and
then an Arrow IPC stream to stdout. The pipe's small buffer makes the child wait
for the parent, so memory stays flat; a failure goes to stderr with exit code 1.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any
from urllib.parse import quote

COUNT = struct.Struct("<q")


class SqliteReadError(RuntimeError):
    pass


def _main() -> int:  # pragma: no cover - runs in the child; covered through ChildRead
    request = json.load(sys.stdin)
    out = sys.stdout.buffer
    try:
        import adbc_driver_manager as manager
        import adbc_driver_sqlite
        import pyarrow as pa

        def bound(values: Sequence[Any]) -> Any:
            return pa.record_batch(
                [pa.array([value]) for value in values],
                names=[f"p{i}" for i in range(len(values))],
            )

        path = request["path"]
        # A URI (https://www.sqlite.org/uri.html), so the file is opened read-only;
        # the path is percent-encoded in case it holds ? or #.
        uri = f"file:{quote(path)}?mode=ro" if path != ":memory:" else path
        database = adbc_driver_sqlite.connect(uri)
        connection = manager.AdbcConnection(database)
        connection.set_autocommit(False)  # one read snapshot for the count and the rows

        def query(text: str, values: Sequence[Any]) -> tuple[Any, Any]:
            statement = manager.AdbcStatement(connection)
            statement.set_options(**{"adbc.sqlite.query.batch_rows": str(request["batch_rows"])})
            statement.set_sql_query(text)
            if values:
                statement.bind(bound(values))
            handle, _ = statement.execute_query()
            return statement, pa.RecordBatchReader._import_from_c(handle.address)

        statement, reader = query(request["count_sql"], request["count_parameters"])
        total = sum(int(value.as_py()) for batch in reader for value in batch.column(0))
        reader.close()
        statement.close()
        out.write(COUNT.pack(total))
        out.flush()
        statement, reader = query(request["sql"], request["parameters"])
        with pa.ipc.new_stream(out, reader.schema) as stream:
            for batch in reader:
                stream.write_batch(batch)
        reader.close()
        statement.close()
        connection.rollback()
        connection.close()
        database.close()
        out.flush()
    except BrokenPipeError:
        return 0  # the reader went away (client gone, export cancelled)
    except Exception as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1
    return 0


class ChildRead:
    """The rows of one query, read by a child process; close() stops it."""

    def __init__(
        self,
        path: str,
        count: tuple[str, Sequence[Any]],
        rows: tuple[str, Sequence[Any]],
        batch_rows: int,
    ) -> None:
        request = {
            "path": path,
            "count_sql": count[0],
            "count_parameters": list(count[1]),
            "sql": rows[0],
            "parameters": list(rows[1]),
            "batch_rows": batch_rows,
        }
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request).encode())
        finally:
            stdin.close()
        self._stdout: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        head = self._stdout.read(COUNT.size)
        if len(head) != COUNT.size:
            self.close()
            raise SqliteReadError(self._failure())
        self.total = COUNT.unpack(head)[0]

    def _failure(self) -> str:
        self._process.wait(timeout=10)
        stderr = self._process.stderr
        message = stderr.read().decode(errors="replace").strip() if stderr else ""
        return message or f"the export reader stopped (exit code {self._process.returncode})"

    def batches(self) -> Iterator[Any]:
        import pyarrow as pa

        try:
            with pa.ipc.open_stream(self._stdout) as stream:
                yield from stream
        except (pa.ArrowInvalid, OSError) as error:
            raise SqliteReadError(self._failure() or str(error)) from error
        if self._process.wait(timeout=30) != 0:
            raise SqliteReadError(self._failure())

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
