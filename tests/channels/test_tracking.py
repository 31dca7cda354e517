"""Tracking links: taken from e-mails a real SMTP server (aiosmtpd) received, followed with the
Django test client. Opens and clicks become Notification Viewed / Clicked events, unsubscribes
opt the profile out; a forged or damaged token does nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from audience.models import NOTIFICATION_CLICKED, NOTIFICATION_VIEWED, Consent, Event, Profile
from channels import tracking
from channels.adapters.base import Message
from channels.adapters.email import EmailAdapter
from channels.tracking import Target, Tracker
from tests.approvals.support import Inbox, smtp_server, use_smtp

pytestmark = pytest.mark.django_db
BASE_URL = "https://herald.example.com"
SHOP = "https://shop.example.com/spring?utm_source=herald&utm_medium=email"


@pytest.fixture
def inbox(settings) -> Iterator[Inbox]:
    settings.HERALD_BASE_URL = BASE_URL
    with smtp_server() as (handler, port):
        use_smtp(settings, port)
        yield handler


@pytest.fixture
def ann(db) -> Profile:
    return Profile.objects.create(identity="ann", email="ann.smith@example.com")


@pytest.fixture
def campaign(campaign_factory) -> Any:
    return campaign_factory(name="Spring sale")


@pytest.fixture
def received(inbox, ann, campaign) -> EmailMessage:
    """The e-mail Ann received from run 41 of the campaign."""
    message = Message(
        key=f"41-{ann.pk}",
        run_id=41,
        campaign_id=campaign.pk,
        profile_id=ann.pk,
        to=ann.email,
        content={
            "subject": "Spring sale",
            "from_email": "news@example.com",
            "html": f'<body><p><a href="{SHOP.replace("&", "&amp;")}">Shop now</a></p></body>',
        },
    )
    with EmailAdapter({"provider": "django"}) as adapter:
        [result] = adapter.send([message])
    assert result.ok
    return inbox.to(ann.email)


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def click_link(message: EmailMessage) -> str:
    return re.search(r'<a href="([^"]+)"', html_of(message)).group(1)


def pixel_link(message: EmailMessage) -> str:
    return re.search(r'<img src="([^"]+)"', html_of(message)).group(1)


def unsubscribe_link(message: EmailMessage) -> str:
    return message["List-Unsubscribe"].strip("<>")


def path(url: str) -> str:
    assert url.startswith(BASE_URL + "/t/")
    return urlsplit(url).path


def events(profile: Profile, name: str) -> list[Event]:
    return list(Event.objects.filter(profile_id=profile.pk, name=name))


def tampered(url: str) -> str:
    """The URL with one character of its token's signature changed."""
    position = url.rindex(".") - 5
    swapped = "A" if url[position] != "A" else "B"
    return url[:position] + swapped + url[position + 1 :]


# ---------------------------------------------------------------------------------------------
# Clicks
# ---------------------------------------------------------------------------------------------
def test_a_link_from_the_email_records_a_click_and_redirects_to_the_original(
    client, received, ann, campaign
):
    response = client.get(path(click_link(received)))

    assert response.status_code == 302
    assert response["Location"] == SHOP
    [event] = events(ann, NOTIFICATION_CLICKED)
    assert event.campaign_id == campaign.pk
    assert event.label_ids is None
    assert event.properties == {
        "campaign_id": campaign.pk,
        "channel": "email",
        "run_id": 41,
        "url": SHOP,
    }
    assert events(ann, NOTIFICATION_VIEWED) == []


def test_every_click_is_an_event(client, received, ann):
    link = path(click_link(received))

    client.get(link)
    client.get(link)

    assert len(events(ann, NOTIFICATION_CLICKED)) == 2


def test_a_link_checker_asking_with_head_is_redirected_without_a_click(client, received, ann):
    response = client.head(path(click_link(received)))

    assert response.status_code == 302
    assert events(ann, NOTIFICATION_CLICKED) == []


def test_a_tampered_click_link_records_nothing_and_redirects_nowhere(client, received, ann):
    response = client.get(path(tampered(click_link(received))))

    assert response.status_code == 400
    assert "Location" not in response
    assert b"This link is not valid" in response.content
    assert events(ann, NOTIFICATION_CLICKED) == []


def test_a_signed_token_cannot_redirect_outside_http(client, settings, ann):
    settings.HERALD_BASE_URL = BASE_URL
    url = Tracker().url("click", Target(41, ann.pk, 3, "javascript:alert(1)"))

    response = client.get(path(url))

    assert response.status_code == 400
    assert events(ann, NOTIFICATION_CLICKED) == []


