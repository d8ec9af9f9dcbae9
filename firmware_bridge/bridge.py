"""The bridge service: counter boxes on serial ports <-> the core on MQTT.

One ``CounterBox`` per configured device, each with its own port, its own
MQTT login (``counter-<n>``, whose ACL lets it speak for that counter only)
and one worker thread that owns all of its state.  paho's callbacks never
touch that state: they queue what happened and wake the worker through a
pipe, so there is no lock shared with paho's own (on_publish runs inside
paho's outgoing-message lock, and taking ours there would deadlock).

Delivery, in order: the box sends EVENT(boot, seq) -> the bridge publishes a
command or rating with a deterministic id, QoS 1 -> the broker PUBACKs ->
the bridge records (device, boot, seq) in its ledger -> ACK to the box.  A
crash anywhere in that chain ends in a replay under the same id.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
import time
from typing import Any

from kiosk import contract
from kiosk.config import DeviceSection, SiteConfig
from kiosk.config import load as load_config

from firmware_bridge import protocol as P
from firmware_bridge.ledger import Ledger
from firmware_bridge.link import LinkDown, SerialLink

log = logging.getLogger("phucvu.bridge")

STATUS_CODES = {"open": P.STATUS_OPEN, "paused": P.STATUS_PAUSED, "closed": P.STATUS_CLOSED}
IDENTIFY_RETRY_S = 0.5


def event_id(device: str, boot: int, seq: int) -> str:
    """The command_id / rating_id of one press: the same on every redelivery."""
    return f"{device}:{boot:08x}:{seq}"


def display_state(state: dict[str, Any] | None, version: int, n_levels: int, now: float) -> P.State:
    """The whole STATE frame for a box from the retained counter state (None: not heard yet)."""
    if not state:
        return P.State(version, "", P.STATUS_UNKNOWN, 0, 0)
    current = state.get("current") or {}
    label = str(current.get("label") or "")[-4:]
    if not label.isascii():
        label = ""
    status = STATUS_CODES.get(state.get("status", ""), P.STATUS_UNKNOWN)
    leds, leds_ms = 0, 0
    window = state.get("rating_window")
    if isinstance(window, dict) and isinstance(window.get("until"), (int, float)):
        left = window["until"] - now
        if left > 0:
            leds, leds_ms = (1 << n_levels) - 1, min(int(left * 1000), 0xFFFF)
    return P.State(version, label, status, leds, leds_ms)


class CounterBox:
    def __init__(self, config: SiteConfig, dev: DeviceSection, ledger: Ledger, password: str):
        self.config = config
        self.dev = dev
        self.counter = dev.counter
        self.user = dev.username or f"counter-{dev.counter}"
        self.options = config.bridge
        self.ledger = ledger
        self.topics = contract.Topics(config.topic_prefix)
        self.n_levels = len(config.rating.levels)
        self.link = SerialLink(dev.port, dev.baud)
        self.decoder = P.FrameDecoder()
        self.client = contract.mqtt_client(self.user, username=self.user, password=password,
                                           prefix=config.topic_prefix, device=self.user,
                                           keepalive=config.mqtt.keepalive)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.mqtt_up = False
        # worker-thread state
        self.hello: P.Hello | None = None
        self.inflight: dict[tuple[str, int, int], tuple[int, float]] = {}
        self.mids: dict[int, tuple[tuple[str, int, int], str]] = {}
        self.recent_ids: dict[str, float] = {}
        self.state: dict[str, Any] | None = None
        self.state_version = 0
        self.last_state_sent = 0.0
        self.last_rx = 0.0
        self.last_identify = 0.0
        self.stats = {"published": 0, "acked": 0, "acked_from_ledger": 0, "republished": 0,
                      "bad_frames": 0, "bad_messages": 0, "refused": 0}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "CounterBox":
        self.client.connect_async(self.config.mqtt.host, self.config.mqtt.port, self.config.mqtt.keepalive)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name=f"bridge-{self.counter}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self.link.close()
        if self.mqtt_up:
            # A clean stop says offline itself: the broker sends the will only on a lost connection.
            info = self.client.publish(self.topics.presence(self.user),
                                       contract.presence(self.user, "offline", time.time()), qos=1, retain=True)
            try:
                info.wait_for_publish(1)
            except (RuntimeError, ValueError) as e:
                log.warning("counter %d: offline presence not confirmed: %s", self.counter, e)
        self.client.disconnect()
        self.client.loop_stop()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # ------------------------------------------------------------ paho side (queue only)
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full, so the worker is awake anyway

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc.is_failure:
            log.error("counter %d: broker refused login %s: %s", self.counter, self.user, rc)
            return
        client.subscribe([(self.topics.counter_state(self.counter), 1),
                          (self.topics.counter_reply(self.counter), 1)])
        contract.announce_online(client, self.config.topic_prefix, self.user, time.time())
        self.mqtt_up = True
        log.info("counter %d: connected to the broker as %s", self.counter, self.user)

    def _on_disconnect(self, client, userdata, flags, rc, props=None):
        self.mqtt_up = False
        if not self._stop.is_set():
            log.warning("counter %d: broker connection lost (%s); paho reconnects", self.counter, rc)

    def _on_publish(self, client, userdata, mid, rc=None, props=None):
        self._inbox.put(("puback", mid))
        self._wake()

    def _on_message(self, client, userdata, msg):
        self._inbox.put(("message", msg.topic, bytes(msg.payload)))
        self._wake()

    # ------------------------------------------------------------ worker
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except LinkDown:
                self._link_lost()
            except Exception:  # a bug must not kill the counter's only path to the core
                log.exception("counter %d: unexpected error; reopening the port", self.counter)
                self.link.close()
                self._link_lost()
                self._stop.wait(self.options.reopen_s)

    def _turn(self) -> None:
        now = time.monotonic()
        if not self.link.is_open:
            if self.link.open():
                self._link_opened(now)
            else:
                self._wait_wake(self.options.reopen_s)
                self._drain()
                return
        data, _ = self.link.read(0.1, also=self._wake_r)
        now = time.monotonic()
        if data:
            self.last_rx = now
            for body in self.decoder.feed(data):
                self._handle_body(body, now)
            self.stats["bad_frames"] = self.decoder.errors
        self._drain_wake()
        self._drain()
        if self.hello is None and now - self.last_identify >= IDENTIFY_RETRY_S:
            self._send(P.Identify())
            self.last_identify = now
        if now - self.last_state_sent >= self.options.state_refresh_s:
            self._send_state()
        if now - self.last_rx >= self.options.link_timeout_s:
            log.warning("counter %d: box on %s silent for %.1f s; reopening", self.counter,
                        self.dev.port, now - self.last_rx)
            self.link.close()
            self._link_lost()

    def _wait_wake(self, timeout: float) -> None:
        import select
        try:
            select.select([self._wake_r], [], [], timeout)
        except OSError:
            pass
        self._drain_wake()

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def _link_opened(self, now: float) -> None:
        self.decoder.reset()
        self.hello = None
        self.last_rx = now
        self.last_identify = now
        # The box may have said HELLO long before we opened the port: ask again,
        # which also makes it replay every event still waiting for an ACK.
        self._send(P.Identify())

    def _link_lost(self) -> None:
        self.hello = None
        self.decoder.reset()

    def _send(self, msg: Any) -> None:
        if not self.link.write(P.encode(msg)):
            self._link_lost()

    def _send_state(self) -> None:
        self.last_state_sent = time.monotonic()
        if self.link.is_open:
            self._send(display_state(self.state, self.state_version, self.n_levels, time.time()))

    # ------------------------------------------------------------ from the box
    def _handle_body(self, body: bytes, now: float) -> None:
        try:
            msg = P.parse(body)
        except P.ProtocolError as e:
            self.stats["bad_messages"] += 1
            log.warning("counter %d: bad message from the box: %s", self.counter, e)
            return
        if msg.type == P.HELLO:
            self._on_hello(msg)
        elif msg.type == P.EVENT:
            if self.hello is None:
                return  # whose event? IDENTIFY is out; the box replays it after HELLO
            self._on_event(msg)
        elif msg.type == P.ERROR:
            log.warning("counter %d: box reports error %d: %s", self.counter, msg.code, msg.text)
        elif msg.type not in (P.HEARTBEAT,):
            log.warning("counter %d: unexpected message 0x%02x from the box", self.counter, msg.type)

    def _on_hello(self, hello: P.Hello) -> None:
        if hello.proto != P.PROTOCOL_VERSION:
            log.error("counter %d: box %s speaks protocol %d, bridge speaks %d; ignoring it",
                      self.counter, hello.device_id, hello.proto, P.PROTOCOL_VERSION)
            return
        if self.dev.device_id and hello.device_id != self.dev.device_id:
            if self.stats["refused"] == 0:
                log.error("counter %d: box %r on %s is not the configured %r; its presses are refused",
                          self.counter, hello.device_id, self.dev.port, self.dev.device_id)
            self.stats["refused"] += 1
            return
        self.hello = hello
        log.info("counter %d: box %s boot %08x fw %s, %d event(s) waiting", self.counter,
                 hello.device_id, hello.boot, hello.fw, hello.pending)
        self._send_state()

    def _on_event(self, ev: P.Event) -> None:
        device = self.hello.device_id
        key = (device, ev.boot, ev.seq)
        if self.ledger.seen(*key):
            self.stats["acked_from_ledger"] += 1
            self._send(P.Ack(ev.boot, ev.seq))
            return
        now = time.monotonic()
        sent = self.inflight.get(key)
        if sent is not None and not (self.mqtt_up and now - sent[1] >= self.options.republish_s):
            return  # published, PUBACK on its way (paho resends it after a reconnect)
        eid = event_id(device, ev.boot, ev.seq)
        topic, payload = self._payload(ev, device, eid)
        info = self.client.publish(topic, payload, qos=1)
        self.mids[info.mid] = (key, eid)
        self.inflight[key] = (info.mid, now)
        self.recent_ids[eid] = now
        self.stats["republished" if sent is not None else "published"] += 1

    def _payload(self, ev: P.Event, device: str, eid: str) -> tuple[str, bytes]:
        if ev.source == P.SRC_KEY:
            action = P.KEY_NAMES[ev.code]
            if action == "pause" and (self.state or {}).get("status") == "paused":
                action = "resume"
            body = {"command_id": eid, "action": action, "source": device}
            contract.CounterCommand.model_validate(body)
            return self.topics.counter_command(self.counter), contract.encode(body)
        if ev.code > self.n_levels:
            log.warning("counter %d: box sent rating level %d but the site has %d levels; forwarded "
                        "for the core to keep as an anomaly", self.counter, ev.code, self.n_levels)
        body = {"rating_id": eid, "level": ev.code, "device": device, "device_time_ms": ev.time_ms,
                "received_at": round(time.time(), 3), "source": f"bridge:{self.user}"}
        contract.RatingPress.model_validate(body)
        return self.topics.counter_rating(self.counter), contract.encode(body)

    # ------------------------------------------------------------ from paho
    def _drain(self) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item[0] == "puback":
                self._puback(item[1])
            else:
                self._message(item[1], item[2])

    def _puback(self, mid: int) -> None:
        entry = self.mids.pop(mid, None)
        if entry is None:
            return  # presence, or a stale publish already settled
        key, eid = entry
        self.ledger.record(*key, eid)
        if self.inflight.get(key, (None,))[0] == mid:
            del self.inflight[key]
        self.stats["acked"] += 1
        if self.link.is_open:
            self._send(P.Ack(key[1], key[2]))

    def _message(self, topic: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
        except ValueError as e:
            log.warning("counter %d: unreadable message on %s: %s", self.counter, topic, e)
            return
        if not isinstance(body, dict):
            log.warning("counter %d: message on %s is not a JSON object", self.counter, topic)
            return
        if topic == self.topics.counter_state(self.counter):
            self.state = body
            self.state_version = (self.state_version + 1) & 0xFFFFFFFF
            self._send_state()
        elif topic == self.topics.counter_reply(self.counter):
            cid = body.get("command_id")
            if cid in self.recent_ids:
                del self.recent_ids[cid]
                if body.get("ok") is False:
                    err = body.get("error") or {}
                    log.info("counter %d: core refused %s: %s", self.counter, cid, err.get("message", err))
                    if self.link.is_open:
                        self._send(P.Beep(P.BEEP_ERROR))
            self._forget_old_ids()

    def _forget_old_ids(self) -> None:
        if len(self.recent_ids) > 256:
            cutoff = time.monotonic() - 60
            self.recent_ids = {k: t for k, t in self.recent_ids.items() if t >= cutoff}


def check_devices(config: SiteConfig) -> None:
    """Start-up checks the config model cannot make on its own section alone."""
    from kiosk.config import ConfigError

    known = {c.number for c in config.counters}
    for i, d in enumerate(config.bridge.devices):
        if d.counter not in known:
            raise ConfigError(f"bridge.devices[{i}].counter: no counter {d.counter} in [[counters]] "
                              f"(expected one of {sorted(known)})")
    if not config.bridge.devices:
        raise ConfigError("bridge.devices: no [[bridge.devices]] configured; nothing to bridge")


def main(config_path: str) -> int:
    """``phucvu bridge --config PATH``: run until SIGTERM/SIGINT."""
    from kiosk.config import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(config_path)
        check_devices(config)
        passwords = {}
        for d in config.bridge.devices:
            passwords[d.counter] = contract.read_password(d.password_file) if d.password_file else ""
    except (ConfigError, contract.PayloadError) as e:
        log.error("%s", e)
        return 2
    ledger = Ledger(config.bridge.state_db)
    ledger.prune()
    boxes = [CounterBox(config, d, ledger, passwords[d.counter]).start() for d in config.bridge.devices]
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    ready = ", ".join(f"counter {b.counter} on {b.dev.port}" for b in boxes)
    log.info("bridge ready: %s", ready)
    # systemd (Type=notify, WatchdogSec=): pings only while every box's
    # thread is alive, so a box that died silently gets the bridge restarted.
    from kiosk.sdnotify import Notifier
    notify = Notifier()
    notify.ready(ready)
    while not done.wait(notify.wake_every(5.0)):
        dead = [b.counter for b in boxes if b._thread is not None and not b._thread.is_alive()]
        if dead:
            notify.status(f"box thread stopped for counter {dead}; waiting for the watchdog")
        else:
            notify.watchdog()
    notify.stopping()
    for b in boxes:
        b.stop()
    ledger.close()
    return 0
