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
    assert speech.label_words("B023") == "bê không hai ba"
    assert speech.label_words("B023", "words") == "bê hai mươi ba"
    assert speech.label_words("c105", "words") == "xê một trăm linh năm"


def test_call_sentence_is_nfc_vietnamese():
    decomposed_template = unicodedata.normalize("NFD", TEMPLATE)
    text = speech.call_sentence(decomposed_template, "B023", 2)
    assert text == "Mời công dân có số thứ tự bê không hai ba đến quầy số hai"
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
