"""The kiosk UI rendered for real (SDL offscreen + Mesa), driven by touches,
talking to a real Mosquitto and the real core process.

Time inside the kiosk runs on a test clock (the one clock seam), so "the core
has been silent for 3 s" is a step of that clock, not a sleep.  Waits below
pump Kivy's loop until something happens, with a generous deadline; no
assertion is about speed.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

W, H = 1920, 1080


class TestClock:
    __test__ = False

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def pump(until, timeout: float = 15.0, what: str = "condition"):
    from kivy.base import EventLoop
    deadline = time.monotonic() + timeout
    while True:
        EventLoop.idle()
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"kiosk never reached: {what}")
        time.sleep(0.005)


def tap(widget):
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch
    EventLoop.idle()        # lay out what the last step changed before aiming
    x, y = widget.to_window(*widget.center)
    t = UnitTestTouch(x, y)
    t.touch_down()
    t.touch_up()
    EventLoop.idle()


class Kiosk:
    def __init__(self, window, site, broker, pin_hash=None):
        from kiosk.ui.root import KioskRoot
        from kiosk.ui.bus import KioskBus
        self.window = window
        self.clock = TestClock()
        self.exited = False
        self.sent: list[dict] = []
        self.root = KioskRoot(site, send=self._send, client_id="kiosk-1", clock=self.clock,
                              pin_hash=pin_hash, on_exit=self._exit)
        self.bus = KioskBus(site, client_id="kiosk-1", username="kiosk-1",
                            password=broker.password("kiosk-1"), on_message=self.root.deliver,
                            on_link=self.root.set_link, host=broker.host, port=broker.port)
        window.add_widget(self.root)
        self.bus.start()
        pump(lambda: self.root.link_up, what="connected to the broker")

    def _send(self, request):
        self.sent.append(request)
        self.bus.request(request)

    def _exit(self):
        self.exited = True

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.root.tick()

    @property
    def screen(self) -> str:
        return self.root.current

    def shown_number(self) -> str:
        if self.screen == "problem":
            return self.root.screens["problem"].number
        p = self.root.screens["printing"]
        return p.number if self.screen == "printing" and p.phase == "done" else ""

    def close(self):
        self.bus.stop()
        self.window.remove_widget(self.root)
        self.root._ticker.cancel()


@pytest.fixture
def make_kiosk(window, site, broker):
    made = []

    def make(**kw) -> Kiosk:
        k = Kiosk(window, site, broker, **kw)
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()


def tickets(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute("SELECT label, field FROM tickets ORDER BY rowid").fetchall()


def wait_result(k: Kiosk) -> None:
    pump(lambda: k.root.flow.pending is None, what="the final reply")
    # A printed ticket waits for the short animation: step the test clock past it.
    k.advance(1.0)
    assert k.shown_number() or k.screen == "closed", k.screen


# ------------------------------------------------------------------ with the real core
def test_touch_issues_a_ticket_and_shows_its_number(make_kiosk, core):
    k = make_kiosk()
    tile = k.root.choices.tiles["tu-phap"]
    # Live state: the retained queue/summary arrives and fills the tile.
    pump(lambda: k.root.summary is not None, what="queue/summary received")
    assert "0" in tile.info
    tap(tile)
    assert k.screen == "printing"
    wait_result(k)
    rows = tickets(core.db)
    assert len(rows) == 1 and rows[0][1] == "tu-phap"
    assert k.shown_number() == rows[0][0]
    # The summary the core re-published shows the new waiting citizen.
    pump(lambda: tile.info.startswith("1\u00a0"), what="tile shows 1 waiting")


def test_double_tap_gives_one_ticket(make_kiosk, core):
    k = make_kiosk()
    tile = k.root.choices.tiles["chung-thuc"]
    tap(tile)
    tap(tile)           # the second tap lands on the printing screen or is debounced
    k.root.request_ticket("chung-thuc")    # and even a direct second call is refused
    wait_result(k)
    assert len(k.sent) == 1
    rows = tickets(core.db)
    assert [r[1] for r in rows] == ["chung-thuc"]
    assert k.shown_number() == rows[0][0]


def test_core_down_shows_busy_then_recovers_with_exactly_one_ticket(make_kiosk, core):
    k = make_kiosk()
    core.stop()
    tap(k.root.choices.tiles["dat-dai"])
    request_id = k.sent[0]["request_id"]
    k.advance(3.0)
    assert k.screen == "busy"
    assert k.root.screens["busy"].title == "Hệ thống đang bận, vui lòng chờ trong giây lát"
    k.advance(3.0)
    k.advance(3.0)
    core.start()
    last = [0.0]

    def answered():
        # Each step of the test clock re-sends the same request_id; steps are
        # spaced in real time so the core has a moment to answer.
        if time.monotonic() - last[0] > 0.3:
            last[0] = time.monotonic()
            k.advance(3.0)
        return bool(k.shown_number())
    pump(answered, what="number shown after the core came back")
    assert {r["request_id"] for r in k.sent} == {request_id}
    assert len(k.sent) >= 4
    rows = tickets(core.db)
    assert len(rows) == 1
    assert k.shown_number() == rows[0][0]


def test_closed_day_shows_the_closed_screen(make_kiosk, core, bus):
    admin = bus("tester")
    admin.subscribe("core/reply")
    admin.publish("core/command", {"command_id": "t-close-1", "action": "close_day", "source": "test"})
    admin.wait_for(lambda t, b: t == "core/reply" and b and b.get("command_id") == "t-close-1")
    k = make_kiosk()
    pump(lambda: k.root.choices.tiles["kinh-te"].tile_state == "day_closed", what="tiles show the day closed")
    tap(k.root.choices.tiles["kinh-te"])
    wait_result(k)
    assert k.screen == "closed"
    assert k.root.screens["closed"].reason == "Trung tâm đã kết thúc ngày làm việc"
    assert tickets(core.db) == []


def test_touch_to_paper_the_decoded_ticket_shows_the_number(make_kiosk, broker, tmp_path):
    """The whole path: touch -> core issues and commits -> the printer (simulated
    on a real pty, spoken to over the serial path) receives ESC/POS -> decoded."""
    from kiosk.printing import decode
    from kiosk.printing.sim import PrinterSimulator
    from tests.conftest import CoreProcess
    sim = PrinterSimulator(tmp_path / "paper").start()
    core = CoreProcess(broker, tmp_path / "phucvu.db",
                       extra=["--printer", f"serial:{sim.path}@115200"]).start()
    try:
        k = make_kiosk()
        tap(k.root.choices.tiles["van-hoa-xa-hoi"])
        wait_result(k)
        assert k.screen == "printing", (k.root.last_outcome, sim.state, core.log.read_text()[-1500:])
        jobs = sim.wait_jobs(1, timeout=15)
        assert len(jobs) == 1 and jobs[0].printed
        lines = [op.text for op in decode.parse(jobs[0].data) if isinstance(op, decode.TextLine)]
        assert k.shown_number() == "D001"
        assert any("D001" in line for line in lines), lines
        assert tickets(core.db) == [("D001", "van-hoa-xa-hoi")]
    finally:
        core.stop()
        sim.close()


def test_paper_out_at_the_real_printer_shows_the_problem_screen(make_kiosk, broker, tmp_path):
    from kiosk.printing.sim import PrinterSimulator
    from tests.conftest import CoreProcess
    sim = PrinterSimulator(tmp_path / "paper", state="paper_out").start()
    core = CoreProcess(broker, tmp_path / "phucvu.db",
                       extra=["--printer", f"serial:{sim.path}@115200"]).start()
    try:
        k = make_kiosk()
        tap(k.root.choices.tiles["tu-phap"])
        wait_result(k)
        assert k.screen == "problem"
        assert k.root.screens["problem"].number == "A001" == tickets(core.db)[0][0]
        assert k.root.screens["problem"].reason == "Máy in hết giấy"
    finally:
        core.stop()
        sim.close()


# ------------------------------------------------------------------ with a test double of the core
def responder(bus, reply_for):
    """Answers ticket requests on the bus as the contract says (the core's edge only)."""
    core = bus("tester")
    core.subscribe("ticket/request/+")
    import json

    def on_message(client, userdata, msg):
        req = json.loads(msg.payload)
        body = {"request_id": req["request_id"], **reply_for(req)}
        # The core replies to the login in the request topic.
        client.publish(core.topics.ticket_reply(msg.topic.rsplit("/", 1)[1]),
                       json.dumps(body, ensure_ascii=False).encode(), qos=1)
    core.client.on_message = on_message
    return core


TICKET = {"ticket_id": "20261127-A013", "label": "A013", "field": "tu-phap",
          "field_name_vi": "Tư pháp – Hộ tịch", "field_name_en": "Justice and civil status",
          "priority": None, "issued_at": 1764230001.0, "ahead": 4, "estimated_wait_min": 20.0,
          "counters": [1, 2]}


def test_paper_out_shows_the_number_and_what_to_do(make_kiosk, bus):
    responder(bus, lambda req: {"ok": True, "ticket": TICKET,
                                "print": {"status": "not_printed", "reason": "paper_out"}})
    k = make_kiosk()
    tap(k.root.choices.tiles["tu-phap"])
    wait_result(k)
    s = k.root.screens["problem"]
    assert k.screen == "problem" and s.number == "A013"
    assert s.todo == "Vui lòng ghi nhớ số này và báo cho cán bộ tại quầy"
    assert s.reason == "Máy in hết giấy"
    # It stays long enough to be remembered, then goes home.
    k.advance(20)
    assert k.screen == "problem"
    k.advance(11)
    assert k.screen == "home"


def test_printed_shows_number_then_returns_home(make_kiosk, bus):
    responder(bus, lambda req: {"ok": True, "ticket": TICKET, "print": {"status": "printed"}})
    k = make_kiosk()
    tap(k.root.choices.tiles["tu-phap"])
    pump(lambda: k.root.flow.pending is None, what="reply received")
    # The animation runs at least min_anim_s even when the reply is instant.
    assert k.screen == "printing" and k.root.screens["printing"].phase == "printing"
    k.advance(1.0)
    p = k.root.screens["printing"]
    assert (p.phase, p.number, p.take_text) == ("done", "A013", "Vui lòng nhận phiếu và chờ gọi số")
    assert "Trước bạn còn 4\u00a0người" in p.details and "1 hoặc\u00a02" in p.details
    k.advance(10)
    assert k.screen == "home"


def test_priority_request_and_idle_return_resets_language(make_kiosk, bus):
    seen = []
    def answer(req):
        seen.append(req)
        return {"ok": True, "ticket": TICKET, "print": {"status": "printed"}}
    responder(bus, answer)
    k = make_kiosk()
    tap(k.root.ids.header.ids.lang)
    assert k.root.lang == "en"
    tap(k.root.choices.priority_tile)
    assert k.screen == "priority"
    tap(k.root.choices.class_buttons["cao-tuoi"])
    assert k.screen == "home" and k.root.screens["home"].title.startswith("Priority: Elderly person")
    tap(k.root.choices.tiles["van-hoa-xa-hoi"])
    pump(lambda: seen, what="request reached the core side")
    assert (seen[0]["field"], seen[0]["priority"], seen[0]["lang"]) == ("van-hoa-xa-hoi", "cao-tuoi", "en")
    wait_result(k)
    k.advance(11)
    assert k.screen == "home" and k.root.lang == "vi" and k.root.priority is None
    # Idle on the priority screen also returns home.
    assert not k.root.choices.priority_tile.disabled
    tap(k.root.choices.priority_tile)
    assert k.screen == "priority"
    k.advance(29)
    assert k.screen == "priority"
    k.advance(2)
    assert k.screen == "home"


def test_language_toggle(make_kiosk, broker):
    k = make_kiosk()
    header = k.root.ids.header
    tile = k.root.choices.tiles["dat-dai"]
    assert (tile.name, header.lang_label) == ("Đất đai – Xây dựng", "English")
    assert header.date.startswith("Thứ ")
    tap(header.ids.lang)
    assert (tile.name, header.lang_label) == ("Land and construction", "Tiếng Việt")
    assert k.root.screens["home"].title == "Please choose a service"
    assert not header.date.startswith("Thứ ")
    tap(header.ids.lang)
    assert tile.name == "Đất đai – Xây dựng"


def test_no_way_out_without_the_pin(make_kiosk, window):
    from kiosk.ui import flow
    from kiosk.ui.app import guard_window
    k = make_kiosk(pin_hash=flow.hash_pin("2468", iterations=1000))
    unguard = guard_window(window)
    try:
        assert window.dispatch("on_keyboard", 27, 41, None, []) is True
        assert window.dispatch("on_request_close") is True
    finally:
        unguard()
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch
    for _ in range(5):
        t = UnitTestTouch(20, H - 20)     # the top-left corner, over the commune name
        t.touch_down()
        t.touch_up()
        k.clock.now += 0.3
    EventLoop.idle()
    assert k.screen == "admin"
    keys = k.root.admin.keys
    for key in "1111":
        tap(keys[key])
    tap(keys["ok"])
    assert not k.exited and k.root.screens["admin"].message == "Sai mã PIN"
    for key in "2468":
        tap(keys[key])
    tap(keys["ok"])
    assert k.exited


def test_admin_pad_locks_after_five_wrong_pins_and_frees_after_the_lock(window, site):
    """No broker needed: the pad only reads the clock seam and calls on_exit."""
    from kiosk.ui import flow
    from kiosk.ui.root import KioskRoot
    clock = TestClock()
    exited = []
    root = KioskRoot(site, send=lambda request: None, clock=clock,
                     pin_hash=flow.hash_pin("2468", iterations=1000), on_exit=lambda: exited.append(True))
    window.add_widget(root)
    try:
        root.open_admin()
        assert root.current == "admin"
        screen, keys = root.screens["admin"], root.admin.keys

        def enter(pin):
            for key in pin:
                tap(keys[key])
            tap(keys["ok"])

        for _ in range(4):
            enter("1111")
            assert screen.message == "Sai mã PIN"
            clock.now += 1
        enter("1111")
        assert screen.message == "Tạm khóa, thử lại sau 60 giây"
        # Locked: keys are refused, the right PIN too.  Steps of the clock stay
        # under the idle return (30 s), which would leave the admin screen.
        clock.now += 20
        tap(keys["2"])
        assert (root.admin.pin, screen.dots) == ("", "")
        assert screen.message == "Tạm khóa, thử lại sau 41 giây"
        clock.now += 20
        enter("2468")
        assert not exited and screen.message == "Tạm khóa, thử lại sau 21 giây"
        assert root.current == "admin"
        clock.now += 20.5       # past the 60 s lock
        enter("2468")
        assert exited == [True]
    finally:
        window.remove_widget(root)
        root._ticker.cancel()


def test_admin_gesture_does_nothing_without_a_pin_hash(make_kiosk):
    from kivy.tests.common import UnitTestTouch
    k = make_kiosk(pin_hash=None)
    for _ in range(6):
        t = UnitTestTouch(20, H - 20)
        t.touch_down()
        t.touch_up()
    assert k.screen == "home"


# ------------------------------------------------------------------ accessibility
@pytest.mark.parametrize("size", [(1920, 1080), (1280, 800), (1080, 1920), (800, 480)])
def test_touch_targets_and_text_sizes(make_kiosk, window, size):
    """Buttons keep TOUCH_MIN_PX where the window has room (scale 1) and shrink
    with the window, never under TOUCH_FLOOR_PX; text never under TEXT_FLOOR_PX
    (tests/test_kiosk_fit.py checks that it also fits)."""
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label
    from kiosk.ui import theme
    k = make_kiosk(pin_hash="pbkdf2_sha256$1$00$00")
    window.size = size
    try:
        k.root.handle("summary", {"day_closed": False, "fields": [
            {"field": f.code, "waiting": 3, "estimated_wait_min": 9.0, "quota_left": 5, "open": True}
            for f in k.root.cfg.fields]})
        problems = []
        for name in ("home", "priority", "problem", "closed", "admin"):
            if name == "admin":
                k.root.open_admin()
            else:
                k.root.show(name)
            pump(lambda: True)
            pump(lambda: True)
            for w in k.root.walk():
                if w.opacity == 0 or w.disabled or w.width == 0:
                    continue
                if isinstance(w, ButtonBehavior):
                    least = theme.touch(theme.TOUCH_MIN_PX, theme.window_scale(*size))
                    assert least >= theme.TOUCH_FLOOR_PX
                    if min(w.size) < least:
                        problems.append(f"{name}: button {getattr(w, 'text', '') or w.__class__.__name__!r} "
                                        f"is {w.width:.0f}×{w.height:.0f}")
                elif isinstance(w, Label) and w.text.strip():
                    if w.font_size < theme.TEXT_FLOOR_PX:
                        problems.append(f"{name}: text {w.text!r} at {w.font_size}px")
                if w.right > size[0] + 1 or w.y < -1:
                    problems.append(f"{name}: {w.__class__.__name__} {getattr(w, 'text', '')!r} off screen")
        assert not problems, "\n".join(problems)
    finally:
        window.size = (W, H)
        k.root.go_home()


# ------------------------------------------------------------------ screenshots
def test_screenshot_command_renders_the_screens_and_the_wizard(tmp_path):
    """The command `phucvu screenshots` runs, at one size (every size is drawn,
    checked and its pictures looked at by tests/test_kiosk_fit.py)."""
    import subprocess
    import sys
    from kiosk.ui import screenshots
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "kiosk.ui.screenshots", "--out", str(tmp_path),
                           "--only", "800x480"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    want = [f"kiosk-{name}-800x480.png" for name in screenshots.SCREENS]
    assert set(want) <= set(made), sorted(set(want) - set(made))
    assert {"kiosk-wizard-name-800x480.png", "kiosk-settings-800x480.png"} <= set(made), made
    assert all(m.endswith("-800x480.png") for m in made), made
