"""A day in the life of a large centre, with everything failing at once, counted.

The whole appliance on this machine, real parts only:

- Mosquitto (kiosk.broker: the generated logins and ACLs);
- the core, the bridge and the web console, each ``python -m kiosk.cli ...``
  in its own process group, on a wall clock the bench can step
  (bench/_clockstep.py);
- 60 counters, each a simulated box (firmware_bridge/sim.py: the real
  firmware on a pty pair) behind the one bridge, driven by an official who
  presses Next, No-show and Finish on the box and transfers from the web
  console, and a citizen who presses a rating button (or walks away);
- 4 kiosks: the kiosk's own bus link and ticket flow (kiosk/ui/bus.py,
  kiosk/ui/flow.py) without their window, one login each;
- 10 wall displays: the display's own bus link and state
  (display/bus.py, display/state.py) without their window;
- the printer: the simulator on a pty (kiosk/printing/sim.py), which the
  core prints to as to a serial printer, outliving the core as paper does.

It plays a day of ``DAY_HOURS`` hours (10) at ``DAY_SPEED`` (100) times real
time: ``DAY_TICKETS`` citizens (500 an hour) take tickets with a morning
peak, 8 % priority; services take the field's minutes; 3 % are no-shows, 2 %
transferred; 65 % of citizens rate, and officials press again after them,
drum on the buttons and press before anyone was served (none of that may
count).  The rating window and the officials' pause after Finish are real
seconds (the window's floor is 5 s), not scaled.

Meanwhile the fault plan fires, each fault at a random moment of its slice
of the day: the core killed -9 (five times, once 0-300 ms after it said
ready, with requests queued for it), the bridge killed -9, the broker
restarted and killed -9, the printer out of paper and its cover open, a
display's cable pulled for a minute (real time), and the wall clock of the
appliance stepped back an hour.

At the end everything drains; staff reprint the reprint queue from the
console; then the bench checks its own ground truth against the database
(read-only), the printer's output (each job's bytes decoded again: the QR's
ticket id, the reprint mark), the displays, ``phucvu reprint --list`` and
``phucvu report``.  Figures, as ``name=value`` lines at the end:

  tickets_acknowledged   tickets a kiosk was told it got (tickets_refused: the
                         requests the core turned down, by reason, e.g. a
                         field's daily quota reached)
  tickets_lost           acknowledged, not in the database
  numbers_reused         two tickets with one number on one day (database,
                         kiosk replies or paper)
  unprinted_unlisted     committed, never on paper, still in line at closing
                         and not in the reprint queue (a citizen who
                         touched the kiosk, got nothing, and nobody knows)
  printed_twice          a ticket on paper twice without the reprint mark
  presses_lost           keys and rating presses a box accepted, not stored
  ratings_misjudged      citizens' presses not counted for their ticket, and
                         officials' presses counted
  report_mismatches      cells of ``phucvu report --by official`` (served,
                         counted ratings per level) that differ from the
                         bench's own count
  display_converge_max_ms  after each fault is repaired (the part says it
                         is ready again), until every display has a fresh
                         snapshot
  call_display_p50_ms, call_display_p99_ms   a Next key accepted by a box
                         -> that number at that counter on a display (every
                         display; calls made during a fault are left out and
                         counted in calls_during_faults)
  touch_ticket_p50_ms, touch_ticket_p99_ms   a kiosk's request -> the whole
                         ticket at the printer (outside faults)
  machine_busy_pct, machine_steal_pct   how busy the machine's cores were
                         while the doors were open, and what the host gave
                         a neighbour: read the latencies next to them

Every loss figure must be 0.  Exit 0 when measured (the figures speak), 2
when it could not (a process would not start, the drain timed out).

    .venv/bin/python bench/day.py
    DAY_HOURS=1 DAY_SEED=3 .venv/bin/python bench/day.py

DAY_COUNTERS (60) and DAY_DISPLAYS (10) size the centre; DAY_FAULTS=none
plays the day without faults (a baseline for the latencies), a list such as
``core_kill9,paper_out`` only those; DAY_KEEP=1 keeps
the temporary directory (logs, database, tickets, and calls.tsv: each
call's time per leg).  tests/test_day.py runs
one hour of it.
"""
from __future__ import annotations

import csv
import http.client
import json
import logging
import math
import os
import queue
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter as Tally
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from _admin import Admin
from _procs import CannotMeasure, Proc, broker_kill9, could_not_measure, with_clock
from _util import ROOT, emit, percentile

from firmware_bridge.delivery import event_id  # noqa: E402
from firmware_bridge.sim import SimBox  # noqa: E402
from kiosk import config as site_config  # noqa: E402
from kiosk.broker import Broker, users_for  # noqa: E402
from kiosk.core.auth import hash_pin  # noqa: E402
from kiosk.printing import decode  # noqa: E402
from kiosk.printing.sim import PrinterSimulator  # noqa: E402
from kiosk.reports import catalogue  # noqa: E402
from kiosk.ui.bus import KioskBus  # noqa: E402
from kiosk.ui.flow import TicketFlow  # noqa: E402


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        sys.exit(f"day bench: {name} must be a number")


HOURS = _env("DAY_HOURS", 10)
SPEED = _env("DAY_SPEED", 100)
TICKETS = int(_env("DAY_TICKETS", round(500 * HOURS)))
N_COUNTERS = int(_env("DAY_COUNTERS", 60))
N_DISPLAYS = int(_env("DAY_DISPLAYS", 10))
N_KIOSKS = 4
SEED = int(_env("DAY_SEED", 1))
KEEP = os.environ.get("DAY_KEEP", "") not in ("", "0")
# DAY_FAULTS=none plays the day without faults (the same load, for a baseline);
# a comma-separated list keeps only those kinds.
_ALL_FAULTS = ("core_kill9", "core_kill9_after_start", "bridge_kill9", "broker_restart", "broker_kill9",
               "paper_out", "cover_open", "display_offline", "clock_back")
_CHOSEN = os.environ.get("DAY_FAULTS", "all")
FAULTS = (_ALL_FAULTS if _CHOSEN == "all" else () if _CHOSEN == "none"
          else tuple(k for k in _CHOSEN.split(",") if k in _ALL_FAULTS))
