"""An exclusive lock on a file that names its holder: one process at a time.

The store takes one beside the database (one writer), the demo one in its
data folder (one demo per folder).  It is an flock, so the kernel drops it
when the holder dies, even by kill -9: a crashed process never blocks the
next one.  The holder's line is written into the file, for whoever finds
the lock taken to say who has it.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Held(Exception):
    """The lock is taken; ``holder`` is the line its holder wrote (or "another process")."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


def hold(path: str | Path, holder: str) -> int:
    """Take the lock at ``path`` or raise ``Held``; the descriptor to keep open while held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        taken = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise Held(taken) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n".encode(), 0)
    return fd
