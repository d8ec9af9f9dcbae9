"""What the announcer says: labels and counters as Vietnamese words."""
import unicodedata

import pytest

from display import speech

TEMPLATE = "Mời công dân có số thứ tự {number} đến quầy số {counter}"


@pytest.mark.parametrize("n, said", [
    (0, "không"), (7, "bảy"), (10, "mười"), (11, "mười một"), (15, "mười lăm"),
    (20, "hai mươi"), (21, "hai mươi mốt"), (25, "hai mươi lăm"), (44, "bốn mươi bốn"),
    (100, "một trăm"), (105, "một trăm linh năm"), (110, "một trăm mười"),
    (999, "chín trăm chín mươi chín"),
])
def test_number_words(n, said):
    assert speech.number_words(n) == said


def test_label_digit_by_digit_and_as_words():
    assert speech.label_words("B023", "digits") == "bê không hai ba"
    assert speech.label_words("B023", "words") == "bê hai mươi ba"
    assert speech.label_words("c105", "words") == "xê một trăm linh năm"


def test_call_sentence_is_nfc_vietnamese():
    decomposed_template = unicodedata.normalize("NFD", TEMPLATE)
    text = speech.call_sentence(decomposed_template, "B023", 2)
    assert text == "Mời công dân có số thứ tự bê hai mươi ba đến quầy số hai"
    assert unicodedata.is_normalized("NFC", text)


def test_bad_template_and_label_are_named():
    with pytest.raises(speech.SpeechError, match="placeholder"):
        speech.check_template("Mời số {ticket}")
    with pytest.raises(speech.SpeechError, match="B0X3"):
        speech.label_words("B0X3")
    with pytest.raises(speech.SpeechError, match="1000"):
        speech.number_words(1000)


def test_match_clips_prefers_the_longest_phrase_and_names_a_missing_word():
    phrases = {"mời công dân": "moi", "mời": "moi1", "bê": "b", "hai": "2", "không": "0"}
    assert speech.match_clips("Mời công dân bê không hai", phrases) == ["moi", "b", "0", "2"]
    with pytest.raises(speech.SpeechError, match="'ba'"):
        speech.match_clips("Mời bê ba", phrases)


# What a caller at a Vietnamese centre would say, per announcer.number_style.
SAID = {
    "whole": {"B001": "bê một", "A012": "a mười hai", "C120": "xê một trăm hai mươi"},
    "hundreds": {"B001": "bê không trăm linh một", "A012": "a không trăm mười hai",
                 "C120": "xê một trăm hai mươi"},
    "digits": {"B001": "bê không không một", "A012": "a không một hai", "C120": "xê một hai không"},
}


@pytest.mark.parametrize("style", speech.NUMBER_STYLES)
@pytest.mark.parametrize("label, counter, counter_said", [("B001", 3, "ba"), ("A012", 1, "một"),
                                                          ("C120", 12, "mười hai")])
def test_sentence_under_each_number_style(style, label, counter, counter_said):
    text = speech.call_sentence(TEMPLATE, label, counter, style)
    assert text == f"Mời công dân có số thứ tự {SAID[style][label]} đến quầy số {counter_said}"
    assert unicodedata.is_normalized("NFC", text)


def test_the_default_reads_the_number_whole_and_words_is_its_old_name():
    assert speech.DEFAULT_NUMBER_STYLE == "whole"
    assert speech.call_sentence(TEMPLATE, "B001", 3).startswith("Mời công dân có số thứ tự bê một đến")
    assert speech.label_words("B105", "words") == speech.label_words("B105", "whole") == "bê một trăm linh năm"
    with pytest.raises(speech.SpeechError, match="'spelled'.*whole, hundreds, digits"):
        speech.label_words("B001", "spelled")


@pytest.mark.parametrize("digits, said", [
    ("000", "không"), ("001", "không trăm linh một"), ("009", "không trăm linh chín"),
    ("010", "không trăm mười"), ("021", "không trăm hai mươi mốt"), ("099", "không trăm chín mươi chín"),
    ("100", "một trăm"), ("105", "một trăm linh năm"), ("15", "mười lăm"), ("7", "bảy"),
])
def test_hundreds_keeps_the_printed_hundreds(digits, said):
    assert speech.hundreds_words(digits) == said


def test_voice_page_shows_every_style_with_its_recordings():
    import re
    import wave
    from pathlib import Path
    docs = Path(__file__).resolve().parent.parent / "docs"
    page = (docs / "voice.md").read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", page)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| \**`(\w+)`.*audio/.*$", page, re.M)}
    assert set(rows) == set(speech.NUMBER_STYLES)
    for style in speech.NUMBER_STYLES:
        for label, said in SAID[style].items():
            assert f'"{said}' in rows[style] or f"**{said}**" in rows[style], (style, label)
            link = f"audio/{style}-{label}.wav"
            assert f"({link})" in rows[style]
            with wave.open(str(docs / link)) as w:
                assert w.getframerate() == 16000 and w.getnframes() > 16000
    assert speech.call_sentence(TEMPLATE, "B023", 2) in page      # the log line's example
