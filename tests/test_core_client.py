"""Asking the core: replies matched by command id, blocking or in asyncio, and over a real broker."""
import asyncio
import json
import threading

import pytest

from kiosk.core.client import BusError, CoreClient, NoReply, Replies


class Echo:
    """A publisher whose 'core' answers each command from another thread, as paho's would."""

    def __init__(self, answer=True):
        self.replies: Replies | None = None
        self.sent: list[tuple[str, dict, int]] = []
        self.answer = answer

    def publish(self, topic, payload, qos):
        body = json.loads(payload)
        self.sent.append((topic, body, qos))
        if self.answer:
            threading.Timer(0.02, self.replies.take,
                            [{"command_id": body["command_id"], "ok": True, "echo": body}]).start()


def replies(answer=True):
    echo = Echo(answer)
    echo.replies = Replies(echo)
    return echo.replies, echo


def test_a_blocking_ask_gets_its_own_reply():
    r, echo = replies()
    reply = r.ask("p/core/command", {"action": "close_day"}, command_id="c-1", timeout=5)
    assert reply == {"command_id": "c-1", "ok": True,
                     "echo": {"command_id": "c-1", "action": "close_day"}}
    assert echo.sent == [("p/core/command", {"command_id": "c-1", "action": "close_day"}, 1)]
    # Nobody waits any more: a late copy of the reply is dropped.
    assert r.take({"command_id": "c-1", "ok": True}) is False


def test_an_awaited_ask_is_resolved_on_its_loop():
    r, _ = replies()

    async def two_at_once():
        return await asyncio.gather(
            r.ask_async("t", {"action": "a"}, command_id="w-1", timeout=5),
            r.ask_async("t", {"action": "b"}, command_id="w-2", timeout=5))
    first, second = asyncio.run(two_at_once())
    assert first["echo"]["action"] == "a" and second["echo"]["action"] == "b"


def test_no_reply_in_time_says_so_and_forgets_the_asker():
    r, _ = replies(answer=False)
    with pytest.raises(NoReply, match="did not answer within 0.1 s"):
        r.ask("t", {}, command_id="x", timeout=0.1)
    with pytest.raises(NoReply):
        asyncio.run(r.ask_async("t", {}, command_id="y", timeout=0.1))
    assert r.take({"command_id": "x"}) is False and r.take({"command_id": "y"}) is False


def test_a_retry_with_the_same_id_and_the_first_asker_both_get_the_reply():
    r, _ = replies(answer=False)
    got = []
    waiters = [threading.Thread(target=lambda: got.append(r.ask("t", {}, command_id="same", timeout=5)))
               for _ in range(2)]
    for w in waiters:
        w.start()
    while len(r._waiting.get("same", [])) < 2:
        threading.Event().wait(0.01)
    assert r.take({"command_id": "same", "ok": True}) is True
    for w in waiters:
        w.join(5)
    assert got == [{"command_id": "same", "ok": True}] * 2


def test_replies_that_are_not_objects_are_ignored():
    r, _ = replies(answer=False)
    assert r.take(None) is False and r.take([1, 2]) is False and r.take({"ok": True}) is False


def test_the_running_core_answers_a_client_and_repeats_itself_for_a_retry(core, broker, site):
    client = CoreClient(site.topic_prefix, host=broker.host, port=broker.port, user="cli",
                        password=broker.password("cli"))
    try:
        issued = client.ask(client.topics.core_command, {"action": "issue", "field": "tu-phap"},
                            command_id="cli-test-1")
        assert issued["ok"] and issued["command_id"] == "cli-test-1"
        assert issued["ticket"]["label"] == "A001"
        # The same id again: the stored reply, not a second ticket.
        assert client.ask(client.topics.core_command, {"action": "issue", "field": "tu-phap"},
                          command_id="cli-test-1")["ticket"]["label"] == "A001"
        called = client.ask(client.topics.counter_command(1), {"action": "next"})
        assert called["ok"] and called["ticket"]["label"] == "A001"
        assert called["command_id"].startswith("cli-")
    finally:
        client.close()


def test_a_refused_login_is_named(broker, site):
    with pytest.raises(BusError, match="refused the login 'cli'"):
        CoreClient(site.topic_prefix, host=broker.host, port=broker.port, user="cli",
                   password="wrong", connect_timeout=5)
