"""Forms of the approval pages: the setting, a request's note and approvers, a decision's comment.

They only read and shape input; approvals.services checks it against the rules and writes.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from accounts.roles import Role
from approvals.services import MAX_NOTE


class ApprovalSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        required=False,
        label="Campaign approval",
        help_text="On: Marketers cannot publish; they send campaigns and changes to live "
        "campaigns for approval, and an Approver or Admin publishes or rejects them.",
    )
    allow_self_approval = forms.BooleanField(
        required=False,
        label="Allow self-approval",
        help_text="Let an approver approve a campaign they created or last edited. Off: another "
        "approver must decide.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.update({"role": "switch", "aria-describedby": f"help-{name}"})


def approver_choices(actor: Any) -> QuerySet[Any]:
    """Who a requester may ask: active Approvers and Admins other than themselves."""
    names = [Role.APPROVER.value, Role.ADMIN.value]
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name__in=names) | Q(is_superuser=True))
        .exclude(pk=getattr(actor, "pk", None))
        .distinct()
        .order_by("email", "username")
    )


class ApproverChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.email or obj.get_username())


class RequestForm(forms.Form):
    """What goes with a request for approval: an optional note and, optionally, who decides."""

    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE,
        label="Note for the approver (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    approvers = ApproverChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Approvers (optional)",
        help_text="Nobody chosen: any approver may decide.",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["approvers"].queryset = approver_choices(actor)  # type: ignore[attr-defined]

    def service_kwargs(self) -> dict[str, Any]:
        return {
            "note": self.cleaned_data.get("note") or "",
            "approvers": [user.pk for user in self.cleaned_data.get("approvers") or []],
        }


class DecisionForm(forms.Form):
    """An approver's comment: optional to approve; a rejection's is required by the service,
    which refuses an empty one with its reason (shown on the page)."""

    comment = forms.CharField(
        required=False,
        max_length=MAX_NOTE,
        label="Comment (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if required:
            field = self.fields["comment"]
            field.label = "Comment for the creator (required)"
            field.help_text = "Say what to change: the creator reads it with the rejection."
            field.widget.attrs["aria-required"] = "true"
