"""POST /api/v1/campaigns/labels/: add and remove labels on many campaigns, creating new ones inline."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit
from labels.models import Label
from labels.rules import MAX_LABELS

BULK = "/api/v1/campaigns/labels/"


def label_names(campaign: Campaign) -> list[str]:
    return sorted(campaign.labels.values_list("name", flat=True))


def by_id(body: dict) -> dict[int, dict]:
    return {row["id"]: row for row in body["results"]}


def test_labels_are_added_to_each_campaign_with_an_audit_row(
    api, marketer, campaign_factory, label_factory
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    campaigns = [campaign_factory(), campaign_factory(status=Status.SCHEDULED)]

    response = api.post(
        BULK,
        {"ids": [c.pk for c in campaigns], "add": [onboarding.pk, reengage.pk]},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["done"] == 2
    assert body["unchanged"] == 0
    assert body["refused"] == 0
    assert [(r["id"], r["ok"], r["code"]) for r in body["results"]] == [
        (campaigns[0].pk, True, "done"),
        (campaigns[1].pk, True, "done"),
    ]
    for campaign in campaigns:
        assert label_names(campaign) == ["Onboarding", "Reengage"]
        audit = CampaignAudit.objects.get(campaign=campaign, action=Action.EDIT)
        assert audit.actor == marketer
        assert "labels" in audit.changes


def test_labels_are_removed_and_others_kept(api, campaign_factory, label_factory):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    campaign = campaign_factory()
    campaign.labels.add(onboarding, reengage)

    response = api.post(BULK, {"ids": [campaign.pk], "remove": [onboarding.pk]}, format="json")

    assert response.json()["done"] == 1
    assert label_names(campaign) == ["Reengage"]


def test_add_and_remove_in_one_request(api, campaign_factory, label_factory):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    campaign = campaign_factory()
    campaign.labels.add(onboarding)

    api.post(
        BULK, {"ids": [campaign.pk], "add": [reengage.pk], "remove": [onboarding.pk]}, format="json"
    )

    assert label_names(campaign) == ["Reengage"]


def test_a_campaign_that_already_has_the_labels_is_reported_unchanged(
    api, campaign_factory, label_factory
):
    label = label_factory(name="Onboarding")
    has_it, lacks_it = campaign_factory(), campaign_factory()
    has_it.labels.add(label)

    body = api.post(
        BULK, {"ids": [has_it.pk, lacks_it.pk], "add": [label.pk]}, format="json"
    ).json()

    assert (body["done"], body["unchanged"], body["refused"]) == (1, 1, 0)
    assert by_id(body)[has_it.pk]["code"] == "unchanged"
    assert not CampaignAudit.objects.filter(campaign=has_it).exists()


def test_awaiting_next_run_campaigns_take_labels(api, campaign_factory, label_factory):
    label = label_factory()
    campaign = campaign_factory(status=Status.AWAITING_NEXT_RUN)
    assert (
        api.post(BULK, {"ids": [campaign.pk], "add": [label.pk]}, format="json").json()["done"] == 1
    )
    assert list(campaign.labels.all()) == [label]


def test_archived_missing_and_running_campaigns_are_refused_while_the_others_change(
    api, campaign_factory, label_factory
):
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    draft = campaign_factory()
    archived = campaign_factory(status=Status.COMPLETED, archived_at=timezone.now())
    running = campaign_factory(status=Status.RUNNING)
    stopped = campaign_factory(status=Status.STOPPED)
    scheduled = campaign_factory(status=Status.SCHEDULED)
    for refused in (archived, running, stopped):
        refused.labels.add(reengage)
    missing = Campaign.objects.order_by("-pk").first().pk + 1000
    ids = [draft.pk, archived.pk, missing, running.pk, stopped.pk, scheduled.pk]

    response = api.post(
        BULK, {"ids": ids, "add": [onboarding.pk], "remove": [reengage.pk]}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == ids
    assert (body["done"], body["unchanged"], body["refused"]) == (2, 0, 4)
    rows = by_id(body)
    assert rows[archived.pk]["code"] == "read_only"
    assert "Archived" in rows[archived.pk]["message"]
    assert rows[missing]["code"] == "not_found"
    assert rows[running.pk]["code"] == "read_only"
    assert "Running" in rows[running.pk]["message"]
    assert rows[stopped.pk]["code"] == "read_only"
    for refused in (archived, running, stopped):
        assert not rows[refused.pk]["ok"]
        assert label_names(refused) == ["Reengage"]
        assert not CampaignAudit.objects.filter(campaign=refused).exists()
    for changed in (draft, scheduled):
        assert rows[changed.pk]["ok"]
        assert label_names(changed) == ["Onboarding"]


def test_a_campaign_named_twice_is_reported_once(api, campaign_factory, label_factory):
    label = label_factory()
    campaign = campaign_factory()
    body = api.post(
        BULK, {"ids": [campaign.pk, campaign.pk], "add": [label.pk]}, format="json"
    ).json()
    assert len(body["results"]) == 1
    assert body["done"] == 1


@pytest.mark.parametrize("field", ["add", "remove"])
def test_an_unknown_label_id_is_a_400_and_changes_nothing(
    api, campaign_factory, label_factory, field
):
    label = label_factory(name="Onboarding")
    campaign = campaign_factory()
    unknown = label.pk + 999
    body = {"ids": [campaign.pk], "add": [label.pk]}
    body[field] = [*body.get(field, []), unknown]

    response = api.post(BULK, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][field] == [f"Label {unknown} does not exist."]
    assert label_names(campaign) == []
    assert not CampaignAudit.objects.exists()


def test_a_label_both_added_and_removed_is_a_400(api, campaign_factory, label_factory):
    label = label_factory()
    campaign = campaign_factory()
    response = api.post(
        BULK, {"ids": [campaign.pk], "add": [label.pk], "remove": [label.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "remove" in response.json()["errors"]
    assert label_names(campaign) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [1]}, "add"),
        ({"ids": [1], "add": [], "remove": []}, "add"),
        ({"ids": [], "add": [1]}, "ids"),
        ({"add": [1]}, "ids"),
        ({"ids": "1", "add": [1]}, "ids"),
        ({"ids": [1], "add": "1"}, "add"),
        ({"ids": [1], "add_names": "Onboarding"}, "add_names"),
        ({"ids": [0], "add": [1]}, "ids.0"),
    ],
)
def test_malformed_requests_are_a_400_naming_the_field(
    api, campaign_factory, label_factory, body, field
):
    campaign_factory()
    label_factory()
    response = api.post(BULK, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


# --------------------------------------------------------------------------------------------
# Creating labels inline (add_names)
# --------------------------------------------------------------------------------------------
def test_add_names_creates_missing_labels_reuses_existing_ones_and_applies_them(
    api, marketer, campaign_factory, label_factory
):
    existing = label_factory(name="Onboarding")
    campaigns = [campaign_factory(), campaign_factory()]

    response = api.post(
        BULK,
        {"ids": [c.pk for c in campaigns], "add_names": [" onboarding ", "Winback", "WINBACK"]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["done"] == 2
    assert sorted(Label.objects.values_list("name", flat=True)) == ["Onboarding", "Winback"]
    assert Label.objects.get(name="Winback").created_by == marketer
    assert Label.objects.get(pk=existing.pk).name == "Onboarding"
    for campaign in campaigns:
        assert label_names(campaign) == ["Onboarding", "Winback"]


def test_add_names_and_ids_combine(api, campaign_factory, label_factory):
    onboarding = label_factory(name="Onboarding")
    campaign = campaign_factory()
    api.post(
        BULK, {"ids": [campaign.pk], "add": [onboarding.pk], "add_names": ["Fresh"]}, format="json"
    )
    assert label_names(campaign) == ["Fresh", "Onboarding"]


def test_add_names_reports_every_bad_name_by_name_and_creates_nothing(api, campaign_factory):
    campaign = campaign_factory()
    response = api.post(
        BULK,
        {"ids": [campaign.pk], "add_names": ["Good one", "Sale!", "   ", "x" * 65, "Also good"]},
        format="json",
    )

    assert response.status_code == 400
    problems = response.json()["errors"]["add_names"]
    assert len(problems) == 3
    assert problems[0].startswith('"Sale!": ') and "!" in problems[0]
    assert "A label needs a name." in problems[1]
    assert problems[2].startswith(f'"{"x" * 65}": At most 64 characters')
    assert not Label.objects.exists()
    assert label_names(campaign) == []


def test_add_names_with_an_unknown_label_id_creates_nothing(api, campaign_factory):
    campaign = campaign_factory()
    response = api.post(
        BULK, {"ids": [campaign.pk], "add": [987654], "add_names": ["Fresh"]}, format="json"
    )
    assert response.status_code == 400
    assert not Label.objects.exists()
    assert label_names(campaign) == []


def test_add_names_past_the_cap_is_a_409_that_creates_none_and_applies_none(api, campaign_factory):
    Label.objects.bulk_create(Label(name=f"Bulk {i:03}") for i in range(MAX_LABELS - 1))
    campaign = campaign_factory()

    response = api.post(
        BULK, {"ids": [campaign.pk], "add_names": ["Fits", "Does not fit"]}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "limit_reached"
    assert "900" in response.json()["message"]
    assert Label.objects.count() == MAX_LABELS - 1
    assert label_names(campaign) == []


def test_add_names_on_refused_campaigns_still_creates_the_labels(api, campaign_factory):
    """Creating is its own step: the labels exist for the next try even if every campaign refused."""
    archived = campaign_factory(status=Status.DRAFT, archived_at=timezone.now())
    body = api.post(BULK, {"ids": [archived.pk], "add_names": ["Fresh"]}, format="json").json()
    assert body["refused"] == 1
    assert Label.objects.filter(name="Fresh").exists()
    assert label_names(archived) == []


def test_outsider_and_anonymous_change_nothing(api_for, outsider, campaign_factory):
    campaign = campaign_factory()
    body = {"ids": [campaign.pk], "add_names": ["Fresh"]}
    assert api_for(outsider).post(BULK, body, format="json").status_code == 403
    assert api_for(None).post(BULK, body, format="json").status_code == 401
    assert not Label.objects.exists()


@pytest.mark.parametrize("raw", ["\ud800", "Tab\there", "a\u0000b"])
def test_add_names_quotes_an_invisible_character_escaped(api, campaign_factory, raw):
    # A lone surrogate echoed as is could not even be encoded in the response (a 500).
    campaign = campaign_factory()
    body = json.dumps({"ids": [campaign.pk], "add_names": [raw]})
    response = api.post(BULK, body, content_type="application/json")
    assert response.status_code == 400
    [problem] = response.json()["errors"]["add_names"]
    assert problem.startswith(f'"{ascii(raw)[1:-1]}": ')
    assert not Label.objects.exists()
