"""The yardstick: a whole day of service, gaming, forgery and faults, counted.

Real parts only: Mosquitto from kiosk.broker (generated logins and ACLs), the
core (``python -m kiosk.cli core``) and the bridge (``python -m kiosk.cli
bridge``) each in its own process group, and four simulated counter boxes
(firmware_bridge/sim.py, the real firmware on pty pairs) driven by one thread
per counter, as staff and citizens would:

- service: tickets issued through ``core/command`` by a bench superuser
  (retried under the same id until the core replies); at each counter the
  official presses Next, waits for the number on the box, serves, presses
  Finish; a citizen presses one rating 1.5-8 s later (the bench site's
  ``[rating] window_s`` is 10 s, ``min_press_interval_s`` 1 s), or walks away;
- gaming, from the boxes (tests/test_ratings.py): presses with no ticket yet,
  a second press after the citizen's, bursts 0.15-0.2 s apart, presses after
  the window, presses while the next citizen is served;
- forgery, from other logins at the worst moment (a window open, unrated):
  kiosk-1, display-1, web, cli and counter-2 publishing on counter/N/rating,
  logins asking for another login's client id, and ticket requests for
  another kiosk;
- faults, at random and at the worst moment: the core killed -9 (also 0-300 ms
  after "core ready" with presses queued for it), the bridge killed -9, the
  broker restarted cleanly and killed -9, a cable pulled mid-frame, a box
  rebooted, outages of the core, bridge or broker longer than the rating
  window that start right after a Finish (the citizen presses during them),
  and, once, a box that reboots right after a Finish followed by such a core
  outage (the citizen's press is then the first of the box's new boot).
- probes: while the core is down before a kill-right-after-start, the bench
  publishes rating presses once, QoS 1, never again, on a box-less counter 5.
  The broker PUBACKs them; by docs/mqtt.md ("Who may forget a message") the
  core may acknowledge each only after its commit, so none may be lost.

Then everything drains (every box's ring empty) and the core's SQLite file is
read (read-only).  Figures, as ``name=value`` lines at the end:

  presses_made, keys_made    rating presses and keys the firmware accepted
  presses_lost               accepted presses not in ``ratings`` plus keys not
                             in ``commands`` (``ratings_lost`` + ``keys_lost``)
  presses_doubled            rows with no accepted press behind them, and one
                             physical press (box, boot, box time) under two ids
  genuine_misjudged          citizens' presses stored with counted = 0
  genuine_wrong_ticket       counted, but for another ticket than the one
                             finished at that counter just before
  gaming_counted             the gaming presses stored with counted = 1
  forged_stored, forged_counted, forged_tickets
  probes_lost                probes the broker acknowledged, not stored
  tickets_lost               tickets the core confirmed, not in ``tickets``

All of these but presses_made and keys_made must be 0.  Exit 0 when measured
(the figures speak), 2 when it could not measure (a process would not start,
a counter got stuck, the drain timed out).  Details of every non-zero figure
go to stderr.

    .venv/bin/python bench/yardstick.py
    YARDSTICK_SEED=7 YARDSTICK_SCALE=0.5 .venv/bin/python bench/yardstick.py

YARDSTICK_SCALE scales the day (1.0: 150 s of service, about 3 minutes in
all); YARDSTICK_KEEP=1 keeps the temporary directory (logs, databases);
YARDSTICK_FAULTS picks fault kinds to reproduce one (``outage:core``,
``reboot_then_outage``, ``core_kill9_after_start``; ``-kind`` leaves one out).
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _admin import Admin
from _procs import CannotMeasure, Proc, broker_kill9, could_not_measure
from _util import ROOT, emit

import paho.mqtt.client as mqtt  # noqa: E402

from firmware_bridge.delivery import event_id  # noqa: E402
from firmware_bridge.sim import SimBox  # noqa: E402
from kiosk import config as site_config  # noqa: E402
from kiosk.broker import Broker  # noqa: E402

SEED = int(os.environ.get("YARDSTICK_SEED", "1"))
SCALE = float(os.environ.get("YARDSTICK_SCALE", "1.0"))
KEEP = os.environ.get("YARDSTICK_KEEP", "") not in ("", "0")
# Only these fault kinds (comma-separated, e.g. "outage:core,reboot_then_outage"): to reproduce one.
# "-kind" leaves one out.
_FAULTS = [k.strip() for k in os.environ.get("YARDSTICK_FAULTS", "").split(",") if k.strip()]
ONLY = {k for k in _FAULTS if not k.startswith("-")}
SKIP = {k[1:] for k in _FAULTS if k.startswith("-")}
DAY_S = 150.0 * SCALE
WINDOW_S = 10.0
MIN_INTERVAL_S = 1.0
COUNTERS = (1, 2, 3, 4)
PROBE_COUNTER = 5
ADMIN = "bench-admin"
LABEL = re.compile(r"^[A-Z]\d{3}$")
FIELDS = ("tu-phap", "chung-thuc", "dat-dai", "van-hoa-xa-hoi", "kinh-te")
T0 = time.monotonic()


def rel(t: float | None = None) -> float:
    return round((time.monotonic() if t is None else t) - T0, 2)


def log(msg: str) -> None:
    print(f"[{rel():7.2f}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the bus
def one_shot(broker: Broker, user: str, topic: str, body: dict, client_id: str | None = None) -> bool:
    """Connect as ``user``, publish once at QoS 1, leave; True if the broker took it."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"{user}-x",
                    protocol=mqtt.MQTTv311, clean_session=True)
    c.username_pw_set(user, broker.password(user))
    try:
        c.connect(broker.host, broker.port, 5)
    except OSError:
        return False
    c.loop_start()
    try:
        info = c.publish(topic, json.dumps(body), qos=1)
        info.wait_for_publish(3)
        return info.is_published()
    except (RuntimeError, ValueError):
        return False
    finally:
        c.disconnect()
        c.loop_stop()


