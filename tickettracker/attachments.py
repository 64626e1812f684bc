"""Attached files: bytes streamed to disk by content (SHA-256), rows that point at them.

An upload is written to `uploads/tmp/` while it arrives (hashed and counted on the way, so
the size limit holds without the file ever being in memory), then fsynced, renamed to
`uploads/<first two hex digits>/<sha256>` and the folder fsynced, all before the row that
points at it is committed. The same bytes are stored once. The name a user gives a file is
kept in the database only: it never becomes part of a path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import mimetypes
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from sqlalchemy.orm import Session

from . import search
from .errors import Conflict, NotFound, StorageFailed, TooLarge, ValidationError
from .models import Attachment, Ticket, Update
from .workflow import STATUSES

DEFAULT_MAX_FILE_MB = 100
FILENAME_MAX = 1024
TEMP_PREFIX = "upload-"
TEMP_SUFFIX = ".part"
OCTET_STREAM = "application/octet-stream"
_HEAD_BYTES = 32
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Raster image types the ticket page shows inline. An attachment only carries one of these
# types when its first bytes say so (see sniff_image), and they are served with nosniff, so an
# HTML or SVG file can never be rendered in the app's origin through a preview.
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
# Types a browser could run as a document or script: always downloaded as plain bytes.
_ACTIVE_TYPE_WORDS = ("html", "xml", "svg", "javascript", "ecmascript", "xsl", "x-shockwave")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- pure helpers -------------------------------------------------------------------------


def max_file_bytes(config: dict) -> int:
    """The per-file size limit in bytes from `uploads.max_file_mb` (MB = 1024 * 1024 bytes)."""
    value = (config.get("uploads") or {}).get("max_file_mb", DEFAULT_MAX_FILE_MB)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        value = DEFAULT_MAX_FILE_MB
    return int(value * 1024 * 1024)


def format_size(size: int) -> str:
    """A file size for people: 0 bytes, 1 byte, 980 bytes, 1.5 KB, 12 MB, 1.2 GB."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    text = f"{value:.1f}".removesuffix(".0") if value < 100 else f"{value:.0f}"
    return f"{text} {unit}"


def clean_filename(raw: str) -> str:
    """The name to keep for an uploaded file: the sender's name, made displayable.

    Browsers escape a double quote in a file name as %22 (HTML's multipart rules); that is
    undone. Control characters become "_". Any other name is kept as sent, including "../x",
    "..." or names without an extension: it is only ever shown and sent back, never a path.
    """
    name = _CONTROL.sub("_", raw.replace("%22", '"'))
    if not name.strip():
        return "unnamed file"
    if len(name) > FILENAME_MAX:
        raise ValidationError(
            f"The file name {name[:40]!r}… is {len(name)} characters long; the limit is "
            f"{FILENAME_MAX}. Rename the file and attach it again.",
            "file",
        )
    return name


def sniff_image(head: bytes) -> str | None:
    """The raster image type the first bytes of a file announce, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:2] == b"BM" and len(head) >= 18 and head[14] in (12, 40, 52, 56, 108, 124):
        return "image/bmp"
    return None


def choose_content_type(claimed: str | None, filename: str, head: bytes) -> str:
    """The type to store: what the bytes say for images, else the sender's claim or the name.

    A claimed image type the bytes do not back up is not kept, so that PREVIEW_TYPES always
    means "these bytes really start like that image".
    """
    sniffed = sniff_image(head)
    if sniffed:
        return sniffed
    candidates = [(claimed or "").split(";")[0].strip().lower()]
    candidates.append((mimetypes.guess_type(filename, strict=False)[0] or "").lower())
    for value in candidates:
        usable = value and value != OCTET_STREAM and _MIME.fullmatch(value)
        if usable and value not in PREVIEW_TYPES:
            return value
    return OCTET_STREAM


def download_type(content_type: str) -> str:
    """The Content-Type to send a download with: active types go out as plain bytes."""
    if any(word in content_type for word in _ACTIVE_TYPE_WORDS) or not _MIME.fullmatch(
        content_type
    ):
        return OCTET_STREAM
    return content_type


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266 Content-Disposition with an ASCII fallback and the exact name (RFC 5987)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[\x00-\x1f\x7f\\%/]", "_", ascii_name.replace('"', "'")).strip()
    stem, dot, ext = ascii_name.rpartition(".")
    if not dot:
        stem, ext = ascii_name, ""
    if not any(c.isalnum() for c in stem):  # nothing readable left, e.g. a Chinese name
        ascii_name = "download" + (f".{ext}" if ext.isalnum() else "")
    exact = quote(filename, safe="!#$&+-.^_`|~")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{exact}"


# --- bytes on disk ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    """An upload whose bytes are safely on disk under their hash."""

    filename: str
    content_type: str
    size: int
    sha256: str
    created: bool  # False when the same bytes were already stored


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there; NTFS journals renames
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class UploadStore:
    """The uploads folder of one data folder, with the per-file size limit."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def receive(self, filename: str, content_type: str | None = None) -> IncomingFile:
        """Start receiving one file; write its bytes to the returned object as they arrive."""
        return IncomingFile(self, filename, content_type)

    def sweep_temp(self, now: dt.datetime, max_age: dt.timedelta = dt.timedelta(hours=24)) -> int:
        """Delete temp files left by uploads that never finished (a crash); returns how many."""
        removed = 0
        try:
            entries = list(os.scandir(self.tmp_dir))
        except OSError:
            return 0
        for entry in entries:
            if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)):
                continue
            try:
                modified = dt.datetime.fromtimestamp(entry.stat().st_mtime, dt.timezone.utc)
                if now - modified > max_age:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed


