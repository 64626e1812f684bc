"""Uploads and downloads on the web side: multipart files stream straight into uploads/tmp,
and stored files go out as downloads or (raster images only) inline previews."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Request, Response, request, send_file
from werkzeug.datastructures import MultiDict

from .. import attachments
from ..attachments import IncomingFile, UploadStore
from ..errors import NotFound, ValidationError
from ..models import Attachment
from . import state

FILE_FIELD = "file"


class _Discard:
    """Where an empty file part goes (a form's file picker left empty): nowhere."""

    def write(self, data: bytes) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


class UploadRequest(Request):
    """A request whose multipart file parts are written to the uploads folder as they arrive.

    Werkzeug would otherwise spool each file to a temporary file of its own (or memory) and
    we would copy it again; this way each file is hashed, size-checked and written once, and
    whoever reads `request.form` first (a view, an access check) gets the same behaviour.
    """

    @property
    def incoming_files(self) -> list[IncomingFile]:
        if "_incoming_files" not in self.__dict__:
            self.__dict__["_incoming_files"] = []
        return self.__dict__["_incoming_files"]

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> Any:
        if not filename:
            return _Discard()
        incoming = upload_store().receive(filename, content_type)
        self.incoming_files.append(incoming)
        return incoming


def upload_store() -> UploadStore:
    st = state()
    return UploadStore(st.data_dir / "uploads", attachments.max_file_bytes(st.config))


def is_multipart() -> bool:
    return request.mimetype == "multipart/form-data"


def uploaded_files() -> list[IncomingFile]:
    """The files sent in the multipart field `file`, in order (empty pickers left out)."""
    return [
        f.stream for f in request.files.getlist(FILE_FIELD) if isinstance(f.stream, IncomingFile)
    ]


def sent_files_elsewhere() -> bool:
    """True when files came in a field other than `file` (a client using the wrong name)."""
    return any(
        isinstance(f.stream, IncomingFile)
        for name, f in request.files.items(multi=True)
        if name != FILE_FIELD
    )


def require_files() -> list[IncomingFile]:
    files = uploaded_files()
    if not files and sent_files_elsewhere():
        raise ValidationError("Send the files in the multipart field named 'file'.", "file")
    return files


def multipart_note_data(form: MultiDict) -> dict[str, Any]:
    """A note's fields from a multipart API request: `body`, and `links` as JSON."""
    data: dict[str, Any] = {"body": form.get("body", "")}
    raw_links = form.get("links", "").strip()
    if raw_links:
        try:
            data["links"] = json.loads(raw_links)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f'links must be JSON, for example [{{"url": "https://…", "title": "…"}}] '
                f"({exc.msg} at character {exc.pos}).",
                "links",
            ) from None
    unknown = sorted(set(form) - {"body", "links", "csrf_token"})
    if unknown:
        raise ValidationError(f"Unknown field {unknown[0]!r}.", unknown[0])
    return data


def file_response(att: Attachment, *, preview: bool = False) -> Response:
    """The attachment's bytes: a download under its original name, or an inline image."""
    path = attachments.blob_path(upload_store(), att)
    if preview:
        if att.content_type not in attachments.PREVIEW_TYPES:
            raise NotFound(f"{att.filename!r} has no preview; download it instead.", "attachment")
        mimetype = att.content_type
    else:
        mimetype = attachments.download_type(att.content_type)
    resp = send_file(path, mimetype=mimetype, conditional=True, etag=att.sha256, max_age=0)
    resp.headers["Content-Disposition"] = attachments.content_disposition(
        att.filename, inline=preview
    )
    # Also set for every response by headers.py, which adds a sandboxing CSP and no-store to
    # anything sent with a Content-Disposition; said here too because a download needs it.
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def file_badge(filename: str) -> str:
    """The short label shown in place of a preview: the extension, or FILE."""
    stem, dot, ext = filename.strip().rpartition(".")
    if dot and stem.strip(".") and ext.isalnum() and len(ext) <= 5:
        return ext.upper()
    return "FILE"


def init_app(app: Flask) -> None:
    app.request_class = UploadRequest
    app.jinja_env.filters["filesize"] = attachments.format_size
    app.jinja_env.filters["file_badge"] = file_badge
    app.jinja_env.globals["PREVIEW_TYPES"] = attachments.PREVIEW_TYPES

    @app.teardown_request
    def discard_unstored_uploads(exc: BaseException | None) -> None:
        # Files received but not attached (the request failed, or was refused) leave nothing.
        current = request._get_current_object()
        for incoming in getattr(current, "incoming_files", ()):
            incoming.discard()
