"""The records of the citizen's phone page that need no bus: the schema's
upgrade, the QR and its note on paper (decoded, and read by another reader),
the reports' phone ratings and reasons, and a core that refuses to start on
an unreadable secret.  The bus side is tests/test_phone_core.py."""
from __future__ import annotations

import sqlite3
import subprocess
import uuid

import pytest
from PIL import ImageChops

from kiosk import config as site_config
from kiosk import contract
from kiosk.core.commands import Commands
from kiosk.core.engine import Engine
from kiosk.core.schema import MIGRATIONS
from kiosk.core.store import Store
from kiosk.phone import token
from kiosk.printing import decode, profiles
from kiosk.printing.layout import PHONE_NOTE, Qr, VText
from kiosk.printing.render import TicketRenderer
from kiosk.printing.tools import view_from_ticket
from tests.conftest import CoreProcess
from tests.test_phone_core import MORNING, PUBLIC_URL, _rate, _serve, write_site

# ---------------------------------------------------------------- schema
def test_a_database_of_the_previous_schema_opens_and_upgrades(tmp_path, site):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for sql in MIGRATIONS[:7]:
        conn.executescript(sql)
    conn.execute("PRAGMA user_version = 7")
    conn.execute("INSERT INTO days (day, started_at) VALUES ('2026-11-28', ?)", (MORNING - 60,))
    for n, state in ((1, "finished"), (2, "finished")):
        conn.execute("INSERT INTO tickets (id, day, field, origin_field, number, label, seq, issued_at, "
                     "state, counter, called_at, finished_at, official) VALUES (?, '2026-11-28', "
                     "'tu-phap', 'tu-phap', ?, ?, ?, ?, ?, 1, ?, ?, 'nv01')",
                     (f"20261128-A00{n}", n, f"A00{n}", n, MORNING - 50, state, MORNING - 40, MORNING - 30))
    conn.execute("INSERT INTO ratings (id, ticket_id, counter, level, at, counted, official, source) "
                 "VALUES ('box-1:1:1', '20261128-A001', 1, 'rat-hai-long', ?, 1, 'nv01', 'bridge:counter-1')",
                 (MORNING - 20,))
    conn.commit()
    conn.close()
    store = Store(db)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 8
        assert store.conn.execute("SELECT id, rated FROM tickets ORDER BY id").fetchall() == [
            ("20261128-A001", "box"), ("20261128-A002", None)]
        assert store.conn.execute("SELECT reasons, comment FROM ratings").fetchall() == [(None, None)]
        engine = Engine(site, store, clock=lambda: MORNING, monotonic=lambda: 100.0)
        assert engine.ticket("20261128-A001").rated == "box"
        secret = b"s" * 32
        cmds = Commands(site, engine, phone_secret=secret)
        assert _rate(cmds, secret, "20261128-A001")["error"]["code"] == "already_rated"
        assert _rate(cmds, secret, "20261128-A002")["counted"]
        assert engine.ticket("20261128-A002").rated == "phone"
    finally:
        store.close()


# ---------------------------------------------------------------- paper
def _ticket(ticket_id: str = "20261128-A013") -> dict:
    return {"ticket_id": ticket_id, "label": ticket_id[-4:], "field_name_vi": "Tư pháp – Hộ tịch",
            "priority_name_vi": None, "issued_at": MORNING, "ahead": 4, "estimated_wait_min": 20.0,
            "counters": [1, 2]}


@pytest.mark.parametrize("profile", ["80mm", "58mm"])
def test_with_phone_the_qr_opens_the_tickets_page_and_says_so(tmp_path, profile):
    site = site_config.load(write_site(tmp_path))
    secret = token.load_or_create(site.phone.secret_file)
    r = TicketRenderer(profiles.get(profile), "raster")
    view = view_from_ticket(site, _ticket(), phone_secret=secret)
    ops = decode.parse(r.render(view))
    qrs = [i for i, op in enumerate(ops) if isinstance(op, decode.QrCode)]
    assert len(qrs) == 1
    address = ops[qrs[0]].data
    assert address == token.address(PUBLIC_URL, secret, "20261128-A013")
    assert address.startswith(PUBLIC_URL + "/t/20261128-A013/")
    assert token.check(secret, "20261128-A013", address.rsplit("/", 1)[1])
    # Another reader (zbar, as a phone's camera app would) reads the same
    # address off the decoded paper.
    png = tmp_path / "ticket.png"
    decode.decode(r.render(view), profiles.get(profile).width_dots).save(png)
    read = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True, timeout=30)
    assert read.stdout.strip() == address, read.stderr
    # Under it, the line that says what it is for, drawn as the renderer draws it.
    note = VText(PHONE_NOTE, "small")
    assert note in r.elements(view)
    lines = r.wrap(note)
    assert " ".join(lines) == "Quét mã để xem lượt chờ và đánh giá"
    assert all(len(line) <= 32 for line in lines)
    after = [op for op in ops[qrs[0] + 1:] if isinstance(op, decode.Raster)][:len(lines)]
    drawn = r.text_images(note)
    assert len(after) == len(drawn) == len(lines)
    for op, im in zip(after, drawn):
        assert op.image.size == im.size
        assert ImageChops.difference(op.image.convert("L"), im.convert("L")).getbbox() is None
        assert op.image.convert("L").getextrema()[0] == 0          # real ink