# ----------------------------------------------------------------- presses
@dataclass
class Press:
    counter: int
    device: str
    boot: int
    seq: int
    source: int                 # 1 key, 2 rating (firmware codes)
    code: int
    role: str                   # key name, "genuine", or "gaming:<how>"
    at: float                   # bench monotonic, when the firmware accepted it
    meant: str | None = None    # genuine: the label finished at this counter just before
    call_eid: str | None = None  # genuine: the Next key that called it

    @property
    def eid(self) -> str:
        return event_id(self.device, self.boot, self.seq)


@dataclass
class Moments:
    """What the counters just did, for faults and forgers that wait for the worst moment."""
    cond: threading.Condition = field(default_factory=threading.Condition)
    items: list[tuple[str, int, float]] = field(default_factory=list)

    def add(self, kind: str, counter: int) -> None:
        with self.cond:
            self.items.append((kind, counter, time.monotonic()))
            self.cond.notify_all()

    def wait(self, kinds: tuple[str, ...], timeout: float) -> tuple[str, int, float] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            start = len(self.items)
            while True:
                for item in self.items[start:]:
                    if item[0] in kinds:
                        return item
                start = len(self.items)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


class Stop(Exception):
    pass


class Counter:
    """One counter: its box, its official and the citizens in front of it."""

    def __init__(self, n: int, box: SimBox, admin: Admin, rng: random.Random, day_end: float,
                 stopping: threading.Event, moments: Moments):
        self.n, self.box, self.admin, self.rng = n, box, admin, rng
        self.day_end, self.stopping, self.moments = day_end, stopping, moments
        self.lock = threading.Lock()       # held by a press, and by a fault on this box
        self.presses: list[Press] = []
        self.refused = 0                   # presses the firmware refused (ring full)
        self.last_label: str | None = None
        self.rounds: dict[str, int] = {}
        self.error: BaseException | None = None

    # -- the box
    def press(self, what: str, role: str, deadline: float | None = None) -> Press | None:
        """Press a key (``next``, ``finish``) or a rating (``rate1``..): the accepted press or None."""
        while True:
            if self.stopping.is_set():
                raise Stop
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                return None          # the box was unplugged until too late: nobody pressed
            if self.lock.acquire(timeout=wait):
                break
        try:
            before = len(self.box.accepted)
            if what.startswith("rate"):
                self.box.rate(int(what[4:]))
            else:
                self.box.press(what)
            end = time.monotonic() + 2.0
            while len(self.box.accepted) == before:
                if time.monotonic() > end:
                    self.refused += 1
                    return None
                time.sleep(0.001)
            boot, seq, source, code = self.box.accepted[before]
            p = Press(self.n, self.box.device_id, boot, seq, source, code, role, time.monotonic())
            self.presses.append(p)
            return p
        finally:
            self.lock.release()

    def sleep_until(self, t: float) -> None:
        while True:
            left = t - time.monotonic()
            if left <= 0:
                return
            if self.stopping.wait(min(left, 0.2)):
                raise Stop

    def call_next(self) -> tuple[str, str]:
        """Next, then wait for the number on the box (or the core's reply); the label and key id."""
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            p = self.press("next", "next")
            if p is None:
                continue
            while time.monotonic() < deadline:
                r = self.admin.reply(p.eid)
                if r is not None:
                    t = r.get("ticket") or {}
                    if r.get("ok") and t.get("label"):
                        self.last_label = t["label"]
                        return t["label"], p.eid
                    if not r.get("ok"):
                        break            # nobody waits (or refused): press again a bit later
                shown = self.box.display()[0].strip()
                if LABEL.match(shown) and shown != self.last_label:
                    self.last_label = shown
                    return shown, p.eid
                self.sleep_until(time.monotonic() + 0.05)
            self.sleep_until(time.monotonic() + 1.5)
        raise CannotMeasure(f"counter {self.n}: Next pressed for 150 s and no ticket called")

    def burst(self, role: str, count: int, gap: float) -> None:
        for i in range(count):
            if i:
                self.sleep_until(time.monotonic() + gap)
            self.press(f"rate{self.rng.randint(1, 3)}", role)

    # -- the day
    def run(self) -> None:
        try:
            self._day()
        except Stop:
            pass
        except BaseException as e:       # reported by the main thread
            self.error = e

    def _day(self) -> None:
        rng = self.rng
        # The official tries the buttons before anybody was served: no ticket, no window.
        self.sleep_until(time.monotonic() + rng.uniform(0, 2))
        for _ in range(2):
            self.press(f"rate{rng.randint(1, 3)}", "gaming:no_ticket")
            self.sleep_until(time.monotonic() + 1.5)
        prev_kind = None
        while time.monotonic() < self.day_end:
            label, call_eid = self.call_next()
            if prev_kind == "late" and rng.random() < 0.6:
                # The previous window closed long ago: a press while serving is nobody's rating.
                self.sleep_until(time.monotonic() + rng.uniform(0.2, 0.5))
                self.press(f"rate{rng.randint(1, 3)}", "gaming:while_serving")
            self.sleep_until(time.monotonic() + rng.uniform(1.0, 2.0))
            fin = self.press("finish", "finish")
            if fin is None:
                raise CannotMeasure(f"counter {self.n}: finish refused by the box (ring full)")
            self.moments.add("finish", self.n)
            kind = rng.choices(("rated", "walked_away", "late"), (0.6, 0.15, 0.25))[0]
            self.rounds[kind] = self.rounds.get(kind, 0) + 1
            if kind == "rated":
                # The citizen, inside the window on the box's clock, well clear of every other press.
                self.sleep_until(fin.at + rng.uniform(1.5, 8.0))
                p = self.press(f"rate{rng.randint(1, 3)}", "genuine", deadline=fin.at + 8.5)
                if p is not None:
                    if p.at - fin.at > 8.6:      # accepted too late to be sure: not a yardstick press
                        p.role = "other:late_accept"
                    else:
                        p.meant, p.call_eid = label, call_eid
                        self.moments.add("rated", self.n)
                        if rng.random() < 0.3:   # the official presses again after the citizen
                            self.sleep_until(p.at + rng.uniform(2.0, 3.5))
                            self.press(f"rate{rng.randint(1, 3)}", "gaming:after_citizen")
                        elif rng.random() < 0.2:  # or drums on the button
                            self.sleep_until(p.at + 2.0)
                            self.burst("gaming:burst_after_citizen", rng.randint(4, 6), 0.15)
                self.sleep_until(time.monotonic() + rng.uniform(0.5, 2.0))
            elif kind == "walked_away":
                self.sleep_until(time.monotonic() + rng.uniform(1.0, 3.0))
            else:
                # Nobody rated in time; the official presses after the window, maybe many times.
                self.sleep_until(fin.at + WINDOW_S + rng.uniform(1.5, 3.0))
                self.press(f"rate{rng.randint(1, 3)}", "gaming:after_window")
                if rng.random() < 0.5:
                    self.sleep_until(time.monotonic() + 0.2)
                    self.burst("gaming:burst_after_window", rng.randint(3, 5), 0.2)
                self.sleep_until(time.monotonic() + rng.uniform(0.5, 1.5))
            prev_kind = kind


