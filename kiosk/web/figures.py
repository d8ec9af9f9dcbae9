"""The dashboard's figures for today: wait and service percentiles, the
alerts, the satisfaction bars.  Pure functions over what the read side
(kiosk/core/read) and the retained counter states give, so a test can
check each number against a known set of tickets.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from kiosk.config import SiteConfig


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..1): a time some ticket really
    took, never one between two tickets; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _p50_p90(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p90": percentile(values, 0.9)}


def time_kpis(config: SiteConfig, rows: Iterable[tuple]) -> dict[str, list[dict[str, Any]]]:
    """Wait (issued → first call) and service (call → finish) p50/p90 in seconds,
    per field and per counter, from ``read.Reader.day_times`` rows."""
    waits: dict[tuple[str, Any], list[float]] = {}
    services: dict[tuple[str, Any], list[float]] = {}
    for field, counter, issued, first_called, called, finished, state, *_ in rows:
        keys = [("field", field)] + ([("counter", counter)] if counter is not None else [])
        if first_called is not None:
            for k in keys:
                waits.setdefault(k, []).append(max(0.0, first_called - issued))
        if state == "finished" and called is not None and finished is not None:
            for k in keys:
                services.setdefault(k, []).append(max(0.0, finished - called))

    def row(kind: str, key: Any, name: str) -> dict[str, Any]:
        return {"key": key, "name": name, "wait": _p50_p90(waits.get((kind, key), [])),
                "service": _p50_p90(services.get((kind, key), []))}
    return {"fields": [row("field", f.code, f.name_vi) for f in config.fields],
            "counters": [row("counter", c.number, c.name) for c in config.counters]}


WITHIN_S = 5 * 60        # "trong 5 phút": the share of estimates this close


def estimate_error(rows: Iterable[tuple]) -> dict[str, Any]:
    """How far today's told waits were from the real ones, from
    ``read.Reader.day_times`` rows: over the tickets called at least once
    that were told a wait at issue (``est_wait_s``), the mean absolute error
    in minutes, the share within five minutes (five included) and how many
    tickets; ``text`` says it in Vietnamese.  The real wait is issue → first
    call, as the wait percentiles count it."""
    errors = [abs(est - max(0.0, first_called - issued))
              for _, _, issued, first_called, _, _, _, est, *_ in rows
              if first_called is not None and est is not None]
    head = "Sai số ước tính thời gian chờ hôm nay: "
    if not errors:
        return {"n": 0, "mae_min": None, "within_5_share": None,
                "text": head + "chưa có phiếu nào đã gọi để so"}
    n = len(errors)
    mae = sum(errors) / n / 60
    within = sum(e <= WITHIN_S for e in errors) / n
    pct = int(100 * within + 0.5)
    return {"n": n, "mae_min": mae, "within_5_share": within,
            "text": f"{head}trung bình {vi_number(round(mae, 1))}\u00a0phút · "
                    f"{pct}\u00a0% trong 5\u00a0phút ({n}\u00a0phiếu)"}


def alerts(config: SiteConfig, retained: Mapping[str, Any], oldest: Mapping[str, float],
           now: float) -> list[dict[str, Any]]:
    """A field whose longest wait is over its wait target ([targets]); a counter
    with ``[web] alert_imbalance_waiting`` or more waiting while other open
    counters serve nobody."""
    out: list[dict[str, Any]] = []
    for f in config.fields:
        limit = config.wait_target_min(f.code)
        # Judged in seconds: a target of 12.5 minutes is missed at 12:30, not at 13:00.
        if f.code in oldest and now - oldest[f.code] >= limit * 60:
            minutes = int((now - oldest[f.code]) // 60)
            out.append({"kind": "wait", "field": f.code, "minutes": minutes, "target_min": limit,
                        "message": f"{f.name_vi}: có người đã chờ {minutes} phút "
                                   f"(mục tiêu {vi_number(limit)} phút)"})
    states = {c.number: retained.get(f"counter/{c.number}/state") or {} for c in config.counters}
    idle = [c for c in config.counters
            if states[c.number].get("status") == "open" and not states[c.number].get("current")]
    for c in config.counters:
        waiting = states[c.number].get("waiting") or 0
        others = [k for k in idle if k.number != c.number]
        if waiting >= config.web.alert_imbalance_waiting and others:
            names = ", ".join(k.name for k in others)
            out.append({"kind": "imbalance", "counter": c.number, "waiting": waiting,
                        "idle": [k.number for k in others],
                        "message": f"{c.name}: {waiting} người chờ trong khi {names} đang rảnh "
                                   "— chuyển bớt phiếu hoặc mở thêm lĩnh vực cho các quầy rảnh"})
    return out


def vi_number(x: float) -> str:
    """12.5 as Vietnamese write it (12,5); a whole number without decimals."""
    return f"{x:g}".replace(".", ",")


def satisfaction(config: SiteConfig, rows: Iterable[tuple[str | None, str, int]],
                 names: Mapping[str, str]) -> dict[str, Any]:
    """Counted presses per official and level, for bars drawn in the page.
    Only officials with presses appear, so an unattributed row shows only
    when some press was unattributed."""
    per: dict[str | None, dict[str, int]] = {}
    for official, level, n in rows:
        per.setdefault(official, {})[level] = per.get(official, {}).get(level, 0) + n
    levels = [{"code": lv.code, "name": lv.name_vi, "satisfied": lv.satisfied}
              for lv in config.rating.levels]
    bars = [{"official": o, "name": names.get(o, o) if o else "Không xác định",
             "counts": counts, "total": sum(counts.values())}
            for o, counts in sorted(per.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
            if sum(counts.values())]
    return {"levels": levels, "bars": bars}
