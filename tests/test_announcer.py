"""The announcer with real espeak-ng and real wav files.

The only fake is the loudspeaker: a tiny player program that reads the
whole wav (as aplay would), stays busy for a moment and logs when it
started and finished, so overlap and cut-offs are visible from outside.
"""
import array
import json
import logging
import math
import re
import shutil
import struct
import subprocess
import sys
import threading
import wave
from pathlib import Path

import pytest

from display import announcer as ann
from display import speech

TEMPLATE = "Mời công dân có số thứ tự {number} đến quầy số {counter}"

PLAYER = r'''
import sys, time, wave
log, hold, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
start = time.monotonic()
with wave.open(path, "rb") as w:
    frames = len(w.readframes(w.getnframes())) // (w.getsampwidth() * w.getnchannels())
time.sleep(hold)
with open(log, "a") as f:
    f.write(f"{path} {start} {time.monotonic()} {frames}\n")
'''


def call(n, label, counter, ticket=None):
    return {"call_id": f"2026-11-27-{n}", "call_seq": n, "label": label, "counter": counter,
            "ticket_id": ticket or f"20261127-{label}", "recall": False}


def rms(frames: bytes) -> float:
    a = array.array("h", frames)
    return math.sqrt(sum(x * x for x in a) / max(1, len(a))) / 32768


def speaker(tmp_path, hold=0.15):
    script = tmp_path / "speaker.py"
    script.write_text(PLAYER)
    log = tmp_path / "speaker.log"
    return [sys.executable, str(script), str(log), str(hold)], log


def played(log: Path):
    rows = []
    for line in log.read_text().splitlines():
        path, start, end, frames = line.split()
        rows.append((Path(path).name, float(start), float(end), int(frames)))
    return rows


@pytest.fixture(scope="module")
def espeak():
    return ann.EspeakEngine("vi", 140)


def test_espeak_call_is_a_chime_then_a_clear_voice(tmp_path, espeak):
    a = ann.Announcer(espeak, template=TEMPLATE, output_dir=tmp_path / "out")
    try:
        assert a.submit(call(17, "B023", 2))
        assert a.wait_idle(30)
    finally:
        a.close()
    [wav] = sorted((tmp_path / "out").glob("*.wav"))
    # Time of the call, call id, label, counter: unique across runs.
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}-2026-11-27-17-B023-q2\.wav", wav.name), wav.name
    with wave.open(str(wav)) as w:
        rate, n = w.getframerate(), w.getnframes()
        frames = w.readframes(n)
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
    seconds = n / rate
    chime_s = len(ann.chime(rate).frames) / 2 / rate
    # A chime, a pause, then a sentence of 18 syllables: several seconds.
    assert chime_s + ann.PAUSE_AFTER_CHIME_S + 2.0 < seconds < 20
    chime_part = frames[: int(rate * 0.3) * 2]
    voice_part = frames[int(rate * (chime_s + ann.PAUSE_AFTER_CHIME_S)) * 2:]
    assert frames[: len(ann.chime(rate).frames)] == ann.chime(rate).frames
    assert rms(chime_part) > 0.05
    assert rms(voice_part) > 0.02
    # sox agrees it is a valid, non-silent file of the same length.
    out = subprocess.run(["sox", str(wav), "-n", "stat"], capture_output=True, text=True).stderr
    stat = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert abs(float(stat["Length (seconds)"]) - seconds) < 0.01
    assert float(stat["RMS     amplitude"]) > 0.02


