"""The voice of the wall display: one call at a time, never cut off.

``Announcer.submit(call_event)`` queues a call; one worker thread turns each
into a single wav (chime, a short pause, the sentence) and plays it to the
end before taking the next, so two calls never overlap and none is cut
short (NovoSGA #78 cut the running call when a new one came).  A call_id
already heard is ignored (QoS 1 may deliver twice); a recall has a new
call_id and is announced again.  When more than ``max_backlog`` calls wait,
the oldest waiting ones are dropped (and logged) so the hall is never
minutes behind; a ticket called again while still waiting keeps only its
newest call.

``submit_text(voice)`` queues the admin's voice test (``display/voice``) the
same way, and ``retune(cfg)`` takes a saved change of ``[announcer]`` for the
next sentence (config/site).

Every announcement is logged at INFO with its call id and the exact sentence
(``said call <id> (<label> at counter <n>): "<sentence>"``) so a centre can
check what the hall heard; wav files are named ``<date>-<time>-<call id>-<label>-q<counter>.wav``
and never overwrite an earlier file, across runs and between two announcers
sharing a folder (docs/voice.md).

Engines: espeak-ng's Vietnamese voice (offline, default) or a recorded clip
pack (a folder of wav files plus ``manifest.json``, joined sample by sample
with no gaps).  Output: a player command (aplay, pw-play, paplay) or, with
``output_dir``, the wav files are written there instead (tests, servers).
"""
from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from display import speech
from display.audio import AnnouncerError, Audio, chime, read_wav

log = logging.getLogger("phucvu.announcer")

PLAYERS = (["aplay", "-q"], ["pw-play"], ["paplay"])
PAUSE_AFTER_CHIME_S = 0.25
# A voice test is one sentence, not a speech.
MAX_VOICE_TEXT = 300


