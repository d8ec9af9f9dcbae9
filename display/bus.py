"""The display's MQTT link: subscribe, decode, hand messages on.

Read-only apart from its own presence.  Callbacks run on paho's network
thread; whoever receives them (the Kivy app, the speaker-only loop) must
move work to its own thread (the app uses Clock triggers).  A payload that is
not JSON or not an object is logged with its topic and dropped; the display
keeps showing what it had.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

# Not kiosk.contract: its inbound schemas load pydantic, which the display
# does without (docs/performance.md).
from kiosk.contract_link import mqtt_client, presence
from kiosk.topics import Topics

log = logging.getLogger("phucvu.display.bus")

Handler = Callable[[str, dict[str, Any]], None]


class DisplayLink:
    """One connection as ``user``; ``handler(kind, payload)`` for every message.

    kinds: snapshot, call, notice, presence (of the core), config (the
    retained ``config/site``: a saved change of the centre), voice (the
    admin's voice test, ``display/voice``), link (our own connection:
    ``{"connected": bool}``).
    """

    def __init__(self, cfg: Any, *, user: str, password: str, handler: Handler,
                 host: str | None = None, port: int | None = None, device: str | None = None):
        self.cfg = cfg
        self.prefix = cfg.topic_prefix
        self.topics = Topics(self.prefix)
        self.handler = handler
        self.device = device or user
        self.host = host or cfg.mqtt.host
        self.port = port or cfg.mqtt.port
        self.connected = threading.Event()
        self._kinds = {
            self.topics.display_snapshot: "snapshot",
            self.topics.call_event: "call",
            self.topics.display_notice: "notice",
            self.topics.presence("core"): "presence",
            self.topics.config_site: "config",
            self.topics.display_voice: "voice",
        }
        # The client id is the login, as the broker enforces: one connection
        # per login (a display and a speaker on the same bus need two).
        self.client = mqtt_client(user, username=user,
                                  password=password, prefix=self.prefix, device=self.device,
                                  keepalive=cfg.mqtt.keepalive)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> "DisplayLink":
        self.client.connect_async(self.host, self.port, self.cfg.mqtt.keepalive)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        # Say goodbye explicitly: a clean disconnect does not fire the will.
        if self.connected.is_set():
            self.client.publish(self.topics.presence(self.device),
                                presence(self.device, "offline", time.time()), qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, rc, props=None) -> None:
        if rc.is_failure:
            log.error("MQTT connect to %s:%s refused: %s", self.host, self.port, rc)
            return
        for topic in self._kinds:
            client.subscribe(topic, 1)
        client.publish(self.topics.presence(self.device),
                       presence(self.device, "online", time.time()), qos=1, retain=True)
        self.connected.set()
        log.info("connected to %s:%s as %s", self.host, self.port, self.device)
        self.handler("link", {"connected": True})

    def _on_disconnect(self, client, userdata, flags, rc, props=None) -> None:
        self.connected.clear()
        log.warning("MQTT connection lost (%s); reconnecting", rc)
        self.handler("link", {"connected": False})

    def _on_message(self, client, userdata, msg) -> None:
        kind = self._kinds.get(msg.topic)
        if kind is None:
            return
        if not msg.payload:
            # An empty retained message clears the topic: no notice means
            # the configured one; other topics keep what they showed.
            if kind == "notice":
                self.handler("notice", {"text": ""})
            else:
                log.info("%s: cleared on the broker; keeping the last state", msg.topic)
            return
        try:
            body = json.loads(msg.payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            log.warning("%s: payload dropped, not UTF-8 JSON (%s)", msg.topic, e)
            return
        if not isinstance(body, dict):
            log.warning("%s: payload dropped, expected a JSON object", msg.topic)
            return
        try:
            self.handler(kind, body)
        except Exception:
            log.exception("%s: handling a message failed", msg.topic)
