"""Example Who / What / When sections that pre-fill the campaign form.

Every example passes campaigns.validation (tests check each channel x type and each delivery), so
a marketer starts from something that saves and edits it, instead of writing JSON from nothing.
Times are a week ahead, so an unedited example can also be published.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.utils import timezone

from campaigns.choices import CampaignType, Channel, Delivery

_C = TypeVar("_C", Channel, CampaignType, Delivery)

_GREETING = "Hi {{ profile.first_name | default('there') }}"

# One message per channel, with the fields a real one would fill in.
MESSAGES: dict[Channel, dict[str, Any]] = {
    Channel.PUSH: {
        "title": _GREETING,
        "body": "Your weekly digest is ready.",
        "deep_link": "myapp://digest",
    },
    Channel.IN_APP: {
        "title": "New this week",
        "body": "Three new features are waiting for you.",
        "layout": "half_interstitial",
        "button_text": "Show me",
    },
    Channel.APP_INBOX: {
        "title": "Your monthly summary",
        "body": "Here is what happened on your account this month.",
        "tags": ["summary"],
    },
    Channel.EMAIL: {
        "subject": "Your weekly digest, {{ profile.first_name | default('friend') }}",
        "from_email": "news@example.com",
        "from_name": "Example News",
        "html": "<p>" + _GREETING + ",</p><p>Your weekly digest is ready.</p>",
        "text": _GREETING + ", your weekly digest is ready.",
    },
    Channel.WEB_PUSH: {
        "title": "Back in stock",
        "body": "The item on your wishlist is available again.",
        "url": "https://example.com/wishlist",
    },
    Channel.WEB_POPUP: {
        "title": "10% off your first order",
        "body": "Sign up today and save on your first order.",
        "button_text": "Sign up",
        "url": "https://example.com/signup",
    },
    Channel.WEB_EXIT_INTENT: {
        "title": "Before you go",
        "body": "Your cart is saved: finish your order within 24 hours for free shipping.",
        "button_text": "Finish order",
        "url": "https://example.com/cart",
    },
    Channel.NATIVE_DISPLAY: {
        "title": "Recommended for you",
        "body": "Picks based on what you viewed recently.",
        "deep_link": "myapp://recommendations",
    },
    Channel.WEB_NATIVE_DISPLAY: {
        "title": "Recommended for you",
        "body": "Picks based on what you viewed recently.",
        "image_url": "https://example.com/banner.png",
    },
    Channel.WEBHOOK: {
        "url": "https://hooks.example.com/herald",
        "method": "POST",
        "payload": '{"user": "{{ profile.id }}", "event": "digest"}',
    },
    Channel.SMS: {
        "body": "Your code is ready. Reply STOP to opt out.",
        "sender_id": "EXAMPLE",
    },
    Channel.WHATSAPP: {
        "template_name": "weekly_digest",
        "language": "en",
        "variables": ["{{ profile.first_name | default('there') }}"],
    },
    Channel.FACEBOOK_AUDIENCE: {
        "audience_name": "Lapsed buyers",
        "ad_account_id": "act_1234567890",
    },
    Channel.GOOGLE_ADS: {"audience_name": "Lapsed buyers", "ad_account_id": "123-456-7890"},
    Channel.TIKTOK_AUDIENCE: {"audience_name": "Lapsed buyers", "ad_account_id": "7000000000000"},
    Channel.PARTNER: {"partner": "example-partner", "payload": {"campaign": "weekly-digest"}},
}


def example_who() -> dict[str, Any]:
    return {
        "type": "group",
        "match": "all",
        "conditions": [
            {"type": "event", "event": "App Launched", "window": {"last_days": 30}},
            {"type": "property", "property": "country", "op": "in", "value": ["IN", "US"]},
        ],
    }


def example_what(channel: str, campaign_type: str) -> dict[str, Any]:
    """A valid What for this channel and type; unknown values fall back to a single Push."""
    message = dict(MESSAGES.get(_choice(Channel, channel, Channel.PUSH)))
    kind = _choice(CampaignType, campaign_type, CampaignType.SINGLE_MESSAGE)
    if kind == CampaignType.AB_TEST:
        return {
            "variants": [
                {"name": "A", "split": 50, "message": message},
                {"name": "B", "split": 50, "message": dict(message)},
            ],
            "control_group": 10,
        }
    if kind == CampaignType.MESSAGE_ON_USER_PROPERTY:
        return {
            "property": "plan",
            "messages": [{"value": "premium", "message": message}],
            "default": dict(message),
        }
    return {"message": message}


def example_when(delivery: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """A valid When for this delivery, starting a week from `now` at 10:00 UTC."""
    now = now or timezone.now()
    start = (
        (now + dt.timedelta(days=7))
        .astimezone(dt.UTC)
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )

    def stamp(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M")

    match _choice(Delivery, delivery, Delivery.ONE_TIME):
        case Delivery.ONE_TIME:
            return {"send": "later", "start_at": stamp(start), "timezone": "UTC"}
        case Delivery.DATE_TIME:
            return {
                "date_property": "birthday",
                "offset_days": 0,
                "send_time": "09:00",
                "user_timezone": True,
            }
        case Delivery.RECURRING:
            return {
                "start_at": stamp(start),
                "frequency": "weekly",
                "interval": 1,
                "weekdays": ["mo"],
                "send_time": "09:30",
                "end_after_runs": 12,
                "timezone": "UTC",
            }
        case Delivery.MULTIPLE_DATES:
            return {"dates": [stamp(start), stamp(start + dt.timedelta(days=7))], "timezone": "UTC"}
        case Delivery.ACTION:
            # In someone's quiet hours (Settings › Delivery), wait for their end.
            return {"trigger": {"event": "Added To Cart"}, "delay_minutes": 30, "dnd": "delay"}
        case Delivery.INACTION:
            return {
                "trigger": {"event": "Added To Cart"},
                "absent_event": {"event": "Charged"},
                "window_minutes": 120,
            }
        case _:  # Delivery.API: sends come from API calls, so no schedule is needed.
            # API sends are often transactional (a receipt, a code): not held by frequency caps.
            return {"ignore_frequency_caps": True}


def _choice(choices: type[_C], value: str, default: _C) -> _C:
    try:
        return choices(value)
    except ValueError:
        return default