# ------------------------------------------------------------------- faults
class Faults:
    def __init__(self, rng: random.Random, broker: Broker, core: Proc, bridge: Proc,
                 counters: dict[int, Counter], moments: Moments, admin: Admin, stopping: threading.Event):
        self.rng, self.broker, self.core, self.bridge = rng, broker, core, bridge
        self.counters, self.moments, self.admin, self.stopping = counters, moments, admin, stopping
        self.done: list[tuple[float, str, str]] = []
        self.probes: list[str] = []
        self.error: BaseException | None = None

    def note(self, kind: str, detail: str = "") -> None:
        self.done.append((rel(), kind, detail))
        log(f"fault {kind} {detail}")

    def nap(self, s: float) -> None:
        time.sleep(max(0.0, s))

    def box(self, n: int | None = None) -> Counter:
        return self.counters[n if n is not None else self.rng.choice(COUNTERS)]

    # -- the faults
    def core_kill9(self, down: float) -> None:
        self.core.kill9()
        self.note("core_kill9", f"down {down:.1f} s")
        self.nap(down)
        self.core.start()

    def core_kill9_after_start(self) -> None:
        """Presses and probes queue for a dead core; it is killed 0-300 ms after it comes up."""
        self.core.kill9()
        self.note("core_kill9", "before a restart with work queued")
        self.nap(1.0)
        for i in range(40):
            pid = f"probe-{len(self.probes)}"
            info = self.admin.publish(f"counter/{PROBE_COUNTER}/rating", {"rating_id": pid, "level": 1 + i % 3})
            try:
                info.wait_for_publish(3)
            except (RuntimeError, ValueError):
                pass
            if info.is_published():            # the broker PUBACKed it: the bench forgets it
                self.probes.append(pid)
        for _ in range(3):
            self.core.start()
            delay = self.rng.uniform(0.0, 0.3)
            self.nap(delay)
            self.core.kill9()
            self.note("core_kill9_after_start", f"{delay * 1000:.0f} ms after core ready")
        self.core.start()

    def bridge_kill9(self, down: float) -> None:
        self.bridge.kill9()
        self.note("bridge_kill9", f"down {down:.1f} s")
        self.nap(down)
        self.bridge.start()

    def broker_restart(self) -> None:
        self.broker.restart()
        self.note("broker_restart")

    def broker_kill9(self, down: float) -> None:
        broker_kill9(self.broker)
        self.note("broker_kill9", f"down {down:.1f} s")
        self.nap(down)
        self.broker.start()

    def unplug(self, c: Counter, down: float, why: str = "") -> None:
        with c.lock:
            c.box.unplug(mid_frame=True)
            self.note("unplug_mid_frame", f"box-{c.n} for {down:.1f} s {why}")
            self.nap(down)
            c.box.plug()

    def reboot(self, c: Counter, why: str = "") -> None:
        with c.lock:
            c.box.reboot()
        self.note("box_reboot", f"box-{c.n} {why}")

    def outage(self, part: str) -> None:
        """Right after a Finish: the part is down longer than the rating window."""
        m = self.moments.wait(("finish",), 30)
        self.outage_now(part, f"after finish at counter {m[1]}" if m else "(no finish seen)")

    def reboot_then_outage(self) -> None:
        """Right after a Finish the box reboots (a brown-out), then the core is down
        longer than the window: the citizen's press is the first of the new boot."""
        m = self.moments.wait(("finish",), 30)
        c = self.box(m[1] if m else None)
        self.reboot(c, f"right after finish at counter {c.n}")
        self.outage_now("core", f"right after the reboot of box-{c.n}")

    def outage_now(self, part: str, at: str) -> None:
        down = WINDOW_S + self.rng.uniform(1.0, 4.0)
        if part == "core":
            self.core.kill9()
        elif part == "bridge":
            self.bridge.kill9()
        else:
            broker_kill9(self.broker)
        self.note(f"outage_{part}", f"{down:.1f} s {at}")
        self.nap(down)
        if part == "core":
            self.core.start()
        elif part == "bridge":
            self.bridge.start()
        else:
            self.broker.start()

    def after_citizen(self, what: str) -> None:
        """Right after a citizen's press, while it is on its way."""
        m = self.moments.wait(("rated",), 30)
        why = f"right after a citizen's press at counter {m[1]}" if m else "(no press seen)"
        if what == "unplug":
            self.unplug(self.box(m[1] if m else None), self.rng.uniform(0.3, 2.0), why)
        elif what == "core":
            self.core.kill9()
            self.note("core_kill9", why)
            self.nap(self.rng.uniform(0.2, 1.5))
            self.core.start()
        elif what == "broker":
            broker_kill9(self.broker)
            self.note("broker_kill9", why)
            self.nap(self.rng.uniform(0.2, 1.5))
            self.broker.start()
        elif what == "reboot":
            self.reboot(self.box(m[1] if m else None), why)

    def plan(self) -> list[tuple[str, tuple]]:
        r = self.rng
        items: list[tuple[str, tuple]] = [
            ("core_kill9", (r.uniform(0.2, 2.0),)), ("core_kill9", (r.uniform(0.2, 2.0),)),
            ("core_kill9_after_start", ()),
            ("bridge_kill9", (r.uniform(0.2, 2.0),)), ("bridge_kill9", (r.uniform(0.2, 2.0),)),
            ("broker_restart", ()), ("broker_kill9", (r.uniform(0.2, 1.5),)),
            ("unplug", ()), ("unplug", ()), ("reboot", ()), ("reboot", ()),
            ("outage", ("core",)), ("outage", ("bridge",)), ("outage", ("broker",)),
            ("after_citizen", ("unplug",)), ("after_citizen", ("core",)),
            ("after_citizen", ("broker",)), ("after_citizen", ("reboot",)),
            ("reboot_then_outage", ()),
        ]

        def named(k: str, a: tuple, names: set[str]) -> bool:
            return k in names or f"{k}:{a[0] if a else ''}" in names

        items = [(k, a) for k, a in items if not named(k, a, SKIP)]
        if ONLY:
            return [(k, a) for k, a in items if named(k, a, ONLY)] * max(1, int(SCALE))
        if SCALE < 1:
            keep = max(6, int(len(items) * SCALE))
            items = items[:3] + r.sample(items[3:], max(0, min(keep, len(items)) - 3))
        elif SCALE > 1:
            items = items * int(SCALE) + r.sample(items, int(len(items) * (SCALE % 1)))
        r.shuffle(items)
        return items

    def run(self, day_end: float) -> None:
        try:
            items = self.plan()
            start = time.monotonic() + 6.0
            span = max(1.0, day_end - 14.0 - start)
            times = sorted(start + self.rng.uniform(0, span) for _ in items)
            for (kind, args), at in zip(items, times):
                while time.monotonic() < at:
                    if self.stopping.wait(0.2):
                        return
                if kind == "unplug":
                    self.unplug(self.box(), self.rng.uniform(0.3, 3.0))
                elif kind == "reboot":
                    self.reboot(self.box())
                else:
                    getattr(self, kind)(*args)
        except BaseException as e:
            self.error = e


