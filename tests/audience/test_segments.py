"""Saved segments and the engine's edges: labels renamed or deleted after the send, segments
within segments (nesting, loops, limits), definitions refused with their field, what each channel
can reach, and values that stay values however they look."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from audience import segment_services as services
from audience.models import Device, Profile, PropertyDefinition, Segment
from audience.segments import (
    EvaluationTooSlow,
    _fetch_one,
    compile_who,
    estimate,
    segment_count,
)
from audience.services import record_notification_sent
from campaigns import services as campaign_services
from campaigns.validation import (
    MAX_EXPANDED_CONDITIONS,
    MAX_SEGMENT_NESTING,
    MAX_WHO_CONDITIONS,
    validate_who,
)
from config.errors import Conflict, Forbidden, Invalid, NotFound
from labels import services as label_services
from labels.models import Label
from tests.factories import later_when, push_what

NOW = timezone.now()


def group(*conditions: dict[str, Any], match: str = "all", **extra: Any) -> dict[str, Any]:
    return {"type": "group", "match": match, "conditions": list(conditions), **extra}


def prop(name: str, op: str, value: Any = ...) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "property", "property": name, "op": op}
    if value is not ...:
        node["value"] = value
    return node


def uses(segment: Segment) -> dict[str, Any]:
    return {"type": "segment", "segment_id": segment.pk}


def selected(who: dict[str, Any]) -> set[str]:
    sql, params = compile_who(who)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT identity FROM audience_profile WHERE id IN ({sql})", params)  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


def profile(identity: str, **fields: Any) -> Profile:
    return Profile.objects.create(identity=identity, **fields)


@pytest.fixture
def cities(db):
    PropertyDefinition.objects.create(name="city", type="string")
    PropertyDefinition.objects.create(name="age", type="number")
    PropertyDefinition.objects.create(name="vip", type="boolean")
    for identity, props in [
        ("ana", {"city": "Pune", "age": 31, "vip": True}),
        ("ben", {"city": "Goa", "age": 45}),
        ("cy", {"city": "Pune", "age": 19}),
        ("di", {}),
    ]:
        profile(identity, properties=props)


# ----------------------------------------------------------------------------------------------
# "Was sent a campaign labelled X": labels as they were at send time
# ----------------------------------------------------------------------------------------------
def test_label_condition_matches_by_id_after_the_label_is_renamed_or_deleted(
    admin, campaign_factory, label_factory
):
    onboarding, promo = label_factory(name="Onboarding"), label_factory(name="Promo")
    welcome = campaign_factory(name="Welcome")
    welcome.labels.add(onboarding)
    sale = campaign_factory(name="Sale")
    sale.labels.add(promo)
    ana, ben, cy = profile("ana"), profile("ben"), profile("cy")
    record_notification_sent(profile_id=ana.pk, campaign=welcome, channel="push", variant=None)
    record_notification_sent(profile_id=ben.pk, campaign=sale, channel="push", variant=None)
    record_notification_sent(
        profile_id=cy.pk,
        campaign=welcome,
        channel="push",
        variant=None,
        ts=timezone.now() - dt.timedelta(days=40),
    )
    # Taken off the campaign after the sends: the sends still carry it.
    welcome.labels.remove(onboarding)
    recent = group({"type": "label_sent", "label_id": onboarding.pk, "window": {"last_days": 30}})
    ever = group({"type": "label_sent", "label_id": onboarding.pk})
    assert selected(recent) == {"ana"} and selected(ever) == {"ana", "cy"}

    label_services.label_rename(actor=admin, label_id=onboarding.pk, name="First steps")
    assert selected(recent) == {"ana"}

    label_services.label_delete(actor=admin, label_id=onboarding.pk)
    assert selected(recent) == {"ana"} and selected(ever) == {"ana", "cy"}
    # A label created later is a different id: it matches none of those sends.
    fresh = label_factory(name="Onboarding")
    assert selected(group({"type": "label_sent", "label_id": fresh.pk})) == set()
    assert selected(group({"type": "campaign_sent", "campaign_id": welcome.pk})) == {"ana", "cy"}


def test_a_deleted_label_stays_in_a_segment_but_cannot_be_added_to_one(
    admin, marketer, label_factory
):
    label = label_factory(name="Onboarding")
    definition = group({"type": "label_sent", "label_id": label.pk})
    segment = services.segment_create(actor=marketer, name="Onboarded", definition=definition)
    # The Labels page refuses to delete a label a segment selects by ...
    with pytest.raises(Conflict):
        label_services.label_delete(actor=admin, label_id=label.pk)
    # ... but a segment may still name one that is gone (saved before that rule, say).
    Label.objects.filter(pk=label.pk).delete()
    # Still editable (the label matched sends made while it existed) ...
    services.segment_update(
        actor=marketer,
        segment_id=segment.pk,
        definition=group(*definition["conditions"], prop("$email", "exists")),
    )
    # ... but naming it anew is refused.
    with pytest.raises(Invalid) as refused:
        services.segment_create(actor=marketer, name="Again", definition=definition)
    assert refused.value.errors == {"definition": [f"Label {label.pk} does not exist."]}


# ----------------------------------------------------------------------------------------------
# Segments in segments
# ----------------------------------------------------------------------------------------------
def test_segments_nest_and_apply_their_current_definition(marketer, cities):
    pune = services.segment_create(
        actor=marketer, name="Pune", definition=group(prop("city", "eq", "Pune"))
    )
    adults = services.segment_create(
        actor=marketer, name="Pune adults", definition=group(uses(pune), prop("age", "gte", 21))
    )
    assert selected(group(uses(adults))) == {"ana"}
    assert selected(group(uses(adults), negate=True)) == {"ben", "cy", "di"}
    services.segment_update(
        actor=marketer, segment_id=pune.pk, definition=group(prop("city", "eq", "Goa"))
    )
    assert selected(group(uses(adults))) == {"ben"}


def test_a_segment_cannot_use_itself(marketer, cities):
    pune = services.segment_create(
        actor=marketer, name="Pune", definition=group(prop("city", "eq", "Pune"))
    )
    with pytest.raises(Invalid) as refused:
        services.segment_update(actor=marketer, segment_id=pune.pk, definition=group(uses(pune)))
    assert "loop" in refused.value.errors["definition.conditions[0].segment_id"][0]


def test_segments_cannot_use_each_other_in_a_loop(marketer, cities):
    a = services.segment_create(actor=marketer, name="A", definition=group(prop("age", "gt", 1)))
    b = services.segment_create(actor=marketer, name="B", definition=group(uses(a)))
    c = services.segment_create(actor=marketer, name="C", definition=group(uses(b)))
    with pytest.raises(Invalid) as refused:
        services.segment_update(
            actor=marketer, segment_id=a.pk, definition=group(prop("age", "gt", 1), uses(c))
        )
    message = refused.value.errors["definition.conditions[1].segment_id"][0]
    assert message == "Saved segments refer to each other in a loop: “A” → “C” → “B” → “A”."
    assert Segment.objects.get(pk=a.pk).definition == group(prop("age", "gt", 1))


def test_segments_nest_at_most_three_deep(marketer, cities, campaign_factory):
    assert MAX_SEGMENT_NESTING == 3
    a = services.segment_create(actor=marketer, name="A", definition=group(prop("age", "gt", 1)))
    b = services.segment_create(actor=marketer, name="B", definition=group(uses(a)))
    c = services.segment_create(actor=marketer, name="C", definition=group(uses(b)))
    # A Who using C reaches three levels: allowed.
    assert validate_who(group(uses(c))) == {}
    assert segment_count(group(uses(c))) == 3  # "di" has no age
    # A fourth level is refused, whether a new segment or a Who adds it ...
    with pytest.raises(Invalid) as refused:
        services.segment_create(actor=marketer, name="D", definition=group(uses(c)))
    assert "nest at most 3 deep" in refused.value.errors["definition.conditions[0].segment_id"][0]
    # ... or a change deep down would make a user of it too deep.
    campaign_factory(name="Uses C", who=group(uses(c)))
    x = services.segment_create(actor=marketer, name="X", definition=group(prop("age", "lt", 99)))
    with pytest.raises(Invalid) as refused:
        services.segment_update(actor=marketer, segment_id=a.pk, definition=group(uses(x)))
    assert refused.value.errors["definition"][0].startswith("Segment “C”, which uses this one:")
    assert Segment.objects.get(pk=a.pk).definition == group(prop("age", "gt", 1))


def test_a_change_that_would_make_a_campaign_too_large_is_refused(
    marketer, cities, campaign_factory
):
    a = services.segment_create(actor=marketer, name="A", definition=group(prop("age", "gt", 1)))
    campaign_factory(name="Spring", who=group(prop("vip", "eq", True), *[uses(a)] * 5))
    bigger = group(*[prop("age", "gt", i) for i in range(MAX_WHO_CONDITIONS)])
    # A itself stays within the limits; the campaign would hold 1 + 5 x 100 conditions.
    with pytest.raises(Invalid) as refused:
        services.segment_update(actor=marketer, segment_id=a.pk, definition=bigger)
    assert refused.value.errors["definition"] == [
        "Campaign “Spring”: With its saved segments expanded the audience has 501 conditions; "
        f"at most {MAX_EXPANDED_CONDITIONS}."
    ]
    smaller = group(*[prop("age", "gt", i) for i in range(90)])
    services.segment_update(actor=marketer, segment_id=a.pk, definition=smaller)


def test_a_campaign_refers_to_segments_that_exist(marketer, cities):
    pune = services.segment_create(
        actor=marketer, name="Pune", definition=group(prop("city", "eq", "Pune"))
    )
    content = {"what": push_what(), "when": later_when()}
    campaign = campaign_services.campaign_create(
        actor=marketer, name="Pune push", channel="push", who=group(uses(pune)), **content
    )
    assert campaign.who == group(uses(pune))
    with pytest.raises(Invalid) as refused:
        campaign_services.campaign_create(
            actor=marketer,
            name="Ghost",
            channel="push",
            who=group({"type": "segment", "segment_id": 999_999}),
            **content,
        )
    assert refused.value.errors["who.conditions[0].segment_id"] == [
        "Segment 999999 does not exist."
    ]


# ----------------------------------------------------------------------------------------------
# Saving and deleting
# ----------------------------------------------------------------------------------------------
def test_deleting_a_segment_in_use_is_refused_naming_the_users(marketer, cities, campaign_factory):
    pune = services.segment_create(
        actor=marketer, name="Pune", definition=group(prop("city", "eq", "Pune"))
    )
    campaign = campaign_factory(name="Spring", who=group(uses(pune)))
    services.segment_create(actor=marketer, name="Pune VIPs", definition=group(uses(pune)))
    with pytest.raises(Conflict) as refused:
        services.segment_delete(actor=marketer, segment_id=pune.pk)
    assert refused.value.message == (
        "“Pune” is used by campaign “Spring” and segment “Pune VIPs”. Change those audiences first."
    )
    Segment.objects.filter(name="Pune VIPs").delete()
    campaign.archived_at = timezone.now()
    campaign.save()
    # Archived campaigns are read-only history: they do not hold the segment.
    services.segment_delete(actor=marketer, segment_id=pune.pk)
    assert not Segment.objects.filter(pk=pune.pk).exists()
    with pytest.raises(NotFound):
        services.segment_delete(actor=marketer, segment_id=pune.pk)


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (None, "definition"),
        ({"type": "group", "match": "all"}, "definition.conditions"),
        (group(prop("city", "like", "P%")), "definition.conditions[0].op"),
        (group({"type": "segment", "segment_id": 0}), "definition.conditions[0].segment_id"),
        (group({"type": "segment", "segment_id": 424242}), "definition.conditions[0].segment_id"),
        (group(prop("age", "eq", "old")), "definition.conditions[0].value"),
        (group(prop("age", "between", [40, 20])), "definition.conditions[0].value"),
        (group(prop("vip", "gt", 1)), "definition.conditions[0].op"),
        (group(prop("city", "gt", 3)), "definition.conditions[0].op"),
        (group(prop("city", "contains", True)), "definition.conditions[0].value"),
        (group(prop("unknown", "gt", "soon")), "definition.conditions[0].value"),
        (group(prop("signup", "within_days", 10**9)), "definition.conditions[0].value"),
        (
            group({"type": "event", "event": "Charged", "filters": [prop("amount", "lt", "x")]}),
            "definition.conditions[0].filters[0].value",
        ),
        (group(group(group(group(group(group(prop("age", "gt", 1))))))), "definition"),
        (group(prop("city", "eq", "a\x00b")), "definition"),
    ],
    ids=[
        "not an object",
        "no conditions",
        "unknown operator",
        "segment id zero",
        "no such segment",
        "text for a number",
        "between upside down",
        "gt on a boolean",
        "gt on text",
        "a boolean for text",
        "gt with text on an unknown property",
        "within an absurd number of days",
        "event filter comparing text",
        "groups six deep",
        "a NUL character",
    ],
)
def test_an_invalid_definition_is_refused_naming_its_field(marketer, cities, definition, field):
    with pytest.raises(Invalid) as refused:
        services.segment_create(actor=marketer, name="Bad", definition=definition)
    assert any(key == field or key.startswith(field) for key in refused.value.errors), (
        refused.value.errors
    )
    assert not Segment.objects.exists()


def test_names_are_trimmed_unique_ignoring_case_and_checked(marketer, cities):
    everyone = group()
    first = services.segment_create(actor=marketer, name="  Pune  ", definition=everyone)
    assert first.name == "Pune"
    for name, message in [
        ("pune", services._TAKEN),
        ("", services.NAME_REQUIRED),
        ("x" * 121, "At most 120 characters."),
        ("a\tb", "No control characters (tabs, line breaks)."),
        (7, services.NAME_REQUIRED),
    ]:
        with pytest.raises(Invalid) as refused:
            services.segment_create(actor=marketer, name=name, definition=everyone)
        assert refused.value.errors["name"] == [message]
    second = services.segment_create(actor=marketer, name="Goa", definition=everyone)
    with pytest.raises(Invalid):
        services.segment_rename(actor=marketer, segment_id=second.pk, name="PUNE")
    assert services.segment_rename(actor=marketer, segment_id=second.pk, name="Goa!").name == "Goa!"


def test_every_problem_is_reported_at_once(marketer, cities):
    with pytest.raises(Invalid) as refused:
        services.segment_create(
            actor=marketer,
            name="",
            description="x" * 3000,
            definition=group(prop("age", "eq", "x")),
        )
    assert set(refused.value.errors) == {"name", "description", "definition.conditions[0].value"}


def test_people_without_a_role_cannot_write_segments(outsider, marketer):
    with pytest.raises(Forbidden):
        services.segment_create(actor=outsider, name="Mine", definition=group())
    segment = services.segment_create(actor=marketer, name="Theirs", definition=group())
    with pytest.raises(Forbidden):
        services.segment_update(actor=outsider, segment_id=segment.pk, name="Mine")
    with pytest.raises(Forbidden):
        services.segment_delete(actor=outsider, segment_id=segment.pk)


# ----------------------------------------------------------------------------------------------
# The estimate: who each channel can reach
# ----------------------------------------------------------------------------------------------
def test_the_estimate_counts_who_each_channel_can_reach(db):
    gone = timezone.now()
    rows = {
        # identity: fields, devices [(kind, consent, disabled)]
        "e-unknown": ({"email": "a@example.com"}, []),
        "e-in": ({"email": "b@example.com", "email_consent": "opted_in"}, []),
        "e-out": ({"email": "c@example.com", "email_consent": "opted_out"}, []),
        "e-unsubscribed": ({"email": "d@example.com", "email_unsubscribed_at": gone}, []),
        "sms-in": ({"phone": "+14155550101", "sms_consent": "opted_in"}, []),
        "sms-unknown": ({"phone": "+14155550102"}, []),
        "sms-no-phone": ({"sms_consent": "opted_in"}, []),
        "wa-in": ({"phone": "+14155550103", "whatsapp_consent": "opted_in"}, []),
        "wa-unsubscribed": (
            {
                "phone": "+14155550104",
                "whatsapp_consent": "opted_in",
                "whatsapp_unsubscribed_at": gone,
            },
            [],
        ),
        "push-two": ({}, [("push", "opted_in", False), ("push", "opted_in", False)]),
        "push-disabled": ({}, [("push", "opted_in", True)]),
        "push-out": ({}, [("push", "opted_out", False)]),
        "web": ({}, [("web_push", "opted_in", False), ("push", "opted_out", False)]),
        "nobody": ({}, []),
    }
    for identity, (fields, devices) in rows.items():
        person = profile(f"est-{identity}", **fields)
        for i, (kind, consent, disabled) in enumerate(devices):
            Device.objects.create(
                profile=person,
                kind=kind,
                token=f"{identity}-{i}",
                push_consent=consent,
                disabled_at=gone if disabled else None,
            )
    result = estimate(group(prop("$identity", "contains", "est-")))
    assert result == {
        "total": len(rows),
        "reachable": {"email": 2, "sms": 1, "whatsapp": 1, "push": 1, "web_push": 1},
    }
    only_pushable = group(prop("$identity", "in", ["est-push-two", "est-web", "est-nobody"]))
    assert estimate(only_pushable) == {
        "total": 3,
        "reachable": {"email": 0, "sms": 0, "whatsapp": 0, "push": 1, "web_push": 1},
    }


def test_both_ways_of_counting_devices_agree(db, monkeypatch):
    """Small audiences look devices up per profile, large ones hash them: same answer."""
    from audience import segments

    for i in range(6):
        person = profile(f"dev-{i}")
        for kind in ("push", "web_push")[: i % 3]:
            Device.objects.create(profile=person, kind=kind, token=f"dev-{i}-{kind}")
    who = group(prop("$identity", "contains", "dev-"))
    looked_up = estimate(who)
    monkeypatch.setattr(segments, "DEVICE_LOOKUP_ROWS", -1)
    assert estimate(who) == looked_up
    assert looked_up["reachable"] == {"email": 0, "sms": 0, "whatsapp": 0, "push": 4, "web_push": 2}


def test_an_invalid_who_gets_no_estimate(db):
    with pytest.raises(Invalid) as refused:
        estimate(group(prop("city", "within_days", 0)))
    assert "who.conditions[0].value" in refused.value.errors


def test_a_query_past_the_time_limit_is_refused_and_the_settings_restored(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    with pytest.raises(EvaluationTooSlow):
        _fetch_one("SELECT pg_sleep(0.5)", [], timeout_ms=50)
    assert _fetch_one("SELECT 1", []) == (1,)
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before


# ----------------------------------------------------------------------------------------------
# Values are values
# ----------------------------------------------------------------------------------------------
def test_values_and_names_that_look_like_sql_are_only_compared(db):
    sly = "x'); DROP TABLE audience_profile; --"
    profile("q1", properties={sly: "1", "name": sly, 'we"ird\\key': 5})
    profile("q2", properties={"name": "plain"})
    assert selected(group(prop("name", "eq", sly))) == {"q1"}
    assert selected(group(prop("name", "contains", "'); DROP"))) == {"q1"}
    assert selected(group(prop(sly, "exists"))) == {"q1"}
    assert selected(group(prop('we"ird\\key', "gt", 4))) == {"q1"}
    assert selected(group({"type": "event", "event": sly})) == set()
    assert Profile.objects.count() == 2
    sql, params = compile_who(group(prop("name", "eq", sly)))
    assert sly not in sql and "DROP" not in sql


def test_ids_beyond_the_database_integers_match_nothing(db):
    profile("z1")
    huge = 2**70
    assert selected(group({"type": "label_sent", "label_id": huge})) == set()
    assert selected(group({"type": "campaign_sent", "campaign_id": huge}, negate=True)) == {"z1"}
    with pytest.raises(Invalid):
        compile_who(group({"type": "segment", "segment_id": huge}))
