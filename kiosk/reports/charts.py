"""Report charts as PNG through matplotlib (Agg, no screen needed).

Which chart a breakdown gets: official, counter and field give the share of
each rating level as stacked bars per group; hour gives waiting (p50 bars,
p90 marks) by hour of issue with the tickets issued; day gives the daily
trend (issued, served, satisfaction and on-time rates).

DejaVu Sans is set explicitly: matplotlib's fallback fonts lack some
Vietnamese letters and would print boxes for "ộ" or "ữ".
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

from kiosk.reports import catalogue as cat
from kiosk.reports.figures import Report

FONT = "DejaVu Sans"
DPI = 100
WIDTH_PX = 1600
HEIGHT_PX = 900
# Stacked bars: one row per group, so the chart grows with the roster.
BAR_ROW_PX = 32
BAR_BASE_PX = 220


def size_px(by: str, groups: int) -> tuple[int, int]:
    """Pixel size of the chart for a breakdown with ``groups`` groups (total excluded)."""
    if by in ("official", "counter", "field"):
        return WIDTH_PX, max(HEIGHT_PX // 3 * 2, BAR_BASE_PX + BAR_ROW_PX * groups)
    return WIDTH_PX, HEIGHT_PX


# Best level dark green, worst red, for the 3 to 5 levels a site may configure
# (ColorBrewer RdYlGn, without its pale middle when it would vanish on white).
_PALETTES = {
    3: ["#1a9850", "#91cf60", "#d73027"],
    4: ["#1a9850", "#91cf60", "#fc8d59", "#d73027"],
    5: ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"],
}


def level_colours(configured: int, total: int) -> list[str]:
    # Levels the config no longer has (met in old ratings) come last, grey.
    return (_PALETTES[configured] + ["#9e9e9e"] * total)[:total]


def render(report: Report, by: str, lang: str, path: Path, *, group_labels: dict,
           level_names: dict[str, str]) -> Path:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    b = report.breakdowns[by]
    w, h = size_px(by, len(b.groups))
    with matplotlib.rc_context({"font.family": FONT, "font.size": 13}):
        fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        rows: list[_RowText] = []
        if by in ("official", "counter", "field"):
            rows = _satisfaction(fig, report, by, lang, group_labels, level_names)
        elif by == "hour":
            _wait_by_hour(fig, report, lang)
        else:
            _daily(fig, report, lang)
        fig.text(0.5, 1 - 14 / h, _period(report, lang), ha="center", va="top", fontsize=11,
                 color="0.35")
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(fig, rows, path)
    return path


class _RowText(NamedTuple):
    """A text beside one bar, drawn by Pillow after matplotlib (see _write)."""

    ax: Any
    x: float          # axes fraction
    y: float          # data coordinate of the bar
    text: str
    anchor: str       # Pillow's: "rm" right-middle, "lm" left-middle
    size_pt: float


def _write(fig, rows: list[_RowText], path: Path) -> None:
    """Draw the figure, add the row texts, save as PNG.

    A matplotlib Text costs about 5 ms to lay out and draw; two per official
    were half of a month's report for 60 officials. Pillow draws the same
    font at the same pixel size, placed through the axes' own transform, in
    well under a millisecond each.
    """
    import numpy as np
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    fig.canvas.draw()
    img = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    draw = ImageDraw.Draw(img)
    fonts: dict[float, Any] = {}
    for r in rows:
        font = fonts.get(r.size_pt)
        if font is None:
            # Points to pixels as matplotlib does at this DPI.
            font = fonts[r.size_pt] = ImageFont.truetype(
                font_manager.findfont(FONT), round(r.size_pt * DPI / 72))
        x, y = r.ax.get_yaxis_transform().transform((r.x, r.y))
        draw.text((x, img.height - y), r.text, font=font, fill="black", anchor=r.anchor)
    path.write_bytes(png_bytes(np.asarray(img)))


def png_bytes(rgb) -> bytes:
    """An RGB array (height × width × 3, uint8) as a PNG file, lossless.

    Pillow's encoder chooses a filter for every row (68 ms for a month's
    1600 × 2172 chart); a chart is flat colour, so rows left unfiltered and
    zlib at level 1 (a third of the default's time) come out smaller, in a
    third of the time.
    """
    import struct
    import zlib

    import numpy as np

    h, w, _ = rgb.shape
    raw = np.zeros((h, w * 3 + 1), np.uint8)     # each row: filter type 0, then its pixels
    raw[:, 1:] = rgb.reshape(h, w * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))   # 8-bit RGB
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def _period(report: Report, lang: str) -> str:
    return f"{cat.date_text(report.date_from, lang)} – {cat.date_text(report.date_to, lang)}"


def _no_data(ax, lang: str) -> None:
    ax.text(0.5, 0.5, cat.text("chart.no_data", lang), ha="center", va="center",
            transform=ax.transAxes, fontsize=20, color="0.4")


def _satisfaction(fig, report: Report, by: str, lang: str, group_labels: dict,
                  level_names: dict[str, str]) -> list[_RowText]:
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    b = report.breakdowns[by]
    h = fig.bbox.height
    ax = fig.add_axes((0.24, 70 / h, 0.62, 1 - 190 / h))
    ax.set_title(cat.text("chart.satisfaction", lang, what=cat.text(f"what.{by}", lang)),
                 fontsize=18, pad=44)
    groups = b.groups
    if not groups:
        _no_data(ax, lang)
        return []
    codes = [lv.code for lv in report.levels]
    colours = level_colours(len(level_names), len(codes))
    # First group at the top, as in the table.
    ys = list(range(len(groups)))[::-1]
    left = [0.0] * len(groups)
    handles = []
    for code, colour in zip(codes, colours):
        shares = [(f.levels.get(code, 0) / f.rated) if f.rated else 0.0 for f in groups]
        # One collection per level rather than barh's one patch per bar:
        # 60 officials × 3 levels of patches cost most of the chart's time.
        ax.add_collection(PolyCollection(
            [[(x, y - 0.375), (x + w, y - 0.375), (x + w, y + 0.375), (x, y + 0.375)]
             for x, w, y in zip(left, shares, ys) if w > 0],
            facecolors=colour, edgecolors="white", linewidths=1.0))
        handles.append(Patch(facecolor=colour, label=level_names.get(code, code)))
        left = [a + s for a, s in zip(left, shares)]
    # Group names beside the bars rather than as tick labels: 60 ticks cost
    # matplotlib more (tick objects, their bounding boxes) than the text.
    ax.set_yticks([])
    rows = [_RowText(ax, -0.01, y, group_labels.get(f.key, "—"), "rm", 13)
            for y, f in zip(ys, groups)]
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v * 100:.0f}%")
    ax.set_xlabel(cat.text("chart.share", lang))
    for y, f in zip(ys, groups):
        if f.rated:
            note = f"{f.satisfaction * 100:.1f}%  (n={f.rated})"
            note = note.replace(".", ",") if lang == "vi" else note
        else:
            note = cat.text("chart.no_ratings", lang)
        rows.append(_RowText(ax, 1.01, y, note, "lm", 11))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(codes),
              frameon=False, fontsize=12)
    ax.spines[["top", "right"]].set_visible(False)
    return rows


def _wait_by_hour(fig, report: Report, lang: str) -> None:
    groups = [f for f in report.breakdowns["hour"].groups if f.key is not None]
    ax = fig.add_axes((0.07, 0.1, 0.84, 0.74))
    ax.set_title(cat.text("chart.wait_hour", lang), fontsize=18, pad=40)
    if not groups:
        _no_data(ax, lang)
        return
    hours = [f.key for f in groups]
    p50 = [f.wait_p50 or 0 for f in groups]
    p90 = [f.wait_p90 or 0 for f in groups]
    ax.bar(hours, p90, width=0.8, color="#f4a259", label=cat.text("wait_p90", lang))
    ax.bar(hours, p50, width=0.8, color="#1f6f8b", label=cat.text("wait_p50", lang))
    ax.set_xticks(hours, [f"{h:02d}h" for h in hours])
    ax.set_ylabel(cat.text("chart.minutes", lang))
    ax.set_xlabel(cat.text("key.hour", lang))
    right = ax.twinx()
    right.plot(hours, [f.issued for f in groups], color="0.2", marker="o",
               label=cat.text("issued", lang))
    right.set_ylabel(cat.text("chart.tickets", lang))
    right.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", frameon=False, ncol=3,
              bbox_to_anchor=(0, 1.0))
    ax.spines[["top"]].set_visible(False)


def _daily(fig, report: Report, lang: str) -> None:
    groups = [f for f in report.breakdowns["day"].groups if f.key is not None]
    ax = fig.add_axes((0.07, 0.14, 0.84, 0.70))
    ax.set_title(cat.text("chart.daily", lang), fontsize=18, pad=40)
    if not groups:
        _no_data(ax, lang)
        return
    days = [dt.date.fromisoformat(f.key) for f in groups]
    # Positions, not dates: a period with gaps (weekends) keeps even bars.
    xs = list(range(len(days)))
    ax.bar(xs, [f.issued for f in groups], width=0.7, color="#c9d6df",
           label=cat.text("issued", lang))
    ax.plot(xs, [f.served for f in groups], color="#1f6f8b", marker="o",
            label=cat.text("served", lang))
    ax.set_ylabel(cat.text("chart.tickets", lang))
    ax.set_ylim(0, max(f.issued for f in groups) * 1.1 or 1)
    ax.set_xlim(-0.6, len(xs) - 0.4)
    right = ax.twinx()
    for name, values, colour in (
            ("satisfaction", [f.satisfaction for f in groups], "#2a9d3f"),
            ("on_time_share", [f.on_time_share for f in groups], "#e76f51")):
        right.plot(xs, [v if v is not None else float("nan") for v in values], color=colour,
                   marker="s", label=cat.text(name, lang))
    right.set_ylim(0, 1.05)
    right.yaxis.set_major_formatter(lambda v, _: f"{v * 100:.0f}%")
    right.set_ylabel(cat.text("chart.rate", lang))
    ax.set_xticks(xs, [cat.date_text(d, lang)[:5] if lang == "vi" else d.isoformat()[5:]
                       for d in days], rotation=60 if len(days) > 10 else 0)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", frameon=False, ncol=4,
              bbox_to_anchor=(0, 1.0))
    ax.spines[["top"]].set_visible(False)
