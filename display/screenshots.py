"""Regenerate docs/images/display-*.png: ``python -m display.screenshots``.

Each size renders in its own process (Kivy's window size is fixed once the
window exists), offscreen when there is no screen, from a snapshot made
from the demo site config, so the pictures show the demo centre's real names.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "deploy" / "demo-site.toml"
# (name, width, height): the demo centre at every supported size, the
# "Mất kết nối" mark with a notice long enough to scroll, a busy centre (12
# counters, the longest field names), the public board in rotation, and a
# large centre (60 counters, 15 fields) on its first page, a TV hung in
# portrait, and a 4:3 monitor (the demo and the busy centre both).
SHOTS = (("display", 1280, 720), ("display", 1366, 768), ("display", 1920, 1080), ("display", 3840, 2160),
         ("display-stale", 1280, 720), ("display-busy", 1280, 720), ("display-busy", 1920, 1080),
         ("display-board", 1920, 1080), ("display-60-counters", 1280, 720),
         ("display-60-counters", 1920, 1080), ("display-60-counters", 3840, 2160),
         ("display", 1080, 1920), ("display-busy", 1080, 1920),
         ("display", 1024, 768), ("display-busy", 1024, 768))
LONG_NOTICE = ("Trung tâm nghỉ trưa từ 11:30 đến 13:30, buổi chiều làm việc từ 13:30 đến 17:00. "
               "Công dân vui lòng giữ phiếu và chú ý nghe gọi số. Xin cảm ơn!")


def demo_messages(cfg: Any, now: float | None = None) -> dict[str, Any]:
    """A plausible mid-morning: snapshot, the newest call event, a notice."""
    now = now or time.time()
    day = cfg.local_time(now).date().isoformat()
    fields = {f.code: f for f in cfg.fields}
    currents = {1: ("A012", "tu-phap"), 2: ("B023", "chung-thuc"), 3: ("C004", "dat-dai"), 4: (None, None)}
    counters = []
    for c in cfg.counters:
        label, code = currents.get(c.number, (None, None))
        counters.append({"number": c.number, "name": c.name,
                         "status": "paused" if label is None else "open", "current": label,
                         "field": code, "field_name_vi": fields[code].name_vi if code else None,
                         "official": None})
    history = [("B023", 2, "chung-thuc"), ("A012", 1, "tu-phap"), ("C004", 3, "dat-dai"),
               ("B022", 2, "chung-thuc"), ("A011", 1, "tu-phap"), ("E002", 4, "kinh-te"),
               ("B021", 1, "chung-thuc"), ("D007", 4, "van-hoa-xa-hoi")]
    calls = []
    for i, (label, n, code) in enumerate(history):
        seq = 40 - i
        calls.append({"call_id": f"{day}-{seq}", "call_seq": seq, "ticket_id": f"{day.replace('-', '')}-{label}",
                      "label": label, "counter": n, "counter_name": cfg.counter(n).name, "field": code,
                      "field_name_vi": fields[code].name_vi, "recall": i == 3, "at": now - 60 * i})
    # The next number after the one each field's counter serves.
    after = {"tu-phap": 13, "chung-thuc": 24, "dat-dai": 5, "van-hoa-xa-hoi": 8, "kinh-te": 3}
    # The ways a wait is said (kiosk/waitwords.py): a wide range alone, a
    # narrow one as "≈ 4 phút", nobody waiting (counter 4, paused, serves
    # Văn hóa: its None is not said), under a minute.  busy_messages has
    # the long ones and "chờ quầy mở lại".
    waits = {"tu-phap": (20.0, 14.2, 33.9), "chung-thuc": (4.0, 2.5, 6.1), "dat-dai": (9.0, 6.0, 12.5),
             "van-hoa-xa-hoi": (None, None, None), "kinh-te": (0.5, 0.0, 1.5)}
    waiting = [{"field": f.code, "name_vi": f.name_vi, "name_en": f.name_en, "prefix": f.prefix,
                "waiting": w, **dict(zip(WAIT_KEYS, waits.get(f.code, (5.0, 3.0, 8.0)))),
                "next": [f"{f.prefix}{after.get(f.code, 1) + k:03d}" for k in range(min(3, w))]}
               for f, w in zip(cfg.fields, (5, 3, 2, 0, 1))]
    snapshot = {"site": cfg.site.id, "commune": cfg.site.commune, "centre": cfg.site.centre, "day": day,
                "day_closed": False, "call_seq": 40, "updated_at": now, "counters": counters,
                "last_calls": calls[1:], "waiting": waiting,
                "board": {"served": 37, "rated": 29, "satisfied_pct": 93, "called": 41, "on_time_pct": 88,
                          "wait_target_min": cfg.display.wait_target_min}}
    return {"snapshot": snapshot, "call": calls[0],
            "notice": {"text": "Trung tâm nghỉ trưa từ 11:30 đến 13:30. Công dân vui lòng giữ phiếu "
                               "và chú ý nghe gọi số. Xin cảm ơn!"}}


def morning_messages(cfg: Any, now: float | None = None) -> dict[str, Any]:
    """The demo centre as it opens: one or two people waiting or none, each
    wait a short one.  Few rows, so each is tall, and every wait fits beside
    the next numbers: two lines a field, its count drawn at its largest,
    beside the field's whole name."""
    msgs = demo_messages(cfg, now)
    for row, w in zip(msgs["snapshot"]["waiting"], (1, 0, 2, 0, 1)):
        row["waiting"] = w
        row.update(zip(WAIT_KEYS, (0.5, 0.0, 1.5) if w else (None, None, None)))
        row["next"] = [f"{row['prefix']}{k + 1:03d}" for k in range(w)]
    return msgs


