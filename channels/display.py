"""How dispatch's codes read on the pages: drop and failure reasons, providers, where a channel's
configuration comes from. The pipeline and the provider registry name things by code; people
read these."""

from __future__ import annotations

from campaigns.choices import Channel
from channels.providers import DRY_RUN

# Why a recipient was dropped or failed, as channels.pipeline records it (the part of the ledger's
# reason before the first colon; the batch counters keep only that part).
DROP_REASONS: dict[str, str] = {
    "no_address": "No address for the channel",
    "consent": "No consent",
    "frequency_cap": "Frequency cap reached",
    "dnd": "Quiet hours",
    "control_group": "Control group (not sent by design)",
    "no_profile": "Profile no longer exists",
}
FAILURE_REASONS: dict[str, str] = {
    "provider": "Provider error",
    "template_error": "Template error",
    "outcome_unknown": "Outcome unknown (a worker stopped during the provider call)",
    "not_configured": "Channel not configured",
}


def reason_label(reason: str) -> str:
    """A readable reason; an unknown code is shown as it is rather than hidden."""
    code = reason.split(":", 1)[0]
    return DROP_REASONS.get(code) or FAILURE_REASONS.get(code) or code.replace("_", " ") or "—"


PROVIDER_LABELS: dict[tuple[str, str], str] = {
    ("email", "django"): "Django e-mail backend (EMAIL_URL)",
    ("email", "anymail"): "An e-mail service through django-anymail",
    ("sms", "twilio"): "Twilio",
    ("sms", "http"): "HTTP SMS gateway",
    ("whatsapp", "twilio"): "Twilio WhatsApp",
    ("push", "fcm"): "Firebase Cloud Messaging",
    ("webhook", "http"): "HTTP, signed with Standard Webhooks",
}
DRY_RUN_LABEL = "Dry run (everything but the network call)"
ENVIRONMENT_LABEL = "Use the environment's configuration"


def provider_label(channel: str, provider: str) -> str:
    if provider == DRY_RUN:
        return DRY_RUN_LABEL
    if not provider:
        return ENVIRONMENT_LABEL
    return PROVIDER_LABELS.get((channel, provider), provider)


# ProviderChoice.source, and None for a channel nothing configures.
SOURCE_LABELS: dict[str | None, str] = {
    "admin": "Set by an Admin on this page",
    "settings": "From the environment",
    "dry_run": "Dry run (HERALD_DRY_RUN_CHANNELS)",
    None: "Not configured",
}


def channel_label(channel: str) -> str:
    try:
        return str(Channel(channel).label)
    except ValueError:
        return channel
