"""The read side of the core's file (kiosk/core/read/): the one home of SQL
that reads it, shared by the core's store and by every other process.

Where SQL on the core's file may live is checked on the source: every
module under kiosk/, display/ and firmware_bridge/ is parsed, and a string
that is a statement naming one of the core's tables (kiosk/core/schema.py
creates them) must be in the store, the schema, the projection or the read
side.  A module that talks to PostgreSQL (it imports psycopg, or it is of
the provincial aggregate, kiosk/province/, whose tables share some names;
only its uplink replay opens a site's file, and stays checked) is on
another database;
a module with a SQLite file of its own (the bridge's ledger) names none of
the core's tables.  bench/ and tests/ inspect the file as test harnesses do.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

from kiosk.core.engine import Engine
from kiosk.core.read import ReadError, Reader
from kiosk.core.store import Store
from tests.conftest import DEMO_SITE, ROOT

TREE = ("kiosk", "display", "firmware_bridge")
# The rooms of the core that own the file's SQL: the writer and its tables,
# and the read side.  A split room (``store_x``, ``read.x``) stays inside.
SQL_HOMES = ("kiosk.core.store", "kiosk.core.schema", "kiosk.core.projection", "kiosk.core.read")
STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+)", re.I)


def _core_tables() -> set[str]:
    from kiosk.core.schema import MIGRATIONS
    return {t.lower() for sql in MIGRATIONS for t in re.findall(r"CREATE TABLE (\w+)", sql)}


def _within(module: str, home: str) -> bool:
    return module == home or module.startswith(home + ".") or module.startswith(home + "_")


def _strings(tree: ast.AST):
    """(line, text) of every string in the code, docstrings left out; an
    f-string's literal parts joined around its holes."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else " ? " for v in node.values]
            inside_fstrings.update(id(v) for v in node.values)
            yield node.lineno, "".join(str(p) for p in parts)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and id(node) not in inside_fstrings):
            yield node.lineno, node.value


def _sql_on_core_tables() -> dict[str, list[str]]:
    """module -> the places where it has SQL naming one of the core's tables."""
    tables = _core_tables()
    found: dict[str, list[str]] = {}
    for top in TREE:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            if _within(module, "kiosk.province") and module != "kiosk.province.uplink":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(rel))
            if any(isinstance(n, (ast.Import, ast.ImportFrom)) and any(
                    (getattr(n, "module", None) or a.name).split(".")[0] == "psycopg"
                    for a in n.names) for n in ast.walk(tree)):
                continue
            for line, text in _strings(tree):
                named = {t.lower() for t in TABLE.findall(text)} & tables
                if STATEMENT.search(text) and named:
                    found.setdefault(module, []).append(f"{rel}:{line}: {', '.join(sorted(named))}")
    return found


def test_sql_on_the_core_file_lives_in_the_store_and_the_read_side():
    found = _sql_on_core_tables()
    # The check sees the SQL it is about, or it would pass on nothing.
    assert any(_within(m, "kiosk.core.read") for m in found), sorted(found)
    assert any(_within(m, "kiosk.core.store") for m in found), sorted(found)
    stray = [place for module, places in found.items()
             if not any(_within(module, home) for home in SQL_HOMES) for place in places]
    assert not stray, ("SQL on the core's file outside the store and kiosk/core/read/ "
                       "(add a query to kiosk/core/read/queries.py and call it):\n  "
                       + "\n  ".join(stray))


@pytest.fixture
def day(site, tmp_path):
    """A day with tickets, a call, a print and a stray press, on a file the
    engine's store still holds (its lock and its connection)."""
    store = Store(tmp_path / "site.db")
    engine = Engine(site, store)
    store.add_official("nv01", "Nguyễn Văn An", None)
    store.add_official("tp01", "Trần Thị Bình", "hash", "head")
    first = engine.run("issue", "tu-phap", None)[-1]["ticket_id"]
    engine.run("issue", "tu-phap", None)
    engine.run("call_next", 1)
    engine.run("rate", 2, 1, rating_id="stray")     # no window open at counter 2
    store.record_print(store.start_print(first, 1.0, False), 1.0, True, "printed", "", 100)
    yield engine
    store.close()


def test_a_reader_sees_what_the_core_sees_beside_the_writer(site, day):
    store = day.store
    counters = [c.number for c in site.counters]
    with Reader(store.path) as reader:
        assert reader.load_state(counters).comparable() == store.load_state(counters).comparable()
        assert reader.latest_day() == day.queue.state.day
        assert reader.officials() == [
            {"code": "nv01", "name": "Nguyễn Văn An", "has_pin": False, "active": True, "role": "staff"},
            {"code": "tp01", "name": "Trần Thị Bình", "has_pin": True, "active": True, "role": "head"}]
        assert reader.official("tp01") == store.official("tp01")
        assert reader.official("zz") is None
        assert reader.reprint_queue(day.queue.state.day) == []
        assert reader.uncounted_presses(0, 4e9) == 1
        assert reader.uncounted_presses(0, 1e9) == 0
        assert [kind for _, kind, _ in reader.ticket_and_rating_events(1, 0.0)] == [
            "ticket_issued", "ticket_issued", "ticket_called", "rating_pressed"]
        assert reader.ticket_and_rating_events(1, 4e9) == []


def test_the_reprint_queue_is_the_tickets_whose_last_print_failed(day):
    store = day.store
    waiting = [t for t in day.queue.state.tickets.values() if t.state == "waiting"][0]
    store.record_print(store.start_print(waiting.id, 2.0, False), 2.0, False, "paper_out", "no paper", 0)
    with Reader(store.path) as reader:
        rows = reader.reprint_queue(reader.latest_day())
    assert [(r["label"], r["print_state"], r["detail"]) for r in rows] == [
        (waiting.label, "paper_out", "no paper")]


def test_a_missing_or_foreign_file_is_one_read_error(tmp_path):
    with pytest.raises(ReadError, match="does not exist; run phucvu init first"):
        Reader(tmp_path / "nope.db")
    (tmp_path / "junk.db").write_text("not a database")
    with pytest.raises(ReadError, match="is not a SQLite database"):
        Reader(tmp_path / "junk.db")
    (tmp_path / "empty.db").touch()
    with pytest.raises(ReadError, match=r"is empty \(0 bytes\)"):
        Reader(tmp_path / "empty.db")


def test_a_file_damaged_after_opening_is_a_read_error_too(tmp_path):
    store = Store(tmp_path / "site.db")
    store.add_official("nv01", "Nguyễn Văn An", None)
    store.close()
    reader = Reader(tmp_path / "site.db")
    size = os.path.getsize(tmp_path / "site.db")
    with open(tmp_path / "site.db", "r+b") as f:
        f.seek(4096)
        f.write(b"\xff" * (size - 4096))
    with pytest.raises(ReadError, match="malformed"):
        reader.officials()
    reader.close()


@pytest.mark.parametrize("command", [("status",), ("official", "list"), ("reprint", "--list")])
@pytest.mark.parametrize("content, message", [
    (None, "does not exist; run phucvu init first"),
    (b"not a database", "is not a SQLite database"),
])
def test_the_cli_says_what_is_wrong_with_the_file_in_one_line(tmp_path, command, content, message):
    db = tmp_path / "site.db"
    if content is not None:
        db.write_bytes(content)
    p = subprocess.run([sys.executable, "-m", "kiosk.cli", *command, "--config", str(DEMO_SITE),
                        "--db", str(db)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert message in p.stderr
