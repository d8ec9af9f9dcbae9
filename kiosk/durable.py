"""Small files written so that a power cut leaves them whole or as they were.

The text goes to a private temporary file in the same directory, is synced,
then takes the real name (``create``: only if the name is free; ``replace``:
over what is there), and the directory is synced so the name itself
survives.  A file written with ``open(path, "w")`` can instead be found
empty after a power cut (ext4's delayed allocation), and a password or a
secret found empty is worse than one found missing.  The site file has its
own save, which also keeps ``.prev`` (kiosk/core/store_sitefile.py).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_dir(directory: str | Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_copy(path: Path, data: bytes, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)         # the umask must neither widen nor narrow it
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def create(path: str | Path, data: bytes, mode: int = 0o600) -> bool:
    """Write ``path`` unless it exists; True when this call made it.

    link() fails when the name is taken, so of two processes creating the
    same file one wins and the other reads the winner's.  Raises OSError."""
    path = Path(path)
    tmp = _private_copy(path, data, mode)
    try:
        try:
            os.link(tmp, path)
            made = True
        except FileExistsError:
            made = False
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return made


def replace(path: str | Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path``, replacing what is there.  Raises OSError."""
    path = Path(path)
    tmp = _private_copy(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
