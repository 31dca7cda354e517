"""The workflow's e-mails, received by a real SMTP server (aiosmtpd) on loopback.

Django's SMTP backend talks to it as it would to the workspace's mail server; each test reads the
envelopes it stored: who received a message, its subject, and the link in its body.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from approvals import notifications
from approvals import services as approvals
from approvals.models import ApprovalRequest
from campaigns import services
from campaigns.choices import Delivery, Status
from config.errors import Invalid
from tests.approvals.support import Inbox, approval_on, free_port, smtp_server, use_smtp
from tests.factories import UserFactory, push_what

pytestmark = pytest.mark.django_db
BASE_URL = "https://herald.example.com"


@pytest.fixture
def inbox(settings) -> Iterator[Inbox]:
    with smtp_server() as (handler, port):
        use_smtp(settings, port)
        settings.HERALD_BASE_URL = BASE_URL
        yield handler


@pytest.fixture
def team(admin, approver):
    """Everyone an e-mail could go to, and some it must not."""
    return {
        "admin": admin,
        "approver": approver,
        "bea": UserFactory(username="bea@example.com", roles=["Approver"]),
        "no e-mail": UserFactory(username="noemail", email="", roles=["Approver"]),
        "inactive": UserFactory(username="gone@example.com", roles=["Approver"], is_active=False),
        "root": UserFactory(username="root@example.com", is_superuser=True),
    }


def body(message: EmailMessage) -> str:
    return message.get_content()


def review_link(request: ApprovalRequest) -> str:
    return f"{BASE_URL}/approvals/{request.pk}/"


def submit(marketer, campaign, **more: Any) -> ApprovalRequest:
    return approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, **more)


def test_a_request_is_e_mailed_to_every_approver_and_admin(
    inbox, team, admin, marketer, campaign_factory
):
    approval_on(admin)
    campaign = campaign_factory(name="Spring sale")
    request = submit(marketer, campaign, note="Please check the offer")

    sent = notifications.send(request.pk, "sent")

    expected = {"ada@example.com", "ari@example.com", "bea@example.com", "root@example.com"}
    assert sent == len(expected)
    # One message each, so nobody learns who else was asked; never the requester.
    assert all(len(rcpt) == 1 for rcpt, _ in inbox.messages)
    assert inbox.recipients() == expected
    message = inbox.to("ari@example.com")
    assert message["Subject"] == "Approval requested: Spring sale"
    text = body(message)
    assert review_link(request) in text
    assert "maya@example.com asks you to approve the campaign “Spring sale”" in text
    assert "Please check the offer" in text


def test_chosen_approvers_alone_are_e_mailed(inbox, team, admin, marketer, campaign_factory):
    approval_on(admin)
    request = submit(marketer, campaign_factory(), approvers=[team["bea"].pk])

    notifications.send(request.pk, "sent")

    assert inbox.recipients() == {"bea@example.com"}


def test_authors_are_not_asked_unless_self_approval_is_on(
    inbox, team, admin, approver, marketer, campaign_factory
):
    """The approver wrote the campaign's content; the Marketer sent it."""
    approval_on(admin)
    campaign = campaign_factory(created_by=approver)
    request = submit(marketer, campaign)

    notifications.send(request.pk, "sent")
    assert "ari@example.com" not in inbox.recipients()
    assert "maya@example.com" not in inbox.recipients()

    inbox.envelopes.clear()
    approvals.approval_settings_update(actor=admin, allow_self_approval=True)
    notifications.send(request.pk, "sent")
    assert "ari@example.com" in inbox.recipients()
    assert "maya@example.com" not in inbox.recipients()


def test_changes_to_a_live_campaign_say_so(inbox, team, admin, marketer, campaign_factory):
    approval_on(admin)
    campaign = campaign_factory(
        name="Weekly digest",
        status=Status.RUNNING,
        delivery=Delivery.ACTION,
        when={"trigger": {"event": "App Installed"}},
        updated_by=marketer,
    )
    request = approvals.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("New")}
    )

    notifications.send(request.pk, "sent")

    text = body(inbox.to("ari@example.com"))
    assert "changes to the live campaign “Weekly digest”" in text
    assert review_link(request) in text


