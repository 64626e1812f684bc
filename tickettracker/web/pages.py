"""HTML pages. Thin: parse the form, call a service, render or redirect (post/redirect/get)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from .. import attachments, search, tickets
from ..errors import Conflict, DomainError, NotFound, StorageFailed, TooLarge, ValidationError
from ..workflow import ACTIVE_STATUSES, TERMINAL_STATUSES, allowed_transitions, status_label
from . import get_session, listview, state, uploads
from .auth import app_path
from .templating import localtime

bp = Blueprint("pages", __name__)

# The ticket form's text fields: the editable fields, with the due date as a day and a time.
FORM_FIELDS = tuple(f for f in tickets.EDITABLE_FIELDS if f != "due")
FORM_VALUE_KEYS = (*FORM_FIELDS, "due_day", "due_time")


def _form_text(form: MultiDict, name: str) -> str:
    # Browsers send textarea line breaks as CRLF; store plain newlines.
    return form.get(name, "").replace("\r\n", "\n")


def _ticket_form_values(form: MultiDict) -> dict[str, str]:
    """What the ticket form submitted, field by field, as text."""
    return {name: _form_text(form, name) for name in FORM_VALUE_KEYS}


def _due_from_values(values: dict[str, str]) -> str:
    day, time = values.get("due_day", "").strip(), values.get("due_time", "").strip()
    if time and not day:
        raise ValidationError("Pick a day for the due time, or clear the time.", "due")
    return f"{day} {time}" if time else day


def _ticket_form_data(form: MultiDict) -> dict[str, Any]:
    values = _ticket_form_values(form)
    data: dict[str, Any] = {name: values[name] for name in FORM_FIELDS}
    data["due"] = _due_from_values(values)
    return data


def ticket_form_values(ticket) -> dict[str, str]:
    """A ticket's fields as the edit form shows them."""
    if ticket.due_date is not None:
        due_day, due_time = ticket.due_date.isoformat(), ""
    elif ticket.due_at is not None:
        due_day, due_time = localtime(ticket.due_at, "%Y-%m-%d"), localtime(ticket.due_at, "%H:%M")
    else:
        due_day = due_time = ""
    return {
        "title": ticket.title,
        "description": ticket.description,
        "notes": ticket.notes,
        "requester": ticket.requester,
        "watchers": ", ".join(ticket.watcher_names),
        "priority": ticket.priority,
        "tags": ", ".join(ticket.tag_names),
        "links": "\n".join(f"{link.url} {link.title}".strip() for link in ticket.links),
        "due_day": due_day,
        "due_time": due_time,
    }


def _hold_reason(form: MultiDict) -> str:
    return (form.get("hold_reason_custom") or "").strip() or form.get("hold_reason", "")


# Every form on a ticket's pages carries the ticket's creation time. A ticket number can
# come to name another ticket (a backup restored, an import into an emptied desk): a page
# opened before that must not save onto the ticket that now has its number.
STAMP_FIELD = "ticket_created"


@bp.app_template_global()
def ticket_stamp(ticket) -> Markup:
    value = escape(ticket.created_at.isoformat())
    return Markup(f'<input type="hidden" name="{STAMP_FIELD}" value="{value}">')


def _stale_page(ticket_id: int):
    """A 409 page when the form came from a page showing another ticket with this number
    (everything typed is shown to copy), else None."""
    sent = request.form.get(STAMP_FIELD)
    if not sent:
        return None  # a form from before stamps, or a script: nothing to compare
    ticket = tickets.get_ticket(get_session(), ticket_id, updates="none")
    if ticket.created_at.isoformat() == sent:
        return None
    typed = [
        (label, request.form[key])
        for key, label in (
            ("title", "Title"),
            ("description", "Description"),
            ("notes", "Notes"),
            ("note", "Your note"),
            ("body", "Your note"),
        )
        if request.form.get(key, "").strip()
    ]
    message = (
        f"Ticket #{ticket_id} is now a different ticket ({ticket.title!r}) than the one this "
        "page showed: the data was restored from a backup or replaced since you opened it. "
        "Nothing was saved. "
        + ("What you typed is below, to copy where it belongs." if typed else "")
    )
    return render_template("stale.html", message=message, typed=typed, ticket_id=ticket_id), 409


@bp.get("/")
def index():
    session = get_session()
    config = state().config
    # A hand-edited URL: each bad parameter is said and replaced, the others still apply.
    problems: list[str] = []
    query = search.TicketQuery.from_args(
        request.args, per_page=config["list"]["page_size"], problems=problems
    )
    page = search.list_tickets(session, query, config=config, full=False)
    if page.page > page.pages and page.total:
        # Past the end (an old link, a list that shrank): show the last page instead.
        problems.append(
            f"There is no page {page.page:,}: the list has {page.pages:,}. Showing the last page."
        )
        query = dataclasses.replace(query, page=page.pages)
        page = search.list_tickets(session, query, config=config, full=False)
    page.problems = problems + page.problems
    return render_template(
        "list.html",
        page=page,
        query=query,
        dashboard=state().dashboard.counts(session),
        sorts=search.SORTS,
        default_statuses=ACTIVE_STATUSES,
        row_views=lambda rows, status_badge: listview.row_views(rows, config, status_badge),
    )


