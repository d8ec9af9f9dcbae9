"""The phucvu CLI on the demo site, as a person types it: real processes, a real file."""
import json
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import DEMO_SITE, ROOT


@pytest.fixture
def phucvu(tmp_path):
    db = tmp_path / "site.db"

    def run(*args, ok=True):
        p = subprocess.run([sys.executable, "-m", "kiosk.cli", *args, "--config", str(DEMO_SITE),
                            "--db", str(db)], capture_output=True, text=True, cwd=ROOT)
        assert "Traceback" not in p.stderr, p.stderr
        if ok:
            assert p.returncode == 0, p.stderr
        elif ok is None:
            pass
        elif p.returncode == 2:
            # click's usage errors show the usage line, then the error.
            assert p.stderr.strip().splitlines()[-1].startswith("Error: "), p.stderr
        else:
            assert p.returncode == 1
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        return p
    run.db = db
    return run


def test_a_day_at_the_counter(phucvu, tmp_path):
    from kiosk.core.schema import MIGRATIONS
    assert f"schema {len(MIGRATIONS)}" in phucvu("init").stdout
    first = phucvu("issue", "tu-phap").stdout
    # Nobody ahead at an idle open counter: called at once.
    assert first == "A001  Tư pháp – Hộ tịch  0 ahead, wait under 1 min\n"
    out = phucvu("issue", "tu-phap", "--priority", "cao-tuoi").stdout
    assert out.startswith("A002") and "[Người cao tuổi]" in out and "0 ahead" in out
    assert "serving A002" in phucvu("counter", "1", "next").stdout     # priority first
    assert "serving A002" in phucvu("counter", "1", "recall").stdout
    assert "serving nobody" in phucvu("counter", "1", "transfer", "--to", "dat-dai").stdout
    assert "serving A002" in phucvu("counter", "3", "next").stdout      # same number, new field
    assert "serving nobody" in phucvu("counter", "3", "finish").stdout
    assert "serving A001" in phucvu("counter", "2", "next").stdout
    assert "serving nobody" in phucvu("counter", "2", "no-show").stdout
    assert "serving A001" in phucvu("counter", "4", "call", "A001").stdout  # came back late
    phucvu("counter", "4", "pause")
    assert "counter 4 is paused" in phucvu("counter", "4", "next", ok=False).stderr
    # Văn hóa – Xã hội is counter 4's alone: paused, no wait is promised.
    assert phucvu("issue", "van-hoa-xa-hoi").stdout.rstrip().endswith(
        "0 ahead, wait when a counter reopens")
    row = next(line for line in phucvu("status").stdout.splitlines() if "Văn hóa" in line)
    assert row.endswith("  yes   when a counter reopens"), row
    phucvu("counter", "4", "resume")
    # Open again: the forecast's wait, worded as the wall words it (a range when wide).
    from kiosk import waitwords
    row = next(line for line in phucvu("status").stdout.splitlines() if "Văn hóa" in line)
    f = next(f for f in json.loads(phucvu("status", "--json").stdout)["fields"]
             if f["field"] == "van-hoa-xa-hoi")
    assert f["estimated_wait_min"] > 0
    said = waitwords.plain(waitwords.short(f["estimated_wait_min"], f["wait_low_min"],
                                           f["wait_high_min"], "en"))
    assert row.endswith(f"  yes   {said}") and "min" in said, row
    status = json.loads(phucvu("status", "--json").stdout)
    tu_phap = next(f for f in status["fields"] if f["field"] == "tu-phap")
    assert tu_phap["issued"] == 2 and tu_phap["waiting"] == 0
    text = phucvu("status").stdout
    assert "Tư pháp – Hộ tịch" in text and "Quầy 4" in text
    backup = tmp_path / "copy.db"
    assert "integrity ok" in phucvu("backup", str(backup)).stdout
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 3
    assert conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0] > 10
    phucvu("close-day")
    assert "is closed" in phucvu("issue", "tu-phap", ok=False).stderr


@pytest.mark.parametrize("args, message", [
    (("issue", "xyz"), "no field 'xyz'"),
    (("issue", "tu-phap", "--priority", "vip"), "no priority class 'vip'"),
    (("counter", "9", "next"), "no counter 9"),
    (("counter", "1", "call"), "call needs a ticket number"),
    (("counter", "1", "transfer"), "transfer needs --to"),
    (("counter", "1", "finish"), "not serving a ticket"),
    (("counter", "1", "fly"), "Invalid value"),
])
def test_bad_input_is_one_line_and_non_zero(phucvu, args, message):
    assert message in phucvu(*args, ok=False).stderr


