"""The pure serial protocol: framing, messages, the box's ring (docs/serial-protocol.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol as P

ROOT = Path(__file__).resolve().parent.parent


def test_crc16_matches_the_published_check_value():
    # CRC-16/CCITT-FALSE catalogue check value: a wrong polynomial or init fails here
    assert P.crc16(b"123456789") == 0x29B1
    assert P.crc16(b"") == 0xFFFF


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00", b"\x11\x00\x22", bytes(range(1, 255)),
                                  bytes(range(256)), b"\xff" * 300])
def test_cobs_round_trip_has_no_zero_bytes(data):
    enc = P.cobs_encode(data)
    assert 0 not in enc
    assert P.cobs_decode(enc) == data


def test_cobs_known_vector():
    # from the COBS paper / Wikipedia examples
    assert P.cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert P.cobs_encode(b"\x00") == b"\x01\x01"


MESSAGES = [
    P.Hello("box-3", 0x9F1C22AA, 57, "1.0.0", 3, 2),
    P.Event(0x9F1C22AA, 58, P.SRC_KEY, P.KEY_NEXT, 123456),
    P.Event(1, 1, P.SRC_RATING, 5, 0xFFFFFFFF),
    P.Ack(0x9F1C22AA, 58),
    P.State(7, "B023", P.STATUS_OPEN, 0b111, 60000),
    P.State(0, "", P.STATUS_UNKNOWN, 0, 0),
    P.Heartbeat(5, 9, 1),
    P.Identify(),
    P.Error(P.ERR_RING_FULL, "ring full"),
    P.Beep(P.BEEP_ERROR),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_survives_the_wire(msg):
    raw = P.encode(msg)
    assert raw.endswith(b"\x00") and raw.count(0) == 1
    assert len(raw) <= P.MAX_FRAME
    dec = P.FrameDecoder()
    [body] = dec.feed(raw)
    back = P.parse(body)
    assert type(back) is type(msg)
    assert {k: v for k, v in vars(back).items()} == {k: (v.ljust(4) if k == "text" and isinstance(msg, P.State) else v)
                                                    for k, v in vars(msg).items()}


def test_decoder_resyncs_after_garbage_and_a_cut_frame():
    good = P.encode(P.Event(1, 2, P.SRC_KEY, P.KEY_RECALL, 10))
    half = good[: len(good) // 2]
    stream = b"\x13\x37garbage\xff" + b"\x00" + half + b"\x00" + good + b"\x00\x00" + good
    dec = P.FrameDecoder()
    bodies = []
    for i in range(0, len(stream), 3):  # arrives in small reads, as from a UART
        bodies += dec.feed(stream[i:i + 3])
    assert [P.parse(b).seq for b in bodies] == [2, 2]
    assert dec.errors == 2  # the garbage and the half frame, each counted, none delivered


def test_single_bit_flip_is_rejected():
    raw = bytearray(P.encode(P.Event(1, 2, P.SRC_KEY, P.KEY_NEXT, 10)))
    raw[4] ^= 0x04
    dec = P.FrameDecoder()
    assert dec.feed(bytes(raw)) == []
    assert dec.errors == 1


def test_overlong_frame_is_dropped_and_the_next_one_read():
    dec = P.FrameDecoder()
    good = P.encode(P.Ack(1, 1))
    assert [P.parse(b).seq for b in dec.feed(b"\x01" * 500 + b"\x00" + good)] == [1]
    assert "longer" in dec.last_error


@pytest.mark.parametrize("body,why", [
    (b"\x7f", "unknown message type"),
    (bytes([P.EVENT]) + b"\x00" * 3, "EVENT must be 15 bytes"),
    (P.Event(1, 1, P.SRC_KEY, 1, 0).body()[:-5] + b"\x09" + b"\x00" * 4, "unknown key code"),
    (P.Event(1, 0, P.SRC_KEY, 1, 0).body(), "sequence 0"),
    (P.Event(1, 3, P.SRC_RATING, 9, 0).body(), "rating level 9"),
    (bytes([P.HELLO, 1]) + b"\x00" * 10 + b"\x05ab", "runs past"),
])
def test_bad_messages_get_a_specific_error(body, why):
    with pytest.raises(P.ProtocolError, match=why):
        P.parse(body)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_bytes_never_crash_and_never_yield_a_damaged_event(data):
    dec = P.FrameDecoder()
    for body in dec.feed(data + b"\x00"):
        try:
            P.parse(body)
        except P.ProtocolError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**32 - 1), st.integers(1, 2**32 - 1), st.integers(0, 12), st.integers(0, 7))
def test_fuzzed_corruption_of_a_real_frame_is_caught(boot, seq, pos, bit):
    raw = bytearray(P.encode(P.Event(boot, seq, P.SRC_KEY, P.KEY_NEXT, 1)))
    i = pos % (len(raw) - 1)  # never the delimiter
    raw[i] ^= 1 << bit
    dec = P.FrameDecoder()
    out = []
    for body in dec.feed(bytes(raw) + b"\x00"):
        try:
            out.append(P.parse(body))
        except P.ProtocolError:
            pass
    # a single flipped bit either breaks framing or fails the CRC; it never
    # turns into a different, valid event
    assert all(not (isinstance(m, P.Event) and (m.boot, m.seq) != (boot, seq)) for m in out)
    assert len(out) == 0


# ------------------------------------------------------------------ box side
class MemStore:
    def __init__(self):
        self.data = b""

    def load(self):
        return self.data

    def save(self, data):
        self.data = data


def host_view(dev):
    dec = P.FrameDecoder()
    return [P.parse(b) for b in dec.feed(dev.take_output())]


def test_box_says_hello_then_sends_each_press_once_until_acked():
    dev = P.DeviceProtocol("box-1", 0xAB, store=MemStore(), retransmit_ms=100, heartbeat_ms=10_000)
    [hello, clock] = host_view(dev)
    assert (hello.type, hello.device_id, hello.boot, hello.pending) == (P.HELLO, "box-1", 0xAB, 0)
    assert (clock.type, clock.boot, clock.time_ms) == (P.HEARTBEAT, 0xAB, 0)   # the box's clock
    assert dev.press(P.SRC_KEY, P.KEY_NEXT, 5)
    [ev] = host_view(dev)
    assert (ev.boot, ev.seq, ev.code, ev.time_ms) == (0xAB, 1, P.KEY_NEXT, 5)
    dev.tick(50)
    assert host_view(dev) == []                     # not yet due
    dev.tick(105)
    assert [m.seq for m in host_view(dev)] == [1]   # retransmitted
    dev.feed(P.encode(P.Ack(0xAB, 1)), 110)
    dev.tick(400)
    assert host_view(dev) == [] and dev.ring == []


def test_ack_for_another_boot_or_seq_frees_nothing():
    dev = P.DeviceProtocol("box-1", 7, retransmit_ms=100)
    dev.press(P.SRC_RATING, 2, 0)
    dev.feed(P.encode(P.Ack(8, 1)) + P.encode(P.Ack(7, 2)), 1)
    assert [(p.boot, p.seq) for p in dev.ring] == [(7, 1)]


def test_unacked_events_survive_a_reboot_under_their_old_name():
    store = MemStore()
    dev = P.DeviceProtocol("box-1", 111, store=store)
    for code in (P.KEY_NEXT, P.KEY_FINISH):
        dev.press(P.SRC_KEY, code, 0)
    dev.feed(P.encode(P.Ack(111, 1)), 1)
    again = P.DeviceProtocol("box-1", 222, store=store)   # power cut, new boot id
    msgs = host_view(again)
    assert msgs[0].type == P.HELLO and msgs[0].boot == 222 and msgs[0].pending == 1
    assert msgs[1].type == P.HEARTBEAT and msgs[1].boot == 222
    assert [(m.boot, m.seq, m.code) for m in msgs[2:]] == [(111, 2, P.KEY_FINISH)]
    again.press(P.SRC_KEY, P.KEY_NEXT, 0)
    assert [(m.boot, m.seq) for m in host_view(again)] == [(222, 1)]


def test_identify_replays_everything_waiting():
    dev = P.DeviceProtocol("box-1", 5, retransmit_ms=10_000)
    for i in range(3):
        dev.press(P.SRC_RATING, 1 + i, i)
    host_view(dev)
    dev.feed(P.encode(P.Identify()), 10)
    msgs = host_view(dev)
    assert msgs[0].type == P.HELLO and msgs[0].last_seq == 3
    # "now" on the box before the replay: the host can tell how old each event is
    assert (msgs[1].type, msgs[1].time_ms) == (P.HEARTBEAT, 10)
    assert [m.seq for m in msgs[2:]] == [1, 2, 3]


def test_a_heartbeat_without_the_clock_is_still_read():
    old = P.Heartbeat(5, 9, 1)
    assert len(old.body()) == 10 and P.parse(old.body()).time_ms is None
    new = P.parse(P.Heartbeat(5, 9, 1, 123456).body())
    assert (new.boot, new.next_seq, new.pending, new.time_ms) == (5, 9, 1, 123456)
    with pytest.raises(P.ProtocolError, match="10 or 14"):
        P.parse(P.Heartbeat(5, 9, 1, 1).body() + b"\0")


def test_full_ring_refuses_and_beeps_instead_of_dropping_old_presses():
    dev = P.DeviceProtocol("box-1", 5, ring_size=2)
    assert dev.press(P.SRC_KEY, 1, 0) and dev.press(P.SRC_KEY, 1, 0)
    assert not dev.press(P.SRC_KEY, 1, 0)
    assert [p.seq for p in dev.ring] == [1, 2] and dev.beeps == [P.BEEP_ERROR]


def test_display_is_whole_state_and_goes_dark_without_the_host():
    dev = P.DeviceProtocol("box-1", 5, host_timeout_ms=3000)
    assert dev.display(0) == ("----", 0)
    dev.feed(P.encode(P.State(1, "A012", P.STATUS_OPEN, 0b111, 1000)), 100)
    assert dev.display(200) == ("A012", 0b111)
    assert dev.display(1200) == ("A012", 0)        # LED window over on the box's own clock
    assert dev.display(3200) == ("----", 0)        # host silent: no stale number shown


def test_box_answers_an_unknown_message_with_error_and_keeps_going():
    dev = P.DeviceProtocol("box-1", 5)
    host_view(dev)
    dev.feed(P.frame(b"\x55\x01"), 1)
    [err] = host_view(dev)
    assert err.type == P.ERROR and "unknown message type" in err.text


def test_protocol_module_is_pure_and_micropython_shaped():
    tree = ast.parse((ROOT / "firmware_bridge" / "protocol.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"struct", "ustruct"}, imported


def test_contract_page_lists_every_message_with_its_type():
    doc = (ROOT / "docs" / "serial-protocol.md").read_text(encoding="utf-8")
    for cls in (P.Hello, P.Event, P.Ack, P.State, P.Heartbeat, P.Identify, P.Error, P.Beep):
        assert f"| 0x{cls.type:02x} | {cls.__name__.upper()} |" in doc, cls.__name__
    assert "0x29B1" in doc and f"{P.MAX_BODY}" in doc
