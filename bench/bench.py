"""Benchmark the ticket list on a large backlog (issue 5). Not part of the test suite.

    python bench/bench.py                  # 100,000 tickets
    python bench/bench.py --tickets 1000000

Builds N tickets (realistic text, tags, watchers, about five log entries each, one ticket with
200) in a temporary data folder with bulk inserts, starts the real app process on it, and
times requests over HTTP: the list page and API with the default sort, a search for a word in
about 1 % of tickets, a tag ALL filter, sorting by due date (and by urgency and priority), a
ticket page with 200 updates, creating a ticket and adding a note. Beside each it prints the
floor: the same SQL statements the app runs, replayed directly on the SQLite file, and their
query plans. Finally the build time and the app process's peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import event  # noqa: E402

from tickettracker import db, search, tickets  # noqa: E402
from tickettracker.config import load_defaults  # noqa: E402

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
MARKER = "thermostat"  # planted in about 1 % of tickets
STATUS_MIX = [
    ("open", 20),
    ("in_progress", 15),
    ("on_hold", 8),
    ("resolved", 12),
    ("closed", 40),
    ("cancelled", 5),
]
PRIORITY_MIX = [("urgent", 5), ("high", 20), ("normal", 55), ("low", 20)]
TAGS = [
    "printer", "network", "vpn", "email", "laptop", "desktop", "phone", "access", "password",
    "onboarding", "offboarding", "hardware", "software", "license", "backup", "wifi", "monitor",
    "meeting-room", "projector", "security", "billing", "invoice", "crm", "erp", "database",
    "website", "dns", "firewall", "server", "storage", "mobile", "tablet", "camera", "badge",
    "facilities", "hvac", "furniture", "shipping", "vendor", "contract", "training", "audit",
]  # fmt: skip
NAMES = [
    "Ann Lee", "Bob Marsh", "Chiara Rossi", "Dmitri Volkov", "Emeka Obi", "Fatima Zahra",
    "Greta Holm", "Hiro Tanaka", "Ines Duarte", "Jonas Weber", "Kavya Iyer", "Liam Byrne",
    "Mei Chen", "Noah Levi", "Olga Petrova", "Pablo Ruiz", "Qiu Ying", "Rosa Parra",
    "Sven Berg", "Tariq Aziz", "Uma Rao", "Viktor Novak", "Wen Li", "Ximena Soto",
    "Yusuf Kaya", "Zoë Martin", "Aiko Sato", "Björn Lund", "Céline Roux", "Dana Cohen",
]  # fmt: skip
SUBJECTS = [
    "printer", "laptop", "VPN client", "mailbox", "shared drive", "badge reader", "projector",
    "wifi", "monitor", "docking station", "phone", "calendar", "license server", "backup job",
    "database", "website", "invoice run", "CRM export", "firewall rule", "DNS record",
    "meeting room display", "door lock", "coffee machine", "air conditioning", "scanner",
]  # fmt: skip
PROBLEMS = [
    "does not start", "keeps disconnecting", "is very slow", "shows an error", "needs access",
    "stopped syncing", "must be replaced", "fails every night", "is out of toner",
    "rejects my password", "crashes on login", "is missing after the update", "makes a noise",
    "needs a new certificate", "cannot be reached from home", "prints blank pages",
]  # fmt: skip
PLACES = ["room 4.12", "the third floor", "reception", "the warehouse", "Berlin office",
          "the lab", "finance", "home office", "the Lisbon site", "building B"]  # fmt: skip
NOTES = [
    "Called the requester and asked for a screenshot.", "Restarted the service; watching it.",
    "Ordered a replacement part from the vendor.", "Could not reproduce on my machine.",
    "Escalated to the network team.", "Applied the latest patch and rebooted.",
    "Waiting for the requester to confirm.", "Replaced the cable; looks fine now.",
    "Checked the logs: timeouts since Monday.", "Reset the password and sent a new link.",
]  # fmt: skip
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite


def pick(rng: random.Random, mix: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in mix], [w for _, w in mix])[0]


class TextMaker:
    """Help-desk sentences plus a long tail of rarer words, Zipf-like."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        syllables = ["ka", "lo", "mi", "ne", "tor", "ver", "san", "pri", "ble", "dat", "ex",
                     "con", "ser", "port", "lin", "mar", "ton", "ra", "ges", "fil"]  # fmt: skip
        vocab: set[str] = set()
        while len(vocab) < 5000:
            vocab.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
        self.vocab = sorted(vocab)
        self.cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(self.vocab))))

    def words(self, n: int) -> str:
        return " ".join(self.rng.choices(self.vocab, cum_weights=self.cum, k=n))

    def title(self) -> str:
        r = self.rng
        return f"{r.choice(SUBJECTS).capitalize()} in {r.choice(PLACES)} {r.choice(PROBLEMS)}"

    def paragraph(self, sentences: int) -> str:
        r = self.rng
        out = []
        for _ in range(sentences):
            if r.random() < 0.5:
                out.append(f"The {r.choice(SUBJECTS)} {r.choice(PROBLEMS)}.")
            else:
                out.append(self.words(r.randint(6, 14)).capitalize() + ".")
        return " ".join(out)


