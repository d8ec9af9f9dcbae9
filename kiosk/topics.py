"""Topic names: every topic under the site prefix, who publishes it, retain
and QoS (the code side of docs/mqtt.md's table), and the names for one prefix.

A room of ``kiosk.contract``, which re-exports everything here: import from
``kiosk.contract``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    pattern: str          # relative to the prefix; {n}, {client}, {device} are placeholders
    direction: str        # who publishes -> who subscribes
    retain: bool
    qos: int


TOPICS: list[TopicSpec] = [
    TopicSpec("ticket/request/{client}", "kiosk -> core", False, 1),
    TopicSpec("ticket/reply/{client}", "core -> kiosk", False, 1),
    TopicSpec("counter/{n}/command", "counter device, web console, CLI -> core", False, 1),
    TopicSpec("counter/{n}/reply", "core -> counter device, web console, CLI", False, 1),
    TopicSpec("counter/{n}/state", "core -> everyone", True, 1),
    TopicSpec("counter/{n}/rating", "counter device -> core", False, 1),
    TopicSpec("core/command", "CLI, admin -> core", False, 1),
    TopicSpec("core/reply", "core -> CLI, admin", False, 1),
    TopicSpec("display/snapshot", "core -> displays", True, 1),
    TopicSpec("display/notice", "core, admin -> displays", True, 1),
    TopicSpec("event/call", "core -> displays, announcers", False, 1),
    TopicSpec("event/ticket", "core -> aggregator, logs", False, 1),
    TopicSpec("event/rating", "core -> aggregator, dashboards", False, 1),
    TopicSpec("queue/summary", "core -> kiosks, consoles", True, 1),
    TopicSpec("presence/{device}", "every client (last will) -> everyone", True, 1),
    TopicSpec("printer/status", "core -> consoles, dashboards", True, 1),
    TopicSpec("event/alert", "core -> staff consoles, dashboards", False, 1),
    TopicSpec("site/info", "core -> provincial aggregator", True, 1),
    TopicSpec("config/site", "core -> kiosks, displays, bridge, web, CLI", True, 1),
    TopicSpec("display/voice", "core -> displays, speakers", False, 1),
    TopicSpec("queue/tickets", "core -> phone page", True, 1),
    TopicSpec("phone/rating", "phone page -> core", False, 1),
    TopicSpec("phone/reply", "core -> phone page", False, 1),
    TopicSpec("phone/stats", "phone page -> dashboards", True, 1),
    TopicSpec("event/case", "core -> web dashboard, province", False, 1),
]


class Topics:
    """Concrete topic names for one site prefix."""

    def __init__(self, prefix: str):
        self.prefix = prefix.rstrip("/")

    def _t(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    # requests and replies
    def ticket_request(self, client: str) -> str:
        # The requester's login is in the topic, where the broker's ACL
        # checks it (a kiosk may publish only under its own name).
        return self._t(f"ticket/request/{client}")

    def ticket_reply(self, client: str) -> str:
        return self._t(f"ticket/reply/{client}")

    def counter_command(self, n: int | str) -> str:
        return self._t(f"counter/{n}/command")

    def counter_reply(self, n: int | str) -> str:
        return self._t(f"counter/{n}/reply")

    def counter_state(self, n: int | str) -> str:
        return self._t(f"counter/{n}/state")

    def counter_rating(self, n: int | str) -> str:
        return self._t(f"counter/{n}/rating")

    @property
    def core_command(self) -> str:
        return self._t("core/command")

    @property
    def core_reply(self) -> str:
        return self._t("core/reply")

    # state and events
    @property
    def display_snapshot(self) -> str:
        return self._t("display/snapshot")

    @property
    def display_notice(self) -> str:
        return self._t("display/notice")

    @property
    def call_event(self) -> str:
        return self._t("event/call")

    @property
    def ticket_event(self) -> str:
        return self._t("event/ticket")

    @property
    def rating_event(self) -> str:
        return self._t("event/rating")

    @property
    def case_event(self) -> str:
        return self._t("event/case")

    @property
    def queue_summary(self) -> str:
        return self._t("queue/summary")

    def presence(self, device: str) -> str:
        return self._t(f"presence/{device}")

    @property
    def printer_status(self) -> str:
        return self._t("printer/status")

    @property
    def alert_event(self) -> str:
        return self._t("event/alert")

    @property
    def site_info(self) -> str:
        return self._t("site/info")

    @property
    def config_site(self) -> str:
        return self._t("config/site")

    @property
    def display_voice(self) -> str:
        return self._t("display/voice")

    # the citizen's phone page (its server is the login ``phone``)
    @property
    def queue_tickets(self) -> str:
        return self._t("queue/tickets")

    @property
    def phone_rating(self) -> str:
        return self._t("phone/rating")

    @property
    def phone_reply(self) -> str:
        return self._t("phone/reply")

    @property
    def phone_stats(self) -> str:
        return self._t("phone/stats")

    def counter_of(self, topic: str, leaf: str = "command") -> int | None:
        """3 for ``<prefix>/counter/3/<leaf>``; None when it is not one.

        Only the canonical spelling counts: ``counter/03`` or ``counter/+3``
        is not counter 3 (a topic names one counter one way, so an ACL on
        ``counter/3/...`` cannot be side-stepped).
        """
        segment = self.segment(topic, "counter", leaf)
        if segment is not None and COUNTER_SEGMENT.fullmatch(segment):
            return int(segment)
        return None

    def segment(self, topic: str, head: str, leaf: str | None = None) -> str | None:
        """The middle of ``<prefix>/<head>/<x>[/<leaf>]``, whatever it is; None otherwise."""
        if not topic.startswith(self.prefix + "/"):
            return None
        rest = topic[len(self.prefix) + 1:].split("/")
        want = 3 if leaf is not None else 2
        if len(rest) != want or rest[0] != head or (leaf is not None and rest[2] != leaf):
            return None
        return rest[1]


COUNTER_SEGMENT = re.compile(r"[1-9][0-9]{0,1}")
