"""The whole-appliance benches' superuser on the bus (bench/yardstick.py,
bench/day.py): set-up commands sent until the core answers, probes, and
every reply the core sends on ``core/reply`` and ``counter/+/reply``."""
from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
from _procs import CannotMeasure

from kiosk import contract  # noqa: E402
from kiosk.broker import Broker  # noqa: E402


class Admin:
    """One superuser login (a persistent session, so no reply is lost to a
    broker restart); replies are kept by their ``command_id`` or ``rating_id``."""

    def __init__(self, broker: Broker, prefix: str, user: str, command_timeout: float = 120.0):
        self.prefix = prefix
        self.command_timeout = command_timeout
        self.cond = threading.Condition()
        self.replies: dict[str, dict] = {}
        self.waiters: dict[str, threading.Event] = {}
        self.c = contract.mqtt_client(user, username=user, password=broker.password(user),
                                      prefix=prefix, persistent=True)
        self.c.max_queued_messages_set(0)
        self.c.on_connect = lambda c, *a: c.subscribe(
            [(f"{prefix}/core/reply", 1), (f"{prefix}/counter/+/reply", 1)])
        self.c.on_message = self._on_message
        self.c.connect_async(broker.host, broker.port, 5)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        key = body.get("command_id") or body.get("rating_id")
        if isinstance(key, str):
            with self.cond:
                self.replies[key] = body
                waiter = self.waiters.pop(key, None)
                self.cond.notify_all()
            if waiter is not None:
                waiter.set()

    def reply(self, key: str) -> dict | None:
        with self.cond:
            return self.replies.get(key)

    def wait_reply(self, key: str, timeout: float) -> dict | None:
        """The reply to ``key``, waiting at most ``timeout`` (one event per
        key: sixty counters waiting on one condition would all wake for each)."""
        with self.cond:
            if key in self.replies:
                return self.replies[key]
            waiter = self.waiters.setdefault(key, threading.Event())
        waiter.wait(timeout)
        return self.reply(key)

    def publish(self, rel_topic: str, body: dict) -> mqtt.MQTTMessageInfo:
        return self.c.publish(f"{self.prefix}/{rel_topic}", json.dumps(body, ensure_ascii=False), qos=1)

    def command(self, body: dict, retry_s: float = 3.0) -> dict:
        """core/command, sent again under the same id until the core replies."""
        cid = body["command_id"]
        deadline = time.monotonic() + self.command_timeout
        while time.monotonic() < deadline:
            self.publish("core/command", body)
            end = min(deadline, time.monotonic() + retry_s)
            with self.cond:
                while cid not in self.replies and time.monotonic() < end:
                    self.cond.wait(end - time.monotonic())
                if cid in self.replies:
                    return self.replies[cid]
        raise CannotMeasure(f"no reply to {cid} within {self.command_timeout} s")

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()
