"""Data folder resolution, first start, token and the one-process-per-folder lock."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from tickettracker.config import load_defaults
from tickettracker.datadir import (
    InstanceLock,
    ensure_data_dir,
    load_or_create_token,
    resolve_data_dir,
)


def test_flag_wins_over_env_and_default(tmp_path):
    env = {"TICKETTRACKER_DATA_DIR": str(tmp_path / "from-env")}
    assert resolve_data_dir(tmp_path / "from-flag", env) == (tmp_path / "from-flag").resolve()


def test_env_var_used_without_flag(tmp_path):
    env = {"TICKETTRACKER_DATA_DIR": str(tmp_path / "from-env")}
    assert resolve_data_dir(None, env) == (tmp_path / "from-env").resolve()


def test_default_is_platform_user_data_dir():
    expected = Path(platformdirs.user_data_dir("TicketTracker", appauthor=False)).resolve()
    assert resolve_data_dir(None, {}) == expected


def test_tilde_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_dir("~/tickets", {}) == (tmp_path / "tickets").resolve()


def test_first_start_creates_folder_db_and_config(app, data_dir):
    assert (data_dir / "tickettracker.db").is_file()
    assert (data_dir / "uploads").is_dir()
    config = json.loads((data_dir / "config.json").read_text())
    assert config == load_defaults()
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700


def test_existing_config_is_never_overwritten(tmp_path):
    from tickettracker.web import create_app

    data = tmp_path / "d"
    data.mkdir()
    (data / "config.json").write_text('{"hold_reasons": ["Mine"]}\n')
    app = create_app(data)
    app.extensions["tickettracker"].engine.dispose()
    assert (data / "config.json").read_text() == '{"hold_reasons": ["Mine"]}\n'


def test_database_uses_wal_and_foreign_keys(app):
    engine = app.extensions["tickettracker"].engine
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_token_is_stable_and_private(tmp_path):
    ensure_data_dir(tmp_path)
    first = load_or_create_token(tmp_path)
    assert len(first) >= 32
    assert load_or_create_token(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "token").st_mode) == 0o600


def test_unwritable_parent_gives_clear_message(tmp_path):
    from tickettracker.datadir import DataDirError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    try:
        ensure_data_dir(blocker / "data")
    except DataDirError as exc:
        assert "--data-dir" in str(exc)
    else:
        raise AssertionError("expected DataDirError")


def test_a_file_given_as_the_data_folder_is_named_as_a_file(tmp_path):
    from tickettracker.datadir import DataDirError, ensure_data_dir

    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(DataDirError, match=r"notes\.txt is a file, not a folder"):
        ensure_data_dir(notes)
    assert notes.read_text() == "mine"


def test_lock_is_exclusive_and_released(tmp_path):
    ensure_data_dir(tmp_path)
    first, second = InstanceLock(tmp_path), InstanceLock(tmp_path)
    assert first.acquire()
    first.publish("http://127.0.0.1:1234")
    # flock is per open file description, so a second holder in this process is refused too.
    assert not second.acquire()
    assert second.running_url() == "http://127.0.0.1:1234"
    first.release()
    assert second.acquire()
    second.release()


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    ensure_data_dir(tmp_path)
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from tickettracker.datadir import InstanceLock\n"
        "lock = InstanceLock(Path(sys.argv[1]))\n"
        "assert lock.acquire()\n"
        "lock.publish('http://127.0.0.1:9')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env)
    assert proc.returncode == -9
    assert (tmp_path / "server.json").exists()  # left behind by the killed process
    lock = InstanceLock(tmp_path)
    assert lock.acquire()
    lock.release()


def test_launch_waits_for_a_folder_that_is_shutting_down(tmp_path):
    import threading

    from tickettracker.launcher import _acquire

    ensure_data_dir(tmp_path)
    stopping = InstanceLock(tmp_path)
    assert stopping.acquire()  # holds the lock but publishes no URL, as while stopping
    released = threading.Event()

    def finish_stopping() -> None:
        released.wait(10)
        stopping.release()

    threading.Thread(target=finish_stopping).start()
    waiting = InstanceLock(tmp_path)
    threading.Timer(0.3, released.set).start()
    assert _acquire(waiting, patience=20)
    waiting.release()


def test_launch_does_not_wait_for_a_running_app(tmp_path):
    from tickettracker.launcher import _acquire

    ensure_data_dir(tmp_path)
    running = InstanceLock(tmp_path)
    assert running.acquire()
    running.publish("http://127.0.0.1:5")
    assert not _acquire(InstanceLock(tmp_path), patience=20)
    running.release()
