"""The site database's schema: numbered migrations, applied in order, the
column lists the code writes and reads, and how to tell a file that is not
a sound phucvu database of a schema this code knows.

``PRAGMA user_version`` holds the number of the last migration applied
(``Store.migrate``).  Never edit a released migration: add one.

- ``journal``: every committed event, append-only; the truth the other
  tables can be rebuilt from;
- ``days``, ``tickets``, ``counters``, ``calls``, ``ratings``,
  ``official_sessions``, ``box_clocks``: projections of the journal that make
  reads cheap (kiosk/core/projection.py writes them);
- ``commands``: each command's reply, stored with its effect, so a
  redelivered command gets the same reply;
- ``officials``, ``print_jobs``, ``rejected``: the roster, every print
  attempt, and every message the core could not take;
- ``config_versions``: every site config the core ran, with who saved it;
- ``cases``, ``case_log``: the follow-up of every counted "not satisfied"
  rating, and each change the head made to it.
"""
from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the spine
    """
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE days (
        day TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        closed_at REAL
    );
    CREATE TABLE tickets (
        id TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        field TEXT NOT NULL,
        origin_field TEXT NOT NULL,
        number INTEGER NOT NULL,
        label TEXT NOT NULL,
        priority TEXT,
        seq INTEGER NOT NULL,
        issued_at REAL NOT NULL,
        state TEXT NOT NULL,
        counter INTEGER,
        target_counter INTEGER,
        called_at REAL,
        finished_at REAL,
        recalls INTEGER NOT NULL DEFAULT 0,
        transfers INTEGER NOT NULL DEFAULT 0,
        close_reason TEXT,
        -- a number is never reused in a day, whatever the code does
        UNIQUE (day, origin_field, number)
    );
    CREATE INDEX tickets_day ON tickets (day);
    CREATE INDEX tickets_finished ON tickets (field, finished_at);
    CREATE TABLE counters (
        number INTEGER PRIMARY KEY,
        status TEXT NOT NULL,
        current TEXT,
        priority_streak INTEGER NOT NULL DEFAULT 0,
        official TEXT
    );
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        call_seq INTEGER NOT NULL UNIQUE,
        ticket_id TEXT NOT NULL,
        counter INTEGER NOT NULL,
        at REAL NOT NULL,
        recall INTEGER NOT NULL,
        specific INTEGER NOT NULL,
        official TEXT
    );
    CREATE TABLE officials (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        pin_hash TEXT,
        active INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE ratings (
        id TEXT PRIMARY KEY,
        ticket_id TEXT,
        counter INTEGER NOT NULL,
        level TEXT NOT NULL,
        at REAL NOT NULL,
        counted INTEGER NOT NULL,
        reason TEXT,
        official TEXT,
        payload TEXT
    );
    CREATE TABLE commands (
        command_id TEXT PRIMARY KEY,
        at REAL NOT NULL,
        reply TEXT NOT NULL
    );
    """,
    # 2: tickets on paper.  Every attempt is kept: the reprint queue is the
    # tickets whose latest attempt did not print.
    """
    CREATE TABLE print_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ticket_id TEXT NOT NULL,
        at REAL NOT NULL,
        reprint INTEGER NOT NULL,
        printed INTEGER NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX print_jobs_ticket ON print_jobs (ticket_id, id);
    """,
    # 3: officials and ratings the centre can trust.  Every press is a row;
    # only counted = 1 rows are ratings, the rest are anomalies with a reason.
    """
    ALTER TABLE tickets ADD COLUMN official TEXT;
    ALTER TABLE ratings ADD COLUMN level_index INTEGER;
    ALTER TABLE ratings ADD COLUMN field TEXT;
    ALTER TABLE ratings ADD COLUMN wait_s REAL;
    ALTER TABLE ratings ADD COLUMN service_s REAL;
    ALTER TABLE ratings ADD COLUMN source TEXT NOT NULL DEFAULT 'box';
    CREATE INDEX ratings_at ON ratings (at);
    CREATE INDEX tickets_official ON tickets (official);
    CREATE TABLE official_sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        official TEXT NOT NULL,
        counter INTEGER NOT NULL,
        login_at REAL NOT NULL,
        logout_at REAL
    );
    """,
    # 4: roles for the browser console: staff serve, the head reads reports,
    # admins keep the roster.  There is no default admin: the first one is
    # added from the CLI.
    """
    ALTER TABLE officials ADD COLUMN role TEXT NOT NULL DEFAULT 'staff';
    CREATE INDEX calls_ticket ON calls (ticket_id);
    """,
    # 5: the first call on the ticket itself.  A month's report needs every
    # ticket's wait; grouping 150,000 tickets' calls for it took most of the
    # report's time.  Older tickets get it from their calls.
    """
    ALTER TABLE tickets ADD COLUMN first_called_at REAL;
    UPDATE tickets SET first_called_at =
        (SELECT MIN(at) FROM calls WHERE calls.ticket_id = tickets.id AND recall = 0);
    """,
    # 6: the yardstick holds.  Rating windows and the last press are stored
    # with the counter (a restart closes nothing); each box link's clock
    # offset is kept; a press records when it was made and whether it came
    # late; a payload the core could not take is kept, not dropped.
    """
    ALTER TABLE counters ADD COLUMN judging TEXT;
    CREATE TABLE box_clocks (
        link TEXT PRIMARY KEY,
        offset REAL NOT NULL,
        at REAL NOT NULL,
        epoch REAL NOT NULL,
        boot TEXT NOT NULL
    );
    ALTER TABLE ratings ADD COLUMN pressed_at REAL;
    ALTER TABLE ratings ADD COLUMN delivered_late INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE rejected (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # 7: the site config's history.  Every version the core ran, who saved it
    # and what it changed; the core is its only writer, the admin pages read
    # it and restore from it (kiosk/core/commands_config.py).
    """
    CREATE TABLE config_versions (
        version INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        by TEXT NOT NULL,
        hash TEXT NOT NULL,
        toml TEXT NOT NULL,
        changes TEXT NOT NULL
    );
    """,
    # 8: the citizen's phone page.  A ticket says where its counted rating
    # came from (box or phone), so the other is an extra press whichever
    # arrives second; a phone rating carries why the citizen was not
    # satisfied (reason codes, JSON) and a short comment.  Every counted
    # rating before this one came from a box.
    """
    ALTER TABLE tickets ADD COLUMN rated TEXT;
    UPDATE tickets SET rated = 'box' WHERE id IN (SELECT ticket_id FROM ratings WHERE counted = 1);
    ALTER TABLE ratings ADD COLUMN reasons TEXT;
    ALTER TABLE ratings ADD COLUMN comment TEXT;
    """,
    # 9: follow-up cases.  Every counted rating graded "không hài lòng" opens
    # one in the rating's own transaction (its projection), and the head
    # looks into it and closes it with a note (kiosk/core/domain/cases.py).
    # Ratings before this schema open none: no backfill.  A case names no
    # citizen, and the rating's comment stays in ratings.comment.
    # (No semicolon inside a comment here: Store.migrate splits on them.)
    """
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY,          -- shown to the head as "#12", assigned in journal order
        rating_id TEXT NOT NULL UNIQUE,
        ticket_id TEXT,
        day TEXT NOT NULL,               -- the rated ticket's service day (as the rating's period)
        field TEXT,                      -- the rated ticket's field served in
        counter INTEGER NOT NULL,
        official TEXT,                   -- as ratings.official
        level TEXT NOT NULL,
        source TEXT,                     -- 'phone' or the box's relay, as ratings.source
        reasons TEXT,                    -- JSON list of [[rating.reasons]] codes, or NULL
        opened_at REAL NOT NULL,         -- the rating's time (ratings.at)
        due_at REAL NOT NULL,
        status TEXT NOT NULL,            -- 'open' | 'looked_into' | 'closed'
        looked_at REAL, closed_at REAL,
        closed_by TEXT,                  -- who closed it (the web login's official code)
        note TEXT,                       -- the head's closing note
        updated_at REAL NOT NULL
    );
    CREATE INDEX cases_status ON cases (status, due_at);
    CREATE INDEX cases_day ON cases (day);
    CREATE TABLE case_log (id INTEGER PRIMARY KEY AUTOINCREMENT, case_id INTEGER NOT NULL,
        at REAL NOT NULL, by TEXT, status TEXT NOT NULL, note TEXT);
    """,
    # 10: the wait each ticket was told at its issue (the forecast's mean and
    # its p10-p90 range, seconds after issue; NULL when no open counter served
    # its field, or issued before this schema), kept so a day's report can
    # say how wrong the estimate was (docs/wait.md).
    """
    ALTER TABLE tickets ADD COLUMN est_wait_s REAL;
    ALTER TABLE tickets ADD COLUMN est_low_s REAL;
    ALTER TABLE tickets ADD COLUMN est_high_s REAL;
    """,
    # 11: how far the broker has taken the core's events.  ``through`` is
    # the journal id up to which every ticket and rating event and day's
    # close was published and acknowledged by the broker (PUBACK); a core
    # cut off between a commit and its publications sends the rest at its
    # next start (kiosk/core/service_outbox.py).  A file migrated here
    # starts at its last journal id: what an older core did is not known.
    """
    CREATE TABLE published (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        through INTEGER NOT NULL
    );
    INSERT INTO published (id, through) SELECT 1, coalesce(max(id), 0) FROM journal;
    """,
]

# The columns that are a Ticket's and a Counter's attributes of the same
# name: the projection writes them and Store.load_state reads them back.
TICKET_COLUMNS = [
    "id", "day", "field", "origin_field", "number", "label", "priority", "seq",
    "issued_at", "state", "counter", "target_counter", "called_at", "finished_at",
    "recalls", "transfers", "close_reason", "official", "first_called_at", "rated",
    "est_wait_s", "est_low_s", "est_high_s",
]
COUNTER_COLUMNS = ["number", "status", "current", "priority_streak", "official"]
# A follow-up case's columns, in the table's order (kiosk/core/read/cases.py's CaseRow).
CASE_COLUMNS = [
    "id", "rating_id", "ticket_id", "day", "field", "counter", "official", "level", "source",
    "reasons", "opened_at", "due_at", "status", "looked_at", "closed_at", "closed_by", "note",
    "updated_at",
]


# ------------------------------------------------------------ whose file is it
# Both sides ask these before they trust a file (kiosk/core/store.py before it
# writes or migrates, kiosk/core/read/ before it reads) and raise their own
# error with the answer, so a bad file is one line whichever command met it.
# Each answer names the file, what is wrong and what to do.
SQLITE_MAGIC = b"SQLite format 3\x00"


def file_problem(path) -> str | None:
    """What is wrong with an existing file, judged from its first bytes alone.

    SQLite itself would take a 0-byte file for a new, empty database and
    write one into it; a file the program did not create is never started
    over.
    """
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if not head:
        return (f"{path} is empty (0 bytes), not a phucvu database; remove it to start a new "
                "one, or restore a backup")
    if head != SQLITE_MAGIC:
        return (f"{path} is not a SQLite database (a phucvu database is one); is [store] path "
                "or --db right?  Else restore a backup")
    return None


def schema_problem(conn, path) -> str | None:
    """What is wrong with a SQLite file's schema for this program, if anything.

    Another program's database, or one from a newer phucvu, is left as it
    is: migrating the one would write our tables into it, the other would be
    a downgrade.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        return (f"{path} has schema {version}, newer than this program ({len(MIGRATIONS)}); "
                "upgrade phucvu")
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    if (version == 0 and tables) or (version > 0 and "journal" not in tables):
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "") or "none"
        return (f"{path} is a SQLite database of another program (schema {version}, tables: "
                f"{shown}), not phucvu's; is [store] path or --db right?")
    return None


def damage(conn, path, pragma: str = "integrity_check") -> str | None:
    """SQLite's own check of every page (``quick_check`` skips the indexes' contents)."""
    result = conn.execute(f"PRAGMA {pragma}").fetchall()
    if result == [("ok",)]:
        return None
    problems = "; ".join(r[0] for r in result[:3]).replace("\n", " ")
    return f"{path} is damaged ({pragma}: {problems}); restore a backup"


def unreadable(path, error: Exception) -> str:
    """A file SQLite refused while it was checked or read."""
    return f"{path} is damaged or not a phucvu database ({error}); restore a backup"