def test_order_no_overlap_dedupe_and_recall(tmp_path, espeak):
    player, log = speaker(tmp_path)
    first_ready = threading.Event()
    a = ann.Announcer(espeak, template=TEMPLATE, max_backlog=10, player=player,
                      on_ready=lambda job, path: first_ready.set())
    try:
        assert a.submit(call(1, "A001", 1))
        # Wait until A001 is being spoken: a recall of a ticket still waiting
        # would replace it (tested below), not follow it.
        assert first_ready.wait(30)
        assert a.submit(call(2, "B001", 2))
        assert not a.submit(call(1, "A001", 1))          # QoS 1 redelivery
        recall = dict(call(3, "A001", 1), recall=True)    # a recall has its own call_id
        assert a.submit(recall)
        assert not a.submit(call(2, "B001", 2))
        assert a.wait_idle(60)
    finally:
        a.close()
    rows = played(log)
    assert [r[0].split("-", 3)[3] for r in rows] == ["2026-11-27-1-A001-q1.wav", "2026-11-27-2-B001-q2.wav",
                                                     "2026-11-27-3-A001-q1.wav"]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows), "names list in the order heard"
    for (_, _, end, _), (_, start, _, _) in zip(rows, rows[1:]):
        assert start >= end, "two announcements overlapped"
    # Each file was read to its last frame (nothing cut short).
    assert all(frames > 22050 for *_, frames in rows)
    assert [p.call_id for p in a.played] == ["2026-11-27-1", "2026-11-27-2", "2026-11-27-3"]


def test_backlog_collapses_to_the_newest_calls(tmp_path, espeak):
    player, log = speaker(tmp_path, hold=0.4)
    first_ready = threading.Event()
    a = ann.Announcer(espeak, template=TEMPLATE, max_backlog=2, player=player,
                      on_ready=lambda job, path: first_ready.set())
    try:
        a.submit(call(1, "A001", 1))
        assert first_ready.wait(30)       # A001 is now playing and must finish
        for i in range(2, 7):
            a.submit(call(i, f"A00{i}", 1 + i % 4))
        assert a.wait_idle(60)
    finally:
        a.close()
    assert [p.label for p in a.played] == ["A001", "A005", "A006"]
    assert [j.label for j in a.dropped] == ["A002", "A003", "A004"]
    assert len(played(log)) == 3


def test_a_waiting_call_is_replaced_by_a_newer_call_of_the_same_ticket(tmp_path, espeak):
    player, _ = speaker(tmp_path, hold=0.3)
    first_ready = threading.Event()
    a = ann.Announcer(espeak, template=TEMPLATE, max_backlog=5, player=player,
                      on_ready=lambda job, path: first_ready.set())
    try:
        a.submit(call(1, "A001", 1))
        assert first_ready.wait(30)
        a.submit(call(2, "B007", 2))
        a.submit(call(3, "B007", 3))       # transferred and called at counter 3
        assert a.wait_idle(60)
    finally:
        a.close()
    assert [(p.label, p.counter) for p in a.played] == [("A001", 1), ("B007", 3)]


def test_bad_call_payload_is_logged_not_announced(tmp_path, espeak, caplog):
    a = ann.Announcer(espeak, template=TEMPLATE, output_dir=tmp_path)
    try:
        assert not a.submit({"call_id": "x", "label": "B0X3", "counter": 2})
        assert not a.submit({"label": "B003"})
        assert a.submit(call(9, "B003", 2))
        assert a.wait_idle(30)
    finally:
        a.close()
    assert "B0X3" in caplog.text and "call_id" in caplog.text
    assert [p.label for p in a.played] == ["B003"]


def said_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "phucvu.announcer" and r.levelno == logging.INFO
            and r.getMessage().startswith("said ")]


def test_each_announcement_logs_its_call_id_and_exact_sentence(tmp_path, espeak, caplog):
    caplog.set_level(logging.INFO, logger="phucvu.announcer")
    a = ann.Announcer(espeak, template=TEMPLATE, output_dir=tmp_path)
    try:
        assert a.submit(call(17, "B023", 2))
        assert a.wait_idle(30)
    finally:
        a.close()
    [wav] = tmp_path.glob("*.wav")
    [line] = said_lines(caplog)
    m = re.fullmatch(r'said call (\S+) \((\w+) at counter (\d+), ([\d.]+) s, (\S+)\): "(.*)"', line)
    assert m, line
    assert m.group(1, 2, 3, 5) == ("2026-11-27-17", "B023", "2", wav.name)
    assert m.group(6) == "Mời công dân có số thứ tự bê hai mươi ba đến quầy số hai"
    with wave.open(str(wav)) as w:
        assert abs(float(m.group(4)) - w.getnframes() / w.getframerate()) < 0.06


