"""Loading defaults.json and the user's config.json: merge, validation, problems, first start."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tickettracker.config import (
    DEFAULTS_SOURCE,
    Problem,
    default_priority,
    ensure_user_config,
    hold_reasons,
    load_config,
    load_defaults,
    priority_keys,
    priority_label,
    priority_rank,
    priority_target_hours,
    problems_for_unknown_priorities,
)

COLOR = re.compile(r"#[0-9a-f]{6}")


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def position(text: str, fragment: str) -> tuple[int, int]:
    """1-based line and column where `fragment` first starts in `text`."""
    index = text.index(fragment)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def load_unchanged(path: Path):
    """Load, and prove the user's file was not touched."""
    before = path.read_bytes(), path.stat().st_mtime_ns
    loaded = load_config(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    return loaded


def only_problem(loaded) -> Problem:
    assert len(loaded.problems) == 1, [p.describe() for p in loaded.problems]
    return loaded.problems[0]


# --- defaults -----------------------------------------------------------------------------------


def test_defaults_hold_what_the_architecture_promises():
    config = load_defaults()
    assert priority_keys(config) == ["urgent", "high", "normal", "low"]
    assert [p["target_hours"] for p in config["priorities"]] == [4, 24, 72, 168]
    assert config["default_priority"] == "normal"
    assert config["hold_reasons"]
    for stops in (config["sla"]["due_gradient"], config["sla"]["age_gradient"]):
        assert [s["at"] for s in stops] == sorted(s["at"] for s in stops)
        assert all(COLOR.fullmatch(s["color"]) for s in stops)
    assert all(COLOR.fullmatch(c) for c in config["sla"]["colors"].values())


def test_load_defaults_returns_a_fresh_copy():
    first = load_defaults()
    first["priorities"].clear()
    assert load_defaults()["priorities"]


def test_defaults_only_without_a_user_file(tmp_path):
    for path in (None, tmp_path / "missing.json"):
        loaded = load_config(path)
        assert loaded.config == load_defaults()
        assert loaded.problems == []
        assert set(loaded.sources.values()) == {DEFAULTS_SOURCE}
        assert set(loaded.sources) == set(load_defaults())
        assert loaded.path == path


def test_defaults_written_as_a_user_file_pass_validation(tmp_path):
    path = tmp_path / "config.json"
    assert ensure_user_config(path)
    loaded = load_unchanged(path)
    assert loaded.problems == []
    assert loaded.config == load_defaults()
    assert set(loaded.sources.values()) == {str(path)}


# --- first start ----------------------------------------------------------------------------


def test_first_start_writes_a_readable_config(tmp_path):
    path = tmp_path / "data" / "config.json"
    assert ensure_user_config(path) is True
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == load_defaults()
    assert text.count("\n") > 20  # pretty, one setting a line, for people to edit
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no temp left


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = write(tmp_path, '{"hold_reasons": ["Mine"]}')
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert ensure_user_config(path) is False
    assert path.read_text(encoding="utf-8") == '{"hold_reasons": ["Mine"]}'
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_a_broken_existing_file_is_not_replaced_either(tmp_path):
    path = write(tmp_path, "{ not json")
    assert ensure_user_config(path) is False
    assert path.read_text(encoding="utf-8") == "{ not json"


# --- overrides --------------------------------------------------------------------------------


def test_partial_override_deep_merges(tmp_path):
    path = write(tmp_path, '{"sla": {"colors": {"on_hold": "#AABBCC"}, "due_window_hours": 72}}')
    loaded = load_unchanged(path)
    assert loaded.problems == []
    sla = loaded.config["sla"]
    assert sla["colors"]["on_hold"] == "#aabbcc"  # normalised to lower case
    assert sla["colors"]["resolved"] == load_defaults()["sla"]["colors"]["resolved"]
    assert sla["due_window_hours"] == 72
    assert sla["due_gradient"] == load_defaults()["sla"]["due_gradient"]
    assert loaded.sources["sla"] == str(path)
    assert loaded.sources["priorities"] == DEFAULTS_SOURCE


def test_a_list_replaces_the_default_list(tmp_path):
    path = write(
        tmp_path,
        json.dumps(
            {
                "priorities": [
                    {"key": "p1", "label": "P1", "target_hours": 2},
                    {"key": "p2", "label": "P2", "target_hours": 8.5},
                ],
                "default_priority": "p2",
                "hold_reasons": ["Waiting on the moon"],
            }
        ),
    )
    loaded = load_unchanged(path)
    assert loaded.problems == []
    assert priority_keys(loaded.config) == ["p1", "p2"]
    assert default_priority(loaded.config) == "p2"
    assert hold_reasons(loaded.config) == ["Waiting on the moon"]
    assert loaded.sources["hold_reasons"] == str(path)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, b'\xef\xbb\xbf{"list": {"page_size": 20}}')
    loaded = load_unchanged(path)
    assert loaded.problems == []
    assert loaded.config["list"]["page_size"] == 20


