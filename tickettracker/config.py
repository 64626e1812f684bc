"""Configuration: the bundled defaults.json, overridden part by part by the user's config.json.

The user's file is only ever read here, never written (except once, on first start, when it
does not exist yet). Whatever is wrong in it is reported as a `Problem` naming the file, the
line/column and the key, and that part falls back to the default while the rest still applies.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULTS_SOURCE = "defaults"
_COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
_PRIORITY_KEY_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_INVALID = object()  # returned by a rule when the user's value cannot be used at all


@dataclass
class Problem:
    """One thing wrong with a configuration file, and what to do about it."""

    file: str
    line: int | None
    column: int | None
    key: str | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for the CLI and the banner: where, which key, what is wrong."""
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        if self.key:
            where += f" ({self.key})"
        return f"{where}: {self.error}"


@dataclass
class LoadedConfig:
    """The effective configuration, what was wrong, and where each top-level part came from."""

    config: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


@lru_cache(maxsize=1)
def _defaults_text() -> str:
    return resources.files("tickettracker").joinpath("defaults.json").read_text(encoding="utf-8")


def load_defaults() -> dict[str, Any]:
    """A fresh copy of the bundled defaults (callers may change it freely)."""
    return json.loads(_defaults_text())


def ensure_user_config(path: Path) -> bool:
    """Write config.json from the defaults if it does not exist yet; True if it was written.

    The file appears complete or not at all (temp file, fsync, then link), and an existing
    file - even one created a moment ago by someone else - is never replaced.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    tmp: Path | None = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_defaults_text())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if the name exists, unlike rename
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links
            if path.exists():
                return False
            os.replace(tmp, path)
            tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- loading and validation -------------------------------------------------------------------


class _Checker:
    """Collects problems for one file, placing each at the line/column of the value at fault."""

    def __init__(self, file: str, positions: dict[str, tuple[int, int]]) -> None:
        self.file = file
        self.positions = positions
        self.problems: list[Problem] = []

    def report_at(self, line: int | None, column: int | None, error: str) -> None:
        self.problems.append(Problem(self.file, line, column, None, error))

    def report(self, key: str | None, error: str) -> None:
        line = column = None
        probe = key
        while probe:
            if probe in self.positions:
                line, column = self.positions[probe]
                break
            probe = _parent_path(probe)
        self.problems.append(Problem(self.file, line, column, key or None, error))


def _parent_path(path: str) -> str:
    match = re.search(r"(\.[^.\[\]]*|\[\d+\])$", path)
    return path[: match.start()] if match else ""


def _child(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def load_config(path: Path | None) -> LoadedConfig:
    """Defaults deep-merged with the user's file at `path` (if any), validated part by part."""
    defaults = load_defaults()
    sources = dict.fromkeys(defaults, DEFAULTS_SOURCE)
    if path is None:
        return LoadedConfig(defaults, [], sources, None)
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return LoadedConfig(defaults, [], sources, path)

    data, checker = _read_user_file(path)
    if data is None:
        return LoadedConfig(defaults, checker.problems, sources, path)

    cleaned = _clean_object(data, defaults, "", checker)
    merged = _deep_merge(defaults, cleaned)
    _check_default_priority(merged, defaults, cleaned, checker)
    for key, value in cleaned.items():
        if _sets_something(value):
            sources[key] = str(path)
    return LoadedConfig(merged, checker.problems, sources, path)


def _read_user_file(path: Path) -> tuple[Any, _Checker]:
    """Parse the file; on failure return None and a checker holding the reason."""
    checker = _Checker(str(path), {})
    fallback = "Every setting uses its default until this is fixed."
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        checker.report(
            None, f"cannot read the file ({reason}). Check that it is a readable file. " + fallback
        )
        return None, checker
    try:
        text = raw.decode("utf-8-sig")  # a BOM, as some Windows editors write, is fine
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        checker.report_at(line, column, "the file is not UTF-8 text. Save it as UTF-8. " + fallback)
        return None, checker
    if not text.strip():
        checker.report(
            None,
            "the file is empty. Put a JSON object such as {} in it, or delete it "
            "to have the defaults written again at the next start. " + fallback,
        )
        return None, checker
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        checker.report_at(
            exc.lineno,
            exc.colno,
            f"not valid JSON: {exc.msg}. Fix the file there "
            "(a missing comma or quote is the usual cause). " + fallback,
        )
        return None, checker
    except (ValueError, RecursionError) as exc:
        checker.report(None, f"not valid JSON: {exc}. " + fallback)
        return None, checker
    if not isinstance(data, dict):
        checker.report_at(
            1, 1, f"the file must hold one JSON object ({{...}}), not {_kind(data)}. " + fallback
        )
        return None, checker
    positions, duplicates = _locate(text)
    checker.positions = positions
    for dup in duplicates:
        checker.report(
            dup,
            "this key appears more than once; the last one is used. Remove the "
            "other copies so it is clear which one counts.",
        )
    return data, checker


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; write an ordinary number")


