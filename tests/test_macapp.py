"""The macOS bundle script, run here: Info.plist, icon and a launcher that really starts."""

from __future__ import annotations

import io
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import IcnsImagePlugin, Image

import tickettracker
from tickettracker import icons, macapp

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "packaging" / "macos" / "build_app.py"


def fake_command(folder: Path) -> Path:
    """An executable `tickettracker` that records its arguments and environment."""
    folder.mkdir(parents=True, exist_ok=True)
    command = folder / "tickettracker"
    command.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$HOME/args.txt"\nenv > "$HOME/env.txt"\necho started\n'
    )
    command.chmod(0o755)
    return command


def build(
    *args: str, env: dict[str, str] | None = None, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=60,
    )


def read_plist(app: Path) -> dict[str, object]:
    with (app / "Contents" / "Info.plist").open("rb") as f:
        return plistlib.load(f)


def test_bundle_has_info_plist_icon_and_executable_launcher(tmp_path: Path) -> None:
    command = fake_command(tmp_path / "venv with space" / "bin")
    result = build("--dest", str(tmp_path / "Applications"), "--command", str(command))
    assert result.returncode == 0, result.stderr
    app = tmp_path / "Applications" / "TicketTracker.app"
    assert f"Built {app}" in result.stdout

    info = read_plist(app)
    assert info["CFBundleName"] == "TicketTracker"
    assert info["CFBundleIdentifier"] == "org.tickettracker.TicketTracker"
    assert info["CFBundlePackageType"] == "APPL"
    assert info["LSMinimumSystemVersion"] == macapp.MIN_MACOS
    assert info["NSHighResolutionCapable"] is True
    assert info["CFBundleShortVersionString"] == tickettracker.__version__
    assert (app / "Contents" / "PkgInfo").read_bytes() == b"APPL????"

    launcher = app / "Contents" / "MacOS" / str(info["CFBundleExecutable"])
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    assert launcher.read_text().startswith("#!/bin/sh\n")
    assert f"COMMAND='{command}'" in launcher.read_text()

    icns = app / "Contents" / "Resources" / str(info["CFBundleIconFile"])
    assert icns.read_bytes()[:4] == b"icns"
    # Read it back with Pillow's own icns reader: every size from 16 px to 512 pt at 2x.
    with icns.open("rb") as f:
        parsed = IcnsImagePlugin.IcnsFile(f)
        sizes = set(parsed.itersizes())
        assert sizes == {(n, n, s) for n in (16, 32, 128, 256, 512) for s in (1, 2)}
        for width, height, scale in sizes:
            image = parsed.getimage((width, height, scale))
            assert image.size == (width * scale, height * scale)
            expected = Image.open(io.BytesIO(icons.png(width * scale).read_bytes()))
            assert image.convert("RGBA").tobytes() == expected.convert("RGBA").tobytes()