def test_an_empty_object_means_all_defaults(tmp_path):
    loaded = load_unchanged(write(tmp_path, "{}\n"))
    assert loaded.problems == [] and loaded.config == load_defaults()


# --- a file that cannot be used at all ---------------------------------------------------------


def test_json_syntax_error_gives_line_and_column(tmp_path):
    text = '{\n  "sla": {\n    "due_window_hours": 24\n    "pause_on_hold": false\n  }\n}\n'
    path = write(tmp_path, text)
    loaded = load_unchanged(path)
    problem = only_problem(loaded)
    assert (problem.line, problem.column) == position(text, '"pause_on_hold"')
    assert problem.file == str(path)
    assert "not valid JSON" in problem.error and "comma" in problem.error
    assert loaded.config == load_defaults()
    assert set(loaded.sources.values()) == {DEFAULTS_SOURCE}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("[1, 2]", "one JSON object"),
        ('"just text"', "one JSON object"),
        ('{"sla": {"due_window_hours": NaN}}', "NaN"),
        (b'{"hold_reasons": ["caf\xe9"]}', "UTF-8"),
        ("{'single': 'quotes'}", "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
    ],
    ids=["empty", "blank", "list", "string", "nan", "latin1", "quotes", "trailing-comma"],
)
def test_unusable_file_falls_back_to_defaults(tmp_path, content, expected):
    path = write(tmp_path, content)
    loaded = load_unchanged(path)
    problem = only_problem(loaded)
    assert expected in problem.error
    assert "default" in problem.error  # says what happens meanwhile
    assert loaded.config == load_defaults()


def test_non_utf8_points_at_the_bad_byte(tmp_path):
    path = write(tmp_path, b'{\n  "hold_reasons": ["caf\xe9"]\n}')
    problem = only_problem(load_unchanged(path))
    assert (problem.line, problem.column) == (2, 24)  # the é


def test_unreadable_file_is_reported(tmp_path):
    path = tmp_path / "config.json"
    path.mkdir()  # a folder where the file should be: reading fails for root too
    loaded = load_config(path)
    problem = only_problem(loaded)
    assert "cannot read" in problem.error
    assert loaded.config == load_defaults()


# --- a broken part falls back alone ------------------------------------------------------------


def check_part(tmp_path, data: dict, key: str, fragment: str | None, words: list[str]):
    """Load `data`; exactly one problem at `key`, placed where `fragment` is in the file."""
    text = json.dumps(data, indent=2)
    path = write(tmp_path, text)
    loaded = load_unchanged(path)
    problem = only_problem(loaded)
    assert problem.key == key
    if fragment is not None:
        assert (problem.line, problem.column) == position(text, fragment)
    for word in words:
        assert word in problem.error, problem.error
    return loaded


def test_a_part_whose_every_setting_was_broken_counts_as_default(tmp_path):
    text = '{"sla": {"colors": {"on_hold": "nope"}}, "list": {"page_size": 20}}'
    loaded = load_unchanged(write(tmp_path, text))
    assert loaded.sources["sla"] == DEFAULTS_SOURCE
    assert loaded.sources["list"] == str(loaded.path)


