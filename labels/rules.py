"""What a label's name may be, and how many labels there may be."""

from __future__ import annotations

from typing import Any

from config.errors import Invalid

MAX_LABELS = 900
MAX_NAME_LENGTH = 64
# The spec's forbidden symbols, with the typographic quotes that stand in for " when pasted.
FORBIDDEN_SYMBOLS = ('"', "\u201d", "\u201c", "\\", "%", ">", "<", "!")
RULES_TEXT = (
    f"1 to {MAX_NAME_LENGTH} characters, without any of " + " ".join(FORBIDDEN_SYMBOLS) + "."
)


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
    if "\x00" in name or any(not ch.isprintable() for ch in name):
        problems.append("Label names cannot contain control characters.")
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
