"""The printer simulator on a real pty, driven through TicketPrinter and python-escpos Serial."""
from __future__ import annotations

import pytest
from escpos.printer import Serial

from kiosk.config import PrinterSection
from kiosk.printing import decode, status
from kiosk.printing.printer import PrinterConfigError, TicketPrinter
from kiosk.printing.sim import PrinterSimulator
from tests.test_printing_render import view

FAULTS = ["paper_out", "cover_open", "offline"]


# Generous: a printer that answers costs only its answer time, and a loaded
# CI machine may take a while to schedule the simulator thread.
ANSWER_TIMEOUT = 3.0


@pytest.fixture
def printer(tmp_path):
    tp = TicketPrinter(PrinterSection(connection=f"sim:{tmp_path / 'tickets'}", timeout_s=ANSWER_TIMEOUT))
    yield tp
    tp.close()


def test_prints_and_saves_bin_and_png(printer, tmp_path):
    assert printer.status().state == "ok"
    v = view()
    res = printer.print_ticket(v)
    assert res.printed and res.state == "ok"
    job = printer.sim.wait_jobs(1)[0]
    assert job.printed and job.data == printer.render(v) and res.bytes_sent == len(job.data)
    assert job.bin_path.read_bytes() == job.data
    assert job.png_path.name == "0001.png" and job.png_path.stat().st_size > 1000
    assert printer.sim.errors == []


def test_paper_near_end_still_prints_and_says_so(printer):
    printer.sim.set_state("paper_near_end")
    res = printer.print_ticket(view())
    assert res.printed and res.state == "paper_near_end"


@pytest.mark.parametrize("state", FAULTS)
def test_fault_before_the_job_sends_nothing(printer, state):
    printer.sim.set_state(state)
    res = printer.print_ticket(view())
    assert (res.printed, res.state, res.bytes_sent) == (False, state, 0)
    assert printer.sim.jobs == []
    printer.sim.set_state("ok")
    assert printer.print_ticket(view()).printed


@pytest.mark.parametrize("state", FAULTS)
def test_fault_during_the_job_reports_not_printed(printer, state):
    printer.sim.fail_during_job(state, after_bytes=1500)
    res = printer.print_ticket(view())
    assert (res.printed, res.state) == (False, state)
    assert res.bytes_sent > 0
    job = printer.sim.wait_jobs(1)[0]
    assert not job.printed and f"not-printed-{state}" in job.bin_path.name


def test_silent_printer_is_unknown_never_ok(tmp_path):
    printer = TicketPrinter(PrinterSection(connection=f"sim:{tmp_path}", timeout_s=0.3))
    printer.sim.set_state("unknown")
    st = printer.status()
    assert st.state == "unknown" and not st.printable
    res = printer.print_ticket(view())
    assert not res.printed and res.state == "unknown" and "did not confirm" in res.detail
    printer.close()


def test_unplug_before_the_job(printer):
    printer.sim.unplug()
    res = printer.print_ticket(view())
    assert (res.printed, res.state, res.bytes_sent) == (False, "unplugged", 0)
    assert printer.status().state == "unplugged"


def test_unplug_mid_job(printer):
    assert printer.status().state == "ok"
    printer.sim.unplug_after(2000)
    res = printer.print_ticket(view())
    assert (res.printed, res.state) == (False, "unplugged")
    assert printer.sim.jobs == []


def test_9600_baud_through_the_pty_arrives_intact(tmp_path):
    sim = PrinterSimulator(tmp_path).start()
    try:
        tp = TicketPrinter(PrinterSection(connection=f"serial:{sim.path}@9600", timeout_s=ANSWER_TIMEOUT))
        v = view(label="C007", field_name_vi="Đất đai – Xây dựng")
        res = tp.print_ticket(v)
        assert res.printed
        assert sim.baud() == 9600
        job = sim.wait_jobs(1)[0]
        assert job.data == tp.render(v)
        assert any(isinstance(op, decode.TextLine) and op.text == "C007" for op in decode.parse(job.data))
        tp.close()
    finally:
        sim.close()


