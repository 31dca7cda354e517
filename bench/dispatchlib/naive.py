"""The obvious alternative to the batch pipeline, for bench/dispatch.py's baseline: one Celery task
per recipient that reads the profile, renders the message, "sends" it with the dry-run adapter,
inserts its ledger row with the ORM and records Notification Sent with audience.services.

The workers load it with `celery worker -I bench.dispatchlib.naive`.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

NAIVE_TASK = "bench.dispatch.naive_send"


@shared_task(name=NAIVE_TASK, ignore_result=True)
def naive_send(run_id: int, profile_id: int) -> str:
    from audience.models import Consent, Profile
    from audience.services import record_notification_sent
    from campaigns.models import Campaign
    from channels.adapters.base import Message
    from channels.adapters.dry_run import DryRunAdapter
    from channels.models import Delivery, Run
    from channels.render import render_message

    run = Run.objects.only("campaign_id", "snapshot").get(pk=run_id)
    snapshot = run.snapshot
    profile = Profile.objects.get(pk=profile_id)
    now = timezone.now()
    if not profile.email or profile.email_consent == Consent.OPTED_OUT:
        Delivery.objects.create(
            run_id=run_id, profile_id=profile_id, status="dropped", reason="consent", created_at=now
        )
        return "dropped"
    context = {
        "profile": {
            **profile.properties,
            "id": profile.pk,
            "identity": profile.identity,
            "email": profile.email,
        },
        "campaign": {"id": snapshot["campaign_id"], "name": snapshot["name"]},
        "data": {},
        "event": {},
    }
    content = render_message(snapshot["what"]["message"], context)
    message = Message(
        key=f"{run_id}-{profile_id}",
        run_id=run_id,
        campaign_id=snapshot["campaign_id"],
        profile_id=profile_id,
        to=profile.email,
        content=content,
        context=context,
    )
    result = DryRunAdapter(channel=snapshot["channel"]).send([message])[0]
    Delivery.objects.create(
        run_id=run_id,
        profile_id=profile_id,
        status="sent",
        provider_id=result.provider_id,
        attempts=1,
        created_at=now,
    )
    record_notification_sent(
        profile_id=profile_id,
        campaign=Campaign.objects.get(pk=run.campaign_id),
        channel=snapshot["channel"],
        variant=None,
        ts=now,
    )
    return "sent"
