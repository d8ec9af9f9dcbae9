"""What the hall hears, as words: pure text logic shared by every voice engine.

"B023" at counter 2 becomes "Mời công dân có số thứ tự bê hai mươi ba đến
quầy số hai" (the number read as a whole number, as a caller would say it;
``announcer.number_style`` picks another reading, docs/voice.md).  Letters and digits are spelled as Vietnamese words (not left to
the synthesiser) so espeak-ng and a recorded clip pack say exactly the same
thing, and a clip pack needs one file per word, digit and letter.

No I/O here: the announcer turns these words into sound.
"""
from __future__ import annotations

import unicodedata
from typing import Literal

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# How Vietnamese read a letter aloud on a ticket or a licence plate.  Where
# two names sound alike, the one that stays distinct is used: "giê" and "dê"
# are both [ze] (the North) or [je] (the South), so G is "gờ"; "rờ" is [ɣə]
# in the South like "gờ", so R is "e rờ"; espeak-ng says "gi" alone as a bare
# [z], so J is "di" (the same sound, a whole syllable).  tests/test_announcer.py
# checks with espeak-ng that no two letters sound the same.
LETTERS = {
    "A": "a", "B": "bê", "C": "xê", "D": "dê", "E": "e", "F": "ép", "G": "gờ",
    "H": "hát", "I": "i", "J": "di", "K": "ca", "L": "lờ", "M": "mờ", "N": "nờ",
    "O": "o", "P": "pê", "Q": "quy", "R": "e rờ", "S": "ét", "T": "tê", "U": "u",
    "V": "vê", "W": "vê kép", "X": "ích", "Y": "i dài", "Z": "dét",
}

# How the digits of a label are read (docs/voice.md has a recording of each):
#   whole     B001 "bê một", A012 "a mười hai": what a person calling says;
#   hundreds  B001 "bê không trăm linh một": every printed digit has a word,
#             still read as one number;
#   digits    B001 "bê không không một": one word per digit.
# "words" is the name "whole" had before; site files using it keep working.
NumberStyle = Literal["whole", "hundreds", "digits", "words"]
NUMBER_STYLES = ("whole", "hundreds", "digits")
DEFAULT_NUMBER_STYLE = "whole"


class SpeechError(ValueError):
    """A call that cannot be turned into words; the message says which part."""


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def number_words(n: int) -> str:
    """0..999 as spoken Vietnamese: 21 "hai mươi mốt", 105 "một trăm linh năm"."""
    if not 0 <= n <= 999:
        raise SpeechError(f"cannot read {n} aloud (expected 0 to 999)")
    if n < 10:
        return DIGITS[n]
    hundreds, rest = divmod(n, 100)
    parts: list[str] = []
    if hundreds:
        parts += [DIGITS[hundreds], "trăm"]
        if rest == 0:
            return " ".join(parts)
        if rest < 10:
            # "linh" marks the empty tens place: 105 is "một trăm linh năm".
            return " ".join(parts + ["linh", DIGITS[rest]])
    tens, ones = divmod(rest, 10)
    if tens == 1:
        parts.append("mười")
    elif tens > 1:
        parts += [DIGITS[tens], "mươi"]
    if ones:
        if ones == 5 and tens >= 1:
            parts.append("lăm")           # 15 "mười lăm", 25 "hai mươi lăm"
        elif ones == 1 and tens >= 2:
            parts.append("mốt")           # 21 "hai mươi mốt"
        else:
            parts.append(DIGITS[ones])
    return " ".join(parts)


def hundreds_words(digits: str) -> str:
    """Digits read as one number that keeps its printed hundreds: "001" is
    "không trăm linh một", "012" "không trăm mười hai", "120" "một trăm hai mươi"."""
    n = int(digits)
    if len(digits) < 3 or n >= 100 or n == 0:
        return number_words(n)
    # Vietnamese reads an empty hundreds place as "không trăm", and an empty
    # tens place after it as "linh" (as in 1005 "một nghìn không trăm linh năm").
    return "không trăm " + (f"linh {DIGITS[n]}" if n < 10 else number_words(n))


def label_words(label: str, style: NumberStyle = DEFAULT_NUMBER_STYLE) -> str:
    """A ticket label such as "B023" as words, in one of ``NUMBER_STYLES``."""
    label = label.strip().upper()
    if not label:
        raise SpeechError("empty ticket label")
    letters = ""
    i = 0
    while i < len(label) and label[i].isalpha():
        letters += label[i]
        i += 1
    digits = label[i:]
    if not digits.isdigit() and digits:
        raise SpeechError(f"ticket label {label!r} is not letters followed by digits")
    words: list[str] = []
    for ch in letters:
        if ch not in LETTERS:
            raise SpeechError(f"ticket label {label!r}: no Vietnamese name for letter {ch!r}")
        words.append(LETTERS[ch])
    if digits:
        if style == "digits":
            words += [DIGITS[int(d)] for d in digits]
        elif style == "hundreds":
            words.append(hundreds_words(digits))
        elif style in ("whole", "words"):
            words.append(number_words(int(digits)))
        else:
            raise SpeechError(f"unknown number_style {style!r} (expected one of {', '.join(NUMBER_STYLES)})")
    return " ".join(words)


def call_sentence(template: str, label: str, counter: int, style: NumberStyle = DEFAULT_NUMBER_STYLE) -> str:
    """The sentence for one call, from the configured template.

    ``{number}`` is the ticket label in words, ``{counter}`` the counter
    number in words, ``{label}`` and ``{counter_digits}`` the raw forms (for
    a template that wants espeak-ng to read them its own way).
    """
    try:
        text = template.format(
            number=label_words(label, style),
            counter=number_words(int(counter)),
            label=label,
            counter_digits=str(counter),
        )
    except (KeyError, IndexError) as e:
        raise SpeechError(f"announcer.template has an unknown placeholder {e}") from None
    return nfc(" ".join(text.split()))


def check_template(template: str) -> None:
    """Raise SpeechError now, at start-up, for a template that cannot be filled."""
    call_sentence(template, "A001", 1)


def words(text: str) -> list[str]:
    """Lower-case NFC words without punctuation, the keys of a clip pack."""
    cleaned = "".join(ch if (ch.isalnum() or ch.isspace()) else " " for ch in nfc(text).lower())
    return cleaned.split()


def match_clips(text: str, phrases: dict[str, str]) -> list[str]:
    """Cover ``text`` with the longest phrases a clip pack has, left to right.

    ``phrases`` maps a phrase (its words, space-separated, lower-case NFC) to a
    clip name.  Returns the clip names in order; a word no phrase covers is an
    error that names it, so a pack missing "chín" fails at start-up, not at
    the first ticket ending in 9.
    """
    ws = words(text)
    table = {" ".join(words(k)): v for k, v in phrases.items()}
    longest = max((len(k.split()) for k in table), default=0)
    out: list[str] = []
    i = 0
    while i < len(ws):
        for n in range(min(longest, len(ws) - i), 0, -1):
            key = " ".join(ws[i:i + n])
            if key in table:
                out.append(table[key])
                i += n
                break
        else:
            raise SpeechError(f"the clip pack has no clip for the word {ws[i]!r} (in {text!r})")
    return out
