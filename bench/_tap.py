"""Where a call's time goes, for bench/day.py: a login of its own that only
listens, in a process of its own (so the bench's work does not delay its
clock), and stamps when each box key reached the broker from the bridge and
when the core's reply to it did.

    python bench/_tap.py HOST PORT USER PASSWORD_FILE PREFIX OUT

Writes ``cmd T ID`` and ``reply T ID`` lines to OUT (CLOCK_MONOTONIC);
stops on a line ``quit`` on stdin.
"""
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt


def main() -> int:
    host, port, user, password_file, prefix, out_path = sys.argv[1:7]
    out = open(out_path, "w", buffering=1)
    lock = threading.Lock()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv311)
    c.username_pw_set(user, open(password_file).read().strip())

    def on_connect(client, userdata, flags, rc, props=None):
        client.subscribe([(f"{prefix}/counter/+/command", 0), (f"{prefix}/counter/+/reply", 0)])

    def on_message(client, userdata, msg):
        t = time.monotonic()
        try:
            cid = json.loads(msg.payload).get("command_id")
        except (ValueError, AttributeError):
            return
        if isinstance(cid, str):
            kind = "reply" if msg.topic.endswith("/reply") else "cmd"
            with lock:
                out.write(f"{kind} {t:.6f} {cid}\n")

    c.on_connect, c.on_message = on_connect, on_message
    c.connect(host, int(port), 10)
    c.loop_start()
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    c.loop_stop()
    c.disconnect()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
