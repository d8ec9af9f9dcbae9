"""The core service: the engine on the bus.

Threads, and why:
- paho's network thread only queues what arrives (``inbox``), so a slow
  commit or print never stalls keepalives and acks;
- the service thread (``run``) is the only one that touches the engine and
  the database: it takes an item from the inbox, hands a message to the
  command pipeline (kiosk/core/commands.py), which validates, applies and
  commits it, and only then publishes state and the reply.  Everything
  goes out through ``_publish``, the one publishing path;
- the printer thread (when a printer is configured) prints after the ticket
  is committed and reports back through the inbox.

The inbox holds typed items (kiosk/core/service_inbox.py): ``Inbound``, ``Connected``,
``Reread`` (SIGHUP, service_config.py), the printer's ``Printed``, ``PrinterReport``.
The wait forecast is played off the hot path (service_waits.py).

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

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.contract import Topics
from kiosk.core import printq, refusals, service_config, views
from kiosk.core.commands import Commands, Outcome
from kiosk.core.engine import Engine
from kiosk.core.commands_config import LiveConfig, take_first_admin
from kiosk.core.printq import Printed, PrinterReport, PrintJob, PrintWorker
from kiosk.core.service_board import DayRatings, recent_calls
from kiosk.core.service_inbox import Connected, Inbound, Reread, Stop
from kiosk.core.service_outbox import EventsOutbox
from kiosk.core.service_tickets import TicketsFeed
from kiosk.core.service_waits import WaitsPacer

log = logging.getLogger("phucvu.core")

LAST_CALLS = 10
# At most this many waiting messages share one publication of the state
# (``CoreService._batch``): enough for a burst of 60 counters, few enough that
# the first reply of a batch is not held long behind the last commit.
BATCH_MAX = 32
# A change that is no call (a ticket issued, a finish, a pause) reaches the
# snapshot and the summary within this long, several at a time; a call or a
# recall goes out at once.  A busy centre changes its waiting counts many
# times a second, and every display and kiosk decodes each 12 KB snapshot.
VIEWS_EVERY_S = 0.5
_CALLS = ("ticket_called", "ticket_recalled")


class CoreService:
    """The command pipeline (``Commands``) on the broker: one connection, the
    service thread's loop, acknowledgements after the commit, and every
    publish (the threads are in the module's docstring)."""

    def __init__(self, config: SiteConfig, engine: Engine, *, host: str, port: int,
                 username: str, password: str, device: str = "core",
                 printer: Any = None, monotonic: Callable[[], float] = time.monotonic,
                 config_path: str | None = None, phone_secret: bytes | None = None):
        self.config = config
        self.engine = engine
        # phone_secret: the [phone] site secret (tokens on paper, phone ratings).
        self.phone_secret = phone_secret
        self.commands = Commands(config, engine, printing=printer is not None,
                                 phone_secret=phone_secret)
        self.topics = Topics(config.topic_prefix)
        self.host, self.port = host, port
        self.device = device
        self.printer = printer
        self.monotonic = monotonic
        self.inbox: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self.print_worker: PrintWorker | None = None
        self.printer_status: dict | None = None
        # Tickets whose print job an earlier run left unanswered, alerted once connected.
        self.interrupted: list[dict] = []
        self.last_calls: deque[dict] = deque(recent_calls(config, engine, LAST_CALLS),
                                                maxlen=LAST_CALLS)
        # Bumped on every connection (see Inbound).
        self._connection = 0
        # An internal item that ended a batch of messages, taken next (``_batch``).
        self._held: list = []
        # The last snapshot and summary published (``_publish_changed``).
        self._last_state: dict[str, dict] = {}
        # No change but a call publishes them before this (monotonic); ``_views_due``: one waits.
        self._views_next = 0.0
        self._views_due: float | None = None
        self.day_ratings = DayRatings(engine)
        self.tickets = TicketsFeed(self)      # queue/tickets, for the phone page
        self.waits = WaitsPacer(self)         # the wait forecast, played off the hot path
        self.outbox = EventsOutbox(self)      # events sent again if a cut kept them from the broker
        # The site file and its history: live changes, config/site, SIGHUP.
        self.live: LiveConfig | None = None
        if config_path is not None:
            self.live = LiveConfig(config_path, config, engine.store, engine.clock)
            self.commands.live, self.commands.on_config = self.live, self.use
        self.client = contract.mqtt_client(username, username=username,
                                           password=password, prefix=config.topic_prefix,
                                           device=device, keepalive=config.mqtt.keepalive,
                                           persistent=True, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        # Before anything prints: a job pending from an earlier run may have
        # printed or not, so it goes to the reprint queue, never to the printer.
        self.interrupted = self.engine.store.interrupt_prints(self.engine.clock())
        for t in self.interrupted:
            log.warning("ticket %s: the core stopped before the printer confirmed it; "
                        "it waits in the reprint queue", t["label"])
        if forgotten := self.commands.forget_old_replies():
            log.info("forgot %d command replies past their memory", forgotten)
        if self.live is not None:
            take_first_admin(self.live.path, self.engine.store)
            self.live.start()
        if self.printer is not None:
            self.print_worker = PrintWorker(self.printer, self.config, report=self.inbox.put,
                                            poll_s=self.config.mqtt.keepalive,
                                            phone_secret=self.phone_secret)
            self.print_worker.start()
        self.client.connect_async(self.host, self.port, self.config.mqtt.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.inbox.put(Stop())

    def reread(self) -> None:
        """SIGHUP (from a signal handler: only queues it for the service thread)."""
        self.inbox.put(Reread())

    def use(self, new: SiteConfig) -> list[tuple[str, Any, bool]]:
        """Every holder of the config switched to ``new`` (service_config.switch)."""
        return service_config.switch(self, new)

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
            for due in (self._views_due, self.tickets.due, self.waits.due, self.outbox.due):
                if due is not None:
                    timeout = min(timeout, max(0.0, due - self.monotonic()))
            try:
                item = self._held.pop() if self._held else self.inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, Stop):
                notify.stopping("stopping")
                self.outbox.flush()
                notify.close()
                return
            if isinstance(item, Inbound):
                self._take_messages(self._batch(item))
            elif item is not None:
                self._take(item)
            if self.monotonic() >= next_refresh:
                # Liveness for displays (stale mark) and hours that open/close.
                self._publish_state(counters=None)
                next_refresh = self.monotonic() + period
            elif self._views_due is not None and self.monotonic() >= self._views_due:
                self._publish_state(counters=set())
            self.tickets.poll()
            self.waits.poll()
            self.outbox.poll()

    def _batch(self, first: Inbound) -> list[Inbound]:
        """``first`` and the messages already waiting behind it (never waits
        for more).  A busy centre's messages come faster than one at a time;
        handled as one batch, they share one publication of the retained
        state, which every display, kiosk, box and console decodes."""
        batch = [first]
        while len(batch) < BATCH_MAX:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, Inbound):
                self._held.append(item)      # taken next, in its turn
                break
            batch.append(item)
        return batch

    def _take_messages(self, batch: list[Inbound]) -> None:
        """The messages handled in turn and committed together, then what
        they did published once (state, events, replies, in that order);
        never dies on one, the log line says which.

        One commit for the batch (``Store.group``): each message is its own
        savepoint, so one that fails is undone alone.  If the group's commit
        itself fails, none of it happened: memory is reloaded from the
        database and the messages are handled again one by one, each with
        its own commit, as if they had come singly."""
        outcomes = None
        # A config change writes the site file and is committed on its own:
        # never inside a group commit, which could still be undone after it.
        if len(batch) > 1 and not any(self._config_change(m) for m in batch):
            try:
                with self.engine.store.group():
                    outcomes = self._handle_each(batch)
            except Exception:
                log.exception("the commit of %d messages failed; handling them one by one", len(batch))
                self.engine.reload()
                outcomes = None
        if outcomes is None:
            outcomes = self._handle_each(batch)
        try:
            self._publish_outcomes(outcomes)
        except Exception:
            log.exception("failed to publish what %d messages did", len(batch))
        # After the commit (or the decision that there is nothing to
        # commit): only now may the broker forget them.
        for msg in batch:
            self._ack(msg)

    def _config_change(self, msg: Inbound) -> bool:
        return msg.topic == self.topics.core_command and \
            refusals.peek(msg.payload, "action") in ("config_apply", "config_restore")

    def _handle_each(self, batch: list[Inbound]) -> list[Outcome]:
        outcomes = []
        for msg in batch:
            try:
                outcomes.append(self.commands.handle(msg.topic, msg.payload))
            except Exception as e:
                log.exception("failed to handle %s", msg.topic)
                # The message itself is kept for a person to look at, and its
                # sender hears so instead of sending it again for ever.
                try:
                    outcomes.append(self.commands.failed(msg.topic, msg.payload, e))
                except Exception:
                    log.exception("could not reply to %s after an internal error", msg.topic)
        return outcomes

    def _take(self, item: Connected | Printed | PrinterReport | Reread) -> None:
        """One internal item of the inbox; never dies on one, the log line says which."""
        try:
            self._internal(item)
        except Exception:
            log.exception("failed to handle %s", type(item).__name__)

    def _internal(self, item: Connected | Printed | PrinterReport | Reread) -> None:
        match item:
            case Connected():
                self._connected()
            case Printed(job=job, result=result):
                self._printed(job, result)
            case PrinterReport(status=status):
                self._printer_report(status)
            case Reread():
                self._reread()

    def _reread(self) -> None:
        for topic, body, retain in service_config.reread(self):
            self._publish(topic, body, retain=retain)

    # ---------------------------------------------------------------- paho
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.error("broker refused the core: %s", reason_code)
            return
        t = self.topics
        self._connection += 1
        for topic in (t.ticket_request("+"), t.counter_command("+"), t.counter_rating("+"),
                      t.core_command, t.phone_rating):
            client.subscribe(topic, qos=1)
        self.inbox.put(Connected())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self.inbox.put(Inbound(msg.topic, msg.payload, msg.mid, msg.qos, self._connection))

    def _ack(self, msg: Inbound) -> None:
        if msg.qos > 0 and msg.connection == self._connection:
            self.client.ack(msg.mid, msg.qos)

    # ------------------------------------------------------------- publishing
    def _publish(self, topic: str, body: dict | bytes, retain: bool = False) -> Any:
        payload = body if isinstance(body, bytes) else contract.encode(body)
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def _connected(self) -> None:
        if self.ready.is_set():
            log.info("reconnected; republishing retained state")
        contract.announce_online(self.client, self.config.topic_prefix, self.device,
                                 self.engine.clock())
        self._publish_state(counters=None)
        self.tickets.republish()    # the broker may have lost its retained copy
        # What the provincial aggregator needs to judge this site's events.
        self._publish(self.topics.site_info, views.site_info(self.config, self.engine.clock()),
                      retain=True)
        if self.live is not None:
            self._publish(self.topics.config_site, self.live.payload(), retain=True)
        if self.printer_status is not None:
            self._publish(self.topics.printer_status, self.printer_status, retain=True)
        if not self.ready.is_set():
            self.outbox.catch_up()
        while self.interrupted:
            self._publish(self.topics.alert_event,
                          printq.alert(self.interrupted.pop(0), "interrupted", self.engine.clock()))
        if not self.ready.is_set():
            self.ready.set()
            log.info("core ready on %s:%s as %s", self.host, self.port, self.device)

    def _printed(self, job: PrintJob, result: Any) -> None:
        now = self.engine.clock()
        if job.test:
            self._printer_report(result)
            self._publish(job.reply_to, printq.test_reply(job, result, now))
            return
        reply = printq.record(self.engine.store, job, result, now)
        self._printer_report(result)
        if not result.printed:
            self._publish(self.topics.alert_event, printq.alert(job.ticket, result.state, now))
        if reply is not None:
            self._publish(job.reply_to, reply)

    def _printer_report(self, st: Any) -> None:
        body = {"state": st.state, "detail": st.detail}
        if self.printer_status is None or {k: self.printer_status[k] for k in body} != body:
            log.info("printer: %s (%s)", st.state, st.detail)
        self.printer_status = {**body, "at": self.engine.clock()}
        self._publish(self.topics.printer_status, self.printer_status, retain=True)

    def _publish_outcomes(self, outs: list[Outcome]) -> None:
        """State and events first, then the replies; tickets go to the printer last."""
        if any(o.republish for o in outs):
            self._publish_state(counters=None)
            self.tickets.republish()
        ran = [o.events for o in outs if o.events is not None]
        if ran:
            self._after([e for events in ran for e in events])
        for out in outs:
            for topic, body, retain in out.messages:
                self._publish(topic, body, retain=retain)
        for out in outs:
            if out.reply is not None and out.reply_to is not None:
                self._publish(out.reply_to, out.reply)
        for out in outs:
            if out.print_job is not None and self.print_worker is not None:
                self.print_worker.submit(out.print_job)

    def _after(self, events: list[dict]) -> None:
        """Publish what committed events changed: state first, then events."""
        counters: set[int] | None = set()
        calls: dict[str, dict] = {}
        self.day_ratings.count(events)
        for e in events:
            if e["kind"] in ("day_started", "day_closed"):
                counters = None
            elif counters is not None and "counter" in e:
                counters.add(e["counter"])
            if e["kind"] in _CALLS:
                calls[e["call_id"]] = views.call_body(self.config, self.engine.queue, e)
                self.last_calls.appendleft(calls[e["call_id"]])
        self._publish_state(counters, urgent=bool(calls))
        self.tickets.changed()      # after a commit only: no heartbeat rebuilds the day's list
        for e in events:
            if e["kind"] in _CALLS:
                self._publish(self.topics.call_event, calls[e["call_id"]])
        self.outbox.publish(events)     # followed until the broker has them

    def _publish_state(self, counters: set[int] | None, urgent: bool = False) -> None:
        """The retained state: the snapshot, the counters named (None: all, and
        everything republished as a heartbeat), the summary.

        The snapshot and summary go out at once for a heartbeat or an
        ``urgent`` change (a call), else at most every VIEWS_EVERY_S: a
        change that comes sooner waits for ``run`` to publish it when due."""
        heartbeat = counters is None
        mono = self.monotonic()
        both = heartbeat or urgent or mono >= self._views_next
        if both:
            self._views_next = mono + VIEWS_EVERY_S
            self._views_due = None
        elif self._views_due is None:
            self._views_due = self._views_next
        now, q, engine_mono = self.engine.clock(), self.engine.queue, self.engine.monotonic()
        if both:
            summary = q.summary(now, self.waits.forecast())
            self._publish_changed(self.topics.display_snapshot,
                                  views.snapshot(self.config, q, now, summary, list(self.last_calls),
                                                 self.day_ratings.levels()),
                                  heartbeat)
        for c in self.config.counters:
            if counters is None or c.number in counters:
                self._publish(self.topics.counter_state(c.number),
                              views.counter_state(self.config, q, c.number, now, engine_mono),
                              retain=True)
        if both:
            summary["updated_at"] = now
            self._publish_changed(self.topics.queue_summary, summary, heartbeat)

    def _publish_changed(self, topic: str, body: dict, heartbeat: bool) -> None:
        """A retained body, unless it says what the last one said (its time
        aside) and this is no heartbeat.  A busy centre's rating presses
        change neither the snapshot nor the summary; every display and
        kiosk would decode 12 KB for nothing, many times a second."""
        same = {k: v for k, v in body.items() if k != "updated_at"}
        if not heartbeat and self._last_state.get(topic) == same:
            return
        self._last_state[topic] = same
        self._publish(topic, body, retain=True)