DAY_S = HOURS * 3600 / SPEED
WINDOW_S = 5.0            # [rating] window_s: its floor, real seconds
PAUSE_S = 2.0             # an official calls the next citizen this long after Finish
GAP_S = 1.5               # at least this long between one fault's repair and the next fault
DISPLAY_OFF_S = 60.0 if HOURS >= 5 else 8.0
ADMIN = "bench-admin"
TAP = "bench-tap"
PIN = "2468"
HEAD = "truong"
# The large centre's ten fields: the demo's five and five more.
FIELDS = [
    ("tu-phap", "Tư pháp – Hộ tịch", "A", 10), ("chung-thuc", "Chứng thực", "B", 5),
    ("dat-dai", "Đất đai – Xây dựng", "C", 20), ("van-hoa-xa-hoi", "Văn hóa – Xã hội", "D", 12),
    ("kinh-te", "Kinh tế", "E", 15), ("bao-hiem", "Bảo hiểm xã hội", "F", 8),
    ("thue", "Thuế", "G", 10), ("cu-tru", "Cư trú", "H", 6),
    ("lao-dong", "Lao động – Việc làm", "K", 9), ("tai-nguyen", "Tài nguyên – Môi trường", "M", 14),
]
# A centre smaller than ten counters has as many fields as counters.
FIELDS = FIELDS[:min(len(FIELDS), N_COUNTERS)]
# The faults on the way of a call to the displays, and of a touch to the paper.
CALL_FAULTS = ("core_kill9", "core_kill9_after_start", "bridge_kill9", "broker_restart", "broker_kill9")
TOUCH_FAULTS = ("core_kill9", "core_kill9_after_start", "broker_restart", "broker_kill9",
                "paper_out", "cover_open")
PRIORITIES = ("cao-tuoi", "khuyet-tat", "co-thai", "co-cong", "lan-xanh")
T0 = time.monotonic()


def rel(t: float | None = None) -> float:
    return round((time.monotonic() if t is None else t) - T0, 2)


def log(msg: str) -> None:
    print(f"[{rel():7.2f}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------- ground truth
@dataclass
class Truth:
    """What the bench saw happen, kept apart from what the appliance stored."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, dict] = field(default_factory=dict)   # ticket id -> reply ticket
    touched: dict[str, float] = field(default_factory=dict)       # ticket id -> touch time
    requests: int = 0
    refused: Tally = field(default_factory=Tally)                 # reason -> requests
    gave_up: int = 0
    calls: list[tuple[int, str, float, str]] = field(default_factory=list)  # counter, label, key accepted, key id
    served: Tally = field(default_factory=Tally)                  # official -> finished
    genuine: list[tuple[int, str, str, int]] = field(default_factory=list)  # counter, eid, label, level
    gaming: list[tuple[int, str]] = field(default_factory=list)   # counter, eid
    keys: list[tuple[int, str]] = field(default_factory=list)     # counter, eid
    transfers: int = 0
    no_shows: int = 0
    faults: list[tuple[float, float, str]] = field(default_factory=list)  # start, ready, kind
    converge: list[tuple[str, float]] = field(default_factory=list)       # kind, ms

    offline: dict[str, tuple[float, float]] = field(default_factory=dict)  # display -> its outage

    def in_fault(self, t: float, kinds: tuple[str, ...], margin: float = 1.0) -> bool:
        """Whether ``t`` falls in (or just after) a fault of one of these kinds."""
        return any(a - 0.05 <= t <= b + margin for a, b, k in self.faults if k in kinds)


# ----------------------------------------------------------------- the site
def write_site(tmp: Path, broker: Broker | None, port: int, printer: str, web_port: int,
               links: dict[int, str]) -> Path:
    data = tomllib.loads((ROOT / "deploy" / "demo-site.toml").read_text(encoding="utf-8"))
    data["fields"] = [{"code": c, "name_vi": n, "name_en": c.replace("-", " ").title(), "prefix": p,
                       "minutes_per_citizen": m, "daily_quota": 999} for c, n, p, m in FIELDS]
    codes = [f[0] for f in FIELDS]
    data["counters"] = [{"number": n, "name": f"Quầy {n}",
                         "fields": [codes[(n - 1) % len(codes)], codes[n % len(codes)]]}
                        for n in range(1, N_COUNTERS + 1)]
    data["rating"]["window_s"] = WINDOW_S
    data["rating"]["min_press_interval_s"] = 1.0
    data["mqtt"]["port"] = port
    data["store"]["path"] = str(tmp / "core.db")
    data["printer"] = {"connection": printer, "profile": "80mm"}
    data["web"] = {"host": "127.0.0.1", "port": web_port}
    if broker is not None:
        data["bridge"] = {"state_db": str(tmp / "bridge.db"), "devices": [
            {"counter": n, "port": link, "device_id": f"box-{n}",
             "password_file": str(broker.password_file(f"counter-{n}"))} for n, link in links.items()]}
    path = tmp / "site.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the bus
class Display:
    """One wall display without its window, in its own process (bench/_display_client.py)."""

    def __init__(self, i: int, cfg_path: Path, broker: Broker, tmp: Path):
        self.i, self.user = i, f"display-{i}"
        self.out = tmp / f"{self.user}.lines"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_display_client.py"), str(cfg_path),
             str(broker.port), str(broker.password_file(self.user)), str(i), str(self.out)],
            stdin=subprocess.PIPE, text=True, cwd=ROOT)
        self.seen: dict[tuple[int, str], float] = {}
        self.snaps: list[float] = []
        self.sizes: list[int] = []
        self.links: list[tuple[float, bool]] = []

    def _say(self, cmd: str) -> None:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def pull_cable(self) -> None:
        self._say("pull")

    def plug(self) -> None:
        self._say("plug")

    def stop(self) -> None:
        """Quit, then read what it saw."""
        if self.proc.poll() is None:
            try:
                self._say("quit")
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if not self.out.exists():
            return
        for line in self.out.read_text().splitlines():
            kind, t, *rest = line.split()
            if kind == "snap":
                self.snaps.append(float(t))
                if int(rest[0]):
                    self.sizes.append(int(rest[0]))
            elif kind == "seen":
                self.seen.setdefault((int(rest[0]), rest[1]), float(t))
            elif kind == "link":
                self.links.append((float(t), rest[0] == "1"))


class Kiosk:
    """One kiosk without its window: the kiosk's bus link and ticket flow."""

    def __init__(self, i: int, cfg, broker: Broker, truth: Truth, stopping: threading.Event):
        self.i, self.truth, self.stopping = i, truth, stopping
        self.client = f"kiosk-{i}"
        self.citizens: queue.Queue = queue.Queue()
        self.inbox: queue.Queue = queue.Queue()
        # At 100x a citizen comes every few hundred ms: the double-tap guard
        # (1 s of real time) would turn real citizens away.
        self.flow = TicketFlow(self.client, debounce_s=0.0, give_up_s=120.0)
        self.bus = KioskBus(cfg, client_id=self.client, username=self.client,
                            password=broker.password(self.client), host=broker.host, port=broker.port,
                            on_message=lambda kind, p: self.inbox.put((kind, p)))
        self.touch_at: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.bus.start()
            while not (self.stopping.is_set() and self.flow.pending is None and self.citizens.empty()):
                now = time.monotonic()
                if self.flow.pending is None and not self.citizens.empty():
                    fld, prio = self.citizens.get()
                    req = self.flow.tap(fld, prio, "vi", now)
                    self.touch_at = now
                    with self.truth.lock:
                        self.truth.requests += 1
                    self.bus.request(req)
                for action, arg in self.flow.tick(now):
                    if action == "resend":
                        self.bus.request(arg)
                    elif action == "give_up":
                        with self.truth.lock:
                            self.truth.gave_up += 1
                        log(f"{self.client}: gave up on {arg.request_id}")
                try:
                    kind, payload = self.inbox.get(timeout=0.02)
                except queue.Empty:
                    continue
                if kind != "reply":
                    continue
                out = self.flow.reply(payload)
                if out is not None and out.kind in ("closed", "refused"):
                    with self.truth.lock:
                        self.truth.refused[out.reason] += 1
                if out is None or not out.ticket:
                    continue
                t = out.ticket
                with self.truth.lock:
                    if t["ticket_id"] not in self.truth.acknowledged:
                        self.truth.acknowledged[t["ticket_id"]] = dict(t)
                        self.truth.touched[t["ticket_id"]] = self.touch_at
        except BaseException as e:
            self.error = e
        finally:
            self.bus.stop()


# ------------------------------------------------------------- the printer
class PaperWatch:
    """Every job the printer finished, read back from its bytes."""

    def __init__(self, sim: PrinterSimulator):
        self.sim = sim
        self.raw: list = []
        self.jobs: list[tuple[float, str | None, bool, bool]] = []   # at, ticket id, on paper, reprint
        self.unreadable = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="paper", daemon=True)

    def start(self) -> "PaperWatch":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)

    def _run(self) -> None:
        done = 0
        while not self._stop.is_set():
            jobs = self.sim.wait_jobs(done + 1, timeout=0.2)
            t = time.monotonic()
            # Read back after the day (``read``): decoding now would take the
            # machine from what is measured.
            self.raw += [(t, job) for job in jobs[done:]]
            done = len(jobs)

    def read(self) -> None:
        for t, job in self.raw:
            ticket, reprint = read_ticket(job.data)
            if ticket is None:
                self.unreadable += 1
            self.jobs.append((t, ticket, job.printed, reprint))


