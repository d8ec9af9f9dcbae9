"""A small sd_notify client: tell systemd we are ready, alive, stopping.

Units with ``Type=notify`` wait for ``READY=1``; units with ``WatchdogSec=``
kill and restart a service that stops sending ``WATCHDOG=1``.  systemd passes
the socket in ``NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract socket)
and the watchdog period in ``WATCHDOG_USEC`` (with ``WATCHDOG_PID`` naming the
process it is meant for).  Outside systemd neither is set and every call here
does nothing, so the same code runs in a terminal, the demo and the tests.

Ping from the loop that does the work, never from a helper thread: the point
is that a hung main loop stops the pings and systemd restarts the service.
Like kiosk/config/ and kiosk/contract.py this module is ground floor: it
imports only the standard library, so display/ and firmware_bridge/ use it too.
The protocol is ``sd_notify(3)``: one datagram of ``KEY=VALUE`` lines.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Callable, Mapping

log = logging.getLogger("phucvu.sdnotify")


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        env = os.environ if env is None else env
        self.monotonic = monotonic
        self.address = self._address(env.get("NOTIFY_SOCKET", ""))
        self.interval = self._interval(env)
        self._last_ping = float("-inf")
        self._sock: socket.socket | None = None

    @staticmethod
    def _address(raw: str) -> str | bytes | None:
        if not raw:
            return None
        if raw.startswith("@"):
            # Abstract namespace: a leading NUL byte instead of the "@".
            return b"\0" + raw[1:].encode()
        if raw.startswith("/"):
            return raw
        # sd_notify also knows vsock addresses; the appliance never uses them.
        log.warning("NOTIFY_SOCKET=%r is not a unix socket; systemd notifications off", raw)
        return None

    @staticmethod
    def _interval(env: Mapping[str, str]) -> float | None:
        """Seconds between pings: half the watchdog period, as sd_watchdog_enabled(3) advises."""
        usec = env.get("WATCHDOG_USEC", "")
        if not usec:
            return None
        pid = env.get("WATCHDOG_PID", "")
        if pid and pid != str(os.getpid()):
            # The watchdog is meant for another process (e.g. our parent).
            return None
        try:
            value = int(usec)
        except ValueError:
            log.warning("WATCHDOG_USEC=%r is not a number; watchdog pings off", usec)
            return None
        return value / 2_000_000 if value > 0 else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def wake_every(self, default: float) -> float:
        """How long a loop may sleep so that it still pings in time.

        Half the ping interval: a loop that wakes just before a ping is due
        pings on its next turn, still well inside the watchdog period.
        """
        return default if self.interval is None else min(default, self.interval / 2)

    def send(self, **fields: str | int) -> bool:
        """One notification, e.g. ``send(READY=1, STATUS="up")``; False if not sent."""
        if self.address is None:
            return False
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, self.address)
        except OSError as e:
            # systemd gone (shutdown) or the socket replaced: never fatal here.
            log.warning("sd_notify %s failed: %s", ",".join(fields), e)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"READY": 1}
        if status:
            fields["STATUS"] = status
        return self.send(**fields)

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def stopping(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"STOPPING": 1}
        if status:
            fields["STATUS"] = status
        return self.send(**fields)

    def watchdog(self) -> bool:
        """Ping if the interval has passed since the last one; cheap to call often."""
        if self.interval is None or self.address is None:
            return False
        now = self.monotonic()
        if now - self._last_ping < self.interval:
            return False
        self._last_ping = now
        return self.send(WATCHDOG=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def feed_asgi(app: Any, status: str) -> None:
    """Type=notify and WatchdogSec= for a Starlette app (the web console, the
    phone page); a no-op outside systemd.

    The pings are a task on the server's own event loop, so a handler that
    blocks the loop stops them and systemd restarts the service.
    """
    import asyncio
    from contextlib import asynccontextmanager

    notify = Notifier()
    if not notify.enabled:
        return
    inner = app.router.lifespan_context

    async def ping() -> None:
        while True:
            notify.watchdog()
            await asyncio.sleep(notify.wake_every(5.0))

    @asynccontextmanager
    async def lifespan(a: Any):
        async with inner(a) as state:
            task = asyncio.get_running_loop().create_task(ping())
            notify.ready(status)
            try:
                yield state
            finally:
                notify.stopping()
                task.cancel()

    app.router.lifespan_context = lifespan
