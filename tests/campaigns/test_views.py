"""The campaign pages through Django's test client: who may see them, what they show and do."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import examples
from campaigns.choices import Action, CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign, CampaignAudit
from campaigns.services import MAX_BULK
from campaigns.validation import validate_campaign, validate_what, validate_when, validate_who
from labels.models import Label
from tests.factories import UserFactory, push_what

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:list")
CREATE = reverse("campaigns:create")
BULK = reverse("campaigns:bulk")
EXAMPLE = reverse("campaigns:example")


@pytest.fixture
def browser(client_for, marketer):
    """The marketer's signed-in client."""
    return client_for(marketer)


def text(response) -> str:
    """The page as text, tags dropped and whitespace squeezed, for asserting on what users read."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = html.replace("<wbr>", "")  # a line-break hint, not a space
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def form_data(**overrides) -> dict:
    data = {
        "name": "Weekly digest",
        "channel": Channel.PUSH,
        "type": CampaignType.SINGLE_MESSAGE,
        "delivery": Delivery.ONE_TIME,
        "who": json.dumps(examples.example_who()),
        "what": json.dumps(push_what()),
        "when": json.dumps(examples.example_when(Delivery.ONE_TIME)),
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------------------------------------
# Who may see the pages
# ---------------------------------------------------------------------------------------------
def page_urls(campaign: Campaign) -> list[str]:
    return [
        LIST,
        CREATE,
        reverse("campaigns:detail", args=[campaign.pk]),
        reverse("campaigns:edit", args=[campaign.pk]),
        reverse("campaigns:stop", args=[campaign.pk]),
    ]


def test_every_page_renders_for_a_marketer(browser, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    for url in page_urls(campaign):
        response = browser.get(url)
        assert response.status_code == 200, url


def test_a_user_without_a_role_gets_the_friendly_403_page(client_for, outsider, campaign_factory):
    campaign = campaign_factory()
    client = client_for(outsider)
    for url in page_urls(campaign):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "You do not have a role in Herald yet" in text(response)
    assert client.post(BULK, {"action": "archive", "ids": [campaign.pk]}).status_code == 403
    assert client.post(reverse("campaigns:archive", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.archived_at is None


def test_anonymous_visitors_are_sent_to_the_login_page(client_for, campaign_factory):
    campaign = campaign_factory()
    client = client_for(None)
    for url in page_urls(campaign):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_login_page_says_when_the_password_is_wrong(client_for, marketer):
    client = client_for(None)
    response = client.post(reverse("login"), {"username": marketer.username, "password": "nope"})
    assert response.status_code == 200
    assert "do not match an account" in text(response)
    response = client.post(
        reverse("login"), {"username": marketer.username, "password": "pass-word-1234"}
    )
    assert response.status_code == 302 and response["Location"] == LIST


def test_the_header_shows_the_users_email_and_role(browser):
    page = text(browser.get(LIST))
    assert "maya@example.com" in page
    assert "Marketer" in page
    assert "Log out" in page


def test_a_campaign_that_does_not_exist_is_a_404(browser):
    assert browser.get(reverse("campaigns:detail", args=[999999])).status_code == 404
    assert browser.post(reverse("campaigns:stop", args=[999999])).status_code == 404


def test_posts_without_a_csrf_token_are_refused(marketer, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert client.post(reverse("campaigns:stop", args=[campaign.pk])).status_code == 403
    assert (
        client.post(BULK, {"action": "stop", "ids": [campaign.pk], "confirm": "1"}).status_code
        == 403
    )
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING


# ---------------------------------------------------------------------------------------------
# All Campaigns
# ---------------------------------------------------------------------------------------------
def test_list_shows_each_campaigns_columns(browser, campaign_factory, label_factory):
    onboarding = label_factory(name="Onboarding")
    campaign = campaign_factory(
        name="Welcome series",
        channel=Channel.EMAIL,
        status=Status.RUNNING,
        what=examples.example_what(Channel.EMAIL, CampaignType.SINGLE_MESSAGE),
    )
    campaign.labels.add(onboarding)
    page = text(browser.get(LIST))
    row = page[page.index("Welcome series") :]
    for cell in (
        "Email",
        "Single Message",
        "One Time",
        "Running",
        "Onboarding",
        "maya@example.com",
        "now",
    ):
        assert cell in row[:300], cell


def test_archived_campaigns_are_hidden_until_asked_for_and_then_marked(browser, campaign_factory):
    campaign_factory(name="Live one")
    campaign_factory(name="Old one", status=Status.COMPLETED, archived_at=timezone.now())

    page = text(browser.get(LIST))
    assert "Live one" in page and "Old one" not in page

    response = browser.get(LIST, {"archived": "all"})
    page = text(response)
    assert "Live one" in page and "Old one" in page
    assert "2 campaigns, archived included" in page
    row = re.search(r'<tr class="is-archived"[^>]*>.*?</tr>', response.content.decode(), re.S)
    assert row and "Old one" in row.group(0) and "Archived" in row.group(0)
    assert "read-only" in row.group(0)
    assert re.search(r'name="archived" value="all" checked', response.content.decode())

    # Only the archived ones (the API's archived=true), and bookmarks from before ("1").
    response = browser.get(LIST, {"archived": "true"})
    assert [c.name for c in response.context["page"]] == ["Old one"]
    response = browser.get(LIST, {"archived": "1"})
    assert sorted(c.name for c in response.context["page"]) == ["Live one", "Old one"]
    assert response.context["query"]["archived"] == "all"


def quick_counts(response) -> dict[str, int]:
    return {quick.label: quick.count for quick in response.context["quick_filters"]}


def test_quick_filters_count_each_and_filter_the_rows(browser, marketer, campaign_factory):
    omar = UserFactory(username="omar@example.com", roles=["Marketer"])
    for _ in range(3):
        campaign_factory(status=Status.RUNNING, created_by=omar)
    campaign_factory(name="My draft", status=Status.DRAFT)
    campaign_factory(name="Waiting", status=Status.PENDING_APPROVAL, created_by=omar)
    campaign_factory(name="Later", status=Status.SCHEDULED)
    campaign_factory(status=Status.COMPLETED, archived_at=timezone.now())  # not counted by default

    response = browser.get(LIST)
    assert quick_counts(response) == {
        "All": 6,
        "Running": 3,
        "Scheduled": 1,
        "Awaiting approval": 1,
        "Mine": 2,
        "Drafts": 1,
    }
    assert response.context["total"] == 6

    for quick, names in (
        ("drafts", ["My draft"]),
        ("awaiting_approval", ["Waiting"]),
        ("mine", ["Later", "My draft"]),
        ("scheduled", ["Later"]),
    ):
        response = browser.get(LIST, {"quick": quick})
        assert sorted(c.name for c in response.context["page"]) == names, quick
        assert f'aria-current="true" data-quick="{quick}"' in response.content.decode()
        # The counts stay: each says what choosing it would show.
        assert quick_counts(response)["Running"] == 3

    # A quick filter combines with the drawer's filters.
    response = browser.get(LIST, {"quick": "mine", "status": "scheduled"})
    assert [c.name for c in response.context["page"]] == ["Later"]
    assert response.context["total"] == 1
    # "All" drops the quick filter and keeps the rest.
    all_link = re.search(r'href="([^"]*)"[^>]*data-quick="all"', response.content.decode())
    assert (
        all_link and "quick=" not in all_link.group(1) and "status=scheduled" in all_link.group(1)
    )


def test_the_status_filter_lives_in_the_drawer_with_a_count_per_status(browser, campaign_factory):
    campaign_factory(status=Status.RUNNING)
    campaign_factory(status=Status.RUNNING)
    campaign_factory(status=Status.STOPPED)
    response = browser.get(LIST, {"status": ["running", "stopped"]})
    assert response.context["total"] == 3
    statuses = {o.value: (o.checked, o.count) for o in response.context["drawer"]["status"]}
    assert statuses["running"] == (True, 2) and statuses["stopped"] == (True, 1)
    assert statuses["draft"] == (False, 0)
    assert list(statuses) == [s.value for s in Status]


def test_search_finds_campaigns_by_name_and_keeps_the_filters_in_the_links(
    browser, campaign_factory
):
    campaign_factory(name="Diwali push", status=Status.RUNNING)
    campaign_factory(name="Summer email", status=Status.RUNNING)
    response = browser.get(LIST, {"q": "diwali", "quick": "running"})
    assert [c.name for c in response.context["page"]] == ["Diwali push"]
    # The quick filters keep the search, so every view of the page can be bookmarked.
    assert "?q=diwali&amp;quick=drafts" in response.content.decode()


def test_the_list_pages_fifty_rows_at_a_time(browser, campaign_factory):
    for _ in range(51):
        campaign_factory()
    first = browser.get(LIST)
    assert len(first.context["page"]) == 50
    second = browser.get(LIST, {"page": 2})
    assert len(second.context["page"]) == 1
    assert 'rel="prev"' in second.content.decode()


# ---------------------------------------------------------------------------------------------
# The filter drawer, one filter at a time, through the page
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def catalogue(marketer, campaign_factory, label_factory):
    """Campaigns that each filter tells apart, by name."""
    omar = UserFactory(username="omar@example.com", roles=["Marketer"])
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    now = timezone.now()
    specs = {
        "Welcome e-mail": dict(channel=Channel.EMAIL, labels=[onboarding]),
        "Exit offer": dict(channel=Channel.WEB_EXIT_INTENT, created_by=omar, status=Status.RUNNING),
        "Spring pop-up": dict(channel=Channel.WEB_POPUP, delivery=Delivery.RECURRING),
        "Lookalikes": dict(channel=Channel.FACEBOOK_AUDIENCE, labels=[reengage]),
        "TikTok fans": dict(channel=Channel.TIKTOK_AUDIENCE, type=CampaignType.AB_TEST),
        "Search ads": dict(
            channel=Channel.GOOGLE_ADS,
            created_by=omar,
            last_active_at=now - dt.timedelta(days=40),
        ),
        "Cart SMS": dict(channel=Channel.SMS, status=Status.STOPPED, labels=[onboarding, reengage]),
    }
    made = {}
    for name, spec in specs.items():
        labels = spec.pop("labels", [])
        made[name] = campaign_factory(name=name, **spec)
        made[name].labels.set(labels)
    # Created long ago (created_at is set on insert, so it is moved afterwards).
    Campaign.objects.filter(name="Search ads").update(created_at=now - dt.timedelta(days=60))
    made["Old newsletter"] = campaign_factory(
        name="Old newsletter", channel=Channel.EMAIL, archived_at=now, status=Status.COMPLETED
    )
    made["labels"] = {"Onboarding": onboarding.pk, "Reengage": reengage.pk}
    return made


def days_ago(n: int) -> str:
    return (timezone.localdate() - dt.timedelta(days=n)).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"channel_group": "email"}, ["Welcome e-mail"]),
        # "Web" is both web channels, "Audiences" both audience channels; Google Ads is its own.
        ({"channel_group": "web"}, ["Exit offer", "Spring pop-up"]),
        ({"channel_group": "audiences"}, ["Lookalikes", "TikTok fans"]),
        ({"channel_group": "google_ads"}, ["Search ads"]),
        ({"channel_group": ["sms", "email"]}, ["Cart SMS", "Welcome e-mail"]),
        ({"type": "ab_test"}, ["TikTok fans"]),
        ({"status": ["running", "stopped"]}, ["Cart SMS", "Exit offer"]),
        ({"delivery": "recurring"}, ["Spring pop-up"]),
        ({"created_by": "OMAR@example.com"}, ["Exit offer", "Search ads"]),
        ({"label": "Onboarding"}, ["Cart SMS", "Welcome e-mail"]),
        ({"label": ["Onboarding", "Reengage"]}, ["Cart SMS", "Lookalikes", "Welcome e-mail"]),
        ({"q": "E-MAIL"}, ["Welcome e-mail"]),
        ({"last_active_before": 30}, ["Search ads"]),
        ({"last_active_after": 30, "channel_group": "google_ads"}, []),
        ({"created_before": 30}, ["Search ads"]),
        ({"created_after": 0, "channel_group": "google_ads"}, []),
        ({"archived": "true"}, ["Old newsletter"]),
        ({"archived": "all", "channel_group": "email"}, ["Old newsletter", "Welcome e-mail"]),
        # Four at once: the drawer's filters combine with AND, a filter's values with OR.
        (
            {
                "channel_group": ["web", "google_ads"],
                "created_by": "omar@example.com",
                "status": "running",
                "last_active_after": 7,
            },
            ["Exit offer"],
        ),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else None,
)
def test_each_drawer_filter_narrows_the_list(params, expected, browser, catalogue):
    query = {}
    for key, value in params.items():
        if key == "label":
            names = value if isinstance(value, list) else [value]
            value = [catalogue["labels"][name] for name in names]
        elif key.endswith(("_after", "_before")):
            value = days_ago(value)
        query[key] = value
    response = browser.get(LIST, query)
    assert response.status_code == 200
    assert sorted(c.name for c in response.context["page"]) == expected
    assert response.context["total"] == len(expected)
    assert not response.context["filter_problems"]


def test_the_drawer_offers_the_specs_fourteen_channel_options_in_its_order(browser):
    response = browser.get(LIST)
    assert [o.label for o in response.context["drawer"]["channel_group"]] == [
        "Email",
        "SMS",
        "Push Notifications",
        "Mobile In-app",
        "Web",
        "Audiences",
        "Web Push",
        "Webhooks",
        "Google Ads",
        "App Inbox",
        "WhatsApp",
        "Partner",
        "Native Display",
        "Web Native Display",
    ]
    html = response.content.decode()
    assert html.count('name="channel_group"') == 14
    for name in ("type", "status", "delivery"):
        assert f'name="{name}"' in html
    for name in ("last_active_after", "last_active_before", "created_after", "created_before"):
        assert f'type="date" name="{name}"' in html


def test_applied_filters_come_back_ticked_in_the_drawer_and_as_removable_chips(browser, catalogue):
    onboarding = catalogue["labels"]["Onboarding"]
    query = {
        "channel_group": ["email", "sms"],
        "created_by": "maya@example.com",
        "label": onboarding,
        "created_after": "2026-01-01",
        "quick": "mine",
        "ordering": "name",
    }
    response = browser.get(LIST, query)
    html = response.content.decode()
    assert 'name="channel_group" value="email" checked' in html
    assert 'name="channel_group" value="sms" checked' in html
    assert 'name="created_by" value="maya@example.com" checked' in html
    assert f'name="label" value="{onboarding}" checked' in html
    assert 'name="created_after" value="2026-01-01"' in html
    # The quick filter and the sort ride along when the drawer or the search applies.
    assert '<input type="hidden" name="quick" value="mine">' in html
    assert '<input type="hidden" name="ordering" value="name">' in html

    chips = {(c.group, c.text): c.url for c in response.context["active_chips"]}
    assert list(chips) == [
        ("Channel", "Email"),
        ("Channel", "SMS"),
        ("Created by", "maya@example.com"),
        ("Label", "Onboarding"),
        ("Created from", "1 Jan 2026"),
    ]
    assert response.context["filter_count"] == 5
    assert 'aria-label="Filters: 5 active"' in html
    # Each chip's link is the page without that one value, and nothing else changed.
    removed = QueryDict(chips[("Channel", "Email")].split("?", 1)[1])
    assert removed.getlist("channel_group") == ["sms"]
    assert removed["quick"] == "mine" and removed["ordering"] == "name"
    assert removed.getlist("label") == [str(onboarding)]
    # Clear drops the drawer's filters, keeps the quick filter, search and sort.
    clear = QueryDict(response.context["clear_url"].split("?", 1)[1])
    assert dict(clear) == {"quick": ["mine"], "ordering": ["name"]}


def test_an_api_style_channel_parameter_is_kept_when_the_drawer_applies(browser, campaign_factory):
    campaign_factory(name="Pop-up", channel=Channel.WEB_POPUP)
    campaign_factory(name="Exit", channel=Channel.WEB_EXIT_INTENT)
    response = browser.get(LIST, {"channel": "web_popup"})
    assert [c.name for c in response.context["page"]] == ["Pop-up"]
    assert '<input type="hidden" name="channel" value="web_popup">' in response.content.decode()
    assert [(c.group, c.text) for c in response.context["active_chips"]] == [
        ("Channel", "Web Pop-up")
    ]


def test_the_url_is_the_state_commas_repeats_and_pages_round_trip(browser, campaign_factory):
    for i in range(60):
        campaign_factory(name=f"Push {i:02}", status=Status.RUNNING if i % 2 else Status.DRAFT)
    response = browser.get(
        LIST + "?status=running,draft&channel_group=push&ordering=name&page=2&utm_source=mail"
    )
    query = response.context["query"]
    # Commas become repeats, unknown parameters and the page number are not part of the filter.
    assert query.getlist("status") == ["running", "draft"]
    assert dict(query) == {
        "status": ["running", "draft"],
        "channel_group": ["push"],
        "ordering": ["name"],
    }
    assert [c.name for c in response.context["page"]][:2] == ["Push 50", "Push 51"]
    html = response.content.decode()
    prev = "?status=running&amp;status=draft&amp;channel_group=push&amp;ordering=name&amp;page=1"
    assert prev in html
    # The bulk form's "all matching" sends the same filter.
    assert (
        '<input type="hidden" name="query" '
        'value="status=running&amp;status=draft&amp;channel_group=push&amp;ordering=name">'
    ) in html
    # The same state read back from a link of the page is the same page.
    again = browser.get(LIST + prev.replace("&amp;", "&"))
    assert again.context["query"].urlencode() == query.urlencode()
    assert [c.name for c in again.context["page"]][0] == "Push 00"


# ---------------------------------------------------------------------------------------------
# Sorting
# ---------------------------------------------------------------------------------------------
def header_links(response) -> dict[str, tuple[str, str | None]]:
    """{column title: (its link's ordering, its aria-sort)}."""
    found = {}
    for th in re.findall(r"<th[^>]*>\s*<a class=\"sort[^>]*>.*?</th>", response.content.decode()):
        title = re.search(r">([^<]+?) <span", th).group(1)
        href = re.search(r'href="([^"]+)"', th).group(1).replace("&amp;", "&")
        sort = re.search(r'aria-sort="(\w+)"', th)
        found[title] = (QueryDict(href.split("?", 1)[1]).get("ordering"), sort and sort.group(1))
    return found


def test_the_list_sorts_by_each_column_header_and_a_second_click_reverses(
    browser, campaign_factory
):
    now = timezone.now()
    for name, status, hours in (
        ("Bravo", Status.RUNNING, 3),
        ("Alpha", Status.DRAFT, 1),
        ("Charlie", Status.COMPLETED, 2),
    ):
        campaign_factory(name=name, status=status, last_active_at=now - dt.timedelta(hours=hours))
    Campaign.objects.filter(name="Charlie").update(created_at=now - dt.timedelta(days=9))

    def names(ordering: str | None) -> list[str]:
        query = {"ordering": ordering} if ordering else {}
        return [c.name for c in browser.get(LIST, query).context["page"]]

    assert names(None) == ["Alpha", "Charlie", "Bravo"]  # last active, newest first
    assert names("name") == ["Alpha", "Bravo", "Charlie"]
    assert names("-name") == ["Charlie", "Bravo", "Alpha"]
    assert names("status") == ["Charlie", "Alpha", "Bravo"]  # completed, draft, running
    assert names("-status") == ["Bravo", "Alpha", "Charlie"]
    assert names("created_at")[0] == "Charlie" and names("-created_at")[-1] == "Charlie"
    assert names("last_active_at") == ["Bravo", "Charlie", "Alpha"]

    # The default sort is marked on Last active; each header's link sorts by it, dates newest
    # first, and the marked one reverses.
    links = header_links(browser.get(LIST))
    assert links == {
        "Name": ("name", None),
        "Status": ("status", None),
        "Created": ("-created_at", None),
        "Last active": ("last_active_at", "descending"),
    }
    links = header_links(browser.get(LIST, {"ordering": "name", "quick": "drafts", "page": 2}))
    assert links["Name"] == ("-name", "ascending")
    response = browser.get(LIST, {"ordering": "name", "quick": "drafts"})
    html = response.content.decode()
    assert '<span class="sort-mark" aria-hidden="true">▲</span>' in html
    # The header keeps the filters and goes back to the first page.
    assert 'href="?quick=drafts&amp;ordering=-name"' in html


# ---------------------------------------------------------------------------------------------
# Bad parameters: a message, the rest of the filters, never a 500
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "title", "value", "kept"),
    [
        ({"status": ["running", "runing"]}, "Status", "runing", {"status"}),
        ({"channel_group": "fax"}, "Channel", "fax", set()),
        ({"type": "poster"}, "Type", "poster", set()),
        ({"delivery": "pigeon"}, "Delivery", "pigeon", set()),
        ({"label": "abc"}, "Label", "abc", set()),
        ({"label": "999999"}, "Label", "999999", set()),
        ({"created_by": "nobody@example.com"}, "Created by", "nobody@example.com", set()),
        ({"created_by": "not an email"}, "Created by", "not an email", set()),
        ({"created_after": "2024-13-45"}, "Created from", "", set()),
        ({"last_active_before": "yesterday"}, "Last active until", "", set()),
        (
            {"created_after": "2026-02-01", "created_before": "2026-01-01"},
            "Created until",
            "2026-01-01",
            {"created_after"},
        ),
        ({"quick": "everything"}, "Quick filter", "everything", set()),
        ({"ordering": "colour"}, "Sort", "colour", set()),
        ({"archived": "maybe"}, "Archived", "maybe", set()),
        ({"q": "x" * 300}, "Search", "", set()),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else None,
)
def test_a_bad_parameter_is_named_ignored_and_the_rest_still_applies(
    params, title, value, kept, browser, campaign_factory
):
    campaign_factory(name="Running one", status=Status.RUNNING, channel=Channel.SMS)
    campaign_factory(name="Email draft", channel=Channel.EMAIL)
    response = browser.get(LIST, {**params, "channel_group": params.get("channel_group", "sms")})
    assert response.status_code == 200
    # One note per bad value, naming the filter as the page does and the value given (the
    # wording after that is the FilterSet's).
    [problem] = response.context["filter_problems"]
    assert problem.startswith(f"{title}: ") and value in problem
    page = text(response)
    assert "Some of the filters in the address were ignored; the others apply." in page
    assert problem in unescape(page)
    # The good filter still applies (SMS), unless it was the bad one.
    expected = ["Email draft", "Running one"] if "channel_group" in params else ["Running one"]
    assert sorted(c.name for c in response.context["page"]) == expected
    # Links no longer carry what was ignored.
    assert set(response.context["query"]) - {"channel_group"} == kept


def test_only_the_bad_values_of_a_list_are_ignored(browser, campaign_factory, label_factory):
    onboarding = label_factory(name="Onboarding")
    campaign_factory(name="Tagged").labels.add(onboarding)
    campaign_factory(name="Plain")

    response = browser.get(LIST, {"label": [onboarding.pk, 999999, "abc"]})
    assert response.status_code == 200
    assert [c.name for c in response.context["page"]] == ["Tagged"]
    problems = response.context["filter_problems"]
    assert len(problems) == 2
    assert any(p.startswith("Label: ") and "“abc”" in p for p in problems)
    assert any(p.startswith("Label: ") and "999999" in p for p in problems)
    assert response.context["query"].getlist("label") == [str(onboarding.pk)]
    # Only unknown labels: no label filter at all, rather than an empty page.
    response = browser.get(LIST, {"label": "999999"})
    assert sorted(c.name for c in response.context["page"]) == ["Plain", "Tagged"]


def test_a_page_number_out_of_range_shows_the_last_page(browser, campaign_factory):
    campaign_factory(name="Only")
    for page in ("99", "abc", "-1"):
        response = browser.get(LIST, {"page": page})
        assert response.status_code == 200
        assert [c.name for c in response.context["page"]] == ["Only"]


# ---------------------------------------------------------------------------------------------
# Speed: the same queries whatever the filters and the page size
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows", [5, 50])
def test_list_query_count_is_the_same_at_any_size_with_several_filters_on(
    rows, browser, marketer, campaign_factory, label_factory, django_assert_num_queries
):
    labels = [label_factory() for _ in range(3)]
    for _ in range(rows):
        campaign_factory(channel=Channel.EMAIL, status=Status.RUNNING).labels.set(labels)
    query = {
        "channel_group": ["email", "web"],
        "status": ["running", "draft"],
        "type": "single_message",
        "delivery": "one_time",
        "created_by": marketer.email,
        "label": [labels[0].pk, labels[1].pk],
        "last_active_after": days_ago(7),
        "created_before": days_ago(-1),
        "quick": "mine",
        "q": "campaign",
        "ordering": "name",
    }
    # Session, user, roles; the creators' and the labels' look-ups; the counts (one SELECT that
    # holds the total too); every label (the no-JavaScript list); the saved filters; the page's
    # rows with their creators, and their labels. No COUNT(*) of its own.
    with django_assert_num_queries(10):
        response = browser.get(LIST, query)
    assert len(response.context["page"]) == rows
    assert response.context["total"] == rows


@pytest.mark.parametrize("rows", [5, 50])
def test_list_query_count_without_filters(
    rows, browser, campaign_factory, django_assert_num_queries
):
    for _ in range(rows):
        campaign_factory()
    with django_assert_num_queries(8):
        response = browser.get(LIST)
    assert len(response.context["page"]) == rows


# ---------------------------------------------------------------------------------------------
# The drawer's type-aheads
# ---------------------------------------------------------------------------------------------
CREATORS = reverse("campaigns:creators")
LABEL_OPTIONS = reverse("campaigns:label_options")


def test_the_creator_type_ahead_lists_only_people_who_created_campaigns(
    browser, marketer, campaign_factory
):
    omar = UserFactory(username="omar@example.com", roles=["Marketer"])
    UserFactory(username="olga@example.com", roles=["Marketer"])  # created nothing
    campaign_factory(created_by=omar)
    campaign_factory()
    response = browser.get(CREATORS, {"q": "OMA"})
    assert response.json() == {
        "results": [{"value": "omar@example.com", "text": "omar@example.com"}],
        "more": False,
    }
    response = browser.get(CREATORS)
    assert [r["value"] for r in response.json()["results"]] == [
        "maya@example.com",
        "omar@example.com",
    ]
    # The ones already chosen are not offered again.
    response = browser.get(CREATORS, {"created_by": "MAYA@example.com"})
    assert [r["value"] for r in response.json()["results"]] == ["omar@example.com"]
    # For htmx, buttons that become chips.
    html = browser.get(CREATORS, {"q": "oma"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in html
    assert 'data-pick="created_by" data-value="omar@example.com"' in html
    html = browser.get(CREATORS, {"q": "zed"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Nothing matches “zed”." in html


def test_the_creator_type_ahead_returns_at_most_twenty(browser, campaign_factory):
    for i in range(25):
        campaign_factory(created_by=UserFactory(username=f"user{i:02}@example.com"))
    data = browser.get(CREATORS, {"q": "user"}).json()
    assert len(data["results"]) == 20 and data["more"] is True
    assert data["results"][0]["value"] == "user00@example.com"


def test_the_label_type_ahead_finds_labels_by_part_of_the_name(browser, label_factory):
    for name in ("Onboarding", "Reengage", "Onboarding v2", "Score Updates"):
        label_factory(name=name)
    first = Label.objects.get(name="Onboarding")
    data = browser.get(LABEL_OPTIONS, {"q": "board"}).json()
    assert [r["text"] for r in data["results"]] == ["Onboarding", "Onboarding v2"]
    data = browser.get(LABEL_OPTIONS, {"q": "board", "label": [first.pk, "junk"]}).json()
    assert [r["text"] for r in data["results"]] == ["Onboarding v2"]
    Label.objects.bulk_create(Label(name=f"Promo {i:03}") for i in range(30))
    data = browser.get(LABEL_OPTIONS, {"q": "promo"}).json()
    assert len(data["results"]) == 20 and data["more"] is True
    html = browser.get(LABEL_OPTIONS, {"q": "score"}, HTTP_HX_REQUEST="true").content.decode()
    label = Label.objects.get(name="Score Updates")
    assert f'data-pick="label" data-value="{label.pk}" data-text="Score Updates"' in html


def test_the_type_aheads_are_for_signed_in_users_with_a_role(client_for, outsider):
    for url in (CREATORS, LABEL_OPTIONS):
        assert client_for(outsider).get(url).status_code == 403
        assert client_for(None).get(url).status_code == 302


def test_without_javascript_the_drawer_offers_plain_inputs(browser, label_factory):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    html = browser.get(LIST, {"label": onboarding.pk}).content.decode()
    noscript = "".join(re.findall(r"<noscript>(.*?)</noscript>", html, re.S))
    assert '<input type="email" name="created_by"' in noscript
    # Every label not yet chosen, to add; the chosen one is a tickable chip.
    assert f'<option value="{reengage.pk}">Reengage</option>' in noscript
    assert f'<option value="{onboarding.pk}">' not in noscript
    # The type-aheads' inputs belong to their own look-up forms, never to the filter.
    assert html.count('form="creator-lookup"') == 1 and html.count('form="label-lookup"') == 1
    assert '<form id="creator-lookup"' in html


# ---------------------------------------------------------------------------------------------
# Bulk actions: confirm, then apply
# ---------------------------------------------------------------------------------------------
def test_bulk_stop_confirmation_names_each_campaign_and_what_will_happen(browser, campaign_factory):
    running = [campaign_factory(name=f"Running {i}", status=Status.RUNNING) for i in range(3)]
    drafts = [campaign_factory(name=f"Draft {i}", status=Status.DRAFT) for i in range(2)]
    ids = [c.pk for c in running + drafts]

    page = text(browser.post(BULK, {"action": "stop", "ids": ids, "next": LIST}))

    assert "3 of 5 selected campaigns can be stopped" in page
    assert "2 will be skipped: Drafts are not live; there is nothing to stop." in page
    assert "Stopping is final" in page and "cannot be resumed" in page
    for campaign in running:
        assert f"{campaign.name} Running Will be stopped" in page
    for campaign in drafts:
        assert f"{campaign.name} Draft Skipped: Drafts are not live" in page
    # Asking is not doing.
    assert Campaign.objects.filter(status=Status.STOPPED).count() == 0


def test_bulk_confirmation_loads_as_a_dialog_for_htmx(browser, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    response = browser.post(BULK, {"action": "stop", "ids": [campaign.pk]}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "data-close-dialog" in html and 'name="confirm"' in html


def test_bulk_archive_reports_each_campaign_done_or_refused_and_why(browser, campaign_factory):
    done = campaign_factory(name="Finished", status=Status.COMPLETED)
    draft = campaign_factory(name="Forgotten draft", status=Status.DRAFT)
    live = campaign_factory(name="Still live", status=Status.RUNNING)

    response = browser.post(
        BULK,
        {
            "action": "archive",
            "ids": [done.pk, draft.pk, live.pk],
            "confirm": "1",
            "next": LIST + "?archived=1",
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == LIST + "?archived=1"
    page = text(response)
    assert "Archive campaigns: 2 done, 1 refused" in page
    assert "Finished Archived." in page
    assert "Forgotten draft Archived." in page
    assert "Still live Refused: Live campaigns must be stopped before they are archived." in page
    assert set(Campaign.objects.archived().values_list("pk", flat=True)) == {done.pk, draft.pk}
    # The panel is shown once.
    assert "2 done" not in text(browser.get(LIST))


def test_bulk_clone_creates_a_draft_copy_of_each(browser, campaign_factory):
    originals = [campaign_factory(name=n, status=Status.STOPPED) for n in ("Alpha", "Beta")]
    response = browser.post(
        BULK, {"action": "clone", "ids": [c.pk for c in originals], "confirm": "1"}, follow=True
    )
    page = text(response)
    assert "Clone campaigns: 2 done" in page
    assert "New draft: Copy of Alpha" in page and "New draft: Copy of Beta" in page
    clones = Campaign.objects.filter(name__startswith="Copy of")
    assert {c.status for c in clones} == {Status.DRAFT} and clones.count() == 2


def test_bulk_without_a_selection_says_so(browser):
    response = browser.post(BULK, {"action": "stop", "next": LIST}, follow=True)
    assert "This field is required." in text(response) or "Select at least one" in text(response)


def test_a_bad_bulk_request_from_htmx_navigates_the_page_instead_of_filling_the_dialog(browser):
    response = browser.post(
        BULK, {"action": "stop", "next": LIST + "?status=running"}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == LIST + "?status=running"


def test_bulk_redirects_only_to_this_site(browser, campaign_factory):
    campaign = campaign_factory(status=Status.COMPLETED)
    response = browser.post(
        BULK,
        {
            "action": "archive",
            "ids": [campaign.pk],
            "confirm": "1",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == LIST


def test_select_all_matching_resolves_the_filters_on_the_server_and_reports_mixed_results(
    browser, campaign_factory
):
    running = [
        campaign_factory(name=f"SMS {i:02}", channel=Channel.SMS, status=Status.RUNNING)
        for i in range(53)
    ]
    drafts = [campaign_factory(name=f"SMS draft {i}", channel=Channel.SMS) for i in range(2)]
    other = campaign_factory(name="Push live", channel=Channel.PUSH, status=Status.RUNNING)
    filters = "channel_group=sms&ordering=name"
    listed = LIST + "?" + filters

    # The page offers it: 55 match, 50 are on the page.
    html = browser.get(listed).content.decode()
    assert "All 50 on this page are selected." in html
    assert 'name="scope" value="matching"' in html and "Select all 55 matching" in html

    # Step 1 sends the filter, not ids (the ids of the ticked page are ignored).
    response = browser.post(
        BULK,
        {
            "action": "stop",
            "scope": "matching",
            "query": filters,
            "ids": [other.pk],
            "next": listed,
        },
    )
    page = text(response)
    assert "All 55 campaigns matching the filters are selected." in page
    assert "53 of 55 selected campaigns can be stopped." in page
    assert "2 will be skipped: Drafts are not live; there is nothing to stop." in page
    assert "(SMS draft 0, SMS draft 1)" in page
    assert "Stopping is final" in page
    ids = response.context["id_list"].split(",")
    assert len(ids) == 55 and str(other.pk) not in ids
    assert not Campaign.objects.filter(status=Status.STOPPED).exists()

    # Step 2 acts on exactly the campaigns the confirmation named.
    campaign_factory(name="SMS 99 (new)", channel=Channel.SMS, status=Status.RUNNING)
    response = browser.post(
        BULK,
        {"action": "stop", "confirm": "1", "id_list": response.context["id_list"], "next": listed},
        follow=True,
    )
    page = text(response)
    assert "Stop campaigns: 53 done, 2 refused" in page
    assert "SMS draft 0 Refused: Drafts are not live" in page
    stopped = set(Campaign.objects.filter(status=Status.STOPPED).values_list("pk", flat=True))
    assert stopped == {c.pk for c in running}
    assert {c.status for c in Campaign.objects.filter(pk__in=[d.pk for d in drafts])} == {
        Status.DRAFT
    }
    other.refresh_from_db()
    assert other.status == Status.RUNNING
    assert Campaign.objects.get(name="SMS 99 (new)").status == Status.RUNNING


def test_select_all_matching_beyond_the_cap_is_refused_with_a_clear_message(
    browser, marketer, campaign_factory
):
    now = timezone.now()
    Campaign.objects.bulk_create(
        Campaign(
            name=f"Bulk {i}",
            channel=Channel.PUSH,
            status=Status.COMPLETED,
            created_by=marketer,
            last_active_at=now,
        )
        for i in range(MAX_BULK + 1)
    )
    html = browser.get(LIST).content.decode()
    assert "1,001 campaigns match; a bulk action takes at most 1,000 at once" in html
    assert 'name="scope" value="matching"' not in html

    response = browser.post(
        BULK,
        {"action": "archive", "scope": "matching", "query": "", "next": LIST},
        follow=True,
    )
    assert "More than 1,000 campaigns match these filters" in text(response)
    assert "nothing was changed" in text(response)
    assert not Campaign.objects.archived().exists()

    # Narrowed below the cap, it goes through.
    Campaign.objects.filter(name="Bulk 0").update(channel=Channel.SMS)
    response = browser.post(
        BULK, {"action": "archive", "scope": "matching", "query": "channel_group=sms"}
    )
    assert "1 of 1 selected campaign can be archived." in text(response)


def test_select_all_matching_with_no_match_left_says_so(browser):
    response = browser.post(
        BULK,
        {"action": "clone", "scope": "matching", "query": "q=nothing", "next": LIST},
        follow=True,
    )
    assert "No campaign matches these filters any more" in text(response)


def test_ids_that_name_no_visible_campaign_are_refused_each_as_not_found(browser, campaign_factory):
    done = campaign_factory(name="Finished", status=Status.COMPLETED)
    response = browser.post(BULK, {"action": "archive", "ids": [done.pk, 987654]})
    page = text(response)
    assert "1 of 2 selected campaigns can be archived." in page
    assert "1 will be skipped: Not found: it does not exist, or you may not see it. (#987654)" in (
        page
    )
    assert "Campaign #987654 Skipped: Not found" in page

    response = browser.post(
        BULK,
        {"action": "archive", "confirm": "1", "id_list": response.context["id_list"]},
        follow=True,
    )
    page = text(response)
    assert "Archive campaigns: 1 done, 1 refused" in page
    assert "Campaign #987654 Refused: Campaign 987654 does not exist." in page
    assert 'href="/campaigns/987654/"' not in response.content.decode()
    done.refresh_from_db()
    assert done.archived_at is not None


def test_archived_campaigns_in_a_bulk_selection_can_only_be_cloned(browser, campaign_factory):
    archived = campaign_factory(name="Old one", status=Status.STOPPED, archived_at=timezone.now())
    for action, summary in (
        ("stop", "0 of 1 selected campaign can be stopped."),
        ("archive", "0 of 1 selected campaign can be archived."),
        ("clone", "1 of 1 selected campaign can be cloned."),
    ):
        page = text(browser.post(BULK, {"action": action, "ids": [archived.pk]}))
        assert summary in page, action
        if action != "clone":
            assert "read-only" in page
    response = picker(browser, "add", [archived.pk])
    assert "1 will be skipped" in text(response) and "read-only" in text(response)


def test_select_all_matching_works_for_labels_too(browser, campaign_factory, label_factory):
    label = label_factory(name="Spring")
    email = examples.example_what(Channel.EMAIL, CampaignType.SINGLE_MESSAGE)
    drafts = [
        campaign_factory(name=f"Email {i}", channel=Channel.EMAIL, what=email) for i in range(3)
    ]
    running = campaign_factory(
        name="Live email", channel=Channel.EMAIL, status=Status.RUNNING, what=email
    )
    push = campaign_factory(name="Push", channel=Channel.PUSH)
    response = browser.post(
        LABELS,
        {"op": "add", "scope": "matching", "query": "channel_group=email", "next": LIST},
        HTTP_HX_REQUEST="true",
    )
    page = text(response)
    assert "Choose labels to add to 4 selected campaigns ; 3 can change labels now" in page
    id_list = response.context["id_list"]
    response = browser.post(
        LABELS,
        {"op": "add", "apply": "1", "id_list": id_list, "label": [label.pk], "next": LIST},
        HTTP_HX_REQUEST="true",
    )
    assert response["HX-Redirect"] == LIST
    assert [label_names(c) for c in drafts] == [["Spring"]] * 3
    assert label_names(running) == [] and label_names(push) == []
    assert "Add labels (Spring): 3 done, 1 refused" in text(browser.get(LIST))


# ---------------------------------------------------------------------------------------------
# One campaign
# ---------------------------------------------------------------------------------------------
def test_detail_shows_sections_what_can_change_and_the_timeline(
    browser, marketer, campaign_factory
):
    campaign = campaign_factory(
        name="Digest",
        status=Status.RUNNING,
        delivery=Delivery.RECURRING,
        when=examples.example_when(Delivery.RECURRING),
        next_run_at=timezone.now() + dt.timedelta(days=1),
    )
    CampaignAudit.objects.create(
        campaign=campaign, actor=marketer, action=Action.CREATE, to_status="draft"
    )
    CampaignAudit.objects.create(
        campaign=campaign,
        actor=marketer,
        action=Action.PUBLISH,
        from_status="draft",
        to_status="running",
    )
    response = browser.get(reverse("campaigns:detail", args=[campaign.pk]))
    page = text(response)

    assert "Digest" in page and "Push Notifications · Single Message · Recurring" in page
    assert "Every week on Monday at 09:30 (UTC)" in page and "for 12 runs" in page
    assert "Title" in page and "Your weekly digest is ready." in page
    assert "Locked: Running: only What can change." in page  # Who and When
    assert page.count("Editable now") == 1  # What
    # Newest first: Published before Created.
    timeline = page[page.index("Timeline") :]
    assert timeline.index("Published Draft → Running") < timeline.index("Created maya@example.com")
    buttons = {b.key: b for b in response.context["buttons"]}
    assert buttons["stop"].allowed and buttons["clone"].allowed and buttons["edit"].allowed
    assert not buttons["publish"].allowed
    assert not buttons["archive"].allowed
    assert "Archive unavailable: Live campaigns must be stopped before they are archived." in page


def test_archived_campaign_page_is_read_only_with_a_banner(browser, campaign_factory):
    campaign = campaign_factory(status=Status.COMPLETED, archived_at=timezone.now())
    response = browser.get(reverse("campaigns:detail", args=[campaign.pk]))
    page = text(response)
    assert "Archived campaigns are read-only; clone it to work on it again." in page
    allowed = {b.key for b in response.context["buttons"] if b.allowed}
    assert allowed == {"clone"}

    response = browser.get(reverse("campaigns:edit", args=[campaign.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[campaign.pk])
    assert "Archived campaigns are read-only" in text(response)


def test_stop_asks_for_confirmation_and_says_it_is_final(browser, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    url = reverse("campaigns:stop", args=[campaign.pk])
    page = text(browser.get(url))
    assert "Stopping is final" in page and "cannot be resumed" in page
    campaign.refresh_from_db()
    assert campaign.status == Status.RUNNING

    response = browser.post(url, follow=True)
    campaign.refresh_from_db()
    assert campaign.status == Status.STOPPED
    assert "stopped for good" in text(response)


def test_publish_clone_and_archive_buttons_call_their_service(browser, campaign_factory):
    draft = campaign_factory(status=Status.DRAFT)
    response = browser.post(reverse("campaigns:publish", args=[draft.pk]), follow=True)
    draft.refresh_from_db()
    assert draft.status == Status.SCHEDULED
    assert "Published: the campaign is now Scheduled." in text(response)

    response = browser.post(reverse("campaigns:clone", args=[draft.pk]), follow=True)
    clone = Campaign.objects.get(cloned_from=draft)
    assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[clone.pk])

    response = browser.post(reverse("campaigns:archive", args=[clone.pk]), follow=True)
    clone.refresh_from_db()
    assert clone.archived_at is not None


def test_a_refused_action_becomes_a_message_not_an_error_page(browser, campaign_factory):
    running = campaign_factory(status=Status.RUNNING)
    response = browser.post(reverse("campaigns:publish", args=[running.pk]), follow=True)
    assert response.status_code == 200
    # The service's refusal, as a message (approvals.policy's reason for a live campaign).
    assert "The campaign is already published." in text(response)

    past = campaign_factory(
        status=Status.DRAFT, when={"send": "later", "start_at": "2020-01-01T10:00"}
    )
    response = browser.post(reverse("campaigns:publish", args=[past.pk]), follow=True)
    assert response.status_code == 200
    assert "when.start_at: Must be in the future." in text(response)
    past.refresh_from_db()
    assert past.status == Status.DRAFT


# ---------------------------------------------------------------------------------------------
# Create and edit
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("campaign_type", list(CampaignType))
def test_example_what_is_valid_for_every_channel_and_type(channel, campaign_type):
    assert (
        validate_what(channel, campaign_type, examples.example_what(channel, campaign_type)) == {}
    )


@pytest.mark.parametrize("delivery", list(Delivery))
def test_example_when_is_valid_and_publishable_for_every_delivery(delivery):
    assert validate_when(delivery, examples.example_when(delivery), for_publish=True) == {}


def test_example_who_is_valid():
    assert validate_who(examples.example_who()) == {}


def test_create_form_is_prefilled_with_a_valid_example(browser):
    response = browser.get(CREATE)
    form = response.context["form"]
    values = {name: json.loads(form[name].value()) for name in ("who", "what", "when")}
    validate_campaign(
        channel=form["channel"].value(),
        type=form["type"].value(),
        delivery=form["delivery"].value(),
        **values,
    )
    html = response.content.decode()
    assert f'hx-post="{EXAMPLE}"' in html and 'class="mono"' in html


def test_creating_a_campaign_saves_a_draft_and_opens_it(browser, label_factory):
    label = label_factory(name="Digest")
    response = browser.post(CREATE, form_data(labels=[label.pk]), follow=True)
    campaign = Campaign.objects.get(name="Weekly digest")
    assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[campaign.pk])
    assert campaign.status == Status.DRAFT and list(campaign.labels.all()) == [label]
    assert "“Weekly digest” was created as a draft." in text(response)


def test_invalid_json_is_reported_on_its_field_and_nothing_is_saved(browser):
    response = browser.post(CREATE, form_data(what='{"message": {"title": "Hi",}'))
    assert response.status_code == 200
    assert Campaign.objects.count() == 0
    errors = response.context["form"].errors
    assert (
        "what" in errors and "not valid JSON" in errors["what"][0] and "line 1" in errors["what"][0]
    )
    assert "Nothing was saved" in text(response)


def test_service_field_errors_show_next_to_their_section_with_the_path(browser):
    response = browser.post(CREATE, form_data(channel=Channel.EMAIL))  # a push message for e-mail
    assert Campaign.objects.count() == 0
    errors = response.context["form"].errors
    assert "what.message.subject: This field is required." in errors["what"]
    assert "who" not in errors and "when" not in errors
    html = response.content.decode()
    what_section = html[html.index('id="section-what"') : html.index('id="section-when"')]
    assert "what.message.subject: This field is required." in what_section


def test_edit_form_of_a_running_campaign_locks_all_but_what(browser, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING, name="Live")
    url = reverse("campaigns:edit", args=[campaign.pk])
    response = browser.get(url)
    form = response.context["form"]
    assert set(form.locks) == {
        "name",
        "labels",
        "new_labels",
        "who",
        "when",
        "channel",
        "type",
        "delivery",
    }
    assert all(form.fields[name].disabled for name in form.locks)
    page = text(response)
    assert "Locked: Running: only What can change." in page
    assert re.search(r'<textarea name="who"[^>]*readonly', response.content.decode())

    # Locked fields are ignored even if posted; the What change is saved.
    new_what = push_what(title="A better title")
    response = browser.post(
        url,
        form_data(
            name="Hacked",
            who='{"type": "group", "match": "any", "conditions": []}',
            what=json.dumps(new_what),
        ),
        follow=True,
    )
    campaign.refresh_from_db()
    assert campaign.what == new_what and campaign.name == "Live"
    assert campaign.who["match"] == "all"
    assert "Your changes were saved." in text(response)


def test_edit_with_service_errors_saves_nothing(browser, campaign_factory):
    campaign = campaign_factory(status=Status.DRAFT, name="Draft")
    url = reverse("campaigns:edit", args=[campaign.pk])
    response = browser.post(
        url, form_data(name="Renamed", what=json.dumps({"message": {"title": "x"}}))
    )
    assert "what.message.body: This field is required." in response.context["form"].errors["what"]
    campaign.refresh_from_db()
    assert campaign.name == "Draft"


def test_the_example_replaces_an_untouched_section_and_keeps_the_users_edits(browser):
    old = json.dumps(examples.example_what(Channel.PUSH, CampaignType.SINGLE_MESSAGE), indent=2)
    response = browser.post(
        EXAMPLE,
        {
            "part": "what",
            "channel": "sms",
            "type": "single_message",
            "what": old,
            "what_pristine": old,
        },
    )
    html = response.content.decode()
    assert 'id="field-what"' in html and "Reply STOP to opt out" in html

    edited = old.replace("Your weekly digest is ready.", "My own words")
    response = browser.post(
        EXAMPLE,
        {
            "part": "what",
            "channel": "sms",
            "type": "single_message",
            "what": edited,
            "what_pristine": old,
        },
    )
    html = response.content.decode()
    assert "My own words" in html and "Reply STOP" not in html and "Your edits were kept" in html

    response = browser.post(
        EXAMPLE, {"part": "when", "delivery": "action", "when": "", "when_pristine": ""}
    )
    assert "Added To Cart" in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Labels on All Campaigns: the bulk picker, the any-of filter
# ---------------------------------------------------------------------------------------------
LABELS = reverse("campaigns:labels")


def picker(client, op: str, ids: list[int], **data):
    return client.post(LABELS, {"op": op, "ids": ids, "next": LIST, **data}, HTTP_HX_REQUEST="true")


def label_names(campaign: Campaign) -> list[str]:
    return sorted(campaign.labels.values_list("name", flat=True))


def test_the_bulk_bar_offers_add_and_remove_labels_to_those_who_may_edit(
    browser, client_for, outsider
):
    html = browser.get(LIST).content.decode()
    assert f'formaction="{LABELS}"' in html
    assert ">Add labels</button>" in html and ">Remove labels</button>" in html


def test_the_add_picker_lists_every_label_and_how_many_selected_campaigns_carry_it(
    browser, campaign_factory, label_factory
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    first, second = campaign_factory(name="First"), campaign_factory(name="Second")
    first.labels.add(onboarding)
    response = picker(browser, "add", [first.pk, second.pk])
    html = response.content.decode()
    assert "<html" not in html and "data-close-dialog" in html
    assert [o.name for o in response.context["options"]] == ["Onboarding", "Reengage"]
    page = text(response)
    assert "Choose labels to add to 2 selected campaigns" in page
    assert "Onboarding on 1 of 2" in page
    assert 'name="new"' in html and f'hx-get="{reverse("labels:check")}"' in html
    assert reengage.pk and Campaign.objects.get(pk=second.pk).labels.count() == 0


def test_without_javascript_the_picker_is_a_page(browser, campaign_factory):
    campaign = campaign_factory()
    response = browser.post(LABELS, {"op": "add", "ids": [campaign.pk], "next": LIST})
    html = response.content.decode()
    assert "<html" in html and "Add labels" in text(response)
    assert f'href="{LIST}" role="button"' in html  # Cancel goes back to the list


def test_adding_existing_and_new_labels_reports_each_campaign(
    browser, marketer, campaign_factory, label_factory
):
    onboarding = label_factory(name="Onboarding")
    draft = campaign_factory(name="Draft one", status=Status.DRAFT)
    has_it = campaign_factory(name="Has both", status=Status.DRAFT)
    has_it.labels.add(onboarding, label_factory(name="Promo"))
    running = campaign_factory(name="Live one", status=Status.RUNNING)
    archived = campaign_factory(name="Old one", status=Status.COMPLETED, archived_at=timezone.now())
    ids = [draft.pk, has_it.pk, running.pk, archived.pk]

    response = picker(browser, "add", ids, apply="1", label=[onboarding.pk], new=["  promo "])
    assert response["HX-Redirect"] == LIST
    assert label_names(draft) == ["Onboarding", "Promo"]
    assert label_names(running) == [] and label_names(archived) == []
    # "promo" is the existing "Promo", not a second label.
    assert Label.objects.filter(name__iexact="promo").count() == 1

    page = text(browser.get(LIST))
    assert "Add labels (Onboarding, Promo): 1 done, 1 unchanged, 2 refused" in page
    assert "Draft one Labels updated." in page
    assert "Has both Already as asked; nothing to change." in page
    assert "Live one Refused: Labels are locked: Running: only What can change." in page
    assert "Old one Refused:" in page and "read-only" in page
    timeline = text(browser.get(reverse("campaigns:detail", args=[draft.pk])))
    assert "Labels: added Onboarding, Promo" in timeline


def test_a_new_label_is_created_inline_and_the_panel_says_so(browser, marketer, campaign_factory):
    campaign = campaign_factory()
    picker(browser, "add", [campaign.pk], apply="1", new=["Score Updates", "Reengage"])
    assert label_names(campaign) == ["Reengage", "Score Updates"]
    assert Label.objects.get(name="Reengage").created_by == marketer
    page = text(browser.get(LIST))
    assert "Created the new labels “Score Updates”, “Reengage”." in page


@pytest.mark.parametrize(
    ("new", "error"),
    [
        ("Promo!", "“Promo!”: Label names cannot contain !."),
        ("%Sale", "“%Sale”: Label names cannot start with or contain %."),
        ("x" * 65, "At most 64 characters (65 given)."),
    ],
)
def test_a_bad_new_name_is_shown_on_the_picker_and_nothing_changes(
    new, error, browser, campaign_factory, label_factory
):
    onboarding = label_factory(name="Onboarding")
    campaign = campaign_factory()
    response = picker(
        browser, "add", [campaign.pk], apply="1", label=[onboarding.pk], new=["Fine", new]
    )
    assert response.status_code == 200 and "HX-Redirect" not in response
    page = text(response)
    assert error in page and "Nothing was changed." in page
    assert label_names(campaign) == []
    assert list(Label.objects.values_list("name", flat=True)) == ["Onboarding"]
    # The choices are kept: the good name ticked in the list, the bad one back in the input.
    assert response.context["checked"] == {onboarding.pk}
    assert response.context["new_names"] == ["Fine"]
    assert response.context["typed_name"] == new


def test_the_901st_label_from_the_picker_creates_none_and_changes_nothing(
    browser, campaign_factory
):
    Label.objects.bulk_create(Label(name=f"L{i}") for i in range(899))
    campaign = campaign_factory()
    response = picker(browser, "add", [campaign.pk], apply="1", new=["New one", "One too many"])
    assert "The limit of 900 labels is reached." in text(response)
    assert Label.objects.count() == 899 and label_names(campaign) == []


def test_choosing_no_label_says_so(browser, campaign_factory):
    campaign = campaign_factory()
    response = picker(browser, "add", [campaign.pk], apply="1")
    assert "Choose at least one label to add or type a new one." in text(response)
    response = picker(browser, "remove", [campaign.pk], apply="1")
    assert "Choose at least one label to remove." in text(response)


def test_an_unknown_label_id_changes_nothing(browser, campaign_factory, label_factory):
    campaign = campaign_factory()
    response = picker(browser, "add", [campaign.pk], apply="1", label=["abc"])
    assert "Unknown label abc." in text(response)
    response = picker(browser, "add", [campaign.pk], apply="1", label=[987654])
    assert "Label 987654 does not exist." in text(response)
    assert label_names(campaign) == []


def test_when_no_selected_campaign_can_take_labels_nothing_is_created(browser, campaign_factory):
    archived = campaign_factory(status=Status.COMPLETED, archived_at=timezone.now())
    running = campaign_factory(status=Status.RUNNING)
    response = picker(browser, "add", [archived.pk, running.pk])
    page = text(response)
    assert "2 will be skipped" not in page  # each reason is counted on its own line
    assert "1 will be skipped: Running: only What can change." in page
    assert re.search(r"<button type=\"submit\" disabled>Add labels", response.content.decode())

    response = picker(browser, "add", [archived.pk, running.pk], apply="1", new=["Promo"])
    assert "None of the selected campaigns can change labels now" in text(response)
    assert not Label.objects.exists()


def test_selected_campaigns_that_do_not_exist_send_the_user_back(browser):
    response = browser.post(LABELS, {"op": "add", "ids": [424242], "next": LIST}, follow=True)
    assert "None of the selected campaigns exist any more." in text(response)
    response = browser.post(LABELS, {"op": "add", "next": LIST}, follow=True)
    assert "This field is required." in text(response) or "Select at least one" in text(response)


def test_the_remove_picker_lists_only_labels_on_the_selection(
    browser, campaign_factory, label_factory
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    label_factory(name="Unused")
    first, second = campaign_factory(name="First"), campaign_factory(name="Second")
    first.labels.add(onboarding, reengage)
    second.labels.add(onboarding)
    response = picker(browser, "remove", [first.pk, second.pk])
    assert [(o.name, o.on) for o in response.context["options"]] == [
        ("Onboarding", 2),
        ("Reengage", 1),
    ]
    assert 'name="new"' not in response.content.decode()

    response = picker(browser, "remove", [first.pk, second.pk], apply="1", label=[onboarding.pk])
    assert response["HX-Redirect"] == LIST
    assert label_names(first) == ["Reengage"] and label_names(second) == []
    page = text(browser.get(LIST))
    assert "Remove labels (Onboarding): 2 done" in page
    timeline = text(browser.get(reverse("campaigns:detail", args=[second.pk])))
    assert "Labels: removed Onboarding" in timeline


def test_removing_never_creates_labels(browser, campaign_factory, label_factory):
    label = label_factory(name="Onboarding")
    campaign = campaign_factory()
    campaign.labels.add(label)
    picker(browser, "remove", [campaign.pk], apply="1", label=[label.pk], new=["Sneaky"])
    assert list(Label.objects.values_list("name", flat=True)) == ["Onboarding"]
    assert label_names(campaign) == []


def test_outsiders_cannot_open_the_picker_or_apply(client_for, outsider, campaign_factory):
    campaign = campaign_factory()
    client = client_for(outsider)
    response = client.post(LABELS, {"op": "add", "ids": [campaign.pk], "apply": "1", "new": "X"})
    assert response.status_code == 403
    assert not Label.objects.exists()


def test_an_approver_may_apply_labels_too(client_for, approver, campaign_factory):
    campaign = campaign_factory()
    response = picker(client_for(approver), "add", [campaign.pk], apply="1", new=["Reviewed"])
    assert response["HX-Redirect"] == LIST
    assert label_names(campaign) == ["Reviewed"]


# ---------------------------------------------------------------------------------------------
# Labels in the campaign editor, and in the timeline
# ---------------------------------------------------------------------------------------------
def test_the_editor_creates_new_labels_by_name_and_adds_them(browser, label_factory):
    existing = label_factory(name="Onboarding")
    response = browser.post(
        CREATE,
        form_data(labels=[existing.pk], new_labels="Score Updates, onboarding,  Reengage "),
        follow=True,
    )
    campaign = Campaign.objects.get(name="Weekly digest")
    assert label_names(campaign) == ["Onboarding", "Reengage", "Score Updates"]
    assert Label.objects.count() == 3
    assert "was created as a draft" in text(response)


@pytest.mark.parametrize(
    ("new_labels", "error"),
    [
        ("Good, Bad!", "“Bad!”: Label names cannot contain !."),
        ("<b>", "“<b>”: Label names cannot start with or contain > <."),
        ("x" * 65, "At most 64 characters (65 given)."),
    ],
)
def test_bad_new_label_names_are_errors_on_the_field_and_nothing_is_saved(
    new_labels, error, browser
):
    response = browser.post(CREATE, form_data(new_labels=new_labels))
    assert response.status_code == 200
    errors = response.context["form"].errors["new_labels"]
    assert any(error in e for e in errors)
    assert Campaign.objects.count() == 0 and Label.objects.count() == 0


def test_new_labels_are_not_kept_when_the_campaign_is_refused(browser):
    response = browser.post(
        CREATE, form_data(new_labels="Promo", what=json.dumps({"message": {"title": "x"}}))
    )
    assert "what.message.body: This field is required." in response.context["form"].errors["what"]
    assert Campaign.objects.count() == 0 and Label.objects.count() == 0


def test_the_901st_label_from_the_editor_is_an_error_on_the_field(browser):
    Label.objects.bulk_create(Label(name=f"L{i}") for i in range(900))
    response = browser.post(CREATE, form_data(new_labels="One too many"))
    assert "The limit of 900 labels is reached." in response.context["form"].errors["new_labels"]
    assert Campaign.objects.count() == 0


def test_editing_adds_new_labels_and_the_timeline_names_them(
    browser, campaign_factory, label_factory
):
    reengage = label_factory(name="Reengage")
    campaign = campaign_factory(name="Digest", status=Status.DRAFT)
    campaign.labels.add(reengage)
    url = reverse("campaigns:edit", args=[campaign.pk])
    data = form_data(
        name="Digest",
        what=json.dumps(campaign.what),
        when=json.dumps(campaign.when),
        who=json.dumps(campaign.who),
        new_labels="Onboarding",
    )
    response = browser.post(url, data, follow=True)
    assert "Your changes were saved." in text(response)
    assert label_names(campaign) == ["Onboarding"]
    assert "Labels: added Onboarding; removed Reengage" in text(response)


def test_the_editor_locks_new_labels_with_the_labels(browser, campaign_factory):
    campaign = campaign_factory(status=Status.RUNNING)
    url = reverse("campaigns:edit", args=[campaign.pk])
    form = browser.get(url).context["form"]
    assert form.fields["new_labels"].disabled
    browser.post(url, form_data(what=json.dumps(push_what("New")), new_labels="Sneaky"))
    assert not Label.objects.exists() and label_names(campaign) == []


def test_the_timeline_keeps_label_names_as_they_were(browser, marketer, campaign_factory):
    campaign = campaign_factory()
    CampaignAudit.objects.create(
        campaign=campaign,
        actor=marketer,
        action=Action.EDIT,
        from_status="draft",
        to_status="draft",
        changes={
            "labels": {
                "old": [1],
                "new": [2],
                "added": [{"id": 2, "name": "Onboarding"}],
                "removed": [{"id": 1, "name": "Reengage"}],
            }
        },
    )
    CampaignAudit.objects.create(
        campaign=campaign,
        action=Action.EDIT,
        changes={"labels": {"removed": [{"id": 3, "name": "Promo"}], "reason": "label deleted"}},
    )
    CampaignAudit.objects.create(
        campaign=campaign, action=Action.EDIT, changes={"labels": {"old": [1], "new": []}}
    )
    page = text(browser.get(reverse("campaigns:detail", args=[campaign.pk])))
    assert "Labels: added Onboarding; removed Reengage" in page
    assert "Labels: removed Promo (label deleted)" in page
    assert "Labels changed" in page


def test_detail_names_the_saved_segments_an_audience_uses(browser, marketer, campaign_factory):
    from audience.models import Segment

    segment = Segment.objects.create(
        name="Big spenders", definition=examples.example_who(), created_by=marketer
    )
    who = {
        "type": "group",
        "match": "any",
        "conditions": [
            {"type": "segment", "segment_id": segment.pk},
            {"type": "segment", "segment_id": segment.pk + 1000},
        ],
    }
    campaign = campaign_factory(name="Thank-you note", who=who)

    page = text(browser.get(reverse("campaigns:detail", args=[campaign.pk])))

    assert "In the segment “Big spenders”" in page
    assert f"In the segment “#{segment.pk + 1000} (deleted)”" in page


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (
            {
                "start_at": "2026-12-01T09:00",
                "frequency": "monthly",
                "month_weekdays": ["1mo", "-1fr"],
                "send_time": "09:00",
                "end_after_runs": 6,
            },
            "Every month on the first Monday, last Friday at 09:00 (UTC)",
        ),
        (
            {
                "start_at": "2026-12-01T09:00",
                "frequency": "daily",
                "send_time": "09:00",
                "end_after_runs": 3,
                "dnd": "drop",
                "ignore_frequency_caps": True,
            },
            "Users in quiet hours are skipped. Frequency caps do not apply.",
        ),
    ],
)
def test_the_schedule_sentence_names_month_weekdays_and_delivery_preferences(
    when, expected
) -> None:
    from campaigns.models import Campaign
    from campaigns.templatetags.herald import describe_when

    assert expected in describe_when(Campaign(delivery=Delivery.RECURRING, when=when))
