"""Import: our own JSON export (the round trip is exact) and CSV with a header row, as other
trackers and spreadsheets write it (issue 8).

All or nothing: every problem in the file is collected and reported (by line for CSV, by
position for JSON), and if there is any, nothing is imported. The caller commits once.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Date, Integer, String, Text, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from . import export, search, tickets
from .errors import DomainError, ValidationError
from .fields import CLOCK_SKEW, clean_links, clean_names, local_tz, parse_due
from .models import Attachment, Link, Tag, Ticket, Update, UTCDateTime, Watcher
from .workflow import STATUSES

_SHA256 = re.compile(r"[0-9a-f]{64}")
# A JSON "\ud800" escape with no partner: no character, and SQLite cannot store it as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


MAX_PROBLEMS_SHOWN = 200


@dataclass
class Problem:
    where: str  # "line 4" (CSV) or "ticket 3 (id 17), update 2" (JSON)
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field + ': ' if self.field else ''}{self.message}"


@dataclass
class ImportReport:
    tickets: int = 0
    updates: int = 0
    attachments: int = 0
    skipped: int = 0  # tickets already here (see DUPLICATE_RULE), left out
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # JSON: ticket id in the file -> id here; CSV: ticket number in the file -> id here
    ids: dict[int, int] = field(default_factory=dict)


# When is a ticket in the file one that is already here? Same title, requester and creation
# time (to the microsecond) as a ticket that was here before the import: what importing the
# same export (or an exported CSV) a second time produces, and what two tickets created
# independently practically never share. Such tickets are skipped unless allow_duplicates.
DUPLICATE_RULE = "same title, requester and creation time as a ticket here"


def _duplicate_key(title: str | None, requester: str | None, created_at: Any) -> tuple:
    return (title or "", requester or "", created_at)


class FileUnreadable(ValidationError):
    """The file is not text we can read (wrong encoding, not JSON); nothing was imported."""


def not_utf8(name: str) -> FileUnreadable:
    return FileUnreadable(
        f'{name} is not UTF-8 text; save it as UTF-8 CSV (in Excel: Save As, "CSV UTF-8").'
    )


def csv_text(binary: IO[bytes]) -> IO[str]:
    """A CSV file's bytes as text: UTF-8 (with or without a byte order mark), or UTF-16 when
    it starts with a UTF-16 byte order mark (Excel's "Unicode Text"). Other encodings fail
    while reading with UnicodeDecodeError, which import_csv turns into a plain message."""
    if not binary.seekable():
        binary = io.BytesIO(binary.read())
    start = binary.tell()
    head = binary.read(2)
    binary.seek(start)
    utf16 = head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    return io.TextIOWrapper(binary, encoding="utf-16" if utf16 else "utf-8-sig", newline="")


def load_json(binary: IO[bytes], name: str) -> Any:
    """The JSON document in a file; FileUnreadable says plainly what is wrong with it."""
    raw = binary.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileUnreadable(
            f"{name} is not UTF-8 text, so it is not a TicketTracker export (those always "
            "are). Import the file that 'export' wrote, unchanged."
        ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        where = (
            f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise FileUnreadable(
            f"{name} is not valid JSON{where}. If it was cut short or edited, export again; "
            "a CSV file needs a name ending in .csv."
        ) from None


class ImportRefused(Exception):
    """The file has problems; nothing was imported. `report.problems` lists every one."""

    def __init__(self, report: ImportReport) -> None:
        n = len(report.problems)
        super().__init__(f"{n} problem{'s' * (n != 1)} found; nothing was imported.")
        self.report = report


# --- CSV -----------------------------------------------------------------------------------

# The export's columns, less those the app assigns itself (id, last change) and the files,
# whose bytes a CSV cannot carry: an exported CSV imports as it is.
CSV_FIELDS = tuple(c for c in export.CSV_COLUMNS if c not in {"id", "attachments", "updated_at"})


def _header_name(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


def _uncell(value: str) -> str:
    """Undo export's guard against spreadsheet formulas (a leading apostrophe)."""
    if value.startswith("'") and value[1:].startswith(export.FORMULA_STARTS):
        return value[1:]
    return value


def _lookup(config: dict) -> tuple[dict[str, str], dict[str, str]]:
    priorities = {}
    for p in config["priorities"]:
        priorities[p["key"].casefold()] = p["key"]
        priorities[str(p.get("label", p["key"])).casefold()] = p["key"]
    statuses = {}
    for s in STATUSES.values():
        statuses[s.key] = s.key
        statuses[_header_name(s.label)] = s.key
    return priorities, statuses


def _csv_time(value: str, tz: dt.tzinfo) -> str:
    """created_at from a spreadsheet: ISO 8601, with or without offset (then local time), or a
    bare day (local midnight). Returns ISO 8601 with offset."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = (
            dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
            if len(text) == 10
            else dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        )
    except ValueError:
        raise ValidationError(
            f"{value[:40]!r} is not a date and time we understand. Use ISO 8601, for example "
            "2026-01-31 09:30 or 2026-01-31T09:30:00+00:00.",
            "created_at",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.isoformat()


def import_csv(
    session: Session,
    stream: IO[str],
    *,
    config: dict,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
    name: str = "The file",
    allow_duplicates: bool = False,
) -> ImportReport:
    """Create one ticket per row (each starts its log at created_at). Raises ImportRefused,
    listing every bad line, if any row is bad; then nothing is added to the session. Columns
    may be separated by commas, semicolons (Excel in much of Europe) or tabs: the header row
    decides. A file that is not UTF-8 raises FileUnreadable naming `name`. A row with a
    created_at that matches a ticket already here (DUPLICATE_RULE) is skipped and counted in
    `report.skipped`, unless allow_duplicates."""
    try:
        return _import_csv(
            session, stream, config=config, now=now, tz=tz, allow_duplicates=allow_duplicates
        )
    except UnicodeDecodeError:
        raise not_utf8(name) from None


def separator(line: str) -> str:
    """The column separator a header row uses: whichever of comma, semicolon and tab occurs
    most often outside quotes (a comma if none does, or on a tie)."""
    counts = dict.fromkeys(",;\t", 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda c: (counts[c], c == ","))
    return best if counts[best] else ","


def _import_csv(
    session: Session,
    stream: IO[str],
    *,
    config: dict,
    now: dt.datetime | None,
    tz: dt.tzinfo | None,
    allow_duplicates: bool,
) -> ImportReport:
    now = now or dt.datetime.now(dt.timezone.utc)
    # Tickets here before the import have ids up to this; the rows' new tickets come after.
    before = session.scalar(select(func.max(Ticket.id))) or 0
    tz = tz or local_tz()
    report = ImportReport()
    first = stream.readline()
    if "\x00" in first:  # UTF-16 without a byte order mark reads as UTF-8 with NULs
        raise UnicodeDecodeError("utf-8", b"\x00", 0, 1, "NUL in text")
    reader = csv.reader(itertools.chain([first], stream), delimiter=separator(first))
    try:
        header = next(reader)
    except StopIteration:
        report.problems.append(Problem("line 1", None, "The file is empty: no header row."))
        raise ImportRefused(report) from None
    except csv.Error as exc:
        report.problems.append(Problem("line 1", None, f"not readable as CSV ({exc})"))
        raise ImportRefused(report) from None
    names = [_header_name(h) for h in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]
    _check_header(names, header, report)
    if report.problems:
        raise ImportRefused(report)
    ignored = [h for h, n in zip(header, names, strict=True) if n not in CSV_FIELDS and n]
    if ignored:
        report.notes.append(f"Columns not imported: {', '.join(ignored)}.")
    priorities, statuses = _lookup(config)

    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.problems.append(Problem(f"line {start}", None, f"not valid CSV ({exc})"))
            break
        if not any(cell.strip() for cell in row):
            continue  # blank line
        where = f"line {start}"
        if len(row) > len(names):
            report.problems.append(
                Problem(where, None, f"{len(row)} cells, but the header names {len(names)}.")
            )
            continue
        # A short row (fewer cells than the header) has its missing cells empty.
        cells = {n: _uncell(v) for n, v in zip(names, row, strict=False) if n in CSV_FIELDS}
        try:
            data = _csv_ticket(cells, priorities, statuses, config, tz)
            with session.begin_nested():
                ticket = tickets.create_ticket(session, data, config=config, now=now, tz=tz)
                # Checked on the saved ticket, so the title and requester are cleaned as
                # they are stored; a row without created_at is new by definition.
                check = "created_at" in data and not allow_duplicates
                if check and _already_here(session, ticket, before):
                    raise _Duplicate
        except DomainError as exc:
            report.problems.extend(Problem(where, p.field, p.message) for p in exc.problems)
            continue
        except _Duplicate:
            report.skipped += 1
            continue
        report.tickets += 1
        report.ids[report.tickets] = ticket.id  # row number -> new ticket id
    if report.problems:
        raise ImportRefused(report)
    return report


class _Duplicate(Exception):
    """Undoes one row's savepoint: its ticket is already here."""


def _already_here(session: Session, ticket: Ticket, before: int) -> bool:
    found = session.scalar(
        select(Ticket.id)
        .where(
            Ticket.created_at == ticket.created_at,
            Ticket.title == ticket.title,
            Ticket.requester == ticket.requester,
            Ticket.id <= before,
        )
        .limit(1)
    )
    return found is not None


def _check_header(names: list[str], header: list[str], report: ImportReport) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen and name in CSV_FIELDS:
            report.problems.append(Problem("line 1", name, "this column appears twice."))
        seen.add(name)
    if "title" not in names:
        found = ", ".join(repr(h.strip().lstrip("\ufeff")) for h in header[:20] if h.strip())
        found = found or "no names at all"
        report.problems.append(
            Problem(
                "line 1",
                "title",
                f"The header row has no title column (it names {found}). The first row must "
                f"name the columns: title, and any of {', '.join(CSV_FIELDS[1:])}, separated "
                "by commas, semicolons or tabs.",
            )
        )


def _csv_ticket(
    cells: dict[str, str],
    priorities: dict[str, str],
    statuses: dict[str, str],
    config: dict,
    tz: dt.tzinfo,
) -> dict[str, Any]:
    data: dict[str, Any] = {"title": cells.get("title", "")}
    for name in ("description", "notes", "requester", "watchers", "tags", "links"):
        if cells.get(name, "").strip():
            data[name] = cells[name] if name in ("description", "notes") else cells[name].strip()
    priority = cells.get("priority", "").strip()
    if priority:
        if priority.casefold() not in priorities:
            keys = [p["key"] for p in config["priorities"]]
            raise ValidationError(
                f"Unknown priority {priority!r}. Use one of: {', '.join(keys)} (or their "
                "labels), or leave it empty for the default.",
                "priority",
            )
        data["priority"] = priorities[priority.casefold()]
    status = cells.get("status", "").strip()
    if status:
        key = statuses.get(_header_name(status))
        if key is None:
            raise ValidationError(
                f"Unknown status {status!r}. Use one of: "
                f"{', '.join(s.label for s in STATUSES.values())}.",
                "status",
            )
        data["status"] = key
        if key == "on_hold" and not cells.get("hold_reason", "").strip():
            raise ValidationError(
                "An On Hold ticket needs a reason: add a hold_reason column (or another status).",
                "hold_reason",
            )
    if cells.get("hold_reason", "").strip() and data.get("status") == "on_hold":
        data["hold_reason"] = cells["hold_reason"].strip()
    due = cells.get("due", "").strip()
    if due:
        data["due"] = due[:-1] + "+00:00" if due.endswith(("Z", "z")) else due
    created = cells.get("created_at", "").strip()
    if created:
        data["created_at"] = _csv_time(created, tz)
    return data


# --- JSON ----------------------------------------------------------------------------------

_NESTED_TICKET_KEYS = {"due", "watchers", "tags", "links", "attachments", "updates"}


class _Checker:
    """Collects problems while reading the JSON document."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report

    def problem(self, where: str, key: str | None, message: str) -> None:
        self.report.problems.append(Problem(where, key, message))


def _columns(model: type, skip: Iterable[str] = ()) -> list[tuple[str, Any]]:
    """(attribute name, Column) for a model's columns, minus `skip` column names."""
    mapper = sa_inspect(model)
    out = []
    for column in model.__table__.columns:
        if column.name in skip:
            continue
        out.append((mapper.get_property_by_column(column).key, column))
    return out


# Times that record what happened (a due date may lie ahead; these may not).
RECORDED_TIMES = frozenset({"created_at", "updated_at", "removed_at", "hold_since"})


def _parse_value(column, value: Any) -> Any:
    """A JSON value for `column`, converted; ValueError says what is wrong."""
    if value is None:
        if not column.nullable and not column.primary_key:
            raise ValueError("may not be empty (null)")
        return None
    type_ = column.type
    if isinstance(type_, UTCDateTime):
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 date-time text")
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("needs a UTC offset, like 2026-01-31T09:30:00+00:00")
        moment = moment.astimezone(dt.timezone.utc)
        now = dt.datetime.now(dt.timezone.utc)
        if column.name in RECORDED_TIMES and moment > now + CLOCK_SKEW:
            raise ValueError(
                f"is in the future ({value}; it is now {now:%Y-%m-%d %H:%M} UTC): a record "
                "of something that happened cannot be"
            )
        return moment
    if isinstance(type_, Date):
        if not isinstance(value, str):
            raise ValueError("must be a YYYY-MM-DD text")
        return dt.date.fromisoformat(value)
    if isinstance(type_, Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value
    if isinstance(type_, (String, Text)):
        if not isinstance(value, str):
            raise ValueError("must be text")
        return value
    return value


def _default(column) -> Any:
    if column.default is not None and column.default.is_scalar:
        return column.default.arg
    if column.nullable or column.primary_key:
        return None
    raise ValueError("is missing")


def _read_row(
    model: type, record: dict, skip: Iterable[str], where: str, check: _Checker
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attr, column in _columns(model, skip):
        try:
            if column.name in record:
                values[attr] = _parse_value(column, record[column.name])
            else:
                values[attr] = _default(column)
        except ValueError as exc:
            check.problem(where, column.name, str(exc))
    return values


def _read_links(value: Any, where: str, check: _Checker) -> list[dict[str, str]]:
    try:
        return clean_links(value or [])
    except DomainError as exc:
        check.problem(where, "links", exc.message)
        return []


@dataclass
class _Plan:
    """A checked ticket, ready to insert."""

    values: dict[str, Any]
    watchers: list[str]
    tags: list[str]
    links: list[dict[str, str]]
    updates: list[tuple[dict[str, Any], list[dict], list[dict[str, str]]]]
    attachments: list[dict[str, Any]]


def read_json(data: Any, report: ImportReport) -> list[_Plan]:
    """Check the whole document; problems go to `report`."""
    from . import schema

    check = _Checker(report)
    if not isinstance(data, dict) or data.get("format") != export.FORMAT:
        check.problem(
            "the file",
            None,
            "is not a TicketTracker export (it has no format marker). Import takes a JSON file "
            "written by TicketTracker's export, or a CSV file.",
        )
        return []
    if data.get("format_version", 0) > export.FORMAT_VERSION or (
        data.get("schema") and data["schema"] not in schema.known_revisions()
    ):
        check.problem(
            "the file",
            None,
            f"was exported by a newer TicketTracker ({data.get('app_version')}, schema "
            f"{data.get('schema')}); install that version to import it.",
        )
        return []
    items = data.get("tickets")
    if not isinstance(items, list):
        check.problem("the file", "tickets", "must be a list of tickets.")
        return []
    plans: list[_Plan] = []
    ids: dict[str, set[int]] = {"ticket": set(), "update": set(), "attachment": set()}
    for n, item in enumerate(items, 1):
        where = f"ticket {n}" + (f" (id {item.get('id')})" if isinstance(item, dict) else "")
        if not isinstance(item, dict):
            check.problem(where, None, "must be an object.")
            continue
        plan = _read_ticket(item, where, check, ids)
        if plan is not None:
            plans.append(plan)
    return plans


def _unique(kind: str, value: Any, ids: dict[str, set[int]], where: str, check: _Checker):
    if value is None:
        return
    if value in ids[kind]:
        check.problem(where, "id", f"{kind} id {value} appears twice in the file.")
    ids[kind].add(value)


def _read_ticket(item: dict, where: str, check: _Checker, ids: dict[str, set[int]]) -> _Plan | None:
    columns = {c.name for _, c in _columns(Ticket)}
    for key in sorted(set(item) - columns - _NESTED_TICKET_KEYS):
        check.problem(where, key, "is not a ticket field this version knows.")
    broken = sorted(key for key, value in item.items() if _has_surrogate([key, value]))
    for key in broken:
        check.problem(
            where,
            key,
            "contains a broken character (a lone UTF-16 surrogate such as \\ud800, which "
            "stands for no character); remove it from the file.",
        )
    if broken:
        return None
    values = _read_row(Ticket, item, (), where, check)
    if "due_at" not in item and "due_date" not in item and item.get("due"):
        try:
            values["due_date"], values["due_at"] = parse_due(item["due"], dt.timezone.utc)
        except DomainError as exc:
            check.problem(where, "due", exc.message)
    if isinstance(values.get("title"), str) and not values["title"].strip():
        check.problem(where, "title", "may not be empty.")
    if values.get("status") is not None and values["status"] not in STATUSES:
        check.problem(where, "status", f"unknown status {values['status']!r}.")
    _unique("ticket", values.get("id"), ids, where, check)
    try:
        watchers = clean_names(item.get("watchers") or [], "watchers")
        tags = clean_names(item.get("tags") or [], "tags")
    except DomainError as exc:
        check.problem(where, exc.field, exc.message)
        watchers, tags = [], []
    links = _read_links(item.get("links"), where, check)

    updates = []
    update_ids: set[int] = set()
    for n, u in enumerate(_list(item, "updates", where, check), 1):
        uwhere = f"{where}, update {n}"
        if not isinstance(u, dict):
            check.problem(uwhere, None, "must be an object.")
            continue
        known = {c.name for _, c in _columns(Update)} | {"changes", "links"}
        for key in sorted(set(u) - known - export.RELATION_COLUMNS["updates"]):
            check.problem(uwhere, key, "is not an update field this version knows.")
        uvalues = _read_row(Update, u, export.RELATION_COLUMNS["updates"], uwhere, check)
        changes = u.get("changes", [])
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            check.problem(uwhere, "changes", "must be a list of {field, old, new} objects.")
            changes = []
        _unique("update", uvalues.get("id"), ids, uwhere, check)
        if uvalues.get("id") is not None:
            update_ids.add(uvalues["id"])
        updates.append((uvalues, changes, _read_links(u.get("links"), uwhere, check)))

    attachments = []
    for n, a in enumerate(_list(item, "attachments", where, check), 1):
        awhere = f"{where}, attachment {n}"
        if not isinstance(a, dict):
            check.problem(awhere, None, "must be an object.")
            continue
        avalues = _read_row(Attachment, a, export.RELATION_COLUMNS["attachments"], awhere, check)
        if not _SHA256.fullmatch(str(avalues.get("sha256") or "")):
            check.problem(awhere, "sha256", "must be a SHA-256 hex digest (64 characters).")
        if avalues.get("update_id") is not None and avalues["update_id"] not in update_ids:
            check.problem(awhere, "update_id", "names no update of this ticket.")
        _unique("attachment", avalues.get("id"), ids, awhere, check)
        attachments.append(avalues)
    return _Plan(values, watchers, tags, links, updates, attachments)


def _list(item: dict, key: str, where: str, check: _Checker) -> list:
    value = item.get(key, [])
    if not isinstance(value, list):
        check.problem(where, key, "must be a list.")
        return []
    return value


def import_json(
    session: Session,
    data: Any,
    *,
    uploads: Path,
    file_sources: Iterable[Path] = (),
    without_missing_files: bool = False,
    allow_duplicates: bool = False,
) -> ImportReport:
    """Add every ticket of an export, history included. Ids are kept when none of them is
    taken here (always so in an empty database: the round trip is exact); otherwise tickets,
    log entries and attachments get new ids, in the same order. Attachment bytes must be in
    `uploads` or one of `file_sources` (a data folder or its uploads/ folder); they are copied
    in before the rows are added. Tickets already here (DUPLICATE_RULE) are skipped and
    counted in `report.skipped`, unless allow_duplicates."""
    report = ImportReport()
    plans = read_json(data, report)
    if report.problems:
        raise ImportRefused(report)
    if not allow_duplicates:
        here = _existing_keys(session, {p.values.get("created_at") for p in plans})
        kept = [p for p in plans if _plan_key(p) not in here]
        report.skipped = len(plans) - len(kept)
        plans = kept
    missing = _bring_files(plans, uploads, list(file_sources), report)
    if missing and not without_missing_files:
        for sha in sorted(missing)[:MAX_PROBLEMS_SHOWN]:
            report.problems.append(
                Problem(
                    "attachments",
                    None,
                    f"the bytes of {missing[sha]!r} ({sha[:12]}…) are not in this data folder. "
                    "Import with the command, pointing --files at the old data folder (or its "
                    "uploads folder), or choose to leave those attachments out "
                    "(--without-missing-files).",
                )
            )
        raise ImportRefused(report)
    if missing:
        n = len(missing)
        report.notes.append(f"Left out {n} attachment{'s' * (n != 1)} whose bytes were not found.")
    keep_ids = not _ids_taken(session, plans)
    if not keep_ids:
        report.notes.append("Some ids were already taken here: the imported tickets got new ids.")
    tags: dict[str, int] = {}
    for n, plan in enumerate(sorted(plans, key=lambda p: p.values.get("id") or 0), 1):
        _insert(session, plan, keep_ids, tags, set(missing), report)
        if n % export.BATCH == 0:
            session.expunge_all()
    return report


def _plan_key(plan: _Plan) -> tuple:
    v = plan.values
    return _duplicate_key(v.get("title"), v.get("requester"), v.get("created_at"))


def _existing_keys(session: Session, moments: set[Any]) -> set[tuple]:
    """DUPLICATE_RULE keys of the tickets here created at one of `moments`."""
    found: set[tuple] = set()
    wanted = sorted(m for m in moments if m is not None)
    for i in range(0, len(wanted), 500):
        rows = session.execute(
            select(Ticket.title, Ticket.requester, Ticket.created_at).where(
                Ticket.created_at.in_(wanted[i : i + 500])
            )
        )
        found.update(_duplicate_key(*row) for row in rows)
    return found


def _ids_taken(session: Session, plans: list[_Plan]) -> bool:
    wanted = {
        Ticket: {p.values["id"] for p in plans if p.values.get("id")},
        Update: {u[0]["id"] for p in plans for u in p.updates if u[0].get("id")},
        Attachment: {a["id"] for p in plans for a in p.attachments if a.get("id")},
    }
    for model, ids in wanted.items():
        chunk = sorted(ids)
        for i in range(0, len(chunk), 500):
            part = chunk[i : i + 500]
            if session.scalar(select(func.count()).where(model.id.in_(part))):
                return True
    return False


def _insert(
    session: Session,
    plan: _Plan,
    keep_ids: bool,
    tags: dict[str, int],
    missing: set[str],
    report: ImportReport,
) -> None:
    """Add one ticket with everything in it, in two flushes: the ticket with its lists and
    log, then what points at log entries (attachments, a note's links)."""
    values = dict(plan.values)
    old_id = values.pop("id", None)
    with session.no_autoflush:
        ticket = Ticket(**values, id=old_id if keep_ids else None)
        ticket.watchers = [Watcher(name=name, position=i) for i, name in enumerate(plan.watchers)]
        ticket.tags = [_tag(session, name, tags) for name in plan.tags]
        ticket.links = [Link(url=v["url"], title=v["title"]) for v in plan.links]
        by_old: dict[int, Update] = {}
        update_links: list[tuple[Update, list[dict[str, str]]]] = []
        updates = []
        for uvalues, changes, links in sorted(plan.updates, key=lambda u: u[0].get("id") or 0):
            uvalues = dict(uvalues)
            old_uid = uvalues.pop("id", None)
            update = Update(**uvalues, id=old_uid if keep_ids else None)
            update.changes = changes
            updates.append(update)
            if links:
                update_links.append((update, links))
            if old_uid is not None:
                by_old[old_uid] = update
        ticket.updates = updates
        # Log entries first, in order: rows of one kind are inserted in the order they reach
        # the session, and new ids must follow the log's order.
        session.add_all(updates)
        session.add(ticket)
    session.flush()
    # What points at a log entry needs its id, known only now.
    atts = []
    for avalues in sorted(plan.attachments, key=lambda a: a.get("id") or 0):
        if avalues["sha256"] in missing:
            continue
        avalues = dict(avalues)
        old_aid = avalues.pop("id", None)
        update = by_old.get(avalues.pop("update_id", None) or -1)
        atts.append(
            Attachment(
                **avalues,
                id=old_aid if keep_ids else None,
                ticket_id=ticket.id,
                update_id=update.id if update is not None else None,
            )
        )
    session.add_all(atts)
    for update, links in update_links:
        session.add_all(
            Link(ticket_id=ticket.id, update_id=update.id, url=v["url"], title=v["title"])
            for v in links
        )
    session.flush()
    session.expire(ticket, ["attachments"])  # the index reads them back
    search.reindex_ticket(session, ticket)
    if old_id is not None:
        report.ids[old_id] = ticket.id
    report.tickets += 1
    report.updates += len(updates)
    report.attachments += len(atts)


def _tag(session: Session, name: str, cache: dict[str, int]) -> Tag:
    key = name.casefold()
    if key in cache:
        tag = session.get(Tag, cache[key])
        if tag is not None:
            return tag
    tag = session.scalars(select(Tag).where(Tag.name == name)).first()
    if tag is None:
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
    cache[key] = tag.id
    return tag


# --- attachment bytes ------------------------------------------------------------------------


def _bring_files(
    plans: list[_Plan], uploads: Path, sources: list[Path], report: ImportReport
) -> dict[str, str]:
    """Copy each attachment's bytes into `uploads` unless already there (checked by hash,
    written temp + fsync + rename first). Returns {sha256: a file name} of those not found."""
    wanted = {a["sha256"]: a["filename"] for p in plans for a in p.attachments}
    missing: dict[str, str] = {}
    for sha, filename in wanted.items():
        target = uploads / sha[:2] / sha
        if target.exists():
            continue
        for source in sources:
            candidates = (source / sha[:2] / sha, source / "uploads" / sha[:2] / sha)
            found = next((c for c in candidates if c.is_file()), None)
            if found is not None and _copy_checked(found, target, sha, uploads):
                break
        else:
            missing[sha] = filename
    return missing


def _copy_checked(src: Path, target: Path, sha: str, uploads: Path) -> bool:
    tmp_dir = uploads / "tmp"
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="import-", suffix=".part", dir=tmp_dir)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            while chunk := inp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha:
            return False
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(name, target)
        from .backup import fsync_dir

        fsync_dir(target.parent)
        return True
    finally:
        Path(name).unlink(missing_ok=True)
