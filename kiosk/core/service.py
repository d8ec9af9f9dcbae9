"""The core service: the engine on the bus.

Threads, and why:
- paho's network thread only queues what arrives (``inbox``), so a slow
  commit or print never stalls keepalives and acks;
- the service thread (``run``) is the only one that touches the engine and
  the database: it takes a message, validates it, applies it, commits, and
  only then publishes state and replies.  Everything goes out through
  ``_publish``, the one publishing path;
- the printer thread (when a printer is configured) prints after the ticket
  is committed and hands the outcome back through the inbox.

A command id seen before gets the stored reply and is not applied again
(QoS 1 redelivers; a bridge that restarts re-sends).  On every (re)connect
the service subscribes again and republishes all retained state.

End to end (docs/architecture.md, "A press, end to end"; docs/mqtt.md, "Who
may forget a message"): the core acknowledges an inbound QoS 1 message only
after the transaction holding its effect has committed (paho's
``manual_ack``), and confirms every press and key on ``counter/<n>/reply``,
which is what lets a bridge tell its box to forget it.  A crash before the
commit leaves the message with the broker.
"""
from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections import deque
from typing import Any, Callable

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.contract import (CoreCommand, CounterCommand, PayloadError, RatingPress,
                            TicketRequest, Topics)
from kiosk.core import views
from kiosk.core.domain import DomainError, public_event
from kiosk.core.engine import Engine

log = logging.getLogger("phucvu.core")

LAST_CALLS = 10
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_STOP = object()

_COUNTER_OPS: dict[str, str] = {
    "next": "call_next", "recall": "recall", "no_show": "no_show", "finish": "finish",
    "transfer": "transfer", "pause": "pause", "resume": "resume", "call": "call_specific",
}


