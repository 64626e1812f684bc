"""Configuration: bundled defaults.json overridden by the user's config.json.

Minimal seam; the validated loader replaces this module.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass
class Problem:
    file: str
    line: int | None
    column: int | None
    key: str | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadedConfig:
    config: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def load_defaults() -> dict[str, Any]:
    text = resources.files("tickettracker").joinpath("defaults.json").read_text(encoding="utf-8")
    return json.loads(text)


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: Path | None) -> LoadedConfig:
    defaults = load_defaults()
    if path is None or not path.exists():
        return LoadedConfig(defaults, [], {k: "defaults" for k in defaults}, path)
    try:
        user = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problem = Problem(str(path), exc.lineno, exc.colno, None, exc.msg)
        return LoadedConfig(defaults, [problem], {k: "defaults" for k in defaults}, path)
    return LoadedConfig(_merge(defaults, user), [], {}, path)


def ensure_user_config(path: Path) -> bool:
    if path.exists():
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(load_defaults(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return True


def priority_keys(config: dict) -> list[str]:
    return [p["key"] for p in config["priorities"]]


def priority_label(config: dict, key: str) -> str:
    for p in config["priorities"]:
        if p["key"] == key:
            return p["label"]
    return f"unknown ({key})"


def priority_rank(config: dict, key: str) -> int:
    keys = priority_keys(config)
    return keys.index(key) if key in keys else len(keys)


def hold_reasons(config: dict) -> list[str]:
    return list(config["hold_reasons"])
