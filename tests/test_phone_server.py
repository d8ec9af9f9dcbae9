"""The phone page's server without a browser: the limits and the page's
state (pure), then the real server (uvicorn, login ``phone`` on a real
Mosquitto): only its own routes, strict headers, tokens, the per-address
limits and their counts in ``phone/stats``, and ``phucvu phone`` itself.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from kiosk import config
from kiosk.phone import token
from kiosk.phone.app import PhoneApp
from kiosk.phone.limits import Limits
from kiosk.phone.view import ticket_view
from tests.conftest import ROOT, stop_process
from tests.phone_helpers import PhoneServer, http, write_site


@pytest.fixture
def site(tmp_path):
    """The demo site with [phone] (conftest's broker and core run this one)."""
    return config.load(write_site(tmp_path))


@pytest.fixture
def phone(site, broker):
    s = PhoneServer(site, broker)
    yield s
    s.stop()


# ------------------------------------------------------------------ pure
def test_bucket_refills_over_the_minute_and_streams_are_capped():
    lim = Limits(requests_per_min=6, streams_per_client=2)
    assert all(lim.allow("a", 0.0) for _ in range(6))
    assert not lim.allow("a", 0.0)
    assert lim.allow("b", 0.0), "another address has its own budget"
    assert not lim.allow("a", 9.0)          # 0.9 of a request back
    assert lim.allow("a", 10.5)             # one per 10 s
    assert lim.open_stream("a") and lim.open_stream("a") and not lim.open_stream("a")
    lim.close_stream("a")
    assert lim.open_stream("a")
    assert lim.clients() == 2


def test_the_state_names_come_from_the_site_and_numbers_from_the_core(site, caplog):
    tid = "20261202-B004"
    tickets = {"day": "2026-12-02", "day_closed": False, "updated_at": 1.0, "tickets": {
        tid: {"field": "chung-thuc", "origin_field": "tu-phap", "state": "waiting",
              "ahead": 2, "wait_min": 7.6, "wait_low_min": 3.2, "wait_high_min": 14.9},
        "20261202-B002": {"field": "chung-thuc", "state": "waiting", "ahead": 0},
        "20261202-B003": {"field": "chung-thuc", "state": "waiting", "ahead": 1, "wait_min": 4.0,
                          "wait_low_min": "soon", "wait_high_min": 9.0},
        "20261202-B001": {"field": "chung-thuc", "state": "finished", "counter": 3}}}
    s = ticket_view(site, tickets, tid)
    # The core's minutes as they came: the page words them (waitwords.js).
    assert (s["status"], s["label"], s["ahead"]) == ("waiting", "B004", 2)
    assert (s["wait_min"], s["wait_low_min"], s["wait_high_min"]) == (7.6, 3.2, 14.9)
    # No open counter serves it: no wait at all (the page says "chờ quầy mở lại").
    paused = ticket_view(site, tickets, "20261202-B002")
    assert (paused["ahead"], paused["wait_min"], paused["wait_low_min"], paused["wait_high_min"]) == \
        (0, None, None, None)
    # A broken range end drops the range, not the wait.
    odd = ticket_view(site, tickets, "20261202-B003")
    assert (odd["wait_min"], odd["wait_low_min"], odd["wait_high_min"]) == (4.0, None, None)
    # A malformed wait is logged and left out (no key): the page then says no
    # wait at all, rather than "chờ quầy mở lại" for a counter that is open.
    with caplog.at_level(logging.WARNING, logger="phucvu.phone"):
        bad = ticket_view(site, {**tickets, "tickets": {tid: {**tickets["tickets"][tid], "wait_min": "x"}}},
                          tid)
    assert not {"wait_min", "wait_low_min", "wait_high_min"} & set(bad) and bad["ahead"] == 2
    assert f"queue/tickets: ticket {tid}: wait_min = 'x' is not minutes >= 0; not shown" in caplog.text
    assert s["field"]["name_vi"] == "Chứng thực" and s["origin_field"]["name_vi"] == "Tư pháp – Hộ tịch"
    assert not s["can_rate"] and s["counter"] is None
    done = ticket_view(site, tickets, "20261202-B001")
    assert done["counter"] == {"number": 3, "name": "Quầy 3"} and done["can_rate"]
    assert done["origin_field"] is None
    assert [lv["level"] for lv in done["levels"]] == [1, 2, 3]
    assert "khac" in [r["code"] for r in done["reasons"]]
    assert ticket_view(site, None, tid)["status"] == "loading"
    assert ticket_view(site, {**tickets, "tickets": {}}, "20261202-A009")["status"] == "unknown"
    assert ticket_view(site, {**tickets, "tickets": {}}, "20261201-A009")["status"] == "closed"
    closed = {**tickets, "day_closed": True, "tickets": {}}
    assert ticket_view(site, closed, tid)["status"] == "closed"


def test_a_change_made_while_a_stream_was_busy_is_not_missed(site):
    """A stream that was sending when the tickets changed sees the change at
    its next wait, not 15 s later at the ping (the race of one event per change)."""
    import asyncio

    from kiosk.phone.bus import PhoneBus

    async def run() -> tuple[bool, bool]:
        bus = PhoneBus(site, "x", "127.0.0.1", 1)
        bus.loop = asyncio.get_running_loop()
        seen = bus.version
        bus._take(bus.topics.queue_tickets, {"day": "2026-12-02", "tickets": {}})   # while "sending"
        missed_not = await bus.changed(seen, 0.05)
        quiet = await bus.changed(bus.version, 0.05)
        return missed_not, quiet
    assert asyncio.run(run()) == (True, False)


@pytest.mark.parametrize("body, ok", [
    (b'{"level": 1}', {"level": 1}),
    ('{"level": 3, "reasons": ["cho-lau", "khac"], "comment": "  Đợi gần 1 tiếng "}'.encode(),
     {"level": 3, "reasons": ["cho-lau", "khac"], "comment": "Đợi gần 1 tiếng"}),
    (b'{"level": true}', None), (b'{"level": "1"}', None), (b'{"level": 0}', None),
    (b'{"level": 1, "x": 2}', None), (b'[1]', None), (b'not json', None),
    (b'{"level": 3, "reasons": ["a", "a"]}', None),
    (json.dumps({"level": 3, "reasons": ["khac"], "comment": "x" * 201}).encode(), None),
    (json.dumps({"level": 3, "reasons": [f"r{i}" for i in range(13)]}).encode(), None),
    (b'{"level": 2, "attempt": "0123456789abcdef0123"}', {"level": 2, "attempt": "0123456789abcdef0123"}),
    (b'{"level": 2, "attempt": "short"}', None), (b'{"level": 2, "attempt": "ZZZZZZZZZZZZZZZZ"}', None),
])
def test_a_rating_body_is_checked_for_shape(body, ok):
    if ok is None:
        with pytest.raises(ValueError):
            PhoneApp.rating_body(body)
    else:
        assert PhoneApp.rating_body(body) == ok


# ------------------------------------------------------------------ served
def test_only_the_phone_routes_exist_and_every_answer_is_strict(phone):
    tid = "20261202-A001"
    page = phone.path(tid)
    for method, path in [("GET", "/"), ("GET", "/login"), ("GET", "/admin"), ("GET", "/console"),
                         ("GET", "/dashboard"), ("GET", "/settings"), ("GET", "/api/state"),
                         ("GET", "/api/events"), ("POST", "/api/login"), ("GET", "/static/app.css"),
                         ("GET", "/static/console.js"), ("GET", "/t/"), ("POST", page),
                         ("GET", page + "/rating"), ("POST", page + "/state"), ("GET", page + "/x"),
                         ("GET", "/static/phone/../../web/static/app.css")]:
        status, headers, _ = http(phone.port, method, path)
        assert status == 404, (method, path, status)
        assert "set-cookie" not in headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
    status, headers, body = http(phone.port, "GET", page)
    assert status == 200 and "set-cookie" not in headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    html = body.decode()
    assert "<script src=\"/static/phone/phone.js\">" in html and "<script>" not in html
    assert "style=" not in html and "http" not in html.replace("http-equiv", "")
    status, headers, body = http(phone.port, "GET", page + "/state")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert json.loads(body)["label"] == "A001"
    assert "<script src=\"/static/phone/waitwords.js\">" in html
    for name in ("waitwords.js", "phone.js", "phone.css"):
        status, headers, body = http(phone.port, "GET", f"/static/phone/{name}")
        assert status == 200 and b"http://" not in body and b"https://" not in body
    status, _, body = http(phone.port, "GET", "/healthz")
    assert status == 200 and json.loads(body)["bus"] == "connected"


def test_a_forged_token_or_another_tickets_token_is_a_plain_404(phone, bus):
    watcher = bus("tester")
    watcher.subscribe("phone/stats")
    a1, a2 = "20261202-A001", "20261202-A002"
    forged = f"/t/{a1}/{'A' * 16}"
    others = f"/t/{a1}/{token.make(phone.secret, a2)}"
    other_secret = f"/t/{a1}/{token.make(b'x' * 32, a1)}"
    for path in (forged, others, other_secret, f"/t/{a1}/short", f"/t/../{token.make(phone.secret, a1)}"):
        status, headers, body = http(phone.port, "GET", path)
        assert status == 404, path
        if path != f"/t/../{token.make(phone.secret, a1)}":
            assert "Mã không hợp lệ" in body.decode() and headers["cache-control"] == "no-store"
    for leaf in ("/state", "/events"):
        status, _, body = http(phone.port, "GET", forged + leaf)
        assert status == 404 and json.loads(body)["code"] == "bad_token"
    status, _, body = http(phone.port, "POST", forged + "/rating", {"level": 1})
    assert status == 404 and json.loads(body)["code"] == "bad_token"
    phone.stop()      # the last figures at shutdown
    stats = watcher.wait_for(lambda t, b: t == "phone/stats" and b["refused"]["bad_token"] >= 1)
    assert stats["refused"]["bad_token"] == 8 and stats["pages"] == 0


def test_too_many_requests_from_one_address_are_refused_and_counted(tmp_path, broker, bus):
    site = config.load(write_site(tmp_path, requests_per_min=5, streams_per_client=1))
    phone = PhoneServer(site, broker)
    watcher = bus("tester")
    watcher.subscribe("phone/stats")
    try:
        path = phone.path("20261202-A001")
        got = [http(phone.port, "GET", path + "/state", source="127.0.0.2")[0] for _ in range(7)]
        assert got == [200] * 5 + [429] * 2
        status, headers, body = http(phone.port, "GET", path, source="127.0.0.2")
        assert status == 429 and "Quá nhiều yêu cầu" in body.decode() and headers["retry-after"] == "60"
        # Another phone is not held back by the first.
        assert http(phone.port, "GET", path + "/state", source="127.0.0.3")[0] == 200
        # One live stream per address here: the second is refused.
        import http.client as hc
        conn = hc.HTTPConnection("127.0.0.1", phone.port, timeout=5, source_address=("127.0.0.4", 0))
        conn.request("GET", path + "/events")
        first = conn.getresponse()
        assert first.status == 200 and first.getheader("content-type").startswith("text/event-stream")
        assert first.readline().startswith(b"retry:")
        status, _, body = http(phone.port, "GET", path + "/events", source="127.0.0.4")
        assert status == 429 and json.loads(body)["code"] == "rate_limited"
        conn.close()
        # A page closed gives its stream back.
        deadline = time.monotonic() + 5
        while phone.app.state.phone.limits._streams.get("127.0.0.4"):
            assert time.monotonic() < deadline, "the closed stream was never given back"
            time.sleep(0.05)
    finally:
        phone.stop()
    stats = watcher.wait_for(lambda t, b: t == "phone/stats" and b["refused"]["rate_limited"] > 0)
    assert stats["refused"]["rate_limited"] == 3 and stats["refused"]["streams"] == 1
    assert stats["clients"] == 3 and stats["pages"] == 0


def test_a_malformed_rating_is_refused_before_the_bus(phone, bus):
    watcher = bus("tester")
    watcher.subscribe("phone/rating", "phone/stats")
    path = phone.path("20261202-A001")
    for body in ({"level": "1"}, {"level": 1, "reasons": "cho-lau"}, b"{", {"level": 2, "who": "x"}):
        status, _, reply = http(phone.port, "POST", path + "/rating", body)
        assert status == 400 and json.loads(reply)["code"] == "bad_request"
    phone.stop()
    stats = watcher.wait_for(lambda t, b: t == "phone/stats")
    assert stats["refused"]["bad_request"] == 4 and stats["ratings_sent"] == 0
    assert not [t for t, _, _ in watcher.messages if t.endswith("/phone/rating")]


def test_one_ticket_passes_at_most_five_ratings_to_the_core_from_any_address(phone, core, bus):
    from tests.phone_helpers import issue
    staff = bus("tester")
    tid = issue(staff, "tu-phap")           # waiting: the core says not_finished
    path = phone.path(tid) + "/rating"
    got = []
    for i in range(7):
        status, _, body = http(phone.port, "POST", path, {"level": 1}, source=f"127.0.0.{10 + i}")
        got.append((status, json.loads(body)["code"]))
    assert got == [(409, "not_finished")] * 5 + [(429, "rate_limited")] * 2
    status, _, body = http(phone.port, "POST", path, b"{" + b" " * 5000 + b"}", source="127.0.0.20")
    assert status == 400 and json.loads(body)["code"] == "bad_request"


# ------------------------------------------------------------------ the command
def _phucvu(*args, timeout=20):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_phucvu_phone_says_what_is_missing_without_a_traceback(tmp_path, broker):
    from tests.conftest import DEMO_SITE
    pw = str(broker.password_file("phone"))
    r = _phucvu("phone", "--config", str(DEMO_SITE), "--mqtt-password-file", pw)
    assert r.returncode != 0 and "no [phone] section" in r.stderr and "Traceback" not in r.stderr
    site = write_site(tmp_path)
    r = _phucvu("phone", "--config", str(site), "--mqtt-password-file", str(tmp_path / "nope"))
    assert r.returncode != 0 and "cannot read MQTT password file" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "phone.key").write_text("not a secret\n")
    r = _phucvu("phone", "--config", str(site), "--mqtt-password-file", pw)
    assert r.returncode != 0 and "not a phone secret" in r.stderr and "Traceback" not in r.stderr


def test_phucvu_phone_serves_on_its_port(tmp_path, broker):
    site_path = write_site(tmp_path)
    site = config.load(site_path)
    log = open(tmp_path / "phone.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "phone", "--config", str(site_path),
                             "--mqtt-port", str(broker.port), "--mqtt-password-file",
                             str(broker.password_file("phone"))], stdout=log, stderr=subprocess.STDOUT,
                            cwd=ROOT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                status, _, body = http(site.phone.port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "phone.log").read_text()
            time.sleep(0.1)
        secret = token.load_or_create(site.phone.secret_file)
        status, _, _ = http(site.phone.port, "GET", f"/t/20261202-A001/{token.make(secret, '20261202-A001')}")
        assert status == 200
    finally:
        stop_process(proc)
        log.close()
    # uvicorn ends by raising the SIGTERM it caught again, after a clean shutdown.
    assert proc.returncode in (0, -15)
    assert "phone page on http://127.0.0.1" in (tmp_path / "phone.log").read_text()

