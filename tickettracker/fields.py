"""Parsing and validating user input for ticket fields. Pure functions, no database."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .errors import ValidationError
from .models import TITLE_MAX
from .sla import end_of_day

REQUESTER_MAX = 200
NAME_MAX = 200
TAG_MAX = 100
LINK_TITLE_MAX = 500
HOLD_REASON_MAX = 500
URL_MAX = 2000
ALLOWED_LINK_SCHEMES = ("http", "https", "mailto")
_SPLIT = re.compile(r"[,;\n]")


def local_tz() -> dt.tzinfo:
    """The machine's current local time zone."""
    return dt.datetime.now().astimezone().tzinfo  # type: ignore[return-value]


# Characters no text field takes: C0 controls, DEL and C1 controls, and lone UTF-16
# surrogates (a JSON "\ud800" escape with no partner: no character at all, and not storable
# as UTF-8). Line and paragraph separators (U+2028, U+2029) break a line as much as a newline
# does. Multi-line fields keep the newline and the tab.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Fillers that draw nothing although Unicode files them as letters or symbols.
_BLANK_LOOKING = frozenset("\u115f\u1160\u2800\u3164\uffa0")


_LABELS = {
    "body": "The note",
    "note": "The note",
    "links": "A link's title",
    "note_links": "A link's title",
}


def _label(field: str) -> str:
    return _LABELS.get(field) or field.replace("_", " ").capitalize()


def _refuse_controls(
    text: str, field: str, pattern: re.Pattern[str], subject: str | None = None
) -> None:
    found = pattern.search(text)
    if found is None:
        return
    char = found.group()
    if char in "\r\n\u2028\u2029":
        what, fix = "a line break", "keep it on one line"
    elif char == "\t":
        what, fix = "a tab", "use spaces instead"
    elif "\ud800" <= char <= "\udfff":
        what = f"a broken character (a lone UTF-16 surrogate, U+{ord(char):04X})"
        fix = "remove it"
    else:
        what, fix = f"the invisible control character U+{ord(char):04X}", "remove it"
    raise ValidationError(
        f"{subject or _label(field)} contains {what} (at character {found.start() + 1}); {fix} "
        "and save again.",
        field,
    )


def has_visible_text(text: str) -> bool:
    """Whether `text` shows anything: not only spaces, format characters (zero-width space,
    joiners, direction marks: category Cf) and blank fillers."""
    return any(
        not c.isspace() and c not in _BLANK_LOOKING and unicodedata.category(c) not in ("Cf", "Cc")
        for c in text
    )


def clean_line(value: Any, field: str, max_len: int | None = None) -> str:
    """A single-line text field: surrounding white space trimmed; line breaks, tabs and
    other control characters inside refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{_label(field)} must be text.", field)
    text = value.strip()
    _refuse_controls(text, field, _CONTROL)
    if max_len is not None and len(text) > max_len:
        raise ValidationError(
            f"{_label(field)} is {len(text)} characters long; the limit is {max_len}. "
            "Shorten it and save again.",
            field,
        )
    return text


def clean_title(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("The title must be text.", "title")
    title = value.strip()
    if not has_visible_text(title):
        raise ValidationError(
            "A ticket needs a title: say in a few words what it is about.", "title"
        )
    _refuse_controls(title, "title", _CONTROL)
    if len(title) > TITLE_MAX:
        raise ValidationError(
            f"The title is {len(title)} characters long; keep it to {TITLE_MAX} and put the "
            "rest in the description.",
            "title",
        )
    return title


def clean_text(value: Any, field: str, max_len: int | None = None) -> str:
    """A multi-line text field: line breaks (stored as \\n) and tabs kept, other control
    characters refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{_label(field)} must be text.", field)
    # Windows line ends (from a script or a pasted file) are line breaks, not controls.
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    _refuse_controls(value, field, _CONTROL_MULTILINE)
    if max_len is not None and len(value) > max_len:
        raise ValidationError(
            f"{_label(field)} is {len(value)} characters long; the limit is {max_len}.", field
        )
    return value


def clean_hold_reason(value: Any) -> str:
    """Why a ticket is on hold: one line of at most HOLD_REASON_MAX characters ("" if none)."""
    return clean_line(value, "hold_reason", HOLD_REASON_MAX)


def clean_names(value: Any, field: str, max_len: int = NAME_MAX) -> list[str]:
    """A list of names from a list or from text separated by commas, semicolons or new lines."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items: Iterable[Any] = _SPLIT.split(value)
    elif isinstance(value, list):
        items = value
    else:
        raise ValidationError(f"{field.capitalize()} must be a list of text.", field)
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(f"Each entry of {field} must be text.", field)
        if items is value and _SPLIT.search(item):
            # The form shows these lists joined by commas; a separator inside one entry would
            # silently split it on the next save.
            raise ValidationError(
                f"{item[:40]!r} in {field} contains a comma, semicolon or line break; those "
                f"separate {field}. Use another character, or send them as separate entries.",
                field,
            )
        name = item.strip()
        if not name:
            continue
        _refuse_controls(name, field, _CONTROL, f"{name[:30]!r} in {field}")
        if len(name) > max_len:
            raise ValidationError(
                f"{name[:30]}… in {field} is too long (limit {max_len} characters).", field
            )
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def clean_link(url: Any, title: Any = "", field: str = "links") -> dict[str, str]:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("A link needs a URL.", field)
    url = url.strip()
    if len(url) > URL_MAX:
        raise ValidationError(f"A link is longer than {URL_MAX} characters.", field)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_LINK_SCHEMES or (scheme != "mailto" and not parts.netloc):
        raise ValidationError(
            f"{url[:60]!r} is not a link we can open: use an http://, https:// or mailto: address.",
            field,
        )
    _refuse_controls(url, field, _CONTROL, f"The link {url[:60]!r}")
    if any(c.isspace() for c in parts.netloc):
        raise ValidationError(
            f"The link {url[:60]!r} has a space in its address (host name), which no link "
            "can have: remove the space.",
            field,
        )
    title = clean_line(title, field, LINK_TITLE_MAX)
    return {"url": url, "title": title}


def link_href(url: Any) -> str | None:
    """`url` if it is still a link we may put in an href (checked again when shown), else None."""
    try:
        return clean_link(url)["url"]
    except ValidationError:
        return None


def clean_links(value: Any, field: str = "links") -> list[dict[str, str]]:
    """Links from a list of {url, title} (API) or text lines "URL optional title" (forms)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        out = []
        for line in value.splitlines():
            line = line.strip()
            if not line:
                continue
            url, _, title = line.partition(" ")
            out.append(clean_link(url, title.strip(), field))
        return out
    if not isinstance(value, list):
        raise ValidationError("Links must be a list of {url, title} objects.", field)
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(clean_link(item, "", field))
        elif isinstance(item, dict):
            out.append(clean_link(item.get("url"), item.get("title") or "", field))
        else:
            raise ValidationError("Each link must be {url, title}.", field)
    return out


