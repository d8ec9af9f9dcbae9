"""``phucvu config check`` and ``config diff``, on real files, as a person runs them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = (ROOT / "deploy" / "demo-site.toml").read_text(encoding="utf-8")


def phucvu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_check_says_ok_with_what_it_read(tmp_path):
    r = phucvu("config", "check", write(tmp_path, "site.toml", DEMO))
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and "5 fields, 4 counters, 3 rating levels" in r.stdout


def test_check_names_every_problem_without_a_traceback(tmp_path):
    bad = DEMO.replace("minutes_per_citizen = 10", "minute_per_citizen = 10", 1) \
              .replace("interleave = 3", 'interleave = "3"')
    path = write(tmp_path, "site.toml", bad)
    r = phucvu("config", "check", path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "fields[0].minute_per_citizen: unknown key" in r.stderr
    assert "priority.interleave: expected an integer, got the string '3'" in r.stderr
    assert r.stderr.count(path) >= 2          # one line per problem, each naming the file


def test_diff_compares_fields_and_counters_by_identity(tmp_path):
    a = write(tmp_path, "a.toml", DEMO)
    # Counter 1 renamed and its fields reordered; a field added; the
    # interleave changed; the file's fields written in another order.
    text = DEMO.replace('name = "Quầy 1"', 'name = "Quầy một"') \
               .replace('fields = ["tu-phap", "chung-thuc"]', 'fields = ["chung-thuc", "tu-phap"]') \
               .replace("interleave = 3", "interleave = 2")
    text += ('\n[[fields]]\ncode = "noi-vu"\nname_vi = "Nội vụ"\nname_en = "Home affairs"\n'
             'prefix = "N"\nminutes_per_citizen = 8\n')
    text = text.replace('fields = ["van-hoa-xa-hoi", "kinh-te"]', 'fields = ["van-hoa-xa-hoi", "kinh-te", "noi-vu"]')
    b = write(tmp_path, "b.toml", text)
    r = phucvu("config", "diff", a, b)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert "counters[1].name: 'Quầy 1' → 'Quầy một'" in lines
    assert "counters[1].fields: ['tu-phap', 'chung-thuc'] → ['chung-thuc', 'tu-phap']" in lines
    assert "priority.interleave: 3 → 2" in lines
    assert any(line.startswith("fields[noi-vu]: added {code = 'noi-vu'") for line in lines)
    # Nothing else: a field added at the end is not every other field changed.
    assert len(lines) == 5, lines


def test_diff_of_the_same_centre_written_differently_is_empty(tmp_path):
    a = write(tmp_path, "a.toml", DEMO)
    # A default written out, a comment added: the same centre.
    b = write(tmp_path, "b.toml", "# edited by hand\n" + DEMO.replace("[priority]\n", "[priority]\n# the default\n"))
    r = phucvu("config", "diff", a, b)
    assert r.returncode == 0 and "configure the same centre" in r.stdout


def test_diff_says_order_when_only_the_order_moved(tmp_path):
    from kiosk import config
    from kiosk.config.changes import diff
    cfg = config.load(write(tmp_path, "a.toml", DEMO))
    moved = cfg.model_copy(update={"fields": list(reversed(cfg.fields))})
    changes = diff(cfg, moved)
    assert [c.kind for c in changes] == ["order"]
    assert changes[0].describe().startswith("fields: order ['tu-phap'")


def test_diff_of_a_broken_file_is_trouble_not_a_difference(tmp_path):
    r = phucvu("config", "diff", write(tmp_path, "a.toml", DEMO), str(tmp_path / "missing.toml"))
    assert r.returncode == 2
    assert "missing.toml: cannot read the site config" in r.stderr and "Traceback" not in r.stderr
