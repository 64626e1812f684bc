"""The status workflow: one table, used by services, templates and tests alike."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Conflict, ValidationError


@dataclass(frozen=True)
class Status:
    key: str
    label: str
    icon: str  # a text symbol, so state never depends on colour alone
    terminal: bool = False


STATUSES: dict[str, Status] = {
    s.key: s
    for s in (
        Status("open", "Open", "○"),
        Status("in_progress", "In Progress", "▶"),
        Status("on_hold", "On Hold", "‖"),
        Status("resolved", "Resolved", "✓"),
        Status("closed", "Closed", "■", terminal=True),
        Status("cancelled", "Cancelled", "✕", terminal=True),
    )
}
STATUS_KEYS = tuple(STATUSES)
ACTIVE_STATUSES = tuple(k for k, s in STATUSES.items() if not s.terminal)
TERMINAL_STATUSES = tuple(k for k, s in STATUSES.items() if s.terminal)

# Any non-terminal state may move to any other state; terminal states allow nothing.
TRANSITIONS: dict[str, frozenset[str]] = {
    key: frozenset() if s.terminal else frozenset(k for k in STATUS_KEYS if k != key)
    for key, s in STATUSES.items()
}


def allowed_transitions(current: str) -> list[str]:
    """Statuses a ticket in `current` may move to, in workflow order."""
    allowed = TRANSITIONS.get(current, frozenset())
    return [k for k in STATUS_KEYS if k in allowed]


def check_transition(current: str, new: str, hold_reason: str | None) -> str | None:
    """Validate a move from `current` to `new`; return the cleaned hold reason (or None)."""
    if new not in STATUSES:
        raise ValidationError(
            f"Unknown status {new!r}. Use one of: {', '.join(STATUS_KEYS)}.", "status"
        )
    if current in TERMINAL_STATUSES:
        raise Conflict(
            f"This ticket is {STATUSES[current].label.lower()}; a "
            f"{STATUSES[current].label.lower()} ticket cannot change status. "
            "Create a new ticket instead.",
            "status",
        )
    if new not in TRANSITIONS[current]:
        raise Conflict(f"The ticket is already {STATUSES[current].label}.", "status")
    if new == "on_hold":
        reason = (hold_reason or "").strip()
        if not reason:
            raise ValidationError(
                "Putting a ticket on hold needs a reason: pick one or type your own.",
                "hold_reason",
            )
        return reason
    return None


def status_label(key: str) -> str:
    status = STATUSES.get(key)
    return status.label if status else key
