"""Forms of Settings › Channels and Settings › Delivery.

They only shape input: channels.services checks it and writes, and its field errors are put back
next to their fields. A secret's field is always rendered empty, on error too: what an Admin typed
into it is never sent back to the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from channels import display
from channels.models import FrequencyCap, ProviderConfig, QuietHours
from channels.services import Setting, dispatch_channels, provider_choices, settings_for
from config.errors import DomainError


class SecretInput(forms.PasswordInput):
    """A one-line secret: never rendered with a value."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"autocomplete": "new-password", "spellcheck": "false", **(attrs or {})},
            render_value=False,
        )


class SecretTextarea(forms.Textarea):
    """A multi-line secret (a key file): never rendered with a value."""

    def format_value(self, value: Any) -> str | None:
        return None


def add_service_errors(form: forms.Form, exc: DomainError, names: dict[str, str]) -> None:
    """A service's errors next to their fields (`names` maps an error key to a field)."""
    if not exc.errors:
        form.add_error(None, exc.message)
    for key, texts in exc.errors.items():
        name = names.get(key, key)
        for text in texts:
            form.add_error(name if name in form.fields else None, text)


@dataclass(frozen=True)
class SettingRow:
    """One provider setting on the page: its field and, for a secret, whether one is stored
    and the field that clears it."""

    setting: Setting
    field: forms.BoundField
    stored: bool = False
    clear: forms.BoundField | None = None


class ProviderForm(forms.Form):
    provider = forms.ChoiceField(label="Provider", required=False)

    def __init__(
        self,
        data: Any = None,
        *,
        channel: str,
        provider: str,
        row: ProviderConfig | None,
        environment: dict[str, Any] | None = None,
    ) -> None:
        self.channel = channel
        self.selected = provider
        self.row = row
        mine = row is not None and row.provider == provider
        options = dict(row.options) if mine and row is not None else {}
        if not mine and environment:
            # Start from the environment's options (a channel's providers share them), so taking
            # the channel over on this page keeps them.
            options = {k: v for k, v in (environment.get("options") or {}).items() if v}
        self.stored_secrets = set(row.secrets) if row is not None else set()
        initial: dict[str, Any] = {"provider": provider}
        for setting in settings_for(channel, provider):
            if not setting.secret and setting.name in options:
                initial[setting.name] = options[setting.name]
        super().__init__(data, initial=initial)
        self.fields["provider"].choices = [  # type: ignore[attr-defined]
            (choice, display.provider_label(channel, choice))
            for choice in provider_choices(channel)
        ]
        for setting in settings_for(channel, provider):
            self.fields[setting.name] = self._field(setting)
            if setting.secret:
                self.fields[f"clear_{setting.name}"] = forms.BooleanField(
                    required=False, label=f"Clear the stored {setting.label.lower()}"
                )

    @staticmethod
    def _field(setting: Setting) -> forms.Field:
        label = setting.label + (" (required)" if setting.required else "")
        attrs = {"placeholder": setting.placeholder} if setting.placeholder else {}
        if setting.flag:
            return forms.BooleanField(
                required=False,
                label=setting.label,
                help_text=setting.help,
                widget=forms.CheckboxInput(attrs={"role": "switch"}),
            )
        if setting.secret:
            widget: forms.Widget = (
                SecretTextarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"})
                if setting.multiline
                else SecretInput(attrs)
            )
            return forms.CharField(
                required=False, label=label, help_text=setting.help, widget=widget, strip=True
            )
        return forms.CharField(
            required=False,
            label=label,
            help_text=setting.help,
            max_length=2000,
            widget=forms.TextInput(attrs={"autocomplete": "off", **attrs}),
        )

    def rows(self) -> list[SettingRow]:
        rows = []
        for setting in settings_for(self.channel, self.selected):
            if setting.secret:
                stored = (
                    self.row is not None
                    and self.row.provider == self.selected
                    and setting.name in self.stored_secrets
                )
                rows.append(
                    SettingRow(setting, self[setting.name], stored, self[f"clear_{setting.name}"])
                )
            else:
                rows.append(SettingRow(setting, self[setting.name]))
        return rows

    def service_kwargs(self) -> dict[str, Any]:
        settings = settings_for(self.channel, self.selected)
        data = self.cleaned_data
        return {
            "provider": self.selected,
            "options": {s.name: data.get(s.name) for s in settings if not s.secret},
            "secrets": {s.name: data.get(s.name) or "" for s in settings if s.secret},
            "clear": [s.name for s in settings if s.secret and data.get(f"clear_{s.name}")],
        }

    def add_service_errors(self, exc: DomainError) -> None:
        add_service_errors(self, exc, {})