def read_ticket(data: bytes) -> tuple[str | None, bool]:
    """The ticket id in the job's QR, and whether it opens with the reprint
    mark (an inverted title band: mostly black, where a ticket opens with
    the commune's name, mostly white)."""
    try:
        ops = decode.parse(data)
    except decode.DecodeError:
        return None, False
    ticket = next((op.data for op in ops if isinstance(op, decode.QrCode)), None)
    first = next((op for op in ops if isinstance(op, decode.Raster)), None)
    reprint = False
    if first is not None:
        w, h = first.image.size
        reprint = first.image.histogram()[0] > 0.5 * w * h     # mode "1": 0 is black
    return ticket, reprint


# ----------------------------------------------------------------- counters
class Boxes:
    """Every box stepped from one thread; when each accepted each press."""

    def __init__(self, boxes: dict[int, SimBox]):
        self.boxes = boxes
        self.accepted_at: dict[int, list[float]] = {n: [] for n in boxes}
        self.accepted = threading.Condition()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="boxes", daemon=True)

    def start(self) -> "Boxes":
        for b in self.boxes.values():
            b.plug()
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            new = False
            for n, b in self.boxes.items():
                b.step()
                stamps = self.accepted_at[n]
                while len(stamps) < len(b.accepted):
                    stamps.append(time.monotonic())
                    new = True
            if new:
                with self.accepted:
                    self.accepted.notify_all()
            # A 200 Hz main loop, as a small MCU's with a 20 ms debounce.
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for b in self.boxes.values():
            b.stop()


class Stop(Exception):
    pass


def pending_prints(db: Path) -> int:
    """Print jobs the core has not yet heard the printer's answer to (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM print_jobs WHERE state = 'pending'").fetchone()[0]
    finally:
        conn.close()


def stored_reply(db: Path, key: str) -> dict | None:
    """The reply the core stored with a command's effect (read-only)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT reply FROM commands WHERE command_id = ?", (key,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return json.loads(row[0]) if row else None


