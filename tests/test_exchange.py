"""Export and import (issue 8): the JSON round trip is exact, CSV suits spreadsheets and
other trackers, and a file with problems is reported in full and imports nothing."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tickettracker import export, importing
from tickettracker.models import Attachment, Ticket, Update
from tickettracker.web import create_app

from . import richdata
from .conftest import REPO_ROOT

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def state(app):
    return app.extensions["tickettracker"]


@pytest.fixture
def rich(app):
    st = state(app)
    with st.write_sessions() as session:
        ids = richdata.build(session, st.config, st.data_dir)
        session.commit()
    return ids


@pytest.fixture
def other(tmp_path):
    app = create_app(tmp_path / "other", {"TESTING": True})
    yield app
    state(app).engine.dispose()


def export_doc(app) -> dict:
    buf = io.StringIO()
    with state(app).read_sessions() as session:
        export.write_json(session, buf, now=NOW, revision="0001_core")
    return json.loads(buf.getvalue())


def import_doc(app, doc: dict, **kwargs) -> importing.ImportReport:
    st = state(app)
    with st.write_sessions() as session:
        try:
            report = importing.import_json(session, doc, uploads=st.data_dir / "uploads", **kwargs)
        except importing.ImportRefused:
            session.rollback()
            raise
        session.commit()
    return report


def count(app, model=Ticket) -> int:
    with state(app).read_sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def api_ticket(app, ticket_id: int) -> dict:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {state(app).token}"
    data = client.get(f"/api/v1/tickets/{ticket_id}").get_json()
    data.pop("sla", None)  # computed from the clock at request time
    return data


# --- JSON ------------------------------------------------------------------------------------


def test_the_fixture_is_rich(app, rich):
    doc = export_doc(app)
    tickets = doc["tickets"]
    assert len(tickets) == 5
    first = tickets[0]
    assert first["hold_seconds"] == 24.25 * 3600 and first["due_date"] == "2026-02-10"
    assert {u["kind"] for u in first["updates"]} == {"status", "note", "change", "attachment"}
    assert any(u["links"] for u in first["updates"]) and first["links"]
    assert len(first["attachments"]) == 3 and first["attachments"][2]["removed_at"]
    assert first["attachments"][0]["update_id"] == first["updates"][-1]["id"]
    assert tickets[1]["status"] == "closed" and tickets[1]["due_date"] is None
    assert tickets[1]["created_at"] == "2025-12-31T23:59:59.999999+00:00"


def test_json_round_trip_is_exact(app, rich, other, tmp_path):
    path = tmp_path / "export.json"
    with path.open("w", encoding="utf-8") as fh, state(app).read_sessions() as session:
        assert export.write_json(session, fh, now=NOW, revision="0001_core") == 5
    doc = json.loads(path.read_text(encoding="utf-8"))

    report = import_doc(other, doc, file_sources=[state(app).data_dir])
    assert (report.tickets, report.attachments) == (5, 3)
    assert report.notes == []
    assert export_doc(other) == doc
    for ticket_id in rich:
        assert api_ticket(other, ticket_id) == api_ticket(app, ticket_id)
    # The bytes came along, and the imported text is searchable.
    for att in doc["tickets"][0]["attachments"]:
        sha = att["sha256"]
        copied = state(other).data_dir / "uploads" / sha[:2] / sha
        assert copied.read_bytes() == (state(app).data_dir / "uploads" / sha[:2] / sha).read_bytes()
    client = other.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {state(other).token}"
    found = client.get("/api/v1/tickets?q=roller").get_json()
    assert [t["id"] for t in found["items"]] == [rich[0]]


def test_importing_beside_existing_tickets_gives_new_ids_in_the_same_order(app, rich):
    doc = export_doc(app)
    report = import_doc(app, copy.deepcopy(doc), allow_duplicates=True)
    assert report.tickets == 5 and count(app) == 10
    assert "new ids" in report.notes[0]
    again = {t["id"]: t for t in export_doc(app)["tickets"]}
    for old in doc["tickets"]:
        new = again[report.ids[old["id"]]]
        assert new["id"] != old["id"]
        assert [u["created_at"] for u in new["updates"]] == [
            u["created_at"] for u in old["updates"]
        ]
        assert [u["id"] for u in new["updates"]] == sorted(u["id"] for u in new["updates"])
        new_updates = {u["id"]: i for i, u in enumerate(new["updates"])}
        old_updates = {u["id"]: i for i, u in enumerate(old["updates"])}
        for a_old, a_new in zip(old["attachments"], new["attachments"], strict=True):
            if a_old["update_id"] is not None:
                assert new_updates[a_new["update_id"]] == old_updates[a_old["update_id"]]
        for record in (old, new):
            record.pop("id")
            for item in record["updates"] + record["attachments"]:
                item.pop("id")
                item.pop("update_id", None)
        assert new == old


def test_json_problems_are_all_reported_and_nothing_is_imported(app, rich, other):
    doc = export_doc(app)
    doc["tickets"][1]["status"] = "sleeping"
    doc["tickets"][2]["created_at"] = "2026-01-01T10:00:00"
    doc["tickets"][3]["colour"] = "blue"
    doc["tickets"][3]["updates"][1]["id"] = doc["tickets"][3]["updates"][0]["id"]
    doc["tickets"][0]["attachments"][0]["update_id"] = 99999
    doc["tickets"][0]["links"].append({"url": "javascript:alert(1)", "title": "x"})
    del doc["tickets"][4]["title"]

    with pytest.raises(importing.ImportRefused) as info:
        import_doc(other, doc, file_sources=[state(app).data_dir])
    found = {(p.where.split(" (")[0], p.field) for p in info.value.report.problems}
    assert found == {
        ("ticket 2", "status"),
        ("ticket 3", "created_at"),
        ("ticket 4", "colour"),
        ("ticket 4", "id"),
        ("ticket 1", "update_id"),
        ("ticket 1", "links"),
        ("ticket 5", "title"),
    }
    text_ = "\n".join(str(p) for p in info.value.report.problems)
    assert "ticket 3 (id 3): created_at: needs a UTC offset" in text_
    assert "ticket 4 (id 4), update 2: id: update id" in text_
    assert count(other) == 0


def test_attachment_bytes_must_be_found_or_left_out_on_purpose(app, rich, other):
    doc = export_doc(app)
    with pytest.raises(importing.ImportRefused) as info:
        import_doc(other, doc)
    assert "--files" in str(info.value.report.problems[0])
    assert count(other) == 0

    report = import_doc(other, doc, without_missing_files=True)
    assert report.attachments == 0 and count(other, Attachment) == 0
    assert "Left out 2 attachments" in report.notes[0]
    assert count(other, Update) == sum(len(t["updates"]) for t in doc["tickets"])


def test_an_export_from_a_newer_app_is_refused(app, rich, other):
    doc = export_doc(app)
    doc["schema"] = "9999_future"
    with pytest.raises(importing.ImportRefused, match="1 problem"):
        import_doc(other, doc)


def test_every_column_is_exported():
    """A column added to models.py is exported and imported without being listed anywhere;
    this fails if someone adds a relation-like column that needs handling by hand."""
    for model, skip in (
        (Ticket, set()),
        (Update, export.RELATION_COLUMNS["updates"]),
        (Attachment, export.RELATION_COLUMNS["attachments"]),
    ):
        for column in model.__table__.columns:
            if column.name in skip:
                continue
            assert not column.foreign_keys or model is Attachment, (
                f"{model.__tablename__}.{column.name} points at another table: decide how "
                "export.py and importing.py carry it"
            )


# --- CSV -------------------------------------------------------------------------------------


def test_csv_export_suits_spreadsheets_and_imports_back(app, rich, other, tmp_path):
    path = tmp_path / "tickets.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh, state(app).read_sessions() as s:
        assert export.write_csv(s, fh) == 5
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheets recognise UTF-8 by this mark
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    first = rows[0]
    assert first["notes"] == "'=SUM(A1:A3) looks like a formula"  # no formula runs
    assert first["description"] == "Line one\nLine two\n\n  indented, trailing space "
    assert first["watchers"] == "Bo, Dana" and first["tags"] == "Hardware"
    assert first["attachments"] == "jam.png\nprinter log (copy).txt"
    assert rows[1]["due"] == "2026-01-20T16:30:00+00:00"

    with (
        state(other).write_sessions() as session,
        path.open(encoding="utf-8-sig", newline="") as fh,
    ):
        report = importing.import_csv(session, fh, config=state(other).config, now=NOW)
        session.commit()
    assert report.tickets == 5
    assert "id, attachments, updated_at" in report.notes[0]
    keys = ("title", "description", "notes", "requester", "watchers", "priority", "status")
    for old_id, new_id in zip(rich, sorted(report.ids.values()), strict=True):
        old, new = api_ticket(app, old_id), api_ticket(other, new_id)
        assert {k: new[k] for k in keys} == {k: old[k] for k in keys}
        for k in ("tags", "links", "due", "created_at", "hold_reason"):
            assert new[k] == old[k], k
        assert new["updates"][0]["created_at"] == old["created_at"]


CSV_FROM_ELSEWHERE = """\
Title,Description,Requester,Watchers,Priority,Status,Due,Tags,Created At,Component
Mail is slow,"Since Monday,
all users",Ana,Bo; Chidi,High,In Progress,2026-02-01,"mail, server",2024-03-01 10:00,Exchange
Badge reader,,Dana,,,Open,2026-02-03 09:00,,2024-03-02,Doors
Toner,,,,low,resolved,,,2024-03-03T08:00:00Z,
,,,,,,,,,
Old thing,,,,,On Hold,,,,
"""


def test_csv_from_another_tracker_is_understood(other):
    st = state(other)
    data = CSV_FROM_ELSEWHERE.replace("Old thing,,,,,On Hold,,,,\n", "")
    with st.write_sessions() as session:
        report = importing.import_csv(
            session, io.StringIO(data), config=st.config, now=NOW, tz=richdata.BERLIN
        )
        session.commit()
    assert report.tickets == 3
    assert report.notes == ["Columns not imported: Component."]
    mail, badge, toner = (api_ticket(other, i) for i in sorted(report.ids.values()))
    assert mail["description"] == "Since Monday,\nall users"
    assert mail["watchers"] == ["Bo", "Chidi"] and mail["tags"] == ["mail", "server"]
    assert (mail["priority"], mail["status"], mail["due"]) == ("high", "in_progress", "2026-02-01")
    assert mail["created_at"] == "2024-03-01T09:00:00+00:00"  # 10:00 in Berlin
    assert mail["updates"][0]["created_at"] == mail["created_at"]
    assert badge["priority"] == "normal" and badge["due"] == "2026-02-03T08:00:00+00:00"
    assert badge["created_at"] == "2024-03-01T23:00:00+00:00"  # midnight in Berlin
    assert (toner["status"], toner["created_at"]) == ("resolved", "2024-03-03T08:00:00+00:00")


BAD_CSV = """\
title,description,priority,due,created_at
Good one,,high,2026-02-01,
Bad date,,normal,2026-02-31,
Multi-line,"description
is fine",low,,
Unknown priority,,critical,,
,no title here,normal,,
Bad created,,normal,,yesterday
On hold without reason,,normal,,
Also good,,,,2026-01-01T00:00:00+00:00
"""


def test_csv_bad_rows_are_all_reported_by_line_and_nothing_is_imported(other):
    st = state(other)
    with st.write_sessions() as session:
        with pytest.raises(importing.ImportRefused) as info:
            importing.import_csv(session, io.StringIO(BAD_CSV), config=st.config, now=NOW)
        session.rollback()
    problems = [(p.where, p.field) for p in info.value.report.problems]
    assert problems == [
        ("line 3", "due"),
        ("line 6", "priority"),
        ("line 7", "title"),
        ("line 8", "created_at"),
    ]
    messages = [str(p) for p in info.value.report.problems]
    assert "'2026-02-31': there is no day 31 in February 2026" in messages[0]
    assert "Unknown priority 'critical'. Use one of: urgent, high, normal, low" in messages[1]
    assert "needs a title" in messages[2]
    assert "'yesterday' is not a date and time" in messages[3]
    assert count(other) == 0 and count(other, Update) == 0
    with st.read_sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM ticket_fts")) == 0


def test_csv_header_without_title_is_refused(other):
    st = state(other)
    with st.write_sessions() as session, pytest.raises(importing.ImportRefused) as info:
        importing.import_csv(session, io.StringIO("name,priority\nx,high\n"), config=st.config)
    assert str(info.value.report.problems[0]).startswith("line 1: title: The header row has no")


def test_on_hold_rows_need_a_reason_column(other):
    st = state(other)
    data = "title,status\nWaiting,On Hold\n"
    with st.write_sessions() as session, pytest.raises(importing.ImportRefused) as info:
        importing.import_csv(session, io.StringIO(data), config=st.config)
    assert "add a hold_reason column" in str(info.value.report.problems[0])
    data = "title,status,hold_reason\nWaiting,On Hold,Waiting on vendor\n"
    with st.write_sessions() as session:
        importing.import_csv(session, io.StringIO(data), config=st.config)
        session.commit()
    assert api_ticket(other, 1)["hold_reason"] == "Waiting on vendor"


# --- the commands ----------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tickettracker", *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.mark.process
def test_export_and_import_commands(app, rich, tmp_path):
    data = state(app).data_dir
    state(app).engine.dispose()
    out = run_cli("export", str(tmp_path / "all.json"), "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"Exported 5 tickets to {tmp_path / 'all.json'}."
    csv_out = run_cli("--data-dir", str(data), "export", "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("id,title,")

    target = tmp_path / "new"
    out = run_cli("import", str(tmp_path / "all.json"), "--data-dir", str(target))
    assert out.returncode == 1 and "--files" in out.stderr
    assert "nothing was imported" in out.stderr
    out = run_cli(
        "import", str(tmp_path / "all.json"), "--files", str(data), "--data-dir", str(target)
    )
    assert out.returncode == 0, out.stderr
    assert "Imported 5 tickets (" in out.stdout
    again = run_cli("export", "--data-dir", str(target))
    first = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    second = json.loads(again.stdout)
    first.pop("exported_at"), second.pop("exported_at")
    assert second == first

    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")
    out = run_cli("import", str(bad), "--data-dir", str(target))
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert [line.split(":")[0] for line in lines[:4]] == ["line 3", "line 6", "line 7", "line 8"]
    assert lines[-1] == "tickettracker: 4 problems found; nothing was imported."
    assert "Traceback" not in out.stderr
    assert len(json.loads(run_cli("export", "--data-dir", str(target)).stdout)["tickets"]) == 5


def test_import_path_errors_are_plain(tmp_path):
    missing = tmp_path / "nope.csv"
    assert importing.CSV_FIELDS[0] == "title"
    from tickettracker import cli

    assert cli.main(["import", str(missing), "--data-dir", str(tmp_path / "d")]) == 2
    assert not Path(tmp_path / "d" / "tickettracker.db").exists()


def test_a_broken_character_in_a_json_file_is_reported_not_a_crash(app, rich, tmp_path):
    doc = export_doc(app)
    doc["tickets"][1]["title"] = "Surrogate \ud800 ticket"
    doc["tickets"][2]["updates"][0]["body"] = "half a pair \udc80"
    # As a hand-edited file holds it: the JSON escape, which Python reads as a lone surrogate.
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert "\\ud800" in path.read_text(encoding="utf-8")
    data = state(app).data_dir
    state(app).engine.dispose()
    target = tmp_path / "new"
    out = run_cli("import", str(path), "--files", str(data), "--data-dir", str(target))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "ticket 2 (id 2): title: contains a broken character" in out.stderr
    assert "ticket 3 (id 3): updates: contains a broken character" in out.stderr
    assert out.stderr.splitlines()[-1] == "tickettracker: 2 problems found; nothing was imported."


def test_a_csv_row_with_several_problems_reports_each(other):
    st = state(other)
    rows = f"title,due,tags\nTwo wrongs,2026-13-01,{'t' * 101}\n"
    with st.write_sessions() as session:
        with pytest.raises(importing.ImportRefused) as info:
            importing.import_csv(session, io.StringIO(rows), config=st.config, now=NOW)
        session.rollback()
    problems = [(p.where, p.field) for p in info.value.report.problems]
    assert problems == [("line 2", "tags"), ("line 2", "due")]
    assert count(other) == 0
