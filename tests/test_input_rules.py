"""Input rules a fresh-user trial broke: future times, invisible and control characters,
long hold reasons, misplaced hold reasons, bad list addresses, files on finished tickets.

Each rule is held at the layer that owns it: the pure field functions, the services on a
real database, the API and the pages through the test client.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from tickettracker import fields, tickets
from tickettracker.config import load_defaults
from tickettracker.errors import ValidationError
from tickettracker.importing import ImportRefused, import_csv
from tickettracker.searchtext import parse_query

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make(session, **data):
    data.setdefault("title", "Printer jams")
    return tickets.create_ticket(session, data, config=load_defaults(), now=T0, tz=UTC)


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        call(*args, **kwargs)
    return err.value


# --- 1. recorded times may not lie in the future -----------------------------------------


def test_a_created_at_later_than_now_is_refused_naming_the_field():
    err = refused(fields.parse_timestamp, "2030-01-01T00:00:00+00:00", "created_at", now=T0)
    assert err.field == "created_at"
    assert "'2030-01-01T00:00:00+00:00' is in the future" in err.message
    assert "2026-03-02 09:00 UTC" in err.message and "leave it out" in err.message


def test_a_few_minutes_of_clock_skew_are_allowed():
    ahead = (T0 + dt.timedelta(minutes=4)).isoformat()
    assert fields.parse_timestamp(ahead, "created_at", now=T0) == T0 + dt.timedelta(minutes=4)
    too_far = (T0 + dt.timedelta(minutes=6)).isoformat()
    refused(fields.parse_timestamp, too_far, "created_at", now=T0)


def test_the_service_refuses_a_future_creation_and_keeps_a_past_one(session):
    err = refused(make, session, created_at="2026-03-03T09:00:00+01:00")
    assert err.field == "created_at"
    past = make(session, created_at="2025-12-01T08:00:00+00:00")
    assert past.created_at == dt.datetime(2025, 12, 1, 8, 0, tzinfo=UTC)


def test_the_api_refuses_a_future_created_at(client):
    soon = (dt.datetime.now(UTC) + dt.timedelta(days=400)).isoformat()
    resp = client.post("/api/v1/tickets", json={"title": "Time traveller", "created_at": soon})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["field"] == "created_at" and "in the future" in body["error"]
    assert client.get("/api/v1/tickets").get_json()["total"] == 0
    # A client whose clock runs a minute fast is still welcome.
    nearly = (dt.datetime.now(UTC) + dt.timedelta(minutes=1)).isoformat()
    resp = client.post("/api/v1/tickets", json={"title": "Fast clock", "created_at": nearly})
    assert resp.status_code == 201


def test_a_csv_import_names_the_row_with_a_future_created_at(session):
    rows = "title,created_at\nFine,2026-01-05 10:00\nLater,2027-01-01 10:00\n"
    with pytest.raises(ImportRefused) as err:
        import_csv(session, io.StringIO(rows), config=load_defaults(), now=T0, tz=UTC)
    (problem,) = err.value.report.problems
    assert problem.where == "line 3" and problem.field == "created_at"
    assert "in the future" in problem.message


# --- 2. invisible and control characters ---------------------------------------------------


@pytest.mark.parametrize(
    "title",
    ["\u200b", " \u200b\u200d ", "\u2060\ufeff", "\u3164", "\x00", "\u200e\u200f"],
    ids=["zero-width-space", "joiners", "word-joiner-bom", "hangul-filler", "nul", "marks"],
)
def test_a_title_with_nothing_visible_needs_a_title(title):
    err = refused(fields.clean_title, title)
    assert err.field == "title" and "needs a title" in err.message


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("Printer\x00jams", "U+0000"),
        ("Printer\njams", "a line break"),
        ("Printer\r\njams", "a line break"),
        ("Printer\u2028jams", "a line break"),
        ("Printer\tjams", "a tab"),
        ("Printer\x85jams", "U+0085"),
        ("Printer\x7fjams", "U+007F"),
    ],
)
def test_a_title_with_a_control_character_inside_is_refused(title, words):
    err = refused(fields.clean_title, title)
    assert err.field == "title"
    assert err.message.startswith("Title contains") and words in err.message
    assert "character 8" in err.message


def test_surrounding_white_space_is_trimmed_and_visible_text_with_format_characters_kept():
    assert fields.clean_title("\n\t Printer jams \r\n") == "Printer jams"
    # A joiner inside an emoji sequence or a direction mark in mixed text is real text.
    assert fields.clean_title("Deploy 👩\u200d💻") == "Deploy 👩\u200d💻"
    assert fields.clean_title("\u200fשלום") == "\u200fשלום"


def test_single_line_fields_refuse_control_characters_and_name_the_field(session):
    cases = [
        ({"requester": "Ann\nBob"}, "requester", "Requester contains a line break"),
        ({"requester": "Ann\x00"}, "requester", "U+0000"),
        ({"watchers": ["Ann\tB"]}, "watchers", "'Ann\\tB' in watchers contains a tab"),
        ({"tags": ["net\x1bwork"]}, "tags", "'net\\x1bwork' in tags contains"),
        (
            {"links": [{"url": "https://example.com", "title": "KB\n1"}]},
            "links",
            "A link's title contains a line break",
        ),
    ]
    for data, field, words in cases:
        err = refused(make, session, **data)
        assert err.field == field and words in err.message, (data, err.message)


def test_a_requester_is_trimmed(session):
    assert make(session, requester="  Ann Example \n").requester == "Ann Example"


def test_multi_line_fields_keep_line_breaks_and_tabs_but_not_other_controls(session):
    t = make(session, description="Steps:\n\t1. open\r\n\t2. jam", notes="a\rb")
    assert t.description == "Steps:\n\t1. open\n\t2. jam" and t.notes == "a\nb"
    err = refused(make, session, description="binary\x00junk")
    assert err.field == "description" and "Description contains" in err.message
    assert "U+0000" in err.message
    err = refused(tickets.add_note, session, t.id, {"body": "bell\x07"})
    assert err.field == "body" and err.message.startswith("The note contains")
    err = refused(
        tickets.change_ticket, session, t.id, {"note": "esc\x1b[0m"}, config=load_defaults()
    )
    assert err.field == "note"


def test_the_api_refuses_invisible_titles_and_nul_bytes(client):
    for title in ("\u200b", "Printer\x00jams", "Line\nbreak"):
        resp = client.post("/api/v1/tickets", json={"title": title})
        assert resp.status_code == 422, title
        assert resp.get_json()["field"] == "title"
    resp = client.post("/api/v1/tickets", json={"title": "Fine", "requester": "Ann\nBob"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "requester"
    assert client.get("/api/v1/tickets").get_json()["total"] == 0


def test_a_link_with_a_space_in_its_host_is_refused(client):
    err = refused(fields.clean_link, "https://exa mple.com/kb")
    assert "space" in err.message and "exa mple.com" in err.message
    resp = client.post(
        "/api/v1/tickets",
        json={"title": "Broken link", "links": [{"url": "https://exa mple.com/kb"}]},
    )
    assert resp.status_code == 422
    assert resp.get_json()["field"] == "links" and "space" in resp.get_json()["error"]
    assert fields.clean_link("https://example.com/a%20b")["url"] == "https://example.com/a%20b"


# --- 3. and 7. hold reasons ----------------------------------------------------------------


def test_a_hold_reason_over_500_characters_is_refused_by_the_api(client):
    t = client.post("/api/v1/tickets", json={"title": "Parts"}).get_json()
    resp = client.patch(
        f"/api/v1/tickets/{t['id']}", json={"status": "on_hold", "hold_reason": "x" * 5000}
    )
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["field"] == "hold_reason"
    assert "5000 characters" in body["error"] and "500" in body["error"]
    assert client.get(f"/api/v1/tickets/{t['id']}").get_json()["status"] == "open"
    resp = client.post(
        "/api/v1/tickets", json={"title": "x", "status": "on_hold", "hold_reason": "y" * 501}
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "hold_reason"
    ok = client.patch(
        f"/api/v1/tickets/{t['id']}", json={"status": "on_hold", "hold_reason": "z" * 500}
    )
    assert ok.status_code == 200 and ok.get_json()["hold_reason"] == "z" * 500


def test_a_hold_reason_over_500_characters_is_refused_by_the_page(client):
    client.post("/tickets/new", data={"title": "Parts"})
    resp = client.post(
        "/tickets/1/status",
        data={"status": "on_hold", "hold_reason": "", "hold_reason_custom": "w" * 5000},
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Hold reason is 5000 characters long; the limit is 500" in html
    assert client.get("/api/v1/tickets/1").get_json()["status"] == "open"


def test_a_hold_reason_with_another_status_is_refused_by_the_api(client):
    t = client.post("/api/v1/tickets", json={"title": "Parts"}).get_json()
    url = f"/api/v1/tickets/{t['id']}"
    for data in (
        {"status": "resolved", "hold_reason": "Waiting on vendor"},
        {"hold_reason": "Waiting on vendor"},  # the ticket stays Open
    ):
        resp = client.patch(url, json=data)
        assert resp.status_code == 422, data
        body = resp.get_json()
        assert body["field"] == "hold_reason" and "only goes with the On Hold" in body["error"]
    assert client.get(url).get_json()["status"] == "open"
    resp = client.post("/api/v1/tickets", json={"title": "x", "hold_reason": "Vendor"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "hold_reason"
    # With On Hold, and on a ticket already on hold, the reason is welcome.
    assert client.patch(url, json={"status": "on_hold", "hold_reason": "Vendor"}).status_code == 200
    resp = client.patch(url, json={"hold_reason": "Customer"})
    assert resp.status_code == 200 and resp.get_json()["hold_reason"] == "Customer"
    # An empty reason with another status is no reason at all.
    resp = client.patch(url, json={"status": "resolved", "hold_reason": ""})
    assert resp.status_code == 200 and resp.get_json()["hold_reason"] is None


def test_the_page_status_form_ignores_its_hold_fields_for_other_statuses(client):
    client.post("/tickets/new", data={"title": "Parts"})
    resp = client.post(
        "/tickets/1/status",
        data={"status": "resolved", "hold_reason": "Waiting on vendor", "hold_reason_custom": "x"},
    )
    assert resp.status_code == 303
    ticket = client.get("/api/v1/tickets/1").get_json()
    assert ticket["status"] == "resolved" and ticket["hold_reason"] is None


# --- 4. search messages quote what was typed -----------------------------------------------


@pytest.mark.parametrize(
    ("q", "quoted"),
    [("due:-1", "'-1'"), ("due:Next-Week", "'Next-Week'"), ("due:0", "'0'")],
)
def test_due_messages_quote_the_value_as_typed(q, quoted):
    (problem,) = parse_query(q).problems
    assert quoted in problem and "_" not in problem


def test_list_messages_quote_status_sort_and_order_as_typed(client):
    client.post("/api/v1/tickets", json={"title": "Anything"})
    body = client.get(
        "/api/v1/tickets", query_string={"q": "status:Half-Done sort:Most-Recent order:Up-Down"}
    ).get_json()
    text = " ".join(body["problems"])
    assert "'Half-Done'" in text and "'Most-Recent'" in text and "'Up-Down'" in text
    assert "half_done" not in text and "most_recent" not in text


def test_api_parameter_messages_quote_the_value_as_given(client):
    for params, words in (
        ({"tag_mode": "XYZ"}, "'XYZ'"),
        ({"due": "Soon"}, "'Soon'"),
        ({"sort": "Best"}, "'Best'"),
        ({"order": "Up"}, "'Up'"),
        ({"page": "-1"}, "'-1'"),
        ({"status": "Done"}, "'Done'"),
    ):
        resp = client.get("/api/v1/tickets", query_string=params)
        assert resp.status_code == 422, params
        assert words in resp.get_json()["error"], (params, resp.get_json())


# --- 5. bad list addresses in the page -----------------------------------------------------


def _titles(html: str) -> list[str]:
    return [t for t in ("Tagged alpha", "Tagged beta", "Untagged") if t in html]


def test_an_unknown_tag_mode_is_said_and_the_tag_filter_kept(client):
    client.post("/api/v1/tickets", json={"title": "Tagged alpha", "tags": ["a"]})
    client.post("/api/v1/tickets", json={"title": "Tagged beta", "tags": ["b"]})
    client.post("/api/v1/tickets", json={"title": "Untagged"})
    resp = client.get("/?tag=a&tag_mode=xyz")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Unknown tag_mode &#39;xyz&#39;: use any or all." in html
    assert "Showing tickets with any of the tags." in html
    assert _titles(html) == ["Tagged alpha"]
    # Several bad values: each is said, and the good ones still apply.
    html = client.get("/?tag=a,b&due=soon&sort=best&status=nope").get_data(as_text=True)
    assert "Unknown due filter &#39;soon&#39;" in html and "Unknown sort &#39;best&#39;" in html
    assert "Unknown status &#39;nope&#39;" in html
    assert _titles(html) == ["Tagged alpha", "Tagged beta"]
    # The API still refuses the same address.
    assert client.get("/api/v1/tickets?tag=a&tag_mode=xyz").status_code == 422


def test_a_page_past_the_end_shows_the_last_page_and_says_so(app, client):
    app.extensions["tickettracker"].loaded.config["list"]["page_size"] = 2
    for n in range(5):
        client.post("/api/v1/tickets", json={"title": f"Ticket number {n}"})
    html = client.get("/?page=999").get_data(as_text=True)
    assert "There is no page 999: the list has 3. Showing the last page." in html
    assert "Page 3 of 3" in html and "Ticket number 0" in html
    assert 'rel="prev"' in html and 'rel="next"' not in html
    html = client.get("/?page=abc").get_data(as_text=True)
    assert "page must be a whole number of 1 or more, not &#39;abc&#39;" in html
    assert "Page 1 of 3" in html
    # The API keeps its empty page, with the right total.
    body = client.get("/api/v1/tickets?page=999&per_page=2").get_json()
    assert body["items"] == [] and body["total"] == 5 and body["page"] == 999


# --- 6. ticket files on Closed and Cancelled tickets ---------------------------------------


def _multipart(name: str, data: bytes) -> dict:
    return {"file": [(io.BytesIO(data), name, "text/plain")]}


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_a_terminal_ticket_takes_no_more_ticket_files_but_notes_with_files(client, status):
    t = client.post("/api/v1/tickets", json={"title": "Finished"}).get_json()
    tid = t["id"]
    assert client.patch(f"/api/v1/tickets/{tid}", json={"status": status}).status_code == 200
    resp = client.post(
        f"/api/v1/tickets/{tid}/attachments",
        data=_multipart("late.txt", b"late"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 409
    body = resp.get_json()
    assert f"This ticket is {status}" in body["error"] and "note" in body["error"]
    assert client.get(f"/api/v1/tickets/{tid}/attachments").get_json()["items"] == []

    page = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert f"/tickets/{tid}/attachments" not in page  # no Files upload form
    assert 'data-dropzone="ticket"' not in page
    assert f"This ticket is {status}, so its files no longer change" in page
    resp = client.post(
        f"/tickets/{tid}/attachments",
        data=_multipart("late.txt", b"late"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 409
    assert "so files can no longer be attached" in resp.get_data(as_text=True)

    resp = client.post(
        f"/api/v1/tickets/{tid}/updates",
        data={"body": "Receipt for the record", **_multipart("receipt.txt", b"paid")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201
    assert [a["filename"] for a in resp.get_json()["attachments"]] == ["receipt.txt"]


def test_an_open_ticket_page_still_offers_the_files_form(client):
    tid = client.post("/api/v1/tickets", json={"title": "Open"}).get_json()["id"]
    page = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert f'action="/tickets/{tid}/attachments"' in page
    assert 'data-dropzone="ticket"' in page


# A JSON "\ud800" escape with no partner decodes to a lone surrogate: no character at all,
# and SQLite cannot store it as UTF-8. Scripts and hand-edited files can send one.
SURROGATE = "\ud800"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/tickets", {"title": f"lone {SURROGATE}"}, "title"),
        ("POST", "/api/v1/tickets", {"title": "t", "description": f"x{SURROGATE}"}, "description"),
        ("POST", "/api/v1/tickets", {"title": "t", "requester": f"x{SURROGATE}"}, "requester"),
        ("POST", "/api/v1/tickets", {"title": "t", "tags": [f"x{SURROGATE}"]}, "tags"),
        ("POST", "/api/v1/tickets", {"title": "t", "watchers": [f"x{SURROGATE}"]}, "watchers"),
        (
            "POST",
            "/api/v1/tickets",
            {"title": "t", "links": [{"url": f"https://e.org/{SURROGATE}", "title": ""}]},
            "links",
        ),
        (
            "POST",
            "/api/v1/tickets",
            {"title": "t", "links": [{"url": "https://e.org/", "title": f"x{SURROGATE}"}]},
            "links",
        ),
        ("PATCH", "/api/v1/tickets/1", {"notes": f"x{SURROGATE}"}, "notes"),
        ("PATCH", "/api/v1/tickets/1", {"note": f"x{SURROGATE}"}, "note"),
        (
            "PATCH",
            "/api/v1/tickets/1",
            {"status": "on_hold", "hold_reason": f"x{SURROGATE}"},
            "hold_reason",
        ),
        ("POST", "/api/v1/tickets/1/updates", {"body": f"x{SURROGATE}"}, "body"),
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_field(client, method, path, body, field):
    assert client.post("/api/v1/tickets", json={"title": "Existing"}).status_code == 201
    resp = client.open(path, method=method, json=body)
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)
    error = resp.get_json()
    assert error["field"] == field
    assert "broken character" in error["error"]
    assert client.get("/api/v1/tickets/1").get_json()["title"] == "Existing"


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("2026-W50", "is not a date we understand. Use YYYY-MM-DD"),
        ("2026-344", "is not a date we understand"),
        ("20261210", "is not a date we understand"),
        ("2026-02-30", "there is no day 30 in February 2026 (it has 28 days)"),
        ("2025-02-29 10:00", "there is no day 29 in February 2025"),
        ("2026-13-01", "has no month 13"),
        ("99999-01-01", "The year 99999 looks like a typing mistake"),
        ("2026-12-10 24:30", "has no such time of day: use 00:00 to 23:59"),
    ],
)
def test_a_due_date_that_is_no_day_says_what_is_wrong(typed, words):
    with pytest.raises(ValidationError, match=re.escape(words)) as info:
        fields.parse_due(typed, dt.timezone.utc)
    assert info.value.field == "due"


@pytest.mark.parametrize(
    ("typed", "day", "moment"),
    [
        ("2024-02-29", dt.date(2024, 2, 29), dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)),
        ("2026-12-10 17:00", None, dt.datetime(2026, 12, 10, 17, 0, tzinfo=dt.timezone.utc)),
        ("2026-12-10T17:00Z", None, dt.datetime(2026, 12, 10, 17, 0, tzinfo=dt.timezone.utc)),
        (
            "2026-12-10T17:00:05+01:00",
            None,
            dt.datetime(2026, 12, 10, 16, 0, 5, tzinfo=dt.timezone.utc),
        ),
    ],
)
def test_due_dates_in_the_forms_we_document_are_read(typed, day, moment):
    assert fields.parse_due(typed, dt.timezone.utc) == (day, moment)