class Counter:
    """One counter: its box, its official, the citizens in front of it."""

    def __init__(self, n: int, boxes: Boxes, admin: Admin, web: "Web", truth: Truth,
                 rng: random.Random, day_end: float, stopping: threading.Event, db: Path):
        self.n, self.boxes, self.box, self.db = n, boxes, boxes.boxes[n], db
        self.admin, self.web, self.truth, self.rng = admin, web, truth, rng
        self.day_end, self.stopping = day_end, stopping
        self.official = f"nv{n:02d}"
        self.last_rate = 0.0        # when this box last accepted a rating press
        self.error: BaseException | None = None

    def sleep_until(self, t: float) -> None:
        while (left := t - time.monotonic()) > 0:
            if self.stopping.wait(min(left, 0.2)):
                raise Stop

    def press(self, what: str) -> tuple[str, float] | None:
        """Press a key or a rating button: (event id, accepted at), or None if refused."""
        b = self.box
        before = len(b.accepted)
        if what.startswith("rate"):
            b.rate(int(what[4:]))
        else:
            b.press(what)
        end = time.monotonic() + 3.0
        stamps = self.boxes.accepted_at[self.n]
        with self.boxes.accepted:
            while len(stamps) <= before:
                if time.monotonic() > end:
                    return None
                self.boxes.accepted.wait(0.1)
        boot, seq, _, _ = b.accepted[before]
        eid = event_id(b.device_id, boot, seq)
        if what.startswith("rate"):
            self.last_rate = stamps[before]
        with self.truth.lock:
            if not what.startswith("rate"):
                self.truth.keys.append((self.n, eid))
        return eid, stamps[before]

    def call_next(self) -> str | None:
        """Next, then the number on the box (or the core's reply); None when nobody waits."""
        got = self.press("next")
        if got is None:
            return None
        eid, at = got
        deadline = at + 120
        while time.monotonic() < deadline:
            r = self.admin.wait_reply(eid, 0.2)
            if r is None and time.monotonic() - at > 2.0:
                # The reply went with a broker that died: the core's own
                # record of it.  (Not the box's screen: it may still show an
                # older number the bridge sent before this call.)
                r = stored_reply(self.db, f"counter/{self.n}:{eid}")
            if r is not None:
                t = r.get("ticket") or {}
                if r.get("ok") and t.get("label"):
                    label = t["label"]
                    break
                return None
            if self.stopping.is_set():
                raise Stop
        else:
            raise CannotMeasure(f"counter {self.n}: Next accepted and no answer for 120 s")
        with self.truth.lock:
            self.truth.calls.append((self.n, label, at, eid))
        return label

    def run(self) -> None:
        try:
            self._day()
        except Stop:
            pass
        except BaseException as e:
            self.error = e

    def _day(self) -> None:
        rng = self.rng
        minutes = {p: m for _, _, p, m in FIELDS}
        # Before anybody is served, the official tries the buttons: no ticket, no window.
        self.sleep_until(time.monotonic() + rng.uniform(0, 2))
        got = self.press(f"rate{rng.randint(1, 3)}")
        if got:
            with self.truth.lock:
                self.truth.gaming.append((self.n, got[0]))
        while time.monotonic() < self.day_end:
            label = self.call_next()
            if label is None:
                self.sleep_until(time.monotonic() + rng.uniform(0.5, 1.5))
                continue
            roll = rng.random()
            if roll < 0.03:
                # Nobody came: No-show, then the next citizen.
                self.sleep_until(time.monotonic() + rng.uniform(0.3, 0.8))
                if self.press("no_show"):
                    with self.truth.lock:
                        self.truth.no_shows += 1
                continue
            if roll < 0.05 and self.web.transfer(self.n, label, rng):
                with self.truth.lock:
                    self.truth.transfers += 1
                continue
            service = rng.lognormvariate(0, 0.4) * minutes[label[0]] * 60 / SPEED * 0.4
            self.sleep_until(time.monotonic() + max(0.3, service))
            fin = self.press("finish")
            if fin is None:
                raise CannotMeasure(f"counter {self.n}: finish refused by the box")
            with self.truth.lock:
                self.truth.served[self.official] += 1
            if rng.random() < 0.65:
                # The citizen, well inside the window, and not within the
                # site's min_press_interval_s (1 s) of the official's last
                # press, which the rules call a burst, not a person.
                self.sleep_until(max(fin[1] + rng.uniform(0.3, 1.3), self.last_rate + 1.3))
                level = rng.choices((1, 2, 3), (0.7, 0.25, 0.05))[0]
                p = self.press(f"rate{level}")
                if p is not None and p[1] - fin[1] < WINDOW_S - 1.0:
                    with self.truth.lock:
                        self.truth.genuine.append((self.n, p[0], label, level))
                    if rng.random() < 0.15:
                        # The official presses again after the citizen.
                        self.sleep_until(p[1] + rng.uniform(1.1, 1.4))
                        g = self.press(f"rate{rng.randint(1, 3)}")
                        if g:
                            with self.truth.lock:
                                self.truth.gaming.append((self.n, g[0]))
                    elif rng.random() < 0.05:
                        # Or drums on the button.
                        self.sleep_until(p[1] + 0.3)
                        for _ in range(3):
                            g = self.press(f"rate{rng.randint(1, 3)}")
                            if g:
                                with self.truth.lock:
                                    self.truth.gaming.append((self.n, g[0]))
                            self.sleep_until(time.monotonic() + 0.1)
            self.sleep_until(fin[1] + PAUSE_S)


# --------------------------------------------------------------- the console
class Http:
    """A keep-alive HTTP/1.1 client with one session cookie, as a browser tab."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Cookie": self.cookie, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.update({"Content-Type": "application/json", "X-CSRF-Token": self.csrf})
        try:
            self.conn.request(method, path, data, headers)
            r = self.conn.getresponse()
            out = r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 0, {}
        sc = r.getheader("set-cookie")
        if sc:
            self.cookie = sc.split(";", 1)[0]
        if r.getheader("content-type", "").startswith("text/html"):
            m = re.search(rb'<meta name="csrf" content="([^"]+)">', out)
            if m:
                self.csrf = m.group(1).decode()
            return r.status, {}
        try:
            return r.status, json.loads(out or b"{}")
        except ValueError:
            return r.status, {}

    def login(self, code: str, counter: int | None) -> bool:
        self.request("GET", "/login")
        status, _ = self.request("POST", "/api/login", {"code": code, "pin": PIN, "counter": counter})
        if status == 200:
            self.request("GET", "/console" if counter else "/dashboard")
        return status == 200


class Web:
    """The officials' console tabs (transfers) and the head's (reprints)."""

    def __init__(self, port: int, cfg):
        self.port = port
        self.cfg = cfg
        self.tabs: dict[int, Http] = {}
        self.lock = threading.Lock()
        self.relogins = 0

    def transfer(self, n: int, label: str, rng: random.Random) -> bool:
        """Send the called citizen to another field from counter n's console tab."""
        tab = self.tabs.get(n)
        if tab is None:
            tab = self.tabs[n] = Http(self.port)
            if not tab.login(f"nv{n:02d}", n):
                log(f"counter {n}: the official could not log in to the console")
                self.tabs.pop(n)
                return False
        here = {f for c in self.cfg.counters if c.number == n for f in c.fields}
        to = rng.choice([f[0] for f in FIELDS if f[0] not in here])
        # A browser's retry on a fresh connection (the server closes idle
        # ones) carries the same request id, so the core acts on it once.
        press = {"to_field": to, "request_id": f"{rng.getrandbits(64):016x}"}
        for _ in range(3):
            status, body = tab.request("POST", f"/api/counter/{n}/transfer", press)
            if status == 401:
                # The console's session is signed with the time it was made:
                # after the clock went back it looks made in the future, and
                # the official is asked to log in again, as here.
                with self.lock:
                    self.relogins += 1
                tab.login(f"nv{n:02d}", n)
                continue
            if status:
                break
        if status != 200:
            log(f"counter {n}: transfer of {label} refused by the console: {status} {body}")
        return status == 200


