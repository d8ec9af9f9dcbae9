"""Asking the core over MQTT and waiting for its answer, correlated by command id.

Commands go to ``core/command`` or ``counter/N/command``; the core answers on
``core/reply`` or ``counter/N/reply`` with the ``command_id`` it was sent
(docs/mqtt.md).  Every reply goes to every login that reads the reply topic,
so an asker picks its own by that id.  The core acts on an id once and
answers a repeat with the stored reply, so whoever retries after a time-out
sends the same id again.

Two pieces, because the processes that ask differ in who owns the MQTT
connection:

- ``Replies`` matches replies to waiting askers.  It owns no connection: its
  owner publishes through it and hands it every message from the reply
  topics, from paho's thread.  An asker waits either blocking (``ask``) or
  in asyncio (``ask_async``).
- ``CoreClient`` is a connection of its own with a ``Replies`` on it, for a
  process that only asks (the command line).

A process that already runs paho for other topics (the web console's bus,
which keeps retained state) keeps its own connection and uses ``Replies``
alone::

    self.replies = Replies(self.client)            # beside its paho client
    # on_connect: subscribe to reply_topics(self.topics) too
    # on_message, on paho's thread, before anything else:
    if msg.topic.endswith("/reply"):
        self.replies.take(body)                    # thread-safe; wakes the awaiting handler
        return
    # a request handler, on the event loop:
    reply = await self.replies.ask_async(topic, payload, command_id=cid, timeout=10)
    # raises NoReply when the core did not answer in time
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from typing import Any, Callable, Iterator

from kiosk import contract


class BusError(Exception):
    """The core could not be asked: the broker is unreachable or refused the login."""


class NoReply(BusError):
    """The core did not answer in time; ask again with the same command id."""


def new_command_id(prefix: str) -> str:
    """A fresh id for one action of a person or a program (``prefix-<hex>``)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def reply_topics(topics: contract.Topics) -> list[str]:
    """The topics the core answers on, for an asker's subscription."""
    return [topics.core_reply, topics.counter_reply("+")]


def _resolve(future: asyncio.Future, reply: dict[str, Any]) -> None:
    if not future.done():
        future.set_result(reply)


class Replies:
    """The core's replies, matched by command id to whoever waits for them.

    ``publisher`` is a connected paho client (anything with ``publish(topic,
    payload, qos=)``).  An asker is registered before its command is
    published, so a reply that comes back at once is not missed; a reply
    nobody waits for (an earlier asker gave up, another process asked) is
    dropped.  Two askers with the same id (a retry while the first still
    waits) both get the reply.
    """

    def __init__(self, publisher: Any):
        self._publisher = publisher
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Callable[[dict[str, Any]], None]]] = {}

    def take(self, reply: Any) -> bool:
        """A message from a reply topic, decoded; from any thread.  True if it was awaited."""
        if not isinstance(reply, dict):
            return False
        with self._lock:
            settles = self._waiting.pop(str(reply.get("command_id")), [])
        for settle in settles:
            settle(reply)
        return bool(settles)

    def ask(self, topic: str, body: dict[str, Any], *, command_id: str,
            timeout: float) -> dict[str, Any]:
        """Publish ``body`` as command ``command_id`` and block until its reply."""
        got: list[dict[str, Any]] = []
        arrived = threading.Event()

        def settle(reply: dict[str, Any]) -> None:
            got.append(reply)
            arrived.set()
        with self._waiting_for(command_id, settle):
            self._publish(topic, body, command_id)
            if not arrived.wait(timeout):
                raise NoReply(f"the core did not answer within {timeout:g} s")
        return got[0]

    async def ask_async(self, topic: str, body: dict[str, Any], *, command_id: str,
                        timeout: float) -> dict[str, Any]:
        """Publish ``body`` as command ``command_id`` and await its reply on this loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(reply: dict[str, Any]) -> None:
            # ``take`` runs on paho's thread; the future belongs to the loop.
            loop.call_soon_threadsafe(_resolve, future, reply)
        with self._waiting_for(command_id, settle):
            self._publish(topic, body, command_id)
            try:
                return await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                raise NoReply(f"the core did not answer within {timeout:g} s") from None

    def _publish(self, topic: str, body: dict[str, Any], command_id: str) -> None:
        self._publisher.publish(topic, contract.encode({"command_id": command_id, **body}), qos=1)

    @contextlib.contextmanager
    def _waiting_for(self, command_id: str,
                     settle: Callable[[dict[str, Any]], None]) -> Iterator[None]:
        with self._lock:
            self._waiting.setdefault(command_id, []).append(settle)
        try:
            yield
        finally:
            with self._lock:
                left = [s for s in self._waiting.get(command_id, []) if s is not settle]
                if left:
                    self._waiting[command_id] = left
                else:
                    self._waiting.pop(command_id, None)


class CoreClient:
    """A login of its own on the bus, to ask the core and block for the answers.

    The client id is the login (the broker enforces it), so one such client
    per login runs at a time.  Raises ``BusError`` when the broker does not
    answer within ``connect_timeout`` or refuses the login.
    """

    def __init__(self, prefix: str, *, host: str, port: int, user: str, password: str,
                 id_prefix: str | None = None, connect_timeout: float = 5.0):
        self.topics = contract.Topics(prefix)
        self.id_prefix = id_prefix or user
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self.client = contract.mqtt_client(user, username=user, password=password, prefix=prefix)
        self.replies = Replies(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async(host, port, 10)
        self.client.loop_start()
        if not self._subscribed.wait(connect_timeout) or self._refused:
            self.close()
            if self._refused:
                raise BusError(f"the MQTT broker at {host}:{port} refused the login {user!r}: "
                               f"{self._refused}")
            raise BusError(f"no answer from the MQTT broker at {host}:{port}")

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._subscribed.set()
        else:
            client.subscribe([(t, 1) for t in reply_topics(self.topics)])

    def _on_message(self, client, userdata, msg) -> None:
        try:
            self.replies.take(json.loads(msg.payload))
        except ValueError:
            pass

    def ask(self, topic: str, body: dict[str, Any], *, command_id: str | None = None,
            timeout: float = 30) -> dict[str, Any]:
        """Send ``body`` to ``topic`` and return the core's reply; ``NoReply`` after ``timeout``.

        Printing at 9,600 baud can take several seconds before a reply, hence
        the generous default.
        """
        return self.replies.ask(topic, body, command_id=command_id or new_command_id(self.id_prefix),
                                timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
