"""The rules for changing a running centre's config (docs/config.md, "Changing
a running centre").  Pure: the old and new validated configs and the queue
state in, three lists out; no I/O.

``check(old, new, state, mono)`` answers:

- ``refusals``: Vietnamese reasons, one per thing the change would strand
  (people waiting in a deleted field, a ticket being served at a deleted
  counter, ...).  Any refusal refuses the whole change;
- ``effects``: what an allowed change does to today's queue, one line per
  changed key that needs saying (``counters[2].fields: takes effect at its
  next call``);
- ``restart_keys``: keys the running processes cannot take live (the bus,
  the database, the bridge's ports, the uplink, the web listener, the site's
  identity and time zone).  They are changed in the file, then restarted.

"Today" is the core's current service day (``state.day``): its tickets are
the only ones the state holds.
"""
from __future__ import annotations

from kiosk.config import SiteConfig
from kiosk.config.changes import Change, diff
from kiosk.core.domain.ratings import RatingJudge
from kiosk.core.domain.state import CALLABLE, CALLED, NO_SHOW, QueueState

# Sections (or keys) read once at start: the bus connection, the database,
# the bridge's serial ports, the uplink to the province, the web listener,
# and the core's own printer device (opened once; its other settings are live).
# ``phone``: the core loads the site secret at start and the phone page's
# server opens its listener; a secret changed in one and not the other
# would refuse every citizen's address.
RESTART_PREFIXES = ("site.id", "site.timezone", "mqtt", "store", "bridge", "uplink",
                    "web.host", "web.port", "printer.connection", "phone")
NAME_KEYS = ("name", "name_vi", "name_en", "commune", "centre", "province")


def restart_key(path: str) -> str | None:
    """The restart-needed key a change at ``path`` touches, if any (``mqtt.port``,
    ``bridge.devices``, ``uplink``)."""
    for p in RESTART_PREFIXES:
        if path == p or path.startswith(p + ".") or path.startswith(p + "["):
            if p in ("mqtt", "store", "bridge"):
                rest = path[len(p) + 1:]
                head = rest.split(".")[0].split("[")[0]
                return f"{p}.{head}" if head else p
            return p
    return None


def check(old: SiteConfig, new: SiteConfig, state: QueueState,
          mono: float) -> tuple[list[str], list[str], list[str]]:
    """(refusals, effects, restart_keys) of going from ``old`` to ``new`` now.

    ``mono`` is the core's monotonic time, which rating windows run on."""
    changes = diff(old, new)
    restart = sorted({k for c in changes if (k := restart_key(c.path)) is not None})
    refusals: list[str] = []
    refusals += _fields(old, new, state)
    refusals += _counters(old, new, state)
    refusals += _classes(old, new, state)
    refusals += _levels(old, new, state, mono)
    effects = [line for c in changes if (line := _effect(c, old, new, state))]
    if [lv.code for lv in old.rating.levels] != [lv.code for lv in new.rating.levels]:
        # A box's buttons are judged by position: the stickers on every box
        # must now say what the new order means, or presses are misjudged.
        buttons = ", ".join(f"{i} = {lv.name_vi}" for i, lv in enumerate(new.rating.levels, 1))
        effects.append(f"rating.levels: the boxes' buttons now mean {buttons}; "
                       "relabel the buttons of every counter box")
    return refusals, effects, restart


# ------------------------------------------------------------------ refusals
def _today(state: QueueState):
    return [t for t in state.tickets.values() if t.day == state.day]


def _people(tickets) -> str:
    """How many wait, are served, or may be called back, in words."""
    waiting = sum(t.state in CALLABLE for t in tickets)
    served = sum(t.state == CALLED for t in tickets)
    absent = sum(t.state == NO_SHOW for t in tickets)
    parts = []
    if waiting:
        parts.append(f"{waiting} người chờ")
    if served:
        parts.append(f"{served} người đang được phục vụ")
    if absent:
        parts.append(f"{absent} số vắng mặt có thể gọi lại")
    return ", ".join(parts)


def _open_tickets(tickets):
    # Every ticket that may still be shown or called today: the views and
    # the call need its field, class and counter in the config.
    return [t for t in tickets if t.state in (*CALLABLE, CALLED, NO_SHOW)]


