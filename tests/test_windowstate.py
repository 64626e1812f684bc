"""Remembering the window's geometry: reading window.json safely and fitting it to the screens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tickettracker.windowstate import Geometry, Screen, Tracker, fit, load, save

SCREEN = Screen(0, 0, 1920, 1080)


def test_missing_file_gives_the_default(tmp_path: Path) -> None:
    assert load(tmp_path / "window.json") == Geometry(1200, 800, None, None, False)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"width": "wide", "height": 600}',
        '{"width": true, "height": 600}',
        '{"width": 1e9, "height": 600}',
        '{"width": 900}',
    ],
)
def test_unusable_sizes_fall_back_to_the_default(tmp_path: Path, text: str) -> None:
    (tmp_path / "window.json").write_text(text)
    assert load(tmp_path / "window.json") == Geometry()


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    geometry = Geometry(900, 600, -300, 40, True)
    save(tmp_path / "window.json", geometry)
    assert load(tmp_path / "window.json") == geometry
    assert json.loads((tmp_path / "window.json").read_text()) == {
        "width": 900,
        "height": 600,
        "x": -300,
        "y": 40,
        "maximized": True,
    }
    assert [p.name for p in tmp_path.iterdir()] == ["window.json"]


def test_save_into_a_missing_folder_is_quietly_skipped(tmp_path: Path) -> None:
    save(tmp_path / "gone" / "window.json", Geometry())
    assert list(tmp_path.iterdir()) == []


def test_fit_keeps_a_window_that_is_on_screen() -> None:
    assert fit(Geometry(900, 600, 100, 50), [SCREEN]) == Geometry(900, 600, 100, 50)


def test_fit_allows_a_window_partly_off_screen_with_its_title_bar_reachable() -> None:
    assert fit(Geometry(900, 600, -800, 0), [SCREEN]).x == -800


@pytest.mark.parametrize("x, y", [(5000, 100), (-900, 100), (100, 1070), (100, -50)])
def test_fit_drops_a_position_out_of_reach(x: int, y: int) -> None:
    assert fit(Geometry(900, 600, x, y), [SCREEN]) == Geometry(900, 600, None, None)


def test_fit_uses_a_second_screen_to_the_left() -> None:
    screens = [SCREEN, Screen(-1280, 0, 1280, 1024)]
    assert fit(Geometry(900, 600, -1200, 30), screens).x == -1200


def test_fit_shrinks_to_the_largest_screen_and_grows_to_the_minimum() -> None:
    assert fit(Geometry(4000, 3000, 0, 0), [SCREEN]) == Geometry(1920, 1080, 0, 0)
    assert fit(Geometry(10, 10, 0, 0), [SCREEN]) == Geometry(480, 400, 0, 0)


def test_a_first_window_leaves_room_around_it_on_a_small_screen() -> None:
    assert fit(Geometry(), [Screen(0, 0, 1280, 800)]) == Geometry(1152, 720)
    assert fit(Geometry(), [SCREEN]) == Geometry(1200, 800)
    assert fit(Geometry(4000, 3000), [SCREEN]) == Geometry(1728, 972)


def test_a_dropped_position_also_leaves_room_around_the_window() -> None:
    assert fit(Geometry(1920, 1080, 5000, 0), [SCREEN]) == Geometry(1728, 972)


def test_fit_without_screen_information_only_applies_the_minimum() -> None:
    assert fit(Geometry(10, 10, 7000, 7000), []) == Geometry(480, 400, 7000, 7000)


def test_tracker_keeps_the_normal_geometry_while_maximized() -> None:
    tracker = Tracker(Geometry())
    tracker.moved(10, 20)
    tracker.resized(800, 500)
    tracker.set_maximized(True)
    tracker.moved(0, 0)
    tracker.resized(1920, 1080)
    assert tracker.geometry == Geometry(800, 500, 10, 20, True)
    tracker.set_maximized(False)
    tracker.resized(700, 450)
    assert tracker.geometry == Geometry(700, 450, 10, 20, False)


def test_tracker_settle_is_the_final_word() -> None:
    tracker = Tracker(Geometry(800, 500, 10, 20))
    tracker.settle(30, 40, 1000, 700, maximized=False)
    assert tracker.geometry == Geometry(1000, 700, 30, 40, False)
    tracker.settle(0, 0, 1920, 1080, maximized=True)
    assert tracker.geometry == Geometry(1000, 700, 30, 40, True)