def test_wrong_type_keeps_the_rest_of_the_file(tmp_path):
    data = {
        "hold_reasons": ["Only this"],
        "sla": {"due_window_hours": "a week", "colors": {"resolved": "#00ff00"}},
    }
    loaded = check_part(
        tmp_path, data, "sla.due_window_hours", '"a week"', ["a number", "168", "text"]
    )
    assert loaded.config["sla"]["due_window_hours"] == 168
    assert loaded.config["sla"]["colors"]["resolved"] == "#00ff00"
    assert loaded.config["hold_reasons"] == ["Only this"]


@pytest.mark.parametrize(
    ("data", "key", "fragment", "words"),
    [
        ({"sla": {"pause_on_hold": "yes"}}, "sla.pause_on_hold", '"yes"', ["true/false"]),
        ({"sla": {"pause_on_hold": 1}}, "sla.pause_on_hold", "1", ["true/false"]),
        ({"sla": "fast"}, "sla", '"fast"', ["object"]),
        ({"sla": {"colors": []}}, "sla.colors", "[]", ["object"]),
        ({"sla": {"due_window_hours": 0}}, "sla.due_window_hours", "0", ["greater than 0"]),
        ({"sla": {"due_window_hours": True}}, "sla.due_window_hours", "true", ["a number"]),
        ({"list": {"page_size": 10.5}}, "list.page_size", "10.5", ["whole number"]),
        ({"list": {"page_size": -5}}, "list.page_size", "-5", ["greater than 0"]),
        ({"uploads": {"max_file_mb": None}}, "uploads.max_file_mb", "null", ["null"]),
        ({"default_priority": 3}, "default_priority", "3", ["text"]),
    ],
    ids=[
        "bool-as-text",
        "bool-as-number",
        "object-as-text",
        "object-as-list",
        "zero-window",
        "number-as-bool",
        "fractional-page-size",
        "negative",
        "null",
        "key-as-number",
    ],
)
def test_wrong_types(tmp_path, data, key, fragment, words):
    loaded = check_part(tmp_path, data, key, fragment, words)
    assert loaded.config == load_defaults()


@pytest.mark.parametrize(
    "bad", ["lavender", "#abc", "#gggggg", "c4b5fd", "#c4b5fd80", 12, None], ids=str
)
def test_bad_colour_string(tmp_path, bad):
    data = {"sla": {"colors": {"on_hold": bad, "closed": "#111111"}}}
    loaded = check_part(tmp_path, data, "sla.colors.on_hold", None, ["#rrggbb", "#c4b5fd"])
    assert loaded.config["sla"]["colors"]["on_hold"] == "#c4b5fd"
    assert loaded.config["sla"]["colors"]["closed"] == "#111111"


def test_bad_colour_is_located(tmp_path):
    text = '{\n  "sla": {\n    "colors": {\n      "on_hold": "lavender"\n    }\n  }\n}\n'
    problem = only_problem(load_unchanged(write(tmp_path, text)))
    assert (problem.line, problem.column) == (4, 18)
    assert problem.describe() == (
        f"{tmp_path / 'config.json'}, line 4, column 18 (sla.colors.on_hold): {problem.error}"
    )


GOOD_STOPS = [{"at": 0.0, "color": "#000000"}, {"at": 1.0, "color": "#ffffff"}]


