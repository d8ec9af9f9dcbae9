"""One wall display without its window, in a process of its own, for bench/day.py.

    python bench/_display_client.py SITE_TOML BROKER_PORT PASSWORD_FILE N OUT

The display's own bus link and state (display/bus.py, display/state.py),
as display-N.  Its own process, as a real display is its own machine: ten
displays in the bench's process would wait for each other's turn at the
interpreter lock and the latency measured would be the bench's, not the
appliance's.

Writes to OUT, one line each, times on CLOCK_MONOTONIC (shared by every
process of the machine):

    snap T BYTES            a snapshot arrived and was taken (BYTES: its
                            size, for one in fifty; else 0)
    seen T COUNTER LABEL    LABEL shown at COUNTER for the first time
    link T 0|1              the connection went or came

Reads commands on stdin: ``pull`` (the cable goes, no goodbye: the broker
fires the will), ``plug`` (connected again), ``quit``.
"""
import json
import logging
import os
import socket
import sys
import threading
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from display.bus import DisplayLink  # noqa: E402
from display.state import DisplayState  # noqa: E402
from kiosk import config as site_config  # noqa: E402


def main() -> int:
    # Its reconnect warnings are the faults the bench made; the bench counts those itself.
    logging.basicConfig(level=logging.ERROR)
    site, port, password_file, n, out_path = sys.argv[1:6]
    cfg = site_config.load(site)
    password = open(password_file).read().strip()
    user = f"display-{n}"
    state = DisplayState.from_config(cfg, started=time.monotonic())
    seen: set[tuple[int, str]] = set()
    snaps = [0]
    out = open(out_path, "w", buffering=1)
    lock = threading.Lock()

    def handler(kind: str, payload: dict) -> None:
        t = time.monotonic()
        if kind == "link":
            with lock:
                out.write(f"link {t:.6f} {int(bool(payload.get('connected')))}\n")
            return
        if kind != "snapshot":
            return
        try:
            state.apply_snapshot(payload, t)
        except ValueError as e:
            print(f"{user}: bad snapshot: {e}", file=sys.stderr)
            return
        snaps[0] += 1
        # Its size now and then: encoding every one would cost what we measure.
        size = len(json.dumps(payload, ensure_ascii=False).encode()) if snaps[0] % 50 == 1 else 0
        lines = [f"snap {t:.6f} {size}\n"]
        for row in state.snapshot["counters"]:
            cur = row.get("current")
            if cur and (row.get("number"), cur) not in seen:
                seen.add((row.get("number"), cur))
                lines.append(f"seen {t:.6f} {row.get('number')} {cur}\n")
        with lock:
            out.writelines(lines)

    def connect() -> DisplayLink:
        return DisplayLink(cfg, user=user, password=password, handler=handler,
                           host="127.0.0.1", port=int(port)).start()

    link: DisplayLink | None = connect()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "pull" and link is not None:
            link.client.loop_stop()
            sock = link.client.socket()
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            link = None
            with lock:
                out.write(f"link {time.monotonic():.6f} 0\n")
        elif cmd == "plug" and link is None:
            link = connect()
        elif cmd == "quit":
            break
    if link is not None:
        link.stop()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
