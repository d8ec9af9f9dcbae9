"""The aggregator's MQTT link (kiosk/province/link.py) against a real Mosquitto.

It frames packets itself and writes a batch's PUBACKs as one write, relying
on paho's private methods: these tests say whether that still holds (every
message arrives whole, once, in order, also across 64 KiB reads; an ack
reaches the broker, an unacked message comes back on the next session).
"""
from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest

from kiosk.province import events as ev
from kiosk.province.central import AGGREGATOR, CentralBroker
from kiosk.province.devdb import wait_for
from kiosk.province.link import BatchClient, _frame

SITE = "xa-an-binh"


def client(central: CentralBroker, got: list) -> BatchClient:
    c = BatchClient(mqtt.CallbackAPIVersion.VERSION2, client_id="link-test", protocol=mqtt.MQTTv311,
                    clean_session=False, manual_ack=True)
    c.username_pw_set(AGGREGATOR, central.password(AGGREGATOR))
    c.on_publish_raw = lambda topic, payload, mid, qos: got.append((topic, payload, mid, qos))
    c.on_connect = lambda cl, *_: cl.subscribe([(t, 1) for t in ev.SUBSCRIPTIONS])
    c.connect("127.0.0.1", central.port)
    c.loop_start()
    return c


def publisher(central: CentralBroker) -> mqtt.Client:
    p = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="link-site")
    p.username_pw_set(SITE, central.password(SITE))
    p.connect("127.0.0.1", central.port)
    p.loop_start()
    return p


@pytest.fixture
def central(tmp_path):
    # Room for all 3,000 unacknowledged at once (the default is 1,000).
    broker = CentralBroker(tmp_path / "central", [SITE], max_inflight=5000).start()
    yield broker
    broker.stop()


def test_messages_arrive_whole_in_order_and_only_unacked_ones_come_back(central):
    got: list = []
    agg = client(central, got)
    assert wait_for(lambda: agg.is_connected(), 10)
    time.sleep(0.3)  # the subscription in place
    site = publisher(central)
    # Small messages many to a 64 KiB read, and a few longer than one read.
    bodies = [json.dumps({"n": n, "pad": "x" * (150_000 if n % 97 == 0 else n % 50)}).encode()
              for n in range(3000)]
    for body in bodies:
        site.publish(f"phucvu/{SITE}/event/ticket", body, qos=1).wait_for_publish(10)
    assert wait_for(lambda: len(got) == len(bodies), 20)
    assert [p for _, p, _, _ in got] == bodies
    assert {(t, q) for t, _, _, q in got} == {(f"phucvu/{SITE}/event/ticket", 1)}
    assert len({m for _, _, m, _ in got}) == len(bodies)
    # The first 2,000 acknowledged in one write; the rest not.
    agg.ack_many(m for _, _, m, _ in got[:2000])
    time.sleep(0.5)
    agg.disconnect()
    agg.loop_stop()
    # The same session again: only the 1,000 unacknowledged come back.
    again: list = []
    agg = client(central, again)
    assert wait_for(lambda: len(again) == 1000, 20)
    time.sleep(0.5)
    assert [p for _, p, _, _ in again] == bodies[2000:]
    agg.ack_many(m for _, _, m, _ in again)
    time.sleep(0.5)
    agg.disconnect()
    agg.loop_stop()
    site.disconnect()
    site.loop_stop()


def test_a_qos0_publish_arrives_without_an_id(central):
    got: list = []
    agg = client(central, got)
    assert wait_for(lambda: agg.is_connected(), 10)
    time.sleep(0.3)
    site = publisher(central)
    site.publish(f"phucvu/{SITE}/site/info", b"{}", qos=0)
    assert wait_for(lambda: got == [(f"phucvu/{SITE}/site/info", b"{}", 0, 0)], 10)
    site.disconnect()
    site.loop_stop()
    agg.disconnect()
    agg.loop_stop()


def test_framing_waits_for_a_whole_packet_and_refuses_a_long_length():
    packet = b"\x32" + bytes([0x80 | 4, 1]) + b"x" * 132
    assert _frame(packet[:2], 0) is None          # the length not all there
    assert _frame(packet[:50], 0) is None         # the body not all there
    assert _frame(b"zz" + packet, 2) == (0x32, 5, 137)
    with pytest.raises(ValueError):
        _frame(b"\x30\xff\xff\xff\xff\x01", 0)
