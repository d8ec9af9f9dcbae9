"""The web's MQTT login ``web``: the retained state cache, its fan-out to the
browsers' Server-Sent Event streams, and the carrier of command/reply
(the shared ``kiosk.core.client.Replies`` on this one connection).

Threads: paho's network thread receives; it hands everything to the asyncio
loop with ``call_soon_threadsafe`` and never touches a request or a stream.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from typing import Any, AsyncIterator

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.core.client import NoReply, Replies, new_command_id, reply_topics
from kiosk.web.errors import WebError

log = logging.getLogger("phucvu.web")

# Retained topics a page needs at once; events are only forwarded live.
LIVE_LEAVES = ("counter/+/state", "display/snapshot", "queue/summary", "printer/status",
               "presence/+", "event/alert", "event/call", "phone/stats", "event/case")
# Events only the head's and admins' pages receive: a case names the official
# a citizen was unhappy with, which is not for the counters' screens.
PRIVATE_LEAVES = ("event/case",)
# The core's effective site config (THE CONTRACT, docs/mqtt.md): kept apart
# from the retained cache, so a console's first SSE message does not carry it.
CONFIG_SITE = "config/site"
# A comment line this often keeps proxies and the browser from dropping an idle stream.
PING_S = 15


class Bus:
    def __init__(self, config: SiteConfig, password: str, host: str, port: int):
        # The config every part of the web reads (names, alert thresholds):
        # the file it was started with until the core's config/site arrives,
        # then that (``_take_site``).  Replaced whole, never changed in place.
        self.config = config
        # The last config/site payload taken ({} before the first): what the
        # admin pages edit, with the hash they send back as ``base``.
        self.site: dict[str, Any] = {}
        self.prefix = config.topic_prefix
        self.topics = contract.Topics(self.prefix)
        self.host, self.port = host, port
        # The retained topics as they came, decoded only when a page asks
        # (``retained``): a busy centre's 12 KB snapshot arrives many times a
        # second, mostly with nobody looking.
        self._raw: dict[str, bytes] = {}
        # Each open SSE stream, and whether it may carry PRIVATE_LEAVES.
        self.streams: dict[asyncio.Queue, bool] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        # The broker takes the login as client id anyway (one connection per login).
        self.client = contract.mqtt_client("web", username="web",
                                           password=password, prefix=self.prefix, device="web")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.replies = Replies(self.client)
        self.timeout = config.web.command_timeout_s

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.client.connect_async(self.host, self.port, self.config.mqtt.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.publish(self.topics.presence("web"), contract.presence("web", "offline"),
                            qos=1, retain=True)
        self.client.loop_stop()
        self.client.disconnect()

    @property
    def retained(self) -> dict[str, Any]:
        """Every retained topic's latest body (a payload that is not JSON is left out)."""
        out: dict[str, Any] = {}
        for rel in list(self._raw):
            body = self._body(rel)
            if body is not None:
                out[rel] = body
        return out

    def _body(self, rel: str) -> Any:
        """One retained topic's latest body, or None (absent, or not JSON)."""
        payload = self._raw.get(rel)
        if payload is None:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            log.warning("ignoring non-JSON payload on %s", rel)
            return None

    def today(self) -> dt.date:
        """The core's service day (its retained summary), else the date in the site's zone."""
        summary = self._body("queue/summary") or {}
        if summary.get("day"):
            return dt.date.fromisoformat(summary["day"])
        return dt.datetime.now(self.config.tz).date()

    def stream(self, private: bool = False) -> AsyncIterator[str]:
        """One page's SSE stream: every retained topic at once, then one event
        per message (``PRIVATE_LEAVES`` only if ``private``).

        The page joins the fan-out here, before the response starts, so no
        message falls between the first snapshot and the live ones.
        """
        q: asyncio.Queue = asyncio.Queue()
        self.streams[q] = private
        first = json.dumps({"topic": "*", "body": self.retained}, ensure_ascii=False)
        return self._events(q, first)

    async def _events(self, q: asyncio.Queue, first: str) -> AsyncIterator[str]:
        try:
            yield f"data: {first}\n\n"
            while True:
                try:
                    line = await asyncio.wait_for(q.get(), PING_S)
                    yield f"data: {line}\n\n"
                except asyncio.TimeoutError:
                    yield ": ping\n\n"
        finally:
            self.streams.pop(q, None)

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            log.error("MQTT login as 'web' refused: %s", rc)
            return
        leaves = [*LIVE_LEAVES, CONFIG_SITE]
        for topic in [f"{self.prefix}/{leaf}" for leaf in leaves] + reply_topics(self.topics):
            client.subscribe(topic, 1)
        contract.announce_online(client, self.prefix, "web", time.time())
        log.info("bus connected to %s:%s", self.host, self.port)

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        log.warning("bus disconnected (%s); reconnecting", rc)

    def _on_message(self, client, userdata, msg):
        rel = msg.topic.removeprefix(self.prefix + "/")
        if rel == CONFIG_SITE:
            self._site_message(msg.payload)
            return
        if not rel.endswith("/reply") and not rel.startswith("event/"):
            if msg.payload:
                self._raw[rel] = msg.payload
            else:
                self._raw.pop(rel, None)     # a cleared retained topic
        if not rel.endswith("/reply") and not self.streams:
            return                           # kept as it came; nobody to tell now
        try:
            body = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            log.warning("ignoring non-JSON payload on %s", msg.topic)
            return
        if rel.endswith("/reply"):
            self.replies.take(body)      # thread-safe; wakes the awaiting request on the loop
            return
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._deliver, rel, body)

    def _site_message(self, payload: bytes) -> None:
        try:
            body = json.loads(payload) if payload else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            log.error("ignoring config/site: not a config/site payload")
            return
        if self.loop is None:
            self._take_site(body)
        else:
            self.loop.call_soon_threadsafe(self._take_site, body)

    def _take_site(self, body: dict[str, Any]) -> None:
        """Run on what the core runs: its live sections, this console's own
        bus, store and address kept (kiosk/web/settings.py ``adopt``)."""
        from kiosk.web.settings import adopt
        if body.get("hash") and body.get("hash") == self.site.get("hash"):
            return
        try:
            self.config = adopt(self.config, body["config"])
        except ValueError as e:
            log.error("config/site version %s refused: %s", body.get("version"), e)
            return
        self.site = body
        log.info("site config version %s (%s) by %s", body.get("version"), body.get("hash"),
                 body.get("by"))
        self._deliver(CONFIG_SITE, {k: body.get(k) for k in ("version", "hash", "at", "by")})

    def current_site(self) -> dict[str, Any]:
        """The config the admin pages edit and its hash: the core's last
        config/site, or before it arrives this console's own file."""
        from kiosk.web.settings import as_json, config_hash
        if self.site:
            return self.site
        config = as_json(self.config)
        return {"version": None, "hash": config_hash(config), "at": None, "by": None,
                "changes": [], "config": config}

    async def site_hash(self, want: str, timeout: float) -> bool:
        """Wait until the core's config/site with hash ``want`` is taken here."""
        deadline = time.monotonic() + timeout
        while self.site.get("hash") != want:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def ask(self, topic: str, payload: dict[str, Any],
                  command_id: str | None = None) -> dict[str, Any]:
        """Publish a command and wait for the core's reply to it.

        ``command_id`` names one action of a person: a browser that retries
        after a time-out sends the same one, and the core, which acts on an
        id once, answers it with the stored reply instead of acting again.
        """
        try:
            return await self.replies.ask_async(topic, payload, timeout=self.timeout,
                                                command_id=command_id or new_command_id("web"))
        except NoReply:
            raise WebError(504, "Hệ thống lõi không trả lời; thử lại sau ít giây") from None

    def _deliver(self, rel: str, body: Any) -> None:
        if not self.streams:
            return
        line = json.dumps({"topic": rel, "body": body}, ensure_ascii=False)
        private = rel in PRIVATE_LEAVES
        for q, allowed in list(self.streams.items()):
            if allowed or not private:
                q.put_nowait(line)