def build(db_path: Path, n: int, seed: int) -> tuple[float, float, int]:
    """Create the schema the app's way, then bulk-insert the backlog; returns timings."""
    engine = db.make_engine(db_path)
    db.init_db(engine)
    engine.dispose()
    rng = random.Random(seed)
    text = TextMaker(rng)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO tags(id, name) VALUES (?, ?)", list(enumerate(TAGS, 1)))
    update_id = 0
    big_ticket = n // 2
    batch: dict[str, list] = {"t": [], "tt": [], "w": [], "u": []}

    def flush() -> None:
        conn.executemany(
            "INSERT INTO tickets(id, title, description, notes, requester, priority, status, "
            "hold_reason, hold_seconds, hold_since, due_at, due_date, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            batch["t"],
        )
        conn.executemany("INSERT INTO ticket_tags(ticket_id, tag_id) VALUES (?,?)", batch["tt"])
        conn.executemany(
            "INSERT INTO watchers(ticket_id, name, position) VALUES (?,?,?)", batch["w"]
        )
        conn.executemany(
            "INSERT INTO updates(id, ticket_id, created_at, kind, body, changes_json) "
            "VALUES (?,?,?,?,?,?)",
            batch["u"],
        )
        for rows in batch.values():
            rows.clear()

    for tid in range(1, n + 1):
        created = NOW - dt.timedelta(seconds=rng.randint(3600, 730 * 86400))
        status = pick(rng, STATUS_MIX)
        description = text.paragraph(rng.randint(2, 6))
        title = text.title()
        if rng.random() < 0.01:
            where = rng.random()
            if where < 0.3:
                title += f" ({MARKER})"
            else:
                description += f" The {MARKER} in {rng.choice(PLACES)} is involved."
        due_at = due_date = None
        if rng.random() < 0.6:
            due = NOW + dt.timedelta(hours=rng.randint(-30 * 24, 60 * 24))
            if rng.random() < 0.7:
                due_date = due.date().isoformat()
                due_at = (
                    dt.datetime.combine(due.date(), dt.time(23, 59, 59, 999999))
                    .replace(tzinfo=dt.timezone.utc)
                    .strftime(FMT)
                )
            else:
                due_at = due.strftime(FMT)
        hold = rng.randint(0, 3 * 86400) if rng.random() < 0.2 else 0
        moments = sorted(
            created + dt.timedelta(seconds=rng.randint(60, 20 * 86400)) for _ in range(4)
        )
        if tid == big_ticket:
            moments = [created + dt.timedelta(minutes=10 * i) for i in range(1, 200)]
        updated = min(moments[-1], NOW)
        batch["t"].append(
            (
                tid,
                title,
                description,
                text.paragraph(1) if rng.random() < 0.3 else "",
                rng.choice(NAMES),
                pick(rng, PRIORITY_MIX),
                status,
                "Waiting on vendor" if status == "on_hold" else None,
                hold,
                updated.strftime(FMT) if status == "on_hold" else None,
                due_at,
                due_date,
                created.strftime(FMT),
                updated.strftime(FMT),
            )
        )
        for tag_id in rng.sample(range(1, len(TAGS) + 1), rng.choice([0, 1, 1, 2, 2, 3])):
            batch["tt"].append((tid, tag_id))
        for pos, name in enumerate(rng.sample(NAMES, rng.choice([0, 0, 1, 1, 2, 3]))):
            batch["w"].append((tid, name, pos))
        update_id += 1
        batch["u"].append(
            (update_id, tid, created.strftime(FMT), "status", "",
             json.dumps([{"field": "status", "old": None, "new": "open"}]))
        )  # fmt: skip
        for moment in moments:
            update_id += 1
            body = rng.choice(NOTES) + " " + text.paragraph(rng.randint(0, 2))
            batch["u"].append((update_id, tid, min(moment, NOW).strftime(FMT), "note", body, "[]"))
        if len(batch["t"]) >= 5000:
            flush()
    flush()
    conn.execute("COMMIT")
    conn.close()
    inserted = time.perf_counter() - started
    engine = db.make_engine(db_path)
    started = time.perf_counter()
    with engine.begin() as sa_conn:
        search.rebuild_index(sa_conn)
    engine.dispose()
    return inserted, time.perf_counter() - started, big_ticket


