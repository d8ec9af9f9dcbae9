"""The running bridge takes a saved change of the rating levels (the retained
config/site) without a restart: a simulated four-button box on a real pty, a
real Mosquitto, the bridge in-process.
"""
from __future__ import annotations

import logging
import time

from firmware_bridge.delivery import event_id
from tests.test_bridge import rig  # noqa: F401
from tests.test_bridge_helpers import wait_until
from tests.test_live_config import payload


def four_levels(site) -> dict:
    c = site.model_dump(mode="json")
    c["rating"]["levels"].insert(2, {"code": "binh-thuong", "name_vi": "Bình thường", "name_en": "Neutral",
                                     "satisfied": False})
    return c


def open_window(fake_core, seconds: float = 30) -> None:
    fake_core.publish("counter/1/state", {"counter": 1, "status": "open", "current": {"label": "A001"},
                                          "rating_window": {"ticket_id": "x", "until": time.time() + seconds}},
                      retain=True)


def test_a_fourth_level_is_taken_live(rig, bus, site, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, "phucvu.bridge")
    box, bridge, listener, ledger = rig(n_levels=4)
    fake_core = bus("tester")
    open_window(fake_core)
    # Three levels at the site: three LEDs lit, and button 4 is forwarded as
    # it is with a warning (the core keeps it as bad_level).
    wait_until(lambda: box.board.leds == 0b0111, what="three rating LEDs")
    box.rate(4)
    first = listener.wait_for(lambda t, b: t == "counter/1/rating")
    assert first["level"] == 4 and first["rating_id"] == event_id("box-1", box.fw.boot, 1)
    assert "sent button 4 but the site has levels 1..3" in caplog.text
    # The fake core confirms it as the real one does (kept, not counted), so
    # the box gets its ACK and sends the next press.
    fake_core.publish("counter/1/reply", {"rating_id": first["rating_id"], "ok": True, "counted": False,
                                          "reason": "bad_level", "level": None})
    wait_until(lambda: box.pending() == 0, what="ACK for the first press")

    fake_core.publish("config/site", payload(four_levels(site)), retain=True)
    wait_until(lambda: bridge.n_levels == 4, what="four levels at the bridge")
    wait_until(lambda: box.board.leds == 0b1111, what="four rating LEDs")
    assert "rating levels 3 -> 4" in caplog.text
    caplog.clear()
    time.sleep(0.3)                     # past the box's own minimum between presses
    box.rate(4)
    second = listener.wait_for(lambda t, b: t == "counter/1/rating"
                               and b["rating_id"] == event_id("box-1", box.fw.boot, 2))
    assert second["level"] == 4
    assert "site has levels" not in caplog.text
    # The bridge's own devices and login are its file's, never the payload's.
    assert bridge.dev.port == bridge.live.config.bridge.devices[0].port


def test_bad_payloads_keep_the_levels(rig, bus, site, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, "phucvu.bridge")
    box, bridge, listener, ledger = rig(n_levels=4)
    fake_core = bus("tester")
    bad = four_levels(site)
    for lv in bad["rating"]["levels"]:
        lv["satisfied"] = True            # refused: nobody could be unsatisfied
    other = four_levels(site)
    other["site"]["id"] = "xa-khac"
    fake_core.publish("config/site", payload(bad, version=7), retain=True)
    fake_core.publish("config/site", payload(other, version=8), retain=True)
    wait_until(lambda: sum(r.levelno >= logging.ERROR for r in caplog.records) >= 2, what="two error lines")
    time.sleep(0.3)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and "satisfied = false" in errors[0] and "xa-khac" in errors[1]
    assert bridge.n_levels == 3 and bridge.payloads.n_levels == 3
    open_window(fake_core)
    wait_until(lambda: box.board.leds == 0b0111, what="still three rating LEDs")
