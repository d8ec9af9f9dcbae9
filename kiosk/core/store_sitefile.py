"""The site file on disk: read, hashed, and replaced atomically.

A power cut at any moment leaves either the old file or the new one, never
half of one: the new text goes to a temporary file in the same directory as
the real file (a symlink is followed, so the rename stays on one file
system), is synced, the old file is kept as ``<name>.prev`` (a hard link, so
the real name is never missing), the temporary file is renamed over the real
one, and the directory is synced so the rename itself survives.

The first lines of a written file are a comment saying which version it is,
who saved it and when; the core reads them back at start to tell its own
interrupted save from a hand edit (kiosk/core/commands_config.py).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from kiosk import durable
from kiosk.config import SiteConfig, live
from kiosk.config.checked import without_none

HEADER = re.compile(r"^# phucvu site config version (\d+), saved by (\S+) at (\S+)")


config_hash = live.config_hash      # the contract's hash, one definition for every part


def real_path(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def prev_path(path: str | Path) -> Path:
    p = real_path(path)
    return p.with_name(p.name + ".prev")


def render(data: dict, *, version: int, by: str, at: float) -> str:
    """The file's text: the header, then ``data`` (a config as TOML parses it) as TOML."""
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (f"# phucvu site config version {version}, saved by {by} at {when}\n"
            "# Written by the core (the admin pages or the command line); the previous\n"
            "# file is kept next to it as <name>.prev.  A hand edit is taken as a new\n"
            "# version at the core's next start or SIGHUP (docs/config.md).\n\n")
    return head + tomli_w.dumps(without_none(data))


def header(text: str) -> tuple[int, str] | None:
    """(version, by) from a file the core wrote, or None."""
    m = HEADER.match(text)
    return (int(m.group(1)), m.group(2)) if m else None


def parse_text(text: str) -> dict:
    return tomllib.loads(text)


def write(path: str | Path, text: str) -> Path:
    """Replace the file at ``path`` with ``text`` atomically; returns the real path."""
    real = real_path(path)
    directory = real.parent
    tmp = directory / f".{real.name}.tmp-{os.getpid()}"
    mode = real.stat().st_mode & 0o777 if real.exists() else 0o644
    keep = directory / f".{real.name}.prev-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if real.exists():
            try:
                os.link(real, keep)
            except OSError:
                keep.write_bytes(real.read_bytes())
            os.replace(keep, prev_path(real))
            # A save cut off between its two renames left .prev a second name
            # of the real file; rename(2) between two names of one file does
            # nothing and leaves ``keep`` behind, so drop that name here.
            keep.unlink(missing_ok=True)
        os.replace(tmp, real)
    except BaseException:
        tmp.unlink(missing_ok=True)
        keep.unlink(missing_ok=True)
        raise
    durable.fsync_dir(directory)
    return real


def undo(path: str | Path) -> None:
    """Put ``<name>.prev`` back in place of the file (a save whose version was not recorded)."""
    real = real_path(path)
    os.replace(prev_path(real), real)
    durable.fsync_dir(real.parent)


def clean(path: str | Path) -> None:
    """Temporary files a save cut off by a crash left behind (the real file is whole)."""
    real = real_path(path)
    for leftover in real.parent.glob(f".{real.name}.*-*"):
        if leftover.name.startswith((f".{real.name}.tmp-", f".{real.name}.prev-")):
            leftover.unlink(missing_ok=True)