# A day, or a day and a time (seconds, fraction and UTC offset optional). The year takes any
# number of digits here so that a typing mistake like 20266 is named as a year.
_DUE_DAY = re.compile(r"(?P<year>\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})")
_DUE_MOMENT = re.compile(
    r"(?P<year>\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
    r"(Z|[+-]\d{2}(:?\d{2})?)?",
    re.IGNORECASE,
)


def _check_day(year: int, month: int, day: int, typed: str) -> None:
    if not 1 <= month <= 12:
        raise ValidationError(
            f"{typed[:40]!r} has no month {month}: months go from 01 to 12 (YYYY-MM-DD).", "due"
        )
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValidationError(
            f"{typed[:40]!r}: there is no day {day} in {calendar.month_name[month]} {year} "
            f"(it has {last} days).",
            "due",
        )


def parse_due(value: Any, tz: dt.tzinfo | None = None) -> tuple[dt.date | None, dt.datetime | None]:
    """Parse a due date: a day ("2026-12-10") or a day and time.

    Returns (due_date, due_at): for a day, due_date is set and due_at is the end of that day in
    `tz` (the next local midnight); for a day and time, due_date is None and due_at the instant
    in UTC. A time without an offset is local time in `tz`.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if not isinstance(value, str):
        raise ValidationError(
            "The due date must be text like 2026-12-10 or 2026-12-10 17:00.", "due"
        )
    text = value.strip()
    tz = tz or local_tz()
    shape = _DUE_DAY.fullmatch(text) or _DUE_MOMENT.fullmatch(text)
    if shape is None:  # ISO 8601's other forms (weeks, ordinal days, no dashes) are refused
        raise ValidationError(
            f"{text[:40]!r} is not a date we understand. Use YYYY-MM-DD (for example 2026-12-10) "
            "or YYYY-MM-DD HH:MM.",
            "due",
        )
    year, month, day_of_month = (int(n) for n in shape.group("year", "month", "day"))
    _check_year(year, "due")
    _check_day(year, month, day_of_month, text)
    if shape.re is _DUE_DAY:
        day = dt.date(year, month, day_of_month)
        return day, end_of_day(day, tz)
    try:
        moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValidationError(
            f"{text[:40]!r} has no such time of day: use 00:00 to 23:59, for example "
            f"{text[:10]} 17:00.",
            "due",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return None, moment.astimezone(dt.timezone.utc)


def format_due(due_date: dt.date | None, due_at: dt.datetime | None) -> str | None:
    """The API form of a due date: "YYYY-MM-DD" or an ISO date-time with offset."""
    if due_date is not None:
        return due_date.isoformat()
    if due_at is not None:
        return due_at.isoformat()
    return None


# How far ahead of this machine's clock a time may be (another machine's clock may run a
# little fast).
CLOCK_SKEW = dt.timedelta(minutes=5)


def parse_timestamp(value: Any, field: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 date-time with offset (for imported history).

    With `now`, a time later than now (beyond CLOCK_SKEW) is refused: a ticket created "in
    2030" would sort first by Created and Last updated for years.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be an ISO 8601 date-time.", field)
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"{value[:40]!r} is not an ISO 8601 date-time such as 2026-01-31T09:30:00+00:00.",
            field,
        ) from None
    if moment.tzinfo is None:
        raise ValidationError(f"{field} needs a UTC offset, like 2026-01-31T09:30:00+00:00.", field)
    _check_year(moment.year, field)
    moment = moment.astimezone(dt.timezone.utc)
    if now is not None:
        check_not_future(moment, field, now=now, shown=value.strip())
    return moment


def check_not_future(
    moment: dt.datetime, field: str, *, now: dt.datetime, shown: str | None = None
) -> None:
    """Refuse a recorded time (created_at, updated_at) later than `now` plus CLOCK_SKEW."""
    if moment > now + CLOCK_SKEW:
        raise ValidationError(
            f"{field} {shown or moment.isoformat()!r} is in the future (it is now "
            f"{now.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC). Give the time it really "
            "happened, or leave it out to use the current time.",
            field,
        )


# Years outside this range are typing mistakes, and near year 1 or 9999 the conversions
# between time zones run off the calendar.
MIN_YEAR, MAX_YEAR = 1900, 9000


def _check_year(year: int, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(
            f"The year {year} looks like a typing mistake: use a year between {MIN_YEAR} and "
            f"{MAX_YEAR}.",
            field,
        )
