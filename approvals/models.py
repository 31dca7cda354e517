"""The creator-approver workflow's records: the setting, and the requests with their proposals.

Only approvals.services writes these (and campaigns.services, through it, for publish and edit).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from campaigns.choices import Status


class ApprovalSettings(models.Model):
    """The workspace's approval setting: one row (pk=1), changed by Admins, every change audited."""

    enabled = models.BooleanField(
        default=False, help_text="On: Marketers send campaigns and changes for approval."
    )
    allow_self_approval = models.BooleanField(
        default=False,
        help_text="Let an approver approve a campaign they created or last edited.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "approval settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="approval_settings_one_row")]

    def __str__(self) -> str:
        return f"Campaign approval {'on' if self.enabled else 'off'}"

    @classmethod
    def current(cls) -> ApprovalSettings:
        """The setting as it is now. A read never creates the row: until an Admin first saves
        it, the defaults apply (approvals.services.approval_settings_update writes it)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class ApprovalSettingsChange(models.Model):
    """The setting's audit trail: who changed what, when."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # {"enabled": {"old": false, "new": true}, ...}
    changes = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.changes}"


class RequestKind(models.TextChoices):
    # A campaign that has never been live, to be published as it is.
    PUBLISH = "publish", "Publish"
    # Changes to a live campaign; the live version runs as it was until they are approved.
    REVISION = "revision", "Changes to a live campaign"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    # Overtaken: the scheduled time passed (the campaign ran as it was), or it was stopped.
    DISCARDED = "discarded", "Discarded"


class ApprovalRequest(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="approval_requests"
    )
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    # The approvers the requester chose; none means any approver.
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="approval_requests_assigned"
    )
    # Whoever last changed the content before it was sent (the requester, or someone before them):
    # with self-approval off, neither they nor the campaign's creator may approve it.
    content_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The campaign as it was live when the request was made ({} for a campaign never live) and the
    # proposal: the whole content (name, labels, channel, type, delivery, Who, What, When).
    base = models.JSONField(default=dict, blank=True)
    proposed = models.JSONField(default=dict, blank=True)
    # Where the campaign's status goes back to if the request is withdrawn.
    return_status = models.CharField(max_length=32, choices=Status.choices)
    # "The scheduled time" the request is for: the live version's next send when it was made, or
    # the proposal's first send; the workflow's before/after rules compare the clock with it.
    target_run_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open request per campaign: a second submission or two decisions cannot both land.
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(status="pending"),
                name="approval_one_pending_per_campaign",
            )
        ]
        indexes = [
            # The approver's queue: pending, oldest first.
            models.Index(
                fields=["requested_at", "id"],
                name="approval_pending_oldest",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["campaign", "-requested_at"], name="approval_campaign_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of campaign {self.campaign_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == RequestStatus.PENDING
