"""The SLA function at exact boundaries, with a fixed `now` and named time zones."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tickettracker.config import load_defaults
from tickettracker.sla import (
    SlaState,
    compute_sla,
    duration,
    end_of_day,
    gradient_color,
    target_text,
)

UTC = timezone.utc
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
BLUE, CYAN, LIME = "#3b82f6", "#06b6d4", "#84cc16"
YELLOW, ORANGE, RED = "#eab308", "#f97316", "#ef4444"
LAVENDER, PALE_GREEN, GREY = "#c4b5fd", "#bbf7d0", "#6b7280"


@dataclass
class Ticket:
    """The attributes compute_sla reads, as the model provides them."""

    status: str = "open"
    priority: str = "high"  # 24 h target
    created_at: datetime = NOW - 10 * D
    due_at: datetime | None = None
    due_date: date | None = None
    hold_reason: str | None = None
    hold_seconds: int = 0
    hold_since: datetime | None = None


@pytest.fixture
def config():
    return load_defaults()


def test_defaults_are_the_colours_these_tests_name(config):
    sla = config["sla"]
    assert [s["color"] for s in sla["due_gradient"]] == [BLUE, CYAN, LIME, YELLOW, ORANGE, RED]
    assert [s["at"] for s in sla["due_gradient"]] == [0.0, 0.2, 0.35, 0.5, 0.8, 1.0]
    assert sla["age_gradient"] == sla["due_gradient"]
    assert sla["due_window_hours"] == 168
    assert sla["colors"] == {
        "on_hold": LAVENDER,
        "resolved": PALE_GREEN,
        "closed": GREY,
        "cancelled": GREY,
    }
    assert sla["pause_on_hold"] is True


def _saturation(color: str) -> float:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return (max(r, g, b) - min(r, g, b)) / max(r, g, b)


@pytest.mark.parametrize("which", ["due_gradient", "age_gradient"])
def test_default_gradients_never_pass_through_a_grey_like_closed(config, which):
    # Blue mixed straight into yellow is a slate grey half way, which reads as the grey of
    # Closed and Cancelled: the default stops go round through cyan and lime instead.
    for step in range(101):
        color = gradient_color(config["sla"][which], step / 100)
        assert _saturation(color) >= 0.5, (step, color)


# --- with a due date ------------------------------------------------------------------------


def test_far_before_due_is_calm_blue(config):
    state = compute_sla(Ticket(due_at=NOW + 10 * D), NOW, config)
    assert state == SlaState(BLUE, 0.0, "due in 10 d", "due")


def test_exactly_one_window_before_due_is_still_zero(config):
    state = compute_sla(Ticket(due_at=NOW + 168 * H), NOW, config)
    assert (state.color, state.urgency, state.label) == (BLUE, 0.0, "due in 7 d")
    just_inside = compute_sla(Ticket(due_at=NOW + 168 * H - timedelta(seconds=36)), NOW, config)
    assert 0 < just_inside.urgency < 0.0001


def test_half_way_through_the_window_is_the_middle_stop(config):
    state = compute_sla(Ticket(due_at=NOW + 84 * H), NOW, config)
    assert state == SlaState(YELLOW, 0.5, "due in 3 d", "due")


def test_colour_is_interpolated_between_stops(config):
    # 0.65 lies half way between the stops at 0.5 (#eab308) and 0.8 (#f97316).
    remaining = 168 * H * 0.35
    state = compute_sla(Ticket(due_at=NOW + remaining), NOW, config)
    assert state.urgency == pytest.approx(0.65)
    assert state.color == "#f2930f"
    assert state.label == "due in 2 d"


def test_due_in_hours_inside_the_window(config):
    state = compute_sla(Ticket(due_at=NOW + 5 * H), NOW, config)
    assert state.label == "due in 5 h"
    assert state.urgency == pytest.approx(1 - 5 / 168)
    assert state.kind == "due"
    assert state.color not in (BLUE, RED)


def test_exactly_at_due_is_most_urgent(config):
    state = compute_sla(Ticket(due_at=NOW), NOW, config)
    assert state == SlaState(RED, 1.0, "due now", "due")


def test_one_minute_before_due(config):
    state = compute_sla(Ticket(due_at=NOW + timedelta(minutes=1)), NOW, config)
    assert state.label == "due in 1 min"
    assert state.urgency < 1.0


def test_overdue_says_so_in_text(config):
    state = compute_sla(Ticket(due_at=NOW - (2 * D + 3 * H)), NOW, config)
    assert state == SlaState(RED, 1.0, "overdue 2 d", "overdue")
    just = compute_sla(Ticket(due_at=NOW - timedelta(seconds=30)), NOW, config)
    assert (just.label, just.kind, just.color) == ("overdue <1 min", "overdue", RED)


def test_due_ignores_age_and_priority(config):
    old_urgent = Ticket(priority="urgent", created_at=NOW - 30 * D, due_at=NOW + 10 * D)
    assert compute_sla(old_urgent, NOW, config).urgency == 0.0


# --- without a due date: age against the priority's target ----------------------------------


@pytest.mark.parametrize(
    ("age", "urgency", "color", "label", "kind"),
    [
        (timedelta(0), 0.0, BLUE, "open <1 min of 1 d target", "age"),
        (12 * H, 0.5, YELLOW, "open 12 h of 1 d target", "age"),
        (24 * H, 1.0, RED, "open 24 h of 1 d target", "age"),
        (72 * H, 1.0, RED, "open 3 d of 1 d target", "over_target"),
    ],
    ids=["0%", "50%", "100%", "300%"],
)
def test_age_against_target(config, age, urgency, color, label, kind):
    state = compute_sla(Ticket(created_at=NOW - age), NOW, config)
    assert state == SlaState(color, urgency, label, kind)


def test_each_priority_has_its_own_target(config):
    labels = {
        key: compute_sla(Ticket(priority=key, created_at=NOW - 2 * H), NOW, config)
        for key in ("urgent", "high", "normal", "low")
    }
    assert labels["urgent"].label == "open 2 h of 4 h target"
    assert labels["urgent"].urgency == 0.5
    assert labels["high"].urgency == pytest.approx(2 / 24)
    assert labels["normal"].label == "open 2 h of 3 d target"
    assert labels["low"].label == "open 2 h of 7 d target"
    urgencies = [labels[k].urgency for k in ("urgent", "high", "normal", "low")]
    assert urgencies == sorted(urgencies, reverse=True)


def test_unknown_priority_uses_the_default_priority_target(config):
    state = compute_sla(Ticket(priority="gone", created_at=NOW - 36 * H), NOW, config)
    assert state.label == "open 36 h of 3 d target"
    assert state.urgency == 0.5


def test_a_created_time_in_the_future_counts_as_new(config):
    state = compute_sla(Ticket(created_at=NOW + H), NOW, config)
    assert (state.urgency, state.label) == (0.0, "open <1 min of 1 d target")


# --- On Hold and the paused clock -----------------------------------------------------------


def test_on_hold_is_lavender_with_its_reason(config):
    ticket = Ticket(status="on_hold", hold_reason="Waiting on vendor", hold_since=NOW - H)
    state = compute_sla(ticket, NOW, config)
    assert state.color == LAVENDER
    assert (state.label, state.kind) == ("on hold: waiting on vendor", "on_hold")


def test_custom_hold_reason_is_shown_as_typed(config):
    ticket = Ticket(status="on_hold", hold_reason="SAP outage", hold_since=NOW)
    assert compute_sla(ticket, NOW, config).label == "on hold: SAP outage"
    ticket.hold_reason = None
    assert compute_sla(ticket, NOW, config).label == "on hold"


def test_clock_pauses_while_on_hold(config):
    # 24 h old, the last 12 h on hold: only 12 h of the 24 h target have run.
    ticket = Ticket(status="on_hold", created_at=NOW - 24 * H, hold_since=NOW - 12 * H)
    assert compute_sla(ticket, NOW, config).urgency == 0.5
    # The clock stays put however long the hold lasts.
    assert compute_sla(ticket, NOW + 30 * D, config).urgency == 0.5


def test_completed_hold_periods_do_not_count_after_resuming(config):
    ticket = Ticket(status="in_progress", created_at=NOW - 24 * H, hold_seconds=12 * 3600)
    state = compute_sla(ticket, NOW, config)
    assert (state.urgency, state.label, state.color) == (0.5, "open 12 h of 1 d target", YELLOW)


def test_past_and_current_holds_add_up(config):
    ticket = Ticket(
        status="on_hold",
        created_at=NOW - 3 * D,
        hold_seconds=int((36 * H).total_seconds()),
        hold_since=NOW - 30 * H,
    )
    # 72 h old - 36 h earlier holds - 30 h this hold = 6 h of the clock.
    assert compute_sla(ticket, NOW, config).urgency == pytest.approx(6 / 24)


def test_pause_can_be_switched_off(config):
    config["sla"]["pause_on_hold"] = False
    on_hold = Ticket(status="on_hold", created_at=NOW - 24 * H, hold_since=NOW - 12 * H)
    assert compute_sla(on_hold, NOW, config).urgency == 1.0
    resumed = Ticket(created_at=NOW - 24 * H, hold_seconds=12 * 3600)
    assert compute_sla(resumed, NOW, config).label == "open 24 h of 1 d target"


def test_hold_does_not_move_a_due_date(config):
    ticket = Ticket(
        status="on_hold", due_at=NOW - H, hold_since=NOW - 2 * D, hold_reason="Waiting on parts"
    )
    state = compute_sla(ticket, NOW, config)
    # Lavender shows it is parked; the urgency still says its promise has passed.
    assert (state.color, state.urgency, state.label) == (LAVENDER, 1.0, "on hold: waiting on parts")


# --- finished tickets ------------------------------------------------------------------------


def test_resolved_is_pale_green_and_not_urgent_even_when_overdue(config):
    state = compute_sla(Ticket(status="resolved", due_at=NOW - 5 * D), NOW, config)
    assert state == SlaState(PALE_GREEN, 0.0, "resolved", "resolved")


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_closed_and_cancelled_are_not_urgent(config, status):
    ticket = Ticket(status=status, due_at=NOW - 5 * D, created_at=NOW - 90 * D)
    state = compute_sla(ticket, NOW, config)
    assert state == SlaState(GREY, 0.0, status, status)


def test_to_dict_has_the_api_shape(config):
    state = compute_sla(Ticket(due_at=NOW + 84 * H), NOW, config)
    assert state.to_dict() == {"color": YELLOW, "urgency": 0.5, "label": "due in 3 d"}


# --- date-only due dates and time zones -------------------------------------------------------


def test_date_only_due_ends_at_local_midnight(config):
    berlin = ZoneInfo("Europe/Berlin")
    # 10 March 2026 in Berlin (UTC+1) ends at 23:00 UTC.
    ticket = Ticket(due_date=date(2026, 3, 10))
    assert end_of_day(date(2026, 3, 10), berlin) == datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    assert compute_sla(ticket, NOW, config, berlin).label == "due in 11 h"
    at_due = compute_sla(ticket, datetime(2026, 3, 10, 23, 0, tzinfo=UTC), config, berlin)
    assert (at_due.label, at_due.urgency) == ("due now", 1.0)
    after = compute_sla(ticket, datetime(2026, 3, 10, 23, 1, tzinfo=UTC), config, berlin)
    assert after.label == "overdue 1 min"


def test_date_only_due_wins_over_due_time(config):
    berlin = ZoneInfo("Europe/Berlin")
    ticket = Ticket(due_date=date(2026, 3, 10), due_at=NOW - 3 * D)
    assert compute_sla(ticket, NOW, config, berlin).label == "due in 11 h"


@pytest.mark.parametrize(
    ("zone", "day", "local_midnight_utc", "hours_long"),
    [
        # Clocks go forward at 02:00 on 29 March: the day has 23 hours.
        ("Europe/Berlin", date(2026, 3, 29), datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 23),
        # Clocks go back at 03:00 on 25 October: 25 hours.
        ("Europe/Berlin", date(2026, 10, 25), datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 25),
        ("America/Los_Angeles", date(2026, 3, 8), datetime(2026, 3, 8, 8, 0, tzinfo=UTC), 23),
        ("America/Los_Angeles", date(2026, 11, 1), datetime(2026, 11, 1, 7, 0, tzinfo=UTC), 25),
        # Southern hemisphere: summer time ends in April and starts in September.
        ("Pacific/Auckland", date(2026, 4, 5), datetime(2026, 4, 4, 11, 0, tzinfo=UTC), 25),
        ("Pacific/Auckland", date(2026, 9, 27), datetime(2026, 9, 26, 12, 0, tzinfo=UTC), 23),
    ],
)
def test_date_only_due_across_dst(config, zone, day, local_midnight_utc, hours_long):
    tz = ZoneInfo(zone)
    ticket = Ticket(due_date=day)
    due = local_midnight_utc + hours_long * H
    assert end_of_day(day, tz) == due
    # From the start of that local day the deadline is exactly as many hours off as the day is long.
    assert compute_sla(ticket, local_midnight_utc, config, tz).label == f"due in {hours_long} h"
    assert compute_sla(ticket, due - timedelta(minutes=1), config, tz).label == "due in 1 min"
    assert compute_sla(ticket, due, config, tz).label == "due now"
    overdue = compute_sla(ticket, due + timedelta(seconds=1), config, tz)
    assert overdue.kind == "overdue"


@pytest.fixture
def machine_zone():
    """Set the process's local zone (TZ) for one test and put it back afterwards."""
    if not hasattr(time, "tzset"):
        pytest.fail("time.tzset is needed to test the machine's local zone (POSIX only)")
    old = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize(
    ("zone", "day", "expected_end"),
    [
        ("Europe/Berlin", date(2026, 3, 29), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        ("America/Los_Angeles", date(2026, 11, 1), datetime(2026, 11, 2, 8, 0, tzinfo=UTC)),
        ("Pacific/Auckland", date(2026, 4, 5), datetime(2026, 4, 5, 12, 0, tzinfo=UTC)),
    ],
)
def test_machine_local_zone_is_the_default(config, machine_zone, zone, day, expected_end):
    machine_zone(zone)
    assert end_of_day(day) == expected_end
    state = compute_sla(Ticket(due_date=day), expected_end - 2 * H, config)
    assert state.label == "due in 2 h"


def test_naive_datetimes_are_taken_as_utc(config):
    naive_now = NOW.replace(tzinfo=None)
    ticket = Ticket(created_at=(NOW - 12 * H).replace(tzinfo=None))
    assert compute_sla(ticket, naive_now, config).urgency == 0.5
    due = Ticket(due_at=(NOW + 5 * H).replace(tzinfo=None))
    assert compute_sla(due, NOW, config).label == "due in 5 h"


def test_other_offsets_compare_as_the_same_instant(config):
    tokyo_now = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
    assert compute_sla(Ticket(due_at=NOW + 5 * H), tokyo_now, config).label == "due in 5 h"


# --- configuration changes the result -------------------------------------------------------


def test_recoloured_and_retimed_from_config(config):
    config["sla"]["due_window_hours"] = 10
    config["sla"]["due_gradient"] = [
        {"at": 0.0, "color": "#000000"},
        {"at": 1.0, "color": "#ffffff"},
    ]
    state = compute_sla(Ticket(due_at=NOW + 5 * H), NOW, config)
    assert (state.urgency, state.color) == (0.5, "#808080")
    config["sla"]["colors"]["on_hold"] = "#123456"
    held = compute_sla(Ticket(status="on_hold", hold_since=NOW), NOW, config)
    assert held.color == "#123456"
    config["priorities"][1]["target_hours"] = 48
    assert compute_sla(Ticket(created_at=NOW - 24 * H), NOW, config).urgency == 0.5


def test_label_unit_threshold_comes_from_config(config):
    config["sla"]["label_hours_up_to"] = 24
    assert compute_sla(Ticket(due_at=NOW + 30 * H), NOW, config).label == "due in 1 d"
    config["sla"]["label_hours_up_to"] = 48
    assert compute_sla(Ticket(due_at=NOW + 30 * H), NOW, config).label == "due in 30 h"


def test_urgency_only_grows_as_time_passes(config):
    tickets = [Ticket(due_at=NOW + 3 * D), Ticket(created_at=NOW - 2 * H, priority="normal")]
    for ticket in tickets:
        previous = -1.0
        for step in range(0, 24 * 8):
            state = compute_sla(ticket, NOW + step * H, config)
            assert 0.0 <= state.urgency <= 1.0
            assert state.urgency >= previous
            assert state.color.startswith("#") and len(state.color) == 7
            previous = state.urgency
        assert previous == 1.0


# --- small pieces ------------------------------------------------------------------------------


def test_gradient_edges_and_hard_steps():
    stops = [
        {"at": 0.2, "color": "#000000"},
        {"at": 0.6, "color": "#000000"},
        {"at": 0.6, "color": "#ff0000"},
        {"at": 0.9, "color": "#ff0000"},
    ]
    assert gradient_color(stops, 0.0) == "#000000"  # before the first stop
    assert gradient_color(stops, 0.59) == "#000000"
    assert gradient_color(stops, 0.6) == "#000000"
    assert gradient_color(stops, 0.61) == "#ff0000"
    assert gradient_color(stops, 1.0) == "#ff0000"  # after the last stop
    assert gradient_color([{"at": 0.5, "color": "#abcdef"}], 0.9) == "#abcdef"
    assert gradient_color(stops, 7.0) == "#ff0000"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "<1 min"),
        (59, "<1 min"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (48 * 3600 - 1, "47 h"),
        (48 * 3600, "2 d"),
        (10 * 86400 + 3600, "10 d"),
    ],
)
def test_duration_rounds_down(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("hours", "text"),
    [(4, "4 h"), (24, "1 d"), (36, "36 h"), (72, "3 d"), (168, "7 d"), (0.5, "30 min")],
)
def test_target_text(hours, text):
    assert target_text(hours * 3600) == text
