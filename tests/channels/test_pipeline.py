"""The send pipeline in process: a run from publish to its last ledger row (tasks eager, commits
real through captured on-commit callbacks), with the dry-run adapter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audience.models import Consent, Profile
from campaigns import services
from campaigns.choices import Channel, Delivery, Status
from channels import scheduler
from channels.models import Delivery as Ledger
from channels.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def _events(campaign_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT profile_id, properties->>'variant' FROM audience_event "
            "WHERE campaign_id = %s AND name = 'Notification Sent' ORDER BY profile_id",
            [campaign_id],
        )
        return cursor.fetchall()


@override_settings(HERALD_DRY_RUN_CHANNELS=["email"], HERALD_DISPATCH_BATCH=3)
def test_a_one_time_send_now_reaches_every_reachable_profile_once(
    campaign_factory, marketer, django_capture_on_commit_callbacks, settings
):
    settings.HERALD_PROVIDERS = {**settings.HERALD_PROVIDERS, "email": {"provider": ""}}
    people = [Profile.objects.create(identity=f"u{i}", email=f"u{i}@example.com") for i in range(7)]
    Profile.objects.create(identity="nomail")
    Profile.objects.create(identity="out", email="o@example.com", email_consent=Consent.OPTED_OUT)
    campaign = campaign_factory(
        channel=Channel.EMAIL,
        delivery=Delivery.ONE_TIME,
        when={"send": "now"},
        what={
            "message": {
                "subject": "Hi {{ profile.identity }}",
                "from_email": "news@example.com",
                "html": "<p>Hello</p>",
            }
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_publish(actor=marketer, campaign_id=campaign.pk)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            scheduler.tick()
    run = Run.objects.get(campaign=campaign)
    assert run.status == RunStatus.DONE, run.totals
    rows = {r.profile_id: (r.status, r.reason) for r in Ledger.objects.filter(run=run)}
    assert len(rows) == 9
    assert [r for r in rows.values() if r[0] == "sent"] == [("sent", "")] * 7
    assert sorted(r[1] for r in rows.values() if r[0] == "dropped") == ["consent", "no_address"]
    assert [pid for pid, _ in _events(campaign.pk)] == [p.pk for p in people]
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED
    assert run.totals["sent"] == 7 and run.totals["dropped"] == {"consent": 1, "no_address": 1}


def test_a_batch_reads_only_the_properties_its_templates_need() -> None:
    from channels.pipeline import needed_properties

    def snapshot(channel="push", what=None, kind="single_message"):
        return {"channel": channel, "type": kind, "what": what}

    one = {"message": {"title": "Hi {{ profile.first_name }}", "body": "{{ profile.id }} off"}}
    assert needed_properties(snapshot(what=one)) == ["first_name"]
    loop = {"message": {"title": "{% for t in profile.tags %}{{ t }}{% endfor %}", "body": "x"}}
    assert needed_properties(snapshot(what=loop)) is None
    by_property = {
        "property": "plan",
        "messages": [{"value": "pro", "message": {"title": "{{ data.code }}", "body": "b"}}],
        "default": {"title": "t", "body": "b"},
    }
    assert needed_properties(snapshot(what=by_property, kind="message_on_user_property")) == [
        "plan"
    ]
    # A webhook without its own payload sends the whole profile.
    assert needed_properties(snapshot("webhook", {"message": {"url": "https://x.test/"}})) is None


@override_settings(HERALD_DRY_RUN_CHANNELS=["push"])
def test_missing_properties_stay_missing_when_only_some_are_read(settings) -> None:
    from channels.pipeline import _load_recipients

    ann = Profile.objects.create(identity="ann", properties={"first_name": "Ann", "plan": "pro"})
    bob = Profile.objects.create(identity="bob", properties={"plan": "free"})
    found = _load_recipients("in_app", [ann.pk, bob.pk], ["first_name"])
    assert found[ann.pk].properties == {"first_name": "Ann"}
    assert found[bob.pk].properties == {}
    assert _load_recipients("in_app", [bob.pk], None)[bob.pk].properties == {"plan": "free"}
    assert _load_recipients("in_app", [bob.pk], [])[bob.pk].properties == {}


def test_properties_read_back_exactly_as_stored() -> None:
    from channels.pipeline import _load_recipients

    properties = {
        "big": 123456789012345678901234567890,  # beyond 64 bits: orjson would make it a float
        "price": 1.5,
        "name": 'Zoë \\ "quoted"',
        "tags": ["a", 2, None, {"x": True}],
    }
    person = Profile.objects.create(identity="exact", properties=properties)
    assert _load_recipients("in_app", [person.pk], None)[person.pk].properties == properties
    big = _load_recipients("in_app", [person.pk], ["big"])[person.pk].properties["big"]
    assert type(big) is int and big == properties["big"]


def test_ledger_rows_keep_tabs_newlines_and_backslashes(campaign_factory) -> None:
    from django.db import transaction

    from channels.pipeline import Row, write_ledger

    campaign = campaign_factory(
        channel=Channel.IN_APP, delivery=Delivery.API, status=Status.RUNNING
    )
    with transaction.atomic():
        run = scheduler.create_run(campaign, kind="api", scheduled_for=timezone.now())
    odd = "template_error: line 1\n\tat {{ x }} \\N"
    rows = [
        Row(1, "failed", odd, "B\\1"),
        Row(2, "failed", odd, "B\\1"),
        Row(3, "sent", "", "A", "id\twith\ttabs", 2),
        Row(4, "dropped", "consent"),
    ]
    write_ledger(run.pk, rows, timezone.now())
    stored = Ledger.objects.filter(run=run).order_by("profile_id")
    assert [(d.status, d.reason, d.variant, d.provider_id, d.attempts) for d in stored] == [
        (r.status, r.reason, r.variant, r.provider_id, r.attempts) for r in rows
    ]


def test_email_templates_can_show_the_unsubscribe_link(campaign_factory) -> None:
    from channels.pipeline import decide
    from channels.tracking import Tracker

    person = Profile.objects.create(identity="ann", email="ann@example.com")
    footer = '<a href="{{ links.unsubscribe }}">Unsubscribe</a>'
    snapshot = {
        "campaign_id": 5,
        "name": "News",
        "channel": "email",
        "type": "single_message",
        "when": {},
        "what": {"message": {"subject": "Hi", "from_email": "n@example.com", "html": footer}},
    }
    [message] = decide(9, snapshot, None, [person.pk], timezone.now()).to_send
    url = message.content["html"].split('"')[1]
    token = url.rstrip("/").rsplit("/", 1)[1]
    target = Tracker().read("unsubscribe", token)
    assert (target.run_id, target.profile_id, target.campaign_id) == (9, person.pk, 5)


def test_an_api_run_counts_as_the_campaigns_last_run(campaign_factory) -> None:
    from django.db import transaction

    campaign = campaign_factory(
        channel=Channel.IN_APP, delivery=Delivery.API, status=Status.RUNNING
    )
    before = timezone.now()
    with transaction.atomic():
        scheduler.create_run(campaign, kind="api", scheduled_for=before)
    campaign.refresh_from_db()
    assert campaign.runs_count == 1 and campaign.last_run_at >= before
    assert campaign.last_active_at >= before


def test_a_batch_runs_without_the_cyclic_collector_and_puts_it_back() -> None:
    import gc

    from channels.pipeline import _without_cyclic_gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), _without_cyclic_gc():
        assert not gc.isenabled()
        raise RuntimeError("a batch that fails")
    assert gc.isenabled()
