"""Record docs/voice.md's examples: ``python docs/audio/make.py`` (espeak-ng and sox).

Each number_style says B001 at counter 3 in the default sentence, then A012 and
C120 on their own; the same words the announcer would give espeak-ng (vi, 140
wpm), without the chime, at 16 kHz so the files stay small.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from display import announcer as ann  # noqa: E402
from display import speech  # noqa: E402
from kiosk.config import AnnouncerSection  # noqa: E402

# (file name, label, counter, the whole sentence or only the ticket's words)
EXAMPLES = [("B001", "B001", 3, True), ("A012", "A012", 1, False), ("C120", "C120", 12, False)]


def main() -> None:
    engine = ann.EspeakEngine("vi", AnnouncerSection().speed)
    template = AnnouncerSection().template
    with tempfile.TemporaryDirectory() as work:
        for style in speech.NUMBER_STYLES:
            for name, label, counter, whole in EXAMPLES:
                text = (speech.call_sentence(template, label, counter, style) if whole
                        else speech.label_words(label, style))
                raw = Path(work) / "raw.wav"
                engine.synth(text, Path(work)).write(raw)
                out = HERE / f"{style}-{name}.wav"
                # -D: no dither, so a re-run makes the same bytes; -v 0.9: no clipping.
                subprocess.run(["sox", "-D", "-v", "0.9", str(raw), str(out), "rate", "16000"], check=True)
                print(f"{out.name}: {text}")


if __name__ == "__main__":
    main()
