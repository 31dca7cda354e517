"""Forms of the campaign pages: the create / edit form and the bulk selection."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from campaigns import rules
from campaigns.choices import CampaignType, Channel, Delivery, Section
from campaigns.models import Campaign
from campaigns.services import MAX_BULK
from labels.forms import LabelNamesField, names_errors, unique_names
from labels.models import Label

JSON_SECTIONS = ("who", "what", "when")


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows indented JSON and says where a syntax error is."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str) or not value.strip():
            return super().to_python(value)
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                "This is not valid JSON: %(msg)s on line %(line)s, column %(col)s.",
                code="invalid",
                params={"msg": exc.msg, "line": exc.lineno, "col": exc.colno},
            ) from None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


def json_text(value: Any) -> str:
    return PrettyJSONField().prepare_value(value)


def field_locks(
    campaign: Campaign, sections: dict[Section, str | None] | None = None
) -> dict[str, str]:
    """For each form field that may not change now, why: from the sections the rules give
    (approvals.policy's, for this user now), else from the campaign's state alone."""
    if sections is None:
        sections = rules.editable_sections(campaign)
    locks: dict[str, str] = {}
    for name, section in rules.FIELD_SECTIONS.items():
        reason = sections[section]
        if reason is None and name in rules.SHAPE_FIELDS:
            # Channel, type and delivery reshape every section, so they need all three open.
            reason = next(
                (sections[s] for s in (Section.WHO, Section.WHAT, Section.WHEN) if sections[s]),
                None,
            )
        if reason:
            locks[name] = reason
    return locks


class LabelSelectMultiple(forms.SelectMultiple):
    """The labels <select>, its options (up to 900) built in one pass: through Django's
    per-option templates 900 options take ~150 ms, here about 1 ms."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        selected = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(str(key))}"'
            f"{' selected' if str(key) in selected else ''}>{escape(str(text))}</option>"
            for key, text in self.choices
        )
        html_attrs = flatatt(self.build_attrs(self.attrs, attrs))
        return format_html(
            '<select name="{}" multiple{}>{}</select>',
            name,
            html_attrs,
            mark_safe(options),  # noqa: S308 - escaped above
        )


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=Channel.choices)
    type = forms.ChoiceField(choices=CampaignType.choices, label="Type")
    delivery = forms.ChoiceField(choices=Delivery.choices)
    labels = forms.ModelMultipleChoiceField(
        queryset=Label.objects.order_by("name"),
        required=False,
        widget=LabelSelectMultiple(attrs={"size": 5}),
        help_text="Hold Ctrl (⌘ on a Mac) to pick several.",
    )
    # Created on save (an existing name, in any case, is used instead), then added to `labels`.
    new_labels = LabelNamesField(
        label="New labels",
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. Onboarding, Reengage", "autocomplete": "off"}
        ),
    )
    # Not required here: an empty section reaches the service, which names what it lacks.
    who = PrettyJSONField(required=False, label="Who")
    what = PrettyJSONField(required=False, label="What")
    when = PrettyJSONField(required=False, label="When")
    # The example text each section was last filled with, so a change of channel or delivery
    # replaces only a section the user has not touched (see views.campaign_example).
    who_pristine = forms.CharField(required=False, widget=forms.HiddenInput)
    what_pristine = forms.CharField(required=False, widget=forms.HiddenInput)
    when_pristine = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, locks: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locks = locks or {}
        for section in JSON_SECTIONS:
            self.fields[f"{section}_pristine"].initial = json_text(self.initial.get(section))
        # Changing the channel or type offers a new What; changing the delivery, a new When.
        example_url = reverse("campaigns:example")
        for name, part in (("channel", "what"), ("type", "what"), ("delivery", "when")):
            self.fields[name].widget.attrs.update(
                {
                    "hx-post": example_url,
                    "hx-trigger": "change",
                    "hx-target": f"#field-{part}",
                    "hx-swap": "outerHTML",
                    "hx-vals": json.dumps({"part": part}),
                }
            )
        self.fields["new_labels"].widget.attrs.update(
            {
                "hx-get": reverse("labels:check"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#new-labels-check",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
                "hx-vals": json.dumps({"purpose": "list", "field": "new_labels"}),
                # The live check's verdicts, then the rules (the help text's id, as Django names it).
                "aria-describedby": f"new-labels-check {self.auto_id % 'new_labels'}_helptext"
                if isinstance(self.auto_id, str)
                else "new-labels-check",
            }
        )
        if "labels" in self.locks:
            # New labels would be added to the campaign: they are locked with its labels.
            self.locks = {**self.locks, "new_labels": self.locks["labels"]}
        for name, field in self.fields.items():
            if name in self.locks:
                # Disabled fields keep their initial value whatever is posted.
                field.disabled = True
                field.widget.attrs["title"] = self.locks[name]

    @property
    def new_label_names(self) -> list[str]:
        """The names typed into "New labels", when the labels may change."""
        if "new_labels" in self.locks:
            return []
        return list(self.cleaned_data.get("new_labels") or [])

    @property
    def editable_fields(self) -> list[str]:
        return [name for name in rules.FIELD_SECTIONS if name not in self.locks]

    def service_data(self) -> dict[str, Any]:
        """The cleaned, editable fields, in the shape campaigns.services takes."""
        data: dict[str, Any] = {}
        for name in self.editable_fields:
            value = self.cleaned_data.get(name)
            if name == "labels":
                value = [label.pk for label in value or []]
            elif name in JSON_SECTIONS and value is None:
                value = {}
            data[name] = value
        return data

    def add_service_errors(self, errors: dict[str, list[str]], message: str) -> None:
        """Put a service's field errors ("what.message.subject": [...]) next to their field."""
        if not errors:
            self.add_error(None, message)
        for path, messages in errors.items():
            name = path.split(".")[0].split("[")[0]
            target = name if name in self.fields else None
            for text in messages:
                # Keep the path when it points inside a section, so the user can find the spot.
                self.add_error(target, f"{path}: {text}" if path != name or not target else text)

    @classmethod
    def for_campaign(
        cls,
        campaign: Campaign,
        data: Any = None,
        *,
        sections: dict[Section, str | None] | None = None,
        content: dict[str, Any] | None = None,
    ) -> CampaignForm:
        """The campaign's form; `content` (a proposal awaiting approval, or rejected) stands
        for the campaign's own fields when the edit goes into a proposal."""
        initial = {
            "name": campaign.name,
            "channel": campaign.channel,
            "type": campaign.type,
            "delivery": campaign.delivery,
            "labels": [label.pk for label in campaign.labels.all()],
            "who": campaign.who,
            "what": campaign.what,
            "when": campaign.when,
        }
        if content:
            initial.update({key: content[key] for key in initial if key in content})
        return cls(data, initial=initial, locks=field_locks(campaign, sections))


class IdListField(forms.Field):
    """Campaign ids from checkboxes: whole numbers, each once, in the order given."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        ids: list[int] = []
        for raw in value or []:
            if not str(raw).isdigit():
                raise ValidationError("Unknown campaign id %(id)s.", params={"id": raw})
            if int(raw) not in ids:
                ids.append(int(raw))
        return ids

    def validate(self, value: list[int]) -> None:
        if not value:
            raise ValidationError("Select at least one campaign.")
        if len(value) > MAX_BULK:
            raise ValidationError("Select at most %(n)s campaigns at once.", params={"n": MAX_BULK})


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("stop", "Stop"), ("archive", "Archive"), ("clone", "Clone")]
    )
    ids = IdListField()


class LabelIdListField(forms.Field):
    """Label ids from checkboxes: whole numbers, each once, in the order given."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        ids: list[int] = []
        for raw in value or []:
            text = str(raw).strip()
            if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**63):
                raise ValidationError("Unknown label %(id)s.", params={"id": raw})
            if int(text) not in ids:
                ids.append(int(text))
        return ids


class NewLabelNamesField(forms.Field):
    """Names of labels to create, one per input (the picker's "create new"), each by the rules."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value or ""]
        return unique_names([str(v) for v in values])

    def validate(self, value: list[str]) -> None:
        errors = names_errors(value)
        if errors:
            raise ValidationError(errors)


class BulkLabelsForm(forms.Form):
    """Add or remove labels on the selected campaigns: the picker's choices."""

    op = forms.ChoiceField(choices=[("add", "Add labels"), ("remove", "Remove labels")])
    ids = IdListField()
    label = LabelIdListField(required=False)
    new = NewLabelNamesField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("op") == "remove":
            data["new"] = []  # removing never creates
        if self.is_bound and not self.errors and not data.get("label") and not data.get("new"):
            verb = "add" if data.get("op") == "add" else "remove"
            hint = " or type a new one" if verb == "add" else ""
            raise ValidationError(f"Choose at least one label to {verb}{hint}.")
        return data
