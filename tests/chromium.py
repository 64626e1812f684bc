"""Debian's Chromium for Playwright: where it is and how it is started (tests and docs/)."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("TICKETTRACKER_TEST_CHROMIUM", "/usr/bin/chromium")
# No sandbox (the tests run as root in CI), no GPU (none here), and nothing that would reach
# out to the network on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
