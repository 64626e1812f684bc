"""The user's data folder: where it is, creating it, the access token and the instance lock."""

from __future__ import annotations

import errno
import json
import os
import secrets
from pathlib import Path

import platformdirs

APP_NAME = "TicketTracker"
ENV_VAR = "TICKETTRACKER_DATA_DIR"
DB_NAME = "tickettracker.db"
CONFIG_NAME = "config.json"
TOKEN_NAME = "token"
LOCK_NAME = "tickettracker.lock"
SERVER_INFO_NAME = "server.json"


class DataDirError(Exception):
    """The data folder cannot be used (not creatable, not writable)."""


def resolve_data_dir(flag: str | os.PathLike[str] | None = None, environ=None) -> Path:
    """Pick the data folder: --data-dir, then $TICKETTRACKER_DATA_DIR, then the platform default."""
    environ = os.environ if environ is None else environ
    if flag:
        chosen = Path(flag)
    elif environ.get(ENV_VAR):
        chosen = Path(environ[ENV_VAR])
    else:
        chosen = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return chosen.expanduser().resolve()


def ensure_data_dir(path: Path) -> Path:
    """Create the data folder (mode 0700) and its uploads/ and backups/ subfolders."""
    if path.exists() and not path.is_dir():
        raise DataDirError(
            f"{path} is a file, not a folder, so TicketTracker cannot keep its data there. "
            "Choose a folder with --data-dir (a new name makes a new, empty one)."
        )
    try:
        created = not path.exists()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if created:
            # mkdir's mode is filtered by the umask; set it explicitly for a folder we created.
            os.chmod(path, 0o700)
        for sub in ("uploads", "backups", "logs"):
            (path / sub).mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise DataDirError(
            f"Cannot create the data folder {path}: {exc.strerror or exc}. "
            "Choose another folder with --data-dir."
        ) from exc
    check_writable(path)
    return path


def why_unwritable(exc: OSError) -> str:
    """Why a file could not be written, in a few plain words."""
    reasons = {
        errno.EROFS: "the disk is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "your disk quota is used up",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def _probe(folder: Path) -> OSError | None:
    """Write, fsync and delete a small file in `folder`; the error if that fails."""
    probe = folder / f".write-test-{os.getpid()}.tmp"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        return exc
    return None


def check_writable(path: Path) -> None:
    """Say at start, not at the first save, when the data folder cannot take writes.

    A real write (create, fsync, delete) and the database files opened for writing:
    permission bits alone miss read-only disks, full disks and files owned by someone else
    (and tell root nothing).
    """
    problem: tuple[Path, OSError] | None = None
    error = _probe(path)
    if error is not None:
        problem = (path, error)
    else:
        for suffix in ("", "-wal", "-shm"):
            file = path / (DB_NAME + suffix)
            try:
                os.close(os.open(file, os.O_RDWR))
            except FileNotFoundError:
                continue
            except OSError as exc:
                problem = (file, exc)
                break
    if problem is not None:
        where, exc = problem
        why = why_unwritable(exc)
        raise DataDirError(
            f"TicketTracker cannot save in {where}: {why}. It did not start, so nothing "
            "you type can be lost. Make the data folder writable, or to look at a read-only "
            "copy, copy the whole folder somewhere writable and start with --data-dir COPY."
        )


def uploads_warning(path: Path) -> str | None:
    """A line for the start-up output when attached files cannot be saved (tickets still
    can: each upload is then refused with a clear message, and nothing is half-saved)."""
    folder = path / "uploads"
    error = _probe(folder)
    if error is None:
        return None
    why = why_unwritable(error)
    return (
        f"Attached files cannot be saved: {folder}: {why}. Tickets and notes can; fix "
        "the folder (or free disk space) to attach files."
    )


def clean_orphans(path: Path) -> list[Path]:
    """Delete temporary files left behind by a process that died mid-write (SIGKILL, power
    loss). Only call this while holding the InstanceLock: then no other process of ours can
    be writing them. Finished files are never temporary: every writer in the app writes a
    temp file and renames it into place, so what is left under a temp name is garbage."""
    candidates: list[Path] = []
    for pattern in (
        "*.tmp",
        ".*.tmp",
        "*.partial",
        ".*.partial",
        "backups/*.partial",
        "backups/.*.partial",
        "uploads/tmp/*",
        "uploads/.*.tmp",
    ):
        candidates += [p for p in path.glob(pattern) if p.is_file() or p.is_symlink()]
    restoring = path / ".restoring"
    removed: list[Path] = []
    for file in sorted(set(candidates)):
        try:
            file.unlink()
            removed.append(file)
        except OSError:
            continue
    if restoring.is_dir():
        import shutil

        shutil.rmtree(restoring, ignore_errors=True)
        removed.append(restoring)
    return removed


def make_private(db_path: Path) -> None:
    """Make the database and its WAL files readable by their owner only (mode 0600).

    The folder is 0700 when we create it, but a user may point --data-dir at a folder other
    accounts can open; the tickets must stay private even then.
    """
    for suffix in ("", "-wal", "-shm", "-journal"):
        file = db_path.with_name(db_path.name + suffix)
        try:
            if file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)
        except FileNotFoundError:
            continue
        except OSError:  # not ours to change (another owner, a read-only medium)
            continue


def load_or_create_token(path: Path) -> str:
    """Return the data folder's secret access token, creating it (mode 0600) on first use."""
    token_file = path / TOKEN_NAME
    try:
        token = token_file.read_text(encoding="ascii").strip()
        if len(token) >= 32:
            return token
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    token = secrets.token_urlsafe(32)
    tmp = token_file.with_name(TOKEN_NAME + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, token_file)
    return token


class InstanceLock:
    """One running app per data folder, held as an OS file lock.

    The OS drops the lock when the process dies in any way (SIGKILL, crash, power loss), so a
    stale lock file never blocks the next launch: only a live process can hold it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.lock_path = data_dir / LOCK_NAME
        self.info_path = data_dir / SERVER_INFO_NAME
        self._fh = None

    def acquire(self) -> bool:
        fh = open(self.lock_path, "a+b")  # noqa: SIM115 - held open for the process lifetime
        try:
            _lock_file(fh)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def publish(self, url: str) -> None:
        """Tell later launches where the running app is."""
        info = {"pid": os.getpid(), "url": url}
        tmp = self.info_path.with_name(SERVER_INFO_NAME + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        os.replace(tmp, self.info_path)

    def running_url(self) -> str | None:
        try:
            return json.loads(self.info_path.read_text(encoding="utf-8"))["url"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def unpublish(self) -> None:
        """Stop pointing later launches here (the app is shutting down)."""
        self.info_path.unlink(missing_ok=True)

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            self.unpublish()
        finally:
            _unlock_file(self._fh)
            self._fh.close()
            self._fh = None


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_file(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(fh) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