def test_bad_config_is_named(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text(DEMO_SITE.read_text().replace("minutes_per_citizen = 10", "minute_per_citizen = 10"))
    p = subprocess.run([sys.executable, "-m", "kiosk.cli", "status", "--config", str(bad)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert f"{bad}: fields[0].minute_per_citizen: unknown key" in p.stderr
    assert "fields[0].minutes_per_citizen: required key is missing" in p.stderr


def test_backup_refuses_to_overwrite(phucvu, tmp_path):
    phucvu("init")
    target = tmp_path / "b.db"
    phucvu("backup", str(target))
    assert "exists" in phucvu("backup", str(target), ok=False).stderr


def test_the_roster_and_log_ins_without_a_core(phucvu):
    phucvu("init")
    assert "added" in phucvu("official", "add", "nv01", "Nguyễn Văn An", "--pin", "1234").stdout
    assert "a head needs a PIN" in phucvu("official", "add", "tp01", "Trần Thị Bình", "--role", "head",
                                          ok=False).stderr
    assert "4 to 12 digits" in phucvu("official", "pin", "nv01", "--pin", "12", ok=False).stderr
    assert "no official 'zz'" in phucvu("official", "pin", "zz", "--pin", "5678", ok=False).stderr
    assert "wrong official code or PIN" in phucvu("login", "2", "nv01", "--pin", "9999", ok=False).stderr
    assert "nv01 logged in at Quầy 2" in phucvu("login", "2", "nv01", "--pin", "1234").stdout
    assert "logged out at Quầy 2" in phucvu("logout", "2").stdout
    phucvu("official", "disable", "nv01")
    assert phucvu("official", "list").stdout.split() == ["nv01", "Nguyễn", "Văn", "An", "staff", "PIN",
                                                         "inactive"]
    assert "no active official 'nv01'" in phucvu("login", "2", "nv01", ok=False).stderr


def test_without_a_core_each_change_is_the_core_command_it_would_publish(phucvu):
    """The local path runs the core's pipeline: each change is stored under a
    fresh command id with the core's reply, and a body the contract refuses
    is refused as the core refuses it, kept in ``rejected``, in one line."""
    phucvu("issue", "tu-phap")
    phucvu("counter", "1", "next")
    p = phucvu("counter", "1", "call", "12345", ok=False)
    assert p.stderr.startswith("Error: number: String should match pattern")
    conn = sqlite3.connect(phucvu.db)
    stored = {key: json.loads(reply) for key, reply in conn.execute("SELECT command_id, reply FROM commands")}
    (issued, issue), (called, call) = sorted(stored.items())
    assert issued.startswith("core:cli-") and issue["command_id"] == issued.removeprefix("core:")
    assert issue["action"] == "issue" and issue["ticket"]["label"] == "A001"
    assert called.startswith("counter/1:cli-") and call["ticket"]["label"] == "A001"
    assert (call["action"], call["counter"]) == ("next", 1)
    topic, reason = conn.execute("SELECT topic, reason FROM rejected").fetchone()
    assert topic == "phucvu/thang-loc/counter/1/command" and "number" in reason


def test_a_refusal_of_the_local_pipeline_is_the_one_error_line(site, tmp_path):
    """What the command line cannot type (an unknown counter action) still
    meets the contract, as it would on the bus; nothing is raised but the error."""
    import click

    from kiosk.cli.writer import send
    with pytest.raises(click.ClickException) as refused:
        send(site, str(tmp_path / "site.db"), {}, {"action": "fly"}, counter=2)
    assert refused.value.message.startswith("action: Input should be 'next'")


def test_print_test_as_shipped_prints_a_ticket_another_reader_decodes(phucvu, tmp_path):
    """``phucvu print-test`` itself: the bytes it sends decode to a ticket image,
    and a printer that is not there or not configured is one line, exit 1."""
    from PIL import Image

    from kiosk.printing.decode import decode
    p = phucvu("print-test", "--printer", f"sim:{tmp_path}/sim")
    said = p.stdout.splitlines()
    assert len(said) == 2 and said[0].startswith("printer: ok ("), said
    assert said[1].startswith("print-test: printed: ok (")
    sent = int(said[1].rsplit("; ", 1)[1].split()[0])
    job = tmp_path / "sim" / "0001.bin"
    assert job.stat().st_size == sent > 1000
    png = tmp_path / "ticket.png"
    decode(job.read_bytes()).save(png)
    w, h = Image.open(png).size
    assert w >= 384 and h > 300            # a whole ticket, not a blank strip

    p = phucvu("print-test", "--printer", f"serial:{tmp_path}/ttyNOPE", ok=None)
    assert p.returncode == 1 and "print-test: NOT printed: unplugged" in p.stdout
    p = phucvu("print-test", "--printer", "none", ok=False)
    assert p.stderr.strip() == "Error: no printer: [printer] connection is none"
