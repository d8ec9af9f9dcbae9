"""The kiosk's first run, from an empty directory to a served ticket, with
real parts: the kiosk's widgets offscreen in this process driven by real
touches (UnitTestTouch), the printer simulator on a pty, the offline voice
(espeak-ng, wav files), Mosquitto, and ``phucvu core`` in its own process
on the config the wizard wrote.  Also: Telex, the PIN rules, the settings
behind the admin PIN, and the wizard's text fitting at four sizes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.ui.wizard_model import Draft, site_id, spread
from kiosk.ui.wizard_telex import telex

ROOT = Path(__file__).resolve().parent.parent
W, H = 1280, 800
PIN = "246810"


# ----------------------------------------------------------------- pure parts
@pytest.mark.parametrize("keys, text", [
    ("Xax Thawngs Loocj", "Xã Thắng Lộc"),
    ("Xax Thawngs Looc", "Xã Thắng Lôc"),     # no j, no dot below: Telex is literal
    ("Trung taam Phucj vuj hanhf chinhs coong", "Trung tâm Phục vụ hành chính công"),
    ("Tw phaps – Hooj tichj", "Tư pháp – Hộ tịch"),
    ("Ddaats ddai", "Đất đai"), ("Thanh Hoas", "Thanh Hóa"), ("nguowif", "người"),
    ("Quaanf", "Quần"), ("Giaos ducj", "Giáo dục"), ("Luaatj", "Luật"), ("thuyr", "thủy"),
    ("Phuwowngf", "Phường"), ("khoong", "không"), ("gias", "giá"), ("Vawn hoas", "Văn hóa"),
    ("toans", "toán"), ("hoangf", "hoàng"), ("ngoaif", "ngoài"),
    ("ass", "as"), ("caaa", "caa"), ("maz", "maz"), ("masz", "ma"),
])
def test_telex_types_vietnamese_in_nfc(keys, text):
    import unicodedata
    got = telex(keys)
    assert got == text
    assert unicodedata.is_normalized("NFC", got)


def test_site_id_and_the_first_spread():
    assert site_id("Xã Thắng Lộc") == "thang-loc"
    assert site_id("Phường Đông Hải") == "dong-hai"
    assert site_id("Xã") == "xa"
    assert spread(["a", "b", "c"], 2) == [["a", "c"], ["b"]]
    assert spread(["a", "b"], 3) == [["a"], ["b"], ["a"]]
    d = Draft(commune="Xã A", centre="TT", saturday=True)
    assert [(h["days"], h["open"], h["close"]) for h in d.hours()] == [
        (["mon", "tue", "wed", "thu", "fri", "sat"], "07:00", "11:30"),
        (["mon", "tue", "wed", "thu", "fri"], "13:30", "17:00")]
    d.set_counters(2)
    d.counters[1] = []
    assert d.problems() == ["Chưa có quầy nào phục vụ «Chứng thực»",
                            "Chưa có quầy nào phục vụ «Văn hóa – Xã hội»", "Quầy 2 chưa phục vụ lĩnh vực nào"]


def test_save_follows_a_dangling_symlink_and_never_overwrites(tmp_path):
    from kiosk.ui.wizard_model import AlreadyConfigured, save
    real = tmp_path / "var" / "site.toml"
    link = tmp_path / "site.toml"
    link.symlink_to(real)
    d = Draft(commune="Xã Thắng Lộc", centre="Trung tâm", pin="2468")
    d.set_counters(2)
    paths = save(d, link)
    assert paths["config"] == real and link.is_symlink() and real.is_file()
    assert sorted(x.name for x in real.parent.iterdir()) == ["first-admin.json", "kiosk-admin.pin_hash",
                                                             "site.toml"]
    before = real.read_bytes()
    other = Draft(commune="Xã Khác", centre="TT", pin="1111")
    other.set_counters(1)
    with pytest.raises(AlreadyConfigured):
        save(other, link)
    assert real.read_bytes() == before


# ----------------------------------------------------------------- the window
@pytest.fixture(scope="module")
def window():
    from kivy.config import Config
    Config.set("graphics", "width", str(W))
    Config.set("graphics", "height", str(H))
    from kivy.base import EventLoop
    EventLoop.ensure_window()
    from kivy.core.window import Window
    Window.size = (W, H)
    return Window


def pump(until=lambda: False, timeout: float = 0.0, what: str = ""):
    from kivy.base import EventLoop
    deadline = time.monotonic() + timeout
    while True:
        EventLoop.idle()
        if until():
            return
        if time.monotonic() > deadline:
            if what:
                raise AssertionError(f"timed out waiting for {what}")
            return


def tap(widget):
    from kivy.tests.common import UnitTestTouch
    assert widget.get_root_window() is not None, f"{widget} is not on screen"
    assert not widget.disabled and widget.opacity > 0, f"{getattr(widget, 'text', widget)!r} cannot be touched"
    x, y = widget.to_window(*widget.center)
    t = UnitTestTouch(x, y)
    t.touch_down()
    t.touch_up()
    pump(timeout=0.05)


def type_keys(wz, keys: str):
    kb = wz.s[wz.current].ids.kb
    for k in keys:
        tap(kb.keys[{" ": " "}.get(k, k.lower())])


def button(container, starts: str):
    found = [b for b in container.children if b.text.startswith(starts)]
    assert found, f"no button {starts!r} in {[b.text for b in container.children]}"
    return found[0]


def pin_pad(wz, digits: str):
    for d in digits:
        tap(wz.pin_keys[d])
    tap(wz.pin_keys["ok"])


# ----------------------------------------------------------------- end to end
def test_from_an_empty_directory_to_a_served_ticket(window, tmp_path, capsys):
    from kiosk import config as site_config
    from kiosk.broker import Broker, free_port
    from kiosk.printing import decode
    from kiosk.printing.sim import PrinterSimulator
    from kiosk.ui.app import KioskShell
    from tests.conftest import TESTERS, Bus, stop_process

    started = time.monotonic()
    marks: list[tuple[str, float]] = []

    def mark(what):
        marks.append((what, round(time.monotonic() - started, 2)))

    etc, data = tmp_path / "etc", tmp_path / "var" / "config"
    etc.mkdir()
    data.mkdir(parents=True)
    link = etc / "site.toml"
    link.symlink_to(data / "site.toml")         # dangling, as install.sh leaves it
    assert not link.exists() and not any(data.iterdir())
    sim = PrinterSimulator(tmp_path / "printed").start()
    port = free_port()
    local = {"mqtt": {"host": "127.0.0.1", "port": port,
                      "password_file": str(tmp_path / "broker" / "secrets" / "core.password")},
             "store": {"path": str(tmp_path / "phucvu.db")}}
    shell = KioskShell(link, mqtt_user="kiosk-1", password_file=tmp_path / "broker" / "secrets" / "kiosk-1.password",
                       printer=f"serial:{sim.path}", voice_dir=tmp_path / "voice", local=local)
    window.add_widget(shell.widget)
    wz = shell.wizard
    broker = core = None
    try:
        pump(timeout=0.3)
        # The wizard speaks English too, and back.
        tap(wz.root.ids.lang)
        assert (wz.root.title, wz.root.next_text, wz.s["name"].ids.kb.keys[" "].text) == \
            ("First-run setup", "Next", "Space")
        tap(wz.root.ids.lang)
        assert (wz.root.title, wz.root.lang_text) == ("Cài đặt ban đầu", "English")
        # (a) names: the commune typed; the centre's name follows it.
        assert wz.current == "name"
        tap(wz.root.ids.next)
        assert wz.current == "name" and wz.root.message == "Cần nhập tên xã và tên trung tâm"
        type_keys(wz, "xax thawngs loocj")
        assert wz.draft.commune == "Xã Thắng Lộc"
        assert wz.draft.centre == "Trung tâm Phục vụ hành chính công xã Thắng Lộc"
        mark("names")
        tap(wz.root.ids.next)
        # (b) fields: Xây dựng added, Kinh tế dropped, Chứng thực renamed.
        assert wz.current == "fields"
        grid = wz.s["fields"].ids.grid
        tap(button(grid, "D "))
        tap(button(grid, "G "))
        tap(button(grid, "Sửa tên"))
        tap(button(wz.s["fields"].ids.grid, "B "))
        assert wz.current == "edit"
        for _ in range(len("Chứng thực")):
            tap(wz.s["edit"].ids.kb.keys["back"])
        type_keys(wz, "Chuwngs thuwcj banr sao")
        tap(wz.root.ids.next)
        assert wz.current == "fields"
        tap(button(wz.s["fields"].ids.grid, "Sửa tên"))
        codes = [f["code"] for f in wz.draft.chosen()]
        assert codes == ["tu-phap", "chung-thuc", "dat-dai", "xay-dung", "van-hoa-xa-hoi"]
        mark("fields")
        tap(wz.root.ids.next)
        # (c) counters: three, counter 3 also serves Tư pháp.
        assert wz.current == "counters"
        tap(wz.s["counters"].ids.minus)
        assert len(wz.draft.counters) == 3
        tap(button(wz.s["counters"].ids.counters, "Quầy 3"))
        tap(button(wz.s["counters"].ids.fields, "A "))
        assert wz.draft.counters == [["tu-phap", "xay-dung"], ["chung-thuc", "van-hoa-xa-hoi"],
                                     ["dat-dai", "tu-phap"]]
        mark("counters")
        tap(wz.root.ids.next)
        # (d) hours: open every day around the clock, so that this test's
        # ticket is issued whatever the hour it runs at (as the demo centre).
        assert wz.current == "hours"
        tap(wz.s["hours"].ids.saturday)
        assert wz.draft.saturday
        tap(button(wz.s["hours"].ids.days, "T7"))
        tap(button(wz.s["hours"].ids.days, "CN"))

        def hour_key(row: int, plus: bool, times: int):
            for _ in range(times):      # (each touch rebuilds the rows)
                tap(list(reversed(wz.s["hours"].ids.rows.children))[4 * row + (3 if plus else 1)])
        hour_key(0, False, 15)          # 07:00 -> 00:00, and one more touch stays at 00:00
        hour_key(1, True, 1)            # 11:30 -> 12:00
        hour_key(2, False, 3)           # 13:30 -> 12:00
        hour_key(3, True, 15)           # 17:00 -> 24:00, not beyond
        assert (wz.draft.morning, wz.draft.afternoon) == (("00:00", "12:00"), ("12:00", "24:00"))
        tap(wz.root.ids.next)
        # (e) the PIN twice; a different second entry is refused.
        assert wz.current == "pin"
        pin_pad(wz, PIN)
        pin_pad(wz, "135790")
        assert wz.root.message == "Hai lần nhập không khớp, mời nhập lại" and not wz.draft.pin
        tap(wz.root.ids.next)
        assert wz.current == "pin"
        pin_pad(wz, PIN)
        pin_pad(wz, PIN)
        assert wz.draft.pin == PIN
        mark("hours and PIN")
        tap(wz.root.ids.next)
        # (f) the printer: the one given with --printer, and a test ticket.
        assert wz.current == "printer"
        tap(button(wz.s["printer"].ids.choices, f"serial:{sim.path}"))
        # Out of paper first: the printer's answer is shown, then paper goes in.
        sim.set_state("paper_out")
        tap(wz.s["printer"].ids.test)
        pump(lambda: wz.printed is not None, 15, "the test ticket without paper")
        assert not wz.printed.printed and wz.s["printer"].result.startswith("Không in được: paper_out")
        sim.set_state("ok")
        wz.printed = None
        tap(wz.s["printer"].ids.test)
        pump(lambda: wz.printed is not None, 15, "the test ticket")
        assert wz.printed.printed, wz.s["printer"].result
        assert wz.s["printer"].result.startswith("Đã in: máy in trả lời «ok»")
        # (Without paper nothing was sent: the printer said so before the job.)
        sim.wait_jobs(1, 5)
        assert [j.printed for j in sim.jobs] == [True]
        job = sim.jobs[0]
        ops = decode.parse(job.data)
        assert [q.data for q in ops if isinstance(q, decode.QrCode)][0].endswith("-A013")
        img = decode.decode(job.data)
        assert img.width == 576 + 2 * decode.FRAME and img.height > 400
        assert sum(1 for p in img.convert("L").tobytes() if p < 128) > 5000    # ink on the paper
        mark("test ticket printed")
        tap(wz.root.ids.next)
        # (g) the test call in the kiosk's voice (written as a wav here).
        assert wz.current == "voice"
        tap(wz.s["voice"].ids.test)
        pump(lambda: wz.spoken is not None or "Không" in wz.s["voice"].result, 30, "the test call")
        assert wz.spoken is not None, wz.s["voice"].result
        assert wz.spoken.exists() and wz.spoken.stat().st_size > 20000 and wz.spoken.suffix == ".wav"
        mark("test call spoken")
        tap(wz.root.ids.next)
        # (h) the summary, then the files.
        assert wz.current == "summary"
        lines = [b.text for b in reversed(wz.s["summary"].ids.lines.children)]
        assert lines[0] == "Xã Thắng Lộc · Trung tâm Phục vụ hành chính công xã Thắng Lộc"
        tap(wz.root.ids.next)
        assert wz.current == "starting", wz.root.message
        mark("config written")
        real = data / "site.toml"
        assert link.exists() and real.is_file()
        checked = subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "check", str(link)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        cfg = site_config.load(link)
        assert cfg.site.id == "thang-loc" and cfg.site.commune == "Xã Thắng Lộc"
        assert [f.name_vi for f in cfg.fields][1] == "Chứng thực bản sao"
        assert [c.fields for c in cfg.counters][2] == ["dat-dai", "tu-phap"]
        assert cfg.printer.connection == f"serial:{sim.path}"
        week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        assert [(s.days, s.open, s.close) for s in cfg.hours] == [(week, "00:00", "12:00"),
                                                                   (week, "12:00", "24:00")]
        for name in ("first-admin.json", "kiosk-admin.pin_hash"):
            assert (data / name).stat().st_mode & 0o777 == 0o600, name
        first = json.loads((data / "first-admin.json").read_text())
        assert (first["official"], first["name"]) == ("admin", "Quản trị viên")
        assert not list(data.glob(".*tmp*"))
        # Starting: nothing to connect to yet; the kiosk waits, no restart.
        pump(timeout=1.0)
        assert wz.current == "starting" and shell.root_widget is None
        assert wz.s["starting"].detail.startswith("Đang chờ máy chủ tin nhắn")
        # What systemd does once the file appears: the broker (it writes the
        # logins' passwords), then the core on the written config.
        broker = Broker(tmp_path / "broker", cfg, port=cfg.mqtt.port, superusers=TESTERS).start()
        core_log = open(tmp_path / "core.log", "wb")
        core = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "core", "--config", str(link)],
                                stdout=core_log, stderr=subprocess.STDOUT, cwd=ROOT)
        pump(lambda: shell.widget.children and shell.widget.children[0] is shell.root_widget, 30,
             "the kiosk serving after the core started")
        mark("kiosk serving")
        root = shell.root_widget
        assert root.current == "home" and root.link_up
        assert sorted(root.choices.tiles) == sorted(f.code for f in cfg.fields)
        # The first admin from the wizard logs in to the core with the PIN.
        tester = Bus(broker, TESTERS[0], cfg.topic_prefix)
        tester.subscribe("core/reply", "counter/1/reply")
        tester.publish("core/command", {"command_id": "t-login", "action": "login", "counter": 1,
                                        "official": "admin", "pin": PIN})
        login = tester.wait_for(lambda t, b: t == "core/reply" and b.get("command_id") == "t-login", 10)
        assert login["ok"] is True, login
        # A citizen's touch on Tư pháp: a ticket printed by the core.
        tile = root.choices.tiles["tu-phap"]
        tap(tile)
        pump(lambda: root.current == "printing" and root.screens["printing"].phase == "done", 20,
             "the printed ticket")
        assert root.last_outcome.ticket["label"] == "A001"
        job = sim.wait_jobs(2, 10)[1]
        assert [q.data for q in decode.parse(job.data) if isinstance(q, decode.QrCode)] == \
            [root.last_outcome.ticket["ticket_id"]]
        mark("ticket A001 printed by the core")
        # Counter 1's own login (its box's, through the ACL) calls it and serves it.
        box = Bus(broker, "counter-1", cfg.topic_prefix)
        box.subscribe("counter/1/reply")
        box.publish("counter/1/command", {"command_id": "box-1:t:1", "action": "next"})
        nxt = box.wait_for(lambda t, b: t == "counter/1/reply" and b.get("command_id") == "box-1:t:1", 10)
        assert nxt["ok"] and nxt["ticket"]["label"] == "A001", nxt
        box.publish("counter/1/command", {"command_id": "box-1:t:2", "action": "finish"})
        fin = box.wait_for(lambda t, b: t == "counter/1/reply" and b.get("command_id") == "box-1:t:2", 10)
        assert fin["ok"], fin
        box.close()
        mark("ticket A001 served at counter 1")
        tester.close()
        total = time.monotonic() - started
        record = {"total_s": round(total, 2), "marks": marks}
        (tmp_path / "timing.json").write_text(json.dumps(record, ensure_ascii=False))
        with capsys.disabled():
            print("\nWIZARD-TIMING " + json.dumps(record, ensure_ascii=False))
        assert total < 120
    finally:
        shell.stop()
        window.remove_widget(shell.widget)
        if core is not None:
            stop_process(core)
        if broker is not None:
            broker.stop()
        sim.close()


# ----------------------------------------------------------------- text fitting
FIT_SIZES = ((800, 480), (1280, 800), (1920, 1080), (1080, 1920), (480, 800))


@pytest.mark.parametrize("size", FIT_SIZES, ids=[f"{w}x{h}" for w, h in FIT_SIZES])
def test_every_wizard_step_and_settings_screen_fits(size, tmp_path):
    """Each size in its own process, as tests/test_kiosk_fit.py does (SDL's
    offscreen surface keeps its first size)."""
    from kiosk.ui.screenshots import SETTINGS_SCREENS, WIZARD_EXTRA, WIZARD_STEPS
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIVY_HOME": str(tmp_path / "kivy")}
    done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--wizard", "--check",
                           "--size", f"{size[0]}x{size[1]}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("FIT ")]
    assert line, done.stdout[-2000:] + done.stderr[-2000:]
    found = json.loads(line[-1][4:])
    assert sorted(found) == sorted([f"wizard-{s}" for s in WIZARD_STEPS] + list(WIZARD_EXTRA)
                                   + list(SETTINGS_SCREENS))
    bad = [f"{screen}: {p}" for screen, ps in found.items() for p in ps]
    assert not bad, f"{size[0]}x{size[1]}:\n" + "\n".join(bad)


# ----------------------------------------------------------------- settings behind the PIN
class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def corner_gesture(root, window):
    from kivy.tests.common import UnitTestTouch
    for _ in range(5):
        t = UnitTestTouch(10, window.height - 10)
        t.touch_down()
        t.touch_up()
    pump(timeout=0.05)


def test_settings_behind_the_admin_pin(window, tmp_path):
    from kiosk import config as site_config
    from kiosk.ui import flow
    from kiosk.ui.root import KioskRoot
    from kiosk.ui.settings import attach_settings
    from tests.conftest import DEMO_SITE

    cfg = site_config.load(DEMO_SITE)
    site = tmp_path / "etc" / "site.toml"
    (tmp_path / "etc").mkdir()
    clock = _Clock()
    closed: list[bool] = []
    root = KioskRoot(cfg, send=lambda r: None, clock=clock, pin_hash=flow.hash_pin("2468", iterations=1000))
    settings = attach_settings(root, site, on_exit=lambda: closed.append(True))
    window.add_widget(root)
    try:
        pump(timeout=0.3)
        keys = root.admin.keys

        def enter(pad_keys, pin):
            for d in pin:
                tap(pad_keys[d])
            tap(pad_keys["ok"])

        # A wrong PIN is refused; the right one opens the settings, not an exit.
        corner_gesture(root, window)
        assert root.current == "admin"
        enter(keys, "1111")
        assert root.current == "admin" and root.screens["admin"].message == "Sai mã PIN"
        enter(keys, "2468")
        assert root.current == "settings" and not closed
        # Rotation and the default language: applied at once, kept beside the site file.
        b = settings.buttons
        tap(b["rotation"])
        assert window.rotation == 90
        assert json.loads((tmp_path / "etc" / "kiosk-local.json").read_text())["rotation"] == 90
        # (A real touch on a turned window arrives turned; UnitTestTouch does not
        # go through that, so the way back is pressed directly.)
        for _ in range(3):
            settings.press("rotation")
        pump(timeout=0.3)
        assert window.rotation == 0
        tap(b["lang"])
        assert json.loads((tmp_path / "etc" / "kiosk-local.json").read_text()) == {"rotation": 0, "language": "en"}
        tap(b["back"])
        assert root.current == "home" and root.lang == "en"
        # Lock: no tile, no corner gesture, no idle return; only the PIN reopens.
        corner_gesture(root, window)
        enter(keys, "2468")
        tap(settings.buttons["lock"])
        assert root.current == "locked" and root.screens["locked"].title == "Not issuing tickets now"
        corner_gesture(root, window)
        clock.now += 600
        pump(timeout=0.5)
        assert root.current == "locked"
        enter(settings.lock_pad.keys, "9999")
        assert root.current == "locked" and settings.locked.message == "Wrong PIN"
        enter(settings.lock_pad.keys, "2468")
        assert root.current == "home"
        # A new PIN, typed twice (a different second entry refused), stored 0600.
        root.toggle_lang()
        assert root.lang == "vi"
        corner_gesture(root, window)
        enter(keys, "2468")
        tap(settings.buttons["pin"])
        assert root.current == "newpin"
        enter(settings.new_pad.keys, "1357")
        enter(settings.new_pad.keys, "7531")
        assert settings.newpin.message == "Hai lần nhập không khớp" and root.current == "newpin"
        enter(settings.new_pad.keys, "1357")
        enter(settings.new_pad.keys, "1357")
        assert root.current == "settings" and settings.screen.message == "Đã đổi mã PIN"
        stored = tmp_path / "etc" / "kiosk-admin.pin_hash"
        assert stored.stat().st_mode & 0o777 == 0o600
        assert flow.check_pin("1357", stored.read_text().strip())
        tap(settings.buttons["back"])
        corner_gesture(root, window)
        enter(keys, "2468")
        assert root.current == "admin"
        enter(keys, "1357")
        assert root.current == "settings"
        tap(settings.buttons["close"])
        assert closed == [True]
    finally:
        window.rotation = 0
        window.remove_widget(root)
        root.guide.close()
