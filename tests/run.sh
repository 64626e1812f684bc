#!/usr/bin/env bash
# Install everything the tests need on a Debian/Ubuntu machine, then run the whole suite.
# Usage: bash tests/run.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "tests/run.sh: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "run as root or install sudo: system packages are needed"
  SUDO="sudo"
fi
command -v apt-get >/dev/null || fail "apt-get not found: this script installs Debian packages"

# Chromium drives the browser tests; Xvfb and the X/GL libraries let the Qt window open on a
# virtual display; desktop-file-utils checks the Linux launcher, which xdotool, x11-utils
# (xprop, xwininfo) and libglib2.0-bin (gio launch) start and drive like a desktop would.
PACKAGES=(
  chromium xvfb xauth desktop-file-utils xdotool x11-utils libglib2.0-bin
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 libxcb-shape0
  libxcb-xkb1 libxcb-cursor0 libxkbcommon-x11-0 libnss3 libegl1 libgl1 libfontconfig1
  libdbus-1-3 libxcomposite1 libxdamage1 libxrandr2 libxtst6 libasound2 fonts-dejavu-core
)
$SUDO apt-get update -q || fail "apt-get update failed"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "${PACKAGES[@]}" || fail "apt-get install failed"

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv .venv || fail "could not create .venv (install python3-venv)"
.venv/bin/python -m pip install -q --upgrade pip || fail "pip upgrade failed"
.venv/bin/python -m pip install -q -e ".[test]" || fail "pip install -e .[test] failed"

.venv/bin/ruff check . || fail "ruff check found problems"
.venv/bin/ruff format --check . || fail "ruff format: run '.venv/bin/ruff format .'"

# pytest exits 5 when it collected no tests: that is a failure here too.
exec .venv/bin/python -m pytest "$@"
