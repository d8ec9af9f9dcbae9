"""DLE EOT replies -> printer state (pure)."""
from __future__ import annotations

import pytest

from kiosk.printing import status
from kiosk.printing.status import classify

OK = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}


def with_(**bits):
    r = dict(OK)
    for k, v in bits.items():
        r[int(k[1:])] |= v
    return r


@pytest.mark.parametrize(
    "replies,state",
    [
        (OK, "ok"),
        (with_(r4=0x0C), "paper_near_end"),
        (with_(r4=0x60), "paper_out"),
        (with_(r1=0x08, r2=0x20), "paper_out"),
        (with_(r1=0x08, r2=0x04), "cover_open"),
        (with_(r1=0x08), "offline"),
        (with_(r3=0x08), "offline"),
        ({1: None, 2: None, 3: None, 4: None}, "unknown"),
        ({1: None}, "unknown"),
        ({1: 0x12, 2: 0x12, 3: 0x12, 4: None}, "unknown"),
        (with_(r1=0x01), "unknown"),  # bit 0 must be clear: garbled
        ({1: 0x00, 2: 0x12, 3: 0x12, 4: 0x12}, "unknown"),
    ],
)
def test_classify(replies, state):
    assert classify(replies).state == state


def test_no_reply_is_never_ok():
    for missing in ({1: None}, {1: 0x12, 2: None}, {1: 0x12, 2: 0x12, 3: 0x12, 4: None}):
        assert classify(missing).state == "unknown"
        assert not classify(missing).printable


@pytest.mark.parametrize("state", [s for s in status.STATES if s not in ("unplugged",)])
def test_simulator_replies_classify_back(state):
    assert classify(status.reply_for(state)).state == state


def test_every_state_has_a_vietnamese_message():
    assert set(status.MESSAGE_VI) == set(status.STATES)


def test_garbled_detail_names_the_byte():
    assert "0x13" in classify(with_(r1=0x01)).detail
