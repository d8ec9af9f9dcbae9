"""The broker's ACL, from outside: every login against every topic, on a real Mosquitto.

The generated config (``kiosk.broker``, what ``phucvu broker`` writes for a
centre) is started as is.  For every login and every topic of
``contract.TOPICS`` (placeholders filled with the login's own counter, kiosk
or device and with someone else's), the test publishes as that login and
watches with a superuser whether it arrives, and subscribes as that login
while a superuser publishes, against the matrix written below.  A refusal
is silent in MQTT 3.1.1, so each negative is bounded by a sentinel the same
connection sends after its probes: when the sentinel is in, every probe
that was going to arrive has.

Then every login is attacked by the others: a client of another login that
connects with the victim's client id (or with the core's former id
``phucvu-<site>-core``) must not disconnect it.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import paho.mqtt.client as mqtt
import pytest

from kiosk import contract
from kiosk.broker import Broker, users_for

WAIT = 5.0
SUPER = ["tester-1", "tester-2"]          # the observer and the publisher

# What each login may publish and read, as topic filters under the prefix:
# {me} is the login, {n} the counter of a counter-N login.  Written from
# docs/mqtt.md ("Logins and ACLs"), not from kiosk/broker.py.
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "core": (["#"], ["#"]),
    "cli": (["core/command", "counter/+/command", "event/ticket", "event/rating", "event/case", "presence/cli"],
            ["core/reply", "counter/+/reply", "counter/+/state", "display/snapshot", "queue/summary",
             "config/site", "presence/#"]),
    "web": (["counter/+/command", "core/command", "presence/web"], ["#"]),
    "phone": (["phone/rating", "phone/stats", "presence/phone"],
              ["phone/reply", "queue/tickets", "config/site", "presence/core", "presence/phone"]),
    "kiosk": (["ticket/request/{me}", "presence/{me}"],
              ["ticket/reply/{me}", "queue/summary", "printer/status", "config/site", "presence/core",
               "presence/{me}"]),
    "display": (["presence/{me}"], ["display/#", "config/site", "event/call", "queue/summary", "presence/#"]),
    "counter": (["counter/{n}/command", "counter/{n}/rating", "presence/{me}"],
                ["counter/{n}/state", "counter/{n}/reply", "config/site", "presence/{me}"]),
}
# Logins under test: every role, and two of each device kind, so that each
# has someone else's topics to try.
LOGINS = ["core", "cli", "web", "phone", "kiosk-1", "kiosk-2", "display-1", "display-2", "counter-1", "counter-2"]
# Topics outside contract.TOPICS that must stay closed: the request topic
# without a login (before the login went into the topic, any kiosk could
# publish here naming any other kiosk as "client").
LEGACY = ["ticket/request"]


def concrete_topics() -> list[str]:
    fill = {"{n}": ["1", "2"], "{client}": ["kiosk-1", "kiosk-2"], "{device}": LOGINS}
    out = []
    for spec in contract.TOPICS:
        holes = [h for h in fill if h in spec.pattern]
        assert len(holes) <= 1, spec.pattern
        if not holes:
            out.append(spec.pattern)
        else:
            out += [spec.pattern.replace(holes[0], v) for v in fill[holes[0]]]
    return out + LEGACY


def allowed(login: str, kind: int, topic: str) -> bool:
    role = login.split("-")[0]
    me, n = login, login.removeprefix("counter-")
    return any(mqtt.topic_matches_sub(f.replace("{me}", me).replace("{n}", n), topic)
               for f in EXPECTED[role][kind])


def client_id_of(login: str, site_id: str) -> str:
    # What each part asks for as its client id (the core's former one for the core).
    return f"phucvu-{site_id}-core" if login == "core" else login


class Probe:
    """One connection as ``login``: records what arrives and how often it was cut off."""

    def __init__(self, broker, prefix: str, login: str, client_id: str, subscribe=()):
        self.login, self.prefix = login, prefix
        self.got: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.disconnects = 0
        self.ready = threading.Event()
        self.subscribe = [f"{prefix}/{t}" for t in subscribe]
        self.client = contract.mqtt_client(client_id, username=login, password=broker.password(login),
                                           prefix=prefix)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect_async(broker.host, broker.port, 10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            return
        if self.subscribe:
            client.subscribe([(t, 1) for t in self.subscribe])
        else:
            self.ready.set()

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        with self.cond:
            self.disconnects += 1
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.got.append((msg.topic.removeprefix(self.prefix + "/"), msg.payload))
            self.cond.notify_all()

    def wait_ready(self) -> "Probe":
        assert self.ready.wait(WAIT), f"{self.login} could not connect and subscribe"
        return self

    def publish(self, rel: str, payload: bytes) -> None:
        self.client.publish(f"{self.prefix}/{rel}", payload, qos=1)

    def wait_for(self, payload: bytes) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: any(p == payload for _, p in self.got), WAIT), \
                f"{self.login}: {payload!r} never arrived"

    def seen(self, marker: bytes) -> set[str]:
        with self.cond:
            return {t for t, p in self.got if p.startswith(marker)}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def acl_broker(tmp_path, site):
    b = Broker(tmp_path / "broker", site, users=users_for(site, kiosks=2, displays=2),
               superusers=SUPER).start()
    yield b
    b.stop()


def test_every_login_publishes_and_reads_exactly_its_topics(acl_broker, site):
    prefix, topics = site.topic_prefix, concrete_topics()
    observer = Probe(acl_broker, prefix, "tester-1", "tester-1", ["#"])
    publisher = Probe(acl_broker, prefix, "tester-2", "tester-2")
    # Each login subscribes to every topic one by one, and to everything at
    # once (a wildcard must not reach further than the single topics).
    probes = {u: Probe(acl_broker, prefix, u, client_id_of(u, site.site.id), [*topics, "#"]) for u in LOGINS}
    try:
        for p in (observer, publisher, *probes.values()):
            p.wait_ready()
        # Publish: every login tries every topic, then its sentinel.
        for u, p in probes.items():
            for t in topics:
                p.publish(t, f"w|{u}|{t}".encode())
            p.publish(f"presence/{u}", f"wdone|{u}".encode())
        # Read: the superuser publishes on every topic, then one sentinel per login.
        for t in topics:
            publisher.publish(t, f"r|{t}".encode())
        for u in LOGINS:
            publisher.publish(f"presence/{u}", f"rdone|{u}".encode())
        for u, p in probes.items():
            observer.wait_for(f"wdone|{u}".encode())
            p.wait_for(f"rdone|{u}".encode())

        wrong = []
        for u, p in probes.items():
            wrote = observer.seen(f"w|{u}|".encode())
            read = p.seen(b"r|")
            for t in topics:
                for what, kind, got in (("publish", 0, t in wrote), ("read", 1, t in read)):
                    if got != allowed(u, kind, t):
                        wrong.append(f"{u} {'may' if got else 'may not'} {what} {t}")
        checks = len(LOGINS) * len(topics) * 2
        assert not wrong, f"{len(wrong)} of {checks} checks wrong:\n" + "\n".join(wrong)
    finally:
        for p in (observer, publisher, *probes.values()):
            p.close()


def _alive(p: Probe) -> None:
    """A round trip on the victim's own connection (it reads its presence)."""
    marker = f"alive|{time.monotonic_ns()}".encode()
    p.publish(f"presence/{p.login}", marker)
    p.wait_for(marker)


