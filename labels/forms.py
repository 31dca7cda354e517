"""Forms that take label names: the Labels page's create and rename, and the name lists of the
campaign pages. The naming rules themselves live in labels.rules; the forms only show them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from labels import rules


def _rule_errors(name: str, problems: list[str], *, prefix: bool) -> list[ValidationError]:
    # With several names in one field, each message says which name it is about.
    return [ValidationError(f"“{name}”: {p}" if prefix else p) for p in problems]


class LabelNameForm(forms.Form):
    """One label name, checked against the rules (uniqueness is the service's to say)."""

    # Longer than the rule allows, so that the rule (not the browser) says what is wrong.
    name = forms.CharField(
        max_length=1000,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=rules.RULES_TEXT,
    )

    def clean_name(self) -> str:
        raw = self.cleaned_data["name"]
        problems = rules.name_problems(raw)
        if problems:
            raise ValidationError(_rule_errors(raw.strip(), problems, prefix=False))
        return raw.strip()


def unique_names(values: list[str]) -> list[str]:
    """Names given one per input: trimmed, blanks dropped, each once (ignoring case), in order."""
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        name = value.strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


def split_names(text: str) -> list[str]:
    """Comma-separated names (the editor's "New labels"), as unique_names gives them."""
    return unique_names(text.split(","))


def names_errors(names: list[str]) -> list[ValidationError]:
    """Every rule each name breaks, naming the name."""
    errors: list[ValidationError] = []
    for name in names:
        errors.extend(_rule_errors(name, rules.name_problems(name), prefix=True))
    return errors


class LabelNamesField(forms.CharField):
    """Comma-separated new label names ("Onboarding, Reengage"); each must follow the rules."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", f"Separate names with commas. Each name: {rules.RULES_TEXT}")
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return split_names(super().to_python(value) or "")

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        errors = names_errors(value)
        if errors:
            raise ValidationError(errors)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value
