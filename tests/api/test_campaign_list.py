"""GET /api/v1/campaigns/ and /counts/: filters, ordering, pagination, query counts."""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse

import pytest
from django.utils import timezone

from campaigns.choices import Status
from campaigns.models import Campaign
from tests.campaigns.test_filters import BAD
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
    assert row["actions"]["stop"] == {"allowed": True, "reason": "", "code": ""}
    assert row["actions"]["archive"]["allowed"] is False
    assert row["live_status"] == ""
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
        ({"created_after": "yesterday"}, "created_after"),
        ({"last_active_before": "2026-13-01"}, "last_active_before"),
        ({"ordering": "priority"}, "ordering"),
        ({"created_by": "ghost@example.com"}, "created_by"),
        ({"channel_group": "web_popup"}, "channel_group"),
        ({"quick": "everything"}, "quick"),
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


@pytest.mark.parametrize(("query", "field"), [(q, f) for q, f in BAD if q != "ordering=updated_at"])
@pytest.mark.parametrize("endpoint", [LIST, f"{LIST}counts/"])
def test_every_bad_input_is_a_400_on_its_parameter_never_a_500(
    api, campaign_factory, endpoint, query, field
):
    campaign_factory()
    response = api.get(f"{endpoint}?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]


def test_the_api_also_sorts_by_updated_at(api, campaign_factory):
    first = campaign_factory(name="First")
    campaign_factory(name="Second")
    Campaign.objects.filter(pk=first.pk).update(updated_at=timezone.now())
    assert names(api.get(LIST, {"ordering": "-updated_at"})) == ["First", "Second"]
    assert names(api.get(LIST, {"ordering": "updated_at"})) == ["Second", "First"]


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
@pytest.mark.parametrize(
    ("query", "most"),
    [
        # The token, the roles, the page, its labels, the approval setting.
        ({}, 5),
        ({"status": "draft,running", "channel_group": "web,email", "ordering": "name"}, 5),
        ({"quick": "mine", "q": "Campaign", "archived": "all", "ordering": "-status"}, 5),
        # Each look-up that checks ids exist (labels, creators) is one query more, whatever
        # the number of ids.
        ({"label": "LABELS"}, 6),
        ({"label": "LABELS", "created_by": "CREATORS", "type": "single_message"}, 7),
    ],
)
def test_list_query_count_does_not_grow_with_page_size_or_filters(
    token_client,
    marketer,
    campaign_factory,
    label_factory,
    django_assert_max_num_queries,
    page_size,
    query,
    most,
):
    labels = [label_factory() for _ in range(3)]
    creators = [UserFactory(roles=["Marketer"]) for _ in range(5)]
    for i in range(55):
        campaign = campaign_factory(created_by=creators[i % 5], status=["draft", "running"][i % 2])
        campaign.labels.add(*labels[: i % 3 + 1])
    params = dict(query)
    if params.get("label") == "LABELS":
        params["label"] = ",".join(str(label.pk) for label in labels)
    if params.get("created_by") == "CREATORS":
        params["created_by"] = ",".join(c.email for c in creators)
    if "channel_group" in params or "quick" in params:
        # Enough matching rows to fill the page either way.
        for creator in creators:
            for channel in ("email", "web_popup"):
                campaign_factory(created_by=marketer, channel=channel, status="running")
                campaign_factory(created_by=creator, channel=channel, status="draft")
        for _ in range(50):
            campaign_factory(created_by=marketer, channel="email")
    client = token_client(marketer)
    with django_assert_max_num_queries(most):
        response = client.get(LIST, {"page_size": page_size, **params})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == page_size


def test_outsider_sees_no_campaigns(api_for, outsider, campaign_factory):
    campaign_factory()
    assert api_for(outsider).get(LIST).status_code == 403


def test_counts_give_status_and_quick_chips_and_the_total(api, campaign_factory, marketer):
    other = UserFactory(roles=["Marketer"])
    campaign_factory(status=Status.RUNNING)
    campaign_factory(status=Status.RUNNING, created_by=other)
    campaign_factory(status=Status.DRAFT)
    campaign_factory(status=Status.PENDING_APPROVAL, created_by=other)
    campaign_factory(status=Status.DRAFT, archived_at=timezone.now())
    campaign_factory(status=Status.STOPPED, archived_at=timezone.now())
    body = api.get(f"{LIST}counts/").json()
    assert body == {
        "status": {
            "draft": 1,
            "scheduled": 0,
            "awaiting_next_run": 0,
            "running": 2,
            "pending_approval": 1,
            "rejected": 0,
            "stopped": 0,
            "completed": 0,
        },
        "quick": {"running": 2, "scheduled": 0, "awaiting_approval": 1, "mine": 2, "drafts": 1},
        "total": 4,
    }
    mine_running = api.get(f"{LIST}counts/", {"quick": "mine", "status": "running"}).json()
    assert mine_running["total"] == 1
    assert mine_running["status"] == body["status"]
    every = api.get(f"{LIST}counts/", {"archived": "all"}).json()
    assert every["total"] == 6 and every["status"]["draft"] == 2


def test_counts_total_matches_the_list_for_the_same_parameters(api, campaign_factory):
    for i in range(12):
        campaign_factory(
            name=f"C{i}",
            status=[Status.RUNNING, Status.DRAFT, Status.STOPPED][i % 3],
            channel=["email", "web_popup", "web_exit_intent", "sms"][i % 4],
        )
    query = {"channel_group": "web", "status": "running,draft", "page_size": 200}
    listed = api.get(LIST, query).json()["results"]
    assert api.get(f"{LIST}counts/", query).json()["total"] == len(listed) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "runing"}, "status"),
        ({"label": "999999"}, "label"),
        ({"created_after": "soon"}, "created_after"),
        ({"quick": "all"}, "quick"),
    ],
)
def test_counts_refuse_bad_parameters_like_the_list(api, campaign_factory, query, field):
    campaign_factory()
    response = api.get(f"{LIST}counts/", query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("query", "most"),
    [
        ({}, 3),
        ({"status": "running", "quick": "mine", "channel_group": "web"}, 3),
        ({"label": "L"}, 4),
    ],
)
def test_counts_take_one_query(
    token_client, marketer, campaign_factory, label_factory, django_assert_num_queries, query, most
):
    label = label_factory()
    campaign_factory().labels.add(label)
    client = token_client(marketer)
    params = {k: (str(label.pk) if v == "L" else v) for k, v in query.items()}
    # Token, roles, [the label check], the one SELECT of conditional counts.
    with django_assert_num_queries(most):
        assert client.get(f"{LIST}counts/", params).status_code == 200


