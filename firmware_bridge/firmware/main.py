"""Entry point on the box (MicroPython runs main.py at boot).

Copy to the board's filesystem: main.py, app.py, hw_rp2040.py, settings.py
and the firmware_bridge/protocol/ package (as protocol/), e.g. with
``mpremote cp -r firmware_bridge/protocol :`` and so on.
"""
import machine

import app
import hw_rp2040

try:
    import settings  # DEVICE_ID, N_LEVELS: per-box, written when the box is set up
except ImportError:
    settings = None


def _device_id():
    if settings is not None and getattr(settings, "DEVICE_ID", ""):
        return settings.DEVICE_ID
    uid = machine.unique_id()
    return "box-" + "".join("%02x" % b for b in uid[-3:])


def run():
    n_levels = getattr(settings, "N_LEVELS", 3) if settings is not None else 3
    board = hw_rp2040.Board(n_levels)
    fw = app.Firmware(board, _device_id(), n_levels=n_levels)
    wdt = machine.WDT(timeout=2000)  # a stuck loop reboots the box; its ring is in flash
    while True:
        fw.step()
        wdt.feed()


run()
