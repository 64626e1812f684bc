"""The ticket list on a real SQLite file: search, filters, sorts, pages, dashboard (issue 5)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from tickettracker import db, search, tickets
from tickettracker.config import load_defaults
from tickettracker.models import Attachment, Ticket
from tickettracker.sla import compute_sla

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


@pytest.fixture
def config():
    return load_defaults()


def make(session, config, at=NOW - dt.timedelta(days=1), **data):
    data.setdefault("title", "Something is wrong")
    ticket = tickets.create_ticket(session, data, config=config, now=at, tz=BERLIN)
    session.commit()
    return ticket


def ids(session, config, **kw) -> list[int]:
    page = search.list_tickets(
        session, search.TicketQuery(per_page=500, **kw), config=config, now=NOW, tz=BERLIN
    )
    return [t.id for t in page.items]


def found(session, config, q: str, **kw) -> set[int]:
    return set(ids(session, config, q=q, statuses=["all"], **kw))


# --- search ---------------------------------------------------------------------------------


@pytest.fixture
def fields(session, config):
    t = {
        "title": make(session, config, title="Projector flickers"),
        "description": make(session, config, description="The fan sounds like a turbine"),
        "notes": make(session, config, notes="Spare key in the top drawer"),
        "requester": make(session, config, requester="Zoë Okonkwo"),
        "watchers": make(session, config, watchers=["maria@example.org", "Bartholomew"]),
        "tags": make(session, config, tags=["quarterly-audit"]),
        "update": make(session, config),
        "attachment": make(session, config),
        "cjk": make(session, config, title="打印机坏了", description="東京の会議室"),
        "emoji": make(session, config, title="Server room 🔥 again"),
    }
    tickets.add_note(session, t["update"].id, {"body": "Called the locksmith"}, now=NOW)
    ticket = t["attachment"]
    ticket.attachments.append(
        Attachment(
            filename="crash-report.txt",
            size=1,
            content_type="text/plain",
            sha256="0" * 64,
            created_at=NOW,
        )
    )
    session.flush()
    search.reindex_ticket(session, ticket)
    session.commit()
    return {k: v.id for k, v in t.items()}


@pytest.mark.parametrize(
    ("q", "field"),
    [
        ("projector", "title"),
        ("turbine", "description"),
        ("drawer", "notes"),
        ("okonkwo", "requester"),
        ("zoe", "requester"),  # accents do not matter
        ("maria", "watchers"),
        ("bartholomew", "watchers"),
        ("quarterly-audit", "tags"),
        ("audit", "tags"),
        ("locksmith", "update"),
        ("crash report", "attachment"),
        ("打印", "cjk"),
        ("机", "cjk"),
        ("東京", "cjk"),
        ("会議室", "cjk"),
        ("🔥", "emoji"),
    ],
)
def test_every_field_is_searched(session, config, fields, q, field):
    assert found(session, config, q) == {fields[field]}


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "-",
        "*",
        ":",
        "(",
        ")",
        "NEAR",
        "AND",
        "OR",
        "NOT",
        "^",
        "+",
        '"fan',
        "fan)",
        "NEAR(fan",
        "title:fan",
        "%",
        "_",
        "100%",
        "a_b",
        "{title}",
        "'",
    ],
)
def test_syntax_characters_never_fail(session, config, fields, q):
    search.list_tickets(
        session, search.TicketQuery(q=q, statuses=["all"]), config=config, now=NOW, tz=BERLIN
    )


def test_percent_and_underscore_are_not_wildcards(session, config):
    a = make(session, config, title="CPU at 100% on build_server")
    make(session, config, title="CPU at 1000 on buildxserver")
    assert found(session, config, "100% on") == {a.id}  # 100% is not 100 followed by anything
    assert found(session, config, '"100%"') == {a.id}
    assert found(session, config, "build_server") == {a.id}
    page = search.list_tickets(
        session, search.TicketQuery(q="requester:_"), config=config, now=NOW, tz=BERLIN
    )
    assert page.problems == ["The requester '_' has no letters or digits to look for."]
    b = make(session, config, requester="ann_lee")
    make(session, config, requester="annXlee")
    assert found(session, config, "", requester="ann_lee") == {b.id}


def test_edited_ticket_is_found_by_new_text_only(session, config):
    t = make(session, config, title="Keyboard missing keys")
    assert found(session, config, "keyboard") == {t.id}
    tickets.change_ticket(session, t.id, {"title": "Mouse double-clicks"}, config=config, now=NOW)
    session.commit()
    assert found(session, config, "keyboard") == set()
    assert found(session, config, "mouse") == {t.id}
    tickets.change_ticket(session, t.id, {"tags": ["hardware"]}, config=config, now=NOW)
    session.commit()
    assert found(session, config, "hardware") == {t.id}


def test_relevance_ranks_a_title_match_first(session, config):
    in_note = make(session, config, title="Other", notes="printer printer")
    in_title = make(session, config, title="Printer offline")
    assert ids(session, config, q="printer")[:2] == [in_title.id, in_note.id]
    assert ids(session, config, q="printer", order="asc")[-1] == in_title.id


def test_too_many_matches_fall_back_to_recent_first(session, config, monkeypatch):
    made = [
        make(session, config, title="vpn drops", at=NOW - dt.timedelta(hours=h)) for h in (5, 1, 3)
    ]
    monkeypatch.setattr(search, "RANK_LIMIT", 2)
    page = search.list_tickets(
        session, search.TicketQuery(q="vpn"), config=config, now=NOW, tz=BERLIN
    )
    assert page.sort == "updated" and "too many to rank" in page.notice
    assert [t.id for t in page.items] == [made[1].id, made[2].id, made[0].id]


# --- filters ------------------------------------------------------------------------------


@pytest.fixture
def tagged(session, config):
    return {
        "ab": make(session, config, tags=["alpha", "beta"]).id,
        "a": make(session, config, tags=["alpha"]).id,
        "b": make(session, config, tags=["Beta"]).id,
        "c": make(session, config, tags=["gamma"]).id,
    }


def test_tags_any_versus_all(session, config, tagged):
    any_ = set(ids(session, config, tags=["alpha", "beta"], tag_mode="any"))
    all_ = set(ids(session, config, tags=["alpha", "beta"], tag_mode="all"))
    assert any_ == {tagged["ab"], tagged["a"], tagged["b"]}
    assert all_ == {tagged["ab"]}
    assert set(ids(session, config, tags=["BETA"])) == {tagged["ab"], tagged["b"]}
    assert set(ids(session, config, q="tag:alpha tag:beta")) == {tagged["ab"]}
    assert set(ids(session, config, q="tag:alpha,gamma")) == {
        tagged["ab"],
        tagged["a"],
        tagged["c"],
    }


def test_default_status_filter_hides_closed_and_cancelled(session, config):
    live = make(session, config)
    done = make(session, config)
    tickets.change_ticket(session, done.id, {"status": "closed"}, config=config, now=NOW)
    session.commit()
    assert set(ids(session, config)) == {live.id}
    assert set(ids(session, config, statuses=["closed"])) == {done.id}
    assert set(ids(session, config, statuses=["all"])) == {live.id, done.id}
    assert set(ids(session, config, q="status:closed")) == {done.id}
    assert set(ids(session, config, q="is:closed")) == {done.id}
    assert set(ids(session, config, q="status:all")) == {live.id, done.id}


def test_combined_filters_and_qualifiers(session, config):
    hit = make(
        session,
        config,
        title="VPN down",
        priority="high",
        requester="Ann Lee",
        watchers=["bob"],
        tags=["network"],
        due="2026-03-09",
    )
    make(
        session,
        config,
        title="VPN down",
        priority="low",
        requester="Ann Lee",
        watchers=["bob"],
        tags=["network"],
        due="2026-03-09",
    )
    make(
        session,
        config,
        title="VPN down",
        priority="high",
        requester="Carl",
        watchers=["bob"],
        tags=["network"],
        due="2026-03-09",
    )
    make(
        session,
        config,
        title="VPN down",
        priority="high",
        requester="Ann Lee",
        watchers=["bob"],
        tags=["network"],
    )
    assert ids(
        session,
        config,
        q="vpn",
        priorities=["high"],
        requester="ann",
        watcher="bob",
        tags=["network"],
        due="overdue",
    ) == [hit.id]
    assert ids(
        session, config, q="vpn priority:high requester:ann watcher:bob tag:network is:overdue"
    ) == [hit.id]
    assert ids(session, config, q='requester:"ann lee" due:overdue priority:high') == [hit.id]


def test_due_filters_use_local_days(session, config):
    # NOW is 13:00 on 10 March in Berlin.
    overdue = make(session, config, due="2026-03-10 12:00")
    today = make(session, config, due="2026-03-10")  # end of the local day
    week = make(session, config, due="2026-03-16")
    later = make(session, config, due="2026-03-17")
    none = make(session, config)
    resolved = make(session, config, due="2026-03-01")
    tickets.change_ticket(session, resolved.id, {"status": "resolved"}, config=config, now=NOW)
    session.commit()
    assert ids(session, config, due="overdue") == [overdue.id]
    assert ids(session, config, due="today") == [today.id]
    assert set(ids(session, config, due="week")) == {today.id, week.id}
    assert set(ids(session, config, due="7")) == {today.id, week.id, later.id}
    assert ids(session, config, due="none") == [none.id]
    counts = {c.key: c.count for c in search.dashboard(session, now=NOW, tz=BERLIN)}
    assert counts == {"overdue": 1, "today": 1, "week": 2, "on_hold": 0, "open": 5}


def test_unknown_qualifier_values_are_reported(session, config):
    t = make(session, config)
    page = search.list_tickets(
        session,
        search.TicketQuery(q="status:bogus priority:meh sort:nope"),
        config=config,
        now=NOW,
        tz=BERLIN,
    )
    assert [x.id for x in page.items] == []  # no ticket has the priority "meh"
    assert len(page.problems) == 3
    assert "'bogus'" in page.problems[0] and "on_hold" in page.problems[0]
    assert any("not in your configuration" in p for p in page.problems)
    page = search.list_tickets(
        session, search.TicketQuery(q="status:bogus"), config=config, now=NOW, tz=BERLIN
    )
    assert [x.id for x in page.items] == [t.id]


def test_a_priority_removed_from_the_config_can_still_be_found(session, config):
    kept = make(session, config, title="Old scheme", priority="urgent")
    make(session, config, title="New scheme", priority="high")
    smaller = {**config, "priorities": [p for p in config["priorities"] if p["key"] != "urgent"]}
    page = search.list_tickets(
        session, search.TicketQuery(q="priority:urgent"), config=smaller, now=NOW, tz=BERLIN
    )
    assert [x.id for x in page.items] == [kept.id]


def test_typed_status_replaces_the_status_boxes(session, config):
    closed = make(session, config, title="Done already")
    tickets.change_ticket(session, closed.id, {"status": "closed"}, config=config, now=NOW)
    page = search.list_tickets(
        session,
        search.TicketQuery(q="status:closed", statuses=["open", "in_progress"]),
        config=config,
        now=NOW,
        tz=BERLIN,
    )
    assert [x.id for x in page.items] == [closed.id]
    assert page.statuses == ["closed"]


def test_due_days_out_of_range_is_reported_not_guessed(session, config):
    page = search.list_tickets(
        session, search.TicketQuery(q="due:3000000"), config=config, now=NOW, tz=BERLIN
    )
    assert any("out of range" in p for p in page.problems)


# --- sorting -------------------------------------------------------------------------------


@pytest.fixture
def backlog(session, config):
    """Tickets with ties, missing due dates, every priority, and an unknown priority."""
    made = []
    dues = [
        "2026-03-09 08:00",
        None,
        "2026-03-12",
        "2026-03-12",
        None,
        "2026-03-30",
        None,
        "2026-03-10 11:00",
        None,
        "2026-03-12",
    ]
    prios = ["urgent", "high", "normal", "low", "normal", "high", "urgent", "low", "normal", "high"]
    for i, (due, prio) in enumerate(zip(dues, prios, strict=True)):
        made.append(
            make(
                session,
                config,
                title=f"T{i}",
                description="backlog item",
                due=due,
                priority=prio,
                at=NOW - dt.timedelta(hours=[30, 2, 50, 7, 7, 90, 1, 3, 200, 7][i]),
            )
        )
    # Time on hold pauses the SLA clock; an on-hold ticket keeps the urgency it had.
    tickets.change_ticket(
        session,
        made[6].id,
        {"status": "on_hold", "hold_reason": "Parts"},
        config=config,
        now=NOW - dt.timedelta(minutes=30),
    )
    tickets.change_ticket(
        session,
        made[8].id,
        {"status": "on_hold", "hold_reason": "Vendor"},
        config=config,
        now=NOW - dt.timedelta(hours=190),
    )
    tickets.change_ticket(
        session,
        made[8].id,
        {"status": "in_progress"},
        config=config,
        now=NOW - dt.timedelta(hours=10),
    )
    tickets.change_ticket(
        session,
        made[5].id,
        {"status": "on_hold", "hold_reason": "Vendor"},
        config=config,
        now=NOW - dt.timedelta(hours=1),
    )
    tickets.change_ticket(
        session, made[3].id, {"status": "resolved"}, config=config, now=NOW - dt.timedelta(hours=7)
    )
    session.execute(
        text("UPDATE tickets SET priority = 'legacy' WHERE id = :id"), {"id": made[4].id}
    )
    session.commit()
    session.expire_all()
    return session.execute(Ticket.__table__.select()).all()


def expected_order(rows, sort: str, desc: bool, config) -> list[int]:
    keys = [p["key"] for p in config["priorities"]]
    if sort in ("updated", "created"):
        return [
            r.id for r in sorted(rows, key=lambda r: (getattr(r, f"{sort}_at"), r.id), reverse=desc)
        ]
    if sort == "due":
        dated = sorted((r for r in rows if r.due_at), key=lambda r: (r.due_at, r.id), reverse=desc)
        undated = sorted((r for r in rows if not r.due_at), key=lambda r: r.id, reverse=desc)
        return [r.id for r in dated + undated]
    if sort == "priority":
        order = list(reversed(keys)) if desc else keys
        known = [
            r
            for k in order
            for r in sorted((r for r in rows if r.priority == k), key=lambda r: r.id, reverse=desc)
        ]
        unknown = sorted(
            (r for r in rows if r.priority not in keys), key=lambda r: r.id, reverse=desc
        )
        return [r.id for r in known + unknown]
    assert sort == "urgency"
    targets = {p["key"]: p["target_hours"] for p in config["priorities"]}
    window = config["sla"]["due_window_hours"]

    def urgency(r):  # before capping at 1, so the most overdue sort first
        if r.due_at:
            return 1 - (r.due_at.replace(tzinfo=UTC) - NOW).total_seconds() / 3600 / window
        until = r.hold_since.replace(tzinfo=UTC) if r.status == "on_hold" else NOW
        age = (until - r.created_at.replace(tzinfo=UTC)).total_seconds() - r.hold_seconds
        return age / 3600 / targets.get(r.priority, targets[config["default_priority"]])

    urgent = [r for r in rows if r.status in ("open", "in_progress", "on_hold")]
    for r in rows:  # the order agrees with the urgency the list and API show
        shown = compute_sla(r, NOW, config, BERLIN).urgency
        assert shown == (pytest.approx(max(0, min(1, urgency(r)))) if r in urgent else 0.0)
    rest = [r for r in rows if r not in urgent]
    ordered = [r.id for r in sorted(urgent, key=lambda r: (-urgency(r), r.id))]
    ordered += sorted(r.id for r in rest)
    return list(reversed(ordered)) if not desc else ordered


def all_pages(session, config, total: int, **query) -> list[int]:
    """The ids of every page of the list for `query`, in order; each page says `total`."""
    got: list[int] = []
    page_no = 1
    while True:
        page = search.list_tickets(
            session, search.TicketQuery(page=page_no, **query), config=config, now=NOW, tz=BERLIN
        )
        assert page.total == total
        if not page.items:
            return got
        got += [t.id for t in page.items]
        page_no += 1


# The list is answered three ways: counts from ticket_counts (no search), a search driving
# the query (few matches), and a sort index driving with the matches probed (many).
WAYS = [("", None), ("backlog", None), ("backlog", 0)]


@pytest.mark.parametrize("sort", ["updated", "created", "due", "priority", "urgency"])
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("per_page", [3, 500])
@pytest.mark.parametrize(("q", "drive_limit"), WAYS)
def test_each_sort_pages_through_in_order(
    session, config, backlog, sort, order, per_page, q, drive_limit, monkeypatch
):
    if drive_limit is not None:
        monkeypatch.setattr(search, "DRIVE_LIMIT", drive_limit)
    expected = expected_order(backlog, sort, order == "desc", config)
    got = all_pages(
        session,
        config,
        len(backlog),
        q=q,
        statuses=["all"],
        sort=sort,
        order=order,
        per_page=per_page,
    )
    assert got == expected


@pytest.mark.parametrize("drive_limit", [None, 0])
def test_status_filter_inside_the_search(session, config, backlog, drive_limit, monkeypatch):
    if drive_limit is not None:
        monkeypatch.setattr(search, "DRIVE_LIMIT", drive_limit)
    active = [r for r in backlog if r.status in ("open", "in_progress", "on_hold", "resolved")]
    expected = [
        i for i in expected_order(backlog, "due", False, config) if i in {r.id for r in active}
    ]
    page = search.list_tickets(
        session,
        search.TicketQuery(q="backlog", sort="due", per_page=4, page=2),
        config=config,
        now=NOW,
        tz=BERLIN,
    )
    assert page.total == len(active)
    assert [t.id for t in page.items] == expected[4:8]
    on_hold = ids(session, config, q="backlog status:on_hold")
    assert sorted(on_hold) == sorted(r.id for r in backlog if r.status == "on_hold")


@pytest.mark.parametrize("sort", ["updated", "due", "priority", "urgency"])
@pytest.mark.parametrize("mode", ["any", "all"])
@pytest.mark.parametrize("drive_limit", [None, 0])
def test_tag_filters_keep_each_sort_order(
    session, config, backlog, sort, mode, drive_limit, monkeypatch
):
    """Tagged tickets are found by reading the tag lists (few) or by walking the sort's index
    and looking each ticket up in them (many, see DRIVE_LIMIT): the same pages either way."""
    if drive_limit is not None:
        monkeypatch.setattr(search, "DRIVE_LIMIT", drive_limit)
    names = []
    for i, t in enumerate(backlog):
        tags = (["red"] if i % 2 == 0 else []) + (["blue"] if i % 3 == 0 else [])
        names.append(set(tags))
        if tags:
            when = NOW - dt.timedelta(minutes=i)
            tickets.change_ticket(session, t.id, {"tags": tags}, config=config, now=when)
    wanted = {
        t.id
        for t, have in zip(backlog, names, strict=True)
        if (have >= {"red", "blue"} if mode == "all" else have & {"red", "blue"})
    }
    assert 0 < len(wanted) < len(backlog)
    if sort == "updated":  # tagging just updated them, the first one last
        expected = [t.id for t in backlog if t.id in wanted]
    else:
        expected = [i for i in expected_order(backlog, sort, True, config) if i in wanted]
    got = all_pages(
        session,
        config,
        len(wanted),
        statuses=["all"],
        tags=["red", "blue"],
        tag_mode=mode,
        sort=sort,
        order="desc",
        per_page=2,
    )
    assert got == expected


@pytest.mark.parametrize("statuses", [["open", "on_hold"], ["in_progress", "resolved"], []])
@pytest.mark.parametrize(("q", "drive_limit"), WAYS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_urgency_sort_with_a_status_filter(
    session, config, backlog, statuses, q, drive_limit, order, monkeypatch
):
    """The urgency walks fix each status themselves: the status filter still holds."""
    if drive_limit is not None:
        monkeypatch.setattr(search, "DRIVE_LIMIT", drive_limit)
    shown = statuses or ["open", "in_progress", "on_hold", "resolved"]  # the default
    kept = {r.id for r in backlog if r.status in shown}
    expected = [i for i in expected_order(backlog, "urgency", order == "desc", config) if i in kept]
    page = search.list_tickets(
        session,
        search.TicketQuery(q=q, statuses=statuses, sort="urgency", order=order, per_page=500),
        config=config,
        now=NOW,
        tz=BERLIN,
    )
    assert [t.id for t in page.items] == expected
    assert page.total == len(expected)


def test_urgency_puts_the_most_overdue_first(session, config, backlog):
    first = ids(session, config, sort="urgency")[:2]
    titles = [session.get(Ticket, i).title for i in first]
    assert titles == ["T0", "T7"]  # due 27 h ago, then due 1 h ago


def test_sort_and_order_from_the_search_box(session, config, backlog):
    assert ids(session, config, q="sort:due order:desc", statuses=["all"]) == expected_order(
        backlog, "due", True, config
    )


# --- the API and the page -----------------------------------------------------------------


def test_api_list_parameters(client):
    for tags in (["alpha", "beta"], ["alpha"], ["beta"]):
        assert client.post("/api/v1/tickets", json={"title": "x", "tags": tags}).status_code == 201
    resp = client.get("/api/v1/tickets?tag=alpha&tag=beta&tag_mode=all")
    assert resp.get_json()["total"] == 1
    resp = client.get("/api/v1/tickets?tag=alpha,beta&tag_mode=any&sort=created&order=asc")
    body = resp.get_json()
    assert body["total"] == 3 and body["sort"] == "created" and body["order"] == "asc"
    assert [t["id"] for t in body["items"]] == sorted(t["id"] for t in body["items"])
    assert client.get("/api/v1/tickets?q=tag:beta%20tag:alpha").get_json()["total"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "status"),
        ("tag_mode=some", "tag_mode"),
        ("due=soon", "due"),
        ("sort=random", "sort"),
        ("order=up", "order"),
        ("per_page=0", "per_page"),
        ("per_page=501", "per_page"),
        ("page=x", "page"),
    ],
)
def test_api_rejects_bad_parameters(client, query, field):
    resp = client.get(f"/api/v1/tickets?{query}")
    assert resp.status_code == 422
    assert resp.get_json()["field"] == field


def test_api_reports_qualifier_problems(client):
    body = client.get("/api/v1/tickets?q=status:nope").get_json()
    assert "nope" in body["problems"][0]


def test_list_page_shows_dashboard_filters_and_chip_links(client):
    client.post("/api/v1/tickets", json={"title": "Badge reader", "tags": ["door"]})
    html = client.get("/?q=badge").get_data(as_text=True)
    assert 'class="tile tile-overdue' in html and "Due this week" in html
    assert 'href="/?q=badge&amp;tag=door"' in html or 'href="/?tag=door&amp;q=badge"' in html
    assert "1 ticket matching “badge”" in html
    bad = client.get("/?due=soon").get_data(as_text=True)
    assert "Unknown due filter &#39;soon&#39;: use overdue" in bad


def test_an_index_of_an_older_layout_is_rebuilt(tmp_path, config):
    engine = db.make_engine(tmp_path / "old.db")
    db.init_db(engine)
    with db.make_sessionmaker(engine, write=True)() as s:
        t = make(s, config, title="Fax machine smokes", tags=["legacy"])
        s.commit()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE ticket_fts")
        conn.exec_driver_sql("CREATE VIRTUAL TABLE ticket_fts USING fts5(title, body)")
    db.init_db(engine)  # what the next start does
    with db.make_sessionmaker(engine)() as s:
        assert found(s, config, "smokes legacy") == {t.id}
    engine.dispose()


def counts_table(session) -> dict:
    rows = session.execute(text("SELECT status, priority, has_due, n FROM ticket_counts"))
    return {(s, p, bool(d)): n for s, p, d, n in rows if n}


def counted(session) -> dict:
    rows = session.execute(
        text("SELECT status, priority, due_at IS NOT NULL, count(*) FROM tickets GROUP BY 1, 2, 3")
    )
    return {(s, p, bool(d)): n for s, p, d, n in rows}


def test_ticket_counts_follow_every_write(session, config):
    a = make(session, config, priority="high")
    b = make(session, config, due="2026-04-01")
    assert counts_table(session) == counted(session)
    for change in (
        {"status": "in_progress"},
        {"priority": "low"},
        {"due": "2026-05-01"},
        {"due": ""},
        {"status": "closed"},
    ):
        tickets.change_ticket(session, a.id, change, config=config, now=NOW)
        session.commit()
        assert counts_table(session) == counted(session), change
    session.execute(text("DELETE FROM tickets WHERE id = :id"), {"id": b.id})
    session.commit()
    assert counts_table(session) == counted(session)
    # The default list's total, which reads the table, agrees with the list itself.
    page = search.list_tickets(session, search.TicketQuery(), config=config, now=NOW, tz=BERLIN)
    assert page.total == len(page.items) == 0


def _due(r):
    return r.due_at.replace(tzinfo=UTC) if r.due_at else None


ACTIVE = set(search.ACTIVE_STATUSES)
OWED = set(search.OWED_STATUSES)
# Filters on the ticket's own columns: as indexes to drive the query (few matches), or as
# tests made on each ticket while the sort's index drives it (many matches, DRIVE_LIMIT).
COLUMN_FILTERS = {
    "two statuses": ({"statuses": ["open", "on_hold"]}, lambda r: r.status in ("open", "on_hold")),
    "default statuses": ({}, lambda r: r.status in ACTIVE),
    "overdue": ({"due": "overdue"}, lambda r: r.status in OWED and _due(r) and _due(r) < NOW),
    "no due date": ({"due": "none"}, lambda r: r.status in ACTIVE and r.due_at is None),
    "priorities": (
        {"priorities": ["high", "urgent"]},
        lambda r: r.status in ACTIVE and r.priority in ("high", "urgent"),
    ),
}


@pytest.mark.parametrize("sort", ["updated", "created", "due", "priority", "urgency"])
@pytest.mark.parametrize("kind", list(COLUMN_FILTERS))
@pytest.mark.parametrize(("q", "drive_limit"), WAYS)
def test_column_filters_keep_each_sort_order(
    session, config, backlog, sort, kind, q, drive_limit, monkeypatch
):
    if drive_limit is not None:
        monkeypatch.setattr(search, "DRIVE_LIMIT", drive_limit)
    query, keep = COLUMN_FILTERS[kind]
    expected = [i for i in expected_order(backlog, sort, True, config) if keep(backlog[i - 1])]
    assert [r.id for r in backlog] == list(range(1, len(backlog) + 1))
    assert expected
    got = all_pages(
        session, config, len(expected), q=q, sort=sort, order="desc", per_page=2, **query
    )
    assert got == expected


def _walk_plans(session, config, monkeypatch, drive_limit, **query) -> list[tuple[str, str]]:
    """(statement, query plan) of what one list page runs to count and find its tickets."""
    from sqlalchemy import event

    monkeypatch.setattr(search, "DRIVE_LIMIT", drive_limit)
    seen: list[tuple[str, object]] = []
    engine = session.get_bind()

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(("SELECT", "WITH")) and " tickets" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        search.list_tickets(
            session, search.TicketQuery(**query), config=config, now=NOW, tz=BERLIN, full=False
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    for statement, parameters in seen:
        if "ORDER BY" not in statement and "count(" not in statement:
            continue  # loading the page's rows by id
        rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plans.append((statement, " | ".join(row[3] for row in rows)))
    return plans


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"sort": "updated"}, "ix_tickets_updated"),
        ({"sort": "created"}, "ix_tickets_created"),
        ({"sort": "updated", "due": "overdue"}, "ix_tickets_updated"),
        ({"sort": "updated", "due": "none"}, "ix_tickets_updated"),
        ({"sort": "created", "tags": ["red"]}, "ix_tickets_created"),
    ],
)
def test_many_matches_walk_the_sort_index_and_stop_after_a_page(
    session, config, backlog, monkeypatch, query, index
):
    """The app never runs ANALYZE: without statistics SQLite would read every ticket of each
    status and sort them all. With many matches the walk goes down the sort's index."""
    tickets.change_ticket(session, 1, {"tags": ["red"]}, config=config, now=NOW)
    plans = _walk_plans(session, config, monkeypatch, 0, **query)
    walks = [plan for statement, plan in plans if "count(" not in statement]
    assert walks, "no walk was run"
    for plan in walks:
        assert f"SCAN tickets USING INDEX {index}" in plan, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


@pytest.mark.parametrize("query", [{"tags": ["red"]}, {"tags": ["red"], "sort": "created"}])
def test_few_matches_are_read_through_the_tag_list_not_every_ticket(
    session, config, backlog, monkeypatch, query
):
    tickets.change_ticket(session, 1, {"tags": ["red"]}, config=config, now=NOW)
    plans = _walk_plans(session, config, monkeypatch, 2_000, **query)
    assert len(plans) >= 2  # the count and the walk
    for _, plan in plans:
        assert "SEARCH tickets USING INTEGER PRIMARY KEY" in plan, plan
        assert "ix_tickets_status" not in plan, plan