# ------------------------------------------------------------------ forgers
FORGERIES = [
    # (login, client id asked for or None, where, what)
    ("kiosk-1", None, "rating", "a kiosk rates"),
    ("display-1", None, "rating", "a display rates"),
    ("web", None, "rating", "the web console rates"),
    ("cli", None, "rating", "the command line rates"),
    ("counter-2", None, "rating-1", "counter 2's login rates at counter 1"),
    ("display-1", "core", "rating", "a display asks for the core's client id"),
    ("web", "counter-1", "rating", "the web login asks for counter 1's client id"),
    ("kiosk-1", None, "ticket-other", "a kiosk asks on another kiosk's request topic"),
    ("kiosk-1", None, "ticket-client", "a kiosk names another kiosk in its request"),
]


class Forgers:
    def __init__(self, broker: Broker, prefix: str, moments: Moments, counters: dict[int, Counter],
                 stopping: threading.Event):
        self.broker, self.prefix, self.moments, self.counters = broker, prefix, moments, counters
        self.stopping = stopping
        self.rating_ids: list[str] = []
        self.request_ids: list[str] = []
        self.attempts = 0
        self.taken = 0
        self.error: BaseException | None = None

    def run(self, day_end: float) -> None:
        try:
            self.stopping.wait(5)
            gap = max(1.0, (day_end - 10 - time.monotonic()) / len(FORGERIES))
            for i, (user, cid, where, _) in enumerate(FORGERIES):
                if self.stopping.is_set():
                    return
                # Right after a Finish: a window is open and nobody has rated yet.
                m = self.moments.wait(("finish",), max(0.0, min(gap, day_end - time.monotonic())))
                n = m[1] if m else 1
                if where.startswith("rating"):
                    target = 1 if where == "rating-1" else n
                    box = self.counters[target].box
                    rid = f"forged-{i}-{user}"
                    body = {"rating_id": rid, "level": 1, "device": box.device_id, "boot": box.boots[-1],
                            "device_time_ms": box.board.ticks_ms(), "source": f"bridge:counter-{target}"}
                    self.rating_ids.append(rid)
                    topic = f"{self.prefix}/counter/{target}/rating"
                elif where == "ticket-other":
                    rid = f"forged-q{i}"
                    body = {"request_id": rid, "field": "tu-phap"}
                    self.request_ids.append(rid)
                    topic = f"{self.prefix}/ticket/request/kiosk-2"
                else:
                    rid = f"forged-q{i}"
                    body = {"request_id": rid, "client": "kiosk-2", "field": "tu-phap"}
                    self.request_ids.append(rid)
                    topic = f"{self.prefix}/ticket/request/kiosk-1"
                self.attempts += 1
                if one_shot(self.broker, user, topic, body, cid):
                    self.taken += 1
                log(f"forged {rid} by {user}{' as client id ' + cid if cid else ''} on {topic.split('/', 2)[-1]}")
                self.stopping.wait(max(0.0, min(gap, day_end - time.monotonic())))
        except BaseException as e:
            self.error = e


