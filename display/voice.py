"""``phucvu voice-test "…"``: speak one sentence with the configured voice.

Useful when installing a centre: checks espeak-ng (or the clip pack), the
chime and the loudspeaker in one go.  With ``out_dir`` (or when the site sets
``announcer.output_dir``) the wav is written there instead of played.
"""
from __future__ import annotations

from pathlib import Path

from display import announcer as ann
from display import speech


def main(text: str, config_path: str, out_dir: str | None = None) -> Path:
    from kiosk import config

    cfg = config.load(config_path)
    text = speech.nfc(text).strip()
    if not text:
        raise SystemExit("voice-test: give a sentence to speak, e.g. \"Mời công dân có số thứ tự B023\"")
    try:
        voice = ann.from_config(cfg, output_dir=out_dir)
    except ann.AnnouncerError as e:
        raise SystemExit(f"voice-test: {e}") from None
    try:
        path = voice.say(text)
    except (ann.AnnouncerError, speech.SpeechError) as e:
        raise SystemExit(f"voice-test: {e}") from None
    finally:
        voice.close()
    where = "written to" if voice.player is None else "played from"
    print(f"voice-test: {where} {path}")
    return path
