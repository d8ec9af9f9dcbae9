"""Nightly backups kept in one folder, the oldest deleted past a count.

``phucvu backup --dir DIR --keep N`` (run by phucvu-backup.timer) writes
``phucvu-YYYYMMDD-HHMMSS.db`` with SQLite's online backup and checks it with
``PRAGMA integrity_check`` (kiosk/core/store.py), then deletes the oldest
copies so that N remain.  Only files matching that name pattern are ever
deleted, so anything else a technician puts in the folder is left alone, and
a copy that failed its check is never kept or counted.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

NAME = re.compile(r"^phucvu-(\d{8})-(\d{6})\.db$")


class BackupError(Exception):
    pass


def backup_name(now: dt.datetime) -> str:
    return f"phucvu-{now:%Y%m%d-%H%M%S}.db"


def to_delete(names: list[str], keep: int) -> list[str]:
    """Which backup files go so that the newest ``keep`` stay (pure; names only)."""
    if keep < 1:
        raise BackupError(f"--keep must be at least 1, got {keep}")
    ours = sorted((n for n in names if NAME.match(n)), reverse=True)
    return sorted(ours[keep:])


def rotate(directory: Path, store, keep: int, now: dt.datetime) -> tuple[Path, list[Path]]:
    """Back up ``store`` into ``directory`` and prune; returns (new copy, deleted)."""
    if keep < 1:
        raise BackupError(f"--keep must be at least 1, got {keep}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / backup_name(now)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # Written under another name and renamed once checked: a power cut
    # mid-copy leaves a .partial, never a file that looks like a good backup.
    try:
        store.backup(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(target)
    gone = [directory / n for n in to_delete([p.name for p in directory.iterdir()], keep)]
    for p in gone:
        p.unlink()
    return target, gone
