"""The serial link on real ptys: exclusive open, unplug, reopen by name."""
from __future__ import annotations

import os
import tty

import pytest

from firmware_bridge.link import LinkDown, SerialLink
from firmware_bridge.protocol import messages as M
from firmware_bridge.protocol.framing import FrameDecoder
from firmware_bridge.sim import SimBox
from tests.test_bridge_helpers import wait_until


def read_frames(link: SerialLink, dec: FrameDecoder, want: int) -> list:
    msgs = []
    while len(msgs) < want:
        data, _ = link.read(2.0)
        if not data:
            raise AssertionError("no data from the box")
        msgs += [M.parse(b) for b in dec.feed(data)]
    return msgs


def test_second_open_of_the_same_port_is_refused(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    a, b = SerialLink(path, 115200), SerialLink(path, 115200)
    try:
        assert a.open()
        assert not b.open()      # flock: a second bridge cannot steal the box's bytes
        a.close()
        assert b.open()
    finally:
        a.close()
        b.close()
        os.close(master)
        os.close(slave)


def test_missing_port_is_a_logged_false_not_an_exception(tmp_path, caplog):
    link = SerialLink(str(tmp_path / "by-id" / "usb-phucvu-box-9"), 115200)
    assert not link.open() and not link.open()
    assert sum("cannot open" in r.message for r in caplog.records) == 1   # logged once, not per retry
    with pytest.raises(LinkDown):
        link.read(0.01)
    assert link.write(b"x") is False


def test_unplug_raises_linkdown_and_the_same_name_reopens_the_new_pty(tmp_path):
    link_path = str(tmp_path / "box")
    box = SimBox("box-1", link_path, seed=1, hold_ms=2).start()
    link = SerialLink(link_path, 115200)
    try:
        assert link.open()
        dec = FrameDecoder()
        link.write(M.encode(M.Identify()))
        assert read_frames(link, dec, 1)[0].type == M.HELLO
        box.unplug(mid_frame=True)
        with pytest.raises(LinkDown):
            for _ in range(100):
                link.read(0.05)
        assert not link.is_open
        box.plug()
        wait_until(lambda: link.open(), what="reopen after replug")
        dec.reset()
        link.write(M.encode(M.Identify()))
        hellos = [m for m in read_frames(link, dec, 1) if m.type == M.HELLO]
        assert hellos and hellos[-1].boot == box.fw.boot and len(box.boots) == 2
    finally:
        link.close()
        box.stop()
