"""The people campaigns reach, what they did, and the segments that select them.

Profiles and their devices are ordinary tables. Events live in one table partitioned by month
(PostgreSQL declarative partitioning, created by migration 0001's SQL and kept ahead of the clock by
audience.partitions); Django reads it through the unmanaged Event model. System events
(Notification Sent / Viewed / Clicked) share the stream, so segments treat them like any event.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

NOTIFICATION_SENT = "Notification Sent"
NOTIFICATION_VIEWED = "Notification Viewed"
NOTIFICATION_CLICKED = "Notification Clicked"
SYSTEM_EVENTS = (NOTIFICATION_SENT, NOTIFICATION_VIEWED, NOTIFICATION_CLICKED)


class PropertyType(models.TextChoices):
    STRING = "string", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes / no"
    DATE = "date", "Date"
    LIST = "list", "List"


class PropertyDefinition(models.Model):
    """A custom profile property and its type: the first value seen fixes it, and later values
    of another type are refused (a segment compares like with like)."""

    name = models.CharField(max_length=120, unique=True)
    type = models.CharField(max_length=16, choices=PropertyType.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class Consent(models.TextChoices):
    UNKNOWN = "unknown", "Not given"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"


class Profile(models.Model):
    # The app's own user id: what ingestion and Find People match on.
    identity = models.CharField(max_length=200, unique=True)
    email = models.CharField(max_length=254, blank=True, default="")
    # E.164 (+14155550123), as ingestion normalises it.
    phone = models.CharField(max_length=32, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    # Custom properties, typed by PropertyDefinition: dates as ISO 8601 text.
    properties = models.JSONField(default=dict, blank=True)

    email_consent = models.CharField(
        max_length=16, choices=Consent.choices, default=Consent.UNKNOWN
    )
    email_unsubscribed_at = models.DateTimeField(null=True, blank=True)
    sms_consent = models.CharField(max_length=16, choices=Consent.choices, default=Consent.UNKNOWN)
    sms_unsubscribed_at = models.DateTimeField(null=True, blank=True)
    whatsapp_consent = models.CharField(
        max_length=16, choices=Consent.choices, default=Consent.UNKNOWN
    )
    whatsapp_unsubscribed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_default=models.functions.Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=models.functions.Now())

    class Meta:
        ordering = ["id"]
        indexes = [
            # Find People matches e-mail and phone exactly (e-mail ignoring case).
            models.Index(Lower("email"), name="profile_email_ci", condition=~Q(email="")),
            models.Index(fields=["phone"], name="profile_phone", condition=~Q(phone="")),
            # Property conditions of segments: "equals" is jsonb containment (properties @> ...).
            GinIndex(
                fields=["properties"], name="profile_properties_gin", opclasses=["jsonb_path_ops"]
            ),
        ]

    def __str__(self) -> str:
        return self.identity


class DeviceKind(models.TextChoices):
    PUSH = "push", "Mobile push (FCM / APNs token)"
    WEB_PUSH = "web_push", "Web push subscription"


class Device(models.Model):
    """Where push reaches a profile: a mobile push token, or a browser's web push subscription."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=16, choices=DeviceKind.choices)
    platform = models.CharField(max_length=32, blank=True, default="")  # android, ios, chrome...
    # The FCM registration token, or the web push endpoint URL.
    token = models.CharField(max_length=2048)
    # Web push: the subscription's p256dh and auth keys.
    keys = models.JSONField(default=dict, blank=True)
    push_consent = models.CharField(
        max_length=16, choices=Consent.choices, default=Consent.OPTED_IN
    )
    # A provider said the token is gone (FCM UNREGISTERED): never sent to again.
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "token"], name="device_kind_token_unique")
        ]
        indexes = [models.Index(fields=["profile", "kind"], name="device_profile_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.token[:24]}"


class Event(models.Model):
    """One thing a profile did (or a notification sent to them), in the partitioned table.

    Unmanaged: migration 0001 creates `audience_event` PARTITION BY RANGE (ts) with its primary key
    (id, ts) and its indexes. `campaign_id` and `label_ids` repeat what a Notification Sent event's
    properties say, as columns the segment queries can index.
    """

    id = models.BigIntegerField(primary_key=True)
    profile = models.ForeignKey(Profile, on_delete=models.DO_NOTHING, db_constraint=False)
    name = models.CharField(max_length=120)
    ts = models.DateTimeField()
    properties = models.JSONField(default=dict)
    campaign_id = models.BigIntegerField(null=True)
    label_ids = ArrayField(models.IntegerField(), null=True)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "audience_event"
        ordering = ["-ts", "-id"]

    def __str__(self) -> str:
        return f"{self.name} @ {self.ts:%Y-%m-%d %H:%M}"


class IngestKey(models.Model):
    """A project API key for the ingestion API. Only its SHA-256 is kept; the key is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IngestRecord(models.Model):
    """Record ids already ingested, so a retried batch adds nothing twice. Pruned after
    INGEST_KEY_DAYS by a daily task."""

    key = models.CharField(max_length=200, primary_key=True)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="ingest_record_created")]

    def __str__(self) -> str:
        return self.key


class Segment(models.Model):
    """A named, saved Who definition campaigns can reuse ({"type": "segment", "segment_id": n})."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    definition = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="segment_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ProfileImport(models.Model):
    """A CSV import of profiles from the dashboard, run by a Celery task in chunks; the page polls
    its counters for the progress bar."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    # The uploaded CSV itself (a few MB at most; kept so the task needs no shared storage).
    content = models.BinaryField()
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default="queued")
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    accepted_rows = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    # [{"row": 12, "identity": "...", "errors": {"email": ["..."]}}], the first MAX_IMPORT_ERRORS.
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The last sign of life (claimed, or a chunk committed): a queued or running import without
    # one for a while lost its task message, and the sweeper queues it again.
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"
