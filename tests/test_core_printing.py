"""The core prints every committed ticket; faults keep it for reprint and alert staff.

The printer is the simulator on a real pty held by the test; the core talks
to it over the serial path (python-escpos Serial), as with a real printer.
"""
import json
import sqlite3
import time
import uuid

import pytest

from kiosk.printing import decode
from kiosk.printing.sim import PrinterSimulator
from tests.conftest import CoreProcess


@pytest.fixture
def sim(tmp_path):
    s = PrinterSimulator(tmp_path / "paper").start()
    yield s
    s.close()


@pytest.fixture
def core_on_sim(broker, tmp_path, sim):
    c = CoreProcess(broker, tmp_path / "phucvu.db",
                    extra=["--printer", f"serial:{sim.path}@115200"]).start()
    yield c
    c.stop()


def request(kiosk, field="tu-phap", request_id=None):
    rid = request_id or uuid.uuid4().hex
    kiosk.publish("ticket/request/kiosk-1", {"request_id": rid, "client": "kiosk-1", "field": field})
    return kiosk.wait_for(lambda t, b: t == "ticket/reply/kiosk-1" and b.get("request_id") == rid,
                          timeout=15)


def texts(data: bytes) -> list[str]:
    return [op.text for op in decode.parse(data) if isinstance(op, decode.TextLine)]


def test_ticket_is_committed_then_printed_with_its_number(core_on_sim, bus, sim):
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1", "printer/status")
    reply = request(kiosk)
    assert reply["ok"] and reply["print"] == {"status": "printed"}
    job = sim.wait_jobs(1)[0]
    assert job.printed
    assert any("A001" in line for line in texts(job.data)), texts(job.data)
    assert job.png_path.exists()
    conn = sqlite3.connect(core_on_sim.db)
    assert conn.execute("SELECT printed, state FROM print_jobs").fetchall() == [(1, "ok")]
    status = kiosk.wait_for(lambda t, b: t == "printer/status")
    assert status["state"] == "ok"


