"""GET /api/v1/campaigns/ and /counts/: filters, ordering, pagination, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.choices import Status
from campaigns.models import Campaign
from tests.factories import UserFactory

LIST = "/api/v1/campaigns/"


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_list_is_newest_activity_first(api, campaign_factory):
    now = timezone.now()
    campaign_factory(name="Old", last_active_at=now - dt.timedelta(days=2))
    campaign_factory(name="New", last_active_at=now)
    campaign_factory(name="Middle", last_active_at=now - dt.timedelta(days=1))
    assert names(api.get(LIST)) == ["New", "Middle", "Old"]


def test_list_rows_carry_labels_creator_and_what_can_be_done(
    api, campaign_factory, label_factory, marketer
):
    campaign = campaign_factory(name="Digest", status=Status.RUNNING)
    campaign.labels.add(label_factory(name="Onboarding"))
    row = api.get(LIST).json()["results"][0]
    assert row["labels"] == [{"id": campaign.labels.get().pk, "name": "Onboarding"}]
    assert row["created_by"] == {"id": marketer.pk, "email": marketer.email}
    assert row["status"] == "running"
    assert row["status_display"] == "Running"
    assert row["actions"]["stop"] == {"allowed": True, "reason": ""}
    assert row["actions"]["archive"]["allowed"] is False
    assert row["editable"]["what"] == {"editable": True, "reason": ""}
    assert row["editable"]["who"]["editable"] is False
    assert "who" not in row and "what" not in row and "when" not in row


def test_archived_campaigns_are_hidden_unless_asked_for(api, campaign_factory):
    campaign_factory(name="Live")
    campaign_factory(name="Archived", archived_at=timezone.now())
    assert names(api.get(LIST)) == ["Live"]
    assert names(api.get(LIST, {"archived": "false"})) == ["Live"]
    assert names(api.get(LIST, {"archived": "true"})) == ["Archived"]
    assert sorted(names(api.get(LIST, {"archived": "all"}))) == ["Archived", "Live"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "running"}, ["Running push"]),
        ({"status": ["running", "draft"]}, ["Draft email", "Running push"]),
        ({"status": "running,draft"}, ["Draft email", "Running push"]),
        ({"channel": "email"}, ["Draft email"]),
        ({"channel": ["email", "sms"]}, ["Draft email", "Stopped sms"]),
        ({"type": "ab_test"}, ["Stopped sms"]),
        ({"delivery": "recurring"}, ["Running push"]),
        ({"q": "PUSH"}, ["Running push"]),
    ],
)
def test_list_filters_by_each_field(api, campaign_factory, query, expected):
    campaign_factory(name="Running push", status=Status.RUNNING, delivery="recurring")
    campaign_factory(name="Draft email", channel="email")
    campaign_factory(name="Stopped sms", channel="sms", type="ab_test", status=Status.STOPPED)
    assert sorted(names(api.get(LIST, query))) == expected


def test_list_filters_by_creator_id_or_email(api, campaign_factory, marketer):
    omar = UserFactory(username="omar@example.com", roles=["Marketer"])
    campaign_factory(name="Maya's")
    campaign_factory(name="Omar's", created_by=omar)
    campaign_factory(name="Someone's", created_by=UserFactory(roles=["Marketer"]))
    assert names(api.get(LIST, {"created_by": omar.pk})) == ["Omar's"]
    assert names(api.get(LIST, {"created_by": "OMAR@example.com"})) == ["Omar's"]
    both = api.get(LIST, {"created_by": [str(omar.pk), marketer.email]})
    assert sorted(names(both)) == ["Maya's", "Omar's"]


def test_list_filters_by_any_of_the_labels_without_repeating_rows(
    api, campaign_factory, label_factory
):
    onboarding, reengage, other = (label_factory(name=n) for n in ("Onboarding", "Reengage", "X"))
    both = campaign_factory(name="Both")
    both.labels.add(onboarding, reengage)
    campaign_factory(name="One").labels.add(reengage)
    campaign_factory(name="Other").labels.add(other)
    campaign_factory(name="None")
    response = api.get(LIST, {"label": [onboarding.pk, reengage.pk]})
    assert sorted(names(response)) == ["Both", "One"]


def test_list_filters_by_date_ranges(api, campaign_factory):
    now = timezone.now()
    old = campaign_factory(name="Old", last_active_at=now - dt.timedelta(days=30))
    Campaign.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=40))
    campaign_factory(name="Recent", last_active_at=now)
    since = (now - dt.timedelta(days=5)).date().isoformat()
    until = (now - dt.timedelta(days=20)).date().isoformat()
    assert names(api.get(LIST, {"last_active_after": since})) == ["Recent"]
    assert names(api.get(LIST, {"last_active_before": until})) == ["Old"]
    assert names(api.get(LIST, {"created_before": until})) == ["Old"]
    assert names(api.get(LIST, {"created_after": since})) == ["Recent"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "runing"}, "status"),
        ({"status": "draft,paused"}, "status"),
        ({"channel": "fax"}, "channel"),
        ({"type": "poll"}, "type"),
        ({"delivery": "someday"}, "delivery"),
        ({"archived": "maybe"}, "archived"),
        ({"label": "999999"}, "label"),
        ({"label": "abc"}, "label"),
        ({"created_by": "not an email"}, "created_by"),
        ({"created_after": "yesterday"}, "created"),
        ({"ordering": "status"}, "ordering"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_unknown_filter_values_are_a_400_naming_the_parameter(api, campaign_factory, query, field):
    campaign_factory()
    response = api.get(LIST, query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]


@pytest.mark.parametrize("ordering", ["name", "-name"])
def test_list_orders_by_name_and_pages_through_ties(api, campaign_factory, ordering):
    for name in ["b", "a", "c", "a", "b", "a"]:
        campaign_factory(name=name)
    seen: list[str] = []
    url: str | None = f"{LIST}?ordering={ordering}&page_size=2"
    while url:
        body = api.get(url).json()
        seen += [row["name"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(["b", "a", "c", "a", "b", "a"], reverse=ordering.startswith("-"))


def test_cursor_pages_cover_every_campaign_once(api, campaign_factory):
    now = timezone.now()
    ids = {campaign_factory(last_active_at=now - dt.timedelta(minutes=i % 3)).pk for i in range(7)}
    seen: list[int] = []
    url: str | None = f"{LIST}?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(ids)


def test_created_at_ordering_is_oldest_first(api, campaign_factory):
    first = campaign_factory(name="First")
    campaign_factory(name="Second")
    Campaign.objects.filter(pk=first.pk).update(last_active_at=timezone.now())
    assert names(api.get(LIST, {"ordering": "created_at"})) == ["First", "Second"]
    assert names(api.get(LIST, {"ordering": "-created_at"})) == ["Second", "First"]


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_query_count_does_not_grow_with_page_size(
    token_client,
    marketer,
    campaign_factory,
    label_factory,
    django_assert_max_num_queries,
    page_size,
):
    labels = [label_factory() for _ in range(3)]
    creators = [UserFactory(roles=["Marketer"]) for _ in range(5)]
    for i in range(55):
        campaign_factory(created_by=creators[i % 5]).labels.add(*labels[: i % 3 + 1])
    client = token_client(marketer)
    # The token, the roles, the label filter's check that its ids exist, the page, its labels.
    with django_assert_max_num_queries(5):
        response = client.get(LIST, {"page_size": page_size, "label": labels[0].pk})
    assert len(response.json()["results"]) == page_size


def test_outsider_sees_no_campaigns(api_for, outsider, campaign_factory):
    campaign_factory()
    assert api_for(outsider).get(LIST).status_code == 403


def test_counts_per_status_leave_archived_apart(api, campaign_factory):
    campaign_factory(status=Status.RUNNING)
    campaign_factory(status=Status.RUNNING)
    campaign_factory(status=Status.DRAFT)
    campaign_factory(status=Status.DRAFT, archived_at=timezone.now())
    campaign_factory(status=Status.STOPPED, archived_at=timezone.now())
    body = api.get(f"{LIST}counts/").json()
    assert body["statuses"] == {
        "draft": 1,
        "scheduled": 0,
        "awaiting_next_run": 0,
        "running": 2,
        "pending_approval": 0,
        "rejected": 0,
        "stopped": 0,
        "completed": 0,
    }
    assert body["archived"] == 2


def test_counts_take_one_query(token_client, marketer, campaign_factory, django_assert_num_queries):
    campaign_factory()
    client = token_client(marketer)
    with django_assert_num_queries(3):  # token + roles + the GROUP BY
        assert client.get(f"{LIST}counts/").status_code == 200
