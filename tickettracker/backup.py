"""Consistent copies of a live data folder: the database copy before an upgrade, and
`tickettracker backup` / `restore` zips (issue 8)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any


def timestamp(now: dt.datetime | None = None) -> str:
    """A sortable UTC time for file names: 20261203T161755Z."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_database(src: Path, dest: Path) -> None:
    """A consistent copy of a database that may be in use, written whole or not at all."""
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    os.close(fd)  # mkstemp made it 0600: a private copy
    partial = Path(name)
    try:
        _snapshot(src, partial)
        fsync_file(partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    fsync_dir(dest.parent)


def _snapshot(src: Path, target_path: Path) -> None:
    """Copy the database `src` into the (empty) file `target_path` and check the copy.

    SQLite's online backup API copies every page in one step under a read transaction, so the
    copy is one committed state even while the app keeps writing (WAL readers never block).
    """
    source = sqlite3.connect(src, timeout=30)
    try:
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
            # The copy stands alone: one file, no -wal beside it.
            target.execute("PRAGMA journal_mode=DELETE")
            problem = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    if problem != "ok":
        raise sqlite3.DatabaseError(f"the copy of {src.name} does not check out: {problem}")


# --- backup zips ----------------------------------------------------------------------------

MANIFEST = "manifest.json"
FORMAT = "tickettracker-backup"
FORMAT_VERSION = 1
# What a backup leaves out: the database files (a snapshot goes in instead), other backups,
# logs, the access secret (a restored folder makes its own) and the running app's own files.
RESTORING = ".restoring"
SKIP_TOP = {"backups", "logs", "token", "tickettracker.lock", "server.json", RESTORING}
SKIP_SUFFIXES = (".tmp", ".partial", ".part")


class BackupError(Exception):
    """A backup or restore could not be done; the message says why and what to do."""


@dataclass
class BackupInfo:
    path: Path
    created_at: dt.datetime
    size: int
    kind: str  # backup (a zip made by backup) | before-upgrade (a database copy)
    tickets: int | None = None
    files: int | None = None  # attached files (uploads)
    schema: str | None = None
    app_version: str | None = None
    warnings: list[str] = field(default_factory=list)


def default_backup_name(now: dt.datetime | None = None) -> str:
    return f"tickettracker-backup-{timestamp(now)}.zip"


def _choose_dest(data_dir: Path, dest: Path | None, now: dt.datetime | None) -> tuple[Path, bool]:
    """Where the zip goes, and whether it may take the next free -2, -3 ... name (a dated
    name in a folder) rather than refuse when the name is taken (a file name given)."""
    if dest is None:
        dest = data_dir / "backups"
    dest = Path(dest).expanduser()
    if dest.is_dir():
        return _numbered(dest / default_backup_name(now)), True
    if dest.suffix.lower() != ".zip":
        # Never a zip without the extension: `/media/usb` with no stick in is not a file name.
        raise BackupError(
            f"There is no folder {dest}: create it first, or give a file name ending in .zip."
        )
    if dest.exists():
        raise _taken(dest)
    if not dest.parent.is_dir():
        raise BackupError(f"The folder {dest.parent} does not exist; create it first.")
    return dest, False


def _numbered(first: Path) -> Path:
    """`first`, or the first of first-2.zip, first-3.zip ... that is free (two backups
    within one second)."""
    dest, n = first, 1
    while dest.exists() or dest.is_symlink():
        n += 1
        dest = first.with_name(f"{first.stem}-{n}{first.suffix}")
    return dest


def _taken(dest: Path) -> BackupError:
    return BackupError(f"{dest} already exists; choose another file name or folder.")


def _publish(done: Path, dest: Path, numbered: bool) -> Path:
    """Give the finished zip `done` its name without ever replacing a file: a hard link fails
    when the name is taken, so two backups finishing at once cannot take the same one."""
    while True:
        try:
            os.link(done, dest)
        except FileExistsError:
            pass
        except OSError:
            # No hard links on this disk (FAT, some network shares): check, then rename.
            if not (dest.exists() or dest.is_symlink()):
                os.replace(done, dest)
                return dest
        else:
            done.unlink()
            return dest
        if not numbered:
            raise _taken(dest)
        dest = _numbered(dest)


def _temp_file(folder: Path, name: str, suffix: str) -> Path:
    """A new private temp file of our own in `folder`, hidden (and left out of the list)."""
    fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(path)


def _write_failed(folder: Path, exc: OSError, chosen: bool) -> BackupError:
    """One line for a destination folder that does not take the backup."""
    from .datadir import why_unwritable

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "Free some disk space, or choose a folder on another disk."
    elif chosen:
        advice = "Choose a folder you can write to."
    else:
        advice = "Make that folder writable, or free some disk space, and try again."
    # No such file, in a folder that is there: one that takes no new files (/proc).
    reason = "files cannot be created there" if exc.errno == errno.ENOENT else why_unwritable(exc)
    return BackupError(f"Cannot write a backup in {folder}: {reason}. {advice}")


def _data_files(data_dir: Path, db_name: str) -> list[tuple[Path, str]]:
    """Every file of the data folder that belongs in a backup, as (path, name in the zip)."""
    skip_db = {db_name + s for s in ("", "-wal", "-shm", "-journal")}
    out: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(data_dir):
        rel = Path(root).relative_to(data_dir)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in SKIP_TOP]
        elif rel.parts[:2] == ("uploads", "tmp"):
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            if rel == Path(".") and (name in SKIP_TOP or name in skip_db):
                continue
            if name.endswith(SKIP_SUFFIXES) or (name.startswith(".") and name.endswith(".tmp")):
                continue
            out.append((Path(root) / name, (rel / name).as_posix()))
    return out