def test_python_escpos_paper_status_would_lie_but_we_do_not(tmp_path):
    sim = PrinterSimulator(tmp_path, state="unknown").start()
    try:
        p = Serial(devfile=sim.path, baudrate=115200, timeout=0.2, dsrdtr=False)
        p.open()
        assert p.paper_status() == 2  # "paper adequate" from silence: why we parse ourselves
        p.close()
        tp = TicketPrinter(PrinterSection(connection=f"serial:{sim.path}", timeout_s=0.2))
        assert tp.status().state == "unknown"
        tp.close()
    finally:
        sim.close()


def test_bad_connection_and_profile_are_startup_errors(tmp_path):
    with pytest.raises(PrinterConfigError, match="baud rate"):
        TicketPrinter(PrinterSection(connection="serial:/dev/ttyUSB0@9601"))
    with pytest.raises(PrinterConfigError, match="unknown printer profile"):
        TicketPrinter(PrinterSection(connection=f"sim:{tmp_path}", profile="76mm"))
    with pytest.raises(PrinterConfigError, match="TCVN-3"):
        TicketPrinter(PrinterSection(connection=f"sim:{tmp_path}", profile="58mm", mode="tcvn3"))
    with pytest.raises(PrinterConfigError, match="no such font"):
        TicketPrinter(PrinterSection(connection=f"sim:{tmp_path}", font="/nope.ttf"))


def test_missing_device_is_unplugged_with_the_path(tmp_path):
    tp = TicketPrinter(PrinterSection(connection=f"serial:{tmp_path}/ttyNOPE", timeout_s=0.2))
    st = tp.status()
    assert st.state == "unplugged" and "ttyNOPE" in st.detail
    tp.close()


def test_simulator_states_are_validated(tmp_path):
    with pytest.raises(ValueError, match="unknown printer state"):
        PrinterSimulator(tmp_path, state="jammed")
    assert status.reply_for("ok")[1] == 0x12


def test_view_from_a_ticket_reply():
    from kiosk import config as cfg
    from kiosk.printing.tools import view_from_ticket

    site = cfg.load("deploy/demo-site.toml")
    ticket = {"ticket_id": "20261127-A013", "label": "A013", "field": "tu-phap",
              "field_name_vi": "Tư pháp – Hộ tịch", "field_name_en": "Justice and civil status",
              "priority": "cao-tuoi", "priority_name_vi": "Người cao tuổi", "issued_at": 1764230001.0,
              "ahead": 4, "estimated_wait_min": 20.0, "counters": [1, 2]}
    v = view_from_ticket(site, ticket, reprint=True)
    assert v.counters == ["Quầy 1", "Quầy 2"] and v.reprint
    assert v.issued_at.utcoffset().total_seconds() == 7 * 3600
    assert v.commune == "Xã Thắng Lộc"


def test_print_test_says_the_state_before_and_what_printed(tmp_path):
    from kiosk import config as cfg
    from kiosk.printing.tools import print_test

    site = cfg.load("deploy/demo-site.toml")
    said: list[str] = []
    result = print_test(site, base_dir=str(tmp_path), say=said.append)
    assert result.printed and result.bytes_sent > 0
    assert len(said) == 2 and said[0].startswith("printer: ok (")
    assert said[1] == f"print-test: printed: {result.state} ({result.detail}); {result.bytes_sent} bytes"
    assert (tmp_path / "demo-data" / "tickets" / "0001.png").is_file()

    # --printer overrides the config; a printer that is not there is said, not raised.
    said.clear()
    result = print_test(site, connection=f"serial:{tmp_path}/ttyNOPE", reprint=True, say=said.append)
    assert not result.printed and result.state == "unplugged"
    assert said[0].startswith("printer: unplugged (cannot open ") and "ttyNOPE" in said[0]
    assert said[1].startswith("print-test: NOT printed: unplugged (") and said[1].endswith("; 0 bytes")


def test_print_test_refuses_no_printer_and_a_bad_one():
    from kiosk import config as cfg
    from kiosk.printing.tools import PrintTestError, print_test

    site = cfg.load("deploy/demo-site.toml")
    with pytest.raises(PrintTestError, match=r"^no printer: \[printer\] connection is none$"):
        print_test(site, connection="none")
    with pytest.raises(PrintTestError, match=r"^\[printer\] .*baud rate"):
        print_test(site, connection="serial:/dev/ttyUSB0@9601")
