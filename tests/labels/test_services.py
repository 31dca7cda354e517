"""The label services: create under the rules and the cap, rename, delete, apply and remove on
campaigns (one and many), and the send-time snapshot. Refusals are checked to change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.choices import Action, Status
from campaigns.models import Campaign, CampaignAudit
from config.errors import Conflict, Forbidden, Invalid, LimitReached, NotFound, ReadOnly
from labels import services
from labels.models import Label
from labels.rules import MAX_LABELS

S = Status
pytestmark = pytest.mark.django_db
MISSING = 987_654


def ahead(days: int = 1) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def names(campaign: Campaign) -> list[str]:
    return sorted(campaign.labels.values_list("name", flat=True))


def label_audits(campaign: Campaign) -> list[CampaignAudit]:
    return list(CampaignAudit.objects.filter(campaign=campaign, action=Action.EDIT).order_by("pk"))


def state() -> tuple[Any, ...]:
    """Everything a label write could touch, to show a refusal wrote nothing."""
    return (
        sorted(Label.objects.values_list("pk", "name")),
        sorted(Campaign.labels.through.objects.values_list("campaign_id", "label_id")),
        CampaignAudit.objects.count(),
    )


# ---------------------------------------------------------------------------------------------
# label_create
# ---------------------------------------------------------------------------------------------
def test_create_trims_the_name_and_records_who_created_it(marketer) -> None:
    label = services.label_create(actor=marketer, name="  Onboarding  ")
    label.refresh_from_db()
    assert label.name == "Onboarding"
    assert label.created_by == marketer
    assert label.created_at is not None


@pytest.mark.parametrize("who", ["marketer", "approver", "admin"])
def test_every_role_may_create_labels(request, who: str) -> None:
    user = request.getfixturevalue(who)
    assert services.label_create(actor=user, name=f"By {who}").created_by == user


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_people_without_a_role_cannot_create_labels(request, who: str) -> None:
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
    with pytest.raises(Forbidden) as refused:
        services.label_create(actor=user, name="Onboarding")
    assert refused.value.message == "Your role does not allow you to create labels."
    assert not Label.objects.exists()


@pytest.mark.parametrize("existing", ["Onboarding", "onboarding", "ONBOARDING", "OnBoarding"])
def test_a_name_taken_in_any_case_is_refused_and_nothing_is_written(
    marketer, label_factory, existing: str
) -> None:
    label_factory(name=existing)
    before = state()
    with pytest.raises(Invalid) as refused:
        services.label_create(actor=marketer, name=" onBOARDing ")
    assert "already exists" in refused.value.message
    assert refused.value.errors["name"] == [refused.value.message]
    assert state() == before


def test_a_case_duplicate_with_non_ascii_letters_is_refused(marketer, label_factory) -> None:
    label_factory(name="Ünïcødé 🎉")
    with pytest.raises(Invalid):
        services.label_create(actor=marketer, name="üNÏCØDÉ 🎉")
    assert Label.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "A label needs a name."),
        ("   ", "A label needs a name."),
        ("x" * 65, "At most 64 characters (65 given)."),
        ("!Promo", "Label names cannot start with or contain !."),
        ("Promo > all", "Label names cannot contain >."),
        (None, "Give the label's name as text."),
    ],
)
def test_create_refuses_a_name_that_breaks_a_rule_and_writes_nothing(
    marketer, raw: Any, problem: str
) -> None:
    with pytest.raises(Invalid) as refused:
        services.label_create(actor=marketer, name=raw)
    assert refused.value.errors == {"name": [problem]}
    assert not Label.objects.exists()


def test_the_901st_label_is_refused_with_a_message_naming_900(marketer) -> None:
    Label.objects.bulk_create(Label(name=f"Label {i:03d}") for i in range(MAX_LABELS))
    with pytest.raises(LimitReached) as refused:
        services.label_create(actor=marketer, name="One too many")
    assert "900" in refused.value.message
    assert refused.value.code == "limit_reached"
    assert refused.value.http_status == 409
    assert refused.value.errors["name"] == ["The limit of 900 labels is reached."]
    assert Label.objects.count() == MAX_LABELS
    assert not Label.objects.filter(name="One too many").exists()


def test_after_deleting_one_of_900_labels_another_can_be_created(marketer, admin) -> None:
    Label.objects.bulk_create(Label(name=f"Label {i:03d}") for i in range(MAX_LABELS))
    services.label_delete(actor=admin, label_id=Label.objects.get(name="Label 000").pk)
    assert services.label_create(actor=marketer, name="Room again").pk
    assert Label.objects.count() == MAX_LABELS


def test_the_899th_and_900th_labels_are_accepted(marketer) -> None:
    Label.objects.bulk_create(Label(name=f"Label {i:03d}") for i in range(MAX_LABELS - 2))
    services.label_create(actor=marketer, name="Eight ninety nine")
    services.label_create(actor=marketer, name="Nine hundred")
    assert Label.objects.count() == MAX_LABELS


# ---------------------------------------------------------------------------------------------
# labels_get_or_create
# ---------------------------------------------------------------------------------------------
def test_get_or_create_returns_existing_labels_ignoring_case_and_creates_the_others(
    marketer, label_factory
) -> None:
    onboarding = label_factory(name="Onboarding")
    found = services.labels_get_or_create(
        actor=marketer, names=[" onboarding ", "Score Updates", "score updates"]
    )
    assert [label.name for label in found] == ["Onboarding", "Score Updates", "Score Updates"]
    assert found[0] == onboarding
    assert found[1] == found[2]
    assert Label.objects.count() == 2
    assert found[1].created_by == marketer


def test_get_or_create_refuses_an_invalid_name(marketer) -> None:
    with pytest.raises(Invalid):
        services.labels_get_or_create(actor=marketer, names=["Sale!"])
    assert not Label.objects.exists()


def test_get_or_create_refuses_new_labels_to_people_without_a_role(outsider) -> None:
    with pytest.raises(Forbidden):
        services.labels_get_or_create(actor=outsider, names=["Onboarding"])


def test_get_or_create_respects_the_cap(marketer) -> None:
    Label.objects.bulk_create(Label(name=f"Label {i:03d}") for i in range(MAX_LABELS))
    assert services.labels_get_or_create(actor=marketer, names=["label 007"])[0].name == (
        "Label 007"
    )
    with pytest.raises(LimitReached):
        services.labels_get_or_create(actor=marketer, names=["Brand new"])


def test_get_or_create_creates_all_the_names_or_none(marketer) -> None:
    Label.objects.bulk_create(Label(name=f"Label {i:03d}") for i in range(MAX_LABELS - 1))
    with pytest.raises(LimitReached):
        services.labels_get_or_create(actor=marketer, names=["Fits", "One too many"])
    assert not Label.objects.filter(name="Fits").exists()
    assert Label.objects.count() == MAX_LABELS - 1


def test_get_or_create_creates_none_when_a_later_name_breaks_a_rule(marketer) -> None:
    with pytest.raises(Invalid):
        services.labels_get_or_create(actor=marketer, names=["Fine", "Not fine!"])
    assert not Label.objects.exists()


# ---------------------------------------------------------------------------------------------
# label_rename
# ---------------------------------------------------------------------------------------------
def test_rename_shows_the_new_name_on_every_campaign_at_once(
    admin, campaign_factory, label_factory
) -> None:
    label = label_factory(name="Onboardng")
    first, second = campaign_factory(), campaign_factory(archived_at=timezone.now())
    first.labels.add(label)
    second.labels.add(label)
    audits = CampaignAudit.objects.count()
    renamed = services.label_rename(actor=admin, label_id=label.pk, name="  Onboarding ")
    assert renamed.name == "Onboarding"
    assert names(first) == ["Onboarding"]
    assert names(second) == ["Onboarding"]
    # The campaigns' label sets did not change, so their timelines get no row.
    assert CampaignAudit.objects.count() == audits


def test_rename_to_another_labels_name_in_other_case_is_refused(admin, label_factory) -> None:
    label_factory(name="Reengage")
    label = label_factory(name="Winback")
    before = state()
    with pytest.raises(Invalid) as refused:
        services.label_rename(actor=admin, label_id=label.pk, name="REENGAGE")
    assert "already exists" in refused.value.message
    assert state() == before


def test_rename_to_its_own_name_in_another_case_is_allowed(admin, label_factory) -> None:
    label = label_factory(name="score updates")
    services.label_rename(actor=admin, label_id=label.pk, name="Score Updates")
    label.refresh_from_db()
    assert label.name == "Score Updates"


def test_rename_to_the_same_name_changes_nothing(admin, label_factory) -> None:
    label = label_factory(name="Diwali")
    updated_at = label.updated_at
    services.label_rename(actor=admin, label_id=label.pk, name=" Diwali ")
    label.refresh_from_db()
    assert label.updated_at == updated_at


@pytest.mark.parametrize("raw", ["", "Promo!", "x" * 65, "a\tb"])
def test_rename_follows_the_naming_rules(admin, label_factory, raw: str) -> None:
    label = label_factory(name="Promo")
    with pytest.raises(Invalid):
        services.label_rename(actor=admin, label_id=label.pk, name=raw)
    label.refresh_from_db()
    assert label.name == "Promo"


@pytest.mark.parametrize("who", ["marketer", "approver", "outsider"])
def test_only_admins_rename_labels(request, label_factory, who: str) -> None:
    label = label_factory(name="Promo")
    with pytest.raises(Forbidden) as refused:
        services.label_rename(actor=request.getfixturevalue(who), label_id=label.pk, name="New")
    assert refused.value.message == "Your role does not allow you to rename labels."
    label.refresh_from_db()
    assert label.name == "Promo"


@pytest.mark.parametrize("label_id", [MISSING, "abc", None, 2**70])
def test_renaming_a_label_that_does_not_exist_is_not_found(admin, label_id: Any) -> None:
    with pytest.raises(NotFound):
        services.label_rename(actor=admin, label_id=label_id, name="New")


# ---------------------------------------------------------------------------------------------
# label_delete
# ---------------------------------------------------------------------------------------------
def test_delete_takes_the_label_off_every_campaign_archived_too_and_returns_the_count(
    admin, campaign_factory, label_factory
) -> None:
    doomed, kept = label_factory(name="Old promo"), label_factory(name="Onboarding")
    draft = campaign_factory()
    archived = campaign_factory(status=S.COMPLETED, archived_at=timezone.now())
    running = campaign_factory(status=S.RUNNING)
    untouched = campaign_factory()
    for campaign in (draft, archived, running):
        campaign.labels.add(doomed, kept)
    untouched.labels.add(kept)

    assert services.label_delete(actor=admin, label_id=doomed.pk) == 3

    assert not Label.objects.filter(pk=doomed.pk).exists()
    for campaign in (draft, archived, running, untouched):
        assert names(campaign) == ["Onboarding"]
    assert label_audits(untouched) == []


def test_delete_writes_one_audit_row_per_campaign_naming_the_label(
    admin, campaign_factory, label_factory
) -> None:
    doomed = label_factory(name="Old promo")
    archived = campaign_factory(status=S.STOPPED, archived_at=timezone.now())
    running = campaign_factory(status=S.RUNNING)
    for campaign in (archived, running):
        campaign.labels.add(doomed)
    label_id = doomed.pk

    services.label_delete(actor=admin, label_id=label_id)

    for campaign, status in ((archived, S.STOPPED), (running, S.RUNNING)):
        [audit] = label_audits(campaign)
        assert audit.actor == admin
        assert (audit.from_status, audit.to_status) == (status, status)
        assert audit.changes == {
            "labels": {
                "removed": [{"id": label_id, "name": "Old promo"}],
                "reason": "label deleted",
            }
        }


def test_deleting_an_unused_label_returns_zero_and_writes_no_audit(admin, label_factory) -> None:
    label = label_factory()
    assert services.label_delete(actor=admin, label_id=label.pk) == 0
    assert CampaignAudit.objects.count() == 0
    assert not Label.objects.exists()


@pytest.mark.parametrize("who", ["marketer", "approver", "outsider"])
def test_only_admins_delete_labels(request, campaign_factory, label_factory, who: str) -> None:
    label = label_factory()
    campaign_factory().labels.add(label)
    before = state()
    with pytest.raises(Forbidden) as refused:
        services.label_delete(actor=request.getfixturevalue(who), label_id=label.pk)
    assert refused.value.message == "Your role does not allow you to delete labels."
    assert state() == before


def test_deleting_a_label_that_does_not_exist_is_not_found(admin) -> None:
    with pytest.raises(NotFound):
        services.label_delete(actor=admin, label_id=MISSING)


def test_audit_rows_keep_the_name_after_a_later_rename_and_delete(
    admin, marketer, campaign_factory, label_factory
) -> None:
    label = label_factory(name="Onboarding")
    campaign = campaign_factory()
    campaign_services.campaigns_bulk_labels(actor=marketer, ids=[campaign.pk], add=[label.pk])
    services.label_rename(actor=admin, label_id=label.pk, name="Welcome")
    services.label_delete(actor=admin, label_id=label.pk)
    added, removed = label_audits(campaign)
    assert added.changes["labels"]["added"] == [{"id": label.pk, "name": "Onboarding"}]
    assert removed.changes["labels"]["removed"] == [{"id": label.pk, "name": "Welcome"}]


# ---------------------------------------------------------------------------------------------
# campaign_labels_change (one campaign)
# ---------------------------------------------------------------------------------------------
def test_labels_change_adds_and_removes_with_one_audit_row_naming_them(
    marketer, campaign_factory, label_factory
) -> None:
    keep, drop, new = (
        label_factory(name="Keep"),
        label_factory(name="Drop"),
        label_factory(name="New"),
    )
    campaign = campaign_factory()
    campaign.labels.add(keep, drop)
    changed_campaign, changed = campaign_services.campaign_labels_change(
        actor=marketer, campaign_id=campaign.pk, add=[new.pk], remove=[drop.pk]
    )
    assert changed is True
    assert names(changed_campaign) == ["Keep", "New"]
    [audit] = label_audits(campaign)
    assert audit.actor == marketer
    assert audit.changes["labels"]["added"] == [{"id": new.pk, "name": "New"}]
    assert audit.changes["labels"]["removed"] == [{"id": drop.pk, "name": "Drop"}]


def test_labels_change_that_changes_nothing_writes_nothing(
    marketer, campaign_factory, label_factory
) -> None:
    label, absent = label_factory(), label_factory()
    campaign = campaign_factory()
    campaign.labels.add(label)
    before = state()
    _, changed = campaign_services.campaign_labels_change(
        actor=marketer, campaign_id=campaign.pk, add=[label.pk], remove=[absent.pk]
    )
    assert changed is False
    assert state() == before


def test_labels_of_an_archived_campaign_cannot_change_even_as_a_no_op(
    marketer, campaign_factory, label_factory
) -> None:
    label = label_factory()
    campaign = campaign_factory(status=S.COMPLETED, archived_at=timezone.now())
    campaign.labels.add(label)
    for add in ([], [label.pk]):
        with pytest.raises(ReadOnly) as refused:
            campaign_services.campaign_labels_change(
                actor=marketer, campaign_id=campaign.pk, add=add
            )
        assert "Archived campaigns are read-only" in refused.value.message


def test_labels_of_a_running_campaign_are_locked_and_the_refusal_says_why(
    marketer, campaign_factory, label_factory
) -> None:
    label = label_factory()
    campaign = campaign_factory(status=S.RUNNING)
    with pytest.raises(ReadOnly) as refused:
        campaign_services.campaign_labels_change(
            actor=marketer, campaign_id=campaign.pk, add=[label.pk]
        )
    assert refused.value.message == "Labels are locked: Running: only What can change."
    assert refused.value.errors == {"labels": [refused.value.message]}
    assert names(campaign) == []


def test_labels_change_refuses_people_without_edit_rights(
    outsider, campaign_factory, label_factory
) -> None:
    label = label_factory()
    campaign = campaign_factory()
    with pytest.raises(Forbidden):
        campaign_services.campaign_labels_change(
            actor=outsider, campaign_id=campaign.pk, add=[label.pk]
        )
    assert names(campaign) == []


def test_labels_change_on_a_campaign_that_does_not_exist_is_not_found(
    marketer, label_factory
) -> None:
    with pytest.raises(NotFound):
        campaign_services.campaign_labels_change(
            actor=marketer, campaign_id=MISSING, add=[label_factory().pk]
        )


# ---------------------------------------------------------------------------------------------
# campaigns_bulk_labels (many campaigns)
# ---------------------------------------------------------------------------------------------
# Whether each state lets labels change (archived aside): the edit table's Labels column. Scheduled
# and Awaiting Next Run campaigns have their next send ahead, as they do until the scheduler runs.
LABELS_BY_STATE: list[tuple[Status, str]] = [
    (S.DRAFT, "done"),
    (S.SCHEDULED, "done"),
    (S.AWAITING_NEXT_RUN, "done"),
    (S.PENDING_APPROVAL, "done"),
    (S.REJECTED, "done"),
    (S.RUNNING, "read_only"),
    (S.STOPPED, "read_only"),
    (S.COMPLETED, "read_only"),
]


@pytest.mark.parametrize(("status", "code"), LABELS_BY_STATE)
def test_bulk_apply_follows_the_edit_table(
    marketer, campaign_factory, label_factory, status: Status, code: str
) -> None:
    label = label_factory(name="Onboarding")
    campaign = campaign_factory(status=status, next_run_at=ahead())
    [result] = campaign_services.campaigns_bulk_labels(
        actor=marketer, ids=[campaign.pk], add=[label.pk]
    )
    assert (result.id, result.code) == (campaign.pk, code)
    assert result.ok is (code == "done")
    assert names(campaign) == (["Onboarding"] if code == "done" else [])
    assert len(label_audits(campaign)) == (1 if code == "done" else 0)


def test_labels_lock_once_the_next_send_time_has_passed(
    marketer, campaign_factory, label_factory
) -> None:
    label = label_factory()
    campaign = campaign_factory(status=S.AWAITING_NEXT_RUN, next_run_at=ahead(days=-1))
    [result] = campaign_services.campaigns_bulk_labels(
        actor=marketer, ids=[campaign.pk], add=[label.pk]
    )
    assert (result.ok, result.code) == (False, "read_only")
    assert "The scheduled time has passed" in result.message
    assert names(campaign) == []


def test_awaiting_next_run_labels_can_change(marketer, campaign_factory, label_factory) -> None:
    label = label_factory(name="Reengage")
    campaign = campaign_factory(status=S.AWAITING_NEXT_RUN, next_run_at=ahead())
    [result] = campaign_services.campaigns_bulk_labels(
        actor=marketer, ids=[campaign.pk], add=[label.pk]
    )
    assert (result.ok, result.code, result.message) == (True, "done", "Labels updated.")
    assert names(campaign) == ["Reengage"]


def test_bulk_apply_gives_a_result_per_campaign_in_the_order_given(
    marketer, campaign_factory, label_factory
) -> None:
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    draft = campaign_factory(name="Welcome series")
    already = campaign_factory(name="Already there")
    already.labels.add(onboarding, reengage)
    archived = campaign_factory(name="Last year", archived_at=timezone.now())
    running = campaign_factory(name="Live now", status=S.RUNNING)
    ids = [running.pk, MISSING, draft.pk, archived.pk, "not-an-id", already.pk]

    results = campaign_services.campaigns_bulk_labels(
        actor=marketer, ids=ids, add=[onboarding.pk, reengage.pk]
    )

    assert [(r.id, r.ok, r.code) for r in results] == [
        (running.pk, False, "read_only"),
        (MISSING, False, "not_found"),
        (draft.pk, True, "done"),
        (archived.pk, False, "read_only"),
        ("not-an-id", False, "not_found"),
        (already.pk, True, "unchanged"),
    ]
    by_id = {r.id: r for r in results}
    assert by_id[running.pk].message == "Labels are locked: Running: only What can change."
    assert "Archived campaigns are read-only" in by_id[archived.pk].message
    assert by_id[MISSING].message == f"Campaign {MISSING} does not exist."
    assert by_id[draft.pk].name == "Welcome series"
    assert by_id[already.pk].message == "Already as asked; nothing to change."
    assert names(draft) == ["Onboarding", "Reengage"]
    assert names(running) == [] and names(archived) == []
    [audit] = CampaignAudit.objects.all()
    assert audit.campaign_id == draft.pk
    assert audit.changes["labels"]["added"] == [
        {"id": onboarding.pk, "name": "Onboarding"},
        {"id": reengage.pk, "name": "Reengage"},
    ]
    assert audit.changes["labels"]["removed"] == []


def test_bulk_remove_takes_labels_off_and_audits_their_names(
    marketer, campaign_factory, label_factory
) -> None:
    promo, keep = label_factory(name="Promo"), label_factory(name="Keep")
    with_both, with_keep = campaign_factory(), campaign_factory()
    with_both.labels.add(promo, keep)
    with_keep.labels.add(keep)
    results = campaign_services.campaigns_bulk_labels(
        actor=marketer, ids=[with_both.pk, with_keep.pk], remove=[promo.pk]
    )
    assert [r.code for r in results] == ["done", "unchanged"]
    assert names(with_both) == ["Keep"] and names(with_keep) == ["Keep"]
    [audit] = label_audits(with_both)
    assert audit.changes["labels"]["removed"] == [{"id": promo.pk, "name": "Promo"}]
    assert audit.changes["labels"]["added"] == []
    assert label_audits(with_keep) == []


@pytest.mark.parametrize(
    "labels", [{"add": [MISSING]}, {"remove": [MISSING]}, {"add": ["abc"]}, {"add": [0]}]
)
def test_an_unknown_label_refuses_the_whole_bulk_request_before_anything_changes(
    marketer, campaign_factory, label_factory, labels: dict[str, list[Any]]
) -> None:
    good = label_factory()
    campaigns = [campaign_factory(), campaign_factory()]
    before = state()
    with pytest.raises(Invalid) as refused:
        campaign_services.campaigns_bulk_labels(
            actor=marketer,
            ids=[c.pk for c in campaigns],
            add=[good.pk, *labels.get("add", [])],
            remove=labels.get("remove", []),
        )
    assert "labels" in refused.value.errors
    assert state() == before


@pytest.mark.parametrize(
    ("ids", "add", "field"),
    [([], "label", "ids"), ("1,2", "label", "ids"), ([1], None, "add"), ([1], "text", "labels")],
)
def test_a_malformed_bulk_request_is_invalid(
    marketer, label_factory, ids: Any, add: Any, field: str
) -> None:
    label = label_factory()
    given = {"label": [label.pk], None: [], "text": "Onboarding"}[add]
    with pytest.raises(Invalid) as refused:
        campaign_services.campaigns_bulk_labels(actor=marketer, ids=ids, add=given)
    assert field in refused.value.errors


def test_bulk_labels_refuse_people_without_edit_rights(
    outsider, campaign_factory, label_factory
) -> None:
    label = label_factory()
    campaign = campaign_factory()
    with pytest.raises(Forbidden):
        campaign_services.campaigns_bulk_labels(actor=outsider, ids=[campaign.pk], add=[label.pk])
    assert names(campaign) == []


def test_a_repeated_campaign_id_is_reported_once(marketer, campaign_factory, label_factory) -> None:
    label = label_factory()
    campaign = campaign_factory()
    results = campaign_services.campaigns_bulk_labels(
        actor=marketer, ids=[campaign.pk, str(campaign.pk)], add=[label.pk]
    )
    assert [(r.id, r.code) for r in results] == [(campaign.pk, "done")]
    assert len(label_audits(campaign)) == 1


# ---------------------------------------------------------------------------------------------
# label_snapshot_for (what a Notification Sent event stores)
# ---------------------------------------------------------------------------------------------
def test_snapshot_holds_ids_and_names_as_at_the_call(
    admin, campaign_factory, label_factory
) -> None:
    onboarding, reengage = label_factory(name="Onboarding"), label_factory(name="Reengage")
    campaign = campaign_factory()
    campaign.labels.add(reengage, onboarding)

    snapshot = services.label_snapshot_for(campaign)
    assert snapshot == [
        {"id": onboarding.pk, "name": "Onboarding"},
        {"id": reengage.pk, "name": "Reengage"},
    ]

    services.label_rename(actor=admin, label_id=onboarding.pk, name="Welcome")
    services.label_delete(actor=admin, label_id=reengage.pk)
    assert snapshot == [
        {"id": onboarding.pk, "name": "Onboarding"},
        {"id": reengage.pk, "name": "Reengage"},
    ]
    assert services.label_snapshot_for(campaign) == [{"id": onboarding.pk, "name": "Welcome"}]


def test_snapshot_of_a_campaign_without_labels_is_empty(campaign_factory) -> None:
    assert services.label_snapshot_for(campaign_factory()) == []


def _audience_of_label(label_id: int) -> dict[str, Any]:
    return {
        "type": "group",
        "match": "all",
        "conditions": [
            {
                "type": "group",
                "match": "any",
                "conditions": [
                    {"type": "label_sent", "label_id": label_id, "window": {"last_days": 30}},
                ],
            },
        ],
    }


def test_a_label_used_by_an_audience_cannot_be_deleted(admin, campaign_factory, label_factory):
    label = label_factory(name="Onboarding")
    campaign_factory(name="Retention check", who=_audience_of_label(label.pk))

    with pytest.raises(Conflict) as refused:
        services.label_delete(actor=admin, label_id=label.pk)

    assert "“Retention check”" in refused.value.message
    assert Label.objects.filter(pk=label.pk).exists()


def test_a_label_a_saved_segment_selects_by_cannot_be_deleted(admin, label_factory):
    from audience.models import Segment

    label = label_factory(name="Onboarding")
    Segment.objects.create(
        name="Onboarded lately", definition=_audience_of_label(label.pk), created_by=admin
    )

    with pytest.raises(Conflict) as refused:
        services.label_delete(actor=admin, label_id=label.pk)

    assert "segment “Onboarded lately”" in refused.value.message
    assert Label.objects.filter(pk=label.pk).exists()


def test_archived_audiences_do_not_hold_a_label_back(admin, campaign_factory, label_factory):
    label = label_factory(name="Onboarding")
    campaign_factory(who=_audience_of_label(label.pk), archived_at=timezone.now())
    other = label_factory(name="Reengage")
    campaign_factory(who=_audience_of_label(other.pk))

    services.label_delete(actor=admin, label_id=label.pk)

    assert not Label.objects.filter(pk=label.pk).exists()
