"""The search text rules against a real SQLite FTS5 table (issue 5)."""

from __future__ import annotations

import itertools
import random
import sqlite3

import pytest

from tickettracker.searchtext import (
    FTS_TOKENIZER,
    column_filter,
    index_text,
    parse_query,
    phrase,
)

DOCS = {
    1: "Café au lait spilled on the keyboard",
    2: "cafe downstairs is closed",
    3: "Printer PAPER JAM in tray 2",
    4: "jam the paper back in",
    5: "我们的打印机坏了",
    6: "我的猫丢了",
    7: "東京都に住んでいます",
    8: "학교에서 공부합니다",
    9: "Принтер не печатает ёлку",
    10: "Server room on fire🔥 again",
    11: "Great work 👍🏽 ❤️ 🤔",
    12: "Salt and pepper, do not reply, near the door",
    13: "Send an e-mail about 100% CPU in my_var (see C:\\temp)",
    14: "iPhone 手机 screen broken",
    15: "Straße gesperrt, ＦＵＬＬ width",
    16: "नमस्ते दुनिया",
    17: "Family 👨‍👩‍👧 photo",
    18: "ส่งอีเมลไม่ได้",
    19: "the body: dispatch it again",
}


@pytest.fixture(scope="module")
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(f'CREATE VIRTUAL TABLE doc USING fts5(body, tokenize="{FTS_TOKENIZER}")')
    conn.executemany(
        "INSERT INTO doc(rowid, body) VALUES (?, ?)",
        [(rowid, index_text(body)) for rowid, body in DOCS.items()],
    )
    return conn


def found(db: sqlite3.Connection, q: str) -> set[int]:
    match = parse_query(q).match
    assert match is not None, f"{q!r} should have searchable text"
    return {row[0] for row in db.execute("SELECT rowid FROM doc WHERE doc MATCH ?", (match,))}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("cafe", {1, 2}),
        ("café", {1, 2}),
        ("CAFÉ", {1, 2}),
        ("CAFE", {1, 2}),
        ("printer", {3}),
        ("pRiNtEr paper", {3}),
        ("strasse", {15}),  # ß folds to ss
        ("STRASSE", {15}),
        ("full width", {15}),  # full-width letters fold to ASCII
    ],
)
def test_case_and_accents_do_not_matter(db, q, expected):
    assert found(db, q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("猫", {6}),  # a one-character Chinese word
        ("打印", {5}),  # two characters, in the middle of a run
        ("打印机", {5}),  # three
        ("印", {5}),
        ("机坏了", {5}),
        ("坏了", {5}),
        ("了", {5, 6}),  # last character of both runs
        ("我", {5, 6}),
        ("我的", {6}),
        ("东京", set()),  # simplified 东 is not the Japanese 東
        ("東京", {7}),
        ("住ん", {7}),  # kanji followed by kana
        ("います", {7}),
        ("学校", set()),
        ("학교", {8}),
        ("공부", {8}),
        ("手机", {14}),
        ("手", {14}),
        ("iphone 手机", {14}),
        ('"iphone 手机 screen"', {14}),
        ('"手机 screen"', {14}),
        ('"机 screen"', {14}),
        ('"手 screen"', set()),  # 手 is not followed by "screen"
        ("打机", set()),  # both characters occur, but not next to each other
        ("ไม่ได้", {18}),  # Thai, also written without spaces
        ("อีเมล", {18}),
    ],
)
def test_unspaced_scripts_are_found_by_any_part(db, q, expected):
    assert found(db, q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("принтер", {9}),
        ("ПРИНТЕР", {9}),
        ("печат", {9}),  # prefix of the last word
        ("не печатает", {9}),
        ("ёлку", {9}),
        ("नमस्ते", {16}),  # not cut apart at its vowel signs
        ("दुनिया", {16}),
    ],
)
def test_other_scripts(db, q, expected):
    assert found(db, q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("🔥", {10}),  # glued to the word before it
        ("fire", {10}),
        ("fire🔥", {10}),
        ("👍", {11}),  # skin tone ignored, like an accent
        ("👍🏽", {11}),
        ("👍🏿", {11}),
        ("❤", {11}),
        ("❤️", {11}),  # with the emoji variation selector
        ("🤔", {11}),  # newer than SQLite's Unicode tables
        ("👩", {17}),  # a member of a joined family emoji
        ("👨‍👩‍👧", {17}),
    ],
)
def test_emoji_are_findable(db, q, expected):
    assert found(db, q) == expected


