"""The MQTT side of one counter box: its login, its subscriptions, its publishes.

paho's callbacks never touch the box's state: they queue what happened and
wake the box's worker through a pipe, so there is no lock shared with
paho's own (on_publish runs inside paho's outgoing-message lock, and taking
ours there would deadlock).  The worker reads the queue with ``messages``.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Iterator
from typing import Any

from kiosk import contract
from kiosk.config import SiteConfig

log = logging.getLogger("phucvu.bridge")

# Publishes waiting for their PUBACK, at most: four copies of each event a
# box may have unconfirmed (delivery.MAX_UNCONFIRMED).  Beyond that the
# oldest half is forgotten: a broker that went away never PUBACKs them, and
# nothing waits on them.
MAX_MIDS = 512


class CounterBus:
    def __init__(self, config: SiteConfig, counter: int, user: str, password: str,
                 stopping: threading.Event):
        self.config = config
        self.counter = counter
        self.user = user
        self.topics = contract.Topics(config.topic_prefix)
        self._stopping = stopping
        # The client id is the login: the broker runs with
        # use_username_as_clientid, one connection per login.
        self.client = contract.mqtt_client(user, username=user, password=password,
                                           prefix=config.topic_prefix, device=user,
                                           keepalive=config.mqtt.keepalive)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self.up = False
        # paho message id -> event id, only to count the broker's PUBACKs
        # (they settle paho's bookkeeping, never the box's event).
        self.mids: dict[int, str] = {}
        self.pubacked = 0

    @property
    def wake_fd(self) -> int:
        """Readable when paho has queued something for the worker."""
        return self._wake_r

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, self.config.mqtt.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        if self.up:
            # A clean stop says offline itself: the broker sends the will only on a lost connection.
            info = self.client.publish(self.topics.presence(self.user),
                                       contract.presence(self.user, "offline", time.time()), qos=1, retain=True)
            try:
                info.wait_for_publish(1)
            except (RuntimeError, ValueError) as e:
                log.warning("counter %d: offline presence not confirmed: %s", self.counter, e)
        self.client.disconnect()
        self.client.loop_stop()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # ------------------------------------------------------------ paho's thread (queue only)
    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full, so the worker is awake anyway

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            log.error("counter %d: broker refused login %s: %s", self.counter, self.user, rc)
            return
        client.subscribe([(self.topics.counter_state(self.counter), 1),
                          (self.topics.counter_reply(self.counter), 1)])
        contract.announce_online(client, self.config.topic_prefix, self.user, time.time())
        self.up = True
        log.info("counter %d: connected to the broker as %s", self.counter, self.user)

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        self.up = False
        if not self._stopping.is_set():
            log.warning("counter %d: broker connection lost (%s); paho reconnects", self.counter, rc)

    def _on_publish(self, client, userdata, mid, rc=None, props=None):
        self._inbox.put(("puback", mid))
        self.wake()

    def _on_message(self, client, userdata, msg):
        self._inbox.put(("message", msg.topic, bytes(msg.payload)))
        self.wake()

    # ------------------------------------------------------------ the worker's thread
    def wait_wake(self, timeout: float) -> None:
        """Sleep until paho queues something or ``timeout`` passes."""
        try:
            select.select([self._wake_r], [], [], timeout)
        except OSError:
            pass
        self.drain_wake()

    def drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def messages(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(topic, JSON object) of each message queued so far, in order; PUBACKs
        are counted on the way and unreadable messages logged and skipped."""
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item[0] == "puback":
                self._puback(item[1])
                continue
            topic, payload = item[1], item[2]
            try:
                body = json.loads(payload)
            except ValueError as e:
                log.warning("counter %d: unreadable message on %s: %s", self.counter, topic, e)
                continue
            if not isinstance(body, dict):
                log.warning("counter %d: message on %s is not a JSON object", self.counter, topic)
                continue
            yield topic, body

    def publish(self, eid: str, topic: str, body: dict[str, Any]) -> None:
        """Publish one event's body, QoS 1."""
        info = self.client.publish(topic, contract.encode(body), qos=1)
        self.mids[info.mid] = eid
        if len(self.mids) > MAX_MIDS:
            for mid in list(self.mids)[: len(self.mids) // 2]:
                del self.mids[mid]

    def _puback(self, mid: int) -> None:
        # The broker has the message in memory: nothing the box may forget yet.
        eid = self.mids.pop(mid, None)
        if eid is not None:
            self.pubacked += 1
            log.debug("counter %d: broker accepted %s; waiting for the core", self.counter, eid)