@pytest.mark.parametrize(
    ("stops", "key", "words"),
    [
        (
            [{"at": 0.6, "color": "#000000"}, {"at": 0.3, "color": "#ffffff"}],
            "sla.due_gradient[1].at",
            ["rising order"],
        ),
        ([{"at": -0.1, "color": "#000000"}], "sla.due_gradient[0].at", ["from 0 to 1"]),
        ([{"at": 1.5, "color": "#000000"}], "sla.due_gradient[0].at", ["from 0 to 1"]),
        ([{"at": "half", "color": "#000000"}], "sla.due_gradient[0].at", ["from 0 to 1"]),
        ([{"at": 0.5, "color": "red"}], "sla.due_gradient[0].color", ["#rrggbb"]),
        ([{"at": 0.5}], "sla.due_gradient[0]", ['"color"']),
        ([{"at": 0.5, "color": "#000000", "alpha": 1}], "sla.due_gradient[0]", ["exactly"]),
        (["#000000"], "sla.due_gradient[0]", ["object"]),
        ([], "sla.due_gradient", ["empty list"]),
        ("#ff0000", "sla.due_gradient", ["list of colour stops"]),
    ],
    ids=[
        "out-of-order",
        "below-0",
        "above-1",
        "not-a-number",
        "bad-colour",
        "missing-colour",
        "extra-field",
        "not-an-object",
        "empty",
        "not-a-list",
    ],
)
def test_broken_gradient_falls_back_as_a_whole(tmp_path, stops, key, words):
    data = {"sla": {"due_gradient": stops, "age_gradient": GOOD_STOPS}}
    loaded = check_part(tmp_path, data, key, None, [*words, "default gradient"])
    assert loaded.config["sla"]["due_gradient"] == load_defaults()["sla"]["due_gradient"]
    assert loaded.config["sla"]["age_gradient"] == GOOD_STOPS


def test_equal_stops_make_a_hard_step_and_are_allowed(tmp_path):
    stops = [
        {"at": 0.0, "color": "#000000"},
        {"at": 0.5, "color": "#000000"},
        {"at": 0.5, "color": "#FFFFFF"},
    ]
    loaded = load_unchanged(write(tmp_path, json.dumps({"sla": {"age_gradient": stops}})))
    assert loaded.problems == []
    assert loaded.config["sla"]["age_gradient"][2]["color"] == "#ffffff"


def test_gradient_problem_is_placed_at_the_stop(tmp_path):
    text = (
        '{"sla": {"due_gradient": [\n'
        '  {"at": 0.0, "color": "#000000"},\n'
        '  {"at": 2, "color": "#ffffff"}\n'
        "]}}\n"
    )
    problem = only_problem(load_unchanged(write(tmp_path, text)))
    assert (problem.line, problem.column) == position(text, "2, ")


P = {"key": "p1", "label": "P1", "target_hours": 4}


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"label": "Critical", "target_hours": 1}, ['no "key"']),
        ({"key": "critical", "target_hours": 1}, ['needs a "label"']),
        ({"key": "critical", "label": "  ", "target_hours": 1}, ['needs a "label"']),
        ({"key": "critical", "label": "Critical"}, ['needs "target_hours"']),
        ({"key": "critical", "label": "Critical", "target_hours": 0}, ["greater than 0"]),
        ({"key": "critical", "label": "Critical", "target_hours": "1h"}, ["greater than 0"]),
        ({"key": "Critical Now", "label": "Critical", "target_hours": 1}, ["lowercase"]),
        ({"key": 7, "label": "Critical", "target_hours": 1}, ["lowercase"]),
        (dict(P), ["used twice"]),
        ("critical", ["must be an object"]),
    ],
    ids=[
        "no-key",
        "no-label",
        "blank-label",
        "no-target",
        "zero-target",
        "text-target",
        "key-with-space",
        "key-as-number",
        "duplicate",
        "not-an-object",
    ],
)
def test_broken_priority_is_dropped_and_the_others_kept(tmp_path, item, words):
    data = {"priorities": [P, item], "default_priority": "p1"}
    loaded = check_part(tmp_path, data, "priorities[1]", None, words)
    assert loaded.config["priorities"] == [P]
    assert loaded.sources["priorities"] == str(loaded.path)


def test_priority_problem_points_at_the_entry(tmp_path):
    text = '{"priorities": [\n  {"key": "a", "label": "A", "target_hours": 1},\n  {"key": "b"}\n]}'
    loaded = load_unchanged(write(tmp_path, text))
    located = [p for p in loaded.problems if p.key == "priorities[1]"]
    assert [(p.line, p.column) for p in located] == [(3, 3)]


def test_no_usable_priority_means_default_priorities(tmp_path):
    data = {"priorities": [{"key": "x"}]}
    text = json.dumps(data)
    loaded = load_unchanged(write(tmp_path, text))
    assert [p.key for p in loaded.problems] == ["priorities[0]", "priorities"]
    assert loaded.config["priorities"] == load_defaults()["priorities"]
    assert loaded.sources["priorities"] == DEFAULTS_SOURCE