def _snapshot_facts(db: Path) -> tuple[str | None, int, set[str]]:
    """(schema revision, ticket count, attachment hashes) of a database snapshot."""
    con = sqlite3.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        revision = None
        if "alembic_version" in tables:
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        elif "tickets" in tables:
            revision = "0001_core"
        tickets = con.execute("SELECT count(*) FROM tickets").fetchone()[0] if revision else 0
        hashes: set[str] = set()
        if "attachments" in tables:
            hashes = {r[0] for r in con.execute("SELECT DISTINCT sha256 FROM attachments")}
        return revision, tickets, hashes
    finally:
        con.close()


def upload_name(sha256: str) -> str:
    """Where the uploads folder keeps a file's bytes (content-addressed, see attachments)."""
    return f"uploads/{sha256[:2]}/{sha256}"


def _add_file(zf: zipfile.ZipFile, path: Path, arcname: str, compress: bool) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    info = zipfile.ZipInfo.from_file(path, arcname)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as out:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def make_backup(
    data_dir: Path,
    dest: Path | None = None,
    *,
    db_name: str = "tickettracker.db",
    now: dt.datetime | None = None,
) -> BackupInfo:
    """Write one zip holding a consistent snapshot of the database, the uploads and the
    configuration. Safe while the app runs: the database copy is one committed state, and
    attachment files are written before the rows that point at them, so every file the
    snapshot refers to is already on disk when the uploads are copied after it."""
    from . import __version__

    now = now or dt.datetime.now(dt.timezone.utc)
    db = data_dir / db_name
    if not db.exists():
        raise BackupError(f"There is no database in {data_dir}: nothing to back up.")
    chosen = dest is not None
    dest, numbered = _choose_dest(data_dir, dest, now)
    folder = dest.parent
    # Temp files of this backup's own (mkstemp): backups running at once never share one.
    temps: list[Path] = []
    try:
        try:
            temps.append(_temp_file(folder, dest.name, ".db.partial"))
            _snapshot(db, temps[0])
        except sqlite3.OperationalError as exc:
            if "disk is full" in str(exc):
                raise OSError(errno.ENOSPC, str(exc)) from exc
            raise BackupError(f"Could not copy the database: {exc}.") from exc
        except sqlite3.Error as exc:
            raise BackupError(f"Could not copy the database: {exc}.") from exc
        revision, tickets, hashes = _snapshot_facts(temps[0])
        # A snapshot: the attached files its rows refer to (removed ones too: their history
        # still offers them), not every file in uploads/ (some may be a restored-over desk's).
        wanted = {upload_name(h) for h in hashes}
        files: dict[str, Any] = {}
        warnings: list[str] = []
        temps.append(_temp_file(folder, dest.name, ".partial"))
        with open(temps[1], "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            files[db_name] = _add_file(zf, temps[0], db_name, compress=True)
            for path, arcname in _data_files(data_dir, db_name):
                is_upload = arcname.startswith("uploads/")
                if is_upload and arcname not in wanted:
                    continue
                try:
                    files[arcname] = _add_file(zf, path, arcname, compress=not is_upload)
                except FileNotFoundError:
                    continue  # removed while we were copying (a temp file, say)
                if is_upload and files[arcname]["sha256"] != path.name:
                    warnings.append(f"{arcname} does not match its own hash (damaged on disk)")
            missing = sorted(h for h in hashes if upload_name(h) not in files)
            warnings += [f"attachment bytes missing from uploads/: {h}" for h in missing]
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": now.isoformat(),
                "app_version": __version__,
                "schema": revision,
                "tickets": tickets,
                "database": db_name,
                "warnings": warnings,
                "files": files,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
            raw.flush()
            os.fsync(raw.fileno())
        dest = _publish(temps[1], dest, numbered)
        fsync_dir(folder)
    except OSError as exc:
        if exc.filename and Path(exc.filename).parent != folder:  # a file being backed up
            raise BackupError(
                f"Could not read {exc.filename} to back it up: {exc.strerror or exc}."
            ) from exc
        raise _write_failed(folder, exc, chosen) from exc
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    return BackupInfo(
        dest,
        now,
        dest.stat().st_size,
        "backup",
        tickets=tickets,
        files=sum(1 for name in files if name.startswith("uploads/")),
        schema=revision,
        app_version=__version__,
        warnings=warnings,
    )


def read_manifest(zip_path: Path) -> dict[str, Any]:
    """The manifest of a backup zip; BackupError when the file is not one of ours."""
    choose = "choose a file made by 'tickettracker backup' or the Backups page."
    try:
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        raise BackupError(f"There is no file {zip_path}.") from None
    except zipfile.BadZipFile:
        if _starts_like_a_zip(zip_path):
            raise BackupError(
                f"{zip_path} is damaged (cut short or corrupted): it cannot be read as a zip "
                "file. Try another backup."
            ) from None
        raise BackupError(
            f"{zip_path} is not a zip file, so it is not a TicketTracker backup; {choose}"
        ) from None
    except OSError as exc:
        raise BackupError(f"Cannot read {zip_path}: {exc.strerror or exc}.") from None
    with zf:
        try:
            manifest = json.loads(zf.read(MANIFEST))
        except KeyError:
            raise BackupError(
                f"{zip_path} is a zip file but not a TicketTracker backup (it has no backup "
                f"manifest); {choose}"
            ) from None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            raise BackupError(
                f"{zip_path} is damaged: its backup manifest cannot be read. Try another backup."
            ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{zip_path} is not a TicketTracker backup (no backup manifest).")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BackupError(
            f"{zip_path} was made by a newer TicketTracker (backup format "
            f"{manifest.get('format_version')}); install the newer version to restore it."
        )
    return manifest


def _starts_like_a_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def list_backups(data_dir: Path) -> list[BackupInfo]:
    """The backups in <data-dir>/backups, newest first."""
    out: list[BackupInfo] = []
    folder = data_dir / "backups"
    if not folder.is_dir():
        return out
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)
        if path.suffix == ".zip":
            try:
                m = read_manifest(path)
                created = dt.datetime.fromisoformat(m["created_at"])
            except (BackupError, KeyError, TypeError, ValueError):
                continue  # not one that can be restored; why_not_a_backup says why
            out.append(
                BackupInfo(
                    path,
                    created,
                    stat.st_size,
                    "backup",
                    tickets=m.get("tickets"),
                    files=sum(1 for n in m.get("files", {}) if n.startswith("uploads/")),
                    schema=m.get("schema"),
                    app_version=m.get("app_version"),
                    warnings=list(m.get("warnings", [])),
                )
            )
        elif path.suffix == ".db" and path.name.startswith("before-upgrade-"):
            schema = path.stem.split("-", 3)[-1] if path.stem.count("-") >= 3 else None
            out.append(BackupInfo(path, modified, stat.st_size, "before-upgrade", schema=schema))
    out.sort(key=lambda b: b.created_at, reverse=True)
    return out


