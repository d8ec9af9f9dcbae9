"""Engine operations per second with synchronous=FULL, against a bare
sqlite-utils insert loop on the same disk in the same run; RSS after 10,000
tickets.

Every engine operation (issue, call next, finish in a realistic mix) is its
own committed transaction, as in real use.  The baseline commits one
``table.insert()`` per transaction with the same pragmas.
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from _util import bench_site, emit, rss_mb

from kiosk import config
from kiosk.core.domain import DomainError
from kiosk.core.engine import Engine
from kiosk.core.store import Store

OPS = 3000
BARE = 3000


def bare_inserts(path: Path) -> float:
    import sqlite_utils
    db = sqlite_utils.Database(path)
    db.enable_wal()
    db.execute("PRAGMA synchronous = FULL")
    table = db["rows"]
    table.create({"id": int, "at": float, "kind": str, "payload": str}, pk="id")
    t0 = time.perf_counter()
    for i in range(BARE):
        with db.conn:
            table.insert({"id": i, "at": time.time(), "kind": "x", "payload": "{}"})
    return BARE / (time.perf_counter() - t0)


def engine_ops(cfg, path: Path) -> float:
    engine = Engine(cfg, Store(path))
    rng = random.Random(1)
    fields = [f.code for f in cfg.fields]
    done = 0
    t0 = time.perf_counter()
    for i in range(OPS):
        r = rng.random()
        try:
            if r < 0.4:
                engine.run("issue", rng.choice(fields), None)
            elif r < 0.8:
                engine.run("call_next", rng.randint(1, 4))
            else:
                engine.run("finish", rng.randint(1, 4))
            done += 1
        except DomainError:
            done += 1  # a refusal is checked but writes nothing
    elapsed = time.perf_counter() - t0
    engine.store.close()
    return done / elapsed


def rss_after_tickets(cfg, path: Path, n: int = 10_000) -> float:
    clock = [time.time()]
    engine = Engine(cfg, Store(path), clock=lambda: clock[0])
    fields = [f.code for f in cfg.fields]
    issued = 0
    while issued < n:
        try:
            engine.run("issue", fields[issued % len(fields)], None)
            issued += 1
        except DomainError as e:
            if e.code != "quota":
                raise
            clock[0] += 86400  # next service day
        clock[0] += 1
    return rss_mb()


def main() -> int:
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as d:
        tmp = Path(d)
        cfg = config.load(bench_site(tmp))
        bare = bare_inserts(tmp / "bare.db")
        ops = engine_ops(cfg, tmp / "engine.db")
        rss = rss_after_tickets(cfg, tmp / "rss.db")
    if not (bare > 0 and ops > 0):
        print("could not measure", file=sys.stderr)
        return 1
    emit({"engine_ops_per_s": round(ops, 1), "bare_inserts_per_s": round(bare, 1),
          "engine_vs_bare_ratio": round(ops / bare, 3), "rss_mb": round(rss, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