def test_paper_out_keeps_the_ticket_alerts_staff_and_reprints(core_on_sim, bus, sim, broker):
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    staff = bus("tester")
    staff.subscribe("event/alert", "printer/status")
    sim.set_state("paper_out")
    reply = request(kiosk, "chung-thuc")
    assert reply["ok"] and reply["ticket"]["label"] == "B001"
    assert reply["print"]["status"] == "not_printed" and reply["print"]["reason"] == "paper_out"
    alert = staff.wait_for(lambda t, b: t == "event/alert")
    assert alert["ticket_id"] == reply["ticket"]["ticket_id"] and "hết giấy" in alert["message"]
    staff.wait_for(lambda t, b: t == "printer/status" and b["state"] == "paper_out")
    # The ticket is valid and in line although it did not print.
    conn = sqlite3.connect(core_on_sim.db)
    assert conn.execute("SELECT state FROM tickets").fetchone()[0] == "waiting"
    # The reprint queue lists it; after new paper, a reprint says IN LẠI.
    import subprocess, sys
    from tests.conftest import DEMO_SITE, ROOT
    base = [sys.executable, "-m", "kiosk.cli"]
    opts = ["--config", str(DEMO_SITE), "--db", str(core_on_sim.db), "--mqtt-port", str(broker.port),
            "--mqtt-password-file", str(broker.password_file("cli"))]
    listed = subprocess.run(base + ["reprint", "--list", *opts], capture_output=True, text=True, cwd=ROOT)
    assert listed.stdout.startswith("B001") and "paper_out" in listed.stdout
    sim.set_state("ok")
    out = subprocess.run(base + ["reprint", "B001", *opts], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "B001: reprint printed" in out.stdout, out.stderr
    jobs = sim.wait_jobs(1)
    reprinted = jobs[-1]
    assert reprinted.printed
    # "IN LẠI" is drawn (raster); the decoded page has the mark's black box.
    assert any(isinstance(op, decode.Raster) for op in decode.parse(reprinted.data))
    # Nothing prints twice by accident.
    again = subprocess.run(base + ["reprint", "B001", *opts], capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 1 and "was printed" in again.stderr
    listed = subprocess.run(base + ["reprint", "--list", *opts], capture_output=True, text=True, cwd=ROOT)
    assert listed.stdout.strip() == "reprint queue is empty"


def test_unplugged_printer_still_gives_a_ticket(core_on_sim, bus, sim):
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    sim.unplug()
    reply = request(kiosk, "kinh-te")
    assert reply["ok"] and reply["ticket"]["label"] == "E001"
    assert reply["print"]["status"] == "not_printed"
    assert reply["print"]["reason"] in ("unplugged", "unknown")


def test_paper_near_end_prints_and_warns(core_on_sim, bus, sim):
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    watcher = bus("tester")
    watcher.subscribe("printer/status")
    sim.set_state("paper_near_end")
    reply = request(kiosk, "dat-dai")
    assert reply["print"] == {"status": "printed"}
    watcher.wait_for(lambda t, b: t == "printer/status" and b["state"] == "paper_near_end")


def test_display_notice_is_retained(core, bus):
    admin = bus("tester")
    admin.subscribe("core/reply")
    admin.publish("core/command", {"command_id": "n1", "action": "notice",
                                   "text": "Trung tâm nghỉ trưa từ 11:30 đến 13:30"})
    admin.wait_for(lambda t, b: t == "core/reply" and b.get("command_id") == "n1")
    time.sleep(0.1)
    display = bus("display-1")
    display.subscribe("display/notice")
    notice = display.wait_for(lambda t, b: t == "display/notice")
    assert notice["text"] == "Trung tâm nghỉ trưa từ 11:30 đến 13:30"


def test_a_redelivered_reprint_command_prints_once(core_on_sim, bus, sim):
    kiosk = bus("kiosk-1", client_id="kiosk-1")
    kiosk.subscribe("ticket/reply/kiosk-1")
    sim.set_state("cover_open")
    assert request(kiosk, "tu-phap")["print"]["reason"] == "cover_open"
    sim.set_state("ok")
    admin = bus("tester")
    admin.subscribe("core/reply")
    body = {"command_id": "reprint-once", "action": "reprint", "ticket": "A001"}
    admin.publish("core/command", body)
    admin.publish("core/command", body)   # QoS 1 may deliver it twice
    replies = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(
            r.get("print", {}).get("status") == "printed" for r in replies):
        replies = [json.loads(p) for t, p, _ in admin.messages if t.endswith("core/reply")]
        time.sleep(0.1)
    time.sleep(1.0)
    jobs = sim.jobs
    assert sum(1 for j in jobs if j.printed) == 1, [j.printed for j in jobs]


def test_sigterm_with_a_printer_stops_cleanly_and_says_offline(core_on_sim, bus):
    """Stopping joins the printer thread and publishes presence offline itself."""
    watcher = bus("tester")
    watcher.subscribe("presence/core")
    watcher.wait_for(lambda t, b: t == "presence/core" and b.get("status") == "online", timeout=10)
    proc = core_on_sim.proc
    proc.terminate()
    assert proc.wait(15) == 0
    offline = watcher.wait_for(lambda t, b: t == "presence/core" and b.get("status") == "offline",
                               timeout=10)
    # The clean stop's own message carries a time; the broker's last will does not.
    assert "at" in offline
    assert "Traceback" not in core_on_sim.log.read_text()


class SlowPrinter(PrinterSimulator):
    """A printer at the line speed the host set (9,600 baud: about 960 bytes
    a second, so a ticket takes seconds): the pty fills and the core's
    write waits, as on a real serial printer."""

    def _consume(self, chunk: bytes) -> None:
        super()._consume(chunk)
        time.sleep(len(chunk) * 10 / (self.baud() or 9600))


def test_a_core_killed_while_printing_leaves_the_ticket_for_reprint_not_lost(broker, bus, tmp_path):
    slow = SlowPrinter(tmp_path / "slow").start()
    fresh = PrinterSimulator(tmp_path / "fresh").start()
    db = tmp_path / "phucvu.db"
    first = CoreProcess(broker, db, extra=["--printer", f"serial:{slow.path}@9600"]).start()
    second = None
    try:
        kiosk = bus("kiosk-1", client_id="kiosk-1")
        kiosk.subscribe("ticket/reply/kiosk-1")
        staff = bus("tester")
        staff.subscribe("event/alert")
        rid = uuid.uuid4().hex
        kiosk.publish("ticket/request/kiosk-1", {"request_id": rid, "client": "kiosk-1",
                                                 "field": "tu-phap"})
        deadline = time.monotonic() + 15
        while slow.received < 1000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.received >= 1000, "the ticket never reached the printer"
        first.proc.kill()             # kill -9 mid-print: the reply never went out
        first.proc.wait(10)
        first.stop()
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT printed, state FROM print_jobs").fetchall() == [(0, "pending")]
        conn.close()
        # The half-sent raster leaves the slow printer mid-job, as a real one
        # would be until switched off and on: the restart prints on a fresh one.
        second = CoreProcess(broker, db, extra=["--printer", f"serial:{fresh.path}@115200"]).start()
        alert = staff.wait_for(lambda t, b: t == "event/alert", timeout=10)
        assert alert["label"] == "A001" and alert["state"] == "interrupted"
        import subprocess, sys
        from tests.conftest import DEMO_SITE, ROOT
        listed = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "reprint", "--list", "--config", str(DEMO_SITE),
             "--db", str(db), "--mqtt-port", str(broker.port),
             "--mqtt-password-file", str(broker.password_file("cli"))],
            capture_output=True, text=True, cwd=ROOT)
        assert listed.stdout.startswith("A001") and "interrupted" in listed.stdout, listed
        retry = request(kiosk, request_id=rid)
        assert retry["ok"] and retry["ticket"]["label"] == "A001"
        assert retry["print"]["status"] == "not_printed" and retry["print"]["reason"] == "interrupted"
        # Not printed again by the restart: nothing on the fresh printer, at
        # most the half ticket on the slow one, and still one job row.
        time.sleep(1.0)
        assert fresh.jobs == [] and len(slow.jobs) <= 1
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT COUNT(*), SUM(printed) FROM print_jobs").fetchone() == (1, 0)
        conn.close()
    finally:
        if second:
            second.stop()
        first.stop()
        slow.close()
        fresh.close()
