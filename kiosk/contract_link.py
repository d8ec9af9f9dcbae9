"""How every part connects to the bus, and the payloads every part writes
(presence): a room of ``kiosk.contract``, which re-exports everything here.

Standard library and paho only: the wall display connects through this
without loading pydantic, which ``kiosk.contract``'s inbound schemas need
(docs/performance.md, the display's memory).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from kiosk.topics import Topics


class PayloadError(ValueError):
    """A payload that is not what the contract says; the message says why."""


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def presence(device: str, status: Literal["online", "offline"], at: float | None = None) -> bytes:
    body: dict[str, Any] = {"device": device, "status": status}
    if at is not None:
        body["at"] = at
    return encode(body)


# ------------------------------------------------------------------ clients
# How every part connects: MQTT 3.1.1, a login, a retained presence with a
# last will, a short reconnect delay.  paho is imported lazily.
def read_password(path: str | Path) -> str:
    """The one secret in an MQTT password file; PayloadError saying why when there is none.

    An empty file is refused here rather than at the broker, whose answer
    ("not authorised") would not say which file to look at.
    """
    try:
        with open(path, encoding="utf-8") as f:
            secret = f.read().strip()
    except OSError as e:
        raise PayloadError(f"cannot read MQTT password file {path}: {e.strerror}") from None
    if not secret:
        raise PayloadError(f"the MQTT password file {path} is empty")
    return secret


def mqtt_client(client_id: str, *, username: str, password: str, prefix: str,
                device: str | None = None, keepalive: int = 10, persistent: bool = False,
                manual_ack: bool = False):
    """A paho 2.x client, not yet connected.

    Call ``client.connect_async(host, port, keepalive)`` then
    ``client.loop_start()``; subscribe in ``on_connect`` so subscriptions
    come back after every reconnect.  With ``device`` set, the broker
    publishes ``presence/<device>`` offline (retained) when the client dies;
    ``announce_online`` publishes the online side.

    ``persistent`` keeps the session on the broker across disconnects
    (clean session off, so ``client_id`` must be stable): QoS 1 messages that
    arrive while the client is away, or before it has resubscribed after a
    broker restart, are queued for it instead of dropped.  The core uses it,
    because a press it never saw is a press lost.

    ``manual_ack`` holds back the PUBACK of every inbound QoS 1 message
    until the application calls ``client.ack(mid, qos)``: the core does so
    only after committing the message's effect, so a crash before the commit
    leaves the message with the broker, which delivers it again.
    """
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv311, clean_session=not persistent,
                         manual_ack=manual_ack)
    client.username_pw_set(username, password)
    if device is not None:
        client.will_set(Topics(prefix).presence(device), presence(device, "offline"),
                        qos=1, retain=True)
    client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)  # type: ignore[arg-type]
    client.max_queued_messages_set(0)
    client.on_socket_open = no_delay
    return client


def no_delay(client: Any, userdata: Any, sock: Any) -> None:
    # paho leaves Nagle's algorithm on: a small publish that follows an
    # unacknowledged one then waits for the peer's delayed ACK (~40 ms on
    # Linux).  Queue messages are small and latency is the point.
    import socket
    if getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def announce_online(client: Any, prefix: str, device: str, at: float) -> None:
    client.publish(Topics(prefix).presence(device), presence(device, "online", at), qos=1, retain=True)
