"""Search text: what goes into the FTS5 index, and what the search box means.

Pure functions, no database and no Flask. The FTS5 table that stores ``index_text`` output
must use ``FTS_TOKENIZER`` so that index and query are cut into the same tokens.

How text becomes tokens (issue 5):

- NFKC + case folding first, so full-width ``ＡＢＣ`` finds ``abc`` and ``Straße`` finds
  ``strasse``; the tokenizer's ``remove_diacritics 2`` then makes ``cafe`` find ``café``.
- Scripts written without spaces between words (Chinese, Japanese, Korean, Thai, Lao,
  Khmer, Myanmar) would otherwise be one token per sentence. Each such run of characters
  is emitted as a chain of overlapping pairs with the last character alone: ``东京都`` ->
  ``东京 京都 都``. A query run is emitted the same way with its last token as a prefix, so
  ``东京`` -> ``"东京 京" *`` and ``京`` -> ``"京" *``: every substring of a run, of any
  length (one character included), matches exactly where it occurs, and phrases that mix
  scripts keep their word order. This costs one token per character, less than Lucene's
  CJK bigrams plus unigrams, which also need a second position for every character.
- Emoji and other symbols (Unicode category So) become tokens of their own: the tokenizer
  is told to keep category So, and each symbol is spaced out so ``hot🔥`` holds ``hot``
  and ``🔥``. Skin-tone modifiers, variation selectors and zero-width joiners are dropped,
  the way accents are, so ``👍`` finds ``👍🏽``.
- Marks (category M) are token characters too, otherwise Devanagari and other Indic words
  would be cut apart at every vowel sign.

The query language: words AND together; the word still being typed (the last one, when
the box does not end in a space) matches as a prefix; ``"quoted phrases"`` match in
order (an unclosed quote runs to the end and is treated as still being typed);
qualifiers ``key:value`` narrow the list. Every other character is text: the MATCH
expression is built only from quoted FTS5 strings, so FTS5 operators and punctuation a
user types are never parsed as syntax and never raise.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

# ``categories`` adds marks (M*) and other symbols (So, emoji) to unicode61's default
# token characters (L* N* Co).
FTS_TOKENIZER = "unicode61 remove_diacritics 2 categories 'L* N* Co M* So'"

# Scripts written without spaces between words: (first, last) code points.
_NOSPACE_RANGES = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3041, 0x309F),  # Hiragana
    (0x30A0, 0x30FA),  # Katakana (without the middle dot U+30FB, which is punctuation)
    (0x30FC, 0x30FF),  # Katakana prolonged sound mark and iteration marks
    (0x3105, 0x312F),  # Bopomofo
    (0x3131, 0x318E),  # Hangul compatibility Jamo
    (0x31A0, 0x31BF),  # Bopomofo extended
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xD7B0, 0xD7FF),  # Hangul Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B to G and compatibility supplement
)

# Dropped like diacritics: variation selectors, zero-width joiner, combining keycap,
# skin-tone modifiers and tag characters (used inside emoji sequences).
_DROP_RE = re.compile("[\ufe0e\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]")


def _char_class(ranges: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> str:
    return "".join(
        re.escape(chr(first))
        if first == last
        else f"{re.escape(chr(first))}-{re.escape(chr(last))}"
        for first, last in ranges
    )


_NOSPACE_RE = re.compile(f"[{_char_class(_NOSPACE_RANGES)}]+")


@functools.cache
def _symbol_re() -> re.Pattern[str]:
    """Other symbols (category So, emoji among them) in planes 0 and 1, built on first use."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x80, 0x20000):
        if unicodedata.category(chr(code)) == "So":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return re.compile(f"[{_char_class(ranges)}]")


def _pair_chain(match: re.Match[str]) -> str:
    run = match.group()
    return " " + " ".join(run[i : i + 2] for i in range(len(run))) + " "


def index_text(text: str) -> str:
    """Return ``text`` as it should be stored in (or queried against) the FTS5 index."""
    if text.isascii():
        return text  # the tokenizer folds ASCII case itself; nothing else to do
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DROP_RE.sub("", text)
    text = _symbol_re().sub(r" \g<0> ", text)
    return _NOSPACE_RE.sub(_pair_chain, text)


def _is_token_char(char: str) -> bool:
    """Whether the FTS5 tokenizer keeps ``char`` (see FTS_TOKENIZER)."""
    category = unicodedata.category(char)
    # Cn: SQLite's tables predate many newer characters and treat them as token characters.
    return category[0] in "LNM" or category in ("Co", "So", "Cn")