class IncomingFile:
    """One file being received: a write-only stream into uploads/tmp.

    Problems do not raise while bytes arrive (the request's other fields must still be read,
    so a page can be shown again with the user's text); they are remembered, the partial file
    is deleted at once, and `check()` or `store()` raise them.
    """

    def __init__(self, store: UploadStore, filename: str, content_type: str | None) -> None:
        self.store_ = store
        self.raw_filename = filename
        self.claimed_type = content_type
        self.size = 0
        self.too_large = False
        self.error: OSError | None = None
        self._hash = hashlib.sha256()
        self._head = b""
        self._file = None
        self._tmp: Path | None = None
        self._stored: StoredFile | None = None
        try:
            store.tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=store.tmp_dir)
            self._tmp = Path(name)
            self._file = os.fdopen(fd, "wb")
        except OSError as exc:
            self._fail(exc)

    # The stream interface werkzeug's form parser uses.
    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self._file is None:
            return len(data)  # already refused: only count, so the message can give the size
        if self.size > self.store_.max_bytes:
            self.too_large = True
            self.discard()
            return len(data)
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]
        self._hash.update(data)
        try:
            self._file.write(data)
        except OSError as exc:
            self._fail(exc)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0  # the parser rewinds a finished part; nothing is read back from here

    def close(self) -> None:
        """All bytes have arrived: make them durable in the temp file (flush, fsync)."""
        if self._file is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        except OSError as exc:
            self._fail(exc)

    @property
    def filename(self) -> str:
        return clean_filename(self.raw_filename)

    def open_received(self) -> BinaryIO:
        """Read back the bytes that arrived, for a file that is read rather than attached (an
        import). The temp file is still removed at the end of the request."""
        self.check()
        self.close()
        assert self._tmp is not None
        return open(self._tmp, "rb")  # noqa: SIM115 - the caller closes it

    def check(self) -> None:
        """Raise what went wrong while receiving (too large, not writable, bad name)."""
        name = self.filename
        if self.too_large:
            limit = format_size(self.store_.max_bytes)
            size = format_size(self.size)
            if size == limit:  # rounded, "100 MB is too big; at most 100 MB" would puzzle
                size = f"{self.size:,} bytes, just over {limit}"
            raise TooLarge(
                f"{name!r} is {size}; files may be at most {limit}. Nothing "
                "was saved. Attach a smaller file or a link to it (the limit is "
                "uploads.max_file_mb in config.json).",
                "file",
            )
        if self.error is not None:
            raise StorageFailed(
                f"{name!r} could not be saved in the uploads folder "
                f"({self.error.strerror or self.error}). Nothing was saved. Check that the data "
                "folder is writable and the disk has free space, then try again.",
                "file",
            )

    def store(self) -> StoredFile:
        """Make the bytes durable under their hash (fsync, rename, fsync the folder)."""
        if self._stored is not None:
            return self._stored
        self.close()
        self.check()
        assert self._tmp is not None
        digest = self._hash.hexdigest()
        target = self.store_.path_for(digest)
        try:
            created = not (target.is_file() and target.stat().st_size == self.size)
            if created:
                if not target.parent.is_dir():
                    target.parent.mkdir(mode=0o700)
                    _fsync_dir(self.store_.root)
                os.replace(self._tmp, target)
                _fsync_dir(target.parent)
            else:
                self._tmp.unlink()
            self._tmp = None
        except OSError as exc:
            self._fail(exc)
            self.check()
        self._stored = StoredFile(
            filename=self.filename,
            content_type=choose_content_type(self.claimed_type, self.filename, self._head),
            size=self.size,
            sha256=digest,
            created=created,
        )
        return self._stored

    def discard(self) -> None:
        """Forget the bytes (a refused or abandoned upload leaves nothing behind)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
        self.discard()


def store_files(files: Sequence[IncomingFile]) -> list[StoredFile]:
    """Store every file, or none when any of them was refused (checked before storing)."""
    for incoming in files:
        incoming.check()
    return [incoming.store() for incoming in files]


# --- rows and the update log ----------------------------------------------------------------


def new_rows(ticket: Ticket, stored: Sequence[StoredFile], now: dt.datetime) -> list[Attachment]:
    """Attachment rows for stored files (the caller links them to a ticket or an update)."""
    return [
        Attachment(
            ticket_id=ticket.id,
            filename=s.filename,
            size=s.size,
            content_type=s.content_type,
            sha256=s.sha256,
            created_at=now,
        )
        for s in stored
    ]


def _summary(att: Attachment) -> dict:
    return {
        "id": att.id,
        "filename": att.filename,
        "size": att.size,
        "content_type": att.content_type,
    }


def _ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"There is no ticket #{ticket_id}.")
    return ticket


def attach_to_ticket(
    session: Session,
    ticket_id: int,
    files: Sequence[IncomingFile],
    *,
    now: dt.datetime | None = None,
) -> tuple[Update, list[Attachment]]:
    """Attach files to the ticket itself; one log entry (kind "attachment") names them all."""
    now = now or utcnow()
    ticket = _ticket(session, ticket_id)
    status = STATUSES[ticket.status]
    if status.terminal:
        # Closed and Cancelled are terminal: the ticket's own files would stay for good (they
        # can no longer be removed). A note, with its files, is still welcome.
        raise Conflict(
            f"This ticket is {status.label.lower()}, so files can no longer be attached to it. "
            "Add them to a note instead.",
            "file",
        )
    if not files:
        raise ValidationError("Choose one or more files to attach.", "file")
    rows = new_rows(ticket, store_files(files), now)
    ticket.attachments.extend(rows)
    session.flush()
    entry = Update(created_at=now, kind="attachment", body="")
    entry.changes = [{"field": "attachment", "old": None, "new": _summary(a)} for a in rows]
    search.log_entry(session, ticket, entry, now)
    return entry, rows


def get_attachment(session: Session, attachment_id: int) -> Attachment:
    att = session.get(Attachment, attachment_id)
    if att is None:
        raise NotFound(f"There is no attachment #{attachment_id}.")
    return att


def remove_attachment(
    session: Session, attachment_id: int, *, now: dt.datetime | None = None
) -> Update:
    """Take a file off its ticket. The row stays (the log still names it, and it can still be
    downloaded from there): removal only hides it from the ticket and is logged."""
    now = now or utcnow()
    att = get_attachment(session, attachment_id)
    ticket = att.ticket
    if att.update_id is not None:
        raise Conflict(
            f"{att.filename!r} belongs to a note in the history, and history entries are never "
            "changed. Only files attached to the ticket itself can be removed.",
            "attachment",
        )
    if att.removed_at is not None:
        raise Conflict(f"{att.filename!r} was already removed from this ticket.", "attachment")
    if STATUSES[ticket.status].terminal:
        raise Conflict(
            f"This ticket is {ticket.status}; its files can no longer be removed.", "status"
        )
    att.removed_at = now
    entry = Update(created_at=now, kind="attachment", body="")
    entry.changes = [{"field": "attachment", "old": _summary(att), "new": None}]
    search.log_entry(session, ticket, entry, now)
    return entry


def blob_path(store: UploadStore, att: Attachment) -> Path:
    """Where an attachment's bytes are; NotFound (with what to do) when they are missing."""
    path = store.path_for(att.sha256)
    if not path.is_file():
        raise NotFound(
            f"The bytes of {att.filename!r} are missing from the uploads folder "
            f"({att.sha256[:2]}/{att.sha256}). Restore the data folder's uploads/ from a backup.",
            "attachment",
        )
    return path
