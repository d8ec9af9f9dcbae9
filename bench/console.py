"""Console button -> display snapshot, and console page load, all real parts.

A real Mosquitto, the real core process, ``phucvu web`` in its own process.
An HTTP client logs in like a browser (cookie, CSRF token) and POSTs Gọi
tiếp; the time runs from sending the POST to the moment a display-1
subscriber receives the snapshot showing that ticket at the counter.  Page
load is measured in Debian's chromium: navigation to /console until the page
has drawn the counter's live state from the event stream.
"""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

from _util import ROOT, bench_site, emit, percentile

from kiosk import config, contract
from kiosk.broker import Broker
from kiosk.core.auth import hash_pin

PRESSES = 300
# The bench's own login (a superuser, for benches only): watches the
# snapshots and sends the set-up commands.
BENCH = "bench-1"
DIRECT = 200
PAGE_LOADS = 20
CHROMIUM = "/usr/bin/chromium"


class Watch:
    """The bench's login: arrival time of each label at counter 1 in the snapshot."""

    def __init__(self, broker, prefix):
        self.seen: dict[str, float] = {}
        self.replies: dict[str, dict] = {}
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.prefix = prefix
        # A bench-only superuser: the core's own login would cut the core off.
        self.c = contract.mqtt_client(BENCH, username=BENCH, password=broker.password(BENCH),
                                      prefix=prefix)

        def on_connect(c, u, f, rc, p=None):
            c.subscribe(f"{prefix}/display/snapshot", 1)
            c.subscribe(f"{prefix}/core/reply", 1)
            self.ready.set()

        def on_message(c, u, m):
            t = time.perf_counter()
            body = json.loads(m.payload)
            with self.cond:
                if m.topic.endswith("core/reply"):
                    self.replies[body.get("command_id")] = body
                else:
                    for k in body["counters"]:
                        if k["number"] == 1 and k["current"] and k["current"] not in self.seen:
                            self.seen[k["current"]] = t
                self.cond.notify_all()
        self.c.on_connect, self.c.on_message = on_connect, on_message
        self.c.connect_async(broker.host, broker.port, 10)
        self.c.loop_start()
        if not self.ready.wait(5):
            raise RuntimeError("bench subscriber could not connect")

    def command(self, payload: dict, timeout=10.0) -> dict:
        cid = f"b-{uuid.uuid4().hex[:8]}"
        self.c.publish(f"{self.prefix}/core/command", contract.encode({"command_id": cid, **payload}),
                       qos=1)
        return self.wait(lambda: self.replies.get(cid), timeout)

    def wait(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = pred()
                if got:
                    return got
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("nothing arrived")


class Http:
    """A keep-alive HTTP/1.1 client with one session cookie, as a browser tab."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.update({"Content-Type": "application/json", "X-CSRF-Token": self.csrf})
        self.conn.request(method, path, data, headers)
        r = self.conn.getresponse()
        out = r.read()
        sc = r.getheader("set-cookie")
        if sc:
            self.cookie = sc.split(";", 1)[0]
        return r.status, out

    def page(self, path: str) -> str:
        status, out = self.request("GET", path)
        text = out.decode()
        m = re.search(r'<meta name="csrf" content="([^"]+)">', text)
        if m:
            self.csrf = m.group(1)
        return text


def main() -> int:
    lat: list[float] = []
    loads: list[float] = []
    http_lat: list[float] = []
    direct: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        site_path = bench_site(tmp)
        cfg = config.load(site_path)
        broker = Broker(tmp / "broker", cfg, superusers=[BENCH]).start()
        db = tmp / "p.db"
        core = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "core", "--config", str(site_path), "--db", str(db),
             "--mqtt-port", str(broker.port), "--mqtt-password-file",
             str(broker.password_file("core")), "--log-level", "WARNING",
             "--printer", f"sim:{tmp / 'tickets'}"],
            stdout=open(tmp / "core.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT)
        web = None
        try:
            watch = Watch(broker, cfg.topic_prefix)
            watch.wait(lambda: db.exists(), 20)
            reply = watch.command({"action": "official_add", "official": "nv01",
                                   "name": "Nguyễn Thị Hương", "role": "staff",
                                   "pin_hash": hash_pin("1234")}, timeout=20)
            if not reply.get("ok"):
                raise RuntimeError(f"could not add the official: {reply}")
            for i in range(PRESSES + DIRECT + 5):
                watch.command({"action": "issue", "field": "tu-phap"})

            import socket
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            web = subprocess.Popen(
                [sys.executable, "-c",
                 "import sys; from kiosk.web.app import main; sys.exit(main(sys.argv[1], "
                 "db_path=sys.argv[2], mqtt_password_file=sys.argv[3], port=int(sys.argv[4]), "
                 "mqtt_port=int(sys.argv[5])))",
                 str(site_path), str(db), str(broker.password_file("web")), str(port),
                 str(broker.port)],
                stdout=open(tmp / "web.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT)
            deadline = time.monotonic() + 20
            while True:
                try:
                    h = Http(port)
                    h.page("/login")
                    break
                except OSError:
                    if time.monotonic() > deadline or web.poll() is not None:
                        raise RuntimeError("web server did not start: "
                                           + (tmp / "web.log").read_text())
                    time.sleep(0.1)
            status, out = h.request("POST", "/api/login",
                                    {"code": "nv01", "pin": "1234", "counter": 1})
            if status != 200:
                raise RuntimeError(f"login failed: {status} {out!r}")
            h.page("/console")

            for i in range(PRESSES):
                t0 = time.perf_counter()
                status, out = h.request("POST", "/api/counter/1/next", {})
                body = json.loads(out)
                if status != 200:
                    raise RuntimeError(f"press {i}: {status} {body}")
                label = body["reply"]["ticket"]["label"]
                t_http = time.perf_counter()
                t1 = watch.wait(lambda: watch.seen.get(label), 5)
                http_lat.append((t_http - t0) * 1000)
                lat.append((t1 - t0) * 1000)

            # The same press sent straight to the core on the bus, in the same
            # run: the difference is what the web path costs.
            for i in range(DIRECT):
                t0 = time.perf_counter()
                before = len(watch.seen)
                watch.c.publish(f"{cfg.topic_prefix}/counter/1/command", contract.encode(
                    {"command_id": f"d{i}", "action": "next"}), qos=1)
                t1 = watch.wait(lambda: len(watch.seen) > before and max(watch.seen.values()), 5)
                direct.append((t1 - t0) * 1000)

            loads = page_loads(port, h.cookie)
        finally:
            if web is not None:
                web.terminate()
                web.wait(10)
            core.terminate()
            core.wait(10)
            broker.stop()
    if len(lat) < 200:
        print("could not measure the console presses", file=sys.stderr)
        return 1
    figures = {"presses": len(lat),
               "console_to_display_p50_ms": round(percentile(lat, 50), 3),
               "console_to_display_p99_ms": round(percentile(lat, 99), 3),
               "console_http_reply_p50_ms": round(percentile(http_lat, 50), 3),
               "console_http_reply_p99_ms": round(percentile(http_lat, 99), 3),
               "direct_mqtt_to_display_p50_ms": round(percentile(direct, 50), 3),
               "direct_mqtt_to_display_p99_ms": round(percentile(direct, 99), 3)}
    if not loads:
        print("could not measure page loads (no chromium?)", file=sys.stderr)
        emit(figures)
        return 1
    figures.update({"page_loads": len(loads), "page_load_ms": round(percentile(loads, 50), 3),
                    "page_load_p99_ms": round(percentile(loads, 99), 3)})
    emit(figures)
    return 0


def page_loads(port: int, cookie: str) -> list[float]:
    """Navigation start -> the console shows the counter's live status."""
    if not Path(CHROMIUM).exists():
        return []
    from playwright.sync_api import sync_playwright
    name, _, value = cookie.partition("=")
    out = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"], viewport={"width": 1366, "height": 768})
        ctx.add_cookies([{"name": name, "value": urllib.parse.unquote(value),
                          "url": f"http://127.0.0.1:{port}"}])
        page = ctx.new_page()
        for i in range(PAGE_LOADS + 1):
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/console")
            page.wait_for_function("document.getElementById('status').textContent != '…'")
            if i:   # the first load warms the browser's cache
                out.append((time.perf_counter() - t0) * 1000)
        ctx.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