def _last_token(text: str) -> str:
    """The last run of token characters in ``text`` ("" when there is none)."""
    end = len(text)
    while end and not _is_token_char(text[end - 1]):
        end -= 1
    start = end
    while start and _is_token_char(text[start - 1]):
        start -= 1
    return text[start:end]


def phrase(text: str, *, prefix: bool = False) -> str | None:
    """Return an FTS5 phrase matching ``text`` in order, or None when it holds no token.

    ``prefix`` lets the last token match as a prefix (the word being typed), once it has
    two characters: one letter would expand to most of the index and make every
    keystroke slow. A phrase that ends in a run of unspaced script always gets it: its
    last token is a single character that must match the pair starting with it (see the
    module docstring).
    """
    converted = index_text(text).replace('"', " ")
    last = _last_token(converted)
    if not last:
        return None
    if _NOSPACE_RE.fullmatch(last[-1]):
        prefix = True
    elif len(last) < 2:
        prefix = False
    return f'"{converted}"' + (" *" if prefix else "")


def column_filter(columns: str | tuple[str, ...], expression: str) -> str:
    """Restrict an FTS5 expression to the named columns (trusted names, not user input)."""
    names = (columns,) if isinstance(columns, str) else columns
    return "{" + " ".join(names) + "} : (" + expression + ")"


def and_all(expressions: list[str]) -> str | None:
    """Join FTS5 expressions with AND; None when there are none."""
    return " AND ".join(expressions) if expressions else None


# --- the search box -------------------------------------------------------------------

QUALIFIERS = ("tag", "status", "is", "priority", "requester", "watcher", "due", "sort", "order")
QUALIFIER_EXAMPLES = {
    "tag": "tag:printer",
    "status": "status:on_hold",
    "is": "is:overdue",
    "priority": "priority:high",
    "requester": "requester:ann",
    "watcher": "watcher:ann",
    "due": "due:week",
    "sort": "sort:due",
    "order": "order:asc",
}
DUE_KEYWORDS = ("overdue", "today", "week", "none")
MAX_DUE_DAYS = 3660  # ten years, as the API's due= accepts
MAX_TEXT_TERMS = 32

# A qualifier with a quoted or bare value, a quoted phrase (perhaps unclosed), or a word.
_VALUE = r'(?:"[^"]*"?|[^\s",]+)'
_QUERY_RE = re.compile(
    rf"(?P<key>[A-Za-z_]+):(?P<value>{_VALUE}(?:,{_VALUE}?)*)"
    r'|"(?P<phrase>[^"]*)(?P<closed>"?)'
    r'|(?P<word>[^\s"]+)'
)
_VALUE_RE = re.compile(r'"([^"]*)"?|([^,"]+)')


@dataclass(frozen=True)
class TextTerm:
    """One thing to find in the text: a word or a quoted phrase, as the user typed it."""

    text: str
    quoted: bool = False
    prefix: bool = False

    def expression(self) -> str | None:
        """The FTS5 phrase for this term; None when it holds nothing searchable."""
        return phrase(self.text, prefix=self.prefix)


@dataclass(frozen=True)
class ParsedQuery:
    """What the search box asks for. Values are normalised but not yet checked against
    the configured statuses, priorities and sorts: the search service does that."""

    terms: tuple[TextTerm, ...] = ()
    tags: tuple[tuple[str, ...], ...] = ()  # every group must match; any tag within one
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    requesters: tuple[str, ...] = ()
    watchers: tuple[str, ...] = ()
    due: str | None = None  # one of DUE_KEYWORDS or a number of days as digits
    sort: str | None = None
    order: str | None = None
    problems: tuple[str, ...] = field(default=())
    # (normalised value, as typed) for status, priority, sort and order values, so that a
    # message about one quotes what the user typed ("On-Hold", not "on_hold").
    typed_values: tuple[tuple[str, str], ...] = field(default=())

    def typed(self, value: str) -> str:
        """``value`` as the user typed it in the box (itself when not typed there)."""
        return next((raw for key, raw in self.typed_values if key == value), value)

    @property
    def match(self) -> str | None:
        """FTS5 MATCH expression for the free text (all terms ANDed), or None."""
        return and_all([e for e in (t.expression() for t in self.terms) if e is not None])

    @property
    def text(self) -> str:
        """The free text, qualifiers removed (for showing back to the user)."""
        return " ".join(f'"{t.text}"' if t.quoted else t.text for t in self.terms)