# ------------------------------------------------------------------- issuer
class Issuer:
    def __init__(self, admin: Admin, rng: random.Random, stopping: threading.Event):
        self.admin, self.rng, self.stopping = admin, rng, stopping
        self.confirmed: list[str] = []       # ticket ids the core said it issued
        self.n = 0
        self.error: BaseException | None = None

    def issue(self, fld: str) -> None:
        self.n += 1
        r = self.admin.command({"command_id": f"bench-issue-{self.n}", "action": "issue", "field": fld})
        if r.get("ok"):
            self.confirmed.append(r["ticket"]["ticket_id"])

    def run(self, served: threading.Event) -> None:
        """A ticket every second or so, until the last counter has finished its last round."""
        try:
            i = 0
            while not served.is_set() and not self.stopping.is_set():
                self.issue(FIELDS[i % len(FIELDS)])
                i += 1
                self.stopping.wait(self.rng.uniform(0.8, 1.6))
        except BaseException as e:
            self.error = e


# -------------------------------------------------------------------- setup
def write_site(tmp: Path, broker_port: int, links: dict[int, str], broker: Broker | None) -> Path:
    text = (ROOT / "deploy" / "demo-site.toml").read_text(encoding="utf-8")
    text = text.replace("port = 1883", f"port = {broker_port}")
    text = re.sub(r"daily_quota = \d+", "daily_quota = 999", text)
    text = text.replace("window_s = 60", f"window_s = {WINDOW_S:g}\nmin_press_interval_s = {MIN_INTERVAL_S:g}")
    # A box-less counter for the probes, so they judge nothing at a real counter.
    text = text.replace("[priority]", f'[[counters]]\nnumber = {PROBE_COUNTER}\nname = "Quầy {PROBE_COUNTER}"\n'
                                      'fields = ["kinh-te"]\n\n[priority]', 1)
    if broker is not None:
        lines = ["", "[bridge]", f'state_db = "{tmp / "bridge.db"}"']
        for n, link in links.items():
            lines += ["[[bridge.devices]]", f"counter = {n}", f'port = "{link}"', f'device_id = "box-{n}"',
                      f'password_file = "{broker.password_file(f"counter-{n}")}"']
        text += "\n".join(lines) + "\n"
    path = tmp / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- counting
