"""The demo data `make run` starts with (manage.py seed_demo)."""

from __future__ import annotations

import io

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from accounts.roles import Role, user_roles
from approvals import services as approvals
from approvals.diff import diff
from approvals.models import ApprovalRequest, ApprovalSettings, ApprovalSettingsChange
from campaigns.choices import CampaignType, Channel, Delivery, Status
from campaigns.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from campaigns.models import Campaign, CampaignAudit
from campaigns.validation import validate_campaign
from labels.models import Label

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "labels": Label.objects.count(),
        "campaigns": Campaign.objects.count(),
        "audit rows": CampaignAudit.objects.count(),
        "campaign labels": Campaign.labels.through.objects.count(),
    }


@pytest.fixture
def seeded() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def test_seed_demo_run_twice_creates_nothing_twice(seeded):
    first = _counts()

    call_command("seed_demo", stdout=io.StringIO())

    assert _counts() == first
    assert first["campaigns"] >= 30
    assert Campaign.objects.values("name").distinct().count() == first["campaigns"]


def test_seed_demo_leaves_existing_campaigns_and_passwords_as_they_are(seeded):
    campaign = Campaign.objects.get(name="Welcome email")
    edited = {"message": {**campaign.what["message"], "text": "Edited by Maya."}}
    Campaign.objects.filter(pk=campaign.pk).update(what=edited)
    user = User.objects.get(username="marketer@herald.local")
    user.set_password("changed-by-maya-1")
    user.save()

    call_command("seed_demo", stdout=io.StringIO())

    user.refresh_from_db()
    assert user.check_password("changed-by-maya-1")
    assert Campaign.objects.get(name="Welcome email").what == edited


@pytest.mark.parametrize(("email", "role"), [(email, role) for email, role, *_ in DEMO_USERS])
def test_demo_user_has_their_role_and_the_demo_password(seeded, email, role):
    user = User.objects.get(username=email)

    assert user_roles(user) == {role}
    assert user.email == email
    assert user.check_password(DEMO_PASSWORD)


def test_demo_admin_can_use_the_django_admin(seeded):
    admin = User.objects.get(username="admin@herald.local")

    assert admin.is_staff and admin.is_superuser
    assert Role.ADMIN in user_roles(admin)
    assert not User.objects.filter(is_staff=True).exclude(pk=admin.pk).exists()


def test_every_demo_campaign_passes_validation(seeded):
    for campaign in Campaign.objects.all():
        validate_campaign(
            channel=campaign.channel,
            type=campaign.type,
            delivery=campaign.delivery,
            who=campaign.who,
            what=campaign.what,
            when=campaign.when,
        )


def test_demo_campaigns_cover_every_channel_type_delivery_and_status(seeded):
    campaigns = Campaign.objects.all()

    assert {c.channel for c in campaigns} == set(Channel.values)
    assert {c.type for c in campaigns} == set(CampaignType.values)
    assert {c.delivery for c in campaigns} == set(Delivery.values)
    assert {c.status for c in campaigns} == set(Status.values)


def test_some_demo_campaigns_are_archived_and_some_were_last_active_months_ago(seeded):
    now = timezone.now()

    assert Campaign.objects.archived().exists()
    assert Campaign.objects.active().count() > Campaign.objects.archived().count()
    old = Campaign.objects.filter(
        last_active_at__lte=now - relativedelta(months=2),
        last_active_at__gte=now - relativedelta(months=8, days=1),
    )
    assert old.count() >= 5
    assert Label.objects.filter(name__in=["Onboarding", "Reengage", "Score Updates"]).count() == 3
    assert Campaign.objects.filter(labels__name="Onboarding").exists()


def test_each_demo_campaign_status_is_the_one_its_last_audit_row_reached(seeded):
    for campaign in Campaign.objects.prefetch_related("audit"):
        moves = [row for row in campaign.audit.all() if row.to_status]
        assert moves, campaign.name
        # Audit rows are newest first; archiving keeps the status.
        assert moves[0].to_status == campaign.status, campaign.name


def test_the_demo_shows_the_approval_workflow(seeded):
    assert ApprovalSettings.current().enabled
    [switched_on] = ApprovalSettingsChange.objects.all()
    assert switched_on.actor.username == "admin@herald.local"
    waiting = ApprovalRequest.objects.filter(status="pending").select_related("campaign")
    assert waiting.count() == Campaign.objects.filter(status=Status.PENDING_APPROVAL).count()
    assert all(r.requested_by.username == "marketer@herald.local" for r in waiting)
    assert any(r.note for r in waiting)
    rejected = ApprovalRequest.objects.get(campaign__name="New season launch")
    assert (rejected.status, rejected.decided_by.username) == ("rejected", "approver@herald.local")
    assert "send it again" in rejected.comment


def test_the_demo_has_a_live_campaign_with_changes_awaiting_approval(seeded):
    campaign = Campaign.objects.get(name="Weekly deals digest")
    [request] = campaign.approval_requests.filter(status="pending")

    assert (campaign.status, campaign.live_status) == (
        Status.PENDING_APPROVAL,
        Status.AWAITING_NEXT_RUN,
    )
    assert request.kind == "revision" and request.note
    changes = diff(request.base, request.proposed)
    assert changes and {c.field for c in changes} == {"what"}
    # The live version runs as it was until the changes are approved.
    assert campaign.what == request.base["what"] != request.proposed["what"]


def test_seed_demo_keeps_an_admins_choice_to_switch_approval_off(seeded):
    admin = User.objects.get(username="admin@herald.local")
    approvals.approval_settings_update(actor=admin, enabled=False)
    Campaign.objects.filter(name__in=["New season launch", "Weekly deals digest"]).delete()

    call_command("seed_demo", stdout=io.StringIO())

    assert not ApprovalSettings.current().enabled
    assert Campaign.objects.get(name="New season launch").status == Status.REJECTED
    assert Campaign.objects.get(name="Weekly deals digest").status == Status.PENDING_APPROVAL
