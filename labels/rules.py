"""What a label's name may be, and how many labels there may be."""

from __future__ import annotations

import unicodedata
from typing import Any

from config.errors import Invalid

MAX_LABELS = 900
MAX_NAME_LENGTH = 64
# The spec's forbidden symbols, with the typographic quotes that stand in for " when pasted.
FORBIDDEN_SYMBOLS = ('"', "\u201d", "\u201c", "\\", "%", ">", "<", "!")
RULES_TEXT = (
    f"1 to {MAX_NAME_LENGTH} characters, without any of " + " ".join(FORBIDDEN_SYMBOLS) + "."
)


# Zero-width (non-)joiners are format characters, yet emoji sequences (a woman technologist is woman,
# ZWJ, laptop) and scripts such as Persian need them, so they are the exception among the invisibles.
_JOINERS = frozenset({"\u200c", "\u200d"})
# Control and format characters (tabs, line breaks, bidi overrides, soft hyphens), line and
# paragraph separators, private-use and surrogate code points: they break CSV cells and pages or
# make two labels look alike. Unassigned code points pass: they are mostly emoji newer than Python.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _invisible(ch: str) -> bool:
    if ch in _JOINERS:
        return False
    category = unicodedata.category(ch)
    # Spaces other than the ordinary one (no-break, thin, ideographic) look like it but differ.
    return category in _INVISIBLE_CATEGORIES or (category == "Zs" and ch != " ")


def name_problems(raw: Any) -> list[str]:
    """Every reason `raw` is not a valid label name (empty when it is), for forms and the API."""
    if not isinstance(raw, str):
        return ["Give the label's name as text."]
    name = raw.strip()
    if not name:
        return ["A label needs a name."]
    problems = []
    if len(name) > MAX_NAME_LENGTH:
        problems.append(f"At most {MAX_NAME_LENGTH} characters ({len(name)} given).")
    if any(_invisible(ch) for ch in name):
        problems.append(
            "Label names cannot contain control characters (tabs, line breaks) or special spaces."
        )
    found = [symbol for symbol in FORBIDDEN_SYMBOLS if symbol in name]
    if found:
        where = "start with or contain" if name[0] in found else "contain"
        problems.append(f"Label names cannot {where} " + " ".join(found) + ".")
    return problems


def clean_name(raw: Any) -> str:
    """The trimmed name, or Invalid naming every rule it breaks."""
    problems = name_problems(raw)
    if problems:
        raise Invalid("The label name is not valid.", errors={"name": problems})
    return raw.strip()