@pytest.mark.parametrize("style, said", [
    ("whole", ["bê một", "a mười hai", "xê một trăm hai mươi"]),
    ("hundreds", ["bê không trăm linh một", "a không trăm mười hai", "xê một trăm hai mươi"]),
    ("digits", ["bê không không một", "a không một hai", "xê một hai không"]),
])
def test_number_style_is_what_espeak_says(tmp_path, espeak, caplog, style, said):
    caplog.set_level(logging.INFO, logger="phucvu.announcer")
    a = ann.Announcer(espeak, template=TEMPLATE, number_style=style, use_chime=False, max_backlog=5,
                      output_dir=tmp_path)
    try:
        for n, label in enumerate(["B001", "A012", "C120"], 1):
            assert a.submit(call(n, label, 3))
        assert a.wait_idle(60)
    finally:
        a.close()
    sentences = [line.split(': "', 1)[1][:-1] for line in said_lines(caplog)]
    assert sentences == [f"Mời công dân có số thứ tự {w} đến quầy số ba" for w in said]
    # The wav is espeak-ng speaking that very sentence: same samples as asking it directly.
    for p, text in zip(a.played, sentences):
        assert ann.read_wav(p.path).frames == espeak.synth(text, tmp_path).frames


@pytest.mark.parametrize("voice", ["vi", "vi-vn-x-central"])
def test_no_two_letters_sound_the_same(voice):
    # What espeak-ng will say, as phonemes: two fields' letters that sound
    # alike ("dê" and "giê" are both [ze]) send citizens to the wrong counter.
    heard = {}
    for letter, word in speech.LETTERS.items():
        r = subprocess.run(["espeak-ng", "-v", voice, "-q", "-x", word], capture_output=True, text=True)
        heard.setdefault(r.stdout.strip(" _|\n"), []).append(letter)
    assert [letters for letters in heard.values() if len(letters) > 1] == []
    assert len(heard) == 26


def test_b001_default_is_shorter_than_digit_by_digit(tmp_path, espeak):
    def seconds(style):
        a = ann.Announcer(espeak, template=TEMPLATE, number_style=style, use_chime=False,
                          output_dir=tmp_path / style)
        try:
            a.submit(call(1, "B001", 3))
            assert a.wait_idle(30)
        finally:
            a.close()
        [p] = a.played
        return ann.read_wav(p.path).seconds
    assert seconds("whole") + 0.3 < seconds("digits")


def test_wav_names_are_unique_across_two_announcers_sharing_a_folder(tmp_path, espeak):
    out = tmp_path / "out"
    # Two runs of the day (a restart), or a display and a speaker on one
    # folder, announcing the same call id: nothing is overwritten.
    first = ann.Announcer(espeak, template=TEMPLATE, use_chime=False, output_dir=out)
    second = ann.Announcer(espeak, template=TEMPLATE, use_chime=False, number_style="digits", output_dir=out)
    try:
        assert first.submit(call(1, "B001", 3))
        assert first.wait_idle(30)
        kept = {p.name: p.read_bytes() for p in out.glob("*.wav")}
        assert second.submit(call(1, "B001", 3))
        assert second.submit(call(2, "A012", 1))
        assert first.submit(call(2, "A012", 1))
        assert first.wait_idle(30) and second.wait_idle(30)
    finally:
        first.close()
        second.close()
    names = sorted(p.name for p in out.glob("*.wav"))
    assert len(names) == 4 and not list(out.glob("*.part")) and not list(out.glob(".*"))
    assert {p.path.name for p in first.played} | {p.path.name for p in second.played} == set(names)
    for name, data in kept.items():
        assert (out / name).read_bytes() == data, "an earlier wav was overwritten"


