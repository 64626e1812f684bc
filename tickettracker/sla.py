"""SLA state of a ticket: a colour, an urgency in [0, 1] and a short label.

A pure function of (ticket, now, config): no clock, no database, no Flask. Rules (issue 4):
- closed and cancelled: their own colour, not urgent; resolved: pale green, not urgent;
- with a due date: how close it is (the gradient runs over `sla.due_window_hours`; at or
  past the due moment is the end of the gradient, the most urgent colour);
- without one: the ticket's age against its priority's target (100 % = end of the gradient).
  With `sla.pause_on_hold` (default on) time spent On Hold does not count toward that age;
  a due date is a promise to a person, so it never moves;
- On Hold: the lavender colour overrides, the urgency stays that of the clock underneath so
  an on-hold ticket whose due date has passed still sorts above calm ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from itertools import pairwise
from typing import Any

from tickettracker.config import priority_target_hours

TERMINAL = ("closed", "cancelled")


@dataclass(frozen=True)
class SlaState:
    """How urgent a ticket is right now, ready to show."""

    color: str  # "#rrggbb"
    urgency: float  # 0 = calm ... 1 = due now, overdue or at/over target
    label: str  # "due in 5 h", "overdue 2 d", "open 3 d of 1 d target", ...
    kind: str  # due | overdue | age | over_target | on_hold | resolved | closed | cancelled

    def to_dict(self) -> dict[str, Any]:
        return {"color": self.color, "urgency": round(self.urgency, 4), "label": self.label}


def compute_sla(
    ticket: Any, now: datetime, config: dict[str, Any], tz: tzinfo | None = None
) -> SlaState:
    """The SLA state of `ticket` at `now`; date-only due dates end at midnight in `tz`.

    `tz` None means the machine's local time zone. Naive datetimes are taken as UTC (SQLite
    hands stored UTC values back without an offset).
    """
    sla = config["sla"]
    colors = sla["colors"]
    status = ticket.status
    if status in TERMINAL:
        return SlaState(colors[status], 0.0, status, status)
    if status == "resolved":
        return SlaState(colors["resolved"], 0.0, "resolved", "resolved")
    now = as_utc(now)
    due = due_moment(ticket, tz)
    clock = _due_state(due, now, sla) if due is not None else _age_state(ticket, now, config)
    if status == "on_hold":
        return SlaState(colors["on_hold"], clock.urgency, _hold_label(ticket, config), "on_hold")
    return clock


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def end_of_day(day: date, tz: tzinfo | None = None) -> datetime:
    """The UTC moment a date-only due date runs out: the next local midnight in `tz`.

    Worked out for that very date, so a day that is 23 or 25 hours long (DST) ends right.
    """
    midnight = datetime.combine(day + timedelta(days=1), time())
    if tz is None:
        return midnight.astimezone(timezone.utc)  # naive -> the system's local rules
    return midnight.replace(tzinfo=tz).astimezone(timezone.utc)


def due_moment(ticket: Any, tz: tzinfo | None = None) -> datetime | None:
    """When the ticket is due (UTC), or None; a date-only due date wins over a due time."""
    due_date = getattr(ticket, "due_date", None)
    if due_date is not None:
        return end_of_day(due_date, tz)
    due_at = getattr(ticket, "due_at", None)
    return as_utc(due_at) if due_at is not None else None


def sla_age_seconds(ticket: Any, now: datetime, pause_on_hold: bool) -> float:
    """Seconds the ticket's SLA clock has run: its age, less time On Hold when paused."""
    created = getattr(ticket, "created_at", None)
    if created is None:
        return 0.0
    age = (now - as_utc(created)).total_seconds()
    if pause_on_hold:
        age -= getattr(ticket, "hold_seconds", 0) or 0
        hold_since = getattr(ticket, "hold_since", None)
        if hold_since is not None:
            age -= max(0.0, (now - as_utc(hold_since)).total_seconds())
    return max(0.0, age)


def gradient_color(stops: list[dict[str, Any]], position: float) -> str:
    """The colour at `position` (0..1) along stops sorted by "at", mixed linearly in RGB."""
    position = min(1.0, max(0.0, position))
    if position <= stops[0]["at"]:
        return stops[0]["color"]
    for low, high in pairwise(stops):
        if position <= high["at"]:
            span = high["at"] - low["at"]
            if span <= 0:
                return high["color"]
            return _mix(low["color"], high["color"], (position - low["at"]) / span)
    return stops[-1]["color"]


def _mix(start: str, end: str, share: float) -> str:
    a = [int(start[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(end[i : i + 2], 16) for i in (1, 3, 5)]
    # int(v + 0.5) rounds halves up; round() would round them to even.
    channels = (int(x + (y - x) * share + 0.5) for x, y in zip(a, b, strict=True))
    return "#" + "".join(f"{c:02x}" for c in channels)


def _due_state(due: datetime, now: datetime, sla: dict[str, Any]) -> SlaState:
    remaining = (due - now).total_seconds()
    window = sla["due_window_hours"] * 3600
    position = 1.0 if remaining <= 0 else max(0.0, 1.0 - remaining / window)
    color = gradient_color(sla["due_gradient"], position)
    hours_up_to = sla["label_hours_up_to"]
    if remaining > 0:
        return SlaState(color, position, f"due in {duration(remaining, hours_up_to)}", "due")
    if remaining == 0:
        return SlaState(color, position, "due now", "due")
    return SlaState(color, position, f"overdue {duration(-remaining, hours_up_to)}", "overdue")


def _age_state(ticket: Any, now: datetime, config: dict[str, Any]) -> SlaState:
    sla = config["sla"]
    target = priority_target_hours(config, ticket.priority) * 3600
    age = sla_age_seconds(ticket, now, sla["pause_on_hold"])
    share = age / target
    position = min(1.0, share)
    color = gradient_color(sla["age_gradient"], position)
    hours_up_to = sla["label_hours_up_to"]
    label = f"open {duration(age, hours_up_to)} of {target_text(target, hours_up_to)} target"
    return SlaState(color, position, label, "over_target" if share > 1 else "age")


def _hold_label(ticket: Any, config: dict[str, Any]) -> str:
    reason = (getattr(ticket, "hold_reason", None) or "").strip()
    if not reason:
        return "on hold"
    # Presets are written as sentences ("Waiting on vendor"); inside the label they read
    # better in lower case. Custom text is the user's own and is shown as typed.
    if reason in config["hold_reasons"]:
        reason = reason[0].lower() + reason[1:]
    return f"on hold: {reason}"


def duration(seconds: float, hours_up_to: float = 48) -> str:
    """A short, rounded-down span: "<1 min", "40 min", "5 h" (below `hours_up_to`), "3 d"."""
    if seconds < 60:
        return "<1 min"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < hours_up_to * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def target_text(seconds: float, hours_up_to: float = 48) -> str:
    """A target as configured: whole days as "1 d", whole hours as "4 h", else like duration."""
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return duration(seconds, hours_up_to)