# Real lĩnh vực names of a large centre, none longer on the wall than
# "Tài nguyên – Môi trường": the fields a 15-field centre adds to the demo's.
MORE_FIELDS = (("giao-duc", "Giáo dục – Đào tạo"), ("y-te", "Y tế"), ("noi-vu", "Nội vụ"),
               ("cong-thuong", "Công thương"), ("giao-thong", "Giao thông – Vận tải"),
               ("tai-chinh", "Tài chính – Kế hoạch"), ("nong-nghiep", "Nông nghiệp"),
               ("lao-dong", "Lao động – Việc làm"), ("khieu-nai", "Khiếu nại – Tố cáo"))


WAIT_KEYS = ("estimated_wait_min", "wait_low_min", "wait_high_min")
# A busy centre's waits, the longest words first: ranges in hours
# ("1 giờ 50 phút – 3 giờ 5 phút", "45 phút – 1 giờ 40 phút"), a field
# whose counters are all paused, then narrow ones.
BUSY_WAITS = ((145.0, 112.0, 184.0), (125.0, 98.0, 151.0), (None, None, None), (85.0, 80.0, 89.0),
              (65.0, 45.0, 100.0), (45.0, 40.0, 48.0))


def busy_config(cfg: Any, counters: int = 12, fields: int = 6) -> Any:
    """The demo site grown to ``counters`` counters and ``fields`` fields (12
    and 6 by default) with the longest real field names: what the layout must
    still fit at every size, paged when there are more than fit."""
    from kiosk import config

    data = cfg.model_dump()
    data["fields"].append({**data["fields"][2], "code": "tai-nguyen", "name_vi": "Tài nguyên – Môi trường",
                           "name_en": "Natural resources and environment", "prefix": "F"})
    for (code, name), prefix in zip(MORE_FIELDS[: max(0, fields - len(data["fields"]))], "GHIJKLMNO"):
        data["fields"].append({**data["fields"][1], "code": code, "name_vi": name, "name_en": code,
                               "prefix": prefix})
    data["fields"] = data["fields"][:fields]
    codes = [f["code"] for f in data["fields"]]
    data["counters"] = [{"number": n, "name": f"Quầy {n}", "fields": [codes[(n - 1) % len(codes)]]}
                        for n in range(1, counters + 1)]
    return config.parse(data)


def busy_messages(cfg: Any, now: float | None = None) -> dict[str, Any]:
    """Every counter serving, some paused, long waits, a full public board."""
    msgs = demo_messages(cfg, now)
    snap = msgs["snapshot"]
    fields = list(cfg.fields)
    counters = []
    for c in cfg.counters:
        f = fields[(c.number - 1) % len(fields)]
        paused = c.number in (6, 11)
        counters.append({"number": c.number, "name": c.name, "status": "paused" if paused else "open",
                         "current": None if paused else f"{f.prefix}{100 + c.number:03d}",
                         "field": None if paused else f.code,
                         "field_name_vi": None if paused else f.name_vi, "official": None})
    snap["counters"] = counters
    snap["waiting"] = [{"field": f.code, "name_vi": f.name_vi, "name_en": f.name_en, "prefix": f.prefix,
                        "waiting": max(2, 128 - 17 * i), **dict(zip(WAIT_KEYS, BUSY_WAITS[i % len(BUSY_WAITS)])),
                        "next": [f"{f.prefix}{200 + k:03d}" for k in range(3)]}
                       for i, f in enumerate(fields)]
    snap["board"] = {"served": 1234, "rated": 987, "satisfied_pct": 100, "called": 1300,
                     "on_time_pct": 100, "wait_target_min": 30}
    msgs["notice"] = {"text": LONG_NOTICE}
    return msgs