def test_the_same_name_twice_gets_a_suffix_never_a_replacement(tmp_path):
    one, two = ann.chime(8000), ann.chime(8000).silence(0.1)
    target = tmp_path / "20261127-083012-345-2026-11-27-1-B001-q3.wav"
    assert one.write_new(target) == target
    second = two.write_new(target)
    assert second == tmp_path / "20261127-083012-345-2026-11-27-1-B001-q3-2.wav"
    assert ann.read_wav(target).frames == one.frames
    assert ann.read_wav(second).frames == two.frames
    assert sorted(p.name for p in tmp_path.iterdir()) == [second.name, target.name]


def test_config_number_style_choices(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="phucvu.announcer")
    from kiosk import config
    base = config.load(Path(__file__).parent.parent / "deploy" / "demo-site.toml").model_dump()
    assert config.parse(base).announcer.number_style == "whole"
    base["announcer"] = {"number_style": "words", "output_dir": str(tmp_path)}
    assert config.parse(base).announcer.number_style == "whole"
    base["announcer"] = {"number_style": "hundreds", "output_dir": str(tmp_path)}
    a = ann.from_config(config.parse(base))
    try:
        assert a.number_style == "hundreds"
        path = a.say("Mời công dân có số thứ tự bê không trăm linh một")
        assert path == tmp_path / "voice-test.wav" and ann.read_wav(path).seconds > 2
        # say() (voice-test, the kiosk's "Nghe hướng dẫn") is logged too.
        assert said_lines(caplog) == ['said (voice-test): "Mời công dân có số thứ tự bê không trăm linh một"']
    finally:
        a.close()
    base["announcer"] = {"number_style": "spelled"}
    with pytest.raises(config.ConfigError, match="number_style.*'whole', 'hundreds' or 'digits'"):
        config.parse(base)


# ------------------------------------------------------------ clip packs
def tone(path: Path, freq: float, ms: int, rate: int = 16000) -> bytes:
    n = rate * ms // 1000
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return frames


def make_pack(folder: Path, drop: str | None = None) -> dict[str, bytes]:
    folder.mkdir()
    words = {"mời công dân có số thứ tự": "intro", "đến quầy số": "to"}
    words.update({w: f"d{i}" for i, w in enumerate(speech.DIGITS)})
    words.update({speech.LETTERS[c]: f"l{c}" for c in "ABCDE"})
    # Numbers as words need these too.
    words.update({"mười": "ten", "mươi": "tens", "mốt": "mot", "lăm": "lam", "trăm": "hundred", "linh": "linh"})
    if drop:
        words.pop(drop)
    clips = {}
    manifest = {}
    for i, (phrase, name) in enumerate(words.items()):
        clips[name] = tone(folder / f"{name}.wav", 200 + 37 * i, 40 + i)
        manifest[phrase] = f"{name}.wav"
    (folder / "manifest.json").write_text(json.dumps({"clips": manifest}, ensure_ascii=False))
    return clips


def test_clip_pack_is_joined_sample_exact(tmp_path):
    clips = make_pack(tmp_path / "pack")
    engine = ann.ClipEngine(tmp_path / "pack", TEMPLATE, "digits")
    a = ann.Announcer(engine, template=TEMPLATE, number_style="digits", use_chime=False,
                      output_dir=tmp_path / "out")
    try:
        a.submit(call(5, "B023", 2))
        assert a.wait_idle(10)
    finally:
        a.close()
    [wav] = (tmp_path / "out").glob("*.wav")
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 16000
        got = w.readframes(w.getnframes())
    want = b"".join(clips[n] for n in ["intro", "lB", "d0", "d2", "d3", "to", "d2"])
    assert got == want


def test_clip_pack_with_chime_uses_the_pack_format(tmp_path):
    clips = make_pack(tmp_path / "pack")
    engine = ann.ClipEngine(tmp_path / "pack", TEMPLATE, "words")
    a = ann.Announcer(engine, template=TEMPLATE, number_style="words", output_dir=tmp_path / "out")
    try:
        a.submit(call(6, "A021", 1))
        assert a.wait_idle(10)
    finally:
        a.close()
    [wav] = (tmp_path / "out").glob("*.wav")
    with wave.open(str(wav)) as w:
        got = w.readframes(w.getnframes())
    voice = b"".join(clips[n] for n in ["intro", "lA", "d2", "tens", "mot", "to", "d1"])
    assert got.startswith(ann.chime(16000).frames)
    assert got.endswith(voice)