def test_emoji_that_is_not_there_finds_nothing(db):
    assert found(db, "🚀") == set()


def test_words_and_together_and_phrases_keep_order(db):
    assert found(db, "paper jam") == {3, 4}
    assert found(db, "jam paper") == {3, 4}
    assert found(db, '"paper jam"') == {3}
    assert found(db, '"jam paper"') == set()
    assert found(db, '"jam the paper"') == {4}
    assert found(db, "printer back") == set()


def test_last_word_is_a_prefix_while_typed(db):
    assert found(db, "prin") == {3}
    assert found(db, "pap") == {3, 4}
    assert found(db, "ke") == {1}  # keyboard
    assert found(db, "k") == set()  # a single letter is a word, not a prefix of all k-words
    assert found(db, "prin ") == set()  # a space says the word is finished
    assert found(db, "prin jam") == set()  # only the word being typed is a prefix
    assert found(db, "jam prin") == {3}
    assert found(db, '"paper ja') == {3}  # an unclosed phrase is still being typed
    assert found(db, '"paper ja"') == set()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("salt AND pepper", {12}),
        ("and", {12}),
        ("AND", {12}),
        ("not reply", {12}),
        ("NOT reply", {12}),
        ("NEAR door", {12}),
        ("NEAR(the door)", {12}),
        ("salt OR nothing", set()),  # OR is a word, not an operator
        ("e-mail", {13}),
        ("-mail", {13}),
        ("e mail", {13}),
        ("100%", {13}),
        ("my_var", {13}),
        ("C:\\temp", {13}),
        ("c:temp", {13}),
        ("(see", {13}),
        ("see)", {13}),
        ("^send", {13}),
        ("+send", {13}),
        ("send*", {13}),
        ("*send", {13}),
        ('"send', {13}),
        ('send"', {13}),
        ('"send an" "e-mail', {13}),
        ("{body}:send", set()),  # as a column filter it would find 13
        ("body:send", set()),
        ("body:dispatch", {19}),
        ("'send'", {13}),
    ],
)
def test_fts_syntax_typed_by_a_user_is_text(db, q, expected):
    assert found(db, q) == expected


SYNTAX = ['"', "-", "*", ":", "(", ")", "NEAR", "AND", "OR", "NOT", "^", "+", "{", "}", "'"]
SYNTAX += ["\\", "%", "_", "NEAR/2", "body:", "x", " ", "\x00", "é", "东", "🔥"]


def test_no_input_makes_fts5_raise(db):
    # Every pair and triple of syntax pieces, then random longer strings of them.
    samples = ["".join(p) for n in (1, 2, 3) for p in itertools.product(SYNTAX, repeat=n)]
    rng = random.Random(5)
    samples += ["".join(rng.choice(SYNTAX) for _ in range(rng.randint(4, 20))) for _ in range(500)]
    for q in samples:
        match = parse_query(q).match
        if match is not None:
            db.execute("SELECT count(*) FROM doc WHERE doc MATCH ?", (match,)).fetchone()


@pytest.mark.parametrize("q", ["", "   ", "*", "-", '"', '""', "()", "% _", ":", "tag:x"])
def test_nothing_searchable_gives_no_match_expression(q):
    assert parse_query(q).match is None


