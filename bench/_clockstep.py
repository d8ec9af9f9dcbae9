"""Run ``python -m MODULE ARGS`` with a wall clock that can be stepped, as
NTP or a Pi without a real-time clock steps it.

    python bench/_clockstep.py OFFSET_FILE MODULE [ARGS...]

OFFSET_FILE holds seconds to add to the wall clock (``-3600``: an hour
back); it is read again at most every 0.2 s, so a running process sees the
step.  The monotonic clock is untouched, as a real step leaves it.

Why not libfaketime: Debian's 0.9.10 makes Python's ``time.sleep`` fail with
EINVAL (clock_nanosleep on CLOCK_MONOTONIC), so a process under it cannot run.
The shim replaces ``time.time`` and ``time.time_ns`` before the program
imports anything; the appliance reads wall time only through them (the
core's clock seam is ``time.time``).
"""
import os
import runpy
import sys
import time

# ``python bench/_clockstep.py`` puts bench/ first, where bench/kiosk.py
# would shadow the kiosk package.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_path = sys.argv[1]
_real_time, _real_ns, _mono = time.time, time.time_ns, time.monotonic
_offset = [0.0, -1.0]


def _current() -> float:
    now = _mono()
    if now - _offset[1] > 0.2:
        _offset[1] = now
        try:
            with open(_path) as f:
                _offset[0] = float(f.read().strip() or 0)
        except (OSError, ValueError):
            pass
    return _offset[0]


time.time = lambda: _real_time() + _current()
time.time_ns = lambda: _real_ns() + int(_current() * 1e9)

module = sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