# ------------------------------------------------------------------- faults
class Faults:
    def __init__(self, rng: random.Random, broker: Broker, core: Proc, bridge: Proc,
                 sim: PrinterSimulator, displays: list[Display], kiosks: list[Kiosk],
                 clock_file: Path, truth: Truth, stopping: threading.Event):
        self.rng, self.broker, self.core, self.bridge = rng, broker, core, bridge
        self.sim, self.displays, self.kiosks, self.clock_file = sim, displays, kiosks, clock_file
        self.truth, self.stopping = truth, stopping
        self.error: BaseException | None = None
        self.pending: list[tuple[str, float, list[Display]]] = []   # kind, ready at, displays

    def plan(self) -> list[str]:
        kills = 5 if HOURS >= 5 else 1
        kinds = ["core_kill9"] * (kills - 1) + ["core_kill9_after_start", "bridge_kill9",
                                                 "broker_restart", "broker_kill9", "paper_out",
                                                 "cover_open", "display_offline", "clock_back"]
        self.rng.shuffle(kinds)
        return [k for k in kinds if k in FAULTS]

    def run(self, day_start: float, day_end: float) -> None:
        try:
            kinds = self.plan()
            # Each fault at a random moment of its own slice of the day, the
            # first after the morning has begun.
            span = (day_end - day_start) * 0.9
            for i, kind in enumerate(kinds):
                lo = day_start + span * (0.05 + 0.95 * i / len(kinds))
                hi = day_start + span * (0.05 + 0.95 * (i + 1) / len(kinds))
                at = self.rng.uniform(lo, max(lo, hi - 4))
                # Never before the displays could have caught up with the last
                # repair: each fault's convergence is its own.
                repaired = max((b for _, b, _ in self.truth.faults), default=0.0)
                at = max(at, repaired + GAP_S)
                while time.monotonic() < at:
                    if self.stopping.wait(min(0.2, at - time.monotonic())):
                        return
                getattr(self, kind)()
        except BaseException as e:
            self.error = e

    def _done(self, kind: str, start: float, detail: str = "") -> None:
        ready = time.monotonic()
        with self.truth.lock:
            self.truth.faults.append((start, ready, kind))
        self.pending.append((kind, ready, self.displays))
        log(f"fault {kind} {detail}(repaired after {ready - start:.1f} s)")

    def core_kill9(self) -> None:
        start = time.monotonic()
        self.core.kill9()
        time.sleep(self.rng.uniform(0.3, 2.0))
        self.core.start()
        self._done("core_kill9", start)

    def core_kill9_after_start(self) -> None:
        """Requests queue for a dead core; it dies again 0-300 ms after it said ready."""
        start = time.monotonic()
        self.core.kill9()
        time.sleep(1.0)
        self.core.start()
        delay = self.rng.uniform(0.0, 0.3)
        time.sleep(delay)
        self.core.kill9()
        self.core.start()
        self._done("core_kill9_after_start", start, f"({delay * 1000:.0f} ms after ready) ")

    def bridge_kill9(self) -> None:
        start = time.monotonic()
        self.bridge.kill9()
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.bridge.start()
        self._done("bridge_kill9", start)

    def broker_restart(self) -> None:
        start = time.monotonic()
        self.broker.restart()
        self._done("broker_restart", start)

    def broker_kill9(self) -> None:
        start = time.monotonic()
        broker_kill9(self.broker)
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.broker.start()
        self._done("broker_kill9", start)

    def _printer(self, state: str, minutes: float) -> None:
        start = time.monotonic()
        self.sim.set_state(state)
        time.sleep(minutes * 60 / SPEED)
        self.sim.set_state("ok")
        with self.truth.lock:
            self.truth.faults.append((start, time.monotonic(), state))
        log(f"fault {state} for {minutes:g} minutes of the day")

    def paper_out(self) -> None:
        self._printer("paper_out", 6)

    def cover_open(self) -> None:
        self._printer("cover_open", 2)

    def display_offline(self) -> None:
        d = self.rng.choice(self.displays)
        start = time.monotonic()
        d.pull_cable()
        time.sleep(DISPLAY_OFF_S)
        d.plug()
        ready = time.monotonic()
        with self.truth.lock:
            self.truth.faults.append((start, ready, "display_offline"))
            self.truth.offline[d.user] = (start, ready)
        # Repaired when it is connected again (its own record says when).
        self.pending.append(("display_offline", start, [d]))
        log(f"fault display_offline {d.user} for {DISPLAY_OFF_S:g} s")

    def clock_back(self) -> None:
        start = time.monotonic()
        self.clock_file.write_text("-3600\n")
        time.sleep(0.5)        # the processes read the offset at most every 0.2 s
        self._done("clock_back", start, "(the appliance's wall clock an hour back) ")


def converge_ms(pending: list[tuple[str, float, list[Display]]], truth: Truth) -> list[tuple[str, float]]:
    """For each repaired fault: until every display had a fresh snapshot."""
    out = []
    for kind, ready, displays in pending:
        worst = 0.0
        for d in displays:
            if kind == "display_offline":
                ready = next((t for t, up in d.links if up and t > ready), math.inf)
            after = next((t for t in d.snaps if t >= ready), None)
            if after is None:
                worst = math.inf
                break
            worst = max(worst, after - ready)
        out.append((kind, worst * 1000))
    return out