# ----------------------------------------------------------------------------------------------
# Settings › Delivery
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CapRow:
    channel: str
    label: str
    cap: FrequencyCap | None
    max_messages: forms.BoundField
    days: forms.BoundField


class FrequencyCapsForm(forms.Form):
    """Every dispatch channel's cap at once: both numbers, or neither for no cap."""

    def __init__(self, data: Any = None, *, caps: dict[str, FrequencyCap]) -> None:
        self.caps = caps
        initial: dict[str, Any] = {}
        for channel, cap in caps.items():
            initial[f"{channel}_max_messages"] = cap.max_messages
            initial[f"{channel}_days"] = cap.days
        super().__init__(data, initial=initial)
        for channel in dispatch_channels():
            label = display.channel_label(channel)
            self.fields[f"{channel}_max_messages"] = forms.CharField(
                required=False,
                label=f"{label}: at most (messages)",
                widget=forms.NumberInput(attrs={"min": 1, "max": 1000, "inputmode": "numeric"}),
            )
            self.fields[f"{channel}_days"] = forms.CharField(
                required=False,
                label=f"{label}: in (days)",
                widget=forms.NumberInput(attrs={"min": 1, "max": 365, "inputmode": "numeric"}),
            )

    def rows(self) -> list[CapRow]:
        return [
            CapRow(
                channel,
                display.channel_label(channel),
                self.caps.get(channel),
                self[f"{channel}_max_messages"],
                self[f"{channel}_days"],
            )
            for channel in dispatch_channels()
        ]

    def service_caps(self) -> dict[str, tuple[Any, Any]]:
        return {
            channel: (
                self.cleaned_data.get(f"{channel}_max_messages"),
                self.cleaned_data.get(f"{channel}_days"),
            )
            for channel in dispatch_channels()
        }

    def add_service_errors(self, exc: DomainError) -> None:
        names = {
            f"{channel}.{part}": f"{channel}_{part}"
            for channel in dispatch_channels()
            for part in ("max_messages", "days")
        }
        add_service_errors(self, exc, names)


class QuietHoursForm(forms.Form):
    enabled = forms.BooleanField(
        required=False,
        label="Quiet hours",
        help_text="On: no message on the chosen channels reaches someone during these hours "
        "of their own time zone; each campaign says whether it waits for the end or drops them.",
        widget=forms.CheckboxInput(attrs={"role": "switch"}),
    )
    start = forms.TimeField(
        label="From",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Give the time quiet hours start.", "invalid": "Enter a time."},
    )
    end = forms.TimeField(
        label="Until",
        help_text="Earlier than the start: the hours run across midnight.",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Give the time quiet hours end.", "invalid": "Enter a time."},
    )
    channels = forms.MultipleChoiceField(
        required=False,
        label="On the channels",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, data: Any = None, *, quiet: QuietHours) -> None:
        super().__init__(
            data,
            initial={
                "enabled": quiet.enabled,
                "start": quiet.start,
                "end": quiet.end,
                "channels": list(quiet.channels),
            },
        )
        self.fields["channels"].choices = [  # type: ignore[attr-defined]
            (channel, display.channel_label(channel)) for channel in dispatch_channels()
        ]

    def add_service_errors(self, exc: DomainError) -> None:
        add_service_errors(self, exc, {})
