"""Attachment storage and services on a real uploads folder and SQLite file (issue 6)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from tickettracker import attachments, search, tickets
from tickettracker.attachments import UploadStore
from tickettracker.config import load_defaults
from tickettracker.errors import Conflict, StorageFailed, TooLarge, ValidationError
from tickettracker.models import Attachment

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T1 = T0 + dt.timedelta(hours=1)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)

NAMES = [
    "报告 2026年第一季度.pdf",
    "تقرير الصيانة.docx",
    "🎉 party 🥳.png.txt",
    "../../etc/passwd",
    '"quoted" it\'s; name=x.txt',
    "a" * 300 + ".log",
    "README",
    "...",
    ".",
    "  spaced  name  .txt",
]


@pytest.fixture
def store(tmp_path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", 1024 * 1024)


def receive(store: UploadStore, name: str, data: bytes, content_type: str | None = None):
    incoming = store.receive(name, content_type)
    for start in range(0, len(data), 7000):  # arrives in pieces, as from the network
        incoming.write(data[start : start + 7000])
    incoming.close()
    return incoming


def files_on_disk(store: UploadStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def make_ticket(session):
    return tickets.create_ticket(session, {"title": "Printer jams"}, config=load_defaults(), now=T0)


# --- pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1536, "1.5 KB"),
        (100 * 1024 * 1024, "100 MB"),
        (int(1.25 * 1024**3), "1.2 GB"),
    ],
)
def test_format_size(size, text):
    assert attachments.format_size(size) == text


def test_limit_comes_from_config_with_a_safe_default():
    assert attachments.max_file_bytes(load_defaults()) == 100 * 1024 * 1024
    assert attachments.max_file_bytes({"uploads": {"max_file_mb": 2}}) == 2 * 1024 * 1024
    for broken in ({}, {"uploads": {"max_file_mb": "lots"}}, {"uploads": {"max_file_mb": -1}}):
        assert attachments.max_file_bytes(broken) == 100 * 1024 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_names_are_kept_and_survive_content_disposition(name):
    kept = attachments.clean_filename(name)
    assert kept == name
    header = attachments.content_disposition(kept)
    assert header.startswith("attachment; filename=")
    assert header.isascii() and "\n" not in header and "\r" not in header
    exact = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(exact, errors="strict") == name
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback and "/" not in fallback and "\\" not in fallback


def test_ascii_fallback_is_readable():
    assert 'filename="download.pdf"' in attachments.content_disposition("报告.pdf")
    assert 'filename="Ubersicht.txt"' in attachments.content_disposition("Übersicht.txt")
    assert attachments.content_disposition("x.png", inline=True).startswith("inline;")


def test_browser_escaped_quotes_and_control_characters():
    assert attachments.clean_filename("say %22hi%22.txt") == 'say "hi".txt'
    assert attachments.clean_filename("a\nb\x00c.txt") == "a_b_c.txt"
    assert attachments.clean_filename("   ") == "unnamed file"
    with pytest.raises(ValidationError) as err:
        attachments.clean_filename("x" * 1025)
    assert err.value.field == "file" and "1025 characters" in err.value.message


def test_types_images_only_when_the_bytes_say_so():
    choose = attachments.choose_content_type
    assert choose("image/png", "shot.png", PNG) == "image/png"
    assert choose(None, "no-extension", PNG) == "image/png"  # the bytes decide
    assert choose("image/png", "fake.png", b"<html><script>") == "application/octet-stream"
    assert choose("image/svg+xml", "logo.svg", b"<svg xmlns=") == "image/svg+xml"
    assert choose("", "report.pdf", b"%PDF-1.7") == "application/pdf"
    assert choose("text/plain; charset=utf-8", "notes", b"hello") == "text/plain"
    assert choose("not a type", "blob", b"\x00") == "application/octet-stream"
    assert "image/svg+xml" not in attachments.PREVIEW_TYPES


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("image/png", "image/png"),
        ("application/pdf", "application/pdf"),
    ],
)
def test_active_types_download_as_plain_bytes(stored, sent):
    assert attachments.download_type(stored) == sent


# --- bytes on disk -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", bytes(range(256)) * 40, os.urandom(3 * 1024 * 1024 // 4)],
    ids=["empty", "binary", "random"],
)
def test_round_trip_by_hash(store, data):
    stored = receive(store, "blob.bin", data).store()
    path = store.path_for(stored.sha256)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert path.parent.name == stored.sha256[:2]
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("name", NAMES)
def test_no_name_becomes_a_path(store, name):
    stored = receive(store, name, name.encode()).store()
    assert stored.filename == name
    assert files_on_disk(store) == [store.path_for(stored.sha256)]


def test_same_bytes_are_stored_once(store):
    first = receive(store, "a.txt", b"same bytes").store()
    second = receive(store, "b.txt", b"same bytes").store()
    assert first.sha256 == second.sha256
    assert first.created and not second.created
    assert len(files_on_disk(store)) == 1


def test_too_large_leaves_nothing_while_streaming(store):
    incoming = store.receive("big.iso", "application/octet-stream")
    incoming.write(b"x" * (1024 * 1024))  # exactly the limit: still fine
    assert files_on_disk(store) != []
    incoming.write(b"x")  # one byte over: the partial file goes at once
    assert files_on_disk(store) == []
    incoming.write(b"x" * 5000)
    with pytest.raises(TooLarge) as err:
        incoming.store()
    assert err.value.status == 413 and err.value.field == "file"
    # 1 MB and 5,001 bytes rounds to "1 MB": the exact size is given instead.
    assert "'big.iso' is 1,053,577 bytes, just over 1 MB; files may be at most 1 MB" in (
        err.value.message
    )
    assert "Nothing was saved" in err.value.message
    assert files_on_disk(store) == []


def test_one_refused_file_stores_none_of_the_others(store):
    ok = receive(store, "ok.txt", b"fine")
    big = receive(store, "big.bin", b"y" * (1024 * 1024 + 1))
    with pytest.raises(TooLarge):
        attachments.store_files([ok, big])
    ok.discard()
    assert files_on_disk(store) == []


def test_unwritable_temp_folder_is_a_clear_storage_error(store):
    # A file where the temp folder should be: creating the temp file fails, even for root.
    store.root.mkdir()
    store.tmp_dir.write_text("not a folder")
    incoming = receive(store, "report.pdf", b"%PDF")
    with pytest.raises(StorageFailed) as err:
        incoming.store()
    assert err.value.status == 507
    assert "'report.pdf' could not be saved" in err.value.message
    assert "writable" in err.value.message


def test_failed_rename_leaves_no_temp_file(store):
    data = b"cannot be renamed into place"
    digest = hashlib.sha256(data).hexdigest()
    store.root.mkdir()
    (store.root / digest[:2]).write_text("a file where the folder should be")
    incoming = receive(store, "x.txt", data)
    with pytest.raises(StorageFailed):
        incoming.store()
    assert list(store.tmp_dir.iterdir()) == []


def test_sweep_removes_only_stale_temp_files(store):
    store.tmp_dir.mkdir(parents=True)
    stale = store.tmp_dir / "upload-old.part"
    fresh = store.tmp_dir / "upload-new.part"
    other = store.tmp_dir / "keep.txt"
    for path in (stale, fresh, other):
        path.write_bytes(b"x")
    old = (T0 - dt.timedelta(days=2)).timestamp()
    os.utime(stale, (old, old))
    os.utime(fresh, (T0.timestamp(), T0.timestamp()))
    os.utime(other, (old, old))
    assert store.sweep_temp(T0 + dt.timedelta(minutes=5)) == 1
    assert sorted(p.name for p in store.tmp_dir.iterdir()) == ["keep.txt", "upload-new.part"]


# --- rows and the log ----------------------------------------------------------------------


def test_attach_to_ticket_writes_one_log_entry(session, store):
    ticket = make_ticket(session)
    files = [receive(store, "shot.png", PNG, "image/png"), receive(store, "log.txt", b"boot")]
    entry, rows = attachments.attach_to_ticket(session, ticket.id, files, now=T1)
    session.commit()
    assert entry.kind == "attachment" and entry.body == ""
    assert [c["new"]["filename"] for c in entry.changes] == ["shot.png", "log.txt"]
    assert all(c["field"] == "attachment" and c["old"] is None for c in entry.changes)
    assert [r.update_id for r in rows] == [None, None]  # ticket-level
    assert rows[0].content_type == "image/png" and rows[1].content_type == "text/plain"
    assert ticket.updated_at == T1
    assert [a.filename for a in tickets.get_ticket(session, ticket.id).live_attachments] == [
        "shot.png",
        "log.txt",
    ]


def test_dedup_one_file_two_attachments(session, store):
    ticket = make_ticket(session)
    attachments.attach_to_ticket(session, ticket.id, [receive(store, "a.bin", b"\x00\x01")])
    attachments.attach_to_ticket(session, ticket.id, [receive(store, "b.bin", b"\x00\x01")])
    session.commit()
    rows = session.scalars(select(Attachment)).all()
    assert [r.filename for r in rows] == ["a.bin", "b.bin"]
    assert rows[0].sha256 == rows[1].sha256
    assert len(files_on_disk(store)) == 1


def test_nothing_to_attach_is_explained(session, store):
    ticket = make_ticket(session)
    with pytest.raises(ValidationError) as err:
        attachments.attach_to_ticket(session, ticket.id, [])
    assert err.value.field == "file"


def test_refused_upload_adds_no_row(session, store):
    ticket = make_ticket(session)
    big = receive(store, "big.bin", b"z" * (1024 * 1024 + 10))
    with pytest.raises(TooLarge):
        attachments.attach_to_ticket(session, ticket.id, [big])
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert files_on_disk(store) == []


def test_note_may_be_only_files(session, store):
    ticket = make_ticket(session)
    note = tickets.add_note(
        session, ticket.id, {"body": ""}, files=[receive(store, "a.txt", b"a")], now=T1
    )
    session.commit()
    assert note.kind == "note" and note.body == ""
    assert [a.filename for a in note.attachments] == ["a.txt"]
    assert note.attachments[0].update_id == note.id
    with pytest.raises(ValidationError):
        tickets.add_note(session, ticket.id, {"body": "  "}, files=[])


def test_remove_is_soft_and_logged(session, store):
    ticket = make_ticket(session)
    _, (row,) = attachments.attach_to_ticket(session, ticket.id, [receive(store, "a.txt", b"a")])
    entry = attachments.remove_attachment(session, row.id, now=T1)
    session.commit()
    assert entry.kind == "attachment"
    assert entry.changes == [
        {
            "field": "attachment",
            "old": {"id": row.id, "filename": "a.txt", "size": 1, "content_type": "text/plain"},
            "new": None,
        }
    ]
    assert row.removed_at == T1
    assert tickets.get_ticket(session, ticket.id).live_attachments == []
    assert store.path_for(row.sha256).read_bytes() == b"a"  # the history can still offer it
    with pytest.raises(Conflict):
        attachments.remove_attachment(session, row.id)


def test_files_of_notes_and_of_closed_tickets_stay(session, store):
    ticket = make_ticket(session)
    note = tickets.add_note(session, ticket.id, {"body": "x"}, files=[receive(store, "n", b"n")])
    with pytest.raises(Conflict) as err:
        attachments.remove_attachment(session, note.attachments[0].id)
    assert "history" in err.value.message
    _, (row,) = attachments.attach_to_ticket(session, ticket.id, [receive(store, "t", b"t")])
    tickets.change_ticket(session, ticket.id, {"status": "closed"}, config=load_defaults())
    with pytest.raises(Conflict):
        attachments.remove_attachment(session, row.id)
    # A closed ticket's own files no longer change: none are added either (they could never
    # be removed). A note, with its files, stays possible.
    with pytest.raises(Conflict) as err:
        attachments.attach_to_ticket(session, ticket.id, [receive(store, "late.txt", b"l")])
    assert "closed" in err.value.message and "note" in err.value.message
    assert err.value.field == "file"
    late = tickets.add_note(session, ticket.id, {}, files=[receive(store, "late.txt", b"l")])
    assert [a.filename for a in late.attachments] == ["late.txt"]


def test_attachment_names_are_searchable(session, store):
    ticket = make_ticket(session)
    other = make_ticket(session)
    attachments.attach_to_ticket(
        session, ticket.id, [receive(store, "invoice-ACME-7731.pdf", b"%PDF")]
    )
    tickets.add_note(session, other.id, {}, files=[receive(store, "wiring diagram.png", PNG)])
    session.commit()

    def found(words: str) -> list[int]:
        page = search.list_tickets(session, search.TicketQuery(q=words), config=load_defaults())
        return [t.id for t in page.items]

    assert found("ACME") == [ticket.id]
    assert found("wiring diagram") == [other.id]
