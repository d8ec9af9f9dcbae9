"""The phone page's MQTT login ``phone``: the retained ``queue/tickets`` and
``config/site`` held in memory, ``phone/rating`` out and its ``phone/reply``
awaited by ``rating_id``, and the retained ``phone/stats``.

Threads: paho's network thread only hands messages to the asyncio loop
(``call_soon_threadsafe``); the loop owns every field here, so a request
reads the state without a lock.  Nothing here opens the database: a flood of
page loads is answered from what the core last published.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import Any

from kiosk import contract
from kiosk.config import ConfigError, Live, SiteConfig
from kiosk.phone.limits import Stats

log = logging.getLogger("phucvu.phone")

LOGIN = "phone"
STATS_EVERY_S = 10.0


class NoReply(Exception):
    """The core did not answer a rating in time."""


class PhoneBus:
    def __init__(self, config: SiteConfig, password: str, host: str, port: int):
        self.live = Live(config)
        self.prefix = config.topic_prefix
        self.topics = contract.Topics(self.prefix)
        self.host, self.port = host, port
        self.keepalive = config.mqtt.keepalive
        # The core's latest queue/tickets, decoded once per message (not per
        # page): None until the first arrives.
        self.tickets: dict[str, Any] | None = None
        self.stats = Stats(since=time.time())
        self.clients = lambda: 0          # the app's Limits.clients, set by the app
        # Counted up and the event replaced on every change: a stream keeps the
        # version it last showed, so a change made while it was busy sending
        # is never missed.
        self.version = 0
        self._changed = asyncio.Event()
        self._pending: dict[str, asyncio.Future] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stats_task: asyncio.Task | None = None
        self.connected = False
        # Set when the server stops: open streams end at once instead of
        # holding the shutdown until uvicorn cuts them.
        self.closing = False
        self.client = contract.mqtt_client(LOGIN, username=LOGIN, password=password,
                                           prefix=self.prefix, device=LOGIN)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    @property
    def config(self) -> SiteConfig:
        return self.live.config

    # ------------------------------------------------------------ life
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._changed = asyncio.Event()
        self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()
        self._stats_task = loop.create_task(self._stats_every())

    def stop(self) -> None:
        if self._stats_task:
            self._stats_task.cancel()
        # The last figures, and offline, before the socket closes (the
        # contract: stats at shutdown too).
        infos = [self.client.publish(self.topics.phone_stats, self._stats_body(), qos=1, retain=True),
                 self.client.publish(self.topics.presence(LOGIN),
                                     contract.presence(LOGIN, "offline", time.time()),
                                     qos=1, retain=True)]
        for info in infos:
            try:
                info.wait_for_publish(2)
            except (RuntimeError, ValueError):
                break        # not connected: the will says offline
        self.closing = True
        self.client.disconnect()
        self.client.loop_stop()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()

    def _stats_body(self) -> bytes:
        return contract.encode(self.stats.body(self.clients(), time.time()))

    async def _stats_every(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            self.client.publish(self.topics.phone_stats, self._stats_body(), qos=1, retain=True)

    # ------------------------------------------------------------ paho thread
    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            log.error("MQTT login as %r refused: %s", LOGIN, rc)
            return
        for topic in (self.topics.queue_tickets, self.topics.config_site, self.topics.phone_reply):
            client.subscribe(topic, 1)
        contract.announce_online(client, self.prefix, LOGIN, time.time())
        self.connected = True
        log.info("bus connected to %s:%s as %r", self.host, self.port, LOGIN)

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        self.connected = False
        if not self.closing:
            log.warning("bus disconnected (%s); reconnecting", rc)

    def _on_message(self, client, userdata, msg):
        try:
            body = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            log.error("ignoring %s: not JSON", msg.topic)
            return
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._take, msg.topic, body)

    # ------------------------------------------------------------ the loop
    def _take(self, topic: str, body: Any) -> None:
        if topic == self.topics.queue_tickets:
            if body is None:
                self.tickets = None          # a cleared retained topic
            elif isinstance(body, dict) and isinstance(body.get("tickets"), dict):
                self.tickets = body
            else:
                log.error("ignoring queue/tickets: not a tickets payload")
                return
        elif topic == self.topics.config_site:
            try:
                new = self.live.offer(body)
            except ConfigError as e:
                log.error("%s", e)
                return
            if new is None:
                return
            log.info("site config version %s taken", self.live.version)
        elif topic == self.topics.phone_reply:
            self._reply(body)
            return
        else:
            return
        self._bump()

    def _bump(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _reply(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("rating_id"), str):
            log.error("ignoring phone/reply without a rating_id")
            return
        fut = self._pending.get(body["rating_id"])
        if fut is not None and not fut.done():
            fut.set_result(body)

    def close_streams(self) -> None:
        """End every open stream (any thread): the server is stopping."""
        def close() -> None:
            self.closing = True
            self._bump()
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(close)

    async def changed(self, since: int, timeout: float) -> bool:
        """Wait until the tickets or the names are newer than version ``since``;
        False on time-out."""
        if self.version != since:
            return True
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def rate(self, body: dict[str, Any], timeout: float, key: str | None = None) -> dict[str, Any]:
        """Publish one ``phone/rating`` and await the core's ``phone/reply`` to it.

        ``key`` (the ticket and the page's attempt) makes the rating id, so a
        retry after a time-out is the same rating to the core (its stored
        outcome), not a second press kept as an anomaly against the official."""
        rating_id = "phone-" + (hashlib.sha256(key.encode()).hexdigest()[:16] if key else secrets.token_hex(8))
        fut = asyncio.get_running_loop().create_future()
        self._pending[rating_id] = fut
        try:
            self.client.publish(self.topics.phone_rating,
                                contract.encode({"rating_id": rating_id, **body}), qos=1)
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise NoReply(rating_id) from None
        finally:
            self._pending.pop(rating_id, None)
