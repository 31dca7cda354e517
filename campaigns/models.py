from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.roles import user_roles
from campaigns.choices import Action, CampaignType, Channel, Delivery, Status


def default_who() -> dict:
    return {"type": "group", "match": "all", "conditions": []}


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def visible_to(self, user) -> CampaignQuerySet:  # type: ignore[no-untyped-def]
        """Campaigns a user may see: everything in the workspace for any role, nothing otherwise."""
        if not user_roles(user):
            return self.none()
        return self

    def active(self) -> CampaignQuerySet:
        return self.filter(archived_at__isnull=True)

    def archived(self) -> CampaignQuerySet:
        return self.filter(archived_at__isnull=False)


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=32, choices=Channel.choices)
    type = models.CharField(
        max_length=32, choices=CampaignType.choices, default=CampaignType.SINGLE_MESSAGE
    )
    delivery = models.CharField(max_length=32, choices=Delivery.choices, default=Delivery.ONE_TIME)
    # Assigned only by campaigns.services (see campaigns/rules.py for the table it follows).
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.DRAFT, editable=False
    )

    who = models.JSONField(default=default_who, blank=True)
    what = models.JSONField(default=dict, blank=True)
    when = models.JSONField(default=dict, blank=True)

    labels = models.ManyToManyField("labels.Label", related_name="campaigns", blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns_created"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Last time anything happened to the campaign: created, edited, published, ran, stopped, completed.
    # Auto-archival counts six calendar months from its date.
    last_active_at = models.DateTimeField(db_index=False)
    # The next scheduled send ("the scheduled time" of the spec's tables); null when none is due.
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    runs_count = models.PositiveIntegerField(default=0)
    archived_at = models.DateTimeField(null=True, blank=True)
    cloned_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="clones"
    )

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-last_active_at", "-id"]
        indexes = [
            # The All Campaigns page: not archived, optionally one status, newest activity first.
            models.Index(
                fields=["-last_active_at", "-id"],
                name="campaign_live_recent",
                condition=Q(archived_at__isnull=True),
            ),
            models.Index(
                fields=["status", "-last_active_at", "-id"],
                name="campaign_live_status_recent",
                condition=Q(archived_at__isnull=True),
            ),
            # Archived campaigns alone (the API's archived=true).
            models.Index(
                fields=["-last_active_at", "-id"],
                name="campaign_archived_recent",
                condition=Q(archived_at__isnull=False),
            ),
            # With the archived toggle on, the page lists archived and live campaigns together.
            models.Index(fields=["-last_active_at", "-id"], name="campaign_all_recent"),
            models.Index(
                fields=["status", "-last_active_at", "-id"], name="campaign_all_status_recent"
            ),
            models.Index(fields=["created_by", "-last_active_at"], name="campaign_creator_recent"),
            # The daily auto-archival sweep.
            models.Index(
                fields=["last_active_at"],
                name="campaign_auto_archive_due",
                condition=Q(archived_at__isnull=True, status__in=["completed", "stopped", "draft"]),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class CampaignAudit(models.Model):
    """One row per thing that happened to a campaign: the campaign's timeline."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    from_status = models.CharField(max_length=32, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=32, choices=Status.choices, blank=True)
    # {"field": {"old": ..., "new": ...}} for edits; free details (e.g. the clone's id) otherwise.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "-created_at"], name="audit_campaign_recent")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.action}"
