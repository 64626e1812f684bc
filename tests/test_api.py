"""The JSON API through the Flask test client: each endpoint and each error case."""

from __future__ import annotations


def create(client, **data):
    data.setdefault("title", "Laptop will not boot")
    resp = client.post("/api/v1/tickets", json=data)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_read_list(client):
    t = create(client, requester="Ann", tags=["laptop"], due="2026-12-10")
    assert t["title"] == "Laptop will not boot"
    assert t["status"] == "open" and t["priority"] == "normal"
    assert t["due"] == "2026-12-10"
    got = client.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["updates"][0]["kind"] == "status"
    assert got["updates"][0]["changes"] == [{"field": "status", "old": None, "new": "open"}]
    listing = client.get("/api/v1/tickets").get_json()
    assert listing["total"] == 1 and listing["page"] == 1
    assert listing["items"][0]["id"] == t["id"]


def test_patch_status_and_fields(client):
    t = create(client)
    resp = client.patch(
        f"/api/v1/tickets/{t['id']}",
        json={"status": "on_hold", "hold_reason": "Waiting on vendor", "priority": "urgent"},
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "on_hold" and body["hold_reason"] == "Waiting on vendor"
    assert body["updates"][-1]["changes"][-1] == {
        "field": "priority",
        "old": "normal",
        "new": "urgent",
    }


def test_add_update(client):
    t = create(client)
    resp = client.post(
        f"/api/v1/tickets/{t['id']}/updates",
        json={"body": "Replaced the battery", "links": [{"url": "https://example.com/rma"}]},
    )
    assert resp.status_code == 201
    assert resp.get_json()["kind"] == "note"
    assert resp.get_json()["links"] == [{"url": "https://example.com/rma", "title": ""}]


def test_validation_errors_name_the_field(client):
    cases = [
        ({"title": ""}, "title"),
        ({"title": "x", "priority": "nope"}, "priority"),
        ({"title": "x", "due": "31/12/2026"}, "due"),
        ({"title": "x", "links": [{"url": "javascript:alert(1)"}]}, "links"),
        ({"title": "x", "status": "on_hold"}, "hold_reason"),
        ({"title": "x", "created_at": "yesterday"}, "created_at"),
    ]
    for data, field in cases:
        resp = client.post("/api/v1/tickets", json=data)
        assert resp.status_code == 422, data
        assert resp.get_json()["field"] == field
        assert resp.get_json()["error"]


def test_not_json_is_400_with_message(client):
    resp = client.post("/api/v1/tickets", data="title=x")
    assert resp.status_code == 422
    assert "JSON" in resp.get_json()["error"]


def test_unknown_ticket_is_404(client):
    for resp in (
        client.get("/api/v1/tickets/999"),
        client.patch("/api/v1/tickets/999", json={"title": "x"}),
        client.post("/api/v1/tickets/999/updates", json={"body": "x"}),
    ):
        assert resp.status_code == 404
        assert "999" in resp.get_json()["error"]


def test_terminal_transition_is_409(client):
    t = create(client)
    assert (
        client.patch(f"/api/v1/tickets/{t['id']}", json={"status": "cancelled"}).status_code == 200
    )
    resp = client.patch(f"/api/v1/tickets/{t['id']}", json={"status": "open"})
    assert resp.status_code == 409
    assert resp.get_json()["field"] == "status"
    assert "cancelled" in resp.get_json()["error"].lower()


def test_nothing_saved_on_error(client):
    t = create(client, requester="Ann")
    resp = client.patch(
        f"/api/v1/tickets/{t['id']}", json={"requester": "Bob", "due": "not a date"}
    )
    assert resp.status_code == 422
    got = client.get(f"/api/v1/tickets/{t['id']}").get_json()
    assert got["requester"] == "Ann" and len(got["updates"]) == 1


def test_no_token_is_401(app):
    resp = app.test_client().get("/api/v1/tickets")
    assert resp.status_code == 401
    assert "error" in resp.get_json()


def test_status_filter_on_list(client):
    a = create(client, title="A")
    create(client, title="B")
    client.patch(f"/api/v1/tickets/{a['id']}", json={"status": "closed"})
    default = client.get("/api/v1/tickets").get_json()
    assert [t["title"] for t in default["items"]] == ["B"]
    closed = client.get("/api/v1/tickets?status=closed").get_json()
    assert [t["title"] for t in closed["items"]] == ["A"]
    assert client.get("/api/v1/tickets?status=done").status_code == 422


def test_a_list_item_is_the_ticket_as_read_alone(client):
    """The list reads tickets in bulk; each item must still say what GET /tickets/<id> says."""
    import io

    plain = create(client, title="Mouse missing")
    full = create(
        client,
        title="Projector flickers",
        requester="Ann",
        watchers=["Zoe", "Bob", "Émile"],
        tags=["room-3", "AV", "hardware"],
        links=[{"url": "https://example.org/manual", "title": "Manual"}, "https://example.org/b"],
        due="2026-12-10T15:30:00+01:00",
        description="Flickers at 60 Hz",
        notes="Try another cable",
    )
    tid = full["id"]
    client.post(
        f"/api/v1/tickets/{tid}/updates",
        json={"body": "Vendor called", "links": ["https://example.org/case/1"]},
    )
    kept, gone = (
        client.post(
            f"/api/v1/tickets/{tid}/attachments",
            data={"file": [(io.BytesIO(data), name, "text/plain")]},
            content_type="multipart/form-data",
        ).get_json()["attachments"][0]["id"]
        for name, data in (("log.txt", b"kept"), ("old.txt", b"gone"))
    )
    assert client.delete(f"/api/v1/attachments/{gone}").status_code == 200

    items = {t["id"]: t for t in client.get("/api/v1/tickets").get_json()["items"]}
    for ticket_id in (plain["id"], tid):
        alone = client.get(f"/api/v1/tickets/{ticket_id}").get_json()
        alone.pop("updates")
        assert items[ticket_id] == alone
    item = items[tid]
    assert item["watchers"] == ["Zoe", "Bob", "Émile"]
    assert item["tags"] == ["AV", "hardware", "room-3"]
    assert [link["title"] for link in item["links"]] == ["Manual", ""]
    assert [a["id"] for a in item["attachments"]] == [kept]
