"""The campaign pages through Django's test client: who may see them, what they show and do."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import examples
from campaigns.choices import Action, CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign, CampaignAudit
from campaigns.validation import validate_campaign, validate_what, validate_when, validate_who
from tests.factories import push_what

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:list")
CREATE = reverse("campaigns:create")
BULK = reverse("campaigns:bulk")
EXAMPLE = reverse("campaigns:example")


@pytest.fixture
def client_for():
    def make(user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


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

    response = browser.get(LIST, {"archived": "1"})
    page = text(response)
    assert "Live one" in page and "Old one" in page
    row = re.search(r'<tr class="is-archived"[^>]*>.*?</tr>', response.content.decode(), re.S)
    assert row and "Old one" in row.group(0) and "Archived" in row.group(0)


def test_quick_filters_count_each_status_and_filter_the_rows(browser, campaign_factory):
    for _ in range(3):
        campaign_factory(status=Status.RUNNING)
    campaign_factory(name="The draft", status=Status.DRAFT)
    campaign_factory(status=Status.COMPLETED, archived_at=timezone.now())  # not counted by default

    response = browser.get(LIST)
    counts = {label: count for _, label, count, _ in response.context["quick_filters"]}
    assert counts["All"] == 4 and counts["Running"] == 3 and counts["Draft"] == 1
    assert counts["Completed"] == 0

    response = browser.get(LIST, {"status": "draft"})
    assert [c.name for c in response.context["page"]] == ["The draft"]
    assert 'aria-current="true">Draft' in response.content.decode()


def test_search_finds_campaigns_by_name_and_keeps_the_filters_in_the_links(
    browser, campaign_factory
):
    campaign_factory(name="Diwali push", status=Status.RUNNING)
    campaign_factory(name="Summer email", status=Status.RUNNING)
    response = browser.get(LIST, {"q": "diwali", "status": "running"})
    assert [c.name for c in response.context["page"]] == ["Diwali push"]
    # The quick filters keep the search, so every view of the page can be bookmarked.
    assert (
        "?status=draft&amp;q=diwali" in response.content.decode()
        or "?q=diwali&amp;status=draft" in response.content.decode()
    )


def test_the_list_pages_fifty_rows_at_a_time(browser, campaign_factory):
    for _ in range(51):
        campaign_factory()
    first = browser.get(LIST)
    assert len(first.context["page"]) == 50
    second = browser.get(LIST, {"page": 2})
    assert len(second.context["page"]) == 1
    assert 'rel="prev"' in second.content.decode()


@pytest.mark.parametrize("rows", [5, 50])
def test_list_query_count_does_not_grow_with_rows(
    rows, browser, campaign_factory, label_factory, django_assert_max_num_queries
):
    labels = [label_factory() for _ in range(3)]
    for _ in range(rows):
        campaign_factory().labels.set(labels)
    # Session, user, roles, page count, status counts (one GROUP BY), the label filter's options,
    # the page's rows with their creators, and the rows' labels: the same eight at any size.
    with django_assert_max_num_queries(8):
        response = browser.get(LIST)
    assert len(response.context["page"]) == rows


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
    assert "cannot be published" in text(response)

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
    assert set(form.locks) == {"name", "labels", "who", "when", "channel", "type", "delivery"}
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