# ----------------------------------------------------------------- counting
def machine_cpu() -> list[int]:
    """The machine's CPU time so far by kind (user nice system idle iowait irq softirq steal), in ticks."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def run_cli(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def count(db: Path, cfg_path: Path, truth: Truth, paper: PaperWatch, listed: set[str],
          displays: list[Display], taps: dict[str, dict[str, float]]) -> tuple[dict, list[str]]:
    problems: list[str] = []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tickets = {r[0]: r[1:] for r in conn.execute("SELECT id, day, label, field FROM tickets")}
        in_line = {r[0] for r in conn.execute(
            "SELECT id FROM tickets WHERE state IN ('waiting', 'called', 'transferred')")}
        ratings = {r[0]: r[1:] for r in conn.execute("SELECT id, ticket_id, counted, reason FROM ratings")}
        commands = {r[0] for r in conn.execute("SELECT command_id FROM commands")}
    finally:
        conn.close()

    lost = [t for t in truth.acknowledged if t not in tickets]
    problems += [f"ticket acknowledged, not stored: {t} {truth.acknowledged[t]['label']}" for t in lost]

    reused = 0
    by_number: dict[tuple, set[str]] = {}
    for tid, (day, label, _) in tickets.items():
        by_number.setdefault((day, label), set()).add(tid)
    for tid, t in truth.acknowledged.items():
        if tid in tickets:
            by_number.setdefault((tickets[tid][0], t["label"]), set()).add(tid)
    for key, ids in by_number.items():
        if len(ids) > 1:
            reused += len(ids) - 1
            problems.append(f"number {key} given to {sorted(ids)}")

    on_paper = Tally(t for _, t, printed, reprint in paper.jobs if printed and t and not reprint)
    any_paper = {t for _, t, printed, _ in paper.jobs if printed and t}
    twice = [t for t, k in on_paper.items() if k > 1]
    problems += [f"printed {on_paper[t]} times without the reprint mark: {t}" for t in twice]
    listed_ids = {tid for tid, (_, label, _) in tickets.items() if label in listed}
    # A ticket never on paper must be in the queue while its citizen is still in
    # line; one that was served or called off no longer needs paper.
    unlisted = [t for t in in_line if t not in any_paper and t not in listed_ids]
    problems += [f"committed, not printed, not in the reprint queue: {t} {tickets[t][1]}" for t in unlisted]
    strangers = [t for t in on_paper if t not in tickets]
    problems += [f"printed, not a committed ticket: {t}" for t in strangers]

    keys_lost = [(n, e) for n, e in truth.keys if f"counter/{n}:{e}" not in commands]
    rates_lost = [(n, e) for n, e, *_ in truth.genuine if e not in ratings]
    rates_lost += [(n, e) for n, e in truth.gaming if e not in ratings]
    problems += [f"press lost: counter {n} {e}" for n, e in keys_lost + rates_lost]

    label_of = {tid: label for tid, (_, label, _) in tickets.items()}
    misjudged = []
    for n, eid, label, _ in truth.genuine:
        row = ratings.get(eid)
        if row is not None and (not row[1] or label_of.get(row[0]) != label):
            misjudged.append(eid)
            problems.append(f"citizen's press {eid} at counter {n} for {label}: counted={row[1]} "
                            f"reason={row[2]} ticket={label_of.get(row[0])}")
    for n, eid in truth.gaming:
        row = ratings.get(eid)
        if row is not None and row[1]:
            misjudged.append(eid)
            problems.append(f"official's press {eid} at counter {n} counted for {label_of.get(row[0])}")

    mismatches = report_mismatches(cfg_path, db, tickets, truth, problems)

    call_ms, during, slow = [], 0, []
    legs: dict[str, list[float]] = {"box_bridge_broker": [], "core": [], "to_display": []}
    timeline = []       # one line per call, for reading the tail (kept with DAY_KEEP)
    for n, label, at, eid in truth.calls:
        if truth.in_fault(at, CALL_FAULTS):
            during += 1
            continue
        sent, replied = taps["cmd"].get(eid), taps["reply"].get(eid)
        seen = [d.seen.get((n, label)) for d in displays
                if not (d.user in truth.offline
                        and truth.offline[d.user][0] - 0.05 <= at <= truth.offline[d.user][1] + 1.0)]
        timeline.append("\t".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in
                                  (rel(at), n, label, (sent or at) - at, (replied or at) - at,
                                   max((s for s in seen if s), default=at) - at)))
        if sent is not None and replied is not None:
            legs["box_bridge_broker"].append((sent - at) * 1000)
            legs["core"].append((replied - sent) * 1000)
            shown = [d.seen.get((n, label)) for d in displays
                     if not (d.user in truth.offline
                             and truth.offline[d.user][0] - 0.05 <= at <= truth.offline[d.user][1] + 1.0)]
            if shown and all(shown):
                legs["to_display"].append((max(shown) - replied) * 1000)
        for d in displays:
            away = truth.offline.get(d.user)
            if away and away[0] - 0.05 <= at <= away[1] + 1.0:
                continue
            shown = d.seen.get((n, label))
            if shown is not None and shown >= at - 0.001:
                call_ms.append((shown - at) * 1000)
                slow.append((shown - at, rel(at), n, label, d.user))
    if KEEP:
        (db.parent / "calls.tsv").write_text("t\tcounter\tlabel\tat_broker_s\treplied_s\tlast_display_s\n"
                                             + "\n".join(timeline) + "\n")
    for late, at, n, label, user in sorted(slow, reverse=True)[:5]:
        problems.append(f"slowest call: {label} at counter {n}, key at t={at}: {late * 1000:.0f} ms "
                        f"to {user}")
    touch_ms = []
    printed_at = {}
    for at, t, printed, reprint in paper.jobs:
        if printed and t and not reprint:
            printed_at.setdefault(t, at)
    for tid, touched in truth.touched.items():
        if tid in printed_at and touched is not None and not truth.in_fault(touched, TOUCH_FAULTS, 2.0):
            touch_ms.append((printed_at[tid] - touched) * 1000)

    conv = [ms for _, ms in truth.converge]
    figures = {
        "tickets_requested": truth.requests,
        "tickets_acknowledged": len(truth.acknowledged),
        "tickets_committed": len(tickets),
        "tickets_lost": len(lost),
        "numbers_reused": reused,
        "unprinted_unlisted": len(unlisted),
        "printed_twice": len(twice),
        "printed_unknown": len(strangers) + paper.unreadable,
        "reprint_queue_at_close": len(listed),
        "presses_lost": len(keys_lost) + len(rates_lost),
        "ratings_misjudged": len(misjudged),
        "report_mismatches": mismatches,
        "display_converge_max_ms": round(max(conv), 1) if conv else "nan",
        "call_display_p50_ms": round(percentile(call_ms, 50), 2) if call_ms else "nan",
        "call_display_p99_ms": round(percentile(call_ms, 99), 2) if call_ms else "nan",
        "call_box_bridge_broker_p50_ms": round(percentile(legs["box_bridge_broker"], 50), 2) if legs["box_bridge_broker"] else "nan",
        "call_box_bridge_broker_p99_ms": round(percentile(legs["box_bridge_broker"], 99), 2) if legs["box_bridge_broker"] else "nan",
        "call_core_p50_ms": round(percentile(legs["core"], 50), 2) if legs["core"] else "nan",
        "call_core_p99_ms": round(percentile(legs["core"], 99), 2) if legs["core"] else "nan",
        "call_to_display_p50_ms": round(percentile(legs["to_display"], 50), 2) if legs["to_display"] else "nan",
        "call_to_display_p99_ms": round(percentile(legs["to_display"], 99), 2) if legs["to_display"] else "nan",
        "touch_ticket_p50_ms": round(percentile(touch_ms, 50), 2) if touch_ms else "nan",
        "touch_ticket_p99_ms": round(percentile(touch_ms, 99), 2) if touch_ms else "nan",
        "calls": len(truth.calls),
        "calls_during_faults": during,
        "served": sum(truth.served.values()),
        "citizens_rated": len(truth.genuine),
        "officials_pressed": len(truth.gaming),
        "no_shows": truth.no_shows,
        "transfers": truth.transfers,
        "kiosk_gave_up": truth.gave_up,
        "tickets_refused": ",".join(f"{k}:{v}" for k, v in sorted(truth.refused.items())) or 0,
        "faults": ",".join(f"{k}:{v}" for k, v in sorted(Tally(k for *_, k in truth.faults).items())),
    }
    return figures, problems


def report_mismatches(cfg_path: Path, db: Path, tickets: dict, truth: Truth, problems: list[str]) -> int:
    cfg = site_config.load(cfg_path)
    """``phucvu report --by official`` against the bench's own count."""
    days = sorted({d for d, *_ in tickets.values()})
    if not days:
        problems.append("report: no day with tickets")
        return 1
    out = run_cli(["report", "--config", str(cfg_path), "--db", str(db), "--from", days[0],
                   "--to", days[-1], "--by", "official", "--format", "csv", "--lang", "en"])
    if out.returncode != 0:
        problems.append(f"report failed: {out.stderr.strip()}")
        return 1
    # The columns by their English headers, as a reader of the file sees them.
    rows = list(csv.DictReader(out.stdout.splitlines()))
    key, served = catalogue.text("key.official", "en"), catalogue.text("served", "en")
    level_cols = {i + 1: lv.name_en for i, lv in enumerate(cfg.rating.levels)}
    want_levels = Tally((f"nv{n:02d}", lvl) for n, _, _, lvl in truth.genuine)
    bad = 0
    seen = set()
    for row in rows:
        code = row.get(key) or ""
        if not code.startswith("nv"):
            continue
        seen.add(code)
        checks = {served: truth.served[code]}
        for lvl, col in level_cols.items():
            checks[col] = want_levels[(code, lvl)]
        for col, want in checks.items():
            got = row.get(col)
            if got is None:
                problems.append(f"report: no column {col!r} (columns: {list(row)})")
                return bad + 1
            if int(float(got or 0)) != want:
                bad += 1
                problems.append(f"report: {code} {col} = {got}, the bench counted {want}")
    for code in truth.served:
        if code not in seen:
            bad += 1
            problems.append(f"report: no row for {code}")
    return bad


