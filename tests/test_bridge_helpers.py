"""Helpers shared by the bridge tests (no tests here): a site config with a [bridge] section, in-process boxes."""
from __future__ import annotations

import time
from pathlib import Path

from kiosk import config as site_config

from firmware_bridge.bridge import CounterBox
from firmware_bridge.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "deploy" / "demo-site.toml"


def write_config(tmp_path: Path, broker, devices: list[dict], **bridge) -> Path:
    """The demo site pointed at the test broker, with the given counter boxes.

    ``broker`` None: no broker and no logins, for a bridge driven without MQTT."""
    text = DEMO.read_text(encoding="utf-8")
    if broker is not None:
        text = text.replace("port = 1883", f"port = {broker.port}")
    lines = ["", "[bridge]", f'state_db = "{tmp_path / "bridge.db"}"']
    lines += [f"{k} = {v}" for k, v in bridge.items()]
    for d in devices:
        lines.append("[[bridge.devices]]")
        if broker is not None:
            d = {"password_file": str(broker.password_file(f"counter-{d['counter']}")), **d}
        for k, v in d.items():
            lines.append(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"')
    path = tmp_path / "site.toml"
    path.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_boxes(path: Path) -> tuple[list[CounterBox], Ledger]:
    cfg = site_config.load(path)
    ledger = Ledger(cfg.bridge.state_db)
    boxes = []
    for d in cfg.bridge.devices:
        pw = Path(d.password_file).read_text().strip()
        boxes.append(CounterBox(cfg, d, ledger, pw).start())
    return boxes, ledger


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    """Poll until true; a deadline only so a broken build fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def serving_at_box(tmp_path: Path, broker, bus, seed: int):
    """A simulated box at counter 1 with its bridge, A001 issued and called from the box.

    Returns (box, config path, bridges, ledger, admin); ``admin`` watches
    ``core/reply`` and ``event/rating``.  The caller stops the box and bridges."""
    from firmware_bridge.sim import SimBox
    link = str(tmp_path / "by-id-box-1")
    box = SimBox("box-1", link, seed=seed, hold_ms=2, retransmit_ms=100).start()
    path = write_config(tmp_path, broker, [{"counter": 1, "port": link}], state_refresh_s=0.2)
    boxes, ledger = start_boxes(path)
    admin = bus("tester")
    admin.subscribe("core/reply", "event/rating")
    admin.publish("core/command", {"command_id": "i1", "action": "issue", "field": "tu-phap"})
    admin.wait_for(lambda t, b: t == "core/reply")
    box.press("next")
    wait_until(lambda: box.display()[0] == "A001", what="A001 on the box")
    return box, path, boxes, ledger, admin