def _fields(old: SiteConfig, new: SiteConfig, state: QueueState) -> list[str]:
    out = []
    today = _today(state)
    new_codes = {f.code: f for f in new.fields}
    for f in old.fields:
        if f.code not in new_codes:
            people = _open_tickets([t for t in today if t.field == f.code])
            if people:
                out.append(f"Lĩnh vực «{f.name_vi}» còn {_people(people)}: không xoá được, "
                           "chỉ tạm ngừng nhận số (closed).")
    # A prefix names today's numbers: one that changes, or passes to another
    # field, would give two citizens the same number (A005 twice).
    used: dict[str, set[str]] = {}
    for t in today:
        used.setdefault(t.label[:1], set()).add(t.origin_field)
    olds = {f.code: f for f in old.fields}
    for f in new.fields:
        was = olds.get(f.code)
        issued = state.last_number.get(f.code, 0) if state.day else 0
        if was is not None and was.prefix != f.prefix and issued:
            out.append(f"Lĩnh vực «{f.name_vi}» đã phát {issued} số hôm nay với chữ {was.prefix}: "
                       f"không đổi thành {f.prefix} được (số sẽ trùng); đổi sau khi hết ngày "
                       "làm việc, trước số đầu tiên của ngày mới.")
            continue
        others = used.get(f.prefix, set()) - {f.code}
        if others:
            holder = olds[sorted(others)[0]].name_vi if sorted(others)[0] in olds else sorted(others)[0]
            out.append(f"Chữ {f.prefix} đã đánh số hôm nay cho lĩnh vực «{holder}»: lĩnh vực "
                       f"«{f.name_vi}» không dùng được chữ này đến hết ngày (số sẽ trùng).")
    return out


def _counters(old: SiteConfig, new: SiteConfig, state: QueueState) -> list[str]:
    out = []
    kept = {c.number for c in new.counters}
    for c in old.counters:
        if c.number in kept:
            continue
        k = state.counters.get(c.number)
        why = []
        if k is not None and k.official:
            why.append(f"cán bộ {k.official} đang đăng nhập")
        if k is not None and k.current:
            t = state.tickets.get(k.current)
            why.append(f"đang phục vụ số {t.label if t else k.current}")
        sent = [t for t in _today(state) if t.target_counter == c.number and t.state in CALLABLE]
        if sent:
            why.append(f"{len(sent)} người được chuyển tới đang chờ")
        if why:
            out.append(f"«{c.name}» {', '.join(why)}: không xoá được; đăng xuất, kết thúc "
                       "hoặc chuyển số trước.")
    return out


def _classes(old: SiteConfig, new: SiteConfig, state: QueueState) -> list[str]:
    out = []
    kept = {p.code for p in new.priority.classes}
    for p in old.priority.classes:
        if p.code in kept:
            continue
        people = _open_tickets([t for t in _today(state) if t.priority == p.code])
        if people:
            out.append(f"Nhóm ưu tiên «{p.name_vi}» còn {_people(people)}: không xoá được "
                       "đến khi họ được phục vụ.")
    return out


def _level_shape(cfg: SiteConfig) -> list[tuple[str, bool]]:
    return [(lv.code, lv.satisfied) for lv in cfg.rating.levels]


def _levels(old: SiteConfig, new: SiteConfig, state: QueueState, mono: float) -> list[str]:
    # A press is judged by its level's position: a window open across the
    # change would count it under another level.
    if _level_shape(old) == _level_shape(new):
        return []
    judge = RatingJudge(old.rating, state)
    open_at = sorted(n for n, k in state.counters.items() if judge.window(k, mono) is not None)
    if not open_at:
        return []
    where = ", ".join(str(n) for n in open_at)
    return [f"Đang mở cửa sổ đánh giá ở quầy {where}: không đổi mức đánh giá (mã, số mức, "
            "thứ tự, hài lòng) lúc này; thử lại sau một phút."]


# ------------------------------------------------------------------- effects
def _waiting(state: QueueState, code: str) -> int:
    return sum(t.state in CALLABLE for t in _today(state) if t.field == code)


def _effect(c: Change, old: SiteConfig, new: SiteConfig, state: QueueState) -> str | None:
    path, leaf = c.path, c.path.rsplit(".", 1)[-1]
    if restart_key(path):
        return None
    if path.startswith("counters[") and leaf == "fields":
        return f"{path}: takes effect at its next call"
    if path.startswith("counters[") and c.kind == "added":
        return f"{path}: added; its box needs the broker login counter-{c.new['number']}"
    if path == "hours" or (path.startswith("fields[") and leaf == "hours"):
        return f"{path}: a field closing now stops issuing; its line is still called"
    if path.startswith("fields[") and leaf == "daily_quota":
        code = path[len("fields["):path.index("]")]
        issued = state.last_number.get(code, 0) if state.day else 0
        if c.new is not None and issued >= c.new:
            return f"{path}: {issued} already issued today: no more tickets today"
        return None
    if path.startswith("fields[") and leaf == "closed":
        code = path[len("fields["):path.index("]")]
        if c.new:
            return f"{path}: no new tickets; the {_waiting(state, code)} waiting are still called"
        return f"{path}: takes new tickets again"
    if path.startswith("fields[") and c.kind == "removed":
        return f"{path}: removed; today's finished tickets stay in the reports"
    if leaf in NAME_KEYS and c.kind == "changed":
        return f"{path}: shown everywhere at once; tickets already printed keep the old text"
    return None
