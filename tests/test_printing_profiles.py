"""Every printer profile ends a ticket with its cut: a real ticket through
the simulator on a pty is saved as exactly one job, as wide as the paper."""
from __future__ import annotations

import pytest
from PIL import Image

from kiosk.config import PrinterSection
from kiosk.printing import decode, profiles
from kiosk.printing.printer import TicketPrinter
from kiosk.printing.render import MODES
from tests.test_printing_render import view
from tests.test_printing_sim import ANSWER_TIMEOUT

# The bytes each profile's ticket must end with (render.py's _cut).
CUT_BYTES = {"full": b"\x1dV\x00", "partial": b"\x1dV\x01", "feed": b"\x1dVB\x00"}


# Every profile in every mode it accepts (tcvn3 only where the profile has the pages).
CASES = [(name, mode) for name, prof in sorted(profiles.profiles().items()) for mode in MODES
         if mode != "tcvn3" or prof.tcvn3]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_a_ticket_is_one_saved_job_as_wide_as_the_paper(tmp_path, name, mode):
    prof = profiles.get(name)
    out = tmp_path / "tickets"
    tp = TicketPrinter(PrinterSection(connection=f"sim:{out}", profile=name, mode=mode, timeout_s=ANSWER_TIMEOUT))
    try:
        v = view(priority_name_vi="Người cao tuổi")
        res = tp.print_ticket(v)
        assert res.printed and res.state == "ok", res.detail
        # print_ticket asks DLE EOT after the job, and the simulator answers
        # in order: by now it has read the whole ticket.
        jobs = tp.sim.jobs
        assert tp.sim.errors == []
        assert len(jobs) == 1 and jobs[0].printed
        assert jobs[0].data == tp.render(v)
    finally:
        tp.close()
    assert jobs[0].data.endswith(CUT_BYTES[prof.cut])
    assert sorted(p.name for p in out.iterdir()) == ["0001.bin", "0001.png"]
    with Image.open(out / "0001.png") as png:
        assert png.width == prof.width_dots + 2 * decode.FRAME
        # Ink on the paper, not only the frame.
        paper = png.convert("L").crop((decode.FRAME, decode.FRAME, png.width - decode.FRAME, png.height - decode.FRAME))
        assert paper.getextrema()[0] == 0


def test_the_decoder_refuses_what_the_paper_cannot_hold():
    line = b"\x1d!\x11" + b"X" * 17 + b"\n"   # 17 double-width 12-dot cells: 408 dots
    with pytest.raises(decode.DecodeError, match="408 dots wide, wider than the 384-dot paper"):
        decode.decode(line, 384)
    assert decode.decode(line, 576).width == 576 + 2 * decode.FRAME


def test_a_profile_without_a_cut_is_refused():
    raw = {"description": "x", "width_dots": 384, "code_pages": {"CP437": 0}, "tcvn3": False, "cut": "none",
           "native_qr": True, "raster_align": True, "number_size": 5, "feed_before_cut": 4}
    with pytest.raises(profiles.ProfileError, match="cut must be full, partial or feed"):
        profiles._check("tear", raw)
