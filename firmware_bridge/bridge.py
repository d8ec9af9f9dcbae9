"""The bridge service: counter boxes on serial ports <-> the core on MQTT.

One ``CounterBox`` per configured device, each with its own port, its own
MQTT login (``counter-<n>``, whose ACL lets it speak for that counter only)
and one worker thread that owns all of its state.  paho's callbacks never
touch that state: they queue what happened and wake the worker through a
pipe, so there is no lock shared with paho's own (on_publish runs inside
paho's outgoing-message lock, and taking ours there would deadlock).

Delivery is acknowledged end to end (docs/serial-protocol.md, "An event's
life"): the box sends EVENT(boot, seq) -> the bridge publishes a command or
rating with a deterministic id, QoS 1 -> the core commits it and confirms on
``counter/<n>/reply`` -> only then does the bridge record (device, boot, seq)
in its ledger and ACK the box.  The broker's PUBACK acks nothing to the box:
Mosquitto keeps what it accepted only in memory until its next autosave, so
a broker killed with the core away would lose a press acked on PUBACK.  A
crash or loss anywhere in the chain ends in a retransmit by the box and a
republish under the same id, which the core recognises.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from kiosk import contract
from kiosk.config import DeviceSection, SiteConfig
from kiosk.config import load as load_config

from firmware_bridge.ledger import Ledger
from firmware_bridge.link import LinkDown, SerialLink
from firmware_bridge.protocol import messages as M
from firmware_bridge.protocol.framing import FrameDecoder, ProtocolError

log = logging.getLogger("phucvu.bridge")

STATUS_CODES = {"open": M.STATUS_OPEN, "paused": M.STATUS_PAUSED, "closed": M.STATUS_CLOSED}
IDENTIFY_RETRY_S = 0.5
# Events published and not yet confirmed, per box.  One box has at most its
# ring (32) unacknowledged, whatever boots they come from; the rest of the
# room is for a box swapped on the port.  When full the oldest is forgotten
# here, which costs nothing: the box retransmits it, it is published again
# under the same id and the core answers again.
MAX_UNCONFIRMED = 128
# This bridge process's clock, as the core learns it: a random id per start
# (monotonic time starts again with each boot of the machine) with the
# login.  Every event carries when this process first read it from the box
# and when it published it (docs/reports.md, "Judged on the press").
RELAY_BOOT = int.from_bytes(os.urandom(4), "big")


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)


class BoxClocks:
    """Each box boot's clock on this bridge's monotonic clock.

    Every frame that says the box's time (a HEARTBEAT, an EVENT) is one
    observation of (bridge time - box time), too large by the frame's delay,
    never too small: the smallest is kept (NTP's minimum filter), allowed to
    grow by DRIFT_PPM for a box whose crystal runs slow.
    """

    DRIFT_PPM = 200
    MAX_BOOTS = 64

    def __init__(self) -> None:
        self._offsets: dict[tuple[str, int], tuple[int, int]] = {}   # -> (offset ms, learnt at)

    def learn(self, boot: tuple[str, int], box_ms: int, now_ms: int) -> int:
        """Learn from one frame read now; returns the box time ``box_ms`` on the bridge's clock."""
        observed = now_ms - box_ms
        prev = self._offsets.get(boot)
        if prev is not None:
            grown = prev[0] + (now_ms - prev[1]) * self.DRIFT_PPM // 1_000_000
            observed = min(observed, grown)
        self._offsets.pop(boot, None)
        self._offsets[boot] = (observed, now_ms)
        while len(self._offsets) > self.MAX_BOOTS:
            del self._offsets[next(iter(self._offsets))]
        return max(0, min(now_ms, box_ms + observed))


def event_id(device: str, boot: int, seq: int) -> str:
    """The command_id / rating_id of one press: the same on every redelivery."""
    return f"{device}:{boot:08x}:{seq}"


def display_state(state: dict[str, Any] | None, version: int, n_levels: int, now: float) -> M.State:
    """The whole STATE frame for a box from the retained counter state (None: not heard yet)."""
    if not state:
        return M.State(version, "", M.STATUS_UNKNOWN, 0, 0)
    current = state.get("current") or {}
    label = str(current.get("label") or "")[-4:]
    if not label.isascii():
        label = ""
    status = STATUS_CODES.get(state.get("status", ""), M.STATUS_UNKNOWN)
    leds, leds_ms = 0, 0
    window = state.get("rating_window")
    if isinstance(window, dict) and isinstance(window.get("until"), (int, float)):
        left = window["until"] - now
        if left > 0:
            leds, leds_ms = (1 << n_levels) - 1, min(int(left * 1000), 0xFFFF)
    return M.State(version, label, status, leds, leds_ms)


@dataclass
class Unconfirmed:
    """One published event the core has not confirmed yet."""
    key: tuple[str, int, int]       # (device, boot, seq)
    kind: str                       # "key" (a counter command) or "rating"
    topic: str
    body: dict[str, Any]            # republished under the same id (a fresh relay_tx_ms)
    published_at: float             # monotonic, of the last (re)publish


class Outstanding:
    """Event id -> Unconfirmed, bounded; the oldest publish goes first when full."""

    def __init__(self, cap: int = MAX_UNCONFIRMED):
        self.cap = cap
        self._items: dict[str, Unconfirmed] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, eid: object) -> bool:
        return eid in self._items

    def get(self, eid: str) -> Unconfirmed | None:
        return self._items.get(eid)

    def put(self, eid: str, item: Unconfirmed) -> list[str]:
        """Add or refresh (moves it to the newest end); returns the ids forgotten to make room."""
        self._items.pop(eid, None)
        self._items[eid] = item
        dropped = []
        while len(self._items) > self.cap:
            old = next(iter(self._items))
            del self._items[old]
            dropped.append(old)
        return dropped

    def pop(self, eid: str) -> Unconfirmed | None:
        return self._items.pop(eid, None)

    def has_device(self, device: str) -> bool:
        """Whether an event of that box is still waiting for the core."""
        return any(item.key[0] == device for item in self._items.values())


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
        self.decoder = FrameDecoder()
        # The client id is the login: the broker runs with
        # use_username_as_clientid, one connection per login.
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
        self.hello: M.Hello | None = None
        self.unconfirmed = Outstanding()
        # Per box, events read but not yet published, in the order made.
        self.held: dict[str, dict[str, Unconfirmed]] = {}
        self.relay = f"{self.user}:{RELAY_BOOT:08x}"
        self.box_clocks = BoxClocks()
        # paho message id -> event id, only to count the broker's PUBACKs
        # (they settle paho's bookkeeping, never the box's event).
        self.mids: dict[int, str] = {}
        self.state: dict[str, Any] | None = None
        self.state_version = 0
        self.last_state_sent = 0.0
        self.last_rx = 0.0
        self.last_identify = 0.0
        self.stats = {"published": 0, "republished": 0, "pubacked": 0, "confirmed": 0,
                      "acked": 0, "acked_from_ledger": 0, "core_refused": 0, "bad_payload": 0,
                      "payload_bugs": 0, "held": 0, "bad_frames": 0, "bad_messages": 0, "refused": 0}

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
            self._send(M.Identify())
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
        self._send(M.Identify())

    def _link_lost(self) -> None:
        self.hello = None
        self.decoder.reset()

    def _send(self, msg: Any) -> None:
        if not self.link.write(M.encode(msg)):
            self._link_lost()

    def _send_state(self) -> None:
        self.last_state_sent = time.monotonic()
        if self.link.is_open:
            self._send(display_state(self.state, self.state_version, self.n_levels, time.time()))

    # ------------------------------------------------------------ from the box
    def _handle_body(self, body: bytes, now: float) -> None:
        try:
            msg = M.parse(body)
        except ProtocolError as e:
            self.stats["bad_messages"] += 1
            log.warning("counter %d: bad message from the box: %s", self.counter, e)
            return
        if msg.type == M.HELLO:
            self._on_hello(msg)
        elif msg.type == M.EVENT:
            if self.hello is None:
                return  # whose event? IDENTIFY is out; the box replays it after HELLO
            self._on_event(msg)
        elif msg.type == M.ERROR:
            log.warning("counter %d: box reports error %d: %s", self.counter, msg.code, msg.text)
        elif msg.type == M.HEARTBEAT:
            if self.hello is not None and msg.time_ms is not None and msg.boot == self.hello.boot:
                self.box_clocks.learn((self.hello.device_id, msg.boot), msg.time_ms, monotonic_ms())
        else:
            log.warning("counter %d: unexpected message 0x%02x from the box", self.counter, msg.type)

    def _on_hello(self, hello: M.Hello) -> None:
        if hello.proto != M.PROTOCOL_VERSION:
            log.error("counter %d: box %s speaks protocol %d, bridge speaks %d; ignoring it",
                      self.counter, hello.device_id, hello.proto, M.PROTOCOL_VERSION)
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

    def _on_event(self, ev: M.Event) -> None:
        device = self.hello.device_id
        key = (device, ev.boot, ev.seq)
        if self.ledger.seen(*key):
            # The core confirmed it before; the box missed our ACK.
            self.stats["acked_from_ledger"] += 1
            self._send(M.Ack(ev.boot, ev.seq))
            return
        eid = event_id(device, ev.boot, ev.seq)
        now = time.monotonic()
        waiting = self.unconfirmed.get(eid)
        if waiting is not None:
            if not (self.mqtt_up and now - waiting.published_at >= self.options.republish_s):
                return  # published; the core's confirmation is on its way
            # Waited too long: the broker may have lost it (killed before its
            # autosave), the core may have been away, or its confirmation
            # went to a bridge that was not connected.  Same id, same press.
            self._publish(eid, waiting.topic, waiting.body)
            waiting.published_at = now
            self.unconfirmed.put(eid, waiting)
            self.stats["republished"] += 1
            return
        held = self.held.setdefault(device, {})
        if eid in held:
            return  # waiting its turn (below); the box sent it again meanwhile
        kind = "key" if ev.source == M.SRC_KEY else "rating"
        topic, body = self._payload(ev, device, eid)
        item = Unconfirmed(key, kind, topic, body, now)
        if self.unconfirmed.has_device(device) or held:
            # One box's events reach the core in the order they were made:
            # a later press must not overtake an earlier one the broker lost
            # (the first press made in a window is the rating, and a Finish
            # must open the window before the citizen's press is judged).
            # Held here, published as soon as the ones before are confirmed.
            if len(held) < MAX_UNCONFIRMED:
                held[eid] = item
                self.stats["held"] += 1
            return
        self._publish_new(eid, item)

    def _publish_new(self, eid: str, item: Unconfirmed) -> None:
        self._publish(eid, item.topic, item.body)
        item.published_at = time.monotonic()
        for old in self.unconfirmed.put(eid, item):
            log.warning("counter %d: more than %d events unconfirmed; %s forgotten here "
                        "(the box still has it and will send it again)", self.counter,
                        self.unconfirmed.cap, old)
        self.stats["published"] += 1

    def _release(self, device: str) -> None:
        """The event before is confirmed: the next one of that box may go."""
        held = self.held.get(device)
        if held and not self.unconfirmed.has_device(device):
            eid = next(iter(held))
            self._publish_new(eid, held.pop(eid))

    def _publish(self, eid: str, topic: str, body: dict[str, Any]) -> None:
        if "relay_tx_ms" in body:
            # Each copy says when it left: the core learns this bridge's
            # clock from the copies that were not held up on the way.
            body["relay_tx_ms"] = max(monotonic_ms(), body["relay_rx_ms"])
        info = self.client.publish(topic, contract.encode(body), qos=1)
        self.mids[info.mid] = eid
        if len(self.mids) > 4 * MAX_UNCONFIRMED:
            # PUBACKs that never came (a broker that went away): nothing waits on them.
            for mid in list(self.mids)[: len(self.mids) // 2]:
                del self.mids[mid]

    def _payload(self, ev: M.Event, device: str, eid: str) -> tuple[str, dict[str, Any]]:
        """Topic and body of one event.  Never raises: a bug here must not leave
        the event un-ackable (a box whose ring fills refuses every press)."""
        model: type[BaseModel]
        try:
            topic, body, model = self._body(ev, device, eid)
        except Exception:
            self.stats["payload_bugs"] += 1
            log.exception("counter %d: bug building the payload of event %s (source %d, code %d); "
                          "sending its bare fields for the core to store or refuse as bad_payload",
                          self.counter, eid, ev.source, ev.code)
            topic, body, model = self._bare_body(ev, device, eid)
        try:
            model.model_validate(body)
        except ValidationError as e:
            # The core judges the contract; it answers bad_payload, which settles the event.
            log.error("counter %d: event %s does not fit the contract (%s); sent anyway",
                      self.counter, eid, str(e).replace("\n", "; "))
        return topic, body

    def _pressed(self, ev: M.Event, device: str) -> dict[str, Any]:
        # The box's clock travels with every press: the core judges a press on
        # when it was made (boot + device_time_ms, mapped), not on arrival.
        # relay_rx_ms: when it was pressed, on this bridge's clock, as well as
        # the bridge can tell: when it read it, or earlier by the box's own
        # clock (its HEARTBEATs say what time it is on the box), for an event
        # the box held while the bridge was away.
        now = monotonic_ms()
        pressed = self.box_clocks.learn((device, ev.boot), ev.time_ms, now)
        return {"device": device, "boot": int(ev.boot), "device_time_ms": int(ev.time_ms),
                "relay": self.relay, "relay_rx_ms": pressed, "relay_tx_ms": now}

    def _body(self, ev: M.Event, device: str, eid: str) -> tuple[str, dict[str, Any], type[BaseModel]]:
        if ev.source == M.SRC_KEY:
            action = M.KEY_NAMES[ev.code]
            if action == "pause" and (self.state or {}).get("status") == "paused":
                action = "resume"
            body = {"command_id": eid, "action": action, "source": device, **self._pressed(ev, device)}
            return self.topics.counter_command(self.counter), body, contract.CounterCommand
        if not 1 <= ev.code <= self.n_levels:
            log.warning("counter %d: box %s sent button %d but the site has levels 1..%d; sent as is, "
                        "the core keeps it as anomaly bad_level (not counted)",
                        self.counter, device, ev.code, self.n_levels)
        body = {"rating_id": eid, "level": int(ev.code), **self._pressed(ev, device),
                "received_at": round(time.time(), 3), "source": f"bridge:{self.user}"}
        return self.topics.counter_rating(self.counter), body, contract.RatingPress

    def _bare_body(self, ev: M.Event, device: str, eid: str) -> tuple[str, dict[str, Any], type[BaseModel]]:
        pressed = {"device": device, "boot": int(ev.boot), "device_time_ms": int(ev.time_ms)}
        if ev.source == M.SRC_KEY:
            body = {"command_id": eid, "action": M.KEY_NAMES.get(ev.code, f"key-{ev.code}"),
                    "source": device, **pressed}
            return self.topics.counter_command(self.counter), body, contract.CounterCommand
        body = {"rating_id": eid, "level": int(ev.code), **pressed, "source": f"bridge:{self.user}"}
        return self.topics.counter_rating(self.counter), body, contract.RatingPress

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
        # The broker has the message in memory: nothing the box may forget yet.
        eid = self.mids.pop(mid, None)
        if eid is not None:
            self.stats["pubacked"] += 1
            log.debug("counter %d: broker accepted %s; waiting for the core", self.counter, eid)

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
            self._confirmation(body)

    def _confirmation(self, body: dict[str, Any]) -> None:
        """The core's answer to a command or rating: the event is committed (or can never be)."""
        if "rating_id" in body:
            eid, kind = body["rating_id"], "rating"
        else:
            eid, kind = body.get("command_id"), "key"
        if not isinstance(eid, str):
            return
        waiting = self.unconfirmed.get(eid)
        if waiting is None or waiting.kind != kind:
            return  # someone else's command (console, CLI), or settled already
        ok = body.get("ok")
        if not isinstance(ok, bool):
            log.warning("counter %d: reply to %s without ok; not taken as a confirmation", self.counter, eid)
            return
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        if not ok and error.get("code") == "bad_payload":
            # It will never succeed, however often it is sent: settle it, loudly.
            self.stats["bad_payload"] += 1
            log.error("counter %d: the core rejected event %s as malformed (%s); acknowledged to the "
                      "box and dropped", self.counter, eid, error.get("message", error))
        elif not ok:
            # A refusal (nobody waits, no current ticket) is a committed outcome.
            self.stats["core_refused"] += 1
            log.info("counter %d: core refused %s: %s", self.counter, eid, error.get("message", error))
        self._settle(eid, waiting)
        if not ok and kind == "key" and self._box_is(waiting.key[0]):
            self._send(M.Beep(M.BEEP_ERROR))

    def _settle(self, eid: str, waiting: Unconfirmed) -> None:
        """The core has the event: remember that, then let the box forget it."""
        self.unconfirmed.pop(eid)
        self.stats["confirmed"] += 1
        try:
            self.ledger.record(*waiting.key, eid)
        except sqlite3.Error as e:
            # The ledger only spares a republish; the core dedupes by id anyway.
            log.error("counter %d: ledger write for %s failed (%s); acking the box regardless",
                      self.counter, eid, e)
        if self._box_is(waiting.key[0]):
            self.stats["acked"] += 1
            self._send(M.Ack(waiting.key[1], waiting.key[2]))
        self._release(waiting.key[0])

    def _box_is(self, device: str) -> bool:
        """Whether that box is the one on the port now (ACK and BEEP go to it only)."""
        return self.link.is_open and self.hello is not None and self.hello.device_id == device


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
