import smtplib

from celery import shared_task

from approvals import notifications


@shared_task(
    name="approvals.tasks.send_approval_emails",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def send_approval_emails(request_id: int, event: str) -> int:
    """E-mail approvers about a new request ("sent"), or the requester about a decision."""
    return notifications.send(request_id, event)
