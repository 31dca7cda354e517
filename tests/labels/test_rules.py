"""The naming rules of labels, one case per rule: what passes, what is refused, and what it says."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import Invalid
from labels import rules
from labels.rules import FORBIDDEN_SYMBOLS, MAX_NAME_LENGTH, clean_name, name_problems

# The spec's list, spelled out here rather than read back from the module under test.
SPEC_SYMBOLS = ['"', "\u201d", "\u201c", "\\", "%", ">", "<", "!"]
CONTROL = "control characters"


def test_the_forbidden_symbols_are_the_specs() -> None:
    assert sorted(FORBIDDEN_SYMBOLS) == sorted(SPEC_SYMBOLS)


@pytest.mark.parametrize("symbol", SPEC_SYMBOLS)
def test_a_name_starting_with_a_forbidden_symbol_is_refused_and_says_start(symbol: str) -> None:
    problems = name_problems(f"{symbol}Onboarding")
    assert problems == [f"Label names cannot start with or contain {symbol}."]


@pytest.mark.parametrize("symbol", SPEC_SYMBOLS)
def test_a_name_containing_a_forbidden_symbol_is_refused_and_names_it(symbol: str) -> None:
    problems = name_problems(f"Score {symbol} Updates")
    assert problems == [f"Label names cannot contain {symbol}."]


@pytest.mark.parametrize("symbol", SPEC_SYMBOLS)
def test_a_name_ending_with_a_forbidden_symbol_is_refused(symbol: str) -> None:
    assert name_problems(f"Reengage{symbol}") == [f"Label names cannot contain {symbol}."]


@pytest.mark.parametrize("symbol", SPEC_SYMBOLS)
def test_a_name_that_is_only_a_forbidden_symbol_is_refused(symbol: str) -> None:
    assert name_problems(symbol) == [f"Label names cannot start with or contain {symbol}."]


def test_every_forbidden_symbol_in_a_name_is_named_once() -> None:
    [problem] = name_problems("Sale!! 50% <now>")
    assert problem.startswith("Label names cannot contain ")
    named = problem.removeprefix("Label names cannot contain ").removesuffix(".").split(" ")
    assert sorted(named) == sorted(["!", "%", "<", ">"])


@pytest.mark.parametrize("symbol", SPEC_SYMBOLS)
def test_clean_name_refuses_a_forbidden_symbol_with_the_name_field_in_the_errors(
    symbol: str,
) -> None:
    with pytest.raises(Invalid) as refused:
        clean_name(f"Promo {symbol}")
    assert refused.value.code == "invalid"
    assert refused.value.errors == {"name": [f"Label names cannot contain {symbol}."]}


@pytest.mark.parametrize("raw", ["", " ", "   ", "\t", "\n", " \t\r\n ", "\u00a0", "\u3000"])
def test_empty_and_whitespace_only_names_are_refused(raw: str) -> None:
    assert name_problems(raw) == ["A label needs a name."]
    with pytest.raises(Invalid) as refused:
        clean_name(raw)
    assert refused.value.errors == {"name": ["A label needs a name."]}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Onboarding  ", "Onboarding"),
        ("\tReengage\n", "Reengage"),
        (" Score Updates ", "Score Updates"),
        ("\u00a0Diwali\u00a0", "Diwali"),
    ],
)
def test_leading_and_trailing_whitespace_is_trimmed(raw: str, clean: str) -> None:
    assert name_problems(raw) == []
    assert clean_name(raw) == clean


def test_inner_spaces_are_kept() -> None:
    assert clean_name("Score  Updates") == "Score  Updates"


def test_a_name_of_64_characters_is_accepted() -> None:
    name = "x" * MAX_NAME_LENGTH
    assert MAX_NAME_LENGTH == 64
    assert clean_name(name) == name


def test_a_name_of_65_characters_is_refused_and_says_the_limit_and_the_length() -> None:
    assert name_problems("x" * 65) == ["At most 64 characters (65 given)."]


def test_the_length_is_counted_after_trimming() -> None:
    assert clean_name("  " + "x" * 64 + "  ") == "x" * 64


def test_the_length_counts_characters_not_bytes() -> None:
    name = "é" * 64  # 128 bytes in UTF-8, 64 characters
    assert clean_name(name) == name
    assert name_problems("é" * 65) == ["At most 64 characters (65 given)."]


@pytest.mark.parametrize(
    "raw",
    [
        "Score\tUpdates",
        "Score\nUpdates",
        "Score\rUpdates",
        "Score\x00Updates",
        "Score\x07Updates",
        "Score\x1bUpdates",
        "Score\x7fUpdates",
        "Score\u0085Updates",  # next line (C1)
        "Score\u2028Updates",  # line separator
        "Score\u2029Updates",  # paragraph separator
        "Score\u202eUpdates",  # right-to-left override: shows the name backwards
        "Score\u00adUpdates",  # soft hyphen: invisible
        "Score\ufeffUpdates",  # zero-width no-break space
        "Score\u00a0Updates",  # no-break space: looks like "Score Updates" but is another name
        "Score\u2009Updates",  # thin space
        "Score\ue000Updates",  # private use
        "Score\ud800Updates",  # a lone surrogate: not storable text
    ],
)
def test_control_and_invisible_characters_are_refused(raw: str) -> None:
    problems = name_problems(raw)
    assert len(problems) == 1
    assert CONTROL in problems[0]


@pytest.mark.parametrize("raw", [None, 7, 3.5, True, ["Onboarding"], {"name": "x"}, b"Onboarding"])
def test_a_name_that_is_not_text_is_refused(raw: Any) -> None:
    assert name_problems(raw) == ["Give the label's name as text."]
    with pytest.raises(Invalid) as refused:
        clean_name(raw)
    assert refused.value.errors == {"name": ["Give the label's name as text."]}


@pytest.mark.parametrize(
    "name",
    [
        "Onboarding",
        "Reengage",
        "Score Updates",
        "Ünïcødé 🎉",
        "Diwali 2025 – प्रस्ताव",
        "夏のセール",
        "Распродажа",
        "عرض خاص",
        "می\u200cخواهم",  # Persian needs the zero-width non-joiner
        "👩\u200d💻 Devs",  # an emoji sequence joined with a zero-width joiner
        "🏳️\u200d🌈 Pride",
        "Q&A / FAQ (v2) #1 [beta] {x} $5 * ^ ~ ` ' ; : , . ? = + - @ |",
        "=SUM(A1)",  # formulas are neutralised in the CSV, not refused as names
    ],
)
def test_unicode_and_ordinary_punctuation_are_accepted(name: str) -> None:
    assert name_problems(name) == []
    assert clean_name(name) == name


def test_several_broken_rules_are_all_reported() -> None:
    problems = name_problems("!" + "x" * 70 + "\t%")
    assert problems[:2] == [
        "At most 64 characters (73 given).",
        "Label names cannot contain control characters (tabs, line breaks) or special spaces.",
    ]
    assert problems[2] in (
        "Label names cannot start with or contain ! %.",
        "Label names cannot start with or contain % !.",
    )
    assert len(problems) == 3


def test_clean_name_says_the_name_is_not_valid() -> None:
    with pytest.raises(Invalid) as refused:
        clean_name("Sale!")
    assert refused.value.message == "The label name is not valid."
    assert refused.value.http_status == 400


def test_the_rules_text_shown_to_users_names_the_limit_and_every_symbol() -> None:
    assert "64" in rules.RULES_TEXT
    for symbol in SPEC_SYMBOLS:
        assert symbol in rules.RULES_TEXT


def test_the_cap_is_900() -> None:
    assert rules.MAX_LABELS == 900