@bp.get("/tickets/new")
def new_ticket():
    return render_template("ticket_form.html", ticket=None, values={}, error=None)


@bp.post("/tickets/new")
def create_ticket():
    session = get_session()
    try:
        ticket = tickets.create_ticket(
            session, _ticket_form_data(request.form), config=state().config
        )
    except ValidationError as exc:
        session.rollback()
        return render_template(
            "ticket_form.html", ticket=None, values=_ticket_form_values(request.form), error=exc
        ), 422
    session.commit()
    return redirect(url_for("pages.show_ticket", ticket_id=ticket.id), code=303)


def _ticket_page(ticket, **extra):
    return render_template(
        "ticket.html",
        ticket=ticket,
        attachments_by_id={a.id: a for a in ticket.attachments},
        upload_limit=attachments.max_file_bytes(state().config),
        **extra,
    )


@bp.get("/tickets/<int:ticket_id>")
def show_ticket(ticket_id: int):
    session = get_session()
    ticket = tickets.get_ticket(session, ticket_id, updates="none")
    newest_first = request.args.get("log") == "newest"
    updates = tickets.history(session, ticket)
    if newest_first:
        updates.reverse()
    return _ticket_page(ticket, updates=updates, newest_first=newest_first, error=None)


PAGE_ERRORS = (ValidationError, Conflict, TooLarge, StorageFailed)


def _ticket_page_error(ticket_id: int, exc: DomainError):
    session = get_session()
    session.rollback()
    ticket = tickets.get_ticket(session, ticket_id, updates="none")
    # A browser cannot be handed its chosen files back: say so when they were not kept.
    files_dropped = exc.field != "file" and bool(uploads.uploaded_files())
    form = request.form
    if form.get("note", "").strip() and not allowed_transitions(ticket.status):
        # The ticket was closed or cancelled meanwhile (another window): the status form is
        # gone, so the note typed into it moves to "Add a note" rather than being lost.
        form = MultiDict(form)
        form["body"] = form.get("body") or form["note"]
        exc = type(exc)(f"{exc.message} Your note is below, ready to add.", exc.field)
    return _ticket_page(
        ticket,
        updates=tickets.history(session, ticket),
        newest_first=False,
        error=exc,
        form=form,
        files_dropped=files_dropped,
    ), exc.status


@bp.post("/tickets/<int:ticket_id>/status")
def change_status(ticket_id: int):
    session = get_session()
    if stale := _stale_page(ticket_id):
        return stale
    status = request.form.get("status", "")
    data = {
        "status": status,
        # The form always posts its hold fields; they only mean something with On Hold.
        "hold_reason": _hold_reason(request.form) if status == "on_hold" else "",
        "note": request.form.get("note", ""),
    }
    try:
        tickets.change_ticket(session, ticket_id, data, config=state().config)
    except (ValidationError, Conflict) as exc:
        return _ticket_page_error(ticket_id, exc)
    session.commit()
    return redirect(url_for("pages.show_ticket", ticket_id=ticket_id), code=303)


@bp.post("/tickets/<int:ticket_id>/notes")
def add_note(ticket_id: int):
    session = get_session()
    if stale := _stale_page(ticket_id):
        return stale
    data = {"body": request.form.get("body", ""), "links": request.form.get("links", "")}
    try:
        update = tickets.add_note(session, ticket_id, data, files=uploads.uploaded_files())
    except PAGE_ERRORS as exc:
        return _ticket_page_error(ticket_id, exc)
    session.commit()
    return redirect(
        url_for("pages.show_ticket", ticket_id=ticket_id, _anchor=f"update-{update.id}"), code=303
    )


@bp.post("/tickets/<int:ticket_id>/attachments")
def attach_files(ticket_id: int):
    session = get_session()
    if stale := _stale_page(ticket_id):
        return stale
    try:
        attachments.attach_to_ticket(session, ticket_id, uploads.uploaded_files())
    except PAGE_ERRORS as exc:
        return _ticket_page_error(ticket_id, exc)
    session.commit()
    return redirect(url_for("pages.show_ticket", ticket_id=ticket_id, _anchor="files"), code=303)


@bp.post("/tickets/<int:ticket_id>/attachments/<int:attachment_id>/remove")
def remove_attachment(ticket_id: int, attachment_id: int):
    session = get_session()
    if stale := _stale_page(ticket_id):
        return stale
    att = attachments.get_attachment(session, attachment_id)
    if att.ticket_id != ticket_id:
        raise NotFound(f"Ticket #{ticket_id} has no attachment #{attachment_id}.")
    try:
        attachments.remove_attachment(session, attachment_id)
    except PAGE_ERRORS as exc:
        return _ticket_page_error(ticket_id, exc)
    session.commit()
    return redirect(url_for("pages.show_ticket", ticket_id=ticket_id, _anchor="files"), code=303)