def test_the_requester_hears_of_an_approval(
    inbox, team, admin, marketer, approver, campaign_factory
):
    approval_on(admin)
    campaign = campaign_factory(name="Spring sale")
    request = submit(marketer, campaign)
    approvals.request_approve(actor=approver, request_id=request.pk, comment="Nice one")

    notifications.send(request.pk, "decided")

    assert inbox.recipients() == {"maya@example.com"}
    message = inbox.to("maya@example.com")
    assert message["Subject"] == "Campaign approved: Spring sale"
    text = body(message)
    assert "was approved by ari@example.com" in text
    assert "Nice one" in text
    assert f"{BASE_URL}/campaigns/{campaign.pk}/" in text


def test_a_rejection_e_mails_the_comment_to_the_requester_and_the_creator(
    inbox, team, admin, marketer, other_marketer, approver, campaign_factory
):
    approval_on(admin)
    campaign = campaign_factory(name="Spring sale", created_by=other_marketer)
    request = submit(marketer, campaign)
    approvals.request_reject(
        actor=approver, request_id=request.pk, comment="The discount code is wrong."
    )

    notifications.send(request.pk, "decided")

    assert inbox.recipients() == {"maya@example.com", "omar@example.com"}
    message = inbox.to("maya@example.com")
    assert message["Subject"] == "Campaign rejected: Spring sale"
    assert "The discount code is wrong." in body(message)


def test_nothing_is_sent_for_a_request_no_longer_pending(
    inbox, team, admin, marketer, campaign_factory
):
    approval_on(admin)
    request = submit(marketer, campaign_factory())
    approvals.request_withdraw(actor=marketer, request_id=request.pk)

    assert notifications.send(request.pk, "sent") == 0
    assert notifications.send(request.pk, "decided") == 0
    assert notifications.send(999_999, "sent") == 0
    assert inbox.envelopes == []


def test_the_services_queue_the_e_mails_once_committed(
    inbox, team, admin, marketer, approver, campaign_factory, django_capture_on_commit_callbacks
):
    approval_on(admin)
    campaign = campaign_factory(name="Spring sale")

    with django_capture_on_commit_callbacks() as queued:
        request = submit(marketer, campaign)
    # Nothing leaves before the transaction commits.
    assert len(queued) == 1 and inbox.envelopes == []
    for callback in queued:
        callback()  # the Celery task, run in-process
    assert "ari@example.com" in inbox.recipients()

    inbox.envelopes.clear()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        approvals.request_reject(actor=approver, request_id=request.pk, comment="Not yet")
    assert len(queued) == 1
    assert inbox.recipients() == {"maya@example.com"}
    assert "Not yet" in body(inbox.to("maya@example.com"))


def test_a_refused_request_queues_no_e_mail(
    inbox, admin, marketer, campaign_factory, django_capture_on_commit_callbacks
):
    approval_on(admin)
    campaign = campaign_factory()

    with django_capture_on_commit_callbacks(execute=True) as queued, pytest.raises(Invalid):
        submit(marketer, campaign, approvers="everyone")

    assert queued == [] and inbox.envelopes == []


def test_publishing_with_approval_off_e_mails_nobody(
    inbox, marketer, campaign_factory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as queued:
        services.campaign_publish(actor=marketer, campaign_id=campaign_factory().pk)

    assert queued == [] and inbox.envelopes == []


def test_an_unreachable_mail_server_does_not_fail_the_decision(
    settings,
    admin,
    marketer,
    approver,
    campaign_factory,
    django_capture_on_commit_callbacks,
    caplog,
):
    """By the time e-mails are queued the decision is committed: a failure to send is logged."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_TIMEOUT = 2
    approval_on(admin)
    request = submit(marketer, campaign_factory())

    with django_capture_on_commit_callbacks(execute=True) as queued:
        approvals.request_reject(actor=approver, request_id=request.pk, comment="Not yet")

    assert len(queued) == 1
    request.refresh_from_db()
    assert request.status == "rejected"
    assert "Error calling" in caplog.text
