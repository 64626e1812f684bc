"""Shared fixtures: a fresh data folder per test, the real app, one live server and one
browser for all browser tests, and helpers to run the app as a real process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .chromium import CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
URL_LINE = re.compile(r"TicketTracker is running at (http://127\.0\.0\.1:(\d+))/\?token=(\S+)")


def need_tool(path_or_name: str, install_hint: str) -> str:
    """Return the tool's path, or fail the test saying how to install it (never skip)."""
    found = path_or_name if os.path.isfile(path_or_name) else shutil.which(path_or_name)
    if not found:
        pytest.fail(f"{path_or_name} is missing: {install_hint}", pytrace=False)
    return found


def wait_for(predicate, timeout: float, what: str):
    """Poll another process's state until `predicate` returns something true, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)  # polling another process, not waiting for time to pass
    raise AssertionError(f"timed out waiting for {what}")


def newer_data_dir(tmp_path: Path) -> Path:
    """A data folder whose database a newer TicketTracker wrote (a schema we do not know)."""
    from tickettracker import db

    data = tmp_path / "data"
    (data / "backups").mkdir(parents=True)
    engine = db.make_engine(data / "tickettracker.db")
    db.init_db(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    engine.dispose()
    return data


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


# --- the app in-process -------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def app(data_dir: Path):
    from tickettracker.web import create_app

    app = create_app(data_dir, {"TESTING": True})
    yield app
    app.extensions["tickettracker"].engine.dispose()


@pytest.fixture
def session(tmp_path):
    """A write session on a fresh database file, for tests of the services."""
    from tickettracker import db

    engine = db.make_engine(tmp_path / "t.db")
    db.init_db(engine)
    with db.make_sessionmaker(engine, write=True)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def client(app):
    """A test client that sends the bearer token, as API scripts do."""
    token = app.extensions["tickettracker"].token
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


# --- one live server for all browser tests ---------------------------------------------------


class LiveServer:
    def __init__(self, data_dir: Path) -> None:
        from waitress import create_server

        from tickettracker.web import create_app

        self.app = create_app(data_dir)
        self.server = create_server(self.app, host="127.0.0.1", port=0, threads=4)
        self.port = self.server.socket.getsockname()[1]
        self.app.config["TICKETTRACKER_PORT"] = self.port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token = self.app.extensions["tickettracker"].token
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/?token={self.token}"

    def api(self, method: str, path: str, json_body=None) -> tuple[int, object]:
        import json
        import urllib.error
        import urllib.request

        data = None if json_body is None else json.dumps(json_body).encode()
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def stop(self) -> None:
        from tickettracker.launcher import stop_server

        stop_server(self.server, self.thread)
        self.app.extensions["tickettracker"].engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("live") / "data")
    yield server
    server.stop()


# --- Playwright on Debian's Chromium ---------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    need_tool(CHROMIUM, "install Debian's Chromium: apt-get install -y chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "color_scheme": "dark",
        "viewport": {"width": 1280, "height": 860},
    }


@pytest.fixture
def app_page(page, live_server):
    """A browser page already let in (token cookie set) on the shared live server."""
    page.goto(live_server.login_url)
    return page


# --- the app as a real process --------------------------------------------------------------


def installed_command() -> str:
    """The `tickettracker` command pip installed beside this Python (what users start)."""
    return need_tool(
        str(Path(sys.executable).with_name("tickettracker")),
        "install the package with its command: pip install -e '.[test]'",
    )


class AppProcess:
    """The installed `tickettracker` command, running this checkout's code."""

    def __init__(self, data_dir: Path, *args: str, env: dict | None = None) -> None:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [installed_command(), "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []

    def wait_for_url(self, timeout: float = 60) -> tuple[str, str]:
        """Read stdout until the 'running at' line; return (base_url, token)."""
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                self.lines.append(line)
                match = URL_LINE.search(line)
                if match:
                    return match.group(1), match.group(3)
        finally:
            timer.cancel()
        raise AssertionError(
            f"the app printed no URL; stdout={self.lines!r} stderr={self.proc.stderr.read()!r}"
        )

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start_app():
    started: list[AppProcess] = []

    def start(data_dir: Path, *args: str, env: dict | None = None) -> AppProcess:
        proc = AppProcess(data_dir, *args, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        for stream in (proc.proc.stdout, proc.proc.stderr):
            if stream:
                stream.close()


# --- a virtual X display for the native window -----------------------------------------------


class VirtualDisplay:
    def __init__(self) -> None:
        xvfb = need_tool("Xvfb", "install the virtual display: apt-get install -y xvfb xauth")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.proc.kill()
            pytest.fail("Xvfb did not start: apt-get install -y xvfb xauth", pytrace=False)
        self.display = f":{number}"

    def screenshot(self, path: Path) -> Path:
        from PIL import ImageGrab

        ImageGrab.grab(xdisplay=self.display).save(path)
        return path

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="session")
def virtual_display() -> Iterator[VirtualDisplay]:
    display = VirtualDisplay()
    yield display
    display.stop()
