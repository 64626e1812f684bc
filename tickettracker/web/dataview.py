"""Your data (issue 8): backups (list, back up now, download, restore), export and import,
as a page (/data, linked from the settings) and as API calls."""

from __future__ import annotations

import datetime as dt
import io
import tempfile

from flask import Blueprint, abort, g, redirect, render_template, request, send_file, url_for

from .. import backup, export, importing, restore, schema
from ..errors import DomainError, NotFound, ValidationError
from . import get_session, state

bp = Blueprint("data", __name__)


class BackupFailed(DomainError):
    status = 507  # Insufficient Storage: the usual cause is a full or read-only disk


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _stamp() -> str:
    return backup.timestamp(_now())


@bp.get("/data")
def data_page():
    st = state()
    return render_template(
        "data.html",
        human_size=human_size,
        backups=backup.list_backups(st.data_dir),
        unusable=backup.unusable_backups(st.data_dir),
        backups_dir=st.data_dir / "backups",
        data_dir=st.data_dir,
        made=request.args.get("made"),
        restored=request.args.get("restored"),
        restored_tickets=request.args.get("tickets", type=int),
        safety=request.args.get("safety"),
        imported=request.args.get("imported", type=int),
        notes=request.args.getlist("note"),
        problems=None,
        error=None,
    )


@bp.post("/data/backups")
def back_up_now():
    try:
        info = backup.make_backup(state().data_dir)
    except backup.BackupError as exc:
        return _page_error(str(exc), status=BackupFailed.status)
    return redirect(url_for("data.data_page", made=info.path.name, _anchor="backups"), code=303)


@bp.get("/data/backups/<name>")
def download_backup(name: str):
    for item in backup.list_backups(state().data_dir):
        if item.path.name == name:  # only files the list shows: no path from the URL is used
            return send_file(item.path, as_attachment=True, download_name=name)
    abort(404)


@bp.get("/data/backups/<name>/restore")
def confirm_restore(name: str):
    st = state()
    return render_template(
        "restore.html",
        backup=restore.find_backup(st.data_dir, name),
        tickets_now=restore.count_tickets(get_session()),
        backups_dir=st.data_dir / "backups",
    )


@bp.post("/data/backups/<name>/restore")
def restore_backup(name: str):
    try:
        done = _restore(name)
    except NotFound:
        raise
    except DomainError as exc:
        return _page_error(exc.message, status=exc.status)
    return redirect(
        url_for(
            "data.data_page",
            restored=done.name,
            tickets=done.tickets,
            safety=done.safety_backup.path.name,
            note=_few(done.warnings),
            _anchor="backups",
        ),
        code=303,
    )


def _few(warnings: list[str], limit: int = 10) -> list[str]:
    """At most `limit` warnings for the address of the page that shows them."""
    if len(warnings) <= limit:
        return warnings
    return [*warnings[:limit], f"... and {len(warnings) - limit} more."]


def _restore(name: str) -> restore.RestoreDone:
    """Restore the backup `name`, then drop what the app keeps in memory about the data."""
    st = state()
    session = g.pop("db", None)  # none of this request's may hold the database meanwhile
    if session is not None:
        session.close()
    done = restore.restore_in_place(st.data_dir, name, engine=st.engine)
    st.dashboard.clear()
    return done


@bp.get("/data/export.<fmt>")
def download_export(fmt: str):
    if fmt not in ("json", "csv"):
        abort(404)
    return send_file(
        _export_file(fmt),
        as_attachment=True,
        download_name=f"tickettracker-export-{_stamp()}.{fmt}",
        mimetype="application/json" if fmt == "json" else "text/csv",
    )


def _export_file(fmt: str):
    """The export in a temporary file (it may be large), rewound for sending."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - send_file closes it after sending
    text = io.TextIOWrapper(out, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
    session = get_session()
    if fmt == "csv":
        export.write_csv(session, text)
    else:
        export.write_json(session, text, now=_now(), revision=schema.head_revision())
    text.flush()
    text.detach()
    out.seek(0)
    return out


@bp.post("/data/import")
def import_file():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page_error("Choose a .json or .csv file to import.")
    name = upload.filename.lower()
    if not name.endswith((".csv", ".json")):
        return _page_error("Import takes a .json file (our export) or a .csv file.")
    allow_duplicates = bool(request.form.get("allow_duplicates"))
    session = get_session()
    st = state()
    try:
        # Uploads stream into uploads/tmp as they arrive (see uploads.py); read that back.
        received = upload.stream
        with received.open_received() if hasattr(received, "open_received") else received as fh:
            if name.endswith(".csv"):
                stream = importing.csv_text(fh)
                report = importing.import_csv(
                    session,
                    stream,
                    config=st.config,
                    name=upload.filename,
                    allow_duplicates=allow_duplicates,
                )
            else:
                report = importing.import_json(
                    session,
                    importing.load_json(fh, upload.filename),
                    uploads=st.data_dir / "uploads",
                    file_sources=[],
                    without_missing_files=bool(request.form.get("without_missing_files")),
                    allow_duplicates=allow_duplicates,
                )
    except importing.ImportRefused as exc:
        return _page_error(str(exc), exc.report.problems)
    except DomainError as exc:  # not UTF-8 or not JSON, too large, disk trouble
        return _page_error(exc.message)
    session.commit()
    notes = list(report.notes)
    if report.skipped:
        n = report.skipped
        notes.insert(
            0,
            f"Skipped {n} ticket{'s' * (n != 1)} already here ({importing.DUPLICATE_RULE}); "
            "to import them anyway, tick \u201cAlso import tickets that are already here\u201d.",
        )
    return redirect(
        url_for("data.data_page", imported=report.tickets, note=notes, _anchor="import"),
        code=303,
    )


def _page_error(message: str, problems=None, status: int = 422):
    get_session().rollback()
    st = state()
    return render_template(
        "data.html",
        human_size=human_size,
        backups=backup.list_backups(st.data_dir),
        unusable=backup.unusable_backups(st.data_dir),
        backups_dir=st.data_dir / "backups",
        data_dir=st.data_dir,
        made=None,
        restored=None,
        restored_tickets=None,
        safety=None,
        imported=None,
        notes=[],
        problems=problems,
        error=message,
    ), status


# --- the same over the API ------------------------------------------------------------------


def _backup_json(item: backup.BackupInfo) -> dict:
    return {
        "name": item.path.name,
        "kind": item.kind,
        "created_at": item.created_at.isoformat(),
        "size": item.size,
        "tickets": item.tickets,
        "files": item.files,
        "schema": item.schema,
        "warnings": item.warnings,
        "url": url_for("data.download_backup", name=item.path.name),
    }


@bp.get("/api/v1/backups")
def api_backups():
    return {"items": [_backup_json(b) for b in backup.list_backups(state().data_dir)]}


@bp.post("/api/v1/backups")
def api_back_up_now():
    try:
        info = backup.make_backup(state().data_dir)
    except backup.BackupError as exc:
        raise BackupFailed(str(exc)) from None
    return _backup_json(info), 201


@bp.post("/api/v1/backups/<name>/restore")
def api_restore(name: str):
    done = _restore(name)
    return {
        "restored": done.name,
        "tickets": done.tickets,
        "files": done.files,
        "safety_backup": done.safety_backup.path.name,
        "warnings": done.warnings,
    }


@bp.get("/api/v1/export")
def api_export():
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationError("format must be json or csv.", "format")
    return download_export(fmt)
