"""Settings > Setup > Labels through Django's test client: who may use it, the table, search and
sort, create, rename, delete, the CSV export, and the live name check."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.choices import Status
from campaigns.models import CampaignAudit
from labels import rules
from labels.models import Label

pytestmark = pytest.mark.django_db

LIST = reverse("labels:list")
CREATE = reverse("labels:create")
EXPORT = reverse("labels:export")
CHECK = reverse("labels:check")
HTMX = {"HTTP_HX_REQUEST": "true"}


def rename_url(label: Label) -> str:
    return reverse("labels:rename", args=[label.pk])


def delete_url(label: Label) -> str:
    return reverse("labels:delete", args=[label.pk])


INLINE = re.compile(r"</?(a|strong|em|b|span|small|time|code)\b[^>]*>|<wbr>")


def text(response) -> str:
    """The page as a user reads it: tags dropped (inline ones without a gap), entities decoded,
    whitespace squeezed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = INLINE.sub("", html)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def names_in_table(response) -> list[str]:
    return [label.name for label in response.context["rows"]]


@pytest.fixture
def browser(client_for, admin):
    """The admin's signed-in client."""
    return client_for(admin)


# ---------------------------------------------------------------------------------------------
# Who may use the page
# ---------------------------------------------------------------------------------------------
def test_admins_see_the_labels_page_and_its_nav_entry(browser, client_for, marketer):
    response = browser.get(LIST)
    assert response.status_code == 200
    assert f'href="{LIST}"' in response.content.decode()
    assert "Settings" in text(response)
    # Marketers neither see the entry nor reach the page.
    assert (
        f'href="{LIST}"' not in client_for(marketer).get(reverse("campaigns:list")).content.decode()
    )


@pytest.mark.parametrize("who", ["marketer", "approver"])
def test_other_roles_get_the_403_page_and_change_nothing(who, request, client_for, label_factory):
    label = label_factory(name="Onboarding")
    client = client_for(request.getfixturevalue(who))
    for url in (LIST, EXPORT, rename_url(label), delete_url(label)):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Your role does not allow this" in text(response)
    assert client.post(CREATE, {"name": "Reengage"}).status_code == 403
    assert client.post(rename_url(label), {"name": "Renamed"}).status_code == 403
    assert client.post(delete_url(label)).status_code == 403
    assert list(Label.objects.values_list("name", flat=True)) == ["Onboarding"]


def test_a_user_without_a_role_gets_the_no_role_page(client_for, outsider, label_factory):
    label = label_factory()
    client = client_for(outsider)
    for url in (LIST, EXPORT, CHECK, delete_url(label)):
        response = client.get(url)
        assert response.status_code == 403
        assert "You do not have a role in Herald yet" in text(response)
    assert client.post(delete_url(label)).status_code == 403
    assert Label.objects.filter(pk=label.pk).exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client_for):
    response = client_for(None).get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_posts_without_a_csrf_token_are_refused(admin, label_factory):
    label = label_factory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.post(CREATE, {"name": "Reengage"}).status_code == 403
    assert client.post(delete_url(label)).status_code == 403
    assert Label.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
def test_the_table_shows_each_label_with_its_campaigns_creator_and_date(
    browser, admin, campaign_factory, label_factory
):
    onboarding = label_factory(name="Onboarding", created_by=admin)
    label_factory(name="Score Updates")
    for status in (Status.DRAFT, Status.RUNNING):
        campaign_factory(status=status).labels.add(onboarding)
    campaign_factory(status=Status.COMPLETED, archived_at=timezone.now()).labels.add(onboarding)

    response = browser.get(LIST)
    page = text(response)
    assert "2 of 900 labels" in page
    row = page[page.index("Onboarding") :]
    # Archived campaigns count: the label is on them too.
    today = timezone.localdate().strftime("%-d %b %Y")
    assert row.startswith(f"Onboarding 3 ada@example.com {today} Rename Delete")
    assert "Score Updates 0 — " in page
    # The count links to those campaigns on All Campaigns.
    assert f"?label={onboarding.pk}&amp;archived=1" in response.content.decode()