@pytest.mark.parametrize("value", [[], {"urgent": 4}, "urgent"], ids=str)
def test_priorities_must_be_a_non_empty_list(tmp_path, value):
    loaded = check_part(tmp_path, {"priorities": value}, "priorities", None, ["list"])
    assert loaded.config["priorities"] == load_defaults()["priorities"]


def test_order_field_is_explained(tmp_path):
    item = {**P, "order": 2}
    loaded = check_part(
        tmp_path,
        {"priorities": [item], "default_priority": "p1"},
        "priorities[0].order",
        None,
        ["place in the list"],
    )
    assert loaded.config["priorities"] == [P]


def test_default_priority_not_among_priorities(tmp_path):
    data = {"default_priority": "medium"}
    loaded = check_part(tmp_path, data, "default_priority", '"medium"', ['"normal"', "urgent"])
    assert default_priority(loaded.config) == "normal"


def test_replacing_priorities_without_the_default_one(tmp_path):
    data = {"priorities": [P, {"key": "p2", "label": "P2", "target_hours": 9}]}
    loaded = check_part(tmp_path, data, "priorities", "[", ['"p1"', "default_priority"])
    assert default_priority(loaded.config) == "p1"  # the first one stands in


@pytest.mark.parametrize(
    ("value", "key", "kept", "words"),
    [
        ("Waiting", "hold_reasons", None, ["list of texts"]),
        (["A", ""], "hold_reasons[1]", ["A"], ["non-empty"]),
        (["A", 3], "hold_reasons[1]", ["A"], ["non-empty"]),
        (["Waiting", "waiting "], "hold_reasons[1]", ["Waiting"], ["twice"]),
    ],
    ids=["not-a-list", "empty-text", "number", "duplicate"],
)
def test_broken_hold_reasons(tmp_path, value, key, kept, words):
    loaded = check_part(tmp_path, {"hold_reasons": value}, key, None, words)
    expected = kept if kept is not None else load_defaults()["hold_reasons"]
    assert hold_reasons(loaded.config) == expected


def test_no_hold_reasons_at_all_is_allowed(tmp_path):
    loaded = load_unchanged(write(tmp_path, '{"hold_reasons": []}'))
    assert loaded.problems == [] and hold_reasons(loaded.config) == []


def test_unknown_settings_are_named_and_ignored(tmp_path):
    text = '{"theme": "dark", "sla": {"pause_on_holds": false}}'
    loaded = load_unchanged(write(tmp_path, text))
    assert [p.key for p in loaded.problems] == ["theme", "sla.pause_on_holds"]
    assert "pause_on_hold" in loaded.problems[1].error  # lists what is there: a typo shows
    assert "theme" not in loaded.config
    assert loaded.config["sla"] == load_defaults()["sla"]
    assert (loaded.problems[1].line, loaded.problems[1].column) == position(text, "false")


def test_duplicate_keys_are_reported(tmp_path):
    text = '{"list": {"page_size": 10, "page_size": 30}}'
    loaded = load_unchanged(write(tmp_path, text))
    problem = only_problem(loaded)
    assert problem.key == "list.page_size" and "more than once" in problem.error
    assert loaded.config["list"]["page_size"] == 30  # as JSON readers do: the last one


def test_many_problems_at_once(tmp_path):
    data = {
        "priorities": [P, {"key": "p2"}],
        "default_priority": "p1",
        "sla": {"colors": {"on_hold": "purple", "resolved": "#abcdef"}, "due_window_hours": -1},
        "list": {"page_size": 25},
    }
    loaded = load_unchanged(write(tmp_path, json.dumps(data, indent=2)))
    assert sorted(p.key for p in loaded.problems) == [
        "priorities[1]",
        "sla.colors.on_hold",
        "sla.due_window_hours",
    ]
    assert all(p.line is not None for p in loaded.problems)
    assert loaded.config["sla"]["colors"]["resolved"] == "#abcdef"
    assert loaded.config["list"]["page_size"] == 25
    assert priority_keys(loaded.config) == ["p1"]