def why_not_a_backup(data_dir: Path, name: str) -> str | None:
    """Why the file `name` in <data-dir>/backups is not listed as a backup to restore (damaged,
    not ours, from a newer TicketTracker); None when there is no such file. Only a plain file
    name is looked at, never a path."""
    folder = data_dir / "backups"
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        return None
    path = folder / name
    if not path.is_file():
        return None
    if name.startswith("before-upgrade-") and path.suffix == ".db":
        return (
            "it is a copy of the database taken before an upgrade, not a backup. To go back "
            "to it, put it, named tickettracker.db, into a new empty folder and start the "
            "previous TicketTracker version with --data-dir on that folder."
        )
    try:
        manifest = read_manifest(path)
        dt.datetime.fromisoformat(manifest["created_at"])
    except BackupError as exc:
        return str(exc).replace(str(path), name)
    except (KeyError, TypeError, ValueError):
        return f"{name} is damaged: its backup manifest has no valid date. Try another backup."
    return None


def unusable_backups(data_dir: Path) -> list[tuple[str, str]]:
    """The .zip files in <data-dir>/backups that cannot be restored, each with the reason."""
    folder = data_dir / "backups"
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.zip")):
        why = why_not_a_backup(data_dir, path.name)
        if why is not None:
            out.append((path.name, why))
    return out


# --- restore --------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    data_dir: Path
    tickets: int
    files: int
    schema: str | None
    warnings: list[str]


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        bool(parts)
        and not name.startswith("/")
        and "\\" not in name
        and all(p not in ("", ".", "..") for p in parts)
        and ":" not in parts[0]
    )