def count(db: Path, counters: dict[int, Counter], forgers: Forgers, faults: Faults,
          issuer: Issuer) -> dict[str, object]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ratings = {r[0]: r for r in conn.execute(
            "SELECT id, ticket_id, counter, level, counted, reason, delivered_late, payload FROM ratings")}
        commands = {r[0]: json.loads(r[1]) for r in conn.execute("SELECT command_id, reply FROM commands")}
        labels = dict(conn.execute("SELECT id, label FROM tickets"))
    finally:
        conn.close()
    presses = [p for c in counters.values() for p in c.presses]
    rates = {p.eid: p for p in presses if p.source == 2}
    keys = {f"counter/{p.counter}:{p.eid}": p for p in presses if p.source == 1}
    forged = set(forgers.rating_ids)
    probes = set(faults.probes)
    problems: list[str] = []

    ratings_lost = [p for eid, p in rates.items() if eid not in ratings]
    keys_lost = [p for k, p in keys.items() if k not in commands]
    for p in ratings_lost + keys_lost:
        problems.append(f"lost: {p.eid} counter {p.counter} {p.role} accepted at t={rel(p.at)}")

    # A row no accepted press is behind (other than the forged and probe ids), and one
    # physical press (link, box time) stored under two ids.
    box_like = re.compile(r"^box-\d+:[0-9a-f]{8}:\d+$")
    unknown = [i for i in ratings if i not in rates and i not in forged and i not in probes]
    unknown_keys = [k for k in commands if k.startswith("counter/") and box_like.match(k.split(":", 1)[1])
                    and k not in keys]
    seen: dict[tuple, list[str]] = {}
    for rid, row in ratings.items():
        pl = json.loads(row[7] or "{}")
        pressed = pl.get("pressed") or [None, None, None]
        if pressed[1] is not None:
            seen.setdefault((pressed[1], pl.get("device_time_ms")), []).append(rid)
    twins = [ids for ids in seen.values() if len(ids) > 1]
    for i in unknown + unknown_keys:
        problems.append(f"doubled: stored {i} with no accepted press behind it")
    for ids in twins:
        problems.append(f"doubled: one press stored as {ids}")

    genuine = [p for p in rates.values() if p.role == "genuine"]
    misjudged, wrong_ticket = [], []
    for p in genuine:
        row = ratings.get(p.eid)
        if row is None:
            continue
        called = (commands.get(f"counter/{p.counter}:{p.call_eid}") or {}).get("ticket") or {}
        meant = called.get("label") or p.meant
        got = labels.get(row[1])
        if not row[4]:
            misjudged.append(p)
            problems.append(f"misjudged: {p.eid} counter {p.counter} for {meant} stored as "
                            f"{row[5]} (ticket {got}) late={row[6]} accepted t={rel(p.at)}")
        elif got != meant:
            wrong_ticket.append(p)
            problems.append(f"wrong ticket: {p.eid} counter {p.counter} meant {meant}, counted for {got}")
    gaming = [p for p in rates.values() if p.role.startswith("gaming")]
    gaming_counted = [p for p in gaming if p.eid in ratings and ratings[p.eid][4]]
    for p in gaming_counted:
        problems.append(f"gaming counted: {p.eid} counter {p.counter} {p.role} accepted t={rel(p.at)} "
                        f"for {labels.get(ratings[p.eid][1])}")
    forged_stored = [i for i in forged if i in ratings]
    forged_counted = [i for i in forged_stored if ratings[i][4]]
    forged_tickets = [k for k, v in commands.items() if k.startswith("ticket:") and v.get("ok")
                      and (k.startswith("ticket:kiosk-2:") or k.split(":", 2)[-1] in forgers.request_ids)]
    for i in forged_stored:
        problems.append(f"forged press stored: {i} counted={ratings[i][4]}")
    for k in forged_tickets:
        problems.append(f"forged ticket request answered with a ticket: {k}")
    probes_lost = [i for i in probes if i not in ratings]
    if probes_lost:
        problems.append(f"probes lost ({len(probes_lost)} of {len(probes)}): {sorted(probes_lost)[:10]} ...")
    tickets_lost = [t for t in issuer.confirmed if t not in labels]
    for t in tickets_lost:
        problems.append(f"ticket confirmed, not stored: {t}")
    refused = [p for k, p in keys.items() if k in commands and not commands[k].get("ok")]

    kinds: dict[str, int] = {}
    for _, kind, _ in faults.done:
        kinds[kind] = kinds.get(kind, 0) + 1
    rounds: dict[str, int] = {}
    for c in counters.values():
        for k, v in c.rounds.items():
            rounds[k] = rounds.get(k, 0) + v
    for line in problems:
        print("  " + line, file=sys.stderr)
    if problems:
        print("faults (t, kind, detail):", file=sys.stderr)
        for t, kind, detail in faults.done:
            print(f"  {t:7.2f} {kind} {detail}", file=sys.stderr)
    return {
        "presses_made": len(rates),
        "keys_made": len(keys),
        "presses_lost": len(ratings_lost) + len(keys_lost),
        "ratings_lost": len(ratings_lost),
        "keys_lost": len(keys_lost),
        "presses_doubled": len(unknown) + len(unknown_keys) + sum(len(ids) - 1 for ids in twins),
        "genuine_presses": len(genuine),
        "genuine_misjudged": len(misjudged),
        "genuine_wrong_ticket": len(wrong_ticket),
        "gaming_presses": len(gaming),
        "gaming_counted": len(gaming_counted),
        "forged_attempts": forgers.attempts,
        "forged_taken_by_broker": forgers.taken,
        "forged_stored": len(forged_stored),
        "forged_counted": len(forged_counted),
        "forged_tickets": len(forged_tickets),
        "probes_acked_by_broker": len(probes),
        "probes_lost": len(probes_lost),
        "tickets_confirmed": len(issuer.confirmed),
        "tickets_lost": len(tickets_lost),
        "keys_refused_by_core": len(refused),
        "presses_refused_by_box": sum(c.refused for c in counters.values()),
        "rounds": ",".join(f"{k}:{v}" for k, v in sorted(rounds.items())),
        "faults_injected": len(faults.done),
        "faults": ",".join(f"{k}:{v}" for k, v in sorted(kinds.items())),
        "delivered_late": sum(1 for r in ratings.values() if r[6]),
        "genuine_delivered_late": sum(1 for p in genuine if p.eid in ratings and ratings[p.eid][6]),
    }