# ---------------------------------------------------------------------------------------------
# Keyset pages in every ordering
# ---------------------------------------------------------------------------------------------
def walk(api, query: dict, direction: str = "next") -> tuple[list[int], dict]:
    """Follow `next` from the first page; returns the ids seen and the last page's body."""
    seen: list[int] = []
    body = api.get(LIST, query).json()
    seen += [row["id"] for row in body["results"]]
    while body[direction]:
        body = api.get(body[direction]).json()
        seen += [row["id"] for row in body["results"]]
    return seen, body


ORDER_KEYS = {
    "name": lambda c: (c.name, c.pk),
    "status": lambda c: (c.status, c.pk),
    "last_active_at": lambda c: (c.last_active_at, c.pk),
    "created_at": lambda c: (c.created_at, c.pk),
    "updated_at": lambda c: (c.updated_at, c.pk),
}


@pytest.mark.parametrize("ordering", [f"{sign}{name}" for name in ORDER_KEYS for sign in ("", "-")])
def test_cursor_pages_walk_every_ordering_forward_and_back_without_repeats(
    api, campaign_factory, ordering
):
    now = timezone.now()
    statuses = [Status.DRAFT, Status.RUNNING, Status.STOPPED]
    for i in range(23):
        # Many ties on every sort key: three names, three statuses, four timestamps.
        campaign_factory(
            name=["b", "a", "c"][i % 3],
            status=statuses[i % 3 if i < 12 else 0],
            last_active_at=now - dt.timedelta(minutes=i % 4),
        )
    stamp = now - dt.timedelta(days=1)
    Campaign.objects.filter(pk__in=list(Campaign.objects.values_list("pk", flat=True)[:10])).update(
        created_at=stamp, updated_at=stamp
    )
    name = ordering.lstrip("-")
    expected = [
        c.pk
        for c in sorted(
            Campaign.objects.all(), key=ORDER_KEYS[name], reverse=ordering.startswith("-")
        )
    ]
    forward, last = walk(api, {"ordering": ordering, "page_size": 4})
    assert forward == expected
    # And back again from the last page, through `previous`.
    backward = [row["id"] for row in last["results"]]
    body = last
    while body["previous"]:
        body = api.get(body["previous"]).json()
        backward = [row["id"] for row in body["results"]] + backward
    assert backward == expected
    assert body["previous"] is None


def test_status_pages_list_every_row_once_however_many_share_a_status(api, campaign_factory):
    # DRF's own cursor keeps an offset among rows sharing the first sort value (capped at
    # 1,000); the keyset cursor holds (status, id), so ties cost nothing and never repeat.
    made = [campaign_factory(status=Status.DRAFT) for _ in range(30)]
    seen, _ = walk(api, {"ordering": "status", "page_size": 1})
    assert seen == sorted(c.pk for c in made)


def test_filters_apply_on_every_page(api, campaign_factory):
    for i in range(9):
        campaign_factory(name=f"C{i}", channel="email" if i % 2 else "push")
    seen, _ = walk(api, {"channel_group": "email", "ordering": "name", "page_size": 2})
    assert [Campaign.objects.get(pk=pk).name for pk in seen] == ["C1", "C3", "C5", "C7"]


@pytest.mark.parametrize(
    "position",
    [
        "not json",
        '["a"]',
        '["x", "y"]',
        '["2026-01-01T00:00:00", 1]',
        '["yesterday", 1]',
        '["2026-01-01T00:00:00+00:00", 99999999999999999999]',
        '["2026-01-01T00:00:00+00:00", -1]',
        "[null, 1]",
        "[true, 1]",
        '[{"a": 1}, 1]',
    ],
)
def test_a_tampered_cursor_is_a_404_not_a_server_error(api, campaign_factory, position):
    campaign_factory()
    token = base64.b64encode(urllib.parse.urlencode({"p": position}).encode()).decode()
    response = api.get(LIST, {"cursor": token})
    assert response.status_code == 404


def test_cursor_of_a_name_with_any_characters_round_trips(api, campaign_factory):
    names = ["Ünïcode ✓", 'quote " and \\', "a,b&c=d", "Ünïcode ✓"]
    made = [campaign_factory(name=n) for n in names]
    seen, _ = walk(api, {"ordering": "name", "page_size": 1})
    assert seen == [c.pk for c in sorted(made, key=lambda c: (c.name, c.pk))]