# --- the floor: the app's own SQL, replayed on the file ---------------------------------------


def capture_sql(db_path: Path, action) -> list[tuple[str, tuple]]:
    """Run `action(session)` in-process and return the SQL statements it executed."""
    engine = db.make_engine(db_path)
    statements: list[tuple[str, tuple]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().startswith(("PRAGMA", "BEGIN")):
            statements.append((statement, tuple(parameters or ())))

    sessions = db.make_sessionmaker(engine, write=True)
    with sessions() as session:
        action(session)
        session.rollback()
    engine.dispose()
    return statements


def replay(conn: sqlite3.Connection, statements, write: bool) -> float:
    started = time.perf_counter()
    if write:
        conn.execute("BEGIN IMMEDIATE")
    for sql, params in statements:
        if write:  # the captured ids repeat on every replay
            sql = sql.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
        conn.execute(sql, params).fetchall()
    if write:
        conn.execute("COMMIT")
    return (time.perf_counter() - started) * 1000


def plans(conn: sqlite3.Connection, statements) -> list[str]:
    out = []
    for sql, params in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        out.append(" ".join(re.sub(r"\s+", " ", sql).split()[:12]) + " …")
        out.extend("    " + r[3] for r in rows)
    return out


# --- the app over HTTP --------------------------------------------------------------------


class App:
    def __init__(self, data_dir: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tickettracker", "--no-open", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for line in self.proc.stdout:
            m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
            if m:
                self.port, self.token = int(m.group(1)), m.group(2)
                break
        else:
            raise SystemExit("the app did not start: " + self.proc.stderr.read())
        self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.http.request(method, path, body=data, headers=headers)
        resp = self.http.getresponse()
        return resp.status, resp.read()

    def cpu_seconds(self) -> float:
        """User + system CPU time the app process has used (Linux; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(m.group(1)) / 1024 if m else None

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(30)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="backlog size (100000)")
    parser.add_argument("--repeat", type=int, default=60, help="requests per measurement")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--reuse", type=Path, help="measure a data folder kept by --keep")
    args = parser.parse_args(argv)

    if args.reuse:
        data_dir, args.keep = args.reuse, True
        if (data_dir / "data" / "tickettracker.db").exists():  # the folder --keep printed
            data_dir = data_dir / "data"
        db_path = data_dir / "tickettracker.db"
        if not db_path.exists():
            parser.error(f"{db_path} does not exist: pass a folder kept by --keep")
        engine = db.make_engine(db_path)
        db.init_db(engine)  # as the app would: new indexes and tables
        with engine.begin() as conn:
            # The app never runs ANALYZE: measure the query plans its users' files get.
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
            args.tickets = conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar()
            big = conn.exec_driver_sql(
                "SELECT ticket_id FROM updates GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).scalar()
        engine.dispose()
        inserted = indexed = float("nan")
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="tickettracker-bench-")) / "data"
        data_dir.mkdir(parents=True)
        db_path = data_dir / "tickettracker.db"
        print(f"Building {args.tickets:,} tickets in {data_dir} …", flush=True)
        inserted, indexed, big = build(db_path, args.tickets, args.seed)
    size_mb = sum(p.stat().st_size for p in data_dir.iterdir() if p.is_file()) / 1e6
    built = "reused" if args.reuse else f"rows {inserted:.1f} s, full-text index {indexed:.1f} s"
    print(f"  {built}, {size_mb:,.0f} MB on disk")

    config = load_defaults()
    with sqlite3.connect(db_path) as conn:
        pair = conn.execute(
            "SELECT a.tag_id, b.tag_id, count(*) FROM ticket_tags a JOIN ticket_tags b "
            "ON a.ticket_id = b.ticket_id AND a.tag_id < b.tag_id GROUP BY 1, 2 "
            "ORDER BY 3 DESC LIMIT 1"
        ).fetchone()
        tag_a, tag_b = (TAGS[pair[0] - 1], TAGS[pair[1] - 1])
        marked = conn.execute(
            "SELECT count(*) FROM ticket_fts WHERE ticket_fts MATCH ?", (MARKER,)
        ).fetchone()[0]
    print(f"  '{MARKER}' is in {marked:,} tickets ({100 * marked / args.tickets:.1f} %)")

    list_cases = [
        ("list, default sort", {}),
        (f"search '{MARKER}'", {"q": MARKER}),
        (f"tags {tag_a} AND {tag_b}", {"tag": [tag_a, tag_b], "tag_mode": "all"}),
        ("sort by due date", {"sort": "due"}),
        ("sort by SLA urgency", {"sort": "urgency"}),
        ("sort by priority", {"sort": "priority"}),
        ("sort by created", {"sort": "created"}),
        ("overdue (dashboard link)", {"due": "overdue"}),
        ("no due date", {"due": "none"}),
    ]

    def qs(params: dict) -> str:
        from urllib.parse import urlencode

        return urlencode(params, doseq=True)

    app = App(data_dir)
    rows: list[tuple[str, list[float], float | None, float]] = []

    def measure(fn) -> tuple[list[float], float]:
        """Wall-clock times, and the app's CPU time per request (what the latency would be
        on an idle machine, as the app serves one request at a time here)."""
        cpu = app.cpu_seconds()
        times = timed(fn, args.repeat)
        return times, (app.cpu_seconds() - cpu) * 1000 / args.repeat

    plan_text: list[str] = []
    try:
        floor_conn = sqlite3.connect(db_path, isolation_level=None)
        floor_conn.execute("PRAGMA synchronous=FULL")
        for label, params in list_cases:
            for kind, path in (("page", "/?"), ("API", "/api/v1/tickets?")):
                url = path + qs(params)
                status, _ = app.request("GET", url)
                assert status == 200, (url, status)
                for _ in range(3):
                    app.request("GET", url)
                times, cpu = measure(lambda url=url: app.request("GET", url))
                floor = None
                if kind == "page":

                    def run(session, params=params):
                        from werkzeug.datastructures import MultiDict

                        query = search.TicketQuery.from_args(MultiDict(params))
                        search.list_tickets(session, query, config=config)
                        search.dashboard(session)

                    statements = capture_sql(db_path, run)
                    floor = statistics.median(
                        replay(floor_conn, statements, False) for _ in range(args.repeat)
                    )
                    plan_text.append(f"## {label}")
                    plan_text.extend(plans(floor_conn, statements))
                rows.append((f"{label} ({kind})", times, floor, cpu))

        path = f"/tickets/{big}"
        app.request("GET", path)
        times, cpu = measure(lambda: app.request("GET", path))

        def ticket_page(session):  # what the page reads (web/pages.py show_ticket)
            tickets.history(session, tickets.get_ticket(session, big, updates="none"))

        statements = capture_sql(db_path, ticket_page)
        floor = statistics.median(replay(floor_conn, statements, False) for _ in range(20))
        plan_text.append("## ticket page with 200 updates")
        plan_text.extend(plans(floor_conn, statements))
        rows.append(("ticket page, 200 updates", times, floor, cpu))

        body = {
            "title": "Benchmark ticket: projector flickers",
            "description": "Created by bench.py",
            "requester": "Bench",
            "tags": [tag_a],
            "due": (NOW + dt.timedelta(days=3)).date().isoformat(),
        }
        times, cpu = measure(lambda: app.request("POST", "/api/v1/tickets", body))

        def create(session):
            tickets.create_ticket(session, dict(body), config=config)
            session.flush()

        statements = capture_sql(db_path, create)
        floor = statistics.median(replay(floor_conn, statements, True) for _ in range(20))
        rows.append(("create a ticket (API)", times, floor, cpu))

        noted = big - 1  # an ordinary ticket with a handful of log entries
        note = {"body": "Checked the cabling again", "links": ["https://example.org/kb/42"]}
        path = f"/api/v1/tickets/{noted}/updates"
        times, cpu = measure(lambda: app.request("POST", path, note))

        def add_note(session):
            tickets.add_note(session, noted, dict(note))
            session.flush()

        statements = capture_sql(db_path, add_note)
        floor = statistics.median(replay(floor_conn, statements, True) for _ in range(20))
        rows.append(("add a note (API)", times, floor, cpu))
        peak = app.peak_rss_mb()
    finally:
        app.stop()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(
        f"Results at {args.tickets:,} tickets, {args.repeat} requests each (ms); "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end:"
    )
    print()
    print("| request | median | p95 | app CPU per request | SQLite floor (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, times, floor, cpu in rows:
        floor_text = f"{floor:.1f}" if floor is not None else ""
        print(
            f"| {label} | {statistics.median(times):.1f} | {p95(times):.1f} | {cpu:.1f} "
            f"| {floor_text} |"
        )
    print()
    print(f"Build: {built}; {size_mb:,.0f} MB")
    print(f"App process peak memory (VmHWM): {peak:.0f} MB" if peak else "Peak memory: n/a")
    print()
    print("Query plans (EXPLAIN QUERY PLAN of the statements each page runs):")
    for line in plan_text:
        print(line)
    if args.keep:
        print(f"\nData kept in {data_dir}")
    else:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