def _key_value(value: str) -> str:
    """Normalise a status, priority, sort or due value: ``On-Hold`` -> ``on_hold``."""
    return re.sub(r"[\s-]+", "_", value.strip().casefold())


def _split_values(value: str) -> tuple[str, ...]:
    """``a,"b c"`` -> ("a", "b c"): a comma lists alternatives, as in ``tag:bug,crash``."""
    parts = (
        m.group(1) if m.group(1) is not None else m.group(2) for m in _VALUE_RE.finditer(value)
    )
    return tuple(part.strip() for part in parts if part.strip())


def parse_query(q: str) -> ParsedQuery:
    """Parse the search box: free text plus qualifiers. Never raises on any input."""
    q = q.replace("\x00", " ")
    terms: list[TextTerm] = []
    lists: dict[str, list] = {k: [] for k in ("tag", "status", "priority", "requester", "watcher")}
    single: dict[str, str | None] = {"due": None, "sort": None, "order": None}
    problems: list[str] = []
    typed: dict[str, str] = {}

    def normalised(raw: str) -> str:
        key = _key_value(raw)
        typed.setdefault(key, raw.strip())
        return key

    ends_open = bool(q) and not q[-1].isspace()
    matches = list(_QUERY_RE.finditer(q))
    for index, m in enumerate(matches):
        is_last = index == len(matches) - 1
        key = (m.group("key") or "").casefold()
        word = m.group("word") or ""
        if not key and word.endswith(":") and word[:-1].casefold() in QUALIFIERS:
            key, values = word[:-1].casefold(), ()  # ``tag:`` alone
        elif key in QUALIFIERS:
            values = _split_values(m.group("value"))
        if key in QUALIFIERS:
            if not values:  # ``tag:`` or ``tag:""``: nothing to filter on, nor text to find
                problems.append(
                    f"{key}: needs a value after the colon, like {QUALIFIER_EXAMPLES[key]}; "
                    "it was left out of the search."
                )
                continue
            if key == "tag":
                lists["tag"].append(values)
            elif key in ("requester", "watcher"):
                lists[key].extend(values)
            elif key in ("status", "priority"):
                lists[key].extend(normalised(v) for v in values)
            elif key == "is":
                for v in map(normalised, values):
                    if v in DUE_KEYWORDS:
                        single["due"] = v
                    else:
                        lists["status"].append(v)
            else:  # due, sort, order
                single[key] = normalised(values[-1])
            continue
        if m.group("phrase") is not None:
            closed = bool(m.group("closed"))
            terms.append(TextTerm(m.group("phrase"), quoted=True, prefix=not closed))
            continue
        # A plain word, or ``something:else`` with a key we do not know: both are text.
        prefix = is_last and ends_open
        terms.append(TextTerm(m.group(), prefix=prefix))
    searchable = [t for t in terms if t.expression() is not None]
    if terms and not searchable:
        shown = " ".join(t.text for t in terms).strip()[:40]
        problems.append(
            f"{f'“{shown}”' if shown else 'The search'} has no letters, digits or emoji to "
            "search for, so no text filter is applied: add a word."
        )
    if len(searchable) > MAX_TEXT_TERMS:
        problems.append(
            f"Only the first {MAX_TEXT_TERMS} words of the search are used; "
            "remove some words to search for the rest."
        )
        searchable = searchable[:MAX_TEXT_TERMS]
    due = single["due"]
    if due is not None:
        days = due[:-1] if due.endswith("d") else due
        if days.isdigit() and not 0 < int(days) <= MAX_DUE_DAYS:
            problems.append(
                f"The due filter {typed[due]!r} is out of range: use a number of days from 1 "
                f"to {MAX_DUE_DAYS}, such as due:3."
            )
            due = None
        elif days.isdigit():
            due = str(int(days))
        elif due not in DUE_KEYWORDS:
            problems.append(
                f"Unknown due filter {typed[due]!r}: use due:overdue, due:today, due:week, "
                "due:none or a number of days such as due:3."
            )
            due = None
    return ParsedQuery(
        terms=tuple(searchable),
        tags=tuple(tuple(group) for group in lists["tag"]),
        statuses=tuple(dict.fromkeys(lists["status"])),
        priorities=tuple(dict.fromkeys(lists["priority"])),
        requesters=tuple(lists["requester"]),
        watchers=tuple(lists["watcher"]),
        due=due,
        sort=single["sort"],
        order=single["order"],
        problems=tuple(problems),
        typed_values=tuple(typed.items()),
    )