# --------------------------------------------------------------------- main
def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-day-"))
    log(f"seed {SEED}: {HOURS:g} hours at {SPEED:g}x ({DAY_S:.0f} s), {TICKETS} citizens, "
        f"{N_COUNTERS} counters, {N_DISPLAYS} displays; files in {tmp}")
    # The clients' own warnings (reconnecting, re-sending) go to a file, not the figures.
    logging.basicConfig(filename=tmp / "clients.log", level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rng = random.Random(SEED)
    stopping = threading.Event()
    truth = Truth()
    procs: list[Proc] = []
    broker = admin = boxes = sim = paper = tap = None
    displays: list[Display] = []
    kiosks: list[Kiosk] = []
    threads: list[threading.Thread] = []
    ok = False

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        links = {n: str(tmp / f"by-id-box-{n}") for n in range(1, N_COUNTERS + 1)}
        web_port = free_port()
        sim = PrinterSimulator(tmp / "tickets", save_png=False).start()
        printer = f"serial:{sim.path}"
        site = site_config.load(write_site(tmp, None, 1883, printer, web_port, links))
        broker = Broker(tmp / "broker", site, superusers=[ADMIN], observers=[TAP],
                        users=users_for(site, kiosks=N_KIOSKS, displays=N_DISPLAYS)).start()
        cfg_path = write_site(tmp, broker, broker.port, printer, web_port, links)
        cfg = site_config.load(cfg_path)
        clock_file = tmp / "clock-offset"
        clock_file.write_text("0\n")
        db = tmp / "core.db"
        core = Proc("core", with_clock(clock_file, [
            "kiosk.cli", "core", "--config", str(cfg_path), "--db", str(db),
            "--mqtt-port", str(broker.port), "--mqtt-password-file", str(broker.password_file("core"))]),
            tmp / "core.log", b"core ready")
        bridge = Proc("bridge", with_clock(clock_file, ["kiosk.cli", "bridge", "--config", str(cfg_path)]),
                      tmp / "bridge.log", b"bridge ready")
        def web_on(port: int) -> Proc:
            return Proc("web", with_clock(clock_file, [
                "kiosk.cli", "web", "--config", str(cfg_path), "--db", str(db), "--port", str(port),
                "--mqtt-port", str(broker.port), "--mqtt-password-file", str(broker.password_file("web"))]),
                tmp / "web.log", port)
        web = web_on(web_port)
        procs = [core, bridge, web]
        boxes = Boxes({n: SimBox(f"box-{n}", links[n], seed=rng.getrandbits(32)) for n in links})
        core.start()
        admin = Admin(broker, cfg.topic_prefix, ADMIN, command_timeout=60.0)
        for n in links:
            code = f"nv{n:02d}"
            admin.command({"command_id": f"add-{code}", "action": "official_add", "official": code,
                           "name": f"Cán bộ {n}", "role": "staff", "pin_hash": hash_pin(PIN)})
            admin.command({"command_id": f"login-{code}", "action": "login", "official": code,
                           "counter": n})
        admin.command({"command_id": "add-head", "action": "official_add", "official": HEAD,
                       "name": "Trưởng trung tâm", "role": "head", "pin_hash": hash_pin(PIN)})
        boxes.start()
        bridge.start(timeout=60)
        for attempt in range(5):
            try:
                web.start()
                break
            except CannotMeasure:
                # The free port found at the start may since be some client's
                # own end of a connection (sixty boxes connect meanwhile).
                if attempt == 4 or "address already in use" not in (tmp / "web.log").read_text():
                    raise
                web_port = free_port()
                procs[procs.index(web)] = web = web_on(web_port)
        paper = PaperWatch(sim).start()
        displays = [Display(i, cfg_path, broker, tmp) for i in range(1, N_DISPLAYS + 1)]
        tap = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_tap.py"), broker.host,
                                str(broker.port), TAP, str(broker.password_file(TAP)),
                                cfg.topic_prefix, str(tmp / "tap.lines")],
                               stdin=subprocess.PIPE, text=True, cwd=ROOT)
        kiosks = [Kiosk(i, cfg, broker, truth, stopping) for i in range(1, N_KIOSKS + 1)]
        deadline = time.monotonic() + 60
        while not all(d.out.exists() and "snap " in d.out.read_text() for d in displays):
            if time.monotonic() > deadline:
                raise CannotMeasure("the displays never had a snapshot")
            time.sleep(0.1)
        while not all(b.fw is not None and b.fw.proto.host_alive(b.board.ticks_ms())
                      for b in boxes.boxes.values()):
            if time.monotonic() > deadline:
                raise CannotMeasure("the boxes never heard the bridge")
            time.sleep(0.05)

        day_start = time.monotonic()
        day_end = day_start + DAY_S
        webc = Web(web_port, cfg)
        counters = [Counter(n, boxes, admin, webc, truth, random.Random(rng.getrandbits(32)), day_end,
                            stopping, db) for n in links]
        faults = Faults(random.Random(rng.getrandbits(32)), broker, core, bridge, sim, displays, kiosks,
                        clock_file, truth, stopping)
        ends = threading.Event()
        threads = [threading.Thread(target=k.run, name=k.client, daemon=True) for k in kiosks]
        threads += [threading.Thread(target=c.run, name=f"counter-{c.n}", daemon=True) for c in counters]
        fault_thread = threading.Thread(target=faults.run, args=(day_start, day_end), daemon=True)
        log("the day begins")
        cpu_start = machine_cpu()
        for t in threads:
            t.start()
        fault_thread.start()
        arrivals(random.Random(rng.getrandbits(32)), kiosks, day_start, day_end, ends)
        log(f"the doors close; {truth.requests} requests so far")
        cpu = [b - a for a, b in zip(cpu_start, machine_cpu())]
        ends.set()
        while any(t.is_alive() for t in threads[N_KIOSKS:]) or fault_thread.is_alive():
            for x in [*counters, faults, *kiosks]:
                if x.error is not None:
                    raise x.error
            if time.monotonic() > day_end + 300:
                raise CannotMeasure("the day did not end")
            time.sleep(0.2)
        stopping.set()
        for t in threads[:N_KIOSKS]:
            t.join(150)
        for x in [*counters, faults, *kiosks]:
            if x.error is not None:
                raise x.error
        log("the day is over; draining")
        for p in procs:
            if not p.running:
                p.start()
        if broker.proc is None or broker.proc.poll() is not None:
            broker.start()
        deadline = time.monotonic() + 120
        while any(b.backlog() for b in boxes.boxes.values()):
            if time.monotonic() > deadline:
                raise CannotMeasure("drain timed out: boxes still hold presses")
            time.sleep(0.1)
        time.sleep(2.0)

        # The printer works through what the kiosks asked last (more so after a
        # fault): a job still pending is in flight, not in the reprint queue.
        deadline = time.monotonic() + 180
        while pending_prints(db):
            if time.monotonic() > deadline:
                raise CannotMeasure(f"the printer still had {pending_prints(db)} jobs after 180 s")
            time.sleep(0.2)

        # What staff see and do at closing: the reprint queue, reprinted from the console.
        base = ["--config", str(cfg_path), "--db", str(db), "--mqtt-port", str(broker.port)]
        out = run_cli(["reprint", "--list", *base])
        if out.returncode != 0:
            raise CannotMeasure(f"phucvu reprint --list failed: {out.stderr.strip()}")
        listed = set(re.findall(r"^([A-Z]\d{3})\s", out.stdout, re.M))
        log(f"reprint queue: {len(listed)} tickets")
        head = Http(web_port)
        if not head.login(HEAD, None):
            raise CannotMeasure("the head could not log in to the console")
        jobs_before = len(paper.raw)
        reprinted = 0
        for label in sorted(listed):
            status, body = head.request("POST", "/api/reprint", {"ticket": label})
            reprinted += status == 200
            if status != 200:
                log(f"reprint {label}: {status} {body}")
        deadline = time.monotonic() + 60
        while len(paper.raw) < jobs_before + reprinted and time.monotonic() < deadline:
            time.sleep(0.1)
        web.stop()
        bridge.stop()
        core.stop()
        paper.stop()
        paper.read()
        tap.communicate("quit\n", timeout=15)
        taps: dict[str, dict[str, float]] = {"cmd": {}, "reply": {}}
        for line in (tmp / "tap.lines").read_text().splitlines():
            kind, t, cid = line.split()
            taps[kind].setdefault(cid, float(t))
        for d in displays:
            d.stop()
        truth.converge = converge_ms(faults.pending, truth)
        figures, problems = count(db, cfg_path, truth, paper, listed, displays, taps)
        sizes = [n for d in displays for n in d.sizes]
        figures["snapshots_per_s"] = round(len(displays[0].snaps) / (time.monotonic() - day_start), 1)
        figures["snapshot_kb"] = round(sum(sizes) / len(sizes) / 1024, 1) if sizes else "nan"
        figures["reprinted_at_close"] = reprinted
        # How busy the machine's cores were while the doors were open, and
        # how much a neighbour on the host took (steal): the latencies only
        # mean something next to these.
        figures["machine_busy_pct"] = round(100 * (sum(cpu) - cpu[3] - cpu[4] - cpu[7]) / sum(cpu), 1)
        figures["machine_steal_pct"] = round(100 * cpu[7] / sum(cpu), 1)
        figures["console_relogins"] = webc.relogins
        for kind, ms in truth.converge:
            print(f"  converge after {kind}: {ms:.0f} ms", file=sys.stderr)
        for line in problems[:200]:
            print("  " + line, file=sys.stderr)
        figures["run_s"] = round(time.monotonic() - started, 1)
        figures["seed"] = SEED
        emit(figures)
        ok = True
        return 0
    except (Exception, KeyboardInterrupt) as e:  # the bench must say why it could not measure
        return could_not_measure(e)
    finally:
        stopping.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for d in displays:
            if d.proc.poll() is None:
                d.proc.kill()
        if tap is not None and tap.poll() is None:
            tap.kill()
        for p in procs:
            p.stop() if ok else p.kill9()
        if admin is not None:
            admin.close()
        if boxes is not None:
            boxes.stop()
        if sim is not None:
            sim.close()
        if broker is not None:
            broker.stop()
        if ok and not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"files kept in {tmp}", file=sys.stderr)


def arrivals(rng: random.Random, kiosks: list[Kiosk], day_start: float, day_end: float,
             stop: threading.Event) -> None:
    """Citizens at the kiosks through the day, busiest mid-morning."""
    # Relative arrival rate over the day's ten slices (a commune centre's shape).
    shape = [0.8, 1.6, 1.8, 1.4, 0.9, 0.5, 0.9, 1.1, 0.7, 0.3]
    total = sum(shape)
    codes = [f[0] for f in FIELDS]
    weights = [3, 4, 1, 2, 1, 2, 1, 2, 1, 1][:len(codes)]
    slice_s = (day_end - day_start) / len(shape)
    times = []
    for i, w in enumerate(shape):
        n = round(TICKETS * w / total)
        times += sorted(day_start + slice_s * (i + rng.random()) for _ in range(n))
    times.sort()
    for i, at in enumerate(times):
        while (left := at - time.monotonic()) > 0:
            if stop.wait(min(left, 0.2)):
                return
        prio = rng.choice(PRIORITIES) if rng.random() < 0.08 else None
        kiosks[i % len(kiosks)].citizens.put((rng.choices(codes, weights)[0], prio))


if __name__ == "__main__":
    sys.exit(main())