# ------------------------------------------------------------------ engines
class EspeakEngine:
    """espeak-ng with a Vietnamese voice; writes a wav and reads it back."""

    def __init__(self, voice: str = "vi", speed: int = 140):
        self.exe = shutil.which("espeak-ng")
        if self.exe is None:
            raise AnnouncerError("espeak-ng is not installed (apt-get install espeak-ng), "
                                 "or set announcer.engine = \"clips\"")
        self.voice = voice
        self.speed = speed
        # espeak-ng falls back to its default voice without an error, so ask
        # for the list instead of trusting the exit code.
        listing = subprocess.run([self.exe, "--voices"], capture_output=True, text=True).stdout
        known = set()
        for line in listing.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 5:
                known.update({cols[1].lower(), cols[3].lower(), cols[4].lower(), cols[4].split("/")[-1].lower()})
        if voice.lower() not in known:
            raise AnnouncerError(f"espeak-ng has no voice {voice!r} "
                                 "(Vietnamese voices: vi, vi-vn-x-central, vi-vn-x-south)")

    def synth(self, text: str, workdir: Path) -> Audio:
        fd, name = tempfile.mkstemp(suffix=".wav", dir=workdir)
        os.close(fd)
        try:
            r = subprocess.run([self.exe, "-v", self.voice, "-s", str(self.speed), "-w", name, text],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise AnnouncerError(f"espeak-ng failed ({r.returncode}): {r.stderr.strip()}")
            return read_wav(Path(name))
        finally:
            os.unlink(name)


class ClipEngine:
    """A recorded voice: ``manifest.json`` maps phrases and words to wav files.

    ``{"clips": {"mời công dân có số thứ tự": "moi.wav", "bê": "b.wav",
    "không": "0.wav", ...}}``.  Every clip must share one format; the pack is
    checked at start-up against every letter and digit a ticket can have.
    """

    def __init__(self, folder: str | Path, template: str, number_style: speech.NumberStyle):
        self.folder = Path(folder)
        manifest = self.folder / "manifest.json"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except OSError as e:
            raise AnnouncerError(f"{manifest}: cannot read the clip pack manifest: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise AnnouncerError(f"{manifest}: not JSON: {e.msg} at line {e.lineno}") from None
        clips = data.get("clips") if isinstance(data, dict) else None
        if not isinstance(clips, dict) or not clips:
            raise AnnouncerError(f"{manifest}: expected {{\"clips\": {{\"phrase\": \"file.wav\", ...}}}}")
        self.phrases = {speech.nfc(k): str(v) for k, v in clips.items()}
        self.audio: dict[str, Audio] = {}
        fmt = None
        for name in sorted(set(self.phrases.values())):
            a = read_wav(self.folder / name)
            if fmt is None:
                fmt = (a.rate, a.channels)
            elif (a.rate, a.channels) != fmt:
                raise AnnouncerError(f"{self.folder / name}: {a.rate} Hz x{a.channels}, but the pack is "
                                     f"{fmt[0]} Hz x{fmt[1]}; record every clip in one format")
            self.audio[name] = a
        self.rate, self.channels = fmt  # type: ignore[misc]
        # A pack that cannot say every digit (and, read as numbers, every
        # "mười", "linh", "lăm", "mốt") fails now, not at ticket 9.
        labels = [f"A{n}{n}{n}" for n in range(10)] + ["A001", "A010", "A015", "A021", "A105"]
        for i, label in enumerate(labels):
            speech.match_clips(speech.call_sentence(template, label, 1 + i % 9, number_style), self.phrases)

    def synth(self, text: str, workdir: Path) -> Audio:
        parts = speech.match_clips(text, self.phrases)
        out = Audio(self.rate, self.channels, b"")
        for name in parts:
            out = out + self.audio[name]
        return out


# ------------------------------------------------------------------ the queue
@dataclass
class Job:
    call_id: str
    label: str
    counter: int
    ticket_id: str
    text: str
    received: float
    # "call", or "voice" for the admin's voice test (display/voice): a sentence
    # of its own, queued like a call so it never cuts one off.
    kind: str = "call"


@dataclass
class Played:
    call_id: str
    label: str
    counter: int
    path: Path
    received: float
    ready: float       # monotonic: the wav exists
    start: float
    end: float


class Announcer:
    def __init__(self, engine: Any, *, template: str,
                 number_style: speech.NumberStyle = speech.DEFAULT_NUMBER_STYLE,
                 use_chime: bool = True, max_backlog: int = 3, output_dir: str | Path | None = None,
                 player: list[str] | None = None, on_ready: Callable[[Job, Path], None] | None = None):
        speech.check_template(template)
        speech.label_words("A001", number_style)      # an unknown style fails now
        self.engine = engine
        self.template = template
        self.number_style = number_style
        self.use_chime = use_chime
        self.max_backlog = max_backlog
        self.output_dir = Path(output_dir) if output_dir else None
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self.player = None
        else:
            self.player = player or find_player()
        self.on_ready = on_ready
        self._work = Path(tempfile.mkdtemp(prefix="phucvu-voice-"))
        self._pending: collections.deque[Job] = collections.deque()
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        # Recent history for tests and diagnostics; bounded, the box runs for months.
        self.played: collections.deque[Played] = collections.deque(maxlen=1000)
        self.dropped: collections.deque[Job] = collections.deque(maxlen=1000)
        self._chime: Audio | None = None
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._thread.start()

    # Called from the MQTT thread: cheap, never blocks on sound.
    def submit(self, call: dict[str, Any]) -> bool:
        try:
            call_id = str(call["call_id"])
            label = str(call["label"])
            counter = int(call["counter"])
            text = speech.call_sentence(self.template, label, counter, self.number_style)
        except (KeyError, TypeError, ValueError) as e:
            log.warning("event/call not announced: %s (payload %r)", e, call)
            return False
        with self._cond:
            if call_id in self._seen:
                log.info("call %s already announced; duplicate delivery ignored", call_id)
                return False
            self._seen[call_id] = None
            while len(self._seen) > 2000:
                self._seen.popitem(last=False)
            job = Job(call_id, label, counter, str(call.get("ticket_id") or label), text, time.monotonic())
            for old in [j for j in self._pending if j.ticket_id == job.ticket_id]:
                # The ticket is called again before its first call was spoken.
                self._pending.remove(old)
                self.dropped.append(old)
                log.info("call %s replaced by %s for the same ticket", old.call_id, job.call_id)
            self._pending.append(job)
            while len(self._pending) > self.max_backlog:
                old = self._pending.popleft()
                self.dropped.append(old)
                log.warning("backlog over %d: call %s (%s at counter %d) not announced",
                            self.max_backlog, old.call_id, old.label, old.counter)
            self._cond.notify_all()
        return True

    def submit_text(self, voice: dict[str, Any]) -> bool:
        """Queue a ``display/voice`` sentence (the admin's voice test) like a call."""
        text = voice.get("text") if isinstance(voice, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_VOICE_TEXT:
            log.warning("display/voice not spoken: expected a 'text' of 1 to %d characters (payload %r)",
                        MAX_VOICE_TEXT, voice)
            return False
        voice_id = str(voice.get("id") or f"{time.time():.3f}")
        job = Job(f"voice-{voice_id}", "", 0, f"voice-{voice_id}", speech.nfc(" ".join(text.split())),
                  time.monotonic(), kind="voice")
        with self._cond:
            if job.call_id in self._seen:
                log.info("voice %s already spoken; duplicate delivery ignored", voice_id)
                return False
            self._seen[job.call_id] = None
            self._pending.append(job)
            self._cond.notify_all()
        return True

    def retune(self, cfg: Any) -> None:
        """A saved change of ``[announcer]`` (config/site), for the next sentence.

        Everything is checked before anything changes: a template, style or
        voice that cannot be used raises AnnouncerError and the running voice
        stays.  ``player`` and ``output_dir`` belong to the machine and stay."""
        a = cfg.announcer
        try:
            speech.check_template(a.template)
            speech.label_words("A001", a.number_style)
        except speech.SpeechError as e:
            raise AnnouncerError(str(e)) from None
        engine = self.engine
        if isinstance(engine, EspeakEngine) and a.engine == "espeak":
            if (a.voice, a.speed) != (engine.voice, engine.speed):
                engine = EspeakEngine(a.voice, a.speed)
        elif a.engine == "clips" and a.clips_dir:
            engine = ClipEngine(a.clips_dir, a.template, a.number_style)
        elif a.engine == "espeak":
            engine = EspeakEngine(a.voice, a.speed)
        else:
            raise AnnouncerError("announcer.engine = \"clips\" needs announcer.clips_dir")
        with self._cond:
            self.engine = engine
            self.template, self.number_style = a.template, a.number_style
            self.use_chime, self.max_backlog = a.chime, a.max_backlog

    def say(self, text: str, name: str = "voice-test") -> Path:
        """Speak one sentence now (voice-test); returns the wav it made."""
        text = speech.nfc(text)
        audio = self._render(text)
        path = (self.output_dir or self._work) / f"{name}.wav"
        audio.write(path)
        log.info('said (%s): "%s"', name, text)
        if self.player:
            self._play(path)
        return path

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        shutil.rmtree(self._work, ignore_errors=True)

    # -- worker -----------------------------------------------------------
    def _render(self, text: str) -> Audio:
        voice = self.engine.synth(text, self._work)
        if not self.use_chime:
            return voice
        if self._chime is None or (self._chime.rate, self._chime.channels) != (voice.rate, voice.channels):
            self._chime = chime(voice.rate, voice.channels)
        return self._chime + voice.silence(PAUSE_AFTER_CHIME_S) + voice

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                job = self._pending.popleft()
                self._busy = True
            try:
                self._announce(job)
            except Exception:
                # One bad call must not silence the hall for the rest of the day.
                log.exception("announcing %s failed", job.call_id)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wav_name(self, job: Job) -> str:
        """``20261127-083012-345-2026-11-27-17-B023-q2.wav``: the time first so a
        folder lists in the order the hall heard it; the call id so a name
        found in the log finds its file.  A counter restarting at each run
        used to overwrite the previous run's files."""
        now = datetime.now()
        stamp = f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}"
        call = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in job.call_id)[:64]
        if job.kind == "voice":
            return f"{stamp}-{call}.wav"
        label = "".join(ch for ch in job.label if ch.isalnum())
        return f"{stamp}-{call}-{label}-q{job.counter}.wav"

    def _announce(self, job: Job) -> None:
        audio = self._render(job.text)
        folder = self.output_dir or self._work
        path = audio.write_new(folder / self.wav_name(job))
        ready = time.monotonic()
        if self.on_ready:
            self.on_ready(job, path)
        # The one line a centre reads to know what the hall heard: call id,
        # the exact sentence, and the file it was spoken from; logged as the
        # sound starts, so the log's time is when the hall heard it.
        if job.kind == "voice":
            log.info('said voice test %s (%.1f s, %s): "%s"', job.call_id, audio.seconds, path.name, job.text)
        else:
            log.info('said call %s (%s at counter %d, %.1f s, %s): "%s"', job.call_id, job.label, job.counter,
                     audio.seconds, path.name, job.text)
        start = time.monotonic()
        if self.player:
            self._play(path)
            path.unlink(missing_ok=True)
        end = time.monotonic()
        self.played.append(Played(job.call_id, job.label, job.counter, path, job.received, ready, start, end))

    def _play(self, path: Path) -> None:
        r = subprocess.run([*self.player, str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            log.error("%s failed (%d): %s", self.player[0], r.returncode, r.stderr.strip())


def keep_log_lines() -> None:
    """Make the announcer's INFO lines reach stdout (the journal) in a process
    that set up no logging.

    The display runs Kivy in MIXED log mode and the speaker configures no
    logging, so Python would show only warnings and drop the "said call" line
    that tells a centre what the hall heard.  A process that has its own
    handlers (the CLI's services, pytest) is left as it is.
    """
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # Set up later, a root handler would print each line twice.
    log.propagate = False


def find_player() -> list[str]:
    for cmd in PLAYERS:
        if not shutil.which(cmd[0]):
            continue
        if cmd[0] == "aplay":
            # aplay is installed on every Pi image, sound card or not.
            cards = subprocess.run(["aplay", "-l"], capture_output=True, text=True)
            if cards.returncode != 0 or "no soundcards" in (cards.stderr + cards.stdout).lower():
                continue
        return list(cmd)
    raise AnnouncerError("no audio player or sound card found (aplay, pw-play or paplay); install "
                         "alsa-utils, or set announcer.output_dir to write the announcements as wav files")


def from_config(cfg: Any, *, output_dir: str | Path | None = None, fallback_dir: str | Path | None = None,
                on_ready: Callable[[Job, Path], None] | None = None) -> Announcer:
    """Build the announcer from a validated ``SiteConfig``; errors say what to fix.

    ``output_dir`` always writes wavs instead of playing; ``fallback_dir``
    does so only when the machine has nothing to play them on (the demo on a
    server).
    """
    a = cfg.announcer
    keep_log_lines()
    try:
        if a.engine == "clips":
            if not a.clips_dir:
                raise AnnouncerError("announcer.engine = \"clips\" needs announcer.clips_dir")
            engine: Any = ClipEngine(a.clips_dir, a.template, a.number_style)
        else:
            engine = EspeakEngine(a.voice, a.speed)
        player = a.player.split() if a.player else None
        out = output_dir or a.output_dir or None
        if out is None and player is None and fallback_dir is not None:
            try:
                player = find_player()
            except AnnouncerError:
                log.warning("no sound device: announcements are written to %s instead", fallback_dir)
                out = fallback_dir
        return Announcer(engine, template=a.template, number_style=a.number_style, use_chime=a.chime,
                         max_backlog=a.max_backlog, output_dir=out, player=player, on_ready=on_ready)
    except speech.SpeechError as e:
        raise AnnouncerError(str(e)) from None
