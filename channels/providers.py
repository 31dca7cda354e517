"""Which adapter sends a channel's messages, and with what configuration.

An Admin's row on Settings › Channels (ProviderConfig) wins; else config/settings.py
HERALD_PROVIDERS (the environment); channels listed in HERALD_DRY_RUN_CHANNELS fall back to the
dry-run adapter; anything else is not configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from channels.adapters.base import Adapter, ProviderNotConfigured

# (channel, provider) -> the adapter class. Dotted paths, imported when first used.
ADAPTERS: dict[tuple[str, str], str] = {
    ("email", "django"): "channels.adapters.email.EmailAdapter",
    ("email", "anymail"): "channels.adapters.email.EmailAdapter",
    ("sms", "twilio"): "channels.adapters.sms.TwilioAdapter",
    ("sms", "http"): "channels.adapters.sms.HttpGatewayAdapter",
    ("whatsapp", "twilio"): "channels.adapters.sms.TwilioWhatsAppAdapter",
    ("push", "fcm"): "channels.adapters.push.FcmAdapter",
    ("webhook", "http"): "channels.adapters.webhook.WebhookAdapter",
}
DRY_RUN = "dry_run"
# The providers an Admin may pick per channel (dry run for every channel).
PROVIDERS: dict[str, list[str]] = {}
for _channel, _provider in ADAPTERS:
    PROVIDERS.setdefault(_channel, []).append(_provider)


@dataclass(frozen=True)
class ProviderChoice:
    channel: str
    provider: str
    options: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    source: str = "settings"  # "admin", "settings" or "dry_run"


def provider_for(channel: str) -> ProviderChoice | None:
    from channels.models import ProviderConfig

    row = ProviderConfig.objects.filter(channel=channel).first()
    if row is not None and row.provider:
        return ProviderChoice(channel, row.provider, row.options, row.secrets, source="admin")
    configured = settings.HERALD_PROVIDERS.get(channel, {})
    if configured.get("provider"):
        return ProviderChoice(
            channel,
            configured["provider"],
            dict(configured.get("options", {})),
            dict(configured.get("secrets", {})),
        )
    if channel in settings.HERALD_DRY_RUN_CHANNELS:
        return ProviderChoice(channel, DRY_RUN, source="dry_run")
    return None


def adapter_for(channel: str) -> Adapter:
    """A ready adapter for `channel`; ProviderNotConfigured says why there is none."""
    choice = provider_for(channel)
    if choice is None:
        raise ProviderNotConfigured(f"No provider is configured for {channel}.")
    if choice.provider == DRY_RUN:
        from channels.adapters.dry_run import DryRunAdapter

        return DryRunAdapter(choice.options, choice.secrets, channel=channel)
    path = ADAPTERS.get((channel, choice.provider))
    if path is None:
        raise ProviderNotConfigured(f"Unknown provider {choice.provider!r} for {channel}.")
    adapter_class = import_string(path)
    options = {"provider": choice.provider, **choice.options}
    return adapter_class(options, choice.secrets)
