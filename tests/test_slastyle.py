"""SLA colours as CSS classes: every state maps to a class the stylesheet colours."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tickettracker.config import load_defaults
from tickettracker.sla import SlaState, compute_sla
from tickettracker.web.slastyle import contrast, ink_for, sla_class, stylesheet

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


class Ticket:
    def __init__(self, **fields):
        self.status = "open"
        self.priority = "high"
        self.created_at = NOW
        self.due_at = self.due_date = self.hold_reason = self.hold_since = None
        self.hold_seconds = 0
        self.__dict__.update(fields)


def rules(css: str) -> dict[str, str]:
    return dict(re.findall(r"^\.(sla-[a-z0-9-]+)\{--sla:(#[0-9a-f]{6});", css, re.M))


@pytest.mark.parametrize(
    ("state", "cls"),
    [
        (SlaState("#000000", 0.0, "", "due"), "sla-due-0"),
        (SlaState("#000000", 0.574, "", "due"), "sla-due-57"),
        (SlaState("#000000", 1.0, "", "overdue"), "sla-due-100"),
        (SlaState("#000000", 0.5, "", "age"), "sla-age-50"),
        (SlaState("#000000", 1.0, "", "over_target"), "sla-age-100"),
        (SlaState("#000000", 0.9, "", "on_hold"), "sla-on-hold"),
        (SlaState("#000000", 0.0, "", "resolved"), "sla-resolved"),
        (SlaState("#000000", 0.0, "", "closed"), "sla-closed"),
        (SlaState("#000000", 0.0, "", "cancelled"), "sla-cancelled"),
    ],
)
def test_class_names(state, cls):
    assert sla_class(state) == cls


def test_every_class_has_a_rule_with_the_states_colour():
    config = load_defaults()
    colours = rules(stylesheet(config))
    assert len(colours) == 2 * 101 + len(config["sla"]["colors"])
    tickets = (
        [Ticket(due_at=NOW + timedelta(hours=h)) for h in (-5, 0, 3, 40, 100, 200)]
        + [Ticket(created_at=NOW - timedelta(hours=h)) for h in (0, 6, 12, 18, 24, 80)]
        + [Ticket(status=s) for s in ("on_hold", "resolved", "closed", "cancelled")]
    )
    for ticket in tickets:
        state = compute_sla(ticket, NOW, config)
        shown = colours[sla_class(state)]
        # At 1 % steps the class colour is the state's colour or a hair away from it.
        diff = max(
            abs(int(shown[i : i + 2], 16) - int(state.color[i : i + 2], 16)) for i in (1, 3, 5)
        )
        assert diff <= 3, (sla_class(state), shown, state.color)


def test_stylesheet_follows_the_configuration():
    config = load_defaults()
    config["sla"]["colors"]["on_hold"] = "#123456"
    config["sla"]["due_gradient"] = [{"at": 0, "color": "#000000"}, {"at": 1, "color": "#ffffff"}]
    css = stylesheet(config)
    colours = rules(css)
    assert colours["sla-on-hold"] == "#123456"
    assert colours["sla-due-50"] == "#808080"
    assert (
        ".sla-legend-due{background-image:linear-gradient(to right, #000000 0%, #ffffff 100%)}"
        in css
    )


def test_label_text_is_readable_on_every_default_colour():
    config = load_defaults()
    for color in set(rules(stylesheet(config)).values()):
        assert contrast(color, ink_for(color)) >= 4.5, color


def test_ink_choice():
    assert ink_for("#ffffff") == "#111318"
    assert ink_for("#000000") == "#ffffff"
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
