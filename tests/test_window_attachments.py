"""The real pywebview (Qt) window under Xvfb: a download is really saved to disk, under its
own name and byte for byte, a link to another site opens in the system browser, and files
dragged in from the desktop are attached."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from PIL import Image

from .cdp import CDPPage, page_target
from .conftest import REPO_ROOT, need_tool, wait_for

pytestmark = pytest.mark.window

OUTSIDE = "https://127.0.0.2:9/vendor-manual"  # never contacted: the "browser" just notes it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base: str, token: str, method: str, path: str, body: bytes, ctype: str) -> dict:
    req = urllib.request.Request(
        base + path,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def test_window_downloads_opens_links_outside_and_takes_dropped_files(
    start_app, data_dir, tmp_path, virtual_display
):
    xdotool = need_tool("xdotool", "apt-get install -y xdotool")
    server = start_app(data_dir, "--no-open")
    base, token = server.wait_for_url()
    ticket = call(
        base,
        token,
        "POST",
        "/api/v1/tickets",
        json.dumps({"title": "Projector", "links": [{"url": OUTSIDE, "title": "Manual"}]}).encode(),
        "application/json",
    )
    data = os.urandom(300_000)
    name = "Счёт 报告 (final).bin"
    boundary = "window-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    call(
        base,
        token,
        "POST",
        f"/api/v1/tickets/{ticket['id']}/attachments",
        body,
        f"multipart/form-data; boundary={boundary}",
    )

    home = tmp_path / "home"
    downloads = home / "Downloads"
    downloads.mkdir(parents=True)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n')
    browser.chmod(0o755)
    devtools = free_port()
    env = {
        **os.environ,
        "DISPLAY": virtual_display.display,
        "WAYLAND_DISPLAY": "",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "BROWSER": str(browser),
        "QTWEBENGINE_REMOTE_DEBUGGING": f"127.0.0.1:{devtools}",
        "PYTHONPATH": str(REPO_ROOT),
    }
    page_url = f"{base}/tickets/{ticket['id']}"
    window = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tickettracker.window import open_window; open_window(sys.argv[1])",
            f"{page_url}?token={token}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    page = None
    try:
        page = CDPPage(page_target(devtools, f"/tickets/{ticket['id']}", 90))
        wait_for(
            lambda: (
                page.evaluate("document.readyState") == "complete"
                and page.evaluate("!!document.querySelector('#files .attachment')")
            ),
            30,
            "the ticket page in the window",
        )

        # A link to another site: the system browser gets it; the window stays on the ticket.
        page.click(f'a[href="{OUTSIDE}"]')
        wait_for(lambda: opened.exists() and opened.read_text().strip(), 30, "the browser")
        assert opened.read_text().split() == [OUTSIDE]
        assert page.evaluate("location.href") == page_url

        # A download: Save dialog with the file's own name in Downloads, Enter saves it.
        page.click("#files a.download")
        dialog = wait_for(
            lambda: subprocess.run(
                [xdotool, "search", "--onlyvisible", "--name", "^Save file$"],
                env=env,
                capture_output=True,
                text=True,
            ).stdout.split(),
            30,
            "the Save dialog",
        )[0]
        subprocess.run([xdotool, "windowfocus", "--sync", dialog], env=env, timeout=30)
        subprocess.run([xdotool, "key", "Return"], env=env, timeout=30)
        saved = downloads / name
        wait_for(lambda: saved.exists() and saved.stat().st_size == len(data), 30, f"{saved} saved")
        assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(data).digest()
        assert sorted(p.name for p in downloads.iterdir()) == [name]  # no partial leftovers

        # Files dragged in from the desktop and dropped on "Files" are attached at once.
        picture = tmp_path / "whiteboard photo.png"
        Image.new("RGB", (64, 48), (20, 140, 90)).save(picture)
        page.drop_files("#files", [str(picture)])
        wait_for(
            lambda: page.evaluate(
                "[...document.querySelectorAll('#files img.attachment-preview')]"
                ".some((img) => img.complete && img.naturalWidth === 64)"
            ),
            30,
            "the dropped picture's preview in the window",
        )
        assert window.poll() is None, window.stderr.read()
    finally:
        if page is not None:
            page.close()
        window.kill()
        window.wait(30)
        window.stderr.close()
