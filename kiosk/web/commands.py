"""Command and reply over the bus: publish a command, wait for the core's
reply carrying the same ``command_id``.

The only place the web keeps futures by command id.  It rides on the web's
one MQTT login (kiosk/web/bus.py publishes for it and hands it every
``…/reply``), so it holds no connection of its own.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Callable

from kiosk import contract
from kiosk.web.errors import WebError


class Commands:
    def __init__(self, publish: Callable[[str, bytes], Any], timeout: float):
        self.publish = publish
        self.timeout = timeout
        self.pending: dict[str, asyncio.Future] = {}

    async def send(self, topic: str, payload: dict[str, Any],
                   command_id: str | None = None) -> dict[str, Any]:
        """Publish a command and wait for the core's reply to it.

        ``command_id`` names one action of a person: a browser that retries
        after a time-out sends the same one, and the core, which acts on an
        id once, answers it with the stored reply instead of acting again.
        """
        command_id = command_id or f"web-{uuid.uuid4().hex[:12]}"
        fut = asyncio.get_running_loop().create_future()
        self.pending[command_id] = fut
        self.publish(topic, contract.encode({"command_id": command_id, **payload}))
        try:
            return await asyncio.wait_for(fut, self.timeout)
        except asyncio.TimeoutError:
            raise WebError(504, "Hệ thống lõi không trả lời; thử lại sau ít giây") from None
        finally:
            self.pending.pop(command_id, None)

    def reply(self, body: Any) -> None:
        """A reply from the core, on the event loop; one nobody waits for is dropped."""
        fut = self.pending.pop(str((body or {}).get("command_id")), None)
        if fut is not None and not fut.done():
            fut.set_result(body)
