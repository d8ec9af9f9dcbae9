"""Tickets: layout, rendering to ESC/POS, printers (docs/printing.md).

python-escpos reads its printer capability database (a 1 MB YAML/JSON
file) when ``escpos.capabilities`` is first imported, and keeps a pickle
of it in ``ESCPOS_CAPABILITIES_PICKLE_DIR``, by default a new ``mkdtemp()``
directory on every start: the pickle is never found again (every start
parses the YAML, 0.2 s of a core's start) and every process leaves a
directory with a 70 KB pickle in /tmp (9,173 directories on the development
machine; the library still makes an empty one, its default being an eager
argument).  So the
package points it at a cache directory of its own before escpos is
imported: systemd's ``CacheDirectory=`` (``$CACHE_DIRECTORY``) under the
units, else ``$XDG_CACHE_HOME/phucvu``, else ``~/.cache/phucvu``.  A pickle
is code when loaded, so the directory is used only when it is this user's
and nobody else may write in it; otherwise the library's default stays.

The library writes its pickle in place, and reads whatever is there: a
process starting while another writes it (the suite's workers, after an
upgrade) would read half a file, and a power cut while it is written would
leave one that stops every later start.  So the modules that import
python-escpos call ``load_escpos()`` first: the first import in each process
holds a lock on the directory, and a pickle that cannot be read is removed
and the database parsed again.
"""
from __future__ import annotations

import fcntl
import logging
import os
import stat
import sys
from pathlib import Path

_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"
log = logging.getLogger("phucvu.printing")


def _cache_dir() -> Path | None:
    base = os.environ.get("CACHE_DIRECTORY", "").split(":")[0]
    if base:
        path = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".cache") / "phucvu"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        return None             # a read-only home: the library's default
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return path


_OURS: Path | None = None
if _ENV not in os.environ:
    _OURS = _cache_dir()
    if _OURS is not None:
        os.environ[_ENV] = str(_OURS)


def load_escpos() -> None:
    """python-escpos' capability database, imported safely (see above)."""
    if "escpos.capabilities" in sys.modules or _OURS is None:
        return
    with open(_OURS / "capabilities.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # released when the file closes
        try:
            import escpos.capabilities  # noqa: F401
        except Exception as e:          # EOFError, UnpicklingError...: a pickle cut short
            log.warning("python-escpos' cached printer database in %s could not be read "
                        "(%s); parsing it again", _OURS, e)
            for old in _OURS.glob("*.capabilities.pickle"):
                old.unlink(missing_ok=True)
            import escpos.capabilities  # noqa: F401,F811