def _attack(broker, prefix: str, attacker: str, client_ids: list[str]) -> None:
    """Connect as ``attacker`` under each client id in turn (each waits for CONNACK)."""
    for cid in client_ids:
        done = threading.Event()
        c = contract.mqtt_client(cid, username=attacker, password=broker.password(attacker), prefix=prefix)
        c.on_connect = lambda *a, done=done: done.set()
        c.connect_async(broker.host, broker.port, 10)
        c.loop_start()
        try:
            assert done.wait(WAIT), f"{attacker} as {cid!r}: no CONNACK"
        finally:
            c.disconnect()
            c.loop_stop()


def test_no_login_can_take_another_logins_connection(acl_broker, site):
    prefix = site.topic_prefix
    halves = [LOGINS[::2], LOGINS[1::2]]
    for victims, attackers in (halves, halves[::-1]):
        held = {u: Probe(acl_broker, prefix, u, client_id_of(u, site.site.id), [f"presence/{u}"]) for u in victims}
        try:
            for p in held.values():
                p.wait_ready()
            ids = sorted({f"phucvu-{site.site.id}-core", *victims, *(client_id_of(u, site.site.id) for u in victims)})
            with ThreadPoolExecutor(len(attackers)) as pool:
                for f in [pool.submit(_attack, acl_broker, prefix, a, ids) for a in attackers]:
                    f.result()
            for p in held.values():
                _alive(p)
            cut = {u: p.disconnects for u, p in held.items() if p.disconnects}
            assert not cut, f"{attackers} reusing client ids {ids} disconnected {cut}"
        finally:
            for p in held.values():
                p.close()


def test_a_second_connection_of_a_login_replaces_the_first(acl_broker, site):
    """The flip side of use_username_as_clientid, as docs/mqtt.md says: one
    connection per login (so two processes must never share one)."""
    prefix = site.topic_prefix
    first = Probe(acl_broker, prefix, "kiosk-1", "kiosk-1", ["presence/kiosk-1"]).wait_ready()
    try:
        _attack(acl_broker, prefix, "kiosk-1", ["some-other-id"])
        with first.cond:
            assert first.cond.wait_for(lambda: first.disconnects >= 1, WAIT)
    finally:
        first.close()


def test_the_phone_page_speaks_only_for_citizens(acl_broker, site):
    """The one login on the public Wi-Fi's side: it sends ratings and reads
    what a phone shows; it cannot press a counter's keys or buttons, ask for
    tickets, forge the retained state or read the counters and the core."""
    prefix = site.topic_prefix
    observer = Probe(acl_broker, prefix, "tester-1", "tester-1", ["#"])
    publisher = Probe(acl_broker, prefix, "tester-2", "tester-2")
    phone = Probe(acl_broker, prefix, "phone", "phone", ["#"])
    refused = ["counter/1/command", "counter/1/rating", "ticket/request/phone", "ticket/request/kiosk-1",
               "core/command", "queue/tickets", "config/site", "phone/reply", "event/rating",
               "presence/core"]
    hidden = ["counter/1/state", "counter/1/reply", "core/reply", "display/snapshot", "event/rating",
              "event/ticket", "ticket/reply/kiosk-1", "queue/summary", "phone/rating", "phone/stats",
              "presence/kiosk-1"]
    try:
        for p in (observer, publisher, phone):
            p.wait_ready()
        for t in refused:
            phone.publish(t, f"forged|{t}".encode())
        phone.publish("phone/rating", b"sent|phone/rating")
        for t in hidden:
            publisher.publish(t, f"secret|{t}".encode())
        publisher.publish("phone/reply", b"shown|phone/reply")
        observer.wait_for(b"sent|phone/rating")
        phone.wait_for(b"shown|phone/reply")
        assert observer.seen(b"forged|") == set()
        assert phone.seen(b"secret|") == set()
    finally:
        for p in (observer, publisher, phone):
            p.close()