def test_search_narrows_the_table_and_says_how_many_match(browser, label_factory):
    for name in ("Onboarding", "Onboarding EU", "Reengage"):
        label_factory(name=name)
    response = browser.get(LIST, {"q": "onboard"})
    assert names_in_table(response) == ["Onboarding", "Onboarding EU"]
    assert "2 of 3 match “onboard”" in text(response)
    assert "No label matches “nothing”" in text(browser.get(LIST, {"q": "nothing"}))


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alpha", "Beta", "Gamma"]),
        ("-name", ["Gamma", "Beta", "Alpha"]),
        ("campaigns", ["Gamma", "Alpha", "Beta"]),
        ("-campaigns", ["Beta", "Alpha", "Gamma"]),
        ("created", ["Beta", "Gamma", "Alpha"]),
        ("-created", ["Alpha", "Gamma", "Beta"]),
        ("nonsense", ["Alpha", "Beta", "Gamma"]),
    ],
)
def test_sorting_by_each_column_both_ways(sort, expected, browser, campaign_factory, label_factory):
    now = timezone.now()
    made = {}
    for name, days_ago, uses in (("Beta", 3, 2), ("Gamma", 2, 0), ("Alpha", 1, 1)):
        made[name] = label_factory(name=name)
        Label.objects.filter(pk=made[name].pk).update(created_at=now - dt.timedelta(days=days_ago))
        for _ in range(uses):
            campaign_factory().labels.add(made[name])
    response = browser.get(LIST, {"sort": sort})
    assert names_in_table(response) == expected


def test_column_headings_link_to_the_other_direction_and_keep_the_search(browser, label_factory):
    label_factory(name="Onboarding")
    response = browser.get(LIST, {"q": "on", "sort": "campaigns"})
    html = response.content.decode()
    assert 'aria-sort="ascending"' in html
    assert f'href="{LIST}?q=on&amp;sort=-campaigns"' in html  # the sorted column flips
    assert f'href="{LIST}?q=on"' in html  # name, A to Z, is the default
    assert f'href="{LIST}?q=on&amp;sort=-created"' in html  # newest first on a first click


@pytest.mark.parametrize("count", [5, 900])
def test_the_page_costs_the_same_few_queries_at_any_size(
    count, browser, admin, campaign_factory, label_factory, django_assert_max_num_queries
):
    Label.objects.bulk_create(Label(name=f"Label {i:03}", created_by=admin) for i in range(count))
    campaign = campaign_factory()
    campaign.labels.set(Label.objects.all()[:3])
    # Session, user, roles, and the labels with their counts and creators in one query.
    with django_assert_max_num_queries(4):
        response = browser.get(LIST)
    assert len(response.context["rows"]) == count
    # A search adds one COUNT for the "n of total" line.
    with django_assert_max_num_queries(5):
        browser.get(LIST, {"q": "Label 00"})


def test_at_the_limit_the_create_form_is_disabled_and_says_why(browser):
    Label.objects.bulk_create(Label(name=f"L{i}") for i in range(rules.MAX_LABELS))
    page = text(browser.get(LIST))
    assert "900 of 900 labels" in page
    assert "The limit of 900 labels is reached: delete a label to create another." in page


# ---------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------
def test_creating_a_label_adds_it_and_says_so(browser, admin):
    response = browser.post(CREATE, {"name": "  Score Updates ", "next": LIST + "?q=score"})
    assert response["Location"] == LIST + "?q=score"
    label = Label.objects.get()
    assert label.name == "Score Updates" and label.created_by == admin
    assert "Created the label “Score Updates”." in text(browser.get(LIST))


