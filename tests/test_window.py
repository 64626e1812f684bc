"""The real native window (pywebview) under a virtual X display."""

from __future__ import annotations

import json

import pytest

from .conftest import artifact, wait_for

pytestmark = pytest.mark.window


def test_window_opens_loads_the_page_and_closes_cleanly(start_app, data_dir, virtual_display):
    app = start_app(data_dir, env={"DISPLAY": virtual_display.display, "WAYLAND_DISPLAY": ""})
    log_file = data_dir / "logs" / "tickettracker.log"

    def served_to_window():
        if app.proc.poll() is not None:
            raise AssertionError(
                f"the app exited: {app.proc.stdout.read()} {app.proc.stderr.read()}"
            )
        return log_file.exists() and "GET / 200" in log_file.read_text()

    wait_for(served_to_window, 90, "the window to load the ticket list")
    info = json.loads((data_dir / "server.json").read_text())
    assert info["url"].startswith("http://127.0.0.1:")

    def painted():
        # Xvfb's empty root window is pure black; the page (dark or light) paints over it.
        shot = virtual_display.screenshot(artifact("window.png"))
        from PIL import Image

        with Image.open(shot) as img:
            small = img.convert("RGB").resize((64, 40))
            px = small.load()
            painted = sum(1 for x in range(64) for y in range(40) if px[x, y] != (0, 0, 0))
            return painted > 0.5 * 64 * 40

    wait_for(painted, 60, "the window to paint the page")
    assert app.terminate() == 0
    out = app.proc.stdout.read()
    assert "opening TicketTracker in your web browser" not in out
