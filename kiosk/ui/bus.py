"""The kiosk's link to the bus: one paho client, one narrow seam.

It subscribes to the retained ``queue/summary``, ``printer/status`` and
``config/site`` (a saved change of the centre, applied live by the root) and
to its own ``ticket/reply/<client>``, publishes ``ticket/request/<client>``
(``<client>`` is its login, which is also its client id), and keeps a
retained presence with a last will.  Every inbound message is handed to
``on_message(kind, payload)`` *on paho's thread*; the UI hops to its own
thread with Kivy's Clock before touching a widget.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk import contract
from kiosk.config import SiteConfig

log = logging.getLogger("phucvu.kiosk.bus")


class KioskBus:
    def __init__(self, config: SiteConfig, *, client_id: str, username: str | None,
                 password: str | None, on_message: Callable[[str, dict[str, Any]], None],
                 on_link: Callable[[bool], None] = lambda up: None,
                 host: str | None = None, port: int | None = None):
        self.config = config
        self.client_id = client_id
        self.topics = contract.Topics(config.topic_prefix)
        self.on_message = on_message
        self.on_link = on_link
        self.host = host or config.mqtt.host
        self.port = port or config.mqtt.port
        self.connected = False
        self._routes = {
            self.topics.queue_summary: "summary",
            self.topics.printer_status: "printer",
            self.topics.config_site: "config",
            self.topics.ticket_reply(client_id): "reply",
        }
        # A persistent session (clean_session=False) keeps replies the broker
        # queued while the kiosk's link was briefly down.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=False)
        if username:
            self.client.username_pw_set(username, password)
        self.client.will_set(self.topics.presence(client_id),
                             contract.presence(client_id, "offline"), qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.host, self.port,
                                  keepalive=self.config.mqtt.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        if self.connected:
            info = self.client.publish(self.topics.presence(self.client_id),
                                       contract.presence(self.client_id, "offline", time.time()),
                                       qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass        # the connection went just now: the will says offline
        self.client.disconnect()
        self.client.loop_stop()

    def request(self, payload: dict[str, Any]) -> None:
        # The login in the topic is what the broker's ACL checks and where the core replies.
        info = self.client.publish(self.topics.ticket_request(self.client_id), contract.encode(payload),
                                   qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # Not lost: the flow re-sends the same request_id until a reply comes.
            log.warning("ticket request %s not sent now (%s); it will be re-sent",
                        payload.get("request_id"), mqtt.error_string(info.rc))

    # -- paho thread ---------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the kiosk (%s) as user %r", reason_code, self.client_id)
            return
        self.connected = True
        client.subscribe([(t, 1) for t in self._routes])
        client.publish(self.topics.presence(self.client_id),
                       contract.presence(self.client_id, "online", time.time()), qos=1, retain=True)
        self.on_link(True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        log.warning("kiosk lost the broker (%s); paho reconnects", reason_code)
        self.on_link(False)

    def _on_message(self, client, userdata, msg) -> None:
        kind = self._routes.get(msg.topic)
        if kind is None:
            log.warning("unexpected message on %s ignored", msg.topic)
            return
        if not msg.payload:
            return      # a cleared retained topic
        try:
            payload = json.loads(msg.payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            log.error("bad payload on %s ignored: %s: %r", msg.topic, e, msg.payload[:200])
            return
        if not isinstance(payload, dict):
            log.error("bad payload on %s ignored: a JSON object was expected, got %s",
                      msg.topic, type(payload).__name__)
            return
        self.on_message(kind, payload)
