"""SLA colours as CSS classes, so pages need no inline style (a strict CSP stays possible).

Gradient colours are continuous; pages use one class per 1 % step of urgency, and the
stylesheet built here from the configuration gives each class its colour. The step is far
below what an eye can tell apart, and the exact colour stays in the API's `sla.color`.
"""

from __future__ import annotations

from typing import Any

from ..sla import SlaState, gradient_color

STEPS = 100
GRADIENT_KINDS = {"due": "due", "overdue": "due", "age": "age", "over_target": "age"}
DARK_INK, LIGHT_INK = "#111318", "#ffffff"


def sla_class(state: SlaState) -> str:
    """The CSS class that carries this state's colour, e.g. "sla-due-57" or "sla-on-hold"."""
    gradient = GRADIENT_KINDS.get(state.kind)
    if gradient is None:
        return "sla-" + state.kind.replace("_", "-")
    return f"sla-{gradient}-{round(state.urgency * STEPS)}"


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _luminance(color: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def ink_for(background: str) -> str:
    """Dark or white text, whichever reads better on `background`."""
    if contrast(background, DARK_INK) >= contrast(background, LIGHT_INK):
        return DARK_INK
    return LIGHT_INK


def _rule(selector: str, color: str) -> str:
    r, g, b = _rgb(color)
    return (
        f"{selector}{{--sla:{color};--sla-tint:rgba({r},{g},{b},.16);--sla-ink:{ink_for(color)}}}"
    )


def _css_gradient(stops: list[dict[str, Any]]) -> str:
    parts = ", ".join(f"{s['color']} {s['at'] * 100:g}%" for s in stops)
    return f"linear-gradient(to right, {parts})"


def stylesheet(config: dict[str, Any]) -> str:
    """The colour classes for every SLA state, and the legend's gradients, from `config`."""
    sla = config["sla"]
    rules = ["/* SLA colours, generated from the configuration (defaults.json + config.json) */"]
    for name in ("due", "age"):
        stops = sla[f"{name}_gradient"]
        for step in range(STEPS + 1):
            rules.append(_rule(f".sla-{name}-{step}", gradient_color(stops, step / STEPS)))
        rules.append(f".sla-legend-{name}{{background-image:{_css_gradient(stops)}}}")
    for kind, color in sla["colors"].items():
        rules.append(_rule(".sla-" + kind.replace("_", "-"), color))
    return "\n".join(rules) + "\n"
