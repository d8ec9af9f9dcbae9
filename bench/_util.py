"""Small helpers shared by the bench scripts (percentiles, RSS, output)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# First, always: ``python bench/kiosk.py`` puts bench/ itself first, where
# kiosk.py would shadow the kiosk package (also when PYTHONPATH names ROOT).
if str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    if not values:
        raise ValueError("no samples")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def rss_mb(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def emit(figures: dict[str, float]) -> None:
    """The last lines of every bench script: name=value, one per line."""
    for k, v in figures.items():
        print(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")


def bench_site(tmp: Path, quota: int = 999) -> Path:
    """The demo site with large quotas, so a bench can issue thousands of tickets."""
    text = (ROOT / "deploy" / "demo-site.toml").read_text()
    import re
    text = re.sub(r"daily_quota = \d+", f"daily_quota = {quota}", text)
    path = tmp / "bench-site.toml"
    path.write_text(text)
    return path