def _locate(text: str) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Line/column (1-based) where each key path's value starts, plus duplicated key paths.

    Only called on text that json.loads accepted, so it can walk it without error handling.
    """
    decoder = json.JSONDecoder()
    positions: dict[str, int] = {}
    duplicates: list[str] = []

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def walk(i: int, path: str) -> int:
        i = skip(i)
        positions[path] = i
        if text[i] == "{":
            seen: set[str] = set()
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, i = decoder.raw_decode(text, skip(i))
                child = _child(path, key)
                if key in seen:
                    duplicates.append(child)
                seen.add(key)
                i = walk(skip(i) + 1, child)  # + 1 steps over the colon
                i = skip(i)
                if text[i] == "}":
                    return i + 1
                i += 1  # the comma
        if text[i] == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = skip(walk(i, _child(path, index)))
                index += 1
                if text[i] == "]":
                    return i + 1
                i += 1
        return decoder.raw_decode(text, i)[1]

    try:
        walk(0, "")
    except (RecursionError, ValueError, IndexError):
        return {}, []  # positions are a convenience; never let them break loading
    result = {}
    for path, index in positions.items():
        if path:
            line = text.count("\n", 0, index) + 1
            result[path] = (line, index - (text.rfind("\n", 0, index) + 1) + 1)
    return result, duplicates


def _sets_something(value: Any) -> bool:
    """False for an object whose every setting was dropped (or that held none)."""
    if isinstance(value, dict):
        return any(_sets_something(v) for v in value.values())
    return True


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; any other value (lists included) replaces the default."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_object(
    value: Any, default: dict[str, Any], path: str, checker: _Checker
) -> dict[str, Any]:
    """The user's object reduced to the keys and values that can be used."""
    cleaned: dict[str, Any] = {}
    for key, user_value in value.items():
        child = _child(path, key)
        if key not in default:
            known = ", ".join(sorted(default))
            checker.report(
                child,
                f'unknown setting "{key}", ignored. Check the spelling; '
                f"the settings here are: {known}.",
            )
            continue
        result = _clean_value(user_value, default[key], child, checker)
        if result is not _INVALID:
            cleaned[key] = result
    return cleaned


def _clean_value(value: Any, default: Any, path: str, checker: _Checker) -> Any:
    rule = _RULES.get(path) or _RULES.get(_parent_path(path) + ".*")
    if rule is not None:
        return rule(value, default, path, checker)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            checker.report(
                path,
                f"must be an object ({{...}}), not {_kind(value)}; the default "
                "is used for all of it.",
            )
            return _INVALID
        return _clean_object(value, default, path, checker)
    if _same_type(value, default):
        return value
    checker.report(
        path,
        f"must be {_kind(default)} (like {_show(default)}), not {_kind(value)} "
        f"({_show(value)}); the default {_show(default)} is used until you fix it.",
    )
    return _INVALID


