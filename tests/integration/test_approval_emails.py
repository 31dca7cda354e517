"""The approval e-mail task through a real Celery worker to a real SMTP server: a separate
`celery worker` process (tests/integration/test_celery_worker.py's fixture), a Redis broker, the
test database, and aiosmtpd on loopback receiving what the worker's Django sends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import approvals.tasks  # noqa: F401 - registers the task on every Celery app, the test's included
from approvals import services as approvals
from tests.approvals.support import Inbox, approval_on, smtp_server
from tests.integration.test_celery_worker import TASK_TIMEOUT, Worker, worker  # noqa: F401

TASK = "approvals.tasks.send_approval_emails"
BASE_URL = "https://herald.example.com"


@pytest.fixture
def mail_server(monkeypatch) -> Iterator[Inbox]:
    """The SMTP server, and the worker's e-mail settings pointing at it (the worker fixture
    copies the environment when it starts, so this must come first)."""
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("HERALD_BASE_URL", BASE_URL)
        yield inbox


@pytest.fixture
def mail_worker(mail_server: Inbox, worker: Worker) -> Worker:  # noqa: F811
    return worker


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_e_mails_the_approvers(
    mail_server: Inbox, mail_worker: Worker, admin, approver, marketer, campaign_factory
) -> None:
    approval_on(admin)
    campaign = campaign_factory(name="Spring sale")
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign.pk, note="Please")

    result = mail_worker.app.tasks[TASK].apply_async(
        args=(request.pk, "sent"), queue=mail_worker.queue
    )
    try:
        sent = result.get(timeout=TASK_TIMEOUT)
    except Exception as exc:  # the worker's log says why
        pytest.fail(f"the task did not succeed ({exc!r}):\n{mail_worker.log_tail()}")
    finally:
        result.forget()

    assert sent == 2
    assert mail_server.recipients() == {"ada@example.com", "ari@example.com"}
    message = mail_server.to("ari@example.com")
    assert message["Subject"] == "Approval requested: Spring sale"
    assert f"{BASE_URL}/approvals/{request.pk}/" in message.get_content()