# --------------------------------------------------------------------- main
def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-yardstick-"))
    log(f"seed {SEED}, scale {SCALE:g}, day {DAY_S:.0f} s, files in {tmp}")
    rng = random.Random(SEED)
    stopping = threading.Event()
    boxes: dict[int, SimBox] = {}
    broker = core = bridge = admin = None
    ok = False

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        links = {n: str(tmp / f"by-id-box-{n}") for n in COUNTERS}
        plain = write_site(tmp, 1883, links, None)
        site = site_config.load(plain)
        broker = Broker(tmp / "broker", site, superusers=[ADMIN]).start()
        cfg = write_site(tmp, broker.port, links, broker)
        site = site_config.load(cfg)
        prefix = site.topic_prefix
        py = sys.executable
        core = Proc("core", [py, "-m", "kiosk.cli", "core", "--config", str(cfg), "--db", str(tmp / "core.db"),
                             "--mqtt-port", str(broker.port),
                             "--mqtt-password-file", str(broker.password_file("core")),
                             "--printer", f"sim:{tmp / 'tickets'}"],
                    tmp / "core.log", b"core ready")
        bridge = Proc("bridge", [py, "-m", "kiosk.cli", "bridge", "--config", str(cfg)],
                      tmp / "bridge.log", b"bridge ready")
        for n in COUNTERS:
            boxes[n] = SimBox(f"box-{n}", links[n], seed=rng.getrandbits(32), step_s=0.002).start()
        core.start()
        bridge.start()
        admin = Admin(broker, prefix, ADMIN)
        for i in range(1, 5):
            admin.command({"command_id": f"bench-add-nv0{i}", "action": "official_add",
                           "official": f"nv0{i}", "name": f"Cán bộ {i}"})
            admin.command({"command_id": f"bench-login-nv0{i}", "action": "login",
                           "official": f"nv0{i}", "counter": i})
        issuer = Issuer(admin, random.Random(rng.getrandbits(32)), stopping)
        for i in range(30):
            issuer.issue(FIELDS[i % len(FIELDS)])
        deadline = time.monotonic() + 30
        while not all(b.fw is not None and b.fw.proto.host_alive(b.board.ticks_ms()) for b in boxes.values()):
            if time.monotonic() > deadline:
                raise CannotMeasure("the boxes never heard the bridge")
            time.sleep(0.05)

        day_end = time.monotonic() + DAY_S
        moments = Moments()
        served = threading.Event()
        counters = {n: Counter(n, boxes[n], admin, random.Random(rng.getrandbits(32)), day_end, stopping, moments)
                    for n in COUNTERS}
        faults = Faults(random.Random(rng.getrandbits(32)), broker, core, bridge, counters, moments, admin,
                        stopping)
        forgers = Forgers(broker, prefix, moments, counters, stopping)
        threads = [threading.Thread(target=c.run, name=f"counter-{c.n}", daemon=True) for c in counters.values()]
        threads += [threading.Thread(target=faults.run, args=(day_end,), name="faults", daemon=True),
                    threading.Thread(target=forgers.run, args=(day_end,), name="forgers", daemon=True),
                    threading.Thread(target=issuer.run, args=(served,), name="issuer", daemon=True)]
        log("the day begins")
        for t in threads:
            t.start()
        # The day ends when every counter has finished its last round.
        hard_end = day_end + 240
        while any(t.is_alive() for t in threads):
            if not any(t.is_alive() for t in threads[:len(counters)]):
                served.set()
            errs = [x.error for x in [*counters.values(), faults, forgers, issuer] if x.error is not None]
            if errs:
                raise errs[0]
            if time.monotonic() > hard_end:
                raise CannotMeasure("the day did not end: " +
                                    ", ".join(t.name for t in threads if t.is_alive()))
            time.sleep(0.2)
        errs = [x.error for x in [*counters.values(), faults, forgers, issuer] if x.error is not None]
        if errs:
            raise errs[0]
        log("the day is over; draining")

        # Everything up, every box plugged; then every ring must empty.
        for p in (core, bridge):
            if p.proc is None or p.proc.poll() is not None:
                p.start()
        if broker.proc is None or broker.proc.poll() is not None:
            broker.start()
        deadline = time.monotonic() + 120
        while any(b.backlog() for b in boxes.values()):
            if time.monotonic() > deadline:
                raise CannotMeasure("drain timed out: " + ", ".join(
                    f"{b.device_id} {b.backlog()} unacked" for b in boxes.values() if b.backlog()))
            time.sleep(0.1)
        time.sleep(1.0)
        bridge.stop()
        core.stop()
        figures = count(tmp / "core.db", counters, forgers, faults, issuer)
        figures["run_s"] = f"{time.monotonic() - started:.1f}"
        figures["seed"] = SEED
        emit(figures)
        ok = True
        return 0
    except (Exception, KeyboardInterrupt) as e:  # the bench must say why it could not measure
        return could_not_measure(e)
    finally:
        stopping.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for p in (bridge, core):
            if p is None:
                continue
            if ok:
                p.stop()
            else:
                p.kill9()
        if admin is not None:
            admin.close()
        for b in boxes.values():
            b.stop()
        if broker is not None:
            broker.stop()
        if ok and not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"files kept in {tmp}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
