"""Telex, the way Vietnamese is typed on a keyboard without Vietnamese keys.

Typing ``Xax Thawngs Loocj`` gives the commune's name with its marks (tests/
test_wizard.py has the examples).  The wizard's on-screen
keyboard and a USB keyboard both send plain Latin letters; the text shown and
stored is this function of everything typed so far, so a backspace simply
drops the last key and converts again.  Pure: no Kivy, tested on its own.

Rules (what every Vietnamese typist knows): ``aa â``, ``aw ă``, ``ee ê``,
``oo ô``, ``ow ơ``, ``uw ư``, ``uow ươ``, ``w`` alone ``ư``, ``dd đ``; tones
``s`` sắc, ``f`` huyền, ``r`` hỏi, ``x`` ngã, ``j`` nặng, ``z`` none, typed
anywhere after the word's vowel; the same tone key twice types the letter.
The tone sits where government documents put it (``Thanh Hóa``, ``hòa``):
on a marked vowel (â ê ô ơ ă; ơ in ươ), else on the second of two vowels
before a final consonant and on the first without one, the middle of three.
"""
from __future__ import annotations

import re
import unicodedata

TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
MARKS = {"circ": "\u0302", "breve": "\u0306", "horn": "\u031b"}
VOWELS = set("aeiouy")
_WORD = re.compile(r"[A-Za-z]+")


class _Letter:
    __slots__ = ("ch", "upper", "mark")

    def __init__(self, ch: str, upper: bool, mark: str = ""):
        self.ch, self.upper, self.mark = ch, upper, mark

    def text(self, tone: str = "") -> str:
        if self.ch == "d" and self.mark == "bar":
            return "\u0110" if self.upper else "\u0111"     # the barred D
        base = self.ch.upper() if self.upper else self.ch
        return base + (MARKS[self.mark] if self.mark else "") + tone


def _cluster(word: list[_Letter]) -> list[int]:
    """Indexes of the word's vowel nucleus (qu- and gi- count as consonants)."""
    idx = [i for i, l in enumerate(word) if l.ch in VOWELS]
    if len(idx) > 1 and idx[0] == 1 and word[0].ch in "qg" and word[1].ch in ("u" if word[0].ch == "q" else "i"):
        idx = idx[1:]
    # Only the first run of adjacent vowels is the nucleus.
    run = idx[:1]
    for i in idx[1:]:
        if i == run[-1] + 1:
            run.append(i)
        else:
            break
    return run


def _tone_at(word: list[_Letter], run: list[int]) -> int:
    marked = [i for i in run if word[i].mark]
    if marked:
        return marked[-1]       # ươ: the ơ; otherwise the one marked vowel
    if len(run) == 1:
        return run[0]
    if len(run) >= 3:
        return run[1]
    closed = run[-1] + 1 < len(word)        # a final consonant follows
    return run[1] if closed else run[0]


def _word(keys: str) -> str:
    word: list[_Letter] = []
    tone = ""
    for key in keys:
        k, up = key.lower(), key.isupper()
        run = _cluster(word)
        if k in TONES and run:
            if tone == TONES[k]:
                tone = ""
                word.append(_Letter(k, up))
            else:
                tone = TONES[k]
            continue
        if k == "z" and run and tone:
            tone = ""
            continue
        if k == "d" and word and word[-1].ch == "d" and not word[-1].mark and len(word) == 1:
            word[-1].mark = "bar"
            continue
        if k == "w":
            chars = "".join(word[i].ch for i in run)
            if "uo" in chars and not any(word[i].mark for i in run):
                j = run[chars.index("uo")]
                word[j].mark = word[j + 1].mark = "horn"
                continue
            target = [i for i in run if word[i].ch in "aou" and not word[i].mark]
            if target:
                word[target[-1]].mark = "breve" if word[target[-1]].ch == "a" else "horn"
                continue
            if not run:
                word.append(_Letter("u", up, "horn"))
                continue
        if k in "aeo" and run:
            same = [i for i in run if word[i].ch == k]
            if same:
                i = same[-1]
                if word[i].mark == "circ":      # aaa: back to two plain letters
                    word[i].mark = ""
                    word.append(_Letter(k, up))
                elif not word[i].mark:
                    word[i].mark = "circ"
                continue
        word.append(_Letter(k, up))
    run = _cluster(word)
    at = _tone_at(word, run) if (tone and run) else -1
    return "".join(l.text(tone if i == at else "") for i, l in enumerate(word))


def telex(keys: str) -> str:
    """The Vietnamese text (NFC) that the Telex keys ``keys`` type."""
    return unicodedata.normalize("NFC", _WORD.sub(lambda m: _word(m.group(0)), keys))
