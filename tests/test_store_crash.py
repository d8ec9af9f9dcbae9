"""SIGKILL a writer at random moments; nothing committed is lost or reused."""
import random
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import DEMO_SITE, ROOT

CHILD = r"""
import random, sys
from kiosk import config
from kiosk.core.domain import DomainError
from kiosk.core.engine import Engine
from kiosk.core.store import Store
cfg = config.load(sys.argv[1])
engine = Engine(cfg, Store(sys.argv[2]))
print("ready", flush=True)
rng = random.Random(int(sys.argv[3]))
fields = [f.code for f in cfg.fields]
while True:
    try:
        if rng.random() < 0.6:
            e = engine.run("issue", rng.choice(fields), None)[-1]
            # Reported only after the commit returned.
            print("issued", e["ticket_id"], flush=True)
        else:
            engine.run("call_next", rng.randint(1, 4))
    except DomainError:
        pass
"""


@pytest.mark.slow
def test_sigkill_never_loses_or_reuses_a_number(tmp_path):
    db = tmp_path / "crash.db"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    reported: set[str] = set()
    rng = random.Random(7)
    kills = 0
    for round_no in range(55):
        child = subprocess.Popen([sys.executable, str(script), str(DEMO_SITE), str(db), str(round_no)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                                 text=True)
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(rng.uniform(0.0, 0.08))
        child.kill()
        kills += 1
        out, _ = child.communicate()
        # A kill can cut the last report short ("issued " alone, or half an
        # id): a report is a whole ticket id.
        for line in out.splitlines():
            if m := re.fullmatch(r"issued (\d{8}-[A-Z]\d{3})", line):
                reported.add(m.group(1))
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT id, day, origin_field, number FROM tickets").fetchall()
        conn.close()
        ids = {r[0] for r in rows}
        assert reported <= ids, f"committed tickets lost: {sorted(reported - ids)[:5]}"
        keys = [(r[1], r[2], r[3]) for r in rows]
        assert len(keys) == len(set(keys)), "a number was issued twice"
        # Numbers per field are dense: no gap means nothing half-written survived.
        by_field: dict[tuple[str, str], list[int]] = {}
        for day, field, number in keys:
            by_field.setdefault((day, field), []).append(number)
        for numbers in by_field.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert kills >= 50
    assert len(reported) > 50


def test_a_ticket_changes_in_place_and_a_number_clash_fails_the_commit(tmp_path):
    """A ticket's row is updated where it is (no delete and insert under a
    new rowid, which rewrote every index it has on each call), and a row
    with another id but the same day, field and number is refused, never
    written over the first (INSERT OR REPLACE deleted it)."""
    import dataclasses

    from kiosk import config
    from kiosk.core import projection
    from kiosk.core.engine import Engine
    from kiosk.core.store import Store

    cfg = config.load(DEMO_SITE)
    store = Store(tmp_path / "p.db")
    engine = Engine(cfg, store)
    field = cfg.fields[0].code
    first = engine.run("issue", field, None)[-1]["ticket_id"]
    engine.run("issue", field, None)

    def row(ticket_id):
        return store.conn.execute("SELECT rowid, state FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    rowid, state = row(first)
    counter = next(c.number for c in cfg.counters if field in c.fields)
    engine.run("call_next", counter)
    assert row(first) == (rowid, "called") and state == "waiting"
    t = engine.queue.state.tickets[first]
    twin = dataclasses.replace(t, id=first + "x", state="waiting")
    with pytest.raises(sqlite3.IntegrityError):
        projection._put_ticket(store.conn, twin)
    assert row(first) == (rowid, "called")
    assert row(first + "x") is None
    store.close()
