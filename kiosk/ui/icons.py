"""Simple vector icons drawn on the Kivy canvas (no emoji, no image files).

Each field code gets a recognisable shape; unknown codes get a document.
Shapes are drawn in a unit square and scaled to the widget, in white, so
they sit on any dark tile.
"""
from __future__ import annotations

from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.properties import ListProperty, StringProperty
from kivy.uix.widget import Widget

from kiosk.config import FIELD_ICONS

KINDS = (*FIELD_ICONS, "priority")


class FieldIcon(Widget):
    kind = StringProperty("document")
    color = ListProperty([1, 1, 1, 1])

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, kind=self._draw, color=self._draw)

    def _draw(self, *_):
        self.canvas.clear()
        s = min(self.width, self.height)
        ox = self.x + (self.width - s) / 2
        oy = self.y + (self.height - s) / 2
        w = max(2.0, s / 22)

        def P(x, y):
            return ox + x * s, oy + y * s

        def line(points, close=False):
            flat = [c for x, y in points for c in P(x, y)]
            Line(points=flat, width=w, close=close, joint="round", cap="round")

        def rect(x, y, rw, rh):
            Rectangle(pos=P(x, y), size=(rw * s, rh * s))

        def circle(x, y, r, filled=False):
            cx, cy = P(x, y)
            if filled:
                Ellipse(pos=(cx - r * s, cy - r * s), size=(2 * r * s, 2 * r * s))
            else:
                Line(circle=(cx, cy, r * s), width=w)

        with self.canvas:
            Color(*self.color)
            kind = self.kind if self.kind in KINDS else "document"
            if kind == "tu-phap":            # scales of justice
                line([(0.5, 0.12), (0.5, 0.86)])
                line([(0.3, 0.12), (0.7, 0.12)])
                line([(0.14, 0.78), (0.86, 0.78)])
                line([(0.14, 0.78), (0.05, 0.5), (0.23, 0.5), (0.14, 0.78)])
                line([(0.86, 0.78), (0.77, 0.5), (0.95, 0.5), (0.86, 0.78)])
                circle(0.5, 0.86, 0.05, filled=True)
            elif kind == "chung-thuc":       # a page with a round seal
                line([(0.18, 0.06), (0.18, 0.94), (0.66, 0.94), (0.82, 0.78), (0.82, 0.06)], close=True)
                for y in (0.76, 0.64, 0.52):
                    line([(0.3, y), (0.7, y)])
                circle(0.58, 0.26, 0.13)
                line([(0.52, 0.26), (0.57, 0.2), (0.66, 0.32)])
            elif kind == "dat-dai":          # a house on a plot of land
                line([(0.1, 0.52), (0.5, 0.9), (0.9, 0.52)])
                line([(0.2, 0.6), (0.2, 0.2), (0.8, 0.2), (0.8, 0.6)])
                rect(0.42, 0.2, 0.16, 0.24)
                line([(0.04, 0.1), (0.96, 0.1)])
            elif kind == "van-hoa-xa-hoi":   # two people
                circle(0.33, 0.72, 0.12, filled=True)
                circle(0.69, 0.66, 0.1, filled=True)
                line([(0.12, 0.1), (0.12, 0.38), (0.33, 0.54), (0.54, 0.38), (0.54, 0.1)])
                line([(0.52, 0.1), (0.52, 0.34), (0.69, 0.48), (0.86, 0.34), (0.86, 0.1)])
            elif kind == "kinh-te":          # a rising bar chart
                rect(0.14, 0.1, 0.16, 0.3)
                rect(0.42, 0.1, 0.16, 0.5)
                rect(0.7, 0.1, 0.16, 0.72)
                line([(0.1, 0.55), (0.36, 0.75), (0.56, 0.68), (0.9, 0.94)])
            elif kind == "priority":         # a person with a walking stick
                circle(0.44, 0.82, 0.1, filled=True)
                line([(0.44, 0.68), (0.44, 0.4), (0.3, 0.08)])
                line([(0.44, 0.4), (0.56, 0.08)])
                line([(0.44, 0.6), (0.66, 0.5)])
                line([(0.66, 0.5), (0.7, 0.06)])
            else:                            # a plain document
                line([(0.2, 0.06), (0.2, 0.94), (0.66, 0.94), (0.8, 0.8), (0.8, 0.06)], close=True)
                for y in (0.74, 0.58, 0.42, 0.26):
                    line([(0.32, y), (0.68, y)])