def test_without_phone_the_qr_stays_the_ticket_id(site):
    r = TicketRenderer(profiles.get("80mm"), "raster")
    view = view_from_ticket(site, _ticket(), phone_secret=b"s" * 32)
    els = r.elements(view)
    assert Qr("20261128-A013") in els and not any(isinstance(e, VText) and "Quét" in e.text for e in els)
    ops = decode.parse(r.render(view))
    assert [op.data for op in ops if isinstance(op, decode.QrCode)] == ["20261128-A013"]



# ---------------------------------------------------------------- reports
def test_reports_count_phone_ratings_and_their_reasons_per_official_and_field(tmp_path):
    import datetime as dt

    from kiosk.reports import build, report_main
    site = site_config.load(write_site(tmp_path))
    clock = {"wall": MORNING}
    store = Store(tmp_path / "r.db")
    engine = Engine(site, store, clock=lambda: clock["wall"], monotonic=lambda: clock["wall"] - MORNING)
    secret = token.load_or_create(site.phone.secret_file)
    cmds = Commands(site, engine, phone_secret=secret)
    store.add_official("nv01", "Nguyễn Văn An", None)
    store.add_official("nv02", "Lê Thị Bình", None)
    engine.run("login", 1, "nv01")
    engine.run("login", 2, "nv02")

    def rate(ticket_id, level, reasons=(), comment=None):
        body = {"rating_id": f"phone-{uuid.uuid4().hex[:12]}", "ticket_id": ticket_id,
                "token": token.make(secret, ticket_id), "level": level, "reasons": list(reasons)}
        if comment:
            body["comment"] = comment
        return cmds.handle(cmds.topics.phone_rating, contract.encode(body)).reply

    a, b, c = _serve(cmds, 1), _serve(cmds, 1), _serve(cmds, 2)
    assert rate(a, 3, ["cho-lau", "thai-do"])["counted"]
    assert rate(b, 3, ["cho-lau", "khac"], "Đợi lâu")["counted"]
    assert rate(c, 1)["counted"]
    # Kept but not the ticket's rating: its reasons judge nobody.
    assert rate(a, 3, ["thai-do"])["error"]["code"] == "already_rated"
    _serve(cmds, 2)
    clock["wall"] += 5
    assert engine.run("rate", 2, 3, rating_id="box-2:1:1")[-1]["counted"]      # a box's rating
    store.close()

    day = dt.date(2026, 11, 28)
    report, _ = build(site, tmp_path / "r.db", day, day, ["official", "field"])
    by = {f.key: f for f in report.breakdowns["official"].groups}
    assert (by["nv01"].rated, by["nv01"].phone) == (2, 2)
    assert by["nv01"].complaints == {"cho-lau": 2, "thai-do": 1, "huong-dan": 0, "di-lai": 0, "khac": 1}
    assert (by["nv02"].rated, by["nv02"].phone) == (2, 1)
    assert set(by["nv02"].complaints.values()) == {0}
    assert by["nv01"].reasons["extra_press"] == 1
    fields = {f.key: f for f in report.breakdowns["field"].groups}
    assert fields["tu-phap"].complaints["cho-lau"] == 2 and fields["tu-phap"].phone == 3
    assert report.breakdowns["official"].total.complaints["thai-do"] == 1
    total = report.breakdowns["official"].total        # with d, rated at its box
    assert (total.rated, total.phone) == (4, 3)
    text = report_main(site, tmp_path / "r.db", date_from=day, date_to=day, by="official",
                       fmt="csv", out=None)
    header, *lines = text.splitlines()
    cols = header.lstrip("\ufeff").split(",")
    assert "Đánh giá qua điện thoại" in cols and "Chưa hài lòng: Lý do khác" in cols
    nv01 = next(line.split(",") for line in lines if line.startswith("nv01"))
    assert nv01[cols.index("Chưa hài lòng: Chờ lâu")] == "2"
    assert nv01[cols.index("Đánh giá qua điện thoại")] == "2"


def test_an_unreadable_phone_secret_stops_the_core_at_start_with_a_clear_error(broker, tmp_path):
    write_site(tmp_path)
    (tmp_path / "phone.key").write_text("not a secret\n")
    core = CoreProcess(broker, tmp_path / "phucvu.db")
    with pytest.raises(RuntimeError) as e:
        core.start()
    assert "[phone] secret_file" in str(e.value) and "not a phone secret" in str(e.value)
    assert not (tmp_path / "phucvu.db").exists()      # refused before the database was touched