def test_clip_pack_missing_a_digit_fails_at_start_up(tmp_path):
    make_pack(tmp_path / "pack", drop="chín")
    with pytest.raises(speech.SpeechError, match="chín"):
        ann.ClipEngine(tmp_path / "pack", TEMPLATE, "digits")


def test_clip_pack_with_mixed_formats_is_refused(tmp_path):
    make_pack(tmp_path / "pack")
    tone(tmp_path / "pack" / "d3.wav", 440, 50, rate=22050)
    with pytest.raises(ann.AnnouncerError, match="d3.wav.*22050 Hz"):
        ann.ClipEngine(tmp_path / "pack", TEMPLATE, "digits")


def test_from_config_checks_engine_settings(tmp_path):
    from kiosk import config
    base = config.load(Path(__file__).parent.parent / "deploy" / "demo-site.toml").model_dump()
    base["announcer"] = {"engine": "clips"}
    with pytest.raises(ann.AnnouncerError, match="clips_dir"):
        ann.from_config(config.parse(base))
    base["announcer"] = {"engine": "espeak", "voice": "no-such-voice"}
    with pytest.raises(ann.AnnouncerError, match="no-such-voice"):
        ann.from_config(config.parse(base), output_dir=tmp_path)
    base["announcer"] = {"output_dir": str(tmp_path / "wavs")}
    a = ann.from_config(config.parse(base))
    try:
        assert a.player is None and a.output_dir == tmp_path / "wavs"
    finally:
        a.close()


def test_no_sound_device_falls_back_to_a_folder_only_when_asked(tmp_path, monkeypatch):
    from kiosk import config
    cfg = config.load(Path(__file__).parent.parent / "deploy" / "demo-site.toml")
    # A PATH with espeak-ng and an aplay whose machine has no sound card,
    # as on a Pi without its HAT or a server running the demo.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "espeak-ng").symlink_to(shutil.which("espeak-ng"))
    aplay = bin_dir / "aplay"
    aplay.write_text("#!/bin/sh\necho 'aplay: device_list:274: no soundcards found...' >&2\nexit 1\n")
    aplay.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(ann.AnnouncerError, match="announcer.output_dir"):
        ann.from_config(cfg)
    a = ann.from_config(cfg, fallback_dir=tmp_path / "wavs")
    try:
        assert a.player is None and a.output_dir == tmp_path / "wavs"
        a.submit(call(1, "A001", 1))
        assert a.wait_idle(30)
        [wav] = (tmp_path / "wavs").glob("*.wav")
        assert wav.name.endswith("-2026-11-27-1-A001-q1.wav")
    finally:
        a.close()


def test_the_sentence_reaches_stdout_in_a_process_without_logging(tmp_path):
    # As under systemd: `phucvu speaker` and the display set up no Python
    # logging, and the journal keeps stdout.
    code = f"""
from kiosk import config
from display import announcer as ann
cfg = config.load({str(Path(__file__).parent.parent / "deploy" / "demo-site.toml")!r})
a = ann.from_config(cfg, output_dir={str(tmp_path)!r})
a.submit({{"call_id": "2026-11-27-40", "label": "C120", "counter": 12}})
assert a.wait_idle(30)
a.close()
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).parent.parent)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if "said call" in line]
    assert len(lines) == 1, r.stdout + r.stderr
    assert re.search(r' INFO phucvu\.announcer: said call 2026-11-27-40 \(C120 at counter 12, .*-2026-11-27-40-C120-q12'
                     r'\.wav\): "Mời công dân có số thứ tự xê một trăm hai mươi đến quầy số mười hai"$', lines[0])
