"""campaigns.filters and the counts: a small catalogue whose every answer is known by hand.

The catalogue (maya is the signed-in marketer; omar and ari created the others):

| # | name               | channel            | type     | delivery       | status             | by   | labels               | created    | last active      | archived |
|---|--------------------|--------------------|----------|----------------|--------------------|------|----------------------|------------|------------------|----------|
| 1 | Diwali push        | push               | single   | one_time       | running            | maya | Festive              | 2026-01-01 | 2026-03-01 12:00 |          |
| 2 | Welcome email      | email              | single   | action         | draft              | maya | Onboarding           | 2026-01-05 | 2026-01-05 09:00 |          |
| 3 | Exit offer         | web_exit_intent    | ab_test  | inaction       | scheduled          | omar | Reengage             | 2026-01-10 | 2026-02-10 12:00 |          |
| 4 | Popup survey       | web_popup          | property | date_time      | pending_approval   | omar |                      | 2026-01-15 | 2026-02-15 12:00 |          |
| 5 | Lookalike FB       | facebook_audience  | single   | recurring      | completed          | ari  | Onboarding, Reengage | 2026-01-20 | 2026-02-20 12:00 |          |
| 6 | TikTok retarget    | tiktok_audience    | single   | api            | stopped            | ari  |                      | 2026-01-25 | 2026-02-25 00:00 |          |
| 7 | Google remarketing | google_ads         | single   | multiple_dates | awaiting_next_run  | maya | Festive              | 2026-02-01 | 2026-02-28 12:00 |          |
| 8 | Rejected inbox     | app_inbox          | single   | one_time       | rejected           | omar |                      | 2026-02-05 | 2026-02-05 23:59 |          |
| 9 | Old SMS            | sms                | ab_test  | one_time       | completed          | omar | Festive              | 2025-06-01 | 2025-07-01 12:00 | yes      |
|10 | Old draft          | whatsapp           | single   | one_time       | draft              | maya |                      | 2025-05-01 | 2025-05-02 12:00 | yes      |
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.http import QueryDict
from django.test import RequestFactory
from django.utils import timezone

from campaigns.choices import Channel, Status
from campaigns.filters import (
    CHANNEL_GROUPS,
    QUICK_FILTERS,
    CampaignFilterSet,
    cleaned_without_errors,
    filter_errors,
)
from campaigns.models import Campaign
from campaigns.selectors import campaign_page_rows, list_counts
from tests.factories import UserFactory

LIVE = {
    "Diwali push",
    "Welcome email",
    "Exit offer",
    "Popup survey",
    "Lookalike FB",
    "TikTok retarget",
    "Google remarketing",
    "Rejected inbox",
}
ARCHIVED = {"Old SMS", "Old draft"}


def at(day: str, time: str = "12:00") -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T{time}"))


@pytest.fixture
def people(marketer, other_marketer):
    ari = UserFactory(username="ari@example.com", roles=["Approver"])
    return {"maya": marketer, "omar": other_marketer, "ari": ari}


@pytest.fixture
def labels(label_factory):
    return {name: label_factory(name=name) for name in ("Onboarding", "Reengage", "Festive")}


@pytest.fixture
def catalogue(campaign_factory, people, labels):
    rows = [
        ("Diwali push", "push", "single_message", "one_time", "running", "maya",
         ["Festive"], "2026-01-01", at("2026-03-01"), False),
        ("Welcome email", "email", "single_message", "action", "draft", "maya",
         ["Onboarding"], "2026-01-05", at("2026-01-05", "09:00"), False),
        ("Exit offer", "web_exit_intent", "ab_test", "inaction", "scheduled", "omar",
         ["Reengage"], "2026-01-10", at("2026-02-10"), False),
        ("Popup survey", "web_popup", "message_on_user_property", "date_time",
         "pending_approval", "omar", [], "2026-01-15", at("2026-02-15"), False),
        ("Lookalike FB", "facebook_audience", "single_message", "recurring", "completed", "ari",
         ["Onboarding", "Reengage"], "2026-01-20", at("2026-02-20"), False),
        ("TikTok retarget", "tiktok_audience", "single_message", "api", "stopped", "ari",
         [], "2026-01-25", at("2026-02-25", "00:00"), False),
        ("Google remarketing", "google_ads", "single_message", "multiple_dates",
         "awaiting_next_run", "maya", ["Festive"], "2026-02-01", at("2026-02-28"), False),
        ("Rejected inbox", "app_inbox", "single_message", "one_time", "rejected", "omar",
         [], "2026-02-05", at("2026-02-05", "23:59"), False),
        ("Old SMS", "sms", "ab_test", "one_time", "completed", "omar",
         ["Festive"], "2025-06-01", at("2025-07-01"), True),
        ("Old draft", "whatsapp", "single_message", "one_time", "draft", "maya",
         [], "2025-05-01", at("2025-05-02"), True),
    ]  # fmt: skip
    made = {}
    for name, channel, kind, delivery, status, by, tags, created, active, archived in rows:
        campaign = campaign_factory(
            name=name,
            channel=channel,
            type=kind,
            delivery=delivery,
            status=status,
            created_by=people[by],
            last_active_at=active,
            archived_at=active if archived else None,
        )
        campaign.labels.set([labels[t] for t in tags])
        # created_at is set on insert; the catalogue needs its own.
        Campaign.objects.filter(pk=campaign.pk).update(created_at=at(created))
        made[name] = campaign
    return made


@pytest.fixture
def request_of(rf: RequestFactory):
    def make(user: Any) -> Any:
        request = rf.get("/campaigns/")
        request.user = user
        return request

    return make


@pytest.fixture
def run(marketer, request_of):
    """The names a query string selects, as the signed-in marketer (maya)."""

    def go(query: str | dict[str, Any]) -> set[str]:
        fs = filterset(query, marketer, request_of(marketer))
        assert fs.is_valid(), filter_errors(fs)
        return {c.name for c in fs.qs}

    return go


def filterset(query: str | dict[str, Any], user: Any, request: Any) -> CampaignFilterSet:
    data = QueryDict(query) if isinstance(query, str) else query
    return CampaignFilterSet(data, queryset=Campaign.objects.visible_to(user), request=request)


# ---------------------------------------------------------------------------------------------
# Each filter alone
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", LIVE),
        ("status=running", {"Diwali push"}),
        ("status=draft,completed", {"Welcome email", "Lookalike FB"}),
        ("status=draft&status=completed", {"Welcome email", "Lookalike FB"}),
        ("channel=web_popup", {"Popup survey"}),
        ("channel=email,google_ads", {"Welcome email", "Google remarketing"}),
        ("type=ab_test", {"Exit offer"}),
        ("type=message_on_user_property", {"Popup survey"}),
        ("delivery=one_time", {"Diwali push", "Rejected inbox"}),
        ("delivery=recurring,api", {"Lookalike FB", "TikTok retarget"}),
        ("q=OFFER", {"Exit offer"}),
        ("q=re", {"TikTok retarget", "Google remarketing", "Rejected inbox"}),
        ("q=%20%20", LIVE),
        ("archived=false", LIVE),
        ("archived=true", ARCHIVED),
        ("archived=all", LIVE | ARCHIVED),
        ("created_after=2026-01-25", {"TikTok retarget", "Google remarketing", "Rejected inbox"}),
        ("created_before=2026-01-05", {"Diwali push", "Welcome email"}),
        ("created_after=2026-01-05&created_before=2026-01-10", {"Welcome email", "Exit offer"}),
        # Both ends are whole days: 00:00 counts as that day, and so does 23:59.
        (
            "last_active_after=2026-02-25",
            {"Diwali push", "TikTok retarget", "Google remarketing"},
        ),
        ("last_active_before=2026-02-05", {"Welcome email", "Rejected inbox"}),
        (
            "last_active_after=2026-02-10&last_active_before=2026-02-20",
            {"Exit offer", "Popup survey", "Lookalike FB"},
        ),
        ("last_active_after=2026-02-05&last_active_before=2026-02-05", {"Rejected inbox"}),
    ],
)
def test_each_filter_alone_selects_exactly_its_campaigns(catalogue, run, query, expected):
    assert run(query) == expected


def test_created_by_takes_ids_or_emails_ignoring_case(catalogue, run, people):
    omar, ari = people["omar"], people["ari"]
    omars = {"Exit offer", "Popup survey", "Rejected inbox"}
    assert run(f"created_by={omar.pk}") == omars
    assert run("created_by=OMAR@Example.com") == omars
    assert run(f"created_by=omar@example.com,{ari.pk}") == omars | {
        "Lookalike FB",
        "TikTok retarget",
    }


def test_label_filter_matches_any_of_the_labels_and_lists_each_campaign_once(
    catalogue, run, labels, marketer, request_of
):
    onboarding, reengage = labels["Onboarding"].pk, labels["Reengage"].pk
    assert run(f"label={onboarding}") == {"Welcome email", "Lookalike FB"}
    fs = filterset(f"label={onboarding},{reengage}", marketer, request_of(marketer))
    names = [c.name for c in fs.qs]
    # Lookalike FB carries both labels and is still one row.
    assert sorted(names) == ["Exit offer", "Lookalike FB", "Welcome email"]


def test_archived_campaigns_are_found_by_every_filter_once_shown(catalogue, run, labels):
    assert run("archived=all&type=ab_test") == {"Exit offer", "Old SMS"}
    assert run(f"archived=true&label={labels['Festive'].pk}") == {"Old SMS"}


# ---------------------------------------------------------------------------------------------
# Channel groups
# ---------------------------------------------------------------------------------------------
def test_channel_groups_are_the_specs_fourteen_options_in_its_order():
    assert [label for label, _ in CHANNEL_GROUPS.values()] == [
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


def test_channel_groups_cover_every_channel_exactly_once():
    covered = [channel for _, channels in CHANNEL_GROUPS.values() for channel in channels]
    assert sorted(covered) == sorted(Channel.values)


@pytest.mark.parametrize("group", list(CHANNEL_GROUPS))
def test_each_channel_group_selects_the_campaigns_of_its_channels(group, campaign_factory, run):
    for channel in Channel.values:
        campaign_factory(name=channel, channel=channel)
    assert run(f"channel_group={group}") == set(CHANNEL_GROUPS[group][1])


def test_web_is_popups_and_exit_intents_and_audiences_are_facebook_and_tiktok(catalogue, run):
    assert run("channel_group=web") == {"Exit offer", "Popup survey"}
    assert run("channel_group=audiences") == {"Lookalike FB", "TikTok retarget"}
    assert run("channel_group=google_ads") == {"Google remarketing"}
    assert run("channel_group=web,email") == {"Exit offer", "Popup survey", "Welcome email"}


# ---------------------------------------------------------------------------------------------
# Quick filters
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("quick", "expected"),
    [
        ("running", {"Diwali push"}),
        ("scheduled", {"Exit offer"}),
        ("awaiting_approval", {"Popup survey"}),
        ("mine", {"Diwali push", "Welcome email", "Google remarketing"}),
        ("drafts", {"Welcome email"}),
    ],
)
def test_each_quick_filter_selects_its_campaigns(catalogue, run, quick, expected):
    assert run(f"quick={quick}") == expected


def test_mine_means_the_user_making_the_request(catalogue, people, request_of):
    omar = people["omar"]
    fs = filterset("quick=mine", omar, request_of(omar))
    assert {c.name for c in fs.qs} == {"Exit offer", "Popup survey", "Rejected inbox"}


def test_mine_without_a_signed_in_user_selects_nothing(catalogue, marketer):
    fs = CampaignFilterSet(
        QueryDict("quick=mine"), queryset=Campaign.objects.visible_to(marketer), request=None
    )
    assert list(fs.qs) == []


# ---------------------------------------------------------------------------------------------
# Combinations: different parameters AND, values of one parameter OR
# ---------------------------------------------------------------------------------------------
def test_filters_combine_with_and(catalogue, run, labels, people):
    festive, onboarding = labels["Festive"].pk, labels["Onboarding"].pk
    assert run(f"quick=mine&label={festive}") == {"Diwali push", "Google remarketing"}
    # Four drawer filters at once.
    four = (
        f"channel_group=audiences&type=single_message&created_by={people['ari'].pk}"
        f"&label={onboarding}"
    )
    assert run(four) == {"Lookalike FB"}
    assert run(f"status=completed&archived=all&label={festive}") == {"Old SMS"}
    assert run("quick=running&status=draft") == set()
    assert run("quick=drafts&archived=all") == {"Welcome email", "Old draft"}
    assert run("q=e&created_after=2026-01-10&quick=mine") == {"Google remarketing"}
    assert run("channel=email&channel_group=sms") == set()


# ---------------------------------------------------------------------------------------------
# Ordering
# ---------------------------------------------------------------------------------------------
def ordered(catalogue: dict[str, Campaign], key: Any, reverse: bool = False) -> list[str]:
    live = [c for c in catalogue.values() if c.name in LIVE]
    for c in live:
        c.refresh_from_db()
    return [c.name for c in sorted(live, key=key, reverse=reverse)]


@pytest.mark.parametrize(
    ("ordering", "key", "reverse"),
    [
        ("", lambda c: (c.last_active_at, c.pk), True),
        ("-last_active_at", lambda c: (c.last_active_at, c.pk), True),
        ("last_active_at", lambda c: (c.last_active_at, c.pk), False),
        ("name", lambda c: (c.name, c.pk), False),
        ("-name", lambda c: (c.name, c.pk), True),
        ("status", lambda c: (c.status, c.pk), False),
        ("-status", lambda c: (c.status, c.pk), True),
        ("created_at", lambda c: (c.created_at, c.pk), False),
        ("-created_at", lambda c: (c.created_at, c.pk), True),
    ],
)
def test_ordering_sorts_by_the_key_then_id(catalogue, marketer, request_of, ordering, key, reverse):
    fs = filterset(f"ordering={ordering}", marketer, request_of(marketer))
    assert [c.name for c in fs.qs] == ordered(catalogue, key, reverse)


def test_status_ordering_breaks_ties_by_id(campaign_factory, marketer, request_of):
    made = [campaign_factory(status=s) for s in ["draft", "running", "draft", "running", "draft"]]
    fs = filterset("ordering=status", marketer, request_of(marketer))
    expected = sorted(made, key=lambda c: (c.status, c.pk))
    assert [c.pk for c in fs.qs] == [c.pk for c in expected]
    fs = filterset("ordering=-status", marketer, request_of(marketer))
    assert [c.pk for c in fs.qs] == [c.pk for c in reversed(expected)]


# ---------------------------------------------------------------------------------------------
# Bad input: an error naming the parameter, never a 500 nor a quietly empty list
# ---------------------------------------------------------------------------------------------
BAD = [
    ("status=runing", "status"),
    ("status=draft,paused", "status"),
    ("channel=fax", "channel"),
    ("channel_group=web_popup", "channel_group"),
    ("type=poll", "type"),
    ("delivery=someday", "delivery"),
    ("archived=maybe", "archived"),
    ("archived=1", "archived"),
    ("label=999999", "label"),
    ("label=abc", "label"),
    ("label=0", "label"),
    ("label=99999999999999999999999", "label"),
    ("created_by=not%20an%20email", "created_by"),
    ("created_by=nobody@example.com", "created_by"),
    ("created_by=999999", "created_by"),
    ("created_after=yesterday", "created_after"),
    ("created_before=2026-02-30", "created_before"),
    ("last_active_after=02/01/2026", "last_active_after"),
    ("last_active_after=2026-03-01&last_active_before=2026-02-01", "last_active_before"),
    ("quick=archived", "quick"),
    ("quick=running,mine", "quick"),
    ("ordering=priority", "ordering"),
    ("ordering=id", "ordering"),
    ("ordering=updated_at", "ordering"),  # the API's extra sort, not the page's
    ("q=" + "x" * 201, "q"),
    ("q=a%00b", "q"),
    ("label=" + ",".join(str(i) for i in range(1, 902)), "label"),
    # A % in a value must not be taken for a format directive when the message is built.
    ("status=%25%3F", "status"),
    ("label=%25d", "label"),
    ("created_by=a%25b@example.com", "created_by"),
    ("created_by=%25s", "created_by"),
    ("quick=%25(value)s", "quick"),
    ("archived=100%25", "archived"),
]


@pytest.mark.parametrize(("query", "field"), BAD)
def test_bad_input_is_an_error_on_its_parameter(catalogue, marketer, request_of, query, field):
    fs = filterset(query, marketer, request_of(marketer))
    errors = filter_errors(fs)
    assert list(errors) == [field]
    assert all(isinstance(m, str) and m for m in errors[field])
    # Evaluating the rest never fails (the bad parameter is simply not applied).
    list(fs.qs)


def test_error_messages_name_the_bad_value_and_the_choices(catalogue, marketer, request_of):
    errors = filter_errors(filterset("status=runing&label=424242", marketer, request_of(marketer)))
    assert errors["status"] == [
        "“runing” is not a status; choose from draft, scheduled, awaiting_next_run, running, "
        "pending_approval, rejected, stopped, completed."
    ]
    assert errors["label"] == ["There is no label with id 424242; it may have been deleted."]


def test_each_bad_value_gets_its_own_message(catalogue, marketer, request_of):
    errors = filter_errors(
        filterset(
            "created_by=ghost@example.com,maya@example.com,123456", marketer, request_of(marketer)
        )
    )
    assert errors["created_by"] == [
        "There is no user with the e-mail “ghost@example.com”.",
        "There is no user with id 123456.",
    ]


def test_values_with_percent_signs_are_quoted_as_given(catalogue, marketer, request_of):
    errors = filter_errors(
        filterset("status=50%25&created_by=a%25b@example.com", marketer, request_of(marketer))
    )
    assert errors["status"][0].startswith("“50%” is not a status;")
    assert errors["created_by"] == ["There is no user with the e-mail “a%b@example.com”."]


def test_huge_values_are_not_echoed_whole(catalogue, marketer, request_of):
    errors = filter_errors(filterset("status=" + "x" * 500, marketer, request_of(marketer)))
    assert len(errors["status"][0]) < 250


@pytest.mark.parametrize(
    "query",
    [
        "created_after=0001-01-01&created_before=9999-12-31",
        "last_active_after=0001-01-01&last_active_before=9999-12-31",
    ],
)
def test_the_extreme_dates_are_accepted(catalogue, run, query):
    assert run(query) == LIVE


# ---------------------------------------------------------------------------------------------
# The page's helper: keep what is good, report what is not
# ---------------------------------------------------------------------------------------------
def test_valid_query_has_no_errors_and_is_the_filterset_itself(catalogue, marketer, request_of):
    fs, errors = cleaned_without_errors(
        QueryDict("status=running"),
        queryset=Campaign.objects.visible_to(marketer),
        request=request_of(marketer),
    )
    assert errors == {}
    assert {c.name for c in fs.qs} == {"Diwali push"}


def test_a_deleted_label_is_dropped_and_the_others_still_filter(
    catalogue, marketer, request_of, labels
):
    onboarding = labels["Onboarding"].pk
    fs, errors = cleaned_without_errors(
        QueryDict(f"label={onboarding},999999&label=888888"),
        queryset=Campaign.objects.visible_to(marketer),
        request=request_of(marketer),
    )
    assert set(errors) == {"label"} and len(errors["label"]) == 2
    assert {c.name for c in fs.qs} == {"Welcome email", "Lookalike FB"}
    assert fs.data.getlist("label") == [str(onboarding)]


def test_malformed_and_deleted_labels_are_reported_together_and_the_good_one_kept(
    catalogue, marketer, request_of, labels
):
    festive = labels["Festive"].pk
    fs, errors = cleaned_without_errors(
        QueryDict(f"label=abc&label=999999&label={festive}"),
        queryset=Campaign.objects.visible_to(marketer),
        request=request_of(marketer),
    )
    assert errors == {
        "label": [
            "“abc” is not a label id.",
            "There is no label with id 999999; it may have been deleted.",
        ]
    }
    assert {c.name for c in fs.qs} == {"Diwali push", "Google remarketing"}


def test_only_the_bad_parameters_are_ignored(catalogue, marketer, request_of):
    fs, errors = cleaned_without_errors(
        QueryDict("status=running,bogus&channel=fax&created_after=yesterday&quick=mine"),
        queryset=Campaign.objects.visible_to(marketer),
        request=request_of(marketer),
    )
    assert set(errors) == {"status", "channel", "created_after"}
    assert {c.name for c in fs.qs} == {"Diwali push"}
    assert fs.is_valid()
    assert "channel" not in fs.data and "created_after" not in fs.data
    assert fs.data["status"] == "running" and fs.data["quick"] == "mine"


def test_an_inverted_range_keeps_its_start(catalogue, marketer, request_of):
    fs, errors = cleaned_without_errors(
        {"last_active_after": "2026-02-25", "last_active_before": "2026-02-01"},
        queryset=Campaign.objects.visible_to(marketer),
        request=request_of(marketer),
    )
    assert list(errors) == ["last_active_before"]
    assert {c.name for c in fs.qs} == {"Diwali push", "TikTok retarget", "Google remarketing"}


def test_no_data_means_the_defaults(catalogue, marketer):
    fs, errors = cleaned_without_errors(
        None, queryset=Campaign.objects.visible_to(marketer), request=None
    )
    assert errors == {}
    assert [c.name for c in fs.qs][0] == "Diwali push"  # newest activity first
    assert {c.name for c in fs.qs} == LIVE


# ---------------------------------------------------------------------------------------------
# Counts
# ---------------------------------------------------------------------------------------------
def counts_for(query: str, user: Any, request: Any) -> dict[str, Any]:
    return list_counts(user=user, filterset_data=QueryDict(query), request=request)


ONE_EACH = dict.fromkeys(Status.values, 1)


@pytest.mark.parametrize(
    ("query", "status", "quick", "total"),
    [
        (
            "",
            ONE_EACH,
            {"running": 1, "scheduled": 1, "awaiting_approval": 1, "mine": 3, "drafts": 1},
            8,
        ),
        # Status and quick choose among the chips: they change the total, not the chips.
        (
            "status=running",
            ONE_EACH,
            {"running": 1, "scheduled": 1, "awaiting_approval": 1, "mine": 3, "drafts": 1},
            1,
        ),
        (
            "quick=mine",
            ONE_EACH,
            {"running": 1, "scheduled": 1, "awaiting_approval": 1, "mine": 3, "drafts": 1},
            3,
        ),
        (
            "quick=mine&status=running,draft,completed",
            ONE_EACH,
            {"running": 1, "scheduled": 1, "awaiting_approval": 1, "mine": 3, "drafts": 1},
            2,
        ),
        (
            "label=FESTIVE",
            {**dict.fromkeys(Status.values, 0), "running": 1, "awaiting_next_run": 1},
            {"running": 1, "scheduled": 0, "awaiting_approval": 0, "mine": 2, "drafts": 0},
            2,
        ),
        (
            "archived=all&quick=drafts",
            {**ONE_EACH, "draft": 2, "completed": 2},
            {"running": 1, "scheduled": 1, "awaiting_approval": 1, "mine": 4, "drafts": 2},
            2,
        ),
        (
            "channel_group=web&type=ab_test",
            {**dict.fromkeys(Status.values, 0), "scheduled": 1},
            {"running": 0, "scheduled": 1, "awaiting_approval": 0, "mine": 0, "drafts": 0},
            1,
        ),
    ],
)
def test_counts_are_taken_under_every_filter_but_status_and_quick(
    catalogue, marketer, request_of, labels, query, status, quick, total
):
    query = query.replace("FESTIVE", str(labels["Festive"].pk))
    counts = counts_for(query, marketer, request_of(marketer))
    assert counts == {"status": status, "quick": quick, "total": total}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=running",
        "quick=mine",
        "quick=drafts&archived=all",
        "channel_group=audiences&type=single_message",
        "q=e&created_after=2026-01-10",
        "last_active_after=2026-02-01&status=completed,stopped",
        "archived=true",
        "ordering=name&status=draft",
    ],
)
def test_total_is_the_number_of_rows_the_list_shows(catalogue, marketer, request_of, query):
    request = request_of(marketer)
    fs = filterset(query, marketer, request)
    assert counts_for(query, marketer, request)["total"] == len(fs.qs)


def test_counts_ignore_bad_parameters_like_the_page(catalogue, marketer, request_of):
    counts = counts_for("status=bogus&quick=mine&label=999999", marketer, request_of(marketer))
    assert counts["total"] == 3


def test_counts_are_one_query(catalogue, marketer, request_of, labels, django_assert_num_queries):
    request = request_of(marketer)
    query = f"label={labels['Festive'].pk}&created_by=omar@example.com&quick=mine&status=running"
    fs = filterset(query, marketer, request)
    fs.is_valid()  # the label and creator look-ups
    with django_assert_num_queries(1):
        list_counts(user=marketer, filterset_data=fs.data, request=request, filterset=fs)


def test_outsider_counts_nothing(catalogue, outsider, request_of):
    counts = counts_for("", outsider, request_of(outsider))
    assert counts["total"] == 0 and set(counts["status"].values()) == {0}
    assert set(counts["quick"]) == set(QUICK_FILTERS)


# ---------------------------------------------------------------------------------------------
# The table's rows
# ---------------------------------------------------------------------------------------------
def test_page_rows_bring_creators_and_labels_in_two_queries(
    catalogue, marketer, request_of, django_assert_num_queries
):
    fs = filterset("archived=all", marketer, request_of(marketer))
    fs.is_valid()
    with django_assert_num_queries(2):
        rows = list(campaign_page_rows(fs.qs))
        seen = [(c.created_by.email, [label.name for label in c.labels.all()]) for c in rows]
    assert ("omar@example.com", ["Onboarding", "Reengage"]) not in seen
    assert ("ari@example.com", ["Onboarding", "Reengage"]) in seen
