"""The Find People pages: who may see them, the search, a profile's page and its timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audience.models import Profile
from audience.people import encode_cursor
from audience.services import record_notification_sent
from campaigns.choices import Status
from tests.audience.test_people import add_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def maya():
    return Profile.objects.create(
        identity="u-100", email="maya@example.com", phone="+12025550143", properties={"plan": "pro"}
    )


@pytest.mark.parametrize("role", ["marketer", "approver", "admin"])
def test_every_role_finds_people(request, client_for, maya, role):
    client = client_for(request.getfixturevalue(role))

    search = client.get("/audience/people/", {"q": "maya@example.com"})
    page = client.get(f"/audience/people/{maya.pk}/")

    assert search.status_code == 200 and page.status_code == 200
    assert f'href="/audience/people/{maya.pk}/?q=maya%40example.com"' in search.text
    assert "u-100" in page.text


def test_people_without_a_role_or_not_signed_in_see_nothing(client_for, outsider, maya):
    assert client_for(outsider).get("/audience/people/").status_code == 403
    assert client_for(outsider).get(f"/audience/people/{maya.pk}/").status_code == 403
    anonymous = client_for(None).get("/audience/people/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_the_search_says_when_nothing_matches(client_for, marketer, maya):
    response = client_for(marketer).get("/audience/people/", {"q": "+1 202 555 0199"})

    assert "No profile for “+1 202 555 0199”" in response.text
    assert "Read as the phone number +12025550199" in response.text


def test_the_navigation_links_to_find_people_for_every_role(client_for, approver):
    response = client_for(approver).get("/campaigns/")

    assert 'href="/audience/people/"' in response.text
    assert 'href="/audience/cohorts/"' in response.text


def test_a_missing_profile_is_a_404(client_for, marketer):
    assert client_for(marketer).get("/audience/people/999999/").status_code == 404


def test_the_profile_page_shows_reachability_properties_and_sends_with_labels(
    client_for, marketer, maya, campaign_factory, label_factory
):
    campaign = campaign_factory(name="Welcome", status=Status.RUNNING)
    campaign.labels.add(label_factory(name="Onboarding"))
    record_notification_sent(profile_id=maya.pk, campaign=campaign, channel="push", variant="B")

    page = client_for(marketer).get(f"/audience/people/{maya.pk}/").text

    assert f'<a href="/campaigns/{campaign.pk}/">Welcome</a>' in page
    assert "channel push" in page and "variant B" in page
    assert ">Onboarding</span>" in page
    assert 'data-channel="email"' in page and 'data-property="plan"' in page


def test_the_profile_page_costs_a_fixed_number_of_queries(
    client_for, marketer, maya, campaign_factory, django_assert_max_num_queries
):
    campaign = campaign_factory(name="Welcome", status=Status.RUNNING)
    for i in range(30):
        record_notification_sent(
            profile_id=maya.pk,
            campaign=campaign,
            channel="push",
            variant=None,
            ts=timezone.now() - dt.timedelta(hours=i),
        )
    client = client_for(marketer)

    with django_assert_max_num_queries(12):
        response = client.get(f"/audience/people/{maya.pk}/")

    assert response.text.count('data-event="Notification Sent"') == 30


def test_older_events_come_page_by_page(client_for, marketer, maya):
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    for i in range(55):
        add_event(maya, f"Event {i:02d}", start + dt.timedelta(minutes=i))
    client = client_for(marketer)

    first = client.get(f"/audience/people/{maya.pk}/").text
    assert 'data-event="Event 54"' in first and 'data-event="Event 05"' in first
    assert 'data-event="Event 04"' not in first and "Show older events" in first

    cursor = first.split("?before=")[1].split('"')[0]
    more = client.get(
        f"/audience/people/{maya.pk}/events/", {"before": cursor}, headers={"HX-Request": "true"}
    ).text
    assert more.count("data-event=") == 5 and "Show older events" not in more
    assert "<html" not in more

    # Without JavaScript the link opens the profile's page at that point.
    plain = client.get(f"/audience/people/{maya.pk}/events/", {"before": cursor})
    assert plain.status_code == 302
    assert 'data-event="Event 04"' in client.get(plain["Location"]).text


def test_a_bad_cursor_shows_the_newest_events_with_a_message(client_for, marketer, maya):
    add_event(maya, "App Launched", dt.datetime(2025, 3, 1, tzinfo=dt.UTC))

    response = client_for(marketer).get(f"/audience/people/{maya.pk}/", {"before": "garbage"})

    assert response.status_code == 200
    assert "This page of the timeline does not exist." in response.text
    assert 'data-event="App Launched"' in response.text


def test_a_cursor_past_the_last_event_says_there_is_nothing_older(client_for, marketer, maya):
    cursor = encode_cursor(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), 1)

    response = client_for(marketer).get(f"/audience/people/{maya.pk}/", {"before": cursor})

    assert "No older events." in response.text


def test_views_and_clicks_show_their_campaign_too(client_for, marketer, maya, campaign_factory):
    campaign = campaign_factory(name="Welcome", status=Status.RUNNING)
    add_event(
        maya,
        "Notification Clicked",
        dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
        campaign_id=campaign.pk,
        channel="push",
    )

    page = client_for(marketer).get(f"/audience/people/{maya.pk}/").text

    item = page.split('data-event="Notification Clicked"')[1].split("</li>")[0]
    assert f'<a href="/campaigns/{campaign.pk}/">Welcome</a>' in item
    assert "channel push" in item and "data-labels" not in item and "campaign_id" not in item
