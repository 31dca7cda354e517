"""Dispatch: runs of a campaign, the batches they fan out to, and the delivery ledger.

A Run is one send of a campaign (a scheduled occurrence, an API call, or a window of triggers). Its
audience is resolved in keyset pages into Batches (a frozen list of profile ids each, with the time
they may start); one Celery task works on a batch under a lease. The Delivery ledger has one row per
(run, recipient), its primary key, so a second write for the same recipient is impossible whatever
crashes or redeliveries happen. See docs/dispatch.md.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from campaigns.choices import Channel


class RunKind(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    API = "api", "API call"
    TRIGGER = "trigger", "Triggered"


class RunStatus(models.TextChoices):
    # Created; its audience is being resolved into batches (cursor says how far).
    RESOLVING = "resolving", "Resolving the audience"
    # Every batch exists; batches are being sent.
    SENDING = "sending", "Sending"
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped"


class Run(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="runs"
    )
    kind = models.CharField(max_length=16, choices=RunKind.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RESOLVING)
    # The occurrence this run is for (scheduled runs), or when the call or the triggers came.
    scheduled_for = models.DateTimeField()
    # API runs: the caller's key, so a retried call returns the same run.
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    # What the run sends, frozen when it starts: channel, type, what, who, when, the campaign's
    # name and its labels as they were (see channels.pipeline.snapshot).
    snapshot = models.JSONField(default=dict)
    # API runs with recipients: {"<profile id>": {personalization data}}; triggers: the ids.
    recipients = models.JSONField(null=True, blank=True)
    # Resolution: the last profile id put in a batch; the audience is complete when resolved.
    cursor = models.BigIntegerField(default=0)
    resolved = models.BooleanField(default=False)
    targeted = models.PositiveIntegerField(default=0)
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    # The coordinator's lease while resolving (the sweeper re-queues a run whose lease expired).
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Final figures when the run ends ({"sent": n, "failed": n, "dropped": {...}}).
    totals = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [
            # A restarted beat, or two ticks at once, cannot start one occurrence twice.
            models.UniqueConstraint(
                fields=["campaign", "scheduled_for"],
                condition=Q(kind="scheduled"),
                name="run_one_per_occurrence",
            ),
            models.UniqueConstraint(
                fields=["campaign", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="run_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "lease_until"],
                name="run_unfinished",
                condition=Q(status__in=["resolving", "sending"]),
            ),
            # A campaign's runs, newest first (GET /api/v1/campaigns/{id}/runs/): a busy Action
            # campaign has a run every few ticks.
            models.Index(fields=["campaign", "-scheduled_for", "-id"], name="run_campaign_recent"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of campaign {self.campaign_id}"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    CLAIMED = "claimed", "Sending"
    DONE = "done", "Done"


class Batch(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="batches")
    seq = models.PositiveIntegerField()
    profile_ids = ArrayField(models.BigIntegerField())
    # Not sent before this time: a user's own time zone, the end of quiet hours, a trigger's delay.
    not_before = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=BatchStatus.choices, default=BatchStatus.QUEUED
    )
    # The worker holding the batch, and until when; a task that finds another token gives up.
    token = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The recipients of the provider call in progress: a worker that dies during it leaves them
    # here, and the next holder does not send to them twice (channels.pipeline).
    inflight_ids = ArrayField(models.BigIntegerField(), null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="batch_run_seq_unique")]
        indexes = [
            models.Index(
                fields=["not_before"],
                name="batch_open_due",
                condition=~Q(status="done"),
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.seq} of run {self.run_id}"


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    DROPPED = "dropped", "Dropped"


class Delivery(models.Model):
    """The ledger: one row per (run, recipient), written in bulk with COPY by the batch tasks."""

    pk = models.CompositePrimaryKey("run_id", "profile_id")
    # No database constraint: PostgreSQL checks a foreign key with one lookup per inserted row,
    # at commit (Django's are deferred): 3.4 µs a ledger row, most of a batch's commit, measured
    # (docs/decisions/ledger-without-foreign-keys.md). Only a batch holding its run's lease writes
    # ledger rows, so the run exists; deleting a run still deletes its ledger (Django cascades).
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="+"
    )
    # No foreign key: the ledger outlives a deleted profile, and COPY checks nothing per row.
    profile_id = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices)
    # Why it failed or was dropped (channels.pipeline.Reason), with details after a colon.
    reason = models.CharField(max_length=300, blank=True, default="")
    variant = models.CharField(max_length=40, blank=True, default="")
    provider_id = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        managed = True

    def __str__(self) -> str:
        return f"{self.run_id}/{self.profile_id} {self.status}"


class FrequencyCap(models.Model):
    """At most `max_messages` messages on `channel` to one profile in `days` days (Admins set it;
    a campaign may opt out with when.ignore_frequency_caps)."""

    channel = models.CharField(max_length=32, choices=Channel.choices, unique=True)
    max_messages = models.PositiveIntegerField()
    days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.channel}: {self.max_messages} in {self.days} days"


class QuietHours(models.Model):
    """Do-Not-Disturb hours in each profile's own time zone (one row, Admins set it). Campaigns say
    whether a recipient in quiet hours is dropped or delayed to their end (when.dnd)."""

    enabled = models.BooleanField(default=False)
    start = models.TimeField(default="22:00")
    end = models.TimeField(default="08:00")
    channels = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"quiet {self.start}-{self.end}"

    @classmethod
    def current(cls) -> QuietHours:
        return cls.objects.order_by("pk").first() or cls()


class ProviderConfig(models.Model):
    """A channel's provider as an Admin configured it on Settings › Channels. Secrets are stored
    and used but never shown back (the page shows whether each is set). Without a row, the
    environment's settings apply (config/settings.py HERALD_PROVIDERS)."""

    channel = models.CharField(max_length=32, choices=Channel.choices, unique=True)
    provider = models.CharField(max_length=32)
    options = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.channel}: {self.provider}"


class Trigger(models.Model):
    """An event that matched an Action or Inaction campaign, waiting for its time (the delay, or
    the end of the inaction window). Written in the ingestion's transaction; the tick turns due
    ones into a run and deletes them in one transaction."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    profile_id = models.BigIntegerField()
    event_ts = models.DateTimeField()
    due_at = models.DateTimeField()
    # The event's properties, for personalisation ({{ event.* }}).
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="trigger_due")]

    def __str__(self) -> str:
        return f"trigger {self.campaign_id}/{self.profile_id} at {self.due_at}"
