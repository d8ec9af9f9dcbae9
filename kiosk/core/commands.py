"""The command pipeline: what the core does with every message it takes,
with no broker in sight.

Ticket requests, core commands, counter commands and ratings (a box's press,
a phone's rating in commands_phone.py; a case change in commands_cases.py)
all go through the same four steps:

1. **decode**: the payload is checked against its model in kiosk/contract.py;
   one that breaks the contract is kept in the ``rejected`` table and
   refused with ``bad_payload``;
2. **dedupe**: an id seen before (``commands.command_id``, ``ratings.id``)
   gets its stored outcome again and nothing is applied twice.  A command
   or ticket request id is remembered for ``COMMAND_MEMORY_S`` of wall time
   (a retry comes within seconds; a sender that reuses an id a day later
   means a new command); a rating id is remembered for ever, because a
   press counted twice judges an official;
3. **run**: the engine decides, then commits the effect together with the
   reply (``Engine.command``; a rating press is stored as its own outcome);
4. **reply**: an ``Outcome`` says what to publish, in order.

The core service (kiosk/core/service.py) hands it each message and publishes
the outcome; the command line, with no core running, calls ``core_command``
and ``counter_command`` with the bodies it would publish.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel

from kiosk import contract
from kiosk.config import SiteConfig
from kiosk.contract import (CoreCommand, CounterCommand, PayloadError, PhoneRating, RatingPress,
                            TicketRequest, Topics)
from kiosk.core import commands_cases, commands_phone, printq, refusals, views
from kiosk.core.auth import pin_matches
from kiosk.core.domain import DomainError
from kiosk.core.engine import Engine
from kiosk.core.printq import PrintJob
from kiosk.core.store import StoreError

log = logging.getLogger("phucvu.core")

# How long a command's or ticket request's reply is remembered (docs/mqtt.md,
# "Command ids").  Far longer than any sender retries: the bridge, the kiosk
# and the console retry within minutes, and a box's key older than this is
# stale anyway.
COMMAND_MEMORY_S = 24 * 3600

# A counter command's action -> the engine operation it runs.
COUNTER_OPS: dict[str, str] = {
    "next": "call_next", "recall": "recall", "no_show": "no_show", "finish": "finish",
    "transfer": "transfer", "pause": "pause", "resume": "resume", "call": "call_specific",
}


def counter_operation(n: int, cmd: CounterCommand) -> tuple[str, list[Any], dict[str, Any]]:
    """The engine operation a counter command runs at counter n: name, arguments, keywords."""
    op = COUNTER_OPS[cmd.action]
    args: list[Any] = [n]
    kwargs: dict[str, Any] = {}
    if cmd.action == "call":
        args.append(cmd.number)
    elif cmd.action == "transfer":
        kwargs = {"to_field": cmd.to_field, "to_counter": cmd.to_counter}
    if op in ("call_next", "call_specific", "finish") and cmd.press is not None:
        # A box's key: the rating window opens when it was pressed.
        kwargs["press"] = cmd.press
    return op, args, kwargs


@dataclass
class Outcome:
    """What one message did, for the service to publish in this order:

    - ``republish``: every retained state topic (``core/command`` republish);
    - ``events``: what was committed (state topics, then ``event/*``); None
      when no operation ran, [] when one ran and changed nothing;
    - ``messages``: further (topic, body, retain), e.g. ``display/notice``;
    - ``reply`` on ``reply_to``: the answer now; None when nobody is to be
      answered or the answer waits for the printer (``print_job.reply``);
    - ``print_job``: a committed ticket for the printer thread.
    """
    reply_to: str | None = None
    reply: dict | None = None
    events: list[dict] | None = None
    messages: list[tuple[str, dict, bool]] = field(default_factory=list)
    republish: bool = False
    print_job: PrintJob | None = None

    @property
    def answer(self) -> dict | None:
        """The reply as it stands now, even one still waiting for the printer."""
        if self.reply is None and self.print_job is not None:
            return self.print_job.reply
        return self.reply


class Commands:
    """Decode → dedupe → run → reply, for every command kind the core takes.

    ``engine`` owns the database (the one writer).  ``printing`` says that a
    printer thread takes the outcomes' print jobs; without one, a reply that
    would wait for the printer says ``no_printer`` at once.

    On the bus (the core service):
    - ``handle(topic, payload)``: one inbound message → ``Outcome``;
    - ``failed(topic, payload, exc)``: the reply to a message a fault kept
      from being handled (the message is kept in ``rejected``).

    Without a bus (the command line when no core runs), the same pipeline
    for a body as published, returning the reply the core would publish:
    - ``core_command(body)``: ``<prefix>/core/command`` → ``core/reply``;
    - ``counter_command(n, body)``: ``counter/<n>/command`` → ``counter/<n>/reply``.
    """

    def __init__(self, config: SiteConfig, engine: Engine, *, printing: bool = False,
                 phone_secret: bytes | None = None):
        self.config = config
        self.engine = engine
        self.printing = printing
        # The site secret that keys tickets' phone tokens ([phone]); None
        # without a phone page: every phone rating is then bad_token.
        self.phone_secret = phone_secret
        self.topics = Topics(config.topic_prefix)
        # The running centre's config and history (kiosk/core/commands_config.py),
        # and what switches every holder of the config to a new one and says
        # what to publish (the core service); without them (the command line
        # with no core running) a config command is refused.
        self.live: Any = None
        self.on_config: Callable[[SiteConfig], list[tuple[str, Any, bool]]] | None = None

    def _seen(self, key: str) -> dict[str, Any] | None:
        """The reply stored for ``key`` within the command memory, if any."""
        return self.engine.store.command_reply(key, self.engine.clock() - COMMAND_MEMORY_S)

    def forget_old_replies(self) -> int:
        """Drop the replies older than the command memory (at core start)."""
        return self.engine.store.forget_replies(self.engine.clock() - COMMAND_MEMORY_S)

    # ---------------------------------------------------------------- entries
    def handle(self, topic: str, payload: bytes) -> Outcome:
        t = self.topics
        if (n := t.counter_of(topic)) is not None:
            return self._counter(n, payload)
        if (n := t.counter_of(topic, "rating")) is not None:
            return self._rating(n, payload)
        if topic == t.core_command:
            return self._core(payload)
        if topic == t.phone_rating:
            r = self._decode(PhoneRating, payload, topic, t.phone_reply, "rating_id", "phone rating")
            return r if isinstance(r, Outcome) else Outcome(
                t.phone_reply, *commands_phone.handle(self, r, payload))
        if topic.startswith(t.ticket_request("")):
            return self._ticket(topic.removeprefix(t.ticket_request("")), payload)
        return self._bad_topic(topic, payload)

    def core_command(self, body: dict) -> dict:
        """``body`` as if on ``core/command``; the reply as on ``core/reply``."""
        return self._core(contract.encode(body)).answer

    def counter_command(self, n: int, body: dict) -> dict:
        """``body`` as if on ``counter/<n>/command``; the reply as on ``counter/<n>/reply``."""
        return self._counter(n, contract.encode(body)).answer

    def failed(self, topic: str, payload: bytes, exc: Exception) -> Outcome:
        """The reply to a message a fault kept the core from handling (kept in ``rejected``)."""
        self._keep(topic, payload, f"internal error: {exc!r}")
        answer = refusals.internal(self.topics, topic, payload, exc)
        return Outcome(*answer) if answer else Outcome()

    # ------------------------------------------------------- counter commands
    def _counter(self, n: int, payload: bytes) -> Outcome:
        reply_to = self.topics.counter_reply(n)
        cmd = self._decode(CounterCommand, payload, self.topics.counter_command(n), reply_to,
                           "command_id", f"command on counter {n}")
        if isinstance(cmd, Outcome):
            return cmd
        key = f"counter/{n}:{cmd.command_id}"
        stored = self._seen(key)
        if stored is not None:
            log.info("command %s on counter %s seen before; same reply", cmd.command_id, n)
            return Outcome(reply_to, stored)
        op, args, kwargs = counter_operation(n, cmd)

        def reply(outcome: list[dict] | DomainError) -> dict:
            if isinstance(outcome, DomainError):
                body = refusals.error(outcome.code, outcome.message)
            else:
                body = {"ok": True, "ticket": views.counter_reply_ticket(self.engine.queue, n)}
            return {**body, "command_id": cmd.command_id, "action": cmd.action, "counter": n}

        events, body = self.engine.command(op, *args, key=key, reply=reply, **kwargs)
        if not body["ok"]:
            log.info("counter %s %s refused: %s", n, cmd.action, body["error"]["message"])
        return Outcome(reply_to, body, events)

    # ----------------------------------------------------------- core commands
    def _core(self, payload: bytes) -> Outcome:
        reply_to = self.topics.core_reply
        cmd = self._decode(CoreCommand, payload, self.topics.core_command, reply_to, "command_id",
                           "core command")
        if isinstance(cmd, Outcome):
            return cmd
        key = f"core:{cmd.command_id}"
        if (stored := self._seen(key)) is not None:
            return Outcome(reply_to, stored)
        done = {"command_id": cmd.command_id, "ok": True, "action": cmd.action}
        if cmd.action == "republish":
            return Outcome(reply_to, done, republish=True)
        if cmd.action == "notice":
            return Outcome(reply_to, done,
                           messages=[(self.topics.display_notice, {"text": cmd.text}, True)])
        if cmd.action == "reprint":
            return self._reprint(cmd, key, reply_to)
        if cmd.action in ("config_apply", "config_restore"):
            return self._config(cmd, key, reply_to)
        if cmd.action == "voice_test":
            # The core cannot hear the speaker: ok once it is on the bus.
            voice = {"id": cmd.command_id, "text": cmd.text, "at": self.engine.clock()}
            return Outcome(reply_to, done, messages=[(self.topics.display_voice, voice, False)])
        if cmd.action == "print_test":
            return self._print_test(cmd, reply_to)
        if cmd.action == "case_update":
            return Outcome(reply_to, *commands_cases.handle(self, cmd, key))
        if cmd.action.startswith("official_"):
            return self._roster(cmd, key, reply_to)
        if cmd.action == "login" and cmd.pin is not None and \
                not pin_matches(self.engine.store.official(cmd.official or ""), cmd.pin):
            # The PIN check for a login from anywhere (box, console, CLI) is this one.
            log.warning("login refused for %s at counter %s: wrong code or PIN",
                        cmd.official, cmd.counter)
            return Outcome(reply_to, {"command_id": cmd.command_id, "action": "login",
                                      **refusals.error("bad_login", "wrong official code or PIN")})
        args = {"close_day": (), "login": (cmd.counter, cmd.official), "logout": (cmd.counter,),
                "issue": (cmd.field, cmd.priority)}[cmd.action]

        def reply(outcome: list[dict] | DomainError) -> dict:
            if isinstance(outcome, DomainError):
                body = refusals.error(outcome.code, outcome.message)
            else:
                body = {"ok": True}
                issued = [e for e in outcome if e["kind"] == "ticket_issued"]
                if issued:
                    body["ticket"] = self._ticket_body(issued[0]["ticket_id"])
            return {**body, "command_id": cmd.command_id, "action": cmd.action}

        events, body = self.engine.command(cmd.action, *args, key=key, reply=reply,
                                           print_issued=self.printing)
        out = Outcome(reply_to, body, events)
        if cmd.action == "issue" and body["ok"]:
            self._print(out, body["ticket"], self._job(body["ticket"]))
        return out

    def _roster(self, cmd: CoreCommand, key: str, reply_to: str) -> Outcome:
        """Roster changes go through the core too: it is the only writer."""
        store = self.engine.store
        reply: dict[str, Any] = {"command_id": cmd.command_id, "action": cmd.action}
        try:
            store.apply_roster(cmd.action, cmd.official, name=cmd.name, role=cmd.role,
                               pin_hash=cmd.pin_hash, active=cmd.active)
            reply["ok"] = True
            log.info("roster: %s %s", cmd.action, cmd.official)
        except StoreError as e:
            reply.update(refusals.error("roster", str(e)))
        store.remember_reply(key, self.engine.clock(), reply)
        return Outcome(reply_to, reply)

    def _config(self, cmd: CoreCommand, key: str, reply_to: str) -> Outcome:
        """A change of the site config (admins), applied live or refused."""
        base = {"command_id": cmd.command_id, "action": cmd.action}
        if self.live is None or self.on_config is None:
            return Outcome(reply_to, {**base, **refusals.error(
                "no_core", "the site config is changed through the running core")})
        kwargs = dict(by=cmd.by, key=key, reply=base, state=self.engine.queue.state,
                      mono=self.engine.monotonic())
        if cmd.action == "config_apply":
            body, new = self.live.apply(cmd.config, base=cmd.base, **kwargs)
        else:
            body, new = self.live.restore(cmd.version, **kwargs)
        if new is None:
            return Outcome(reply_to, body)
        # Everything after this command runs on the new config.
        return Outcome(reply_to, body, messages=self.on_config(new), republish=True)

    def _print_test(self, cmd: CoreCommand, reply_to: str) -> Outcome:
        """The sample ticket on the core's printer; the reply waits for the printer."""
        base = {"command_id": cmd.command_id, "action": "print_test"}
        if not self.printing:
            return Outcome(reply_to, {**base, **refusals.error(
                "no_printer", "this core runs without a printer", printer=dict(printq.NO_PRINTER))})
        return Outcome(reply_to, print_job=PrintJob({}, 0, reply=base, reply_to=reply_to, test=True))

    def _reprint(self, cmd: CoreCommand, key: str, reply_to: str) -> Outcome:
        state = self.engine.queue.state
        wanted = (cmd.ticket or "").strip().upper()
        ticket_id = state.by_label.get(wanted) or (cmd.ticket if cmd.ticket in state.tickets else None)
        base = {"command_id": cmd.command_id, "action": "reprint"}
        if ticket_id is None:
            return Outcome(reply_to, {**base, **refusals.error("unknown_ticket",
                                                              f"no ticket {cmd.ticket} today")})
        refused = printq.reprint_refused(self.engine.store.last_print(ticket_id),
                                         state.tickets[ticket_id].label, cmd.force)
        if refused:
            return Outcome(reply_to, {**base, **refusals.error(*refused)})
        body = self._ticket_body(ticket_id)
        reply = {**base, "ok": True, "ticket": body,
                 "print": {"status": "pending"} if self.printing else dict(printq.NO_PRINTER)}
        if not self.printing:
            self.engine.store.remember_reply(key, self.engine.clock(), reply)
            return Outcome(reply_to, reply)
        # Remembered with its pending job, before printing: a redelivered
        # command (QoS 1) gets this reply, updated when the printer answers.
        out = Outcome(reply_to)
        self._print(out, body, self.engine.store.start_print(ticket_id, self.engine.clock(), True,
                                                             (key, reply)), reply, True, key)
        return out

    # ---------------------------------------------------------------- tickets
    def _ticket(self, client: str, payload: bytes) -> Outcome:
        """A kiosk's ticket request on ``ticket/request/<login>``.

        The reply goes to the login in the topic, which the broker's ACL
        vouches for; a ``client`` in the payload can only repeat it.
        """
        topic = self.topics.ticket_request(client)
        if not refusals.CLIENT_ID.match(client):
            log.warning("ticket request on %s refused: not a client id", topic)
            self._keep(topic, payload, "bad_topic")
            return Outcome()
        reply_to, what = self.topics.ticket_reply(client), f"ticket request from {client}"
        req = self._decode(TicketRequest, payload, topic, reply_to, "request_id", what)
        if isinstance(req, Outcome):
            return req
        if req.client is not None and req.client != client:
            return self._bad_payload(topic, payload, PayloadError(
                f"client: {req.client!r} is not the requester {client!r} "
                "(the reply goes to the login in the topic)"), reply_to, "request_id", what)
        key = f"ticket:{client}:{req.request_id}"
        stored = self._seen(key)
        if stored is not None:
            # A retry after a lost reply (or a double tap): never a second ticket.
            log.info("ticket request %s from %s seen before", req.request_id, client)
            if stored.get("ok"):
                stored["print"] = printq.stored_outcome(
                    self.engine.store.last_print(stored["ticket"]["ticket_id"]), self.printing)
            return Outcome(reply_to, stored)

        def reply(outcome: list[dict] | DomainError) -> dict:
            if isinstance(outcome, DomainError):
                details = {}
                if "next_open" in outcome.details:
                    details["next_open"] = outcome.details["next_open"]
                body = refusals.error(outcome.code, outcome.message, **details)
            else:
                issued = next(e for e in outcome if e["kind"] == "ticket_issued")
                body = {"ok": True, "ticket": self._ticket_body(issued["ticket_id"])}
            return {**body, "request_id": req.request_id}

        # The ticket, its reply and its pending print job: one transaction.
        events, body = self.engine.command("issue", req.field, req.priority, key=key, reply=reply,
                                           print_issued=self.printing)
        if not body["ok"]:
            log.info("ticket request from %s refused: %s", client, body["error"]["message"])
            return Outcome(reply_to, body, events)
        out = Outcome(reply_to, None, events)
        self._print(out, body["ticket"], self._job(body["ticket"]), body)
        return out

    def _ticket_body(self, ticket_id: str) -> dict:
        return views.ticket_full(self.config, self.engine.queue, self.engine.ticket(ticket_id))

    def _job(self, ticket: dict) -> int | None:
        """The pending print job committed with ``ticket`` (none without a printer)."""
        return (self.engine.store.last_print(ticket["ticket_id"]) or {}).get("id") \
            if self.printing else None

    def _print(self, out: Outcome, ticket: dict, job_id: int | None, reply: dict | None = None,
               reprint: bool = False, key: str | None = None) -> None:
        """Hand a committed ticket to the printer; a waiting reply goes out after it."""
        if job_id is not None:
            out.print_job = PrintJob(ticket, job_id, reprint, reply, out.reply_to if reply else None, key)
        elif reply is not None:
            reply["print"] = dict(printq.NO_PRINTER)
            out.reply = reply

    # ---------------------------------------------------------------- ratings
    def _rating(self, n: int, payload: bytes) -> Outcome:
        """One press from counter n's box: stored (counted or not), then confirmed.

        Every press the contract can carry is stored, whatever its level;
        the confirmation on ``counter/<n>/reply`` is what lets the box forget
        it, so it goes out only after the commit, and again, identical, for
        a press delivered twice.
        """
        topic, reply_to = self.topics.counter_rating(n), self.topics.counter_reply(n)
        press = self._decode(RatingPress, payload, topic, reply_to, "rating_id",
                             f"rating press on counter {n}, kept in the rejected table", logging.ERROR)
        if isinstance(press, Outcome):
            return press
        stored = self.engine.store.rating_outcome(press.rating_id)
        if stored is not None:
            # QoS 1 redelivery, or a bridge re-sending after a crash.
            log.info("rating %s on counter %s seen before", press.rating_id, n)
            return Outcome(reply_to, {"rating_id": press.rating_id, "ok": True, **stored})
        try:
            events = self.engine.run(
                "rate", n, press.level, rating_id=press.rating_id, source=press.source or "box",
                press=press.press, device_time_ms=press.device_time_ms, received_at=press.received_at)
        except DomainError as e:
            # unknown_counter cannot happen for a counter/N topic the config
            # names; kept all the same, never dropped unseen.
            log.warning("rating press on counter %s refused: %s", n, e.message)
            self._keep(topic, payload, f"{e.code}: {e.message}")
            return Outcome(reply_to, {"rating_id": press.rating_id,
                                      **refusals.error(e.code, e.message)}, e.events)
        e = next(x for x in events if x["kind"] == "rating_pressed")
        if e["counted"]:
            log.info("counter %s: rating %s for %s", n, e["level"], e["ticket_id"])
        else:
            log.warning("counter %s: press kept as anomaly %s (not counted)", n, e["reason"])
        return Outcome(reply_to, {"rating_id": press.rating_id, "ok": True, "counted": e["counted"],
                                  "reason": e["reason"], "level": e["level"]}, events)

    # ------------------------------------------------------------ refusals
    def _decode(self, model: type[BaseModel], payload: bytes, topic: str, reply_to: str, key: str,
                what: str, level: int = logging.WARNING) -> Any:
        """The decode step: ``payload`` as ``model``, or the ``bad_payload`` Outcome."""
        try:
            return contract.decode(model, payload)
        except PayloadError as e:
            return self._bad_payload(topic, payload, e, reply_to, key, what, level)

    def _bad_payload(self, topic: str, payload: bytes, e: PayloadError, reply_to: str, key: str,
                     what: str, level: int = logging.WARNING) -> Outcome:
        log.log(level, "bad %s: %s", what, e)
        self._keep(topic, payload, str(e))
        return Outcome(reply_to, {key: refusals.peek(payload, key),
                                  **refusals.error("bad_payload", str(e))})

    def _bad_topic(self, topic: str, payload: bytes) -> Outcome:
        self._keep(topic, payload, "bad_topic")
        known = [c.number for c in self.config.counters]
        answer = refusals.bad_topic(self.topics, topic, payload, known)
        return Outcome(*answer) if answer else Outcome()

    def _keep(self, topic: str, payload: bytes, reason: str) -> None:
        refusals.keep(self.engine.store, self.engine.clock(), topic, payload, reason)
