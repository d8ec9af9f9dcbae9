"""Group commit: the messages waiting together share one commit.

The store's ``group()`` on a real SQLite file (savepoints, a COMMIT that
really fails), and the core service's batch on a real broker: what it
publishes, what it commits, and what happens when the group's commit fails.
"""
import json
import sqlite3

import pytest

from kiosk.core.engine import Engine
from kiosk.core.service import Connected, CoreService, Inbound
from kiosk.core.store import Store, StoreError

MORNING = 1795800000.0   # 2026-11-28 morning in Asia/Ho_Chi_Minh


def tickets(store):
    return [r[0] for r in store.conn.execute("SELECT label FROM tickets ORDER BY label")]


def reject(store, topic):
    store.reject(MORNING, topic, b"{}", "test")


def rejected(path):
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT topic FROM rejected ORDER BY id")]
    finally:
        conn.close()


def test_a_group_commits_once_and_a_failed_member_is_undone_alone(tmp_path):
    store = Store(tmp_path / "c.db")
    statements = []
    store.conn.set_trace_callback(statements.append)
    with store.group():
        reject(store, "a")
        with pytest.raises(RuntimeError):
            with store.transaction():
                reject(store, "b")
                raise RuntimeError("this one fails")
        reject(store, "c")
        # Nothing is durable before the group's commit: another connection sees nothing.
        assert rejected(tmp_path / "c.db") == []
    assert rejected(tmp_path / "c.db") == ["a", "c"]
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == ["BEGIN IMMEDIATE", "COMMIT"]
    with pytest.raises(StoreError, match="group inside a group"), store.group(), store.group():
        pass
    store.close()


def test_a_group_whose_commit_fails_leaves_nothing_and_the_store_usable(tmp_path):
    store = Store(tmp_path / "c.db")
    # A real failing COMMIT: a foreign key SQLite checks only at commit time
    # (on temporary tables of this connection, which share its transaction).
    store.conn.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
    store.conn.execute("CREATE TEMP TABLE child (parent INTEGER REFERENCES parent (id) "
                       "DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with store.group():
            reject(store, "a")
            store.conn.execute("INSERT INTO child VALUES (42)")
    assert not store.conn.in_transaction
    assert rejected(tmp_path / "c.db") == []
    reject(store, "after")
    assert rejected(tmp_path / "c.db") == ["after"]
    store.close()


@pytest.fixture
def service(site, broker, tmp_path):
    """The core service in this process on a real broker, its loop driven by the test."""
    store = Store(tmp_path / "core.db")
    engine = Engine(site, store, clock=lambda: MORNING, monotonic=lambda: 1000.0)
    svc = CoreService(site, engine, host=broker.host, port=broker.port,
                      username="core", password=broker.password("core"))
    svc.start()
    item = svc.inbox.get(timeout=10)
    assert isinstance(item, Connected)
    svc._take(item)
    yield svc
    svc.client.loop_stop()
    svc.client.disconnect()
    store.close()


def inbound(svc, topic, body):
    return Inbound(f"{svc.config.topic_prefix}/{topic}", json.dumps(body).encode(), 0, 0, svc._connection)


def replies(client, topic, n, timeout=5.0):
    """The first ``n`` messages on ``topic``, in order (waits for them)."""
    got = []
    client.wait_for(lambda t, b: t == topic and (got.append(b) or len(got) == n), timeout)
    return got


def test_a_batch_is_one_commit_and_every_message_gets_its_own_reply(service, bus):
    watcher = bus("tester")
    watcher.subscribe("core/reply", "counter/1/reply")
    statements = []
    service.engine.store.conn.set_trace_callback(statements.append)
    batch = [inbound(service, "core/command", {"command_id": f"i{i}", "action": "issue",
                                               "field": "tu-phap"}) for i in range(3)]
    batch.append(inbound(service, "counter/1/command", {"command_id": "n1", "action": "next"}))
    batch.append(inbound(service, "counter/1/command", {"command_id": "bad", "action": "fly"}))
    batch.append(inbound(service, "core/command", {"command_id": "i0", "action": "issue",
                                                   "field": "tu-phap"}))   # a redelivery
    service._take_messages(batch)
    assert statements.count("COMMIT") == 1
    issued = replies(watcher, "core/reply", 4)
    assert [r["ticket"]["label"] for r in issued] == ["A001", "A002", "A003", "A001"]
    nxt, bad = replies(watcher, "counter/1/reply", 2)
    assert nxt["ok"] and nxt["ticket"]["label"] == "A001"
    assert bad["error"]["code"] == "bad_payload"
    assert tickets(service.engine.store) == ["A001", "A002", "A003"]


def test_a_batch_whose_commit_fails_is_handled_again_one_by_one(service, bus, monkeypatch):
    watcher = bus("tester")
    watcher.subscribe("core/reply", "counter/1/reply")
    store = service.engine.store
    real_commit, failures = store._commit, []

    def commit_fails_once():
        if not failures and store._grouped is False and store.conn.in_transaction:
            failures.append("disk I/O error")
            store.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("disk I/O error")
        real_commit()

    monkeypatch.setattr(store, "_commit", commit_fails_once)
    statements = []
    store.conn.set_trace_callback(statements.append)
    batch = [inbound(service, "core/command", {"command_id": f"i{i}", "action": "issue",
                                               "field": "tu-phap"}) for i in range(2)]
    batch.append(inbound(service, "counter/1/command", {"command_id": "n1", "action": "next"}))
    service._take_messages(batch)
    assert failures == ["disk I/O error"]
    # The group was undone and each message committed on its own, once.
    assert statements.count("COMMIT") == 3
    assert tickets(store) == ["A001", "A002"]
    issued = replies(watcher, "core/reply", 2)
    assert [r["ticket"]["label"] for r in issued] == ["A001", "A002"]
    assert replies(watcher, "counter/1/reply", 1)[0]["ticket"]["label"] == "A001"
    with pytest.raises(TimeoutError):   # no reply from the failed group went out
        replies(watcher, "core/reply", 3, timeout=0.5)
    # Memory is what the database says.
    fresh = Engine(service.config, store, clock=lambda: MORNING, monotonic=lambda: 1000.0)
    assert fresh.queue.state == service.engine.queue.state


def test_batch_takes_what_waits_and_keeps_an_internal_item_for_its_turn(service):
    first = inbound(service, "core/command", {"command_id": "x", "action": "issue", "field": "tu-phap"})
    rest = [inbound(service, "core/command", {"command_id": f"y{i}", "action": "issue",
                                              "field": "tu-phap"}) for i in range(2)]
    for m in rest:
        service.inbox.put(m)
    service.inbox.put(Connected())
    late = inbound(service, "core/command", {"command_id": "z", "action": "issue", "field": "tu-phap"})
    service.inbox.put(late)
    assert service._batch(first) == [first, *rest]
    assert isinstance(service._held[0], Connected)
    assert service.inbox.get_nowait() == late