def _same_type(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


# --- rules for the parts whose shape matters beyond their JSON type ---------------------------


TEN_YEARS_HOURS = 87_600


def _positive_rule(*, integer: bool, maximum: float) -> Callable[..., Any]:
    def rule(value: Any, default: Any, path: str, checker: _Checker) -> Any:
        kind = "a whole number" if integer else "a number"
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            checker.report(
                path,
                f"must be {kind} (like {_show(default)}), not {_kind(value)} "
                f"({_show(value)}); the default {_show(default)} is used.",
            )
            return _INVALID
        if not 0 < value <= maximum:
            checker.report(
                path,
                f"must be greater than 0 and at most {_show(maximum)}, not {_show(value)}; "
                f"the default {_show(default)} is used.",
            )
            return _INVALID
        return value

    return rule


_hours = _positive_rule(integer=False, maximum=TEN_YEARS_HOURS)


def _color_rule(value: Any, default: Any, path: str, checker: _Checker) -> Any:
    if isinstance(value, str) and _COLOR_RE.fullmatch(value):
        return value.lower()
    checker.report(
        path,
        f'{_show(value)} is not a colour: write it as "#rrggbb" (six hex '
        f"digits, for example {_show(default)}); the default {_show(default)} is used.",
    )
    return _INVALID


def _gradient_rule(value: Any, default: Any, path: str, checker: _Checker) -> Any:
    fallback = "The default gradient is used until this is fixed."
    example = '[{"at": 0.0, "color": "#3b82f6"}, {"at": 1.0, "color": "#ef4444"}]'
    if not isinstance(value, list) or not value:
        what = "an empty list" if value == [] else _kind(value)
        checker.report(
            path, f"must be a list of colour stops like {example}, not {what}. " + fallback
        )
        return _INVALID
    stops = []
    ok = True
    previous = None
    for index, stop in enumerate(value):
        where = _child(path, index)
        if not isinstance(stop, dict) or set(stop) != {"at", "color"}:
            checker.report(
                where,
                'each stop must be an object with exactly "at" (0 to 1) and '
                '"color" ("#rrggbb"), like {"at": 0.5, "color": "#eab308"}. ' + fallback,
            )
            ok = False
            continue
        at, color = stop["at"], stop["color"]
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at <= 1:
            checker.report(
                _child(where, "at"),
                f"must be a number from 0 to 1 (0 = no "
                f"urgency, 1 = due or past target), not {_show(at)}. " + fallback,
            )
            ok = False
        elif previous is not None and at < previous:
            checker.report(
                _child(where, "at"),
                f'stops must go in rising order of "at"; '
                f"{_show(at)} comes after {_show(previous)}. Reorder them. " + fallback,
            )
            ok = False
        else:
            previous = at
        if not isinstance(color, str) or not _COLOR_RE.fullmatch(color):
            checker.report(
                _child(where, "color"),
                f"{_show(color)} is not a colour: write it as "
                f'"#rrggbb" (six hex digits). ' + fallback,
            )
            ok = False
        else:
            stops.append({"at": at, "color": color.lower()})
    return stops if ok else _INVALID


def _priorities_rule(value: Any, default: Any, path: str, checker: _Checker) -> Any:
    example = '{"key": "high", "label": "High", "target_hours": 24}'
    if not isinstance(value, list) or not value:
        what = "an empty list" if value == [] else _kind(value)
        checker.report(
            path,
            f"must be a list of priorities like [{example}, ...], not {what}; "
            "the default priorities are used.",
        )
        return _INVALID
    allowed = {name for item in default for name in item}
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = _child(path, index)
        if not isinstance(item, dict):
            checker.report(
                where,
                f"each priority must be an object like {example}, not "
                f"{_kind(item)}; this entry is ignored.",
            )
            continue
        for name in item:
            if name not in allowed:
                hint = (
                    " Priorities are ordered by their place in the list." if name == "order" else ""
                )
                checker.report(
                    _child(where, name),
                    f'unknown field "{name}", ignored.{hint} '
                    f"A priority has: {', '.join(sorted(allowed))}.",
                )
        problem = _priority_problem(item)
        if problem is None and item["key"] in seen:
            problem = (
                f'the key "{item["key"]}" is used twice; keys must be unique, so this '
                "entry is ignored"
            )
        if problem is not None:
            checker.report(where, f"{problem}. Fix it like {example}.")
            continue
        seen.add(item["key"])
        kept.append({name: item[name] for name in item if name in allowed})
    if not kept:
        checker.report(
            path, "no priority in the list can be used; the default priorities are used."
        )
        return _INVALID
    return kept


def _priority_problem(item: dict[str, Any]) -> str | None:
    key, label, target = item.get("key"), item.get("label"), item.get("target_hours")
    if key is None:
        return 'this priority has no "key"; it is ignored'
    if not isinstance(key, str) or not _PRIORITY_KEY_RE.fullmatch(key):
        return (
            f'the key {_show(key)} must be short text of lowercase letters, digits, "-" or '
            '"_" (tickets store it); this priority is ignored'
        )
    if not isinstance(label, str) or not label.strip():
        return f'priority "{key}" needs a "label" (the text users see); it is ignored'
    if target is None:
        return (
            f'priority "{key}" needs "target_hours" (the SLA target for tickets without a '
            "due date); it is ignored"
        )
    if (
        isinstance(target, bool)
        or not isinstance(target, (int, float))
        or not 0 < target <= TEN_YEARS_HOURS
    ):
        return (
            f'priority "{key}": "target_hours" must be a number of hours greater than 0 and '
            f"at most {TEN_YEARS_HOURS} (ten years), not {_show(target)}; it is ignored"
        )
    return None


def _hold_reasons_rule(value: Any, default: Any, path: str, checker: _Checker) -> Any:
    if not isinstance(value, list):
        checker.report(
            path,
            f"must be a list of texts like {_show(default[:2])}, not "
            f"{_kind(value)}; the default hold reasons are used.",
        )
        return _INVALID
    kept: list[str] = []
    for index, reason in enumerate(value):
        where = _child(path, index)
        if not isinstance(reason, str) or not reason.strip():
            checker.report(
                where,
                f"each hold reason must be non-empty text, not {_show(reason)};"
                " this entry is ignored.",
            )
        elif reason.strip().casefold() in (r.casefold() for r in kept):
            checker.report(where, f"{_show(reason)} is listed twice; the copy is ignored.")
        else:
            kept.append(reason.strip())
    return kept


_RULES: dict[str, Callable[[Any, Any, str, _Checker], Any]] = {
    "priorities": _priorities_rule,
    "hold_reasons": _hold_reasons_rule,
    "sla.due_gradient": _gradient_rule,
    "sla.age_gradient": _gradient_rule,
    "sla.colors.*": _color_rule,
    "sla.due_window_hours": _hours,
    "sla.label_hours_up_to": _hours,
    # 100 GB: beyond any sensible attachment, and far from float overflow.
    "uploads.max_file_mb": _positive_rule(integer=False, maximum=102_400),
    # The list query and the API cap a page at 500 rows.
    "list.page_size": _positive_rule(integer=True, maximum=500),
}


def _check_default_priority(
    merged: dict[str, Any], defaults: dict[str, Any], cleaned: dict[str, Any], checker: _Checker
) -> None:
    keys = priority_keys(merged)
    chosen = merged.get("default_priority")
    if chosen in keys:
        return
    fallback = defaults["default_priority"] if defaults["default_priority"] in keys else keys[0]
    listed = ", ".join(f'"{k}"' for k in keys)
    where = "default_priority" if "default_priority" in cleaned else "priorities"
    checker.report(
        where,
        f'default_priority "{chosen}" is not one of the priorities ({listed}). '
        f'Set "default_priority" to one of them; "{fallback}" is used meanwhile.',
    )
    merged["default_priority"] = fallback


# --- helpers for the rest of the app ----------------------------------------------------------


def problems_for_unknown_priorities(
    config: dict[str, Any],
    used_keys: Iterable[str] | Mapping[str, int],
    file: str = "config.json",
) -> list[Problem]:
    """A problem for each priority key that tickets use but the configuration no longer has.

    `used_keys` may map each key to its number of tickets, so the message can say how many.
    """
    known = set(priority_keys(config))
    counts = used_keys if isinstance(used_keys, Mapping) else dict.fromkeys(used_keys)
    problems = []
    for key in sorted(k for k in counts if k not in known):
        count = counts[key]
        who = (
            "Some tickets use"
            if count is None
            else ("1 ticket uses" if count == 1 else f"{count} tickets use")
        )
        problems.append(
            Problem(
                file,
                None,
                None,
                "priorities",
                f'{who} the priority "{key}", which is not in "priorities". They still show, as '
                f'"{priority_label(config, key)}", and sort last. Add a priority with "key": '
                f'"{key}" back, or give those tickets another priority.',
            )
        )
    return problems


def priority_keys(config: dict[str, Any]) -> list[str]:
    """Priority keys in their configured order (most urgent first)."""
    return [p["key"] for p in config["priorities"]]


def priority_label(config: dict[str, Any], key: str | None) -> str:
    """The label to show for a key; a key the configuration lacks reads "unknown (key)"."""
    for p in config["priorities"]:
        if p["key"] == key:
            return p["label"]
    return f"unknown ({key})" if key else "unknown"


def priority_rank(config: dict[str, Any], key: str | None) -> int:
    """Sort position of a priority: 0 is the most urgent; unknown keys sort after all others."""
    keys = priority_keys(config)
    return keys.index(key) if key in keys else len(keys)


def priority_target_hours(config: dict[str, Any], key: str | None) -> float:
    """SLA target in hours; an unknown key gets the default priority's target."""
    for p in config["priorities"]:
        if p["key"] == key:
            return p["target_hours"]
    fallback = config["default_priority"]
    return next(p["target_hours"] for p in config["priorities"] if p["key"] == fallback)


def default_priority(config: dict[str, Any]) -> str:
    """The priority key new tickets get when none is given."""
    return config["default_priority"]


def hold_reasons(config: dict[str, Any]) -> list[str]:
    """The preset On Hold reasons offered to the user (custom text is allowed as well)."""
    return list(config["hold_reasons"])
