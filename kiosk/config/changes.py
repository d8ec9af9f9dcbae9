"""What differs between two site configs, key by key, in the file's words.

Both sides are validated models, so a default written out and the same
default left out are no difference.  Lists whose items have an identity are
compared by it, not by position: ``fields`` and ``priority.classes`` by
``code``, ``counters`` by ``number``, ``rating.levels`` by ``code``, the
bridge's devices by ``counter``.  A field moved in the list is then a change
of order, not every key of two fields changed.  Used by ``phucvu config
diff``, and by the admin's history, which keeps with each saved version the
lines that say what it changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only the hints: ``phucvu`` imports this room for every command.
    from pydantic import BaseModel

# A list at this dotted path is keyed by this item key.
KEYED = {
    "fields": "code",
    "counters": "number",
    "priority.classes": "code",
    "rating.levels": "code",
    "bridge.devices": "counter",
}
_ABSENT = object()


@dataclass(frozen=True)
class Change:
    path: str            # dotted, with [key] for keyed list items: fields[tu-phap].name_vi
    old: Any             # _ABSENT-free: None for an item or key that was not there
    new: Any
    kind: str            # "changed", "added", "removed", "order"

    def describe(self) -> str:
        if self.kind == "added":
            return f"{self.path}: added {_show(self.new)}"
        if self.kind == "removed":
            return f"{self.path}: removed (was {_show(self.old)})"
        if self.kind == "order":
            return f"{self.path}: order {_show(self.old)} → {_show(self.new)}"
        return f"{self.path}: {_show(self.old)} → {_show(self.new)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {_show(v)}" for k, v in value.items() if v is not None)
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "none" if value is None else str(value)


def _walk(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else key
            o, n = old.get(key, _ABSENT), new.get(key, _ABSENT)
            if o is _ABSENT:
                out.append(Change(sub, None, n, "added"))
            elif n is _ABSENT:
                out.append(Change(sub, o, None, "removed"))
            else:
                _walk(sub, o, n, out)
        return
    item_key = KEYED.get(path)
    if item_key and isinstance(old, list) and isinstance(new, list):
        olds = {item[item_key]: item for item in old}
        news = {item[item_key]: item for item in new}
        for key, item in olds.items():
            sub = f"{path}[{key}]"
            if key not in news:
                out.append(Change(sub, item, None, "removed"))
            else:
                _walk(sub, item, news[key], out)
        for key, item in news.items():
            if key not in olds:
                out.append(Change(f"{path}[{key}]", None, item, "added"))
        kept_old = [k for k in olds if k in news]
        kept_new = [k for k in news if k in olds]
        if kept_old != kept_new:
            out.append(Change(path, kept_old, kept_new, "order"))
        return
    if old != new:
        out.append(Change(path, old, new, "changed"))


def diff(old: BaseModel, new: BaseModel) -> list[Change]:
    """Every key that differs from ``old`` to ``new`` (validated site configs)."""
    out: list[Change] = []
    _walk("", old.model_dump(mode="json"), new.model_dump(mode="json"), out)
    return out
