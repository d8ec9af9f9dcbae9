"""Every topic of docs/mqtt.md is exercised against the real core, and the
page's own recipe (mosquitto_sub / mosquitto_pub) drives it."""
import json
import re
import sqlite3
import subprocess
import time

import pytest

from kiosk import contract
from kiosk.printing.sim import PrinterSimulator
from tests.conftest import CoreProcess
from tests.phone_helpers import write_site


def pattern_regex(prefix: str, pattern: str) -> re.Pattern:
    body = re.sub(r"\\\{[a-z]+\\\}", "[^/]+", re.escape(pattern))
    return re.compile(f"^{re.escape(prefix)}/{body}$")


@pytest.fixture
def rig(broker, tmp_path):
    write_site(tmp_path)        # the demo site with [phone]: the core publishes queue/tickets
    sim = PrinterSimulator(tmp_path / "paper").start()
    core = CoreProcess(broker, tmp_path / "p.db", extra=["--printer", f"serial:{sim.path}"]).start()
    yield core, sim
    core.stop()
    sim.close()


def test_every_documented_topic_carries_traffic(rig, bus, site):
    core, sim = rig
    spy = bus("tester")
    spy.subscribe("#")
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    box = bus("counter-1")
    kiosk.publish("ticket/request/kiosk-1", {"request_id": "r1", "client": "kiosk-1", "field": "tu-phap"})
    spy.wait_for(lambda t, b: t == "ticket/reply/kiosk-1", timeout=10)
    sim.set_state("paper_out")
    kiosk.publish("ticket/request/kiosk-1", {"request_id": "r2", "client": "kiosk-1", "field": "tu-phap"})
    spy.wait_for(lambda t, b: t == "event/alert", timeout=10)
    box.publish("counter/1/command", {"command_id": "c1", "action": "next"})
    spy.wait_for(lambda t, b: t == "counter/1/reply")
    box.publish("counter/1/command", {"command_id": "c2", "action": "finish"})
    # The same press twice: stored once.  "Không hài lòng" opens a follow-up case (event/case).
    for _ in range(2):
        box.publish("counter/1/rating", {"rating_id": "box-1:ab:1", "level": 3, "device": "box-1", "boot": 171, "device_time_ms": 5000})
    spy.wait_for(lambda t, b: t == "event/case", timeout=10)
    spy.publish("core/command", {"command_id": "k1", "action": "notice", "text": "Xin chào"})
    spy.wait_for(lambda t, b: t == "core/reply")
    spy.publish("core/command", {"command_id": "k2", "action": "voice_test", "by": "qt01",
                                 "text": "Mời công dân có số thứ tự A001 đến quầy số 1"})
    spy.wait_for(lambda t, b: t == "display/voice")
    # The phone page's server: a rating (with a token that is not the
    # ticket's, so the core refuses it on phone/reply) and its retained counters.
    phone = bus("phone")
    phone.publish("phone/rating", {"rating_id": "phone-1", "ticket_id": "20261127-A001",
                                   "token": "AbCdEfGhIjKlMnOp", "level": 1})
    reply = spy.wait_for(lambda t, b: t == "phone/reply")
    assert reply["error"]["code"] == "bad_token"
    phone.publish("phone/stats", {"since": 1.0, "pages": 0, "ratings_sent": 0, "refused": {},
                                  "clients": 0, "updated_at": 1.0}, retain=True)
    spy.wait_for(lambda t, b: t == "queue/tickets")
    time.sleep(0.3)
    seen = {t for t, _, _ in spy.messages}
    missing = [s.pattern for s in contract.TOPICS
               if not any(pattern_regex(site.topic_prefix, s.pattern).match(t) for t in seen)]
    assert not missing, f"documented topics with no traffic: {missing}"
    conn = sqlite3.connect(core.db)
    assert conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 1
    # Retained flags are what the page says: a late joiner gets exactly the
    # retained topics (live deliveries never carry the retain flag).
    late = bus("tester")
    late.subscribe("#")
    time.sleep(0.5)
    retained = {t for t, _, r in late.messages if r}
    for spec in contract.TOPICS:
        rx = pattern_regex(site.topic_prefix, spec.pattern)
        got = any(rx.match(t) for t in retained)
        if spec.retain:
            assert got, f"{spec.pattern} should be retained"
        if not spec.retain:
            assert not got, f"{spec.pattern} must not be retained"


def test_mosquitto_clients_drive_and_watch_the_core(core, broker, site):
    p = site.topic_prefix
    # The command line's login: a shell on the appliance drives the core as `cli`.
    auth = ["-h", broker.host, "-p", str(broker.port), "-u", "cli", "-P", broker.password("cli")]
    subprocess.run(["mosquitto_pub", *auth, "-q", "1", "-t", f"{p}/core/command",
                    "-m", json.dumps({"command_id": "sh-1", "action": "issue", "field": "chung-thuc"})],
                   check=True, timeout=10)
    subprocess.run(["mosquitto_pub", *auth, "-q", "1", "-t", f"{p}/counter/2/command",
                    "-m", '{"command_id": "sh-2", "action": "next"}'], check=True, timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(["mosquitto_sub", *auth, "-t", f"{p}/counter/2/state", "-C", "1",
                              "-W", "5"], capture_output=True, text=True, timeout=10)
        state = json.loads(out.stdout)
        if state["current"]:
            break
        time.sleep(0.1)
    assert state["current"]["label"] == "B001" and state["name"] == "Quầy 2"
    snap = json.loads(subprocess.run(["mosquitto_sub", *auth, "-t", f"{p}/display/snapshot", "-C", "1",
                                      "-W", "5"], capture_output=True, text=True, timeout=10).stdout)
    assert snap["counters"][1]["current"] == "B001"
    # Anonymous mosquitto_sub is refused.
    anon = subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", "#",
                           "-C", "1", "-W", "2"], capture_output=True, text=True, timeout=10)
    assert anon.returncode != 0 and "not authorised" in (anon.stderr + anon.stdout).lower()
