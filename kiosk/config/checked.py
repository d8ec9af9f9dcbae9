"""The site config in a process that does not load pydantic: the wall display.

The display reads a dozen values of the config, but pydantic, its compiled
core and the config's models took 20 MB of its memory (docs/performance.md).
So the file is validated by the one schema (``SiteConfig``) in a child
process, ``python -m kiosk.config.checked``, which prints the validated
config as JSON, or the very lines ``kiosk.config.load`` gives (an unknown
key is refused, named with its file and section) and exits; the display
keeps the JSON as read-only attributes, a ``SiteView``, with the lookups of
``SiteConfig`` (``lookups.py``).  A saved change of the centre (the retained
config/site) is merged and validated the same way: ``merge`` is
``live.merge`` run in the child.  Standard library only.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kiosk.config.errors import ConfigError
from kiosk.config.lookups import SiteLookups

# The root the kiosk package is imported from, for the child's sys.path.
_ROOT = str(Path(__file__).resolve().parents[2])
CHILD_TIMEOUT_S = 60


def _view(value: Any) -> Any:
    if isinstance(value, dict):
        return View(value)
    if isinstance(value, list):
        return tuple(_view(v) for v in value)
    return value


def without_none(value: Any) -> Any:
    """``value`` with every None left out of its tables (pydantic's
    ``exclude_none``; TOML has no null, so the site file writer uses it too)."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


class View:
    """One validated section's JSON as read-only attributes (lists as tuples).

    Values only: the sections' own methods (``FieldSection.icon_kind``...)
    stay with the pydantic models, which the processes that call them load.
    A table keyed by codes (``targets.fields``) also answers ``get``.
    """

    def __init__(self, data: dict[str, Any]):
        object.__setattr__(self, "_json", data)
        for key, value in data.items():
            object.__setattr__(self, key, _view(value))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self._json else default

    def model_dump(self, mode: str = "json", exclude_none: bool = False) -> dict[str, Any]:
        # A fresh copy, as pydantic's: callers change what they are given.
        data = json.loads(json.dumps(self._json))
        return without_none(data) if exclude_none else data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, View):
            return self._json == other._json
        if hasattr(other, "model_dump"):
            return self._json == other.model_dump(mode="json")
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._json!r})"


class SiteView(View, SiteLookups):
    """A validated site config (the JSON of ``SiteConfig.model_dump(mode="json")``)."""


def load(path: str | Path) -> SiteView:
    """``kiosk.config.load(path)``, validated in a child: a SiteView or ConfigError."""
    return SiteView(_child(["load", str(path)], None, str(path)))


def merge(local: Any, payload: dict[str, Any]) -> SiteView:
    """``live.merge(local, payload)``, validated in a child: a SiteView or ConfigError."""
    body = json.dumps({"local": local.model_dump(mode="json"), "payload": payload}, ensure_ascii=False)
    return SiteView(_child(["merge"], body, "config/site"))


def _child(args: list[str], stdin: str | None, what: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    try:
        r = subprocess.run([sys.executable, "-m", "kiosk.config.checked", *args],
                           input=None if stdin is None else stdin.encode("utf-8"),
                           capture_output=True, env=env, timeout=CHILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"{what}: the config check could not run: {e}") from None
    err = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode == 2 and err:
        raise ConfigError(err)
    if r.returncode != 0:
        last = err.splitlines()[-1] if err else "no message"
        raise ConfigError(f"{what}: the config check failed (exit {r.returncode}): {last}")
    return json.loads(r.stdout.decode("utf-8"))


def _main(argv: list[str]) -> int:
    # The child: the one schema, pydantic and all; the answer on stdout.
    from kiosk.config.live import merge as live_merge
    from kiosk.config.loading import load as full_load
    from kiosk.config.loading import parse

    try:
        if argv[:1] == ["load"] and len(argv) == 2:
            cfg = full_load(argv[1])
        elif argv == ["merge"]:
            body = json.loads(sys.stdin.buffer.read().decode("utf-8"))
            cfg = live_merge(parse(body["local"]), body["payload"])
        else:
            sys.stderr.write("usage: python -m kiosk.config.checked load PATH | merge < JSON\n")
            return 64
    except ConfigError as e:
        sys.stderr.buffer.write(str(e).encode("utf-8"))
        return 2
    sys.stdout.buffer.write(json.dumps(cfg.model_dump(mode="json"), ensure_ascii=False).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
