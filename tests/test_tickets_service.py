"""Ticket services on a real SQLite file: fields, validation and the update log."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tickettracker import tickets
from tickettracker.config import load_defaults
from tickettracker.errors import Conflict, NotFound, ValidationError

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def config():
    return load_defaults()


def make(session, config, **data):
    data.setdefault("title", "Printer jams")
    return tickets.create_ticket(session, data, config=config, now=T0, tz=BERLIN)


def test_create_with_all_fields(session, config):
    t = make(
        session,
        config,
        title="  Printer jams on floor 2  ",
        description="Paper tray 3",
        notes="Try the service menu",
        requester="Ann <ann@example.com>",
        watchers="bob@example.com; Carol\nbob@example.com",
        priority="high",
        due="2026-03-10",
        tags=["hardware", "Printer", "hardware"],
        links=[{"url": "https://vendor.example/kb/1", "title": "KB 1"}],
    )
    session.commit()
    got = tickets.get_ticket(session, t.id)
    assert got.title == "Printer jams on floor 2"
    assert got.watcher_names == ["bob@example.com", "Carol"]
    assert got.tag_names == ["hardware", "Printer"]
    assert got.priority == "high"
    assert got.due_date == dt.date(2026, 3, 10)
    # due at the end of the local day in Berlin (UTC+1 in March before the DST change)
    assert got.due_at == dt.datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    assert [link.to_dict() for link in got.links] == [
        {"url": "https://vendor.example/kb/1", "title": "KB 1"}
    ]
    assert got.status == "open"
    assert got.created_at == T0
    [entry] = got.updates
    assert entry.kind == "status"
    assert entry.changes == [{"field": "status", "old": None, "new": "open"}]


def test_default_priority_from_config(session, config):
    assert make(session, config).priority == config["default_priority"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"priority": "critical"}, "priority"),
        ({"due": "next tuesday"}, "due"),
        ({"due": "2026-02-30"}, "due"),
        ({"due": "9999-12-31"}, "due"),
        ({"due": "0001-01-01T00:00"}, "due"),
        ({"created_at": "0001-01-01T00:00:00+14:00"}, "created_at"),
        ({"links": [{"url": "javascript:alert(1)"}]}, "links"),
        ({"links": [{"url": "data:text/html,hi"}]}, "links"),
        ({"links": "ftp://old.example/file"}, "links"),
        ({"watchers": 5}, "watchers"),
        ({"tags": ["a,b"]}, "tags"),
        ({"watchers": ["x;y"]}, "watchers"),
        ({"status": "on_hold"}, "hold_reason"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_input_names_the_field(session, config, data, field):
    with pytest.raises(ValidationError) as info:
        make(session, config, **data)
    assert info.value.field == field
    assert info.value.message


def test_due_with_time_and_offset(session, config):
    t = make(session, config, due="2026-03-10T15:30:00+05:00")
    assert t.due_date is None
    assert t.due_at == dt.datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    t2 = make(session, config, due="2026-07-01 09:00")  # local (Berlin summer time)
    assert t2.due_at == dt.datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def test_imported_created_at(session, config):
    t = make(session, config, created_at="2020-01-31T09:30:00+00:00")
    assert t.created_at == dt.datetime(2020, 1, 31, 9, 30, tzinfo=UTC)
    assert t.updates[0].created_at == t.created_at


def test_each_field_change_is_logged_with_old_and_new(session, config):
    t = make(session, config)
    later = T0 + dt.timedelta(hours=1)
    tickets.change_ticket(
        session,
        t.id,
        {"priority": "high", "due": "2026-12-10", "tags": "a, b", "requester": "Ann"},
        config=config,
        now=later,
        tz=BERLIN,
    )
    entry = t.updates[-1]
    assert entry.kind == "change"
    assert entry.created_at == later
    assert {c["field"]: (c["old"], c["new"]) for c in entry.changes} == {
        "priority": ("normal", "high"),
        "due": (None, "2026-12-10"),
        "tags": ([], ["a", "b"]),
        "requester": ("", "Ann"),
    }
    assert t.updated_at == later


def test_unchanged_save_writes_no_entry(session, config):
    t = make(session, config, requester="Ann")
    tickets.change_ticket(session, t.id, {"requester": "Ann"}, config=config, now=T0)
    assert len(t.updates) == 1


def test_status_change_with_note_is_one_entry(session, config):
    t = make(session, config)
    tickets.change_ticket(
        session,
        t.id,
        {"status": "on_hold", "hold_reason": "Waiting on vendor", "note": "Called them"},
        config=config,
        now=T0 + dt.timedelta(hours=2),
    )
    entry = t.updates[-1]
    assert entry.kind == "status"
    assert entry.body == "Called them"
    assert entry.changes == [
        {"field": "status", "old": "open", "new": "on_hold"},
        {"field": "hold_reason", "old": None, "new": "Waiting on vendor"},
    ]
    assert t.hold_reason == "Waiting on vendor"
    assert t.hold_since == T0 + dt.timedelta(hours=2)


def test_hold_time_accumulates_for_the_sla_clock(session, config):
    t = make(session, config)
    hold = {"status": "on_hold", "hold_reason": "Waiting on parts"}
    tickets.change_ticket(session, t.id, hold, config=config, now=T0 + dt.timedelta(hours=1))
    tickets.change_ticket(
        session, t.id, {"status": "in_progress"}, config=config, now=T0 + dt.timedelta(hours=4)
    )
    assert t.hold_seconds == 3 * 3600
    assert t.hold_since is None
    assert t.hold_reason is None
    assert t.updates[-1].changes[1] == {
        "field": "hold_reason",
        "old": "Waiting on parts",
        "new": None,
    }


def test_terminal_ticket_refuses_status_and_field_changes_but_takes_notes(session, config):
    t = make(session, config)
    tickets.change_ticket(session, t.id, {"status": "closed"}, config=config, now=T0)
    with pytest.raises(Conflict):
        tickets.change_ticket(session, t.id, {"status": "open"}, config=config, now=T0)
    with pytest.raises(Conflict):
        tickets.change_ticket(session, t.id, {"title": "New"}, config=config, now=T0)
    entry = tickets.add_note(session, t.id, {"body": "Follow-up call done"}, now=T0)
    assert entry.kind == "note"


def test_note_with_links_and_empty_note_refused(session, config):
    t = make(session, config)
    entry = tickets.add_note(
        session,
        t.id,
        {"body": "See", "links": [{"url": "mailto:ann@example.com", "title": "Ann"}]},
        now=T0,
    )
    assert [link.to_dict() for link in entry.links] == [
        {"url": "mailto:ann@example.com", "title": "Ann"}
    ]
    with pytest.raises(ValidationError):
        tickets.add_note(session, t.id, {"body": "   "}, now=T0)


def test_stale_edit_is_a_conflict(session, config):
    t = make(session, config)
    stale = t.updated_at.isoformat()
    tickets.change_ticket(
        session, t.id, {"title": "First"}, config=config, now=T0 + dt.timedelta(1)
    )
    with pytest.raises(Conflict):
        tickets.change_ticket(
            session, t.id, {"title": "Second", "expected_updated_at": stale}, config=config
        )


def test_unknown_ticket(session, config):
    with pytest.raises(NotFound):
        tickets.get_ticket(session, 999)


def test_text_is_stored_exactly(session, config):
    text = "  line one\n\n<b>not html</b>  "
    t = make(session, config, description=text, notes=text)
    assert t.description == text and t.notes == text


def test_hold_reason_changes_while_on_hold_and_needs_a_reason(session, config):
    t = make(session, config, status="on_hold", hold_reason="Waiting on parts")
    with pytest.raises(ValidationError) as info:
        tickets.change_ticket(session, t.id, {"status": "on_hold"}, config=config, now=T0)
    assert info.value.field == "hold_reason"
    tickets.change_ticket(
        session, t.id, {"status": "on_hold", "hold_reason": "Parts arrive Friday"}, config=config
    )
    assert t.hold_reason == "Parts arrive Friday"
    assert t.updates[-1].changes == [
        {"field": "hold_reason", "old": "Waiting on parts", "new": "Parts arrive Friday"}
    ]