def render(config_path: str, out: Path, width: int, height: int, stale: bool = False,
           kind: str = "display") -> Path:
    """In this process: draw the demo state at width x height and save ``out``.

    ``kind``: ``display`` (the demo centre), ``display-busy`` (12 counters),
    ``display-60-counters`` (60 counters, 15 fields: paged),
    ``display-board`` (``public_board = "rotate"`` in its board turn).
    """
    from kiosk import config
    from display import app as display_app

    cfg = config.load(config_path)
    if kind == "display-busy":
        cfg = busy_config(cfg)
    elif kind == "display-60-counters":
        cfg = busy_config(cfg, counters=60, fields=15)
    elif kind == "display-board":
        data = cfg.model_dump()
        data["display"]["public_board"] = "rotate"
        cfg = config.parse(data)
    app = display_app.build_app(cfg, width=width, height=height, fullscreen=False)
    from display import wall  # after build_app: it sets the window up first
    msgs = busy_messages(cfg) if kind in ("display-busy", "display-60-counters") else demo_messages(cfg)
    if kind == "display-board":
        # Started one turn ago: the board has the calls' place now.
        app.state.started -= wall.ROTATE_S

    from kivy.clock import Clock

    def feed(_dt):
        app.feed("presence", {"device": "core", "status": "offline" if stale else "online"})
        app.feed("snapshot", msgs["snapshot"])
        app.feed("notice", {"text": LONG_NOTICE} if stale else msgs["notice"])
        if kind in ("display-busy", "display-60-counters"):
            app.feed("notice", msgs["notice"])
        if not stale:
            app.feed("call", msgs["call"])
        # Let layout settle and the ticker start before the picture.
        Clock.schedule_once(shoot, 1.2)

    def shoot(_dt):
        # Catch the highlight in its "on" phase, as a citizen sees it most,
        # and hold it there: a blink tick between this and the save (a busy
        # machine delays the save) would take the picture "off".
        Clock.unschedule(app._tick)
        app._blink = 0
        app.refresh()
        Clock.schedule_once(save, 0.05)

    def save(_dt):
        wall.save_screenshot(out)
        app.stop()

    Clock.schedule_once(feed, 0.3)
    app.run()
    return out


def main(config_path: str = str(DEMO), out_dir: str = str(ROOT / "docs" / "images"),
         only: set[str] | None = None) -> list[Path]:
    """Render every size (or the file names in ``only``), each in a fresh
    process; returns the PNG paths."""
    made = []
    for name, w, h in SHOTS:
        if only and f"{name}-{w}x{h}.png" not in only:
            continue
        out = Path(out_dir) / f"{name}-{w}x{h}.png"
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1")
        env.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="phucvu-kivy-"))
        r = subprocess.run([sys.executable, "-m", "display.screenshots", "--render", config_path,
                            str(out), str(w), str(h), "--kind", name,
                            *(["--stale"] if "stale" in name else [])],
                           env=env, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0 or not out.exists():
            raise SystemExit(f"rendering {out.name} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        made.append(out)
        print(out)
    return made


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--render", nargs=4, metavar=("CONFIG", "OUT", "W", "H"), help=argparse.SUPPRESS)
    p.add_argument("--stale", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kind", default="display", help=argparse.SUPPRESS)
    p.add_argument("--config", default=str(DEMO))
    p.add_argument("--out-dir", default=str(ROOT / "docs" / "images"))
    p.add_argument("--only", action="append", metavar="NAME.png",
                   help="render only these pictures (repeatable; default: all)")
    a = p.parse_args()
    if a.render:
        cfg_path, out, w, h = a.render
        render(cfg_path, Path(out), int(w), int(h), stale=a.stale, kind=a.kind)
    else:
        main(a.config, a.out_dir, set(a.only or ()))