BAD_NAMES = [
    *[pytest.param(f"{s}Promo", id=f"starts-with-{s!r}") for s in rules.FORBIDDEN_SYMBOLS],
    *[pytest.param(f"Pro{s}mo", id=f"contains-{s!r}") for s in rules.FORBIDDEN_SYMBOLS],
    pytest.param("", id="empty"),
    pytest.param("   ", id="whitespace"),
    pytest.param("x" * 65, id="too-long"),
    pytest.param("onboarding", id="case-duplicate"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_name_is_refused_on_the_form_and_nothing_is_created(name, browser, label_factory):
    label_factory(name="Onboarding")
    response = browser.post(CREATE, {"name": name})
    assert response.status_code == 200
    errors = response.context["create_form"].errors["name"]
    assert errors
    assert errors[0] in text(response)
    assert 'aria-invalid="true"' in response.content.decode()
    assert list(Label.objects.values_list("name", flat=True)) == ["Onboarding"]


def test_a_forbidden_symbol_is_named_in_the_message(browser):
    response = browser.post(CREATE, {"name": "Sale 50%"})
    assert "Label names cannot contain %." in text(response)
    response = browser.post(CREATE, {"name": "!Sale"})
    assert "Label names cannot start with or contain !." in text(response)


def test_the_901st_label_is_refused(browser):
    Label.objects.bulk_create(Label(name=f"L{i}") for i in range(rules.MAX_LABELS))
    response = browser.post(CREATE, {"name": "One too many"})
    assert "The limit of 900 labels is reached." in text(response)
    assert Label.objects.count() == rules.MAX_LABELS


# ---------------------------------------------------------------------------------------------
# Rename
# ---------------------------------------------------------------------------------------------
def test_rename_swaps_the_row_into_a_form_and_back_with_htmx(browser, label_factory):
    label = label_factory(name="Onboarding")
    response = browser.get(rename_url(label), **HTMX)
    html = response.content.decode()
    assert "<html" not in html and html.strip().startswith("<tr")
    assert 'value="Onboarding"' in html and f'hx-post="{rename_url(label)}"' in html

    response = browser.post(rename_url(label), {"name": "Onboarding 2.0"}, **HTMX)
    html = response.content.decode()
    assert html.strip().startswith("<tr") and "Onboarding 2.0" in html
    assert "Renamed from “Onboarding”." in text(response)
    label.refresh_from_db()
    assert label.name == "Onboarding 2.0"

    # Cancel brings the row back as it was.
    response = browser.get(reverse("labels:row", args=[label.pk]), **HTMX)
    assert "Rename" in text(response) and "<form" not in response.content.decode()


def test_rename_shows_every_campaign_the_new_name(browser, campaign_factory, label_factory):
    label = label_factory(name="Onboarding")
    campaign = campaign_factory(name="Welcome")
    campaign.labels.add(label)
    browser.post(rename_url(label), {"name": "Welcome flow"})
    response = browser.get(reverse("campaigns:list"))
    [row] = response.context["page"]
    assert [label.name for label in row.labels.all()] == ["Welcome flow"]
    assert '<span class="chip">Welcome flow</span>' in response.content.decode()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Reengage", "A label with this name already exists"),
        ("REENGAGE", "A label with this name already exists"),
        ("Promo!", "Label names cannot contain !."),
        (" ", "A label needs a name."),
    ],
)
def test_a_refused_rename_shows_the_error_on_the_row_and_changes_nothing(
    name, error, browser, label_factory
):
    label = label_factory(name="Onboarding")
    label_factory(name="Reengage")
    response = browser.post(rename_url(label), {"name": name}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.strip().startswith("<tr")
    assert error in text(response) and 'role="alert"' in html
    label.refresh_from_db()
    assert label.name == "Onboarding"


def test_rename_without_javascript_edits_the_row_in_the_page_and_keeps_the_list_state(
    browser, label_factory
):
    label = label_factory(name="Onboarding")
    label_factory(name="Reengage")
    back = LIST + "?q=o&sort=-name"
    response = browser.get(rename_url(label), {"next": back})
    assert response.context["editing"] == label.pk
    assert response.context["sort"] == "-name" and response.context["q"] == "o"

    response = browser.post(rename_url(label), {"name": "Reengage", "next": back})
    assert response.status_code == 200 and response.context["editing"] == label.pk
    assert "A label with this name already exists" in text(response)

    response = browser.post(rename_url(label), {"name": "Welcome", "next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    assert "Renamed “Onboarding” to “Welcome”." in text(response)


def test_renaming_a_label_deleted_meanwhile_says_so(browser, label_factory):
    label = label_factory(name="Gone")
    pk = label.pk
    label.delete()
    response = browser.post(reverse("labels:rename", args=[pk]), {"name": "Back"}, follow=True)
    assert f"Label {pk} does not exist" in text(response)
    response = browser.get(reverse("labels:rename", args=[pk]), **HTMX)
    assert response["HX-Redirect"] == LIST
    assert not Label.objects.exists()


# ---------------------------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------------------------
def test_delete_asks_first_and_says_how_many_campaigns_use_the_label(
    browser, campaign_factory, label_factory
):
    label = label_factory(name="Onboarding")
    for _ in range(12):
        campaign_factory().labels.add(label)
    response = browser.get(delete_url(label), {"next": LIST + "?q=on"}, **HTMX)
    page = text(response)
    assert "<html" not in response.content.decode()
    assert "Delete “Onboarding”? It is on 12 campaigns; it will be removed from them." in page
    assert 'name="next" value="/settings/labels/?q=on"' in response.content.decode()
    assert Label.objects.filter(pk=label.pk).exists()  # asking is not doing

    lonely = label_factory(name="Lonely")
    assert "It is on no campaigns." in text(browser.get(delete_url(lonely)))
    campaign_factory().labels.add(lonely)
    assert "It is on 1 campaign; it will be removed from it." in text(
        browser.get(delete_url(lonely))
    )


def test_deleting_takes_the_label_off_its_campaigns_and_says_how_many(
    browser, campaign_factory, label_factory
):
    label = label_factory(name="Onboarding")
    campaigns = [campaign_factory() for _ in range(3)]
    for campaign in campaigns:
        campaign.labels.add(label)
    response = browser.post(delete_url(label), {"next": LIST + "?q=x"}, follow=True)
    assert response.redirect_chain[-1][0] == LIST + "?q=x"
    assert "Deleted the label “Onboarding”; it was removed from 3 campaigns." in text(response)
    assert not Label.objects.exists()
    audits = CampaignAudit.objects.filter(campaign__in=campaigns)
    assert audits.count() == 3
    # Each campaign's timeline names the label and why it went.
    page = text(browser.get(reverse("campaigns:detail", args=[campaigns[0].pk])))
    assert "Labels: removed Onboarding (label deleted)" in page


def test_deleting_a_label_no_campaign_carries(browser, label_factory):
    label = label_factory(name="Unused")
    response = browser.post(delete_url(label), follow=True)
    assert "Deleted the label “Unused”; no campaign carried it." in text(response)


def test_deleting_a_label_that_is_already_gone_is_a_message_not_an_error(browser):
    response = browser.post(reverse("labels:delete", args=[424242]), follow=True)
    assert response.status_code == 200
    assert "Label 424242 does not exist" in text(response)


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------
def test_export_streams_every_label_as_a_csv_attachment(
    browser, admin, campaign_factory, label_factory
):
    onboarding = label_factory(name="Onboarding", created_by=admin)
    label_factory(name="=HYPERLINK(1)")
    campaign_factory().labels.add(onboarding)

    response = browser.get(EXPORT)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="labels-{today}.csv"'
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["name", "campaigns", "created_by", "created_at"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Onboarding"][1:3] == ["1", "ada@example.com"]
    # A formula is neutralised, not run by the spreadsheet.
    assert "'=HYPERLINK(1)" in by_name


def test_export_of_no_labels_is_just_the_header(browser):
    body = b"".join(browser.get(EXPORT).streaming_content).decode("utf-8")
    assert body == "\ufeffname,campaigns,created_by,created_at\r\n"


# ---------------------------------------------------------------------------------------------
# The live name check
# ---------------------------------------------------------------------------------------------
def check(client, name: str, **extra: str) -> str:
    response = client.get(CHECK, {"name": name, **extra}, **HTMX)
    assert response.status_code == 200
    return text(response)


def test_the_check_names_each_broken_rule_as_the_name_is_typed(browser):
    assert check(browser, "Promo!") == "Label names cannot contain !."
    assert check(browser, "<b>") == "Label names cannot start with or contain > <."
    assert "At most 64 characters (70 given)." in check(browser, "x" * 70)
    assert check(browser, "") == ""


def test_the_check_says_a_taken_name_is_taken_for_create_and_rename(browser, label_factory):
    label = label_factory(name="Onboarding")
    assert "“Onboarding” already exists" in check(browser, "ONBOARDING", purpose="create")
    # Renaming a label to itself (another case) is not a clash.
    assert check(browser, "ONBOARDING", purpose="rename", label=str(label.pk)) == ""


def test_the_picker_check_says_what_will_happen_to_the_name(client_for, marketer, label_factory):
    label_factory(name="Onboarding")
    client = client_for(marketer)  # Marketers apply labels, so they may check names
    page = check(client, "onboarding", purpose="apply")
    assert "“Onboarding” exists: that label will be used." in page
    page = check(client, "Promo", purpose="apply")
    assert "“Promo” is new: it will be created." in page
    assert "Add “Promo” to the list" in page


def test_the_editor_check_takes_comma_separated_names(browser, label_factory):
    label_factory(name="Onboarding")
    page = check(browser, "Promo, onboarding, Sale!", purpose="list")
    assert "“Promo” will be created." in page
    assert "“onboarding”: the existing label “Onboarding” will be used." in page
    assert "“Sale!”: Label names cannot contain !." in page


def test_the_check_warns_when_new_names_would_pass_the_limit(browser):
    Label.objects.bulk_create(Label(name=f"L{i}") for i in range(rules.MAX_LABELS - 1))
    assert "only 1 more can be created" in check(browser, "A, B", purpose="list")
    assert check(browser, "A", purpose="create") == ""
