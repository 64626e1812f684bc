"""The app as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tickettracker.launcher import problem_page

from .conftest import REPO_ROOT, installed_command, newer_data_dir

pytestmark = pytest.mark.process


def _api(base: str, token: str, method: str, path: str, body=None):
    req = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_serves_persists_and_stops_cleanly(start_app, data_dir):
    app = start_app(data_dir, "--no-open")
    base, token = app.wait_for_url()
    assert base.startswith("http://127.0.0.1:")
    status, ticket = _api(base, token, "POST", "/api/v1/tickets", {"title": "Survives restart"})
    assert status == 201
    assert app.terminate() == 0

    again = start_app(data_dir, "--no-open")
    base2, token2 = again.wait_for_url()
    assert token2 == token  # the folder's token is stable across launches
    _, listing = _api(base2, token2, "GET", "/api/v1/tickets")
    assert [t["title"] for t in listing["items"]] == ["Survives restart"]
    assert again.terminate() == 0


def test_sigint_stops_cleanly(start_app, data_dir):
    import signal

    app = start_app(data_dir, "--no-open")
    app.wait_for_url()
    app.proc.send_signal(signal.SIGINT)
    assert app.proc.wait(30) == 0


def test_token_is_required(start_app, data_dir):
    app = start_app(data_dir, "--no-open")
    base, _ = app.wait_for_url()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(base + "/api/v1/tickets", timeout=10)
    assert info.value.code == 401
    info.value.close()


def test_second_launch_prints_running_url_and_exits(start_app, data_dir):
    first = start_app(data_dir, "--no-open")
    base, token = first.wait_for_url()
    second = start_app(data_dir, "--no-open")
    out, _ = second.proc.communicate(timeout=60)
    assert second.proc.returncode == 0
    assert f"already running at {base}/?token={token}" in out
    assert first.proc.poll() is None  # the first one is untouched


def test_launch_after_sigkill_starts_normally(start_app, data_dir):
    first = start_app(data_dir, "--no-open")
    base, token = first.wait_for_url()
    _api(base, token, "POST", "/api/v1/tickets", {"title": "Before the crash"})
    first.proc.kill()
    first.proc.wait(10)

    second = start_app(data_dir, "--no-open")
    base2, token2 = second.wait_for_url()
    _, listing = _api(base2, token2, "GET", "/api/v1/tickets")
    assert [t["title"] for t in listing["items"]] == ["Before the crash"]
    assert second.terminate() == 0


def test_chosen_port_is_used_and_a_busy_port_is_explained(start_app, data_dir, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        app = start_app(data_dir, "--no-open", "--port", str(busy))
        out, _ = app.proc.communicate(timeout=60)
        assert app.proc.returncode == 2
        assert f"Cannot listen on 127.0.0.1 port {busy}" in out

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    app = start_app(tmp_path / "other", "--no-open", "--port", str(free))
    base, _ = app.wait_for_url()
    assert base == f"http://127.0.0.1:{free}"


def test_browser_mode_without_a_browser_prints_the_url(start_app, data_dir):
    # No display and no browser here: the app must say so and still serve.
    app = start_app(data_dir, "--browser", env={"DISPLAY": "", "BROWSER": "false"})
    base, token = app.wait_for_url()
    status, _ = _api(base, token, "GET", "/api/v1/tickets")
    assert status == 200
    assert app.terminate() == 0


def test_window_mode_without_display_falls_back_to_browser(start_app, data_dir):
    app = start_app(data_dir, env={"DISPLAY": "", "WAYLAND_DISPLAY": "", "BROWSER": "false"})
    base, token = app.wait_for_url()
    joined = "".join(app.lines)
    assert "No display found" in joined
    assert "opening TicketTracker in your web browser instead" in joined
    assert "Traceback" not in joined
    assert app.terminate() == 0


def test_version_and_help():
    env_cmd = [sys.executable, "-m", "tickettracker"]
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([*env_cmd, "--version"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.startswith("TicketTracker ")
    out = subprocess.run([*env_cmd, "--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0
    for flag in ("--data-dir", "--port", "--browser", "--no-open", "--version"):
        assert flag in out.stdout


def test_console_script_is_installed():
    """The pip-installed `tickettracker` command exists next to this Python."""
    out = subprocess.run([installed_command(), "--version"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_unreachable_display_falls_back_without_crashing(start_app, data_dir):
    # A DISPLAY that names no running X server (a stale ssh or desktop session).
    app = start_app(data_dir, env={"DISPLAY": ":4242", "WAYLAND_DISPLAY": "", "BROWSER": "false"})
    base, token = app.wait_for_url()
    joined = "".join(app.lines)
    assert "Cannot connect to the display (DISPLAY=:4242)" in joined
    assert "opening TicketTracker in your web browser instead" in joined
    assert _api(base, token, "GET", "/api/v1/tickets")[0] == 200
    assert app.terminate() == 0
    assert "Traceback" not in app.proc.stderr.read()


def test_empty_data_dir_is_refused(start_app):
    app = start_app("", "--no-open")
    out, err = app.proc.communicate(timeout=60)
    assert app.proc.returncode == 2
    assert "--data-dir needs a folder" in err


@pytest.mark.parametrize("mode", [["--browser"], []], ids=["browser", "window-without-display"])
def test_a_start_failure_is_shown_in_the_browser_too(start_app, tmp_path, mode):
    """Started from a menu there is no terminal: the reason must reach the screen."""
    data = newer_data_dir(tmp_path)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n')
    browser.chmod(0o755)
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "BROWSER": str(browser)}
    app = start_app(data, *mode, env=env)
    _, err = app.proc.communicate(timeout=60)
    assert app.proc.returncode == 2
    assert "was last used by a newer TicketTracker" in err
    assert "Traceback" not in err
    [uri] = opened.read_text().split()
    assert uri.startswith("file:///") and uri.endswith(".html")
    page = Path(urllib.parse.unquote(uri.removeprefix("file://")))
    try:
        shown = page.read_text(encoding="utf-8")
    finally:
        page.unlink()
    assert "<h1>TicketTracker could not start</h1>" in shown
    assert "was last used by a newer TicketTracker (schema 9999_from_the_future)" in shown
    assert "Install the newer TicketTracker" in shown


def test_the_start_failure_page_shows_the_message_as_text():
    page = problem_page('Cannot save in /home/a&b/<script>alert(1)</script> "x"')
    assert "<script>alert" not in page
    assert "/home/a&amp;b/&lt;script&gt;alert(1)&lt;/script&gt; &quot;x&quot;" in page
