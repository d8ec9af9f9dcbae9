"""The announcer's sound: 16-bit PCM in memory, wav files in and out, the chime.

Kept apart from the announcer's queue and engines (display/announcer.py):
what a sound is and how it reaches a file, whoever made it.  A wav is
written under a private temporary name and put in place whole; ``write_new``
never replaces an earlier file (docs/voice.md).
"""
from __future__ import annotations

import math
import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path


class AnnouncerError(Exception):
    """The announcer cannot start; the message says what to install or set."""


@dataclass(frozen=True)
class Audio:
    """16-bit PCM frames with their format."""

    rate: int
    channels: int
    frames: bytes

    @property
    def seconds(self) -> float:
        return len(self.frames) / (2 * self.channels * self.rate)

    def _write_part(self, path: Path) -> Path:
        # A private temporary name: two announcers writing the same final
        # name must not write into one ".part" file.
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".part", dir=path.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
                os.fchmod(f.fileno(), 0o644)    # mkstemp's 0600 would hide the wavs from whoever listens later
                w.setnchannels(self.channels)
                w.setsampwidth(2)
                w.setframerate(self.rate)
                w.writeframes(self.frames)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def write(self, path: Path) -> None:
        """Write (or replace) ``path``; whoever watches the folder sees only whole files."""
        os.replace(self._write_part(path), path)

    def write_new(self, path: Path) -> Path:
        """Write under ``path``'s name, or ``<stem>-2``, ``-3``… if it is taken; never
        replaces a file.  Returns the path written."""
        tmp = self._write_part(path)
        try:
            for n in range(1, 1000):
                target = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
                try:
                    # link() fails when the name exists, even if another
                    # process takes it between our check and our write.
                    os.link(tmp, target)
                    return target
                except FileExistsError:
                    continue
                except OSError:
                    # A filesystem without hard links (a FAT stick): check, then rename.
                    if target.exists():
                        continue
                    os.replace(tmp, target)
                    return target
            raise AnnouncerError(f"{path.parent}: 999 files already named {path.stem}-*")
        finally:
            tmp.unlink(missing_ok=True)

    def silence(self, seconds: float) -> "Audio":
        return Audio(self.rate, self.channels, b"\0\0" * self.channels * int(self.rate * seconds))

    def __add__(self, other: "Audio") -> "Audio":
        if (self.rate, self.channels) != (other.rate, other.channels):
            raise AnnouncerError(
                f"cannot join {self.rate} Hz x{self.channels} with {other.rate} Hz x{other.channels}")
        return Audio(self.rate, self.channels, self.frames + other.frames)


def read_wav(path: Path) -> Audio:
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise AnnouncerError(f"{path}: expected 16-bit PCM wav, got {8 * w.getsampwidth()}-bit "
                                     f"{w.getcomptype()}")
            return Audio(w.getframerate(), w.getnchannels(), w.readframes(w.getnframes()))
    except (wave.Error, EOFError) as e:
        raise AnnouncerError(f"{path}: not a wav file ({e})") from None


def chime(rate: int = 22050, channels: int = 1) -> Audio:
    """A soft two-tone "ding-dong" (E5 then C5), made here so nothing is shipped."""
    out = bytearray()
    for freq, dur in ((659.25, 0.45), (523.25, 0.7)):
        n = int(rate * dur)
        for i in range(n):
            t = i / rate
            # Fast attack, exponential decay: a bell, not a beep.
            env = min(1.0, t / 0.01) * math.exp(-3.5 * t / dur)
            v = 0.45 * env * (math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t))
            s = struct.pack("<h", int(max(-1.0, min(1.0, v)) * 32767))
            out += s * channels
    return Audio(rate, channels, bytes(out))