def restore_backup(zip_path: Path, data_dir: Path) -> RestoreResult:
    """Unpack a backup into an empty (or new) data folder, checking every file's hash and the
    database's integrity before anything appears in the folder."""
    manifest = read_manifest(zip_path)
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        count = len(list(data_dir.iterdir())) if data_dir.is_dir() else 1
        raise BackupError(
            f"The folder {data_dir} is not empty ({count} item{'s' * (count != 1)} in it). A "
            "backup is only restored into a new or empty folder, so nothing there is "
            "overwritten: choose one with --data-dir, for example --data-dir "
            f"{data_dir.parent / (data_dir.name + '-restored')}."
        )
    files: dict[str, dict[str, Any]] = manifest.get("files", {})
    db_name = manifest.get("database", "tickettracker.db")
    bad = [n for n in files if not _safe_name(n)]
    if bad or db_name not in files:
        raise BackupError(f"{zip_path} is damaged: its list of files is not valid ({bad[:3]}).")
    created = not data_dir.exists()
    staging = data_dir / RESTORING
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        staging.mkdir(mode=0o700)
        with zipfile.ZipFile(zip_path) as zf:
            names = set(zf.namelist()) - {MANIFEST}
            extra = sorted(names - set(files))
            if extra:
                raise BackupError(f"{zip_path} holds files its manifest does not list: {extra[:3]}")
            for name, expected in files.items():
                _private_folders(staging, PurePosixPath(name).parts[:-1])
                _extract_checked(zf, name, expected, staging / name, zip_path)
        facts = _check_database(staging / db_name, zip_path)
        revision, tickets, hashes = facts
        missing = sorted(h for h in hashes if upload_name(h) not in files)
        for entry in sorted(staging.iterdir()):
            os.replace(entry, data_dir / entry.name)
        staging.rmdir()
        for sub in ("uploads", "backups", "logs"):
            (data_dir / sub).mkdir(mode=0o700, exist_ok=True)
        os.chmod(data_dir / db_name, 0o600)
        fsync_dir(data_dir)
    except BaseException:
        _remove_tree(staging)
        if created:
            _remove_tree(data_dir)
        raise
    warnings = list(manifest.get("warnings", []))
    warnings += [f"attachment bytes missing from the backup: {h}" for h in missing]
    uploads = sum(1 for name in files if name.startswith("uploads/"))
    return RestoreResult(data_dir, tickets, uploads, revision, warnings)


def _private_folders(top: Path, parts: tuple[str, ...]) -> None:
    """Create the folders `parts` below `top`, each 0700 like the rest of the data folder
    (mkdir's parents=True would give all but the last the umask's default, 0755 for most)."""
    folder = top
    for part in parts:
        folder = folder / part
        folder.mkdir(mode=0o700, exist_ok=True)


def _extract_checked(
    zf: zipfile.ZipFile, name: str, expected: dict[str, Any], target: Path, zip_path: Path
) -> None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise BackupError(f"{zip_path} is incomplete: {name} is missing from it.") from None
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, zf.open(info) as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BackupError(f"{zip_path} is damaged: {name} cannot be read ({exc}).") from None
    if digest.hexdigest() != expected.get("sha256"):
        raise BackupError(
            f"{zip_path} is damaged: {name} does not match the checksum recorded when the "
            "backup was made. Nothing was restored; try another backup."
        )


def _check_database(db: Path, zip_path: Path) -> tuple[str | None, int, set[str]]:
    try:
        con = sqlite3.connect(db)
        try:
            result = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        result = [(str(exc),)]
    if result != [("ok",)]:
        raise BackupError(
            f"The database in {zip_path} fails SQLite's integrity check ({result[0][0]}). "
            "Nothing was restored; try another backup."
        )
    problem = _schema_problem(db)
    if problem is None:
        try:
            return _snapshot_facts(db)
        except sqlite3.Error as exc:
            problem = str(exc)
    raise BackupError(
        f"The database in {zip_path} is damaged: {problem}. Nothing was restored; try "
        "another backup."
    )


def _schema_problem(db: Path) -> str | None:
    """What the database lacks of the tables and columns this app's schema has, when it is at
    this app's schema revision (an older one is checked when it is upgraded, on opening; a
    newer one this app cannot judge)."""
    from . import schema

    con = sqlite3.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if schema.VERSION_TABLE not in tables:
            return None
        revision = con.execute(f"SELECT version_num FROM {schema.VERSION_TABLE}").fetchone()
        if revision is None or revision[0] != schema.head_revision():
            return None
        return schema.missing_from_schema(lambda sql: con.execute(sql).fetchall())
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        con.close()


def _remove_tree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()
