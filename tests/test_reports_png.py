"""The chart's own PNG encoder (kiosk/reports/charts.png_bytes) against Pillow's."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from kiosk.reports.charts import png_bytes


def test_png_bytes_decode_to_the_same_pixels_as_pillows_file():
    rng = np.random.default_rng(21)
    # Flat bars, antialiased edges and noise: every byte value, odd width.
    rgb = np.full((37, 53, 3), 255, np.uint8)
    rgb[5:20, 3:40] = (0x1a, 0x98, 0x50)
    rgb[20:] = rng.integers(0, 256, size=(17, 53, 3), dtype=np.uint8)
    ours = Image.open(io.BytesIO(png_bytes(rgb)))
    assert ours.format == "PNG" and ours.mode == "RGB" and ours.size == (53, 37)
    pillow = io.BytesIO()
    Image.fromarray(rgb).save(pillow, format="PNG")
    assert np.array_equal(np.asarray(ours), np.asarray(Image.open(pillow)))
    assert np.array_equal(np.asarray(ours), rgb)