def test_qualifiers_are_taken_out_of_the_text():
    parsed = parse_query(
        'printer tag:hardware tag:"needs review",urgent status:on-hold is:in_progress '
        'priority:High requester:"Ann Lee" watcher:bob is:overdue sort:due order:desc jam'
    )
    assert parsed.text == "printer jam"
    assert parsed.tags == (("hardware",), ("needs review", "urgent"))
    assert parsed.statuses == ("on_hold", "in_progress")
    assert parsed.priorities == ("high",)
    assert parsed.requesters == ("Ann Lee",)
    assert parsed.watchers == ("bob",)
    assert parsed.due == "overdue"
    assert (parsed.sort, parsed.order) == ("due", "desc")
    assert parsed.problems == ()


def test_qualifier_keys_ignore_case_and_values_list_alternatives():
    parsed = parse_query("TAG:a,b Status:open,closed")
    assert parsed.tags == (("a", "b"),)
    assert parsed.statuses == ("open", "closed")


@pytest.mark.parametrize(
    ("q", "due"),
    [("due:today", "today"), ("due:week", "week"), ("due:none", "none"), ("due:3", "3")],
)
def test_due_qualifier(q, due):
    assert parse_query(q).due == due


def test_due_in_days_accepts_a_d_suffix():
    assert parse_query("due:14d").due == "14"


def test_unknown_due_value_is_reported_not_applied():
    parsed = parse_query("due:soon")
    assert parsed.due is None
    assert "due:soon" not in parsed.problems[0] and "'soon'" in parsed.problems[0]
    assert "due:overdue" in parsed.problems[0]


def test_unknown_keys_and_urls_are_text(db):
    parsed = parse_query("error:timeout http://example.com/a?b=1")
    assert parsed.text == "error:timeout http://example.com/a?b=1"
    assert parsed.tags == () and parsed.statuses == ()


def test_too_many_words_are_reported():
    parsed = parse_query(" ".join(f"w{i}" for i in range(40)))
    assert len(parsed.terms) == 32
    assert parsed.problems and "32" in parsed.problems[0]


def test_column_filter_restricts_to_a_column():
    conn = sqlite3.connect(":memory:")
    conn.execute(f'CREATE VIRTUAL TABLE t USING fts5(requester, body, tokenize="{FTS_TOKENIZER}")')
    conn.execute("INSERT INTO t(rowid, requester, body) VALUES (1, 'Ann Lee', 'for bob')")
    conn.execute("INSERT INTO t(rowid, requester, body) VALUES (2, 'Bob Day', 'for ann')")
    expr = column_filter("requester", phrase("ann", prefix=True))
    assert [r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))] == [1]


def test_index_text_leaves_plain_ascii_alone():
    text = 'Printer "jam" (tray 2) -- 100% my_var'
    assert index_text(text) is text


def test_phrase_of_punctuation_only_is_none():
    assert phrase("--- ***") is None
    assert phrase("東") == '" 東 " *'


@pytest.mark.parametrize("q", ["%", "_", "*", '"', "-", ":", "( )"])
def test_punctuation_alone_says_no_text_filter_is_applied(q):
    parsed = parse_query(q)
    assert parsed.match is None
    assert any("no text filter is applied" in p for p in parsed.problems)


@pytest.mark.parametrize(
    ("q", "said"),
    [
        ('"', "The search has no letters, digits or emoji to search for"),
        ('""', "The search has no letters, digits or emoji to search for"),
        ("-- ** ::", "“-- ** ::” has no letters, digits or emoji to search for"),
    ],
)
def test_a_search_with_nothing_to_look_for_says_so(q, said):
    assert list(parse_query(q).problems) == [said + ", so no text filter is applied: add a word."]


@pytest.mark.parametrize("q", ["tag:", 'tag:"', 'tag:""', "Tag:"])
def test_a_qualifier_without_a_value_is_said_and_not_searched_as_text(q):
    parsed = parse_query(q)
    assert parsed.tags == () and parsed.match is None
    assert list(parsed.problems) == [
        "tag: needs a value after the colon, like tag:printer; it was left out of the search."
    ]
