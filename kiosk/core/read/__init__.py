"""The read side of the core's SQLite file: every read by a process that is
not the core (the command line, the web console, the reports).

The core is the file's only writer (kiosk/core/store.py).  Everyone else
opens it here with ``mode=ro``: a reader never writes, takes no lock and runs
while the core serves (WAL lets readers and the writer work side by side).
The layout of the file is known in these two places only.

- ``period``: a period of tickets and presses as report columns.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path


class ReadError(Exception):
    """The file cannot be read as a phucvu database; the message is one line for a person."""


def open_readonly(path: str | Path, require: dict[str, tuple[str, ...]], *,
                  any_thread: bool = False) -> sqlite3.Connection:
    """A read-only connection, once the tables and columns in ``require`` are there.

    A file from an older core lacks columns a newer reader needs; saying so
    (start the newer core once, it migrates) beats a bare "no such column".
    """
    p = Path(path)
    if not p.is_file():
        raise ReadError(f"{p}: no such database (is [store] path right, or --db?)")
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, check_same_thread=not any_thread)
        conn.execute("PRAGMA busy_timeout = 5000")
        _check_schema(conn, p, require)
    except sqlite3.DatabaseError as e:
        raise ReadError(f"{p}: cannot read it as a phucvu database: {e}") from None
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path,
                  require: dict[str, tuple[str, ...]]) -> None:
    for table, columns in require.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise ReadError(f"{path}: table {table!r} is missing; start the core once so it "
                            "migrates the database, then try again")
        missing = [c for c in columns if c not in have]
        if missing:
            raise ReadError(f"{path}: table {table!r} lacks column(s) {', '.join(missing)}; "
                            "start the newer core once so it migrates the database")
