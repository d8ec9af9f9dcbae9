"""The kiosk's "Nghe hướng dẫn" (listen) button: the screen read aloud.

It speaks through the wall display's offline voice (display/announcer.py,
built by ``from_config`` from the same ``[announcer]`` section), so the
kiosk and the hall sound alike.  Synthesis and playing take a second or
more, so they run on one worker thread: the UI thread only hands over the
sentence.  A kiosk without a voice (no espeak-ng, no sound device) keeps
working: the first failure is logged, and every later press says why in a
log line, never on screen.
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable

log = logging.getLogger("phucvu.kiosk")


def _default_make(cfg: Any) -> Any:
    from display import announcer
    return announcer.from_config(cfg)


class Guide:
    """``say(text)`` returns at once; the newest sentence waiting replaces an older one."""

    def __init__(self, cfg: Any, make: Callable[[Any], Any] = _default_make):
        self.cfg = cfg
        self._make = make
        self._voice: Any = None
        self._broken: str | None = None     # why there is no voice, once known
        self._next: str | None = None
        self._cond = threading.Condition()
        self._count = 0
        self._thread: threading.Thread | None = None
        self._stop = False
        # What was spoken, on which thread, and the wav: for tests and diagnostics.
        self.spoken: collections.deque[tuple[str, str, Any]] = collections.deque(maxlen=100)
        self.failed: collections.deque[tuple[str, str]] = collections.deque(maxlen=100)

    def say(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        log.info("kiosk voice: %s", text)
        with self._cond:
            if self._next is not None:
                log.info("kiosk voice: an unspoken sentence replaced by the newer one")
            self._next = text
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kiosk-voice", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def retune(self, cfg: Any) -> None:
        """A saved change of the centre: the next sentence in the new [announcer] voice."""
        old, self.cfg = self.cfg, cfg
        if self._voice is None or cfg.announcer == old.announcer:
            return
        try:
            self._voice.retune(cfg)
        except Exception as e:      # the listen button keeps its old voice, never breaks
            log.warning("kiosk voice: keeps its old settings (%s)", e)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._next is None and not self._busy, timeout)

    _busy = False

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._voice is not None:
            self._voice.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._next is not None or self._stop)
                if self._stop:
                    return
                text, self._next = self._next, None
                self._busy = True
            try:
                self._speak(text)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _speak(self, text: str) -> None:
        if self._broken is not None:
            log.warning("kiosk voice: not spoken, %s", self._broken)
            self.failed.append((text, self._broken))
            return
        try:
            if self._voice is None:
                self._voice = self._make(self.cfg)
            self._count += 1
            path = self._voice.say(text, name=f"kiosk-listen-{self._count:05d}")
        except Exception as e:      # any failure of the voice leaves the kiosk working
            why = str(e) or e.__class__.__name__
            if self._voice is None:
                self._broken = why
            log.warning("kiosk voice: could not speak (%s)", why)
            self.failed.append((text, why))
            return
        self.spoken.append((text, threading.current_thread().name, path))