class CoreService:
    def __init__(self, config: SiteConfig, engine: Engine, *, host: str, port: int,
                 username: str, password: str, device: str = "core",
                 printer: Any = None, monotonic: Callable[[], float] = time.monotonic):
        self.config = config
        self.engine = engine
        self.topics = Topics(config.topic_prefix)
        self.host, self.port = host, port
        self.device = device
        self.printer = printer
        self.monotonic = monotonic
        self.inbox: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self.print_worker = None
        self.printer_status: dict | None = None
        self.last_calls: deque[dict] = deque(self._load_last_calls(), maxlen=LAST_CALLS)
        # Bumped on every connection: a message is acknowledged on the
        # connection that brought it, never on a later one where its packet
        # id may name another message (the broker redelivers it instead).
        self._connection = 0
        self.client = contract.mqtt_client(username, username=username,
                                           password=password, prefix=config.topic_prefix,
                                           device=device, keepalive=config.mqtt.keepalive,
                                           persistent=True, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.printer is not None:
            from kiosk.core.printq import PrintWorker
            from kiosk.printing.tools import view_from_ticket
            self.print_worker = PrintWorker(
                self.printer,
                lambda ticket, reprint: view_from_ticket(self.config, ticket, reprint=reprint),
                on_done=lambda job, result: self.inbox.put(("__printed__", (job, result))),
                on_status=lambda st: self.inbox.put(("__printer__", st)),
                poll_s=self.config.mqtt.keepalive)
            self.print_worker.start()
        self.client.connect_async(self.host, self.port, self.config.mqtt.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.inbox.put(_STOP)

    def close(self) -> None:
        if self.print_worker is not None:
            self.print_worker.stop()
            self.print_worker.join(30)
            self.printer.close()
        # A clean stop says "offline" itself; the will covers crashes.
        self.client.publish(self.topics.presence(self.device),
                            contract.presence(self.device, "offline", self.engine.clock()), qos=1,
                            retain=True)
        self.client.loop_stop()
        self.client.disconnect()

    def run(self) -> None:
        """The service loop; returns after ``stop()``.

        Under systemd it also feeds the watchdog (kiosk/sdnotify.py): it wakes
        at least twice per ping interval, and only this loop pings, so a
        commit or print that hangs here stops the pings and systemd restarts
        the core.  READY=1 goes out once connected and retained state is out.
        """
        from kiosk.sdnotify import Notifier
        notify = Notifier()
        period = self.config.mqtt.keepalive
        wake = notify.wake_every(period)
        next_refresh = self.monotonic() + period
        announced = False
        while True:
            notify.watchdog()
            if not announced and self.ready.is_set():
                notify.ready(f"serving {self.config.site.id} on {self.host}:{self.port}")
                announced = True
            timeout = min(wake, max(0.0, next_refresh - self.monotonic()))
            try:
                item = self.inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                notify.stopping("stopping")
                notify.close()
                return
            if item is not None:
                topic, payload = item[0], item[1]
                try:
                    self._dispatch(topic, payload)
                except Exception as e:
                    # Never die on one message; the log line says which, and
                    # the message itself is kept for a person to look at.
                    log.exception("failed to handle %s", topic)
                    if not topic.startswith("__"):
                        self._keep_rejected(topic, payload, f"internal error: {e!r}")
                        self._internal_error(topic, payload, e)
                if len(item) > 2:
                    # After the commit (or the decision that there is
                    # nothing to commit): only now may the broker forget it.
                    self._ack(item[2])
            if self.monotonic() >= next_refresh:
                # Liveness for displays (stale mark) and hours that open/close.
                self._publish_state(counters=None)
                next_refresh = self.monotonic() + period

    # ---------------------------------------------------------------- paho
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.error("broker refused the core: %s", reason_code)
            return
        t = self.topics
        self._connection += 1
        for topic in (t.ticket_request("+"), t.counter_command("+"), t.counter_rating("+"),
                      t.core_command):
            client.subscribe(topic, qos=1)
        self.inbox.put(("__connected__", b""))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self.inbox.put((msg.topic, msg.payload, (msg.mid, msg.qos, self._connection)))

    def _ack(self, token: tuple[int, int, int]) -> None:
        mid, qos, connection = token
        if qos > 0 and connection == self._connection:
            self.client.ack(mid, qos)

    def _publish(self, topic: str, body: dict | bytes, retain: bool = False) -> None:
        payload = body if isinstance(body, bytes) else contract.encode(body)
        self.client.publish(topic, payload, qos=1, retain=retain)

    # ------------------------------------------------------------ dispatch
    def _dispatch(self, topic: str, payload: bytes) -> None:
        t = self.topics
        if topic == "__connected__":
            if self.ready.is_set():
                log.info("reconnected; republishing retained state")
            contract.announce_online(self.client, self.config.topic_prefix, self.device,
                                     self.engine.clock())
            self._publish_state(counters=None)
            # What the provincial aggregator needs to judge this site's events.
            self._publish(self.topics.site_info, contract.site_info(self.config, self.engine.clock()),
                          retain=True)
            if self.printer_status is not None:
                self._publish(self.topics.printer_status, self.printer_status, retain=True)
            if not self.ready.is_set():
                self.ready.set()
                log.info("core ready on %s:%s as %s", self.host, self.port, self.device)
            return
        if topic == "__printed__":
            self._printed(*payload)  # type: ignore[misc]
            return
        if topic == "__printer__":
            self._printer_status(payload)
            return
        if (n := t.counter_of(topic)) is not None:
            self._counter_command(n, payload)
        elif (n := t.counter_of(topic, "rating")) is not None:
            self._rating(n, payload)
        elif topic == t.core_command:
            self._core_command(payload)
        elif topic.startswith(t.ticket_request("")):
            self._ticket_request(topic.removeprefix(t.ticket_request("")), payload)
        else:
            self._bad_topic(topic, payload)

    def _reply_route(self, topic: str) -> tuple[str, str] | None:
        """Where the answer to a message on ``topic`` goes, and the key of its id.

        A counter topic is answered on its own counter segment, even one
        that names no counter (``counter/01`` -> ``counter/01/reply``), so
        its sender hears why; None when there is nobody to answer.
        """
        t = self.topics
        for leaf, key in (("command", "command_id"), ("rating", "rating_id")):
            segment = t.segment(topic, "counter", leaf)
            if segment:
                return t.counter_reply(segment), key
        if topic == t.core_command:
            return t.core_reply, "command_id"
        if topic.startswith(t.ticket_request("")):
            client = topic.removeprefix(t.ticket_request(""))
            if _CLIENT_ID.match(client):
                return t.ticket_reply(client), "request_id"
        return None

    def _bad_topic(self, topic: str, payload: bytes) -> None:
        """A message on a topic that names no counter (``counter/01``, ``counter/abc``)."""
        self._keep_rejected(topic, payload, "bad_topic")
        route = self._reply_route(topic)
        if route is None:
            log.warning("message on unexpected topic %s kept in the rejected table", topic)
            return
        known = [c.number for c in self.config.counters]
        log.warning("message on %s refused: it names no counter", topic)
        reply_topic, key = route
        self._publish(reply_topic, {key: self._peek(payload, key), **self._error(
            "bad_topic", f"{topic!r} names no counter: counters are written as plain numbers, "
                         f"one of {known}")})

    def _internal_error(self, topic: str, payload: bytes, exc: Exception) -> None:
        """A reply for a message a bug kept the core from handling.

        The message is in the rejected table; without a reply its sender
        (a bridge, for a box's press) would send it again for ever.
        """
        route = self._reply_route(topic)
        if route is None:
            return
        reply_topic, key = route
        try:
            self._publish(reply_topic, {key: self._peek(payload, key), **self._error(
                "internal", f"the core could not handle this message ({type(exc).__name__}); "
                            "it is kept for a person to look at")})
        except Exception:
            log.exception("could not reply to %s after an internal error", topic)

    def _keep_rejected(self, topic: str, payload: bytes, reason: str) -> None:
        try:
            self.engine.store.reject(self.engine.clock(), topic, payload, reason)
        except Exception:
            log.exception("could not keep the rejected message from %s", topic)

    @staticmethod
    def _peek(payload: bytes, key: str) -> Any:
        """A correlation id from a payload that failed validation, if any."""
        try:
            value = json.loads(payload).get(key)
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, (str, int)) else None

    def _error(self, code: str, message: str, **details: Any) -> dict:
        return {"ok": False, "error": {"code": code, "message": message, **details}}

    # ------------------------------------------------------- counter commands
    def _counter_command(self, n: int, payload: bytes) -> None:
        reply_topic = self.topics.counter_reply(n)
        try:
            cmd = contract.decode(CounterCommand, payload)
        except PayloadError as e:
            log.warning("bad command on counter %s: %s", n, e)
            self._keep_rejected(self.topics.counter_command(n), payload, str(e))
            self._publish(reply_topic, {"command_id": self._peek(payload, "command_id"),
                                        **self._error("bad_payload", str(e))})
            return
        key = f"counter/{n}:{cmd.command_id}"
        stored = self.engine.store.command_reply(key)
        if stored is not None:
            log.info("command %s on counter %s seen before; same reply", cmd.command_id, n)
            self._publish(reply_topic, stored)
            return
        op = _COUNTER_OPS[cmd.action]
        args: list[Any] = [n]
        kwargs: dict[str, Any] = {}
        if cmd.action == "call":
            args.append(cmd.number)
        elif cmd.action == "transfer":
            kwargs = {"to_field": cmd.to_field, "to_counter": cmd.to_counter}
        if op in ("call_next", "call_specific", "finish") and cmd.press is not None:
            # A box's key: the rating window opens when it was pressed.
            kwargs["press"] = cmd.press
        reply: dict[str, Any] = {}

        def record(outcome: list[dict] | DomainError) -> list:
            if isinstance(outcome, DomainError):
                reply.update(self._error(outcome.code, outcome.message))
            else:
                reply.update({"ok": True, "ticket": views.counter_reply_ticket(self.engine.queue, n)})
            reply.update({"command_id": cmd.command_id, "action": cmd.action, "counter": n})
            return [self._remember(key, reply)]

        try:
            events = self.engine.run(op, *args, extra=record, **kwargs)
        except DomainError as e:
            log.info("counter %s %s refused: %s", n, cmd.action, e.message)
            self._after(e.events)
            self._publish(reply_topic, reply)
            return
        self._after(events)
        self._publish(reply_topic, reply)

    def _remember(self, key: str, reply: dict) -> tuple[str, tuple]:
        return ("INSERT INTO commands (command_id, at, reply) VALUES (?, ?, ?)",
                (key, self.engine.clock(), json.dumps(reply, ensure_ascii=False)))

    # ----------------------------------------------------------- core commands
    def _core_command(self, payload: bytes) -> None:
        reply_topic = self.topics.core_reply
        try:
            cmd = contract.decode(CoreCommand, payload)
        except PayloadError as e:
            log.warning("bad core command: %s", e)
            self._keep_rejected(self.topics.core_command, payload, str(e))
            self._publish(reply_topic, {"command_id": self._peek(payload, "command_id"),
                                        **self._error("bad_payload", str(e))})
            return
        key = f"core:{cmd.command_id}"
        stored = self.engine.store.command_reply(key)
        if stored is not None:
            self._publish(reply_topic, stored)
            return
        if cmd.action == "republish":
            self._publish_state(counters=None)
            self._publish(reply_topic, {"command_id": cmd.command_id, "ok": True, "action": "republish"})
            return
        if cmd.action == "notice":
            self._publish(self.topics.display_notice, {"text": cmd.text}, retain=True)
            self._publish(reply_topic, {"command_id": cmd.command_id, "ok": True, "action": "notice"})
            return
        if cmd.action == "reprint":
            self._reprint(cmd, key, reply_topic)
            return
        if cmd.action.startswith("official_"):
            self._roster(cmd, key, reply_topic)
            return
        reply: dict[str, Any] = {}

        def record(outcome: list[dict] | DomainError) -> list:
            if isinstance(outcome, DomainError):
                reply.update(self._error(outcome.code, outcome.message))
            else:
                reply["ok"] = True
                issued = [e for e in outcome if e["kind"] == "ticket_issued"]
                if issued:
                    reply["ticket"] = views.ticket_full(self.config, self.engine.queue, self.engine.ticket(issued[0]["ticket_id"]))
            reply.update({"command_id": cmd.command_id, "action": cmd.action})
            return [self._remember(key, reply)]

        if cmd.action == "login" and cmd.pin is not None:
            from kiosk.core.auth import pin_matches
            if not pin_matches(self.engine.store.official(cmd.official or ""), cmd.pin):
                log.warning("login refused for %s at counter %s: wrong code or PIN", cmd.official, cmd.counter)
                self._publish(reply_topic, {"command_id": cmd.command_id, "action": "login",
                                            **self._error("bad_login", "wrong official code or PIN")})
                return
        try:
            if cmd.action == "close_day":
                events = self.engine.run("close_day", extra=record)
            elif cmd.action == "login":
                events = self.engine.run("login", cmd.counter, cmd.official, extra=record)
            elif cmd.action == "logout":
                events = self.engine.run("logout", cmd.counter, extra=record)
            else:
                events = self.engine.run("issue", cmd.field, cmd.priority, extra=record)
        except DomainError as e:
            self._after(e.events)
            self._publish(reply_topic, reply)
            return
        self._after(events)
        self._publish(reply_topic, reply)
        if cmd.action == "issue" and reply.get("ok"):
            self._print(reply["ticket"], None, None)

    # ---------------------------------------------------------------- tickets
    def _ticket_request(self, client: str, payload: bytes) -> None:
        """A kiosk's ticket request on ``ticket/request/<login>``.

        The reply goes to the login in the topic, which the broker's ACL
        vouches for; a ``client`` in the payload can only repeat it.
        """
        topic = self.topics.ticket_request(client)
        if not _CLIENT_ID.match(client):
            log.warning("ticket request on %s refused: not a client id", topic)
            self._keep_rejected(topic, payload, "bad_topic")
            return
        try:
            req = contract.decode(TicketRequest, payload)
            if req.client is not None and req.client != client:
                raise PayloadError(f"client: {req.client!r} is not the requester {client!r} "
                                   "(the reply goes to the login in the topic)")
        except PayloadError as e:
            log.warning("bad ticket request from %s: %s", client, e)
            self._keep_rejected(topic, payload, str(e))
            self._publish(self.topics.ticket_reply(client),
                          {"request_id": self._peek(payload, "request_id"),
                           **self._error("bad_payload", str(e))})
            return
        req.client = client
        key = f"ticket:{req.client}:{req.request_id}"
        stored = self.engine.store.command_reply(key)
        if stored is not None:
            # A retry after a lost reply (or a double tap): never a second ticket.
            log.info("ticket request %s from %s seen before", req.request_id, req.client)
            if stored.get("ok"):
                stored["print"] = self._print_state(stored["ticket"]["ticket_id"])
            self._publish(self.topics.ticket_reply(req.client), stored)
            return
        reply: dict[str, Any] = {}

        def record(outcome: list[dict] | DomainError) -> list:
            if isinstance(outcome, DomainError):
                details = {}
                if "next_open" in outcome.details:
                    details["next_open"] = outcome.details["next_open"]
                reply.update(self._error(outcome.code, outcome.message, **details))
            else:
                issued = next(e for e in outcome if e["kind"] == "ticket_issued")
                reply.update({"ok": True,
                              "ticket": views.ticket_full(self.config, self.engine.queue, self.engine.ticket(issued["ticket_id"]))})
            reply["request_id"] = req.request_id
            return [self._remember(key, reply)]

        try:
            events = self.engine.run("issue", req.field, req.priority, extra=record)
        except DomainError as e:
            log.info("ticket request from %s refused: %s", req.client, e.message)
            self._after(e.events)
            self._publish(self.topics.ticket_reply(req.client), reply)
            return
        self._after(events)
        self._print(reply["ticket"], req.client, reply)

    def _print(self, ticket: dict, client: str | None, reply: dict | None, *,
               reprint: bool = False, reply_topic: str | None = None,
               key: str | None = None) -> None:
        """Hand a committed ticket to the printer; a waiting reply goes out after."""
        topic = reply_topic or (self.topics.ticket_reply(client) if client else None)
        if self.print_worker is None:
            if reply is not None and topic is not None:
                reply["print"] = {"status": "not_printed", "reason": "no_printer",
                                  "detail": "this core runs without a printer"}
                self._publish(topic, reply)
            return
        self.print_worker.submit({"ticket": ticket, "reprint": reprint, "reply": reply,
                                  "topic": topic, "key": key})

    def _printed(self, job: dict, result: Any) -> None:
        ticket = job["ticket"]
        self.engine.store.record_print(ticket["ticket_id"], self.engine.clock(), job["reprint"],
                                       result.printed, result.state, result.detail,
                                       result.bytes_sent)
        self._printer_status(result)
        outcome = {"status": "printed"} if result.printed else \
            {"status": "not_printed", "reason": result.state, "detail": result.detail}
        if not result.printed:
            log.warning("ticket %s not printed (%s); it waits in the reprint queue",
                        ticket["label"], result.state)
            from kiosk.printing.status import MESSAGE_VI
            self._publish(self.topics.alert_event, {
                "alert_id": f"print-{ticket['ticket_id']}-{int(self.engine.clock() * 1000)}",
                "kind": "printer", "severity": "error", "state": result.state,
                "message": f"{MESSAGE_VI.get(result.state, result.state)}: phiếu {ticket['label']} "
                           f"chưa in được, đang chờ in lại",
                "ticket_id": ticket["ticket_id"], "label": ticket["label"],
                "at": self.engine.clock()})
        if job["reply"] is not None and job["topic"] is not None:
            job["reply"]["print"] = outcome
            if job.get("key"):
                with self.engine.store.transaction() as c:
                    c.execute("UPDATE commands SET reply = ? WHERE command_id = ?",
                              (json.dumps(job["reply"], ensure_ascii=False), job["key"]))
            self._publish(job["topic"], job["reply"])

    def _printer_status(self, st: Any) -> None:
        body = {"state": st.state, "detail": st.detail}
        if self.printer_status is None or {k: self.printer_status[k] for k in body} != body:
            log.info("printer: %s (%s)", st.state, st.detail)
        self.printer_status = {**body, "at": self.engine.clock()}
        self._publish(self.topics.printer_status, self.printer_status, retain=True)

    def _print_state(self, ticket_id: str) -> dict:
        last = self.engine.store.last_print(ticket_id)
        if last is None:
            return {"status": "pending"} if self.print_worker else \
                {"status": "not_printed", "reason": "no_printer"}
        if last["printed"]:
            return {"status": "printed"}
        return {"status": "not_printed", "reason": last["state"], "detail": last["detail"]}

    def _roster(self, cmd: CoreCommand, key: str, reply_topic: str) -> None:
        """Roster changes go through the core too: it is the only writer."""
        from kiosk.core.store import StoreError
        store = self.engine.store
        reply: dict[str, Any] = {"command_id": cmd.command_id, "action": cmd.action}
        try:
            store.apply_roster(cmd.action, cmd.official, name=cmd.name, role=cmd.role,
                               pin_hash=cmd.pin_hash, active=cmd.active)
            reply["ok"] = True
            log.info("roster: %s %s", cmd.action, cmd.official)
        except StoreError as e:
            reply.update(self._error("roster", str(e)))
        with store.transaction() as c:
            c.execute(*self._remember(key, reply))
        self._publish(reply_topic, reply)

    def _reprint(self, cmd: CoreCommand, key: str, reply_topic: str) -> None:
        state = self.engine.queue.state
        wanted = (cmd.ticket or "").strip().upper()
        ticket_id = state.by_label.get(wanted) or (cmd.ticket if cmd.ticket in state.tickets else None)
        base = {"command_id": cmd.command_id, "action": "reprint"}
        if ticket_id is None:
            self._publish(reply_topic, {**base, **self._error(
                "unknown_ticket", f"no ticket {cmd.ticket} today")})
            return
        last = self.engine.store.last_print(ticket_id)
        if last and last["printed"] and not cmd.force:
            # Nothing prints twice by accident: a printed ticket needs force.
            self._publish(reply_topic, {**base, **self._error(
                "already_printed", f"{state.tickets[ticket_id].label} was printed; "
                                   "reprint it on purpose with force")})
            return
        t = state.tickets[ticket_id]
        body = views.ticket_full(self.config, self.engine.queue, t)
        reply = {**base, "ok": True, "ticket": body, "print": {"status": "pending"}}
        # Remembered before printing: a redelivered command (QoS 1) gets this
        # reply, updated when the printer answers, and never a second copy.
        with self.engine.store.transaction() as c:
            c.execute(*self._remember(key, reply))
        self._print(body, None, reply, reprint=True, reply_topic=reply_topic, key=key)

    # ---------------------------------------------------------------- ratings
    def _rating(self, n: int, payload: bytes) -> None:
        """One press from counter n's box: stored (counted or not), then confirmed.

        Every press the contract can carry is stored, whatever its level;
        the confirmation on ``counter/<n>/reply`` is what lets the box forget
        it, so it goes out only after the commit, and again, identical, for
        a press delivered twice.
        """
        reply_topic = self.topics.counter_reply(n)
        try:
            press = contract.decode(RatingPress, payload)
        except PayloadError as e:
            log.error("bad rating press on counter %s, kept in the rejected table: %s", n, e)
            self._keep_rejected(self.topics.counter_rating(n), payload, str(e))
            self._publish(reply_topic, {"rating_id": self._peek(payload, "rating_id"),
                                        **self._error("bad_payload", str(e))})
            return
        stored = self.engine.store.rating_outcome(press.rating_id)
        if stored is not None:
            # QoS 1 redelivery, or a bridge re-sending after a crash.
            log.info("rating %s on counter %s seen before", press.rating_id, n)
            self._publish(reply_topic, {"rating_id": press.rating_id, "ok": True, **stored})
            return
        try:
            events = self.engine.run(
                "rate", n, press.level, rating_id=press.rating_id, source=press.source or "box",
                press=press.press,
                device_time_ms=press.device_time_ms, received_at=press.received_at)
        except DomainError as e:
            # unknown_counter cannot happen for a counter/N topic the config
            # names; kept all the same, never dropped unseen.
            log.warning("rating press on counter %s refused: %s", n, e.message)
            self._keep_rejected(self.topics.counter_rating(n), payload, f"{e.code}: {e.message}")
            self._after(e.events)
            self._publish(reply_topic, {"rating_id": press.rating_id,
                                        **self._error(e.code, e.message)})
            return
        e = next(x for x in events if x["kind"] == "rating_pressed")
        if e["counted"]:
            log.info("counter %s: rating %s for %s", n, e["level"], e["ticket_id"])
        else:
            log.warning("counter %s: press kept as anomaly %s (not counted)", n, e["reason"])
        self._after(events)
        self._publish(reply_topic, {"rating_id": press.rating_id, "ok": True,
                                    "counted": e["counted"], "reason": e["reason"],
                                    "level": e["level"]})

    # ------------------------------------------------------------- publishing
    def _after(self, events: list[dict]) -> None:
        """Publish what committed events changed: state first, then events."""
        counters: set[int] | None = set()
        for e in events:
            if e["kind"] in ("day_started", "day_closed"):
                counters = None
            elif counters is not None and "counter" in e:
                counters.add(e["counter"])
            if e["kind"] in ("ticket_called", "ticket_recalled"):
                self.last_calls.appendleft(self._call_body(e))
        self._publish_state(counters)
        for e in events:
            if e["kind"] in ("ticket_called", "ticket_recalled"):
                self._publish(self.topics.call_event, self._call_body(e))
            if e["kind"].startswith("ticket_"):
                self._publish(self.topics.ticket_event, {"site": self.config.site.id, **public_event(e)})
            elif e["kind"] == "rating_pressed":
                self._publish(self.topics.rating_event, {"site": self.config.site.id, **public_event(e)})

    def _publish_state(self, counters: set[int] | None) -> None:
        now = self.engine.clock()
        summary = self.engine.queue.summary(now)
        self._publish(self.topics.display_snapshot, self.snapshot(now, summary), retain=True)
        for c in self.config.counters:
            if counters is None or c.number in counters:
                self._publish(self.topics.counter_state(c.number), self.counter_state(c.number, now),
                              retain=True)
        summary["updated_at"] = now
        self._publish(self.topics.queue_summary, summary, retain=True)

    def _call_body(self, e: dict) -> dict:
        t = self.engine.ticket(e["ticket_id"])
        counter = self.config.counter(e["counter"])
        field = self.config.field(t.field)
        return {"call_id": e["call_id"], "call_seq": e["call_seq"], "ticket_id": t.id,
                "label": t.label, "counter": counter.number, "counter_name": counter.name,
                "field": t.field, "field_name_vi": field.name_vi,
                "recall": e["kind"] == "ticket_recalled", "at": e["at"]}

    def _load_last_calls(self) -> list[dict]:
        day = self.engine.queue.state.day
        if day is None:
            return []
        rows = self.engine.store.conn.execute(
            "SELECT c.call_id, c.call_seq, c.ticket_id, c.counter, c.at, c.recall FROM calls c "
            "JOIN tickets t ON t.id = c.ticket_id WHERE t.day = ? ORDER BY c.call_seq DESC LIMIT ?",
            (day, LAST_CALLS)).fetchall()
        calls = []
        for call_id, seq, ticket_id, counter, at, recall in rows:
            if self.engine.ticket(ticket_id) is None:
                continue
            calls.append(self._call_body({
                "kind": "ticket_recalled" if recall else "ticket_called", "call_id": call_id,
                "call_seq": seq, "ticket_id": ticket_id, "counter": counter, "at": at}))
        return calls

    def snapshot(self, now: float, summary: dict) -> dict:
        s = self.engine.queue.state
        counters = []
        for c in self.config.counters:
            k = s.counters[c.number]
            t = self.engine.ticket(k.current) if k.current else None
            counters.append({
                "number": c.number, "name": c.name, "status": k.status,
                "current": t.label if t else None, "field": t.field if t else None,
                "field_name_vi": self.config.field(t.field).name_vi if t else None,
                "official": k.official})
        waiting = [{"field": f["field"], "name_vi": f["name_vi"], "name_en": f["name_en"],
                    "prefix": f["prefix"], "waiting": f["waiting"],
                    "estimated_wait_min": f["estimated_wait_min"]}
                   for f in summary["fields"]]
        return {"site": self.config.site.id, "commune": self.config.site.commune,
                "centre": self.config.site.centre, "day": s.day, "day_closed": s.day_closed,
                "call_seq": s.call_seq, "updated_at": now, "counters": counters,
                "last_calls": list(self.last_calls), "waiting": waiting}

    def _window(self, n: int, now: float) -> dict | None:
        w = self.engine.queue.rating_window(n, self.engine.monotonic())
        # Boxes time their LEDs on wall time; the window itself is monotonic.
        return None if w is None else {"ticket_id": w["ticket_id"], "until": now + w["left_s"]}

    def counter_state(self, n: int, now: float) -> dict:
        c = self.config.counter(n)
        k = self.engine.queue.state.counters[n]
        t = self.engine.ticket(k.current) if k.current else None
        return {"counter": n, "name": c.name, "status": k.status, "fields": list(c.fields),
                "current": views.ticket_brief(t), "official": k.official,
                "waiting": self.engine.queue.waiting_for(n),
                "rating_window": self._window(n, now),
                "updated_at": now}