# ---------------------------------------------------------------------------------------------
# Opens
# ---------------------------------------------------------------------------------------------
def test_the_pixel_records_a_view_and_is_a_transparent_gif_never_cached(
    client, received, ann, campaign
):
    response = client.get(path(pixel_link(received)))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    [event] = events(ann, NOTIFICATION_VIEWED)
    assert event.campaign_id == campaign.pk
    assert event.properties == {"campaign_id": campaign.pk, "channel": "email", "run_id": 41}


def test_a_tampered_pixel_still_shows_the_image_but_records_nothing(client, received, ann):
    response = client.get(path(tampered(pixel_link(received))))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert events(ann, NOTIFICATION_VIEWED) == []


# ---------------------------------------------------------------------------------------------
# Unsubscribes
# ---------------------------------------------------------------------------------------------
def test_the_one_click_post_of_a_mail_provider_unsubscribes_without_csrf(received, ann):
    provider = Client(enforce_csrf_checks=True)

    response = provider.post(
        path(unsubscribe_link(received)),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    ann.refresh_from_db()
    assert ann.email_consent == Consent.OPTED_OUT
    assert ann.email_unsubscribed_at is not None


def test_unsubscribing_twice_keeps_the_first_time(received, ann):
    provider = Client(enforce_csrf_checks=True)
    link = path(unsubscribe_link(received))
    provider.post(
        link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    ann.refresh_from_db()
    first = ann.email_unsubscribed_at

    response = provider.post(link)

    assert response.status_code == 200
    ann.refresh_from_db()
    assert ann.email_unsubscribed_at == first


def test_the_unsubscribe_page_asks_first_with_the_address_masked(client, received, ann):
    link = path(unsubscribe_link(received))

    page = client.get(link)

    assert page.status_code == 200
    assert "Unsubscribe a•••@example.com?" in page.content.decode()
    assert "ann.smith" not in page.content.decode()
    ann.refresh_from_db()
    assert ann.email_consent == Consent.UNKNOWN

    done = client.post(link)

    assert "You are unsubscribed" in done.content.decode()
    ann.refresh_from_db()
    assert ann.email_consent == Consent.OPTED_OUT


def test_a_tampered_unsubscribe_link_changes_nothing(client, received, ann):
    response = client.post(path(tampered(unsubscribe_link(received))))

    assert response.status_code == 400
    ann.refresh_from_db()
    assert ann.email_consent == Consent.UNKNOWN


def test_a_token_for_one_purpose_does_not_work_for_another(client, received, ann):
    pixel_token = path(pixel_link(received)).removeprefix("/t/o/").removesuffix(".gif")

    response = client.post(f"/t/u/{pixel_token}/")

    assert response.status_code == 400
    ann.refresh_from_db()
    assert ann.email_consent == Consent.UNKNOWN


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------
def test_tokens_are_url_safe_standard_django_signatures(settings):
    settings.HERALD_TRACKING_KEY = "tracking-key-" + "x" * 40
    token = Tracker().token("click", Target(41, 7, 3, SHOP))

    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
    checker = signing.Signer(
        key=settings.HERALD_TRACKING_KEY, salt="herald.tracking.click", sep=".", algorithm="sha256"
    )
    run, profile, campaign, url = checker.unsign(token).split(".")
    assert (run, profile, campaign) == ("41", "7", "3")
    assert signing.b64_decode(url.encode()).decode() == SHOP


def test_tokens_signed_with_another_key_are_refused(settings):
    settings.HERALD_TRACKING_KEY = "old-key-" + "x" * 40
    token = Tracker().token("open", Target(41, 7, 3))
    settings.HERALD_TRACKING_KEY = "new-key-" + "x" * 40

    assert Tracker().read("open", token) is None


def test_url_helpers_build_absolute_links_for_a_message(settings):
    settings.HERALD_BASE_URL = BASE_URL
    message = Message(key="41-7", run_id=41, campaign_id=3, profile_id=7, to="", content={})

    assert tracking.open_url(message).startswith(f"{BASE_URL}/t/o/")
    assert tracking.open_url(message).endswith(".gif")
    assert tracking.unsubscribe_url(message).startswith(f"{BASE_URL}/t/u/")
    click = tracking.click_url(message, SHOP)
    token = click.removeprefix(f"{BASE_URL}/t/c/").removesuffix("/")
    assert Tracker().read("click", token) == Target(41, 7, 3, SHOP)