def test_launcher_starts_the_command_with_a_sane_environment(tmp_path: Path) -> None:
    command = fake_command(tmp_path / "bin")
    app = macapp.build(command, tmp_path / "Applications")
    launcher = app / "Contents" / "MacOS" / "TicketTracker"
    home = tmp_path / "home"
    home.mkdir()
    # Finder's environment: almost nothing. -psn_ is what old macOS adds.
    result = subprocess.run(
        [str(launcher), "--browser", "-psn_0_12345", "two words"],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert (home / "args.txt").read_text().splitlines() == ["--browser", "two words"]
    env = dict(line.split("=", 1) for line in (home / "env.txt").read_text().splitlines())
    assert env["LANG"] == "en_US.UTF-8"
    path = env["PATH"].split(":")
    assert {"/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin"} <= set(path)
    log = home / "Library" / "Logs" / "TicketTracker" / "launcher.log"
    assert log.read_text() == "started\n"


def test_launcher_keeps_the_users_locale(tmp_path: Path) -> None:
    app = macapp.build(fake_command(tmp_path / "bin"), tmp_path / "Applications")
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(
        [str(app / "Contents" / "MacOS" / "TicketTracker")],
        env={"HOME": str(home), "LANG": "de_DE.UTF-8"},
        check=True,
        timeout=30,
    )
    assert "LANG=de_DE.UTF-8" in (home / "env.txt").read_text().splitlines()


def test_launcher_explains_a_removed_command(tmp_path: Path) -> None:
    command = fake_command(tmp_path / "bin")
    app = macapp.build(command, tmp_path / "Applications")
    command.unlink()
    result = subprocess.run(
        [str(app / "Contents" / "MacOS" / "TicketTracker")],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"no longer installed at {command}" in result.stderr


def python_in(folder: Path) -> str:
    """A Python whose sys.executable lives in `folder`, as in a fresh virtual environment."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "python").symlink_to(sys.executable)
    return str(folder / "python")


def test_script_finds_the_command_installed_beside_its_python(tmp_path: Path) -> None:
    command = fake_command(tmp_path / "venv" / "bin")
    other = fake_command(tmp_path / "elsewhere")
    result = build(
        "--dest",
        str(tmp_path / "Apps"),
        python=python_in(command.parent),
        env={"PATH": f"{other.parent}{os.pathsep}/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert read_plist(tmp_path / "Apps" / "TicketTracker.app")["TicketTrackerCommand"] == str(
        command
    )


def test_script_falls_back_to_the_command_on_path(tmp_path: Path) -> None:
    other = fake_command(tmp_path / "elsewhere")
    result = build(
        "--dest",
        str(tmp_path / "Apps"),
        python=python_in(tmp_path / "venv" / "bin"),
        env={"PATH": f"{other.parent}{os.pathsep}/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert read_plist(tmp_path / "Apps" / "TicketTracker.app")["TicketTrackerCommand"] == str(other)


def test_script_reports_a_missing_command(tmp_path: Path) -> None:
    result = build(
        "--dest",
        str(tmp_path / "Apps"),
        python=python_in(tmp_path / "venv" / "bin"),
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1
    assert "Install TicketTracker with pip" in result.stderr
    assert not (tmp_path / "Apps").exists()


def test_rebuild_replaces_and_remove_deletes(tmp_path: Path) -> None:
    first = fake_command(tmp_path / "one")
    second = fake_command(tmp_path / "two")
    app = macapp.build(first, tmp_path / "Apps")
    assert macapp.build(second, tmp_path / "Apps") == app
    assert read_plist(app)["TicketTrackerCommand"] == str(second)
    assert sorted(p.name for p in (tmp_path / "Apps").iterdir()) == ["TicketTracker.app"]

    result = build("--dest", str(tmp_path / "Apps"), "--remove")
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "Apps").iterdir()) == []


def test_a_foreign_bundle_is_left_alone(tmp_path: Path) -> None:
    foreign = tmp_path / "TicketTracker.app" / "Contents"
    foreign.mkdir(parents=True)
    (foreign / "Info.plist").write_bytes(plistlib.dumps({"CFBundleIdentifier": "com.example"}))
    with pytest.raises(macapp.BundleError, match="not a TicketTracker bundle"):
        macapp.build("/opt/bin/tickettracker", tmp_path)
    with pytest.raises(macapp.BundleError, match="left it alone"):
        macapp.remove(tmp_path)
    assert (foreign / "Info.plist").is_file()


def test_relative_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(macapp.BundleError, match="full path"):
        macapp.build("tickettracker", tmp_path)


def test_script_writes_just_the_icns(tmp_path: Path) -> None:
    result = build("--icns", str(tmp_path / "TicketTracker.icns"))
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "TicketTracker.icns").read_bytes()
    assert data == macapp.app_icns()
    assert Image.open(io.BytesIO(data)).size == (1024, 1024)


def test_install_desktop_on_macos_builds_the_app_in_the_users_applications(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from tickettracker.cli import main

    command = fake_command(tmp_path / "venv" / "bin")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(sys, "executable", str(command.parent / "python"))
    assert main(["install-desktop"]) == 0
    app = tmp_path / "home" / "Applications" / "TicketTracker.app"
    assert capsys.readouterr().out.startswith(f"Built {app}: it starts {command}.")
    assert read_plist(app)["TicketTrackerCommand"] == str(command)

    assert main(["uninstall-desktop"]) == 0
    assert capsys.readouterr().out == f"Removed {app}.\n"
    assert list((tmp_path / "home" / "Applications").iterdir()) == []


def test_install_desktop_on_windows_says_it_is_not_supported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from tickettracker.cli import main

    monkeypatch.setattr(sys, "platform", "win32")
    assert main(["install-desktop"]) == 2
    assert "does not support Windows yet" in capsys.readouterr().err
