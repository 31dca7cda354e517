from django.db import models


class Channel(models.TextChoices):
    PUSH = "push", "Push Notifications"
    IN_APP = "in_app", "Mobile In-app"
    APP_INBOX = "app_inbox", "App Inbox"
    EMAIL = "email", "Email"
    WEB_PUSH = "web_push", "Web Push"
    WEB_POPUP = "web_popup", "Web Pop-up"
    WEB_EXIT_INTENT = "web_exit_intent", "Web Exit Intent"
    NATIVE_DISPLAY = "native_display", "Native Display"
    WEB_NATIVE_DISPLAY = "web_native_display", "Web Native Display"
    WEBHOOK = "webhook", "Webhooks"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    FACEBOOK_AUDIENCE = "facebook_audience", "Facebook Audiences"
    GOOGLE_ADS = "google_ads", "Google Ads"
    TIKTOK_AUDIENCE = "tiktok_audience", "TikTok Remarketing"
    PARTNER = "partner", "Partner"


class CampaignType(models.TextChoices):
    SINGLE_MESSAGE = "single_message", "Single Message"
    AB_TEST = "ab_test", "A/B Test"
    MESSAGE_ON_USER_PROPERTY = "message_on_user_property", "Message on user property"


class Delivery(models.TextChoices):
    ONE_TIME = "one_time", "One Time"
    ACTION = "action", "Action"
    INACTION = "inaction", "Inaction"
    DATE_TIME = "date_time", "On a date/time"
    RECURRING = "recurring", "Recurring"
    API = "api", "API"
    MULTIPLE_DATES = "multiple_dates", "Multiple Dates"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    AWAITING_NEXT_RUN = "awaiting_next_run", "Awaiting Next Run"
    RUNNING = "running", "Running"
    PENDING_APPROVAL = "pending_approval", "Approval Pending"
    REJECTED = "rejected", "Rejected"
    STOPPED = "stopped", "Stopped"
    COMPLETED = "completed", "Completed"


class Section(models.TextChoices):
    """The parts of a campaign that the edit rules speak of."""

    NAME = "name", "Name"
    LABELS = "labels", "Labels"
    WHO = "who", "Who"
    WHAT = "what", "What"
    WHEN = "when", "When"


class Action(models.TextChoices):
    """Everything that can happen to a campaign; each audit row names one."""

    CREATE = "create", "Created"
    EDIT = "edit", "Edited"
    PUBLISH = "publish", "Published"
    STOP = "stop", "Stopped"
    CLONE = "clone", "Cloned"
    ARCHIVE = "archive", "Archived"
    AUTO_ARCHIVE = "auto_archive", "Auto-archived"
    SUBMIT = "submit", "Sent for approval"
    REVISE = "revise", "Changes sent for approval"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    WITHDRAW = "withdraw", "Approval request withdrawn"
    DISCARD = "discard", "Changes discarded"
    RUN_START = "run_start", "Run started"
    RUN_FINISH = "run_finish", "Run finished"
    COMPLETE = "complete", "Completed"
