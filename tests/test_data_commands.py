"""The data commands with files a fresh user really has: CSV from a European Excel (semicolons,
Windows-1252), UTF-16 "Unicode Text", broken or foreign JSON, folders and odd names. Each gets
one plain line saying what is wrong and what to do, never a traceback, and imports nothing."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tickettracker import cli, importing


def run(capsys, *args: str) -> tuple[int, str, str]:
    """The command in-process: (exit status, stdout, stderr)."""
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def titles(data: Path) -> list[str]:
    db = data / "tickettracker.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT title FROM tickets ORDER BY id")]


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- encodings -------------------------------------------------------------------------------


def test_a_windows_1252_csv_gets_one_line_and_imports_nothing(capsys, tmp_path):
    data = tmp_path / "d"
    path = tmp_path / "cp1252.csv"
    path.write_bytes(b"title,requester\nCaf\xe9 machine,Zo\xeb\n")
    code, out, err = run(capsys, "--data-dir", str(data), "import", str(path))
    assert code == 1 and out == ""
    assert one_line(err) == (
        f"tickettracker: {path} is not UTF-8 text; save it as UTF-8 CSV (in Excel: Save As, "
        '"CSV UTF-8"). Nothing was imported.'
    )
    # A bad byte far down the file (past the first block the reader decodes), after good
    # rows: still nothing is imported.
    rows = "".join(f"Ticket {n},{'Ann' * 2000}\n" for n in range(3)).encode()
    path.write_bytes(b"title,requester\n" + rows + b"Caf\xe9,Zo\xeb\n")
    assert len(rows) > 16384
    code, _, err = run(capsys, "--data-dir", str(data), "import", str(path))
    assert code == 1 and "is not UTF-8 text" in one_line(err)
    assert titles(data) == []


def test_utf16_with_a_byte_order_mark_is_read_and_without_one_is_refused(capsys, tmp_path):
    data = tmp_path / "d"
    text = "title\tpriority\trequester\nCafé machine\tHigh\tZoë\n"
    unicode_text = tmp_path / "unicode.csv"  # what Excel's "Unicode Text" writes
    unicode_text.write_bytes(text.encode("utf-16"))
    code, out, err = run(capsys, "--data-dir", str(data), "import", str(unicode_text))
    assert (code, err) == (0, "")
    assert out.startswith("Imported 1 ticket into ")
    assert titles(data) == ["Café machine"]

    bare = tmp_path / "bare.csv"
    bare.write_bytes(text.encode("utf-16-le"))
    code, _, err = run(capsys, "--data-dir", str(data), "import", str(bare))
    assert code == 1 and f"{bare} is not UTF-8 text" in one_line(err)
    assert titles(data) == ["Café machine"]


def test_the_data_page_says_the_same_about_encodings(client):
    resp = client.post(
        "/data/import",
        data={"file": (io.BytesIO(b"title\nCaf\xe9\n"), "cp1252.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert "cp1252.csv is not UTF-8 text; save it as UTF-8 CSV" in resp.get_data(as_text=True)
    resp = client.post(
        "/data/import",
        data={"file": (io.BytesIO("title;priority\nÉté;High\n".encode("utf-16")), "u.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    assert [t["title"] for t in client.get("/api/v1/tickets").get_json()["items"]] == ["Été"]


# --- separators ------------------------------------------------------------------------------


def test_the_separator_follows_the_header_row():
    assert importing.separator("title,requester\r\n") == ","
    assert importing.separator("title;requester;tags\n") == ";"
    assert importing.separator("title\trequester\n") == "\t"
    assert importing.separator('"title; the short one",requester\n') == ","
    assert importing.separator("title\n") == ","
    assert importing.separator("title;requester,x\n") == ","  # a tie: the comma


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_csv_import(capsys, tmp_path, sep):
    data = tmp_path / "d"
    path = tmp_path / "europe.csv"
    rows = [
        ["Title", "Requester", "Tags", "Priority", "Description"],
        ["Printer jams", "Zoë", "office, paper", "High", 'He said "1,5 kg; or more"'],
        ["Second", "", "", "", "line one\nline two"],
    ]
    text = "\r\n".join(
        sep.join(
            f'"{c.replace(chr(34), 2 * chr(34))}"' if sep in c or "\n" in c or '"' in c else c
            for c in row
        )
        for row in rows
    )
    path.write_text(text + "\r\n", encoding="utf-8-sig")
    code, out, err = run(capsys, "--data-dir", str(data), "import", str(path))
    assert (code, err) == (0, ""), err
    assert out.startswith("Imported 2 tickets into ")
    with sqlite3.connect(data / "tickettracker.db") as conn:
        got = conn.execute(
            "SELECT title, requester, priority, description FROM tickets ORDER BY id"
        ).fetchall()
    assert got == [
        ("Printer jams", "Zoë", "high", 'He said "1,5 kg; or more"'),
        ("Second", "", "normal", "line one\nline two"),
    ]


def test_a_header_without_title_names_the_columns_it_found(capsys, tmp_path):
    path = tmp_path / "de.csv"
    path.write_text("Titel;Anforderer\nDrucker;Zoë\n", encoding="utf-8")
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "d"), "import", str(path))
    assert code == 1
    first, last = err.splitlines()
    assert first.startswith(
        "line 1: title: The header row has no title column (it names 'Titel', 'Anforderer')."
    )
    assert "separated by commas, semicolons or tabs" in first
    assert last == "tickettracker: 1 problem found; nothing was imported."


# --- JSON and paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"title": "Caf\xe9"}', "is not UTF-8 text, so it is not a TicketTracker export"),
        (b'{"format": "tickettracker-export",', "is not valid JSON (line 1, column 35: "),
        (b"", "is not valid JSON (line 1, column 1: "),
        (b"[1, 2]", "is not a TicketTracker export (it has no format marker). Import takes"),
        (b'{"tickets": []}', "is not a TicketTracker export (it has no format marker)."),
    ],
)
def test_json_that_is_not_an_export_gets_one_line(capsys, tmp_path, content, expected):
    path = tmp_path / "all.json"
    path.write_bytes(content)
    data = tmp_path / "d"
    for extra in ((), ("--dry-run",)):
        code, out, err = run(capsys, "--data-dir", str(data), "import", str(path), *extra)
        line = one_line(err)
        assert code == 1 and out == ""
        assert line.startswith(f"tickettracker: {path} {expected}"), line
        assert line.endswith("Nothing was imported.")
    assert titles(data) == []


def test_the_data_page_says_what_is_wrong_with_json(client):
    for content, expected in (
        (b"{oops", "all.json is not valid JSON (line 1, column 2: "),
        (b'"just text"', "is not a TicketTracker export"),
    ):
        resp = client.post(
            "/data/import",
            data={"file": (io.BytesIO(content), "all.json")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 422
        assert expected in resp.get_data(as_text=True)


def test_paths_that_are_not_files_get_one_line(capsys, tmp_path):
    data = str(tmp_path / "d")
    folder = tmp_path / "tickets.csv"
    folder.mkdir()
    cases = {
        str(folder): f"tickettracker: {folder} is a folder; give the .json or .csv file to import.",
        str(tmp_path / "nope.txt"): f"tickettracker: There is no file {tmp_path / 'nope.txt'}.",
    }
    for name, expected in cases.items():
        code, _, err = run(capsys, "--data-dir", data, "import", name)
        assert (code, one_line(err)) == (2, expected)
    odd = tmp_path / "notes.txt"
    odd.write_text("title\nx\n")
    code, _, err = run(capsys, "--data-dir", data, "import", str(odd))
    assert code == 2 and "--format csv" in one_line(err)
    # An operating-system error no check foresaw (here: a name too long for the disk).
    long_name = str(tmp_path / ("x" * 300 + ".csv"))
    code, _, err = run(capsys, "--data-dir", data, "import", long_name)
    assert code == 1
    assert one_line(err).startswith("tickettracker: cannot use ")
    assert "File name too long" in err
    assert titles(tmp_path / "d") == []


def test_plurals_in_the_import_messages(capsys, tmp_path):
    data = str(tmp_path / "d")
    one = tmp_path / "one.csv"
    one.write_text("title\nOnly one\n", encoding="utf-8")
    assert run(capsys, "--data-dir", data, "import", str(one), "--dry-run")[1] == (
        "The file is fine: 1 ticket would be imported.\n"
    )
    code, out, _ = run(capsys, "--data-dir", data, "import", str(one))
    assert out == f"Imported 1 ticket into {data}.\n"
    export = tmp_path / "one.json"
    assert run(capsys, "--data-dir", data, "export", str(export))[0] == 0
    doc = json.loads(export.read_text(encoding="utf-8"))
    assert len(doc["tickets"][0]["updates"]) == 1
    code, out, err = run(
        capsys, "--data-dir", str(tmp_path / "e"), "import", str(export), "--dry-run"
    )
    assert (code, out) == (0, "The file is fine: 1 ticket would be imported.\n"), err
    code, out, _ = run(capsys, "--data-dir", str(tmp_path / "e"), "import", str(export))
    assert out == f"Imported 1 ticket (1 log entry, 0 attachments) into {tmp_path / 'e'}.\n"


# --- the same tickets twice ------------------------------------------------------------------


def test_importing_an_export_again_skips_the_tickets_already_here(capsys, tmp_path):
    data = str(tmp_path / "d")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "title,requester,created_at\n"
        "Printer jams,Ann,2020-01-05T09:00:00+00:00\n"
        "Printer jams,Ann,2020-01-05T09:00:00+00:00\n"  # the same twice in one file: both kept
        "VPN down,Bob,2020-01-06T10:00:00+00:00\n",
        encoding="utf-8",
    )
    assert run(capsys, "--data-dir", data, "import", str(sheet))[0] == 0
    export = tmp_path / "all.json"
    assert run(capsys, "--data-dir", data, "export", str(export))[0] == 0
    assert titles(tmp_path / "d") == ["Printer jams", "Printer jams", "VPN down"]

    # Add one new ticket to the file, and one that differs only in its requester.
    doc = json.loads(export.read_text(encoding="utf-8"))
    new = json.loads(json.dumps(doc["tickets"][2]))
    new.update(id=99, title="New one")
    other = json.loads(json.dumps(doc["tickets"][2]))
    other.update(id=98, requester="Carol")
    for item in (new, other):
        for n, update in enumerate(item["updates"]):
            update["id"] = 1000 + item["id"] * 10 + n
    doc["tickets"] += [other, new]
    export.write_text(json.dumps(doc), encoding="utf-8")

    code, out, err = run(capsys, "--data-dir", data, "import", str(export), "--dry-run")
    assert (code, err) == (0, "")
    assert out.splitlines()[:2] == [
        "The file is fine: 2 tickets would be imported.",
        "Would skip 3 tickets already here (same title, requester and creation time as a "
        "ticket here). To import them anyway, add --allow-duplicates.",
    ]
    code, out, _ = run(capsys, "--data-dir", data, "import", str(export))
    assert code == 0
    assert out.splitlines()[:2] == [
        f"Imported 2 tickets (2 log entries, 0 attachments) into {data}.",
        "Skipped 3 tickets already here (same title, requester and creation time as a "
        "ticket here). To import them anyway, add --allow-duplicates.",
    ]
    assert titles(tmp_path / "d") == ["Printer jams", "Printer jams", "VPN down"] + [
        "VPN down",
        "New one",
    ]
    # Now all five are here; the explicit option imports copies anyway.
    code, out, _ = run(capsys, "--data-dir", data, "import", str(export), "--dry-run")
    assert out.startswith("The file is fine: 0 tickets would be imported.\nWould skip 5 ")
    code, out, _ = run(capsys, "--data-dir", data, "import", str(export), "--allow-duplicates")
    assert code == 0 and out.startswith("Imported 5 tickets (")
    assert "Skipped" not in out
    assert len(titles(tmp_path / "d")) == 10


def test_importing_a_csv_again_skips_rows_already_here(capsys, tmp_path):
    data = str(tmp_path / "d")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "title;requester;created_at\n"
        "Printer jams; Ann ;2020-01-05 10:00\n"  # local time, cleaned requester: still the same
        "Undated;Ann;\n",  # no creation time: always a new ticket
        encoding="utf-8",
    )
    assert run(capsys, "--data-dir", data, "import", str(sheet))[0] == 0
    code, out, _ = run(capsys, "--data-dir", data, "import", str(sheet))
    assert out.splitlines() == [
        f"Imported 1 ticket into {data}.",
        "Skipped 1 ticket already here (same title, requester and creation time as a ticket "
        "here). To import it anyway, add --allow-duplicates.",
    ]
    exported = tmp_path / "all.csv"
    assert run(capsys, "--data-dir", data, "export", str(exported))[0] == 0
    code, out, _ = run(capsys, "--data-dir", data, "import", str(exported), "--dry-run")
    assert out.splitlines()[:2] == [
        "The file is fine: 0 tickets would be imported.",
        "Would skip 3 tickets already here (same title, requester and creation time as a "
        "ticket here). To import them anyway, add --allow-duplicates.",
    ]
    code, out, _ = run(capsys, "--data-dir", data, "import", str(exported), "--allow-duplicates")
    assert out.startswith("Imported 3 tickets into ")
    assert titles(tmp_path / "d") == ["Printer jams", "Undated", "Undated"] * 2


def test_the_data_page_skips_tickets_already_here_too(client):
    client.post("/api/v1/tickets", json={"title": "Keep me", "requester": "Ann"})
    with client.get("/api/v1/export?format=json") as resp:
        exported = resp.data

    def upload(**form):
        return client.post(
            "/data/import",
            data={"file": (io.BytesIO(exported), "all.json"), **form},
            content_type="multipart/form-data",
        )

    resp = upload()
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Imported 0 tickets. Skipped 1 ticket already here (same title, requester" in page
    assert client.get("/api/v1/tickets").get_json()["total"] == 1
    resp = upload(allow_duplicates="1")
    assert "Skipped" not in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert client.get("/api/v1/tickets").get_json()["total"] == 2
    page = client.get("/data").get_data(as_text=True)
    assert 'name="allow_duplicates"' in page


# --- export ----------------------------------------------------------------------------------


@pytest.fixture
def one_ticket(capsys, tmp_path) -> str:
    data = str(tmp_path / "d")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("title\nExport me\n", encoding="utf-8")
    assert run(capsys, "--data-dir", data, "import", str(sheet))[0] == 0
    return data


def test_export_never_replaces_a_file_without_force(capsys, tmp_path, one_ticket):
    dest = tmp_path / "all.json"
    dest.write_text("my notes, not an export", encoding="utf-8")
    code, out, err = run(capsys, "--data-dir", one_ticket, "export", str(dest))
    assert (code, out) == (2, "")
    assert one_line(err) == (
        f"tickettracker: {dest} already exists; choose another file name, or add --force to "
        "replace it."
    )
    assert dest.read_text(encoding="utf-8") == "my notes, not an export"
    code, out, _ = run(capsys, "--data-dir", one_ticket, "export", str(dest), "--force")
    assert (code, out) == (0, f"Exported 1 ticket to {dest}.\n")
    assert json.loads(dest.read_text(encoding="utf-8"))["tickets"][0]["title"] == "Export me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.json", "d", "sheet.csv"]


def test_export_format_follows_the_name_or_is_asked_for(capsys, tmp_path, one_ticket):
    def export(*args: str) -> tuple[int, str]:
        code, _, err = run(capsys, "--data-dir", one_ticket, "export", *args)
        return code, err

    code, err = export(str(tmp_path / "all.txt"))
    assert code == 2 and one_line(err) == (
        f"tickettracker: Cannot tell the format from the name {tmp_path / 'all.txt'}: end it "
        "in .json (every ticket with its history, re-importable) or .csv (for spreadsheets), "
        "or add --format json or --format csv."
    )
    assert export(str(tmp_path / "all"))[0] == 2
    code, err = export(str(tmp_path / "all.csv"), "--format", "json")
    assert code == 2 and "ends in .csv but --format json was given" in one_line(err)
    assert not any(p.name.startswith("all") for p in tmp_path.iterdir())

    assert export(str(tmp_path / "all.txt"), "--format", "csv") == (0, "")
    assert (tmp_path / "all.txt").read_text(encoding="utf-8-sig").startswith("id,title,")
    assert export(str(tmp_path / "All.CSV")) == (0, "")
    assert (tmp_path / "All.CSV").read_text(encoding="utf-8-sig").startswith("id,title,")
    assert export(str(tmp_path / "all.json")) == (0, "")
    assert json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))["format"] == (
        "tickettracker-export"
    )


def test_export_into_a_folder_or_somewhere_impossible(capsys, tmp_path, one_ticket):
    folder = tmp_path / "exports"
    folder.mkdir()
    for fmt in ("json", "json", "csv"):
        code, out, err = run(
            capsys, "--data-dir", one_ticket, "export", str(folder), "--format", fmt
        )
        assert (code, err) == (0, ""), err
        assert out.startswith(f"Exported 1 ticket to {folder / 'tickettracker-export-'}")
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and [n.rsplit(".", 1)[1] for n in names].count("json") == 2

    code, _, err = run(capsys, "--data-dir", one_ticket, "export", str(tmp_path / "no" / "a.json"))
    assert (code, one_line(err)) == (
        2,
        f"tickettracker: The folder {tmp_path / 'no'} does not exist; create it first.",
    )
    code, _, err = run(
        capsys, "--data-dir", one_ticket, "export", str(tmp_path / ("x" * 300 + ".json"))
    )
    assert code == 1 and "File name too long" in one_line(err)


def test_a_json_import_with_times_in_the_future_is_refused(capsys, tmp_path):
    """Creation and update times record what happened; a due date may lie ahead."""
    data = str(tmp_path / "d")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("title,due\nPrinter jams,8000-01-01\n", encoding="utf-8")
    assert run(capsys, "--data-dir", data, "import", str(sheet))[0] == 0
    export = tmp_path / "all.json"
    assert run(capsys, "--data-dir", data, "export", str(export))[0] == 0
    doc = json.loads(export.read_text(encoding="utf-8"))
    doc["tickets"][0]["created_at"] = "8000-01-01T00:00:00+00:00"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")

    code, out, err = run(capsys, "--data-dir", str(tmp_path / "new"), "import", str(edited))
    assert code != 0
    assert "created_at" in err and "in the future" in err and "8000-01-01" in err
    assert titles(tmp_path / "new") == []


# --- backup and restore ----------------------------------------------------------------------


def test_backup_to_a_folder_that_is_not_there_writes_nothing(capsys, tmp_path, one_ticket):
    """`backup /media/usb` with the stick not mounted must not leave a file called usb: DEST
    is an existing folder or a name ending in .zip, nothing else."""
    before = sorted(p.name for p in tmp_path.iterdir())
    for dest in (
        str(tmp_path / "usb"),
        f"{tmp_path / 'newdir'}/",
        f"{tmp_path / 'old.zip'}/",
        str(tmp_path / "backup.tar"),
    ):
        code, out, err = run(capsys, "--data-dir", one_ticket, "backup", dest)
        assert (code, out) == (2, "")
        assert one_line(err) == (
            f"tickettracker: There is no folder {dest}: create it first, or give a file name "
            "ending in .zip."
        )
    code, _, err = run(capsys, "--data-dir", one_ticket, "backup", str(tmp_path / "sheet.csv"))
    assert (code, one_line(err)) == (
        2,
        f"tickettracker: {tmp_path / 'sheet.csv'} is a file, not a folder; give a folder, or a "
        "new file name ending in .zip.",
    )
    code, _, err = run(capsys, "--data-dir", one_ticket, "backup", str(tmp_path / "no" / "b.zip"))
    assert (code, one_line(err)) == (
        2,
        f"tickettracker: The folder {tmp_path / 'no'} does not exist; create it first.",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before

    # What is meant to work still does: a folder (a trailing / is fine) and a .zip name.
    folder = tmp_path / "usb"
    folder.mkdir()
    code, out, err = run(capsys, "--data-dir", one_ticket, "backup", f"{folder}/")
    assert (code, err) == (0, "")
    assert out.startswith(f"Backed up 1 ticket, 0 attached files and the settings to {folder}/")
    assert [p.suffix for p in folder.iterdir()] == [".zip"]
    named = tmp_path / "Before-the-move.ZIP"
    code, out, err = run(capsys, "--data-dir", one_ticket, "backup", str(named))
    assert (code, err) == (0, "") and f" to {named} (" in out
    assert zipfile.is_zipfile(named)


def test_restore_from_something_that_is_not_a_backup_gets_one_line(capsys, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    sheet = tmp_path / "sheet.zip"
    sheet.write_text("title\nnot a zip\n", encoding="utf-8")
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("cat.jpg", b"meow")
    choose = "choose a file made by 'tickettracker backup' or the Backups page."
    cases = {
        folder: (2, f"{folder} is a folder; give the backup's .zip file."),
        tmp_path / "nope.zip": (2, f"There is no file {tmp_path / 'nope.zip'}."),
        sheet: (1, f"{sheet} is not a zip file, so it is not a TicketTracker backup; {choose}"),
        other: (
            1,
            f"{other} is a zip file but not a TicketTracker backup (it has no backup "
            f"manifest); {choose}",
        ),
    }
    target = tmp_path / "restored"
    for path, (status, message) in cases.items():
        code, out, err = run(capsys, "restore", str(path), "--data-dir", str(target))
        assert (code, out, one_line(err)) == (status, "", f"tickettracker: {message}")
        assert not target.exists()
