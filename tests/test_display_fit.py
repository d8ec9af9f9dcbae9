"""The wall display fits every screen a centre buys, from the back of the room.

Each size renders the real Kivy display offscreen in its own process (one
window per process) with a busy centre: 12 counters, 6 fields with the
longest real names, 3-digit waits, a full public board, a long notice.  The
child measures every shown label's text with Kivy's own text renderer, at
the label's font, unshortened: a text wider or taller than its widget is
cut on screen (Kivy's ``shorten`` puts "…" in it), and a font under 1/30 of
the screen's short side cannot be read at 8 m on a 43-inch TV (its height on
a landscape TV; its width on a TV hung in portrait, which is the same
physical size of letter; on a screen squarer than 16:9, the short side of the
widest 16:9 picture in it).  Only the clock's date line may be smaller.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# 16:9 TVs, and the 4:3 and 5:4 monitors a centre may reuse.
SIZES = ((1280, 720), (1366, 768), (1920, 1080), (3840, 2160), (1024, 768), (1280, 1024))
# TVs hung in portrait (a corridor, a narrow wall).
PORTRAIT = ((720, 1280), (1080, 1920), (2160, 3840))

DRIVER = textwrap.dedent(r'''
    import json, sys
    from kiosk import config
    from display import app as display_app
    from display import screenshots

    cfg_path, width, height, board, counters, fields, names = sys.argv[1:8]
    data = config.load(cfg_path).model_dump()
    data["display"]["public_board"] = board.split("-")[0]
    # counters 0: the demo site as it is, early in the day (morning_messages).
    morning = counters == "0"
    cfg = config.parse(data) if morning else \
        screenshots.busy_config(config.parse(data), int(counters), int(fields))
    if names != "-":
        data = cfg.model_dump()
        for c in data["counters"]:
            c["name"] = names.format(n=c["number"])
        cfg = config.parse(data)
    app = display_app.build_app(cfg, width=int(width), height=int(height))
    from display import wall  # after build_app: it sets the window up first
    if board == "rotate-board":
        # Started one turn ago: the board has taken the calls' place.
        app.state.started -= wall.ROTATE_S
    msgs = screenshots.morning_messages(cfg) if morning else screenshots.busy_messages(cfg)
    from kivy.clock import Clock
    from kivy.core.text import Label as CoreLabel
    from kivy.core.window import Window
    from kivy.uix.label import Label
    from display import pages
    frames = []

    def feed(_dt):
        app.feed("presence", {"device": "core", "status": "online"})
        app.feed("snapshot", msgs["snapshot"])
        app.feed("notice", msgs["notice"])
        app.feed("call", msgs["call"])
        if names != "-":
            # The longest name's counter calls again: its name is followed
            # by " · gọi lại" in the recent calls.
            app.feed("call", {**msgs["call"], "call_id": msgs["call"]["call_id"] + "-again",
                              "call_seq": msgs["call"]["call_seq"] + 1, "counter": 12,
                              "counter_name": cfg.counter(12).name, "label": "F112", "recall": True})
        Clock.schedule_once(measure, 1.0)

    def shown(w):
        while w is not None and w is not w.get_root_window():
            if w.opacity == 0 or w.width <= 0 or w.height <= 0:
                return False
            w = w.parent
        return True

    last = {"out": None, "tries": 0}

    def measure(_dt):
        out = []
        for w in app.root.walk():
            if not isinstance(w, Label) or not w.text or not shown(w):
                continue
            core = CoreLabel(text=w.text, font_size=w.font_size, font_name=w.font_name, bold=w.bold)
            tw, th = core.get_extents(w.text)
            x, y = w.to_window(w.x, w.y)
            # How its texture is drawn: sampled nearest (display.widgets.SharpLabel),
            # which gives the same pixels as linear only at whole pixels and 1:1.
            rects = [i for i in w.canvas.children if hasattr(i, "pos") and getattr(i, "texture", None) is w.texture]
            drawn = [list(r.pos) + list(r.size) for r in rects]
            sharp = (w.texture is not None and w.texture.min_filter == w.texture.mag_filter == "nearest"
                     and bool(drawn) and all(float(v).is_integer() for d in drawn for v in d[:2])
                     and all(tuple(d[2:]) == tuple(w.texture.size) for d in drawn))
            # root.ids holds weak proxies; __self__ is the widget itself.
            out.append({"id": next((k for k, v in app.root.ids.items() if v.__self__ is w), ""),
                        "text": w.text, "font": w.font_size, "w": w.width, "h": w.height, "y": y,
                        "tw": tw, "th": th, "pad": w.padding_x, "x": x, "right": x + w.width,
                        "scrolls": w is app.root.ids.ticker.__self__, "sharp": sharp})
        # Measured once the layout has settled: the same boxes twice in a
        # row (the scrolling notice aside).  A loaded machine drawing 4K with
        # a software renderer takes a few frames to lay out new rows.
        still = [lb for lb in out if not lb["scrolls"]]
        if still != last["out"] and last["tries"] < 20:
            last["out"], last["tries"] = still, last["tries"] + 1
            Clock.schedule_once(measure, 0.3)
            return
        last["out"], last["tries"] = None, 0
        frames.append(out)
        # Paged columns: step the page clock and measure every page.
        count = max(int((m or "1/1").split("/")[1]) for m in (app.root.counters_page, app.root.waiting_page))
        if len(frames) < count:
            app.page_started -= pages.PAGE_S
            app.refresh()
            Clock.schedule_once(measure, 0.4)
            return
        print(json.dumps({"labels": frames[0], "pages": frames, "window": list(Window.size)},
                         ensure_ascii=False), flush=True)
        app.stop()

    Clock.schedule_once(feed, 0.3)
    app.run()
''')


def render(tmp_path: Path, size, board="panel", counters=12, fields=6, names="-") -> dict:
    script = tmp_path / "fit_driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KIVY_HOME=str(tmp_path / "kivy-home"), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(script), str(ROOT / "deploy" / "demo-site.toml"),
                        str(size[0]), str(size[1]), board, str(counters), str(fields), names],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert r.returncode == 0 and lines, f"display exited {r.returncode}: {r.stderr[-3000:]}"
    return json.loads(lines[-1])


NB = "\u00a0"
# display/screenshots.BUSY_WAITS as the wall says them.
LONGEST_WAITS = (f"1{NB}giờ{NB}50{NB}phút – 3{NB}giờ{NB}5{NB}phút", f"1{NB}giờ{NB}40{NB}phút – 2{NB}giờ{NB}30{NB}phút",
                 "chờ quầy mở lại", f"45{NB}phút – 1{NB}giờ{NB}40{NB}phút")


def problems(frame: dict) -> list[str]:
    # 1/30 of the short side of the widest 16:9 (9:16) picture the screen
    # holds: a 4:3 monitor's letters as on a 16:9 TV of its width.
    w, h = frame["window"]
    floor = min(min(w, h), max(w, h) * 9 / 16) / 30
    bad = []
    for lb in frame["labels"]:
        what = f"{lb['text'][:40]!r} (font {lb['font']:.1f}px, box {lb['w']:.0f}x{lb['h']:.0f}, text {lb['tw']}x{lb['th']})"
        if lb["id"] != "date" and lb["font"] < floor - 0.01:
            bad.append(f"under the {floor:.1f}px floor: {what}")
        if not lb["scrolls"] and lb["tw"] > lb["w"] - 2 * lb["pad"] + 1:
            bad.append(f"wider than its box: {what}")
        if lb["th"] > lb["h"] + 1:
            bad.append(f"taller than its box: {what}")
        if not lb["scrolls"] and (lb["x"] < -1 or lb["right"] > frame["window"][0] + 1):
            bad.append(f"outside the window: {what}")
        if not lb["sharp"]:
            bad.append(f"not drawn 1:1 at whole pixels with a nearest-sampled texture: {what}")
    # No label sits on another (a box that kept a stale height pushes its
    # neighbours over the header), and none leaves the window.
    boxes = [lb for lb in frame["labels"] if not lb["scrolls"]]
    for lb in boxes:
        if lb["y"] < -1 or lb["y"] + lb["h"] > frame["window"][1] + 1:
            bad.append(f"outside the window: {lb['text'][:40]!r}")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["right"], b["right"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:
                bad.append(f"{a['text'][:30]!r} overlaps {b['text'][:30]!r}")
    return bad


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_busy_display_fits_and_reads_from_the_back(tmp_path, size):
    frame = render(tmp_path, size)
    texts = [lb["text"] for labels in frame["pages"] for lb in labels]
    # The busy centre is really on screen: every counter, the longest field
    # names whole, next numbers, waits and the public board.  Its waits are
    # the longest the wall says (kiosk/waitwords.py short forms): ranges in
    # hours on a line of their own under the next numbers, so the fields
    # page in two on a landscape wall.
    for want in ("Quầy 12", "Tài nguyên – Môi trường", "Văn hóa – Xã hội", "F200", "F202", "1234",
                 *LONGEST_WAITS):
        assert any(want in t for t in texts), f"{want!r} not on screen: {texts}"
    for i, labels in enumerate(frame["pages"]):
        bad = problems({"labels": labels, "window": frame["window"]})
        assert not bad, f"page {i + 1}:\n" + "\n".join(bad)
    # Three lines a field: the wait under its next numbers, right-aligned.
    at = {lb["text"]: lb for lb in frame["labels"]}
    nxt, wait = at["Tiếp: A200 A201 A202"], at[LONGEST_WAITS[0]]
    assert wait["y"] + wait["h"] <= nxt["y"] + 1 and wait["right"] > nxt["right"]


def test_public_board_in_rotation_and_off(tmp_path):
    panel = [lb["text"] for lb in render(tmp_path, (1280, 720), "panel")["labels"]]
    assert "CÔNG KHAI HÔM NAY" in panel and "LƯỢT GỌI GẦN ĐÂY" in panel
    # In rotation the calls show first, then the board takes their place.
    rotate = [lb["text"] for lb in render(tmp_path, (1280, 720), "rotate")["labels"]]
    assert "LƯỢT GỌI GẦN ĐÂY" in rotate and "CÔNG KHAI HÔM NAY" not in rotate
    for size in ((1280, 720), (1920, 1080), (1080, 1920)):
        frame = render(tmp_path, size, "rotate-board")
        turned = [lb["text"] for lb in frame["labels"]]
        assert "CÔNG KHAI HÔM NAY" in turned and "LƯỢT GỌI GẦN ĐÂY" not in turned
        assert "1234" in turned
        bad = problems(frame)
        assert not bad, "\n".join(bad)
    # Off: the board's figures are no label anywhere.
    off = [lb["text"] for lb in render(tmp_path, (1280, 720), "off")["labels"]]
    assert "LƯỢT GỌI GẦN ĐÂY" in off
    assert not any("1234" in t or "CÔNG KHAI" in t for t in off)


@pytest.mark.parametrize("names, shown", (("Quầy số {n}", "Quầy 12"),
                                           ("Quầy {n} – Một cửa liên thông", "Quầy 12"),
                                           ("Q{n}", "Q12")))
@pytest.mark.parametrize("size", ((1280, 720), (1080, 1920)), ids=["1280x720", "1080x1920"])
def test_counter_names_from_the_admin_pages_fit(tmp_path, size, names, shown):
    """A centre names its counters as it likes: a name too long for the
    counters' column at the readable size is shown as "Quầy <number>" (in the
    rows, the call panel and the recent calls), never cut or run into the
    number beside it; one that fits is shown as it is."""
    frame = render(tmp_path, size, names=names)
    bad = problems(frame)
    assert not bad, "\n".join(bad)
    assert any(t.endswith(" · gọi lại") for t in (lb["text"] for lb in frame["labels"]))
    if size == (1080, 1920) and names == "Quầy số {n}":
        # In portrait the counters' column is the screen's whole width:
        # "Quầy số 12" fits there as it is, and in the recent calls beside
        # the board with " · gọi lại" after it (problems() checked).
        shown = "Quầy số 12"
    assert shown in [lb["text"] for lb in frame["labels"]]


# A large centre: more counters and fields than fit at the readable size.
# The columns page (display/pages.py); every page must fit and read from the
# back, and every counter and field must come round on some page.
BIG = ((1280, 720), (1920, 1080), (3840, 2160)) + PORTRAIT


# 60 counters only: 30 page the same way (tests/test_display_pages.py checks
# the arithmetic), and each render costs ~10 s of the suite's 10 minutes.
@pytest.mark.parametrize("counters", (60,))
@pytest.mark.parametrize("size", BIG, ids=[f"{w}x{h}" for w, h in BIG])
def test_large_centre_pages_every_counter_readably(tmp_path, size, counters):
    frame = render(tmp_path, size, counters=counters, fields=15)
    assert len(frame["pages"]) > 1, "60 counters cannot fit one page at the readable size"
    seen: set[str] = set()
    marks: set[str] = set()
    for i, labels in enumerate(frame["pages"]):
        texts = [lb["text"] for lb in labels]
        bad = problems({"labels": labels, "window": frame["window"]})
        assert not bad, f"page {i + 1}:\n" + "\n".join(bad)
        seen |= set(texts)
        marks |= {t for t in texts if "/" in t and t.replace("/", "").isdigit()}
        # The newest call stays in the call panel on every page.
        assert "B023" in texts
    missing = [f"Quầy {n}" for n in range(1, counters + 1) if f"Quầy {n}" not in seen]
    assert not missing, f"never shown: {missing}"
    fields = ("Tư pháp – Hộ tịch", "Tài nguyên – Môi trường", "Giáo dục – Đào tạo", "Khiếu nại – Tố cáo")
    assert all(f in seen for f in fields), [f for f in fields if f not in seen]
    # Each page says where it is: "1/n" up to "n/n" for the counters.
    n = len(frame["pages"])
    assert {f"{k}/{n}" for k in range(1, n + 1)} <= marks, marks


@pytest.mark.parametrize("size", PORTRAIT, ids=[f"{w}x{h}" for w, h in PORTRAIT])
def test_busy_display_in_portrait(tmp_path, size):
    """A TV hung in portrait: the parts stacked, none squeezed into a third of
    a narrow screen.  Every page fits and reads from the back; every counter
    and field comes round; the call panel is under the header, full width."""
    frame = render(tmp_path, size)
    width, height = frame["window"]
    assert (width, height) == size
    seen: set[str] = set()
    for i, labels in enumerate(frame["pages"]):
        bad = problems({"labels": labels, "window": frame["window"]})
        assert not bad, f"page {i + 1}:\n" + "\n".join(bad)
        seen |= {lb["text"] for lb in labels}
        assert "B023" in [lb["text"] for lb in labels]
    missing = [f"Quầy {n}" for n in range(1, 13) if f"Quầy {n}" not in seen]
    assert not missing, f"never shown: {missing}"
    fields = ("Tư pháp – Hộ tịch", "Chứng thực", "Đất đai – Xây dựng", "Văn hóa – Xã hội", "Kinh tế",
              "Tài nguyên – Môi trường")
    assert all(f in seen for f in fields), [f for f in fields if f not in seen]
    # The whole width holds even the longest wait beside three next numbers:
    # two lines a field, the wait on the numbers' line.
    assert all(w in seen for w in LONGEST_WAITS), [w for w in LONGEST_WAITS if w not in seen]
    at = {lb["text"]: lb for lb in frame["labels"]}
    nxt, wait = at["Tiếp: A200 A201 A202"], at[LONGEST_WAITS[0]]
    assert abs(wait["y"] - nxt["y"]) < 2 and wait["x"] > nxt["right"]
    # Stacked, top down (y grows upwards): the call panel, the counters, the
    # waiting fields, then the recent calls beside the board.
    at = {lb["text"]: lb for lb in frame["labels"]}
    panel, counters, waiting = at["MỜI CÔNG DÂN CÓ SỐ"], at["ĐANG PHỤC VỤ"], at["ĐANG CHỜ"]
    calls, board = at["LƯỢT GỌI GẦN ĐÂY"], at["CÔNG KHAI HÔM NAY"]
    assert panel["y"] > counters["y"] > waiting["y"] > calls["y"]
    assert abs(calls["y"] - board["y"]) < height / 30 and board["x"] > calls["right"]
    # The call panel and the counters' column use the whole width.
    assert at["ĐẾN QUẦY 2"]["w"] > width * 0.9
    assert counters["w"] > width * 0.8


def test_small_centre_in_portrait_pages_nothing(tmp_path):
    """Five counters and five fields: the counters' part of a portrait wall
    shrinks to what their rows need, so the fields are not paged while the
    counters sit in tall rows (display/pages.py portrait_share)."""
    frame = render(tmp_path, (1080, 1920), counters=5, fields=5)
    assert len(frame["pages"]) == 1
    bad = problems(frame)
    assert not bad, "\n".join(bad)
    texts = [lb["text"] for lb in frame["labels"]]
    assert all(f"Quầy {n}" in texts for n in range(1, 6))
    assert all(f in texts for f in ("Tư pháp – Hộ tịch", "Chứng thực", "Đất đai – Xây dựng",
                                    "Văn hóa – Xã hội", "Kinh tế"))
    assert not any("/" in t and t.replace("/", "").isdigit() for t in texts)


# A centre's first minutes: few rows, each tall, every wait short.  The
# demo's own window (1024x768), a 5:4 monitor, a Pi's 800x480 screen, and
# a TV and a 4:3 monitor hung in portrait.
QUIET = ((800, 480), (1024, 768), (1280, 1024), (1280, 720), (1920, 1080), (1080, 1920), (768, 1024))


@pytest.mark.parametrize("size", QUIET, ids=[f"{w}x{h}" for w, h in QUIET])
def test_the_demo_centre_early_in_the_day_fits(tmp_path, size):
    """Each field's count ("1 người") drawn large beside its whole name:
    the live demo at 1024x768 once drew "0 người" over "Tư pháp – Hộ tịch"."""
    frame = render(tmp_path, size, counters=0)
    texts = [lb["text"] for lb in frame["labels"]]
    assert "Tư pháp – Hộ tịch" in texts and "Đất đai – Xây dựng" in texts and "0 người" in texts
    bad = problems(frame)
    assert not bad, "\n".join(bad)