@bp.get("/attachments/<int:attachment_id>")
def download_attachment(attachment_id: int):
    return uploads.file_response(attachments.get_attachment(get_session(), attachment_id))


@bp.get("/attachments/<int:attachment_id>/preview")
def preview_attachment(attachment_id: int):
    att = attachments.get_attachment(get_session(), attachment_id)
    return uploads.file_response(att, preview=True)


def _render_edit(ticket, values, original, error=None, status=200, theirs=None):
    return render_template(
        "ticket_form.html",
        ticket=ticket,
        values=values,
        original=json.dumps(original),
        error=error,
        theirs=theirs or {},
    ), status


@bp.get("/tickets/<int:ticket_id>/edit")
def edit_ticket(ticket_id: int):
    session = get_session()
    ticket = tickets.get_ticket(session, ticket_id, updates="none")
    if ticket.status in TERMINAL_STATUSES:
        # Reached by a bookmark or a typed address (the page offers no Edit button): the
        # ticket itself, saying why, rather than a form whose Save can only be refused.
        locked = Conflict(
            f"This ticket is {status_label(ticket.status).lower()}: its fields can no longer "
            "be edited. You can still add notes below."
        )
        return _ticket_page(
            ticket, updates=tickets.history(session, ticket), newest_first=False, error=locked
        ), locked.status
    values = ticket_form_values(ticket)
    return _render_edit(ticket, values, values)


@bp.post("/tickets/<int:ticket_id>/edit")
def save_ticket(ticket_id: int):
    """Save what the user changed, merging with changes made meanwhile elsewhere.

    The form carries the values it was opened with. Fields the user did not touch are not
    written, so a change made meanwhile (another window, a script) to another field survives;
    a field both changed is a conflict the user resolves by saving again, knowingly.
    """
    if stale := _stale_page(ticket_id):
        return stale
    session = get_session()
    ticket = tickets.get_ticket(session, ticket_id, updates="none")
    submitted = _ticket_form_values(request.form)
    current = ticket_form_values(ticket)
    try:
        original = json.loads(request.form.get("original") or "null")
    except ValueError:
        original = None
    if not isinstance(original, dict):
        original = current  # no base to compare with: treat every difference as the user's
    edited = [k for k in FORM_VALUE_KEYS if submitted[k] != original.get(k, "")]
    clashes = [
        k for k in edited if current[k] != original.get(k, "") and current[k] != submitted[k]
    ]
    if clashes:
        names = ", ".join(FIELD_LABELS.get(k, k) for k in clashes)
        conflict = Conflict(
            f"While you were editing, this ticket's {names} changed elsewhere. Your version "
            "is below, with the other one under it: save again to replace the other change, "
            "or cancel to keep it.",
            clashes[0] if clashes[0] not in ("due_day", "due_time") else "due",
        )
        # The form now stands on the ticket as it is: the user's edits on top of the other
        # change, so saving again replaces only the fields that clashed, never one the user
        # left alone (that would quietly undo the other change).
        merged = {k: submitted[k] if k in edited else current[k] for k in FORM_VALUE_KEYS}
        theirs = {k: current[k] for k in clashes}
        return _render_edit(ticket, merged, current, conflict, 409, theirs)
    data: dict[str, Any] = {k: submitted[k] for k in edited if k in FORM_FIELDS}
    try:
        if "due_day" in edited or "due_time" in edited:
            data["due"] = _due_from_values(submitted)
        tickets.change_ticket(session, ticket_id, data, config=state().config)
    except (ValidationError, Conflict) as exc:
        session.rollback()
        ticket = tickets.get_ticket(session, ticket_id, updates="none")
        return _render_edit(ticket, submitted, original, exc, exc.status)
    session.commit()
    return redirect(url_for("pages.show_ticket", ticket_id=ticket_id), code=303)


FIELD_LABELS = {
    "title": "title",
    "description": "description",
    "notes": "notes",
    "requester": "requester",
    "watchers": "watchers",
    "priority": "priority",
    "tags": "tags",
    "links": "links",
    "due_day": "due date",
    "due_time": "due time",
}


THEMES = ("system", "dark", "light")
THEME_COOKIE = "tt_theme"


@bp.post("/preferences/theme")
def set_theme():
    theme = request.form.get("theme", "system")
    if theme not in THEMES:
        raise ValidationError(f"Unknown theme {theme!r}; use one of {', '.join(THEMES)}.", "theme")
    resp = redirect(app_path(request.form.get("next", "/")), code=303)
    resp.set_cookie(THEME_COOKIE, theme, max_age=365 * 24 * 3600, samesite="Strict", httponly=True)
    return resp
