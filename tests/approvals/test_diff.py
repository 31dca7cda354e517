"""The readable difference an approver reads: approvals.diff against a live version."""

from __future__ import annotations

from typing import Any

import pytest

from approvals.diff import Change, diff, label_names_for, sections_changed, snapshot
from campaigns.choices import Section
from tests.factories import push_what


def content(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Weekly digest",
        "labels": [1, 2],
        "channel": "push",
        "type": "single_message",
        "delivery": "one_time",
        "who": {"type": "group", "match": "all", "conditions": []},
        "what": push_what("Hello"),
        "when": {"send": "later", "start_at": "2031-03-10T09:00", "timezone": "UTC"},
    }
    base.update(overrides)
    return base


def rows(changes: list[Change]) -> list[tuple[str, str, Any, Any]]:
    return [(c.path, c.kind, c.old, c.new) for c in changes]


def test_the_same_content_has_no_difference():
    assert diff(content(), content()) == []


def test_a_changed_name():
    [change] = diff(content(), content(name="Weekly digest, new look"))

    assert (change.field, change.section, change.path, change.kind) == (
        "name",
        Section.NAME,
        "name",
        "changed",
    )
    assert (change.old_text, change.new_text) == ("Weekly digest", "Weekly digest, new look")


def test_labels_added_and_removed_by_name_and_deleted_ones_by_id():
    names = {1: "Onboarding", 2: "promotions", 3: "Cart Recovery", 4: "Zebra"}

    changes = diff(content(labels=[1, 2, 9]), content(labels=[4, 3, 1, 7]), names)

    assert rows(changes) == [
        # Added, by name (case-insensitively), then removed; a label deleted since is "#id".
        ("labels", "added", None, "#7"),
        ("labels", "added", None, "Cart Recovery"),
        ("labels", "added", None, "Zebra"),
        ("labels", "removed", "#9", None),
        ("labels", "removed", "promotions", None),
    ]
    assert {c.section for c in changes} == {Section.LABELS}
    assert [c.old_text for c in changes[:3]] == ["", "", ""]
    assert changes[-1].new_text == ""


def test_labels_in_another_order_are_the_same_labels():
    assert diff(content(labels=[2, 1]), content(labels=[1, 2])) == []


def test_values_inside_who_what_and_when_are_named_by_their_path():
    old = content(
        who={
            "type": "group",
            "match": "all",
            "conditions": [
                {"type": "property", "property": "country", "op": "eq", "value": "IN"},
                {"type": "event", "event": "Charged", "window": {"last_days": 30}},
            ],
        }
    )
    new_who = {
        "type": "group",
        "match": "any",
        "conditions": [
            {"type": "property", "property": "country", "op": "eq", "value": "GB"},
            {"type": "event", "event": "Charged", "window": {"last_days": 7}},
        ],
    }
    new_what = {"message": {"title": "Hi", "deep_link": "herald://home"}}

    changes = diff(old, content(who=new_who, what=new_what))

    assert rows(changes) == [
        ("who.match", "changed", "all", "any"),
        ("who.conditions[0].value", "changed", "IN", "GB"),
        ("who.conditions[1].window.last_days", "changed", 30, 7),
        ("what.message.title", "changed", "Hello", "Hi"),
        ("what.message.body", "removed", "Your weekly digest is ready.", None),
        ("what.message.deep_link", "added", None, "herald://home"),
    ]
    assert [c.section for c in changes] == [Section.WHO] * 3 + [Section.WHAT] * 3
    # Numbers and structures read as JSON; text as it is.
    assert (changes[2].old_text, changes[2].new_text) == ("30", "7")


def test_lists_of_different_length_are_shown_whole():
    old = content(when={"dates": ["2031-03-10T09:00", "2031-03-17T09:00"], "timezone": "UTC"})
    new_dates = ["2031-03-10T09:00", "2031-03-17T09:00", "2031-03-24T09:00"]
    new = content(when={"dates": new_dates, "timezone": "UTC"})

    [change] = diff(old, new)

    assert (change.path, change.kind, change.section) == ("when.dates", "changed", Section.WHEN)
    assert change.new_text == '["2031-03-10T09:00", "2031-03-17T09:00", "2031-03-24T09:00"]'


def test_a_value_that_changes_type_is_one_change():
    old = content(what={"variants": [{"name": "A"}]})
    new = content(what={"variants": {"name": "A"}})

    assert rows(diff(old, new)) == [
        ("what.variants", "changed", [{"name": "A"}], {"name": "A"}),
    ]


def test_shape_fields_belong_to_their_sections():
    changes = diff(content(), content(channel="sms", delivery="recurring", type="ab_test"))

    assert [(c.path, c.section) for c in changes] == [
        ("channel", Section.WHAT),
        ("type", Section.WHAT),
        ("delivery", Section.WHEN),
    ]


def test_a_campaign_never_live_shows_every_field_as_added():
    new = content()

    changes = diff({}, new, {1: "Onboarding", 2: "Promotions"})

    assert [(c.path, c.kind) for c in changes] == [
        ("name", "added"),
        ("labels", "added"),
        ("labels", "added"),
        ("channel", "added"),
        ("type", "added"),
        ("delivery", "added"),
        ("who", "added"),
        ("what", "added"),
        ("when", "added"),
    ]
    assert all(c.old_text == "" for c in changes)


def test_sections_changed():
    assert sections_changed(content(), content(name="X", what=push_what("Y"))) == {
        Section.NAME,
        Section.WHAT,
    }
    assert sections_changed(content(labels=[2, 1]), content(labels=[1, 2])) == set()


@pytest.mark.django_db
def test_snapshot_and_label_names_read_the_database(campaign_factory, label_factory):
    spring, autumn = label_factory(name="Spring"), label_factory(name="Autumn")
    campaign = campaign_factory(name="Seasons")
    campaign.labels.set([spring, autumn])

    taken = snapshot(campaign)

    assert taken["name"] == "Seasons"
    assert taken["labels"] == sorted([spring.pk, autumn.pk])
    assert set(taken) == {
        "name",
        "labels",
        "channel",
        "type",
        "delivery",
        "who",
        "what",
        "when",
    }
    names = label_names_for(taken, {"labels": [424242]})
    assert names == {spring.pk: "Spring", autumn.pk: "Autumn"}
    assert label_names_for({}) == {}
