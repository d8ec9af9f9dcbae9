"""A bad database file, met by every command that opens it: one line, and the file untouched.

The bad files are a real site database (``phucvu init``, tickets, an
official, a call) damaged the ways files get damaged: pages overwritten,
cut short, emptied; or a file that was never ours (another program's SQLite
file, a text file) or is from a newer phucvu.  Each command runs as a
person types it, in its own process.
"""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import DEMO_SITE, ROOT


def _run(args, timeout=30):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args, "--config", str(DEMO_SITE)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def good_db(tmp_path_factory):
    """The site's database after a little work (made in this process: it is not under test)."""
    from click.testing import CliRunner

    from kiosk.cli import cli
    db = tmp_path_factory.mktemp("good") / "site.db"
    for args in (["init"], ["issue", "tu-phap"], ["issue", "dat-dai"], ["issue", "tu-phap"],
                 ["official", "add", "nv01", "Nguyễn Văn An"], ["login", "1", "nv01"],
                 ["counter", "1", "next"]):
        result = CliRunner().invoke(cli, [*args, "--config", str(DEMO_SITE), "--db", str(db)])
        assert result.exit_code == 0, result.output
    return db


def _overwrite_middle(db):
    """Garbage over the first kilobyte of each page of the file's middle half."""
    conn = sqlite3.connect(db)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    pages = db.stat().st_size // page
    with open(db, "r+b") as f:
        for n in range(pages // 4, 3 * pages // 4):
            f.seek(n * page)
            f.write(bytes((i * 7 + 3) % 256 for i in range(1024)))


def _truncate(db):
    os.truncate(db, db.stat().st_size // 2)


def _empty(db):
    os.truncate(db, 0)


def _newer(db):
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


def _foreign(db):
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('not a queue')")
    conn.commit()
    conn.close()


def _text(db):
    db.write_text("[store]\npath = '/var/lib/phucvu/site.db'\n" * 50)


# What is done to the file, and what its one line must say.
DAMAGE = {
    "overwritten": (_overwrite_middle, "damaged"),
    "truncated": (_truncate, "damaged"),
    "empty": (_empty, "empty (0 bytes)"),
    "newer": (_newer, "newer than this program"),
    "foreign": (_foreign, "another program"),
    "text": (_text, "not a SQLite database"),
}


def _commands(tmp):
    pw = tmp / "cli.password"
    pw.write_text("secret\n")
    mqtt = ["--mqtt-password-file", str(pw)]
    return {
        "init": ["init"],
        "core": ["core", *mqtt, "--printer", "none"],
        "status": ["status"],
        "official list": ["official", "list"],
        "official add": ["official", "add", "nv02", "Trần Thị Bình"],
        "issue": ["issue", "tu-phap"],
        "counter": ["counter", "1", "next"],
        "login": ["login", "2", "nv01"],
        "reprint --list": ["reprint", "--list"],
        "backup": ["backup", str(tmp / "copy.db")],
        "report": ["report", "--from", "2000-01-01", "--to", "2100-12-31"],
        "replay-events": ["replay-events", *mqtt],
    }


def _fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_every_command_refuses_a_bad_file_in_one_line_and_leaves_it_alone(kind, good_db, tmp_path):
    damage, says = DAMAGE[kind]
    db = tmp_path / "site.db"
    shutil.copyfile(good_db, db)
    damage(db)
    commands = _commands(tmp_path)
    # Side by side, each on its own copy of the same bad bytes: the commands
    # that write take the file's lock first, and two of them on one file
    # would meet the lock ("in use") before the check this test is about.
    copies = {}
    for i, name in enumerate(commands):
        copies[name] = tmp_path / f"c{i}" / "site.db"
        copies[name].parent.mkdir()
        shutil.copy2(db, copies[name])
    before = {name: _fingerprint(c) for name, c in copies.items()}
    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(commands, pool.map(
            lambda item: _run([*item[1], "--db", str(copies[item[0]])]), commands.items())))
    for name, p in results.items():
        lines = p.stderr.strip().splitlines()
        assert "Traceback" not in p.stderr, (name, p.stderr)
        assert p.returncode == 1, (name, p.returncode, p.stdout, p.stderr)
        assert len(lines) == 1, (name, p.stderr)
        assert str(copies[name]) in lines[0] and says in lines[0], (name, lines[0])
        assert _fingerprint(copies[name]) == before[name], name
    assert not (tmp_path / "copy.db").exists()


def test_a_fresh_path_is_a_new_database_and_a_second_init_keeps_it(tmp_path):
    db = tmp_path / "new" / "site.db"
    assert _run(["init", "--db", str(db)]).returncode == 0
    assert _run(["issue", "tu-phap", "--db", str(db)]).returncode == 0
    p = _run(["init", "--db", str(db)])
    assert p.returncode == 0, p.stderr
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 1


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_period_past_the_calendar_is_one_line(good_db, day):
    p = _run(["report", "--from", day, "--to", "9999-12-31", "--db", str(good_db)])
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [
        f"Error: the period {day} to 9999-12-31 is out of range; give days from 0001-01-01 "
        "to 9999-12-30"]
