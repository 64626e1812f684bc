"""The status workflow table, walked in full."""

from __future__ import annotations

import pytest

from tickettracker.errors import Conflict, ValidationError
from tickettracker.workflow import (
    STATUS_KEYS,
    TERMINAL_STATUSES,
    allowed_transitions,
    check_transition,
)

PAIRS = [(a, b) for a in STATUS_KEYS for b in STATUS_KEYS]


@pytest.mark.parametrize(("current", "new"), PAIRS)
def test_every_transition(current, new):
    reason = "Waiting on vendor"
    if current in TERMINAL_STATUSES:
        with pytest.raises(Conflict):
            check_transition(current, new, reason)
        assert allowed_transitions(current) == []
    elif current == new:
        with pytest.raises(Conflict):
            check_transition(current, new, reason)
    else:
        expected = reason if new == "on_hold" else None
        assert check_transition(current, new, reason) == expected
        assert new in allowed_transitions(current)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_on_hold_needs_a_reason(reason):
    with pytest.raises(ValidationError) as info:
        check_transition("open", "on_hold", reason)
    assert info.value.field == "hold_reason"


def test_hold_reason_is_trimmed_custom_text():
    assert check_transition("in_progress", "on_hold", "  parts on order ") == "parts on order"


def test_unknown_status_is_refused():
    with pytest.raises(ValidationError) as info:
        check_transition("open", "done", None)
    assert info.value.field == "status"
