"""kiosk.config.checked: the site config validated by the one schema in a
child process, for the wall display, which loads no pydantic itself."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kiosk import config
from kiosk.config import checked, live
from tests.conftest import DEMO_SITE, ROOT
from tests.test_live_config import payload


def test_the_view_holds_what_the_schema_gives_with_the_same_lookups():
    view, full = checked.load(DEMO_SITE), config.load(DEMO_SITE)
    assert view == full and view.model_dump() == full.model_dump(mode="json")
    assert live.config_hash(view) == live.config_hash(full)
    assert view.topic_prefix == full.topic_prefix and view.tz == full.tz
    assert view.counter(2).name == full.counter(2).name
    assert view.field(full.fields[1].code).name_vi == full.fields[1].name_vi
    assert [c.number for c in view.counters] == [c.number for c in full.counters]
    assert view.display == full.display and view.announcer.template == full.announcer.template
    with pytest.raises(AttributeError):
        view.display.notice = "x"


def test_a_wrong_key_is_refused_with_the_schemas_own_line(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text(DEMO_SITE.read_text() + "\n[display]\nlast_call = 5\n")
    with pytest.raises(config.ConfigError) as full:
        config.load(bad)
    with pytest.raises(config.ConfigError) as view:
        checked.load(bad)
    assert str(view.value) == str(full.value)
    assert f"{bad}: display.last_call: unknown key" in str(view.value)
    with pytest.raises(config.ConfigError, match="cannot read the site config"):
        checked.load(tmp_path / "missing.toml")


def test_a_saved_change_is_merged_and_refused_as_live_merge_does():
    full = config.load(DEMO_SITE)
    view = checked.load(DEMO_SITE)
    remote = full.model_dump(mode="json")
    remote["counters"][0]["name"] = "Quầy một"
    remote["display"]["notice"] = "Thông báo mới"
    remote["mqtt"]["port"] = 18830        # the core's machine: never taken
    assert checked.merge(view, payload(remote)) == live.merge(full, payload(remote))
    merged = checked.merge(view, payload(remote))
    assert merged.counter(1).name == "Quầy một" and merged.mqtt.port == full.mqtt.port
    remote["counters"][0]["fields"] = ["khong-co"]
    with pytest.raises(config.ConfigError) as e:
        checked.merge(view, payload(remote))
    with pytest.raises(config.ConfigError) as want:
        live.merge(full, payload(remote))
    assert str(e.value) == str(want.value) and "counters[0].fields" in str(e.value)
    # Live runs the child's merge the same way, and skips a hash it was told.
    running = live.Live(view, merge_with=checked.merge)
    assert running.offer(payload(full.model_dump(mode="json"))) is None


def test_the_display_loads_no_pydantic(tmp_path):
    code = ("import sys\n"
            "from kiosk.config import checked\n"
            "from display import app, announcer\n"
            "from display.bus import DisplayLink\n"
            f"cfg = checked.load({str(DEMO_SITE)!r})\n"
            "a = app.build_app(cfg, width=1280, height=720)\n"
            "DisplayLink(cfg, user='display-1', password='x', handler=a.feed)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))\n")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KIVY_HOME=str(tmp_path / "kivy"), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_the_command_line_loads_no_pydantic_before_its_command_runs():
    # `phucvu display` is how the unit starts the display: the command line's
    # own imports would load pydantic for the display otherwise.
    code = "import sys, kiosk.cli\nprint('pydantic' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr[-2000:]