# --- problems are reported the same everywhere -----------------------------------------------


def test_problem_shapes():
    problem = Problem("/x/config.json", 3, 7, "sla.colors.on_hold", "bad")
    assert problem.to_dict() == {
        "file": "/x/config.json",
        "line": 3,
        "column": 7,
        "key": "sla.colors.on_hold",
        "error": "bad",
    }
    assert problem.describe() == "/x/config.json, line 3, column 7 (sla.colors.on_hold): bad"
    assert Problem("f", None, None, None, "e").describe() == "f: e"
    assert Problem("f", None, None, "k", "e").describe() == "f (k): e"


# --- tickets that use a priority the configuration no longer has --------------------------------


def test_unknown_priorities_in_use():
    config = load_defaults()
    problems = problems_for_unknown_priorities(
        config, {"high": 3, "critical": 2, "p9": 1}, file="/d/config.json"
    )
    assert [p.key for p in problems] == ["priorities", "priorities"]
    assert all(p.file == "/d/config.json" for p in problems)
    assert problems[0].error.startswith('2 tickets use the priority "critical"')
    assert "unknown (critical)" in problems[0].error and "sort last" in problems[0].error
    assert problems[1].error.startswith('1 ticket uses the priority "p9"')
    plain = problems_for_unknown_priorities(config, ["critical", "normal"])
    assert len(plain) == 1 and plain[0].error.startswith("Some tickets use")
    assert problems_for_unknown_priorities(config, ["urgent", "low"]) == []


def test_priority_helpers():
    config = load_defaults()
    assert priority_label(config, "high") == "High"
    assert priority_label(config, "critical") == "unknown (critical)"
    assert priority_label(config, None) == "unknown"
    assert [priority_rank(config, k) for k in ("urgent", "low", "gone")] == [0, 3, 4]
    keys = ["gone", "low", "urgent", "normal", "high"]
    assert sorted(keys, key=lambda k: priority_rank(config, k)) == [
        "urgent",
        "high",
        "normal",
        "low",
        "gone",
    ]
    assert priority_target_hours(config, "urgent") == 4
    assert priority_target_hours(config, "gone") == 72
    reasons = hold_reasons(config)
    reasons.append("changed")
    assert "changed" not in hold_reasons(config)


# --- the README documents the settings ----------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def _settings_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Settings: config.json")
    return text[start : text.index("\n### ", start + 1)]


def test_readme_names_every_setting():
    section = _settings_section()
    defaults = load_defaults()
    for key, value in defaults.items():
        if isinstance(value, dict):
            for child in value:
                assert f"`{key}.{child}`" in section or f"`{child}`" in section, f"{key}.{child}"
        else:
            assert f"`{key}`" in section, key


def test_readme_example_is_a_valid_config(tmp_path):
    section = _settings_section()
    example = section[
        section.index("```json") + 7 : section.index("```", section.index("```json") + 7)
    ]
    loaded = load_unchanged(write(tmp_path, example))
    assert loaded.problems == []
    assert priority_keys(loaded.config) == ["critical", "normal", "someday"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"list": {"page_size": 501}}, "list.page_size"),
        ({"uploads": {"max_file_mb": 1e308}}, "uploads.max_file_mb"),
        ({"sla": {"due_window_hours": 1e308}}, "sla.due_window_hours"),
        (
            {"priorities": [{"key": "huge", "label": "Huge", "target_hours": 1e308}]},
            "priorities[0]",
        ),
    ],
)
def test_absurdly_large_numbers_are_reported_and_replaced(tmp_path, override, key):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(override), encoding="utf-8")
    loaded = load_config(path)
    assert any(p.key and p.key.startswith(key) for p in loaded.problems), loaded.problems
    assert loaded.config["list"]["page_size"] <= 500
    assert loaded.config["uploads"]["max_file_mb"] <= 102_400
    assert all(p["target_hours"] <= 87_600 for p in loaded.config["priorities"])
