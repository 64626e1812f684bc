"""HTML pages through the test client: forms keep input and say what to fix."""

from __future__ import annotations


def test_empty_list_offers_new_ticket(client):
    html = client.get("/").get_data(as_text=True)
    assert "No tickets yet" in html
    assert 'href="/tickets/new"' in html


def test_create_through_form_redirects_to_ticket(client):
    resp = client.post(
        "/tickets/new",
        data={"title": "Wi-Fi drops", "requester": "Ann", "due_day": "2026-12-10", "tags": "net"},
    )
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Wi-Fi drops" in page and "Ann" in page and "2026-12-10" in page
    assert "Wi-Fi drops" in client.get("/").get_data(as_text=True)


def test_invalid_form_keeps_input_and_names_the_problem(client):
    resp = client.post(
        "/tickets/new",
        data={"title": "", "requester": "Ann Example", "description": "keep me", "due_day": ""},
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "needs a title" in html
    assert 'value="Ann Example"' in html and "keep me" in html


def test_time_without_day_is_explained(client):
    resp = client.post("/tickets/new", data={"title": "x", "due_time": "10:00"})
    assert resp.status_code == 422
    assert "Pick a day" in resp.get_data(as_text=True)


def test_hold_without_reason_is_explained_on_the_ticket_page(client):
    client.post("/tickets/new", data={"title": "Needs parts"})
    resp = client.post("/tickets/1/status", data={"status": "on_hold", "note": "waiting"})
    assert resp.status_code == 422
    assert "needs a reason" in resp.get_data(as_text=True)


def test_unknown_ticket_page_is_404(client):
    resp = client.get("/tickets/42")
    assert resp.status_code == 404
    assert "no ticket #42" in resp.get_data(as_text=True)


def test_token_link_sets_cookie_and_redirects(app):
    client = app.test_client()
    token = app.extensions["tickettracker"].token
    resp = client.get(f"/?token={token}")
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/").status_code == 200


def test_wrong_token_refused(app):
    client = app.test_client()
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/").status_code == 401


def _log_entries(html: str) -> list[str]:
    """The update log's entries, as HTML, in page order."""
    log = html.split('<ol class="entries">', 1)[1].split("</ol>", 1)[0]
    return [part.split("</li>\n    ", 1)[0] for part in log.split('<li class="entry')[1:]]


def test_each_log_entry_shows_its_own_changes_links_and_files(client):
    import io

    resp = client.post("/tickets/new", data={"title": "Printer jams", "tags": "printer"})
    tid = int(resp.headers["Location"].rsplit("/", 1)[1])
    client.post(
        f"/tickets/{tid}/notes",
        data={
            "body": "Called the vendor",
            "links": "https://example.org/runbook Vendor runbook",
            "file": [(io.BytesIO(b"%PDF-1.4"), "quote.pdf")],
        },
        content_type="multipart/form-data",
    )
    client.post(f"/tickets/{tid}/status", data={"status": "in_progress", "note": ""})
    client.post(
        f"/tickets/{tid}/notes",
        data={"body": "Part ordered", "links": "https://example.org/order Order 17"},
        content_type="multipart/form-data",
    )

    entries = _log_entries(client.get(f"/tickets/{tid}").get_data(as_text=True))
    assert len(entries) == 4
    created, note, status, second = entries
    assert "Created as" in created and "Open" in created
    assert "Called the vendor" in note and "Vendor runbook" in note and "quote.pdf" in note
    assert "Order 17" not in note
    assert "Status:" in status and "In Progress" in status and "quote.pdf" not in status
    assert "Part ordered" in second and "Order 17" in second and "Vendor runbook" not in second

    newest = _log_entries(client.get(f"/tickets/{tid}?log=newest").get_data(as_text=True))
    assert newest == list(reversed(entries))


def test_edit_address_of_a_closed_ticket_shows_the_ticket_and_why(client):
    resp = client.post("/tickets/new", data={"title": "Old laptop"})
    ticket_path = resp.headers["Location"]
    client.post(f"{ticket_path}/status", data={"status": "closed"})
    resp = client.get(f"{ticket_path}/edit")
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "This ticket is closed: its fields can no longer be edited" in html
    assert "Save changes" not in html  # no form whose Save could only be refused
    assert "Add note" in html  # notes are still welcome


def test_a_refused_status_change_keeps_the_reason_and_note_typed(client):
    client.post("/tickets/new", data={"title": "Printer jams"})
    # A custom reason over the limit: the form comes back as typed, the problem beside it.
    long_reason = "Waiting for the landlord " + "x" * 500
    resp = client.post(
        "/tickets/1/status",
        data={"status": "on_hold", "hold_reason_custom": long_reason, "note": "called twice"},
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'value="{long_reason}"' in html
    assert "called twice</textarea>" in html
    assert 'id="hold_reason-error"' in html
    assert '<option value="on_hold" selected>' in html

    # A preset reason with a note that cannot be saved: the reason stays chosen, and the
    # note's problem is said next to the note.
    resp = client.post(
        "/tickets/1/status",
        data={"status": "on_hold", "hold_reason": "Waiting on vendor", "note": "bad\x00note"},
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert '<option value="Waiting on vendor" selected>' in html
    assert 'id="note-error"' in html
    assert "bad" in html.split('id="status_note"', 1)[1].split("</textarea>", 1)[0]


def test_a_hold_reason_taken_out_of_the_config_still_shows_on_its_tickets(data_dir):
    import json

    from tickettracker.web import create_app

    def started():
        app = create_app(data_dir, {"TESTING": True})
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = (
            "Bearer " + app.extensions["tickettracker"].token
        )
        return app, client

    app, client = started()
    client.post("/tickets/new", data={"title": "Replace fan"})
    resp = client.post(
        "/tickets/1/status", data={"status": "on_hold", "hold_reason": "Waiting on parts"}
    )
    assert resp.status_code == 303
    app.extensions["tickettracker"].engine.dispose()

    (data_dir / "config.json").write_text(json.dumps({"hold_reasons": ["Waiting on the moon"]}))
    app, client = started()
    try:
        page = client.get("/tickets/1").get_data(as_text=True)
        assert "Waiting on parts" in page.split('id="hold_reason"', 1)[0]  # shown, not offered
        assert '<option value="Waiting on the moon">' in page
        assert "Waiting on parts" in client.get("/").get_data(as_text=True)
        assert client.get("/api/v1/tickets/1").get_json()["hold_reason"] == "Waiting on parts"
    finally:
        app.extensions["tickettracker"].engine.dispose()


def test_a_form_with_several_problems_says_them_all_at_once(client):
    resp = client.post(
        "/tickets/new",
        data={
            "title": "Keep me",
            "description": "d" * 100_001,
            "tags": "t" * 101,
            "due_day": "2026-02-30",
        },
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "(2 more problems, marked below)" in html
    for field in ("description", "tags", "due"):
        assert f'id="{field}-error"' in html, field
    assert "there is no day 30 in February 2026" in html
    assert 'value="Keep me"' in html


def test_the_api_lists_every_problem_and_names_the_first(client):
    resp = client.post("/api/v1/tickets", json={"title": "", "tags": ["x" * 101], "due": "soon"})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["field"] == "title"
    assert [e["field"] for e in body["errors"]] == ["title", "tags", "due"]
    assert body["errors"][0]["error"] == body["error"]
    # A single problem keeps the short form.
    single = client.post("/api/v1/tickets", json={"title": ""}).get_json()
    assert set(single) == {"error", "field"}


def _stamp(html: str) -> str:
    import re

    return re.search(r'name="ticket_created" value="([^"]+)"', html).group(1)


def test_a_page_opened_before_a_restore_does_not_save_onto_the_ticket_now_under_its_number(
    client,
):
    empty = client.post("/api/v1/backups").get_json()["name"]
    client.post("/tickets/new", data={"title": "Alpha"})
    alpha_page = client.get("/tickets/1").get_data(as_text=True)
    stamp = _stamp(alpha_page)
    assert client.post(f"/api/v1/backups/{empty}/restore").status_code == 200
    client.post("/tickets/new", data={"title": "Beta"})  # number 1 again
    assert client.get("/api/v1/tickets/1").get_json()["title"] == "Beta"

    resp = client.post("/tickets/1/notes", data={"body": "For Alpha only", "ticket_created": stamp})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "Ticket #1 is now a different ticket (&#39;Beta&#39;)" in html
    assert "Nothing was saved" in html and ">For Alpha only</textarea>" in html
    for path, data in [
        ("/tickets/1/status", {"status": "resolved", "note": ""}),
        ("/tickets/1/edit", {"title": "Alpha renamed"}),
    ]:
        assert client.post(path, data={**data, "ticket_created": stamp}).status_code == 409, path
    beta = client.get("/api/v1/tickets/1").get_json()
    assert beta["title"] == "Beta" and beta["status"] == "open"
    assert [u["body"] for u in beta["updates"] if u["body"]] == []

    # The page as it is now carries the new ticket's stamp, and saves.
    fresh = _stamp(client.get("/tickets/1").get_data(as_text=True))
    assert fresh != stamp
    ok = client.post("/tickets/1/notes", data={"body": "For Beta", "ticket_created": fresh})
    assert ok.status_code == 303
