"""The MQTT side of one counter box: its login, its subscriptions, its publishes.

No thread of its own: the bridge's one thread (``hub.Hub``) polls the
client's socket with every other box's and calls ``read``, ``write`` and
``tick`` (paho's external-loop API: ``loop_read``, ``loop_write``,
``loop_misc``, ``reconnect``).  A publish is written to the socket at once,
from the same thread.  paho's callbacks still only queue what happened (they
run inside paho's locks); the box takes the queue with ``messages``.
"""
from __future__ import annotations

import json
import logging
import queue
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
# The broker is on this machine or the centre's LAN: a connection that takes
# longer than this is not coming, and the hub's one thread must get back to
# the other boxes.
CONNECT_TIMEOUT_S = 1.0
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.1, 0.5


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
        # A lost broker is tried again after RECONNECT_MIN_S, doubling to
        # RECONNECT_MAX_S while it stays away (paho's own loop would do the
        # same; here the hub's thread does it).
        self.client.connect_timeout = CONNECT_TIMEOUT_S
        self._retry_s = RECONNECT_MIN_S
        self._next_attempt = 0.0
        self._next_misc = 0.0
        self._last_refusal = ""
        self._started = False
        self.up = False
        # paho message id -> event id, only to count the broker's PUBACKs
        # (they settle paho's bookkeeping, never the box's event).
        self.mids: dict[int, str] = {}
        self.pubacked = 0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Set the broker; the hub's next ``tick`` connects."""
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, self.config.mqtt.keepalive)
        self._started = True

    def stop(self) -> None:
        """Say offline and disconnect, on the caller's thread (the hub has stopped)."""
        if self.up:
            # A clean stop says offline itself: the broker sends the will only on a lost connection.
            info = self.client.publish(self.topics.presence(self.user),
                                       contract.presence(self.user, "offline", time.time()), qos=1, retain=True)
            if info.rc == 0:        # else the connection went just now: the will says offline
                self._pump_until(info.is_published, 1.0)
            if info.rc != 0 or not info.is_published():
                log.warning("counter %d: offline presence not confirmed", self.counter)
        self.client.disconnect()
        self._pump_until(lambda: self.client.socket() is None, 0.5)

    def _pump_until(self, done, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end and self.client.socket() is not None:
            self.client.loop(0.05)

    # ------------------------------------------------------------ the hub's thread
    def socket(self) -> Any:
        """The broker connection's socket, or None while there is none."""
        return self.client.socket()

    def wants_write(self) -> bool:
        """Whether paho has bytes the socket did not take yet."""
        return self.client.want_write()

    def read(self) -> None:
        self.client.loop_read()

    def write(self) -> None:
        self.client.loop_write()

    def tick(self, now: float) -> None:
        """Keepalive and timeouts (once a second), or a connection attempt when due."""
        if self.client.socket() is not None:
            if now >= self._next_misc:
                self.client.loop_misc()
                self._next_misc = now + 1.0
            return
        if not self._started or self._stopping.is_set() or now < self._next_attempt:
            return
        try:
            self.client.reconnect()
        except (OSError, ValueError) as e:
            self._next_attempt = now + self._retry_s
            self._retry_s = min(2 * self._retry_s, RECONNECT_MAX_S)
            if str(e) != self._last_refusal:
                log.warning("counter %d: cannot reach the broker: %s (will keep trying)", self.counter, e)
                self._last_refusal = str(e)
            return
        self._retry_s = RECONNECT_MIN_S
        self._last_refusal = ""
        self._next_misc = now + 1.0

    # ------------------------------------------------------------ paho's callbacks (queue only)
    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            log.error("counter %d: broker refused login %s: %s", self.counter, self.user, rc)
            return
        # config/site: a saved change of the centre (the rating levels), live.
        client.subscribe([(self.topics.counter_state(self.counter), 1),
                          (self.topics.counter_reply(self.counter), 1),
                          (self.topics.config_site, 1)])
        contract.announce_online(client, self.config.topic_prefix, self.user, time.time())
        self.up = True
        log.info("counter %d: connected to the broker as %s", self.counter, self.user)

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        self.up = False
        if not self._stopping.is_set():
            log.warning("counter %d: broker connection lost (%s); reconnecting", self.counter, rc)

    def _on_publish(self, client, userdata, mid, rc=None, props=None):
        self._inbox.put(("puback", mid))

    def _on_message(self, client, userdata, msg):
        self._inbox.put(("message", msg.topic, bytes(msg.payload)))

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
