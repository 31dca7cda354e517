from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper

from accounts.roles import user_roles
from campaigns.choices import Action, CampaignType, Channel, Delivery, Status

# Action and Inaction campaigns whose live version listens to events (Running, or Scheduled until
# its start): ingestion looks them up for every batch (channels.triggers), through the partial
# index of the same condition.
LISTENING_TO_EVENTS = Q(
    delivery__in=[Delivery.ACTION, Delivery.INACTION], archived_at__isnull=True
) & (
    Q(status__in=[Status.RUNNING, Status.SCHEDULED])
    | Q(live_status__in=[Status.RUNNING, Status.SCHEDULED])
)


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

    # While the status shows the approval workflow (Approval Pending or Rejected) for changes to a
    # campaign that is already live, what the live version is doing (Scheduled, Running or
    # Awaiting Next Run): it keeps to its schedule until the changes are approved. Empty otherwise.
    live_status = models.CharField(
        max_length=32, choices=Status.choices, blank=True, default="", db_default=""
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
    # The schedule's end (when.end_at) while live: the dispatch tick completes the campaign then.
    ends_at = models.DateTimeField(null=True, blank=True)
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
            # Also covers the per-status counts (the columns the drawer filters on are included,
            # so counting under those filters is an index-only scan).
            models.Index(
                fields=["status", "-last_active_at", "-id"],
                name="campaign_live_status_recent",
                condition=Q(archived_at__isnull=True),
                include=["created_by", "channel", "type", "delivery", "created_at"],
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
                fields=["status", "-last_active_at", "-id"],
                name="campaign_all_status_recent",
                include=["created_by"],
            ),
            # The sortable columns (name, created, status) of the live list.
            models.Index(
                fields=["name", "id"],
                name="campaign_live_name",
                condition=Q(archived_at__isnull=True),
            ),
            models.Index(
                fields=["created_at", "id"],
                name="campaign_live_created",
                condition=Q(archived_at__isnull=True),
            ),
            models.Index(
                fields=["status", "id"],
                name="campaign_live_status_id",
                condition=Q(archived_at__isnull=True),
            ),
            # Name search (icontains is UPPER(name) LIKE '%...%'): trigrams make it an index scan.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="campaign_name_trgm"),
            models.Index(fields=["created_by", "-last_active_at"], name="campaign_creator_recent"),
            # The dispatch tick: live campaigns whose next send is due.
            models.Index(
                fields=["next_run_at"],
                name="campaign_run_due",
                condition=Q(next_run_at__isnull=False, archived_at__isnull=True),
            ),
            # Ingestion's trigger matching: a few rows, whatever the number of campaigns.
            models.Index(
                fields=["delivery"], name="campaign_listening", condition=LISTENING_TO_EVENTS
            ),
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


class SavedFilter(models.Model):
    """A named All Campaigns filter of one user: the page's query string, normalised.

    Only campaigns.saved_filters writes these; it keeps the naming rules and the per-user cap.
    """

    # No index of its own: the unique constraint below starts with the user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_filters",
        db_index=False,
    )
    name = models.CharField(max_length=80)
    # The known filter parameters only, sorted, without `page` (saved_filters.saved_filter_query),
    # so the same filter is always the same text.
    query = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Also the index a user's list is read from, and deleting a user cascades through.
            models.UniqueConstraint("user", Lower("name"), name="saved_filter_user_name_ci_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        """The All Campaigns page with this filter applied."""
        from django.urls import reverse

        base = reverse("campaigns:list")
        return f"{base}?{self.query}" if self.query else base
