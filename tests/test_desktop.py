"""The freedesktop launcher: a valid .desktop entry, and install/uninstall for one user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tickettracker import desktop, icons

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "packaging" / "linux" / "tickettracker.desktop"


def validate(path: Path) -> None:
    """desktop-file-validate passes `path` without errors, warnings or hints."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.fail("desktop-file-validate is missing: apt-get install desktop-file-utils")
    result = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def unescape(value: str) -> str:
    """Undo a desktop entry string value's escapes (\\s \\n \\t \\r \\\\), left to right."""
    plain = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    out, chars = [], iter(value)
    for c in chars:
        out.append(plain[next(chars)] if c == "\\" else c)
    return "".join(out)


def entry_values(text: str, group: str = "Desktop Entry") -> dict[str, str]:
    """The keys of one group of a desktop entry, escapes undone."""
    values: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == group and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = unescape(value)
    return values


def exec_argv(exec_value: str) -> list[str]:
    """Split an Exec value as the spec says: spaces separate arguments; inside double quotes a
    backslash escapes the next character; %% stands for %."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = False
    chars = iter(exec_value)
    for c in chars:
        if quoted:
            if c == '"':
                quoted = False
            else:
                current.append(next(chars) if c == "\\" else c)
        elif c == " ":
            if current is not None:
                args.append("".join(current))
                current = None
        else:
            current = current if current is not None else []
            if c == '"':
                quoted = True
            else:
                current.append(c)
    assert not quoted, f"unbalanced quotes in Exec={exec_value}"
    if current is not None:
        args.append("".join(current))
    return [arg.replace("%%", "%") for arg in args]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder (None) under root."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty HOME with XDG_DATA_HOME unset."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    return home


def test_template_is_valid_and_matches_what_install_writes() -> None:
    validate(TEMPLATE)
    assert TEMPLATE.read_text(encoding="utf-8") == desktop.desktop_entry("tickettracker")


def test_install_writes_entry_and_every_icon_size(home: Path) -> None:
    command = home / "venv dir" / "bin" / "tickettracker"
    written = desktop.install(command)

    share = home / ".local" / "share"
    entry = share / "applications" / "tickettracker.desktop"
    assert entry in written
    validate(entry)
    values = entry_values(entry.read_text(encoding="utf-8"))
    assert exec_argv(values["Exec"]) == [str(command)]
    assert values["TryExec"] == str(command)
    assert values["Icon"] == "tickettracker"
    assert values["Name"] == "TicketTracker"
    browser = entry_values(entry.read_text(encoding="utf-8"), "Desktop Action browser")
    assert exec_argv(browser["Exec"]) == [str(command), "--browser"]

    theme = share / "icons" / "hicolor"
    for size in icons.THEME_SIZES:
        png = theme / f"{size}x{size}" / "apps" / "tickettracker.png"
        assert png.read_bytes() == icons.png(size).read_bytes()
    assert (theme / "scalable" / "apps" / "tickettracker.svg").read_bytes() == (
        icons.svg().read_bytes()
    )
    assert len(written) == len(icons.THEME_SIZES) + 2


@pytest.mark.parametrize(
    "folder",
    ["plain", "with space", "dollar$sign", 'quote"and`tick', "back\\slash", "100%"],
)
def test_exec_line_quotes_awkward_paths(home: Path, folder: str) -> None:
    command = home / folder / "tickettracker"
    desktop.install(command)
    entry = home / ".local" / "share" / "applications" / "tickettracker.desktop"
    validate(entry)
    assert exec_argv(entry_values(entry.read_text(encoding="utf-8"))["Exec"]) == [str(command)]


def test_install_then_uninstall_leaves_an_empty_home_empty(home: Path) -> None:
    desktop.install("/opt/tickettracker/bin/tickettracker")
    desktop.install("/opt/tickettracker/bin/tickettracker")  # a reinstall changes nothing
    assert (home / ".local" / "share" / "applications" / "tickettracker.desktop").is_file()
    removed = desktop.uninstall()
    assert home / ".local" in removed
    assert tree(home) == {}


def test_uninstall_keeps_everything_that_was_there_before(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "xdg data"
    monkeypatch.setenv("XDG_DATA_HOME", str(share))
    (share / "applications").mkdir(parents=True)
    (share / "applications" / "other.desktop").write_text("[Desktop Entry]\n")
    (share / "icons" / "hicolor" / "48x48" / "apps").mkdir(parents=True)
    (share / "icons" / "hicolor" / "48x48" / "apps" / "other.png").write_bytes(b"other")
    (share / "icons" / "hicolor" / "64x64" / "apps").mkdir(parents=True)  # empty, but not ours
    before = tree(share)

    desktop.install("/opt/tickettracker/bin/tickettracker")
    assert (share / "applications" / "tickettracker.desktop").is_file()
    assert (share / "icons" / "hicolor" / "64x64" / "apps" / "tickettracker.png").is_file()
    assert not (home / ".local").exists()

    desktop.uninstall()
    assert tree(share) == before


def test_uninstall_keeps_a_folder_the_user_filled_after_install(home: Path) -> None:
    desktop.install("/opt/tickettracker/bin/tickettracker")
    apps = home / ".local" / "share" / "icons" / "hicolor" / "32x32" / "apps"
    (apps / "mine.png").write_bytes(b"mine")
    desktop.uninstall()
    assert tree(home) == {
        ".local": None,
        ".local/share": None,
        ".local/share/icons": None,
        ".local/share/icons/hicolor": None,
        ".local/share/icons/hicolor/32x32": None,
        ".local/share/icons/hicolor/32x32/apps": None,
        ".local/share/icons/hicolor/32x32/apps/mine.png": b"mine",
    }


def test_uninstall_when_nothing_is_installed_is_harmless(home: Path) -> None:
    assert desktop.uninstall() == []
    assert tree(home) == {}


def test_relative_xdg_data_home_is_ignored(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert desktop.data_home() == home / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", "")
    assert desktop.data_home() == home / ".local" / "share"


def fake_command(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    command = folder / "tickettracker"
    command.write_text("#!/bin/sh\nexit 0\n")
    command.chmod(0o755)
    return command


def test_find_command_prefers_the_one_beside_this_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_command = fake_command(tmp_path / "venv" / "bin")
    path_command = fake_command(tmp_path / "elsewhere")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    monkeypatch.setenv("PATH", f"{path_command.parent}{os.pathsep}{os.environ['PATH']}")
    assert desktop.find_command() == venv_command


def test_find_command_falls_back_to_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path_command = fake_command(tmp_path / "elsewhere")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "novenv" / "python"))
    monkeypatch.setenv("PATH", str(path_command.parent))
    assert desktop.find_command() == path_command


def test_a_frozen_app_launches_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "TicketTracker" / "TicketTracker"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert desktop.find_command() == tmp_path / "TicketTracker" / "TicketTracker"


def test_missing_command_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "novenv" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(desktop.LauncherError, match="Install TicketTracker with pip"):
        desktop.find_command()


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("XDG_DATA_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "tickettracker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_installs_and_uninstalls_the_launcher(home: Path) -> None:
    entry = home / ".local" / "share" / "applications" / "tickettracker.desktop"
    installed = run_cli("install-desktop", "--command", "/opt/tt/bin/tickettracker", home=home)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.splitlines() == [
        f"Installed {entry} and the icon in {len(icons.THEME_SIZES) + 1} sizes.",
        "TicketTracker is now in your application menu.",
    ]
    validate(entry)
    assert exec_argv(entry_values(entry.read_text())["Exec"]) == ["/opt/tt/bin/tickettracker"]

    removed = run_cli("uninstall-desktop", home=home)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith("Removed ")
    assert tree(home) == {}
    again = run_cli("uninstall-desktop", home=home)
    assert again.stdout == "The TicketTracker launcher was not installed.\n"


def test_cli_says_what_to_do_when_the_command_is_not_installed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from tickettracker.cli import main

    monkeypatch.setattr(sys, "executable", str(tmp_path / "novenv" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["install-desktop"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tickettracker: Cannot find the installed `tickettracker` command")
    assert "Install TicketTracker with pip first" in err
    assert tree(home) == {}
