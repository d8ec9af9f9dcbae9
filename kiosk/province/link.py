"""The aggregator's MQTT link: paho, with whole packets read from a buffer.

At 12,000 events/s paho's own per-message cost was the largest CPU share
of the aggregator (docs/performance.md, "What moved the figures"): for every
PUBLISH it makes a select() and three recv() calls (type byte, length byte,
body), builds an MQTTMessage, matches its topic against the callbacks under
two locks; and every ``ack()`` is a wake-up byte to its thread plus one
send() and one TCP segment.  This client keeps paho for everything else
(connect, TLS, keepalive, reconnect, the persistent session) and changes
only those paths:

- ``_packet_read`` reads up to 64 KiB at a time and frames the packets
  itself; a QoS 0/1 PUBLISH goes straight to ``on_publish_raw(topic,
  payload, mid, qos)`` (mid 0 at QoS 0); any other packet is handed to
  paho's own handler as paho would have read it;
- ``loop_read`` goes on while the buffer holds a whole packet, since
  select() cannot see bytes already read;
- ``ack_many`` queues the PUBACKs of a committed batch as ONE write,
  through paho's own output queue (the same writer as its other packets).

This leans on paho 2.x's private ``_packet_read``, ``_in_packet``,
``_packet_handle``, ``_packet_queue`` and ``_loop_rc_handle``;
tests/test_province_link.py runs it against a real Mosquitto, so an upgrade
that changes them fails there first.
"""
from __future__ import annotations

import ssl
from typing import Any, Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.exception import MalformedPacket

_CHUNK = 65536
_OK = mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
_AGAIN = mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
_LOST = mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
_PROTOCOL = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL


def _frame(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """(first byte, body start, body end) of the packet at ``pos``, None if
    not all there yet; ValueError if its length field is malformed."""
    n, mult, i = 0, 1, pos + 1
    while True:
        if i >= len(buf):
            return None
        byte = buf[i]
        n += (byte & 0x7F) * mult
        i += 1
        if not byte & 0x80:
            break
        mult *= 128
        if i - pos > 4:
            raise ValueError("remaining length longer than 4 bytes")
    return (buf[pos], i, i + n) if i + n <= len(buf) else None


class BatchClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_publish_raw: Callable[[str, bytes, int, int], None] | None = None
        self._rbuf = b""
        self._rpos = 0
        # The socket the buffer's bytes came from: a reconnect must never
        # parse the old connection's leftovers.
        self._rsock: Any = None

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        if self._rsock is not self._sock:
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        while True:
            try:
                framed = _frame(self._rbuf, self._rpos) if self._rpos < len(self._rbuf) else None
            except ValueError:
                return _PROTOCOL
            if framed is not None:
                break
            try:
                data = self._sock.recv(_CHUNK)  # type: ignore[union-attr]
            except (BlockingIOError, ssl.SSLWantReadError):
                return _AGAIN
            except ssl.SSLWantWriteError:
                self._call_socket_register_write()
                return _AGAIN
            except (OSError, AttributeError) as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
                return _LOST
            if not data:
                return _LOST
            self._rbuf = self._rbuf[self._rpos:] + data
            self._rpos = 0
        head, start, end = framed
        self._rpos = end
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        if head & 0xF0 == mqtt.PUBLISH and head & 0x06 in (0, 2) and self.on_publish_raw is not None \
                and self._protocol != mqtt.MQTTv5:
            return self._publish(head, self._rbuf, start, end)
        self._in_packet = {"command": head, "have_remaining": 1, "remaining_count": [],
                           "remaining_mult": 1, "remaining_length": end - start,
                           "packet": bytearray(self._rbuf[start:end]), "to_process": 0, "pos": 0}
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = _PROTOCOL
        self._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [],
                           "remaining_mult": 1, "remaining_length": 0, "packet": bytearray(b""),
                           "to_process": 0, "pos": 0}
        return rc

    def _publish(self, head: int, buf: bytes, start: int, end: int) -> mqtt.MQTTErrorCode:
        qos = (head & 0x06) >> 1
        topic_end = start + 2 + int.from_bytes(buf[start:start + 2], "big")
        body = topic_end + (2 if qos else 0)
        if topic_end == start + 2 or body > end:
            return _PROTOCOL
        mid = int.from_bytes(buf[topic_end:body], "big") if qos else 0
        # A topic that is not UTF-8 still arrives, for the aggregator to
        # reject with a reason; it cannot match a phucvu/<site>/ topic.
        topic = buf[start + 2:topic_end].decode("utf-8", "replace")
        assert self.on_publish_raw is not None
        self.on_publish_raw(topic, buf[body:end], mid, qos)
        return _OK

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        # paho's own reads one packet per select() wake-up; packets already
        # in the buffer would wait for the next bytes on the socket.
        while True:
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == _AGAIN or self._rpos >= len(self._rbuf):
                return _OK

    def ack_many(self, mids: Iterable[int]) -> None:
        """PUBACK every message id in ``mids`` (QoS 1: the aggregator
        subscribes at QoS 1, so nothing arrives at QoS 2), in one write."""
        packet = b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)
        if packet:
            self._packet_queue(mqtt.PUBACK, packet, 0, 0)
