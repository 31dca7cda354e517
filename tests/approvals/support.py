"""What the approvals tests share: the database rows a refusal must leave alone, the setting, and
a real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from approvals import services as approvals
from approvals.models import ApprovalRequest, ApprovalSettings, ApprovalSettingsChange
from campaigns.models import Campaign, CampaignAudit


def db_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row the workflow writes, as values: equal before and after means nothing changed."""
    return {
        "campaigns": list(Campaign.objects.order_by("pk").values()),
        "campaign labels": list(Campaign.labels.through.objects.order_by("pk").values()),
        "requests": list(ApprovalRequest.objects.order_by("pk").values()),
        "chosen approvers": list(ApprovalRequest.approvers.through.objects.order_by("pk").values()),
        "audit": list(CampaignAudit.objects.order_by("pk").values()),
        "setting": list(ApprovalSettings.objects.values()),
        "setting changes": list(ApprovalSettingsChange.objects.order_by("pk").values()),
    }


def approval_on(admin: Any, *, self_approval: bool | None = None) -> None:
    approvals.approval_settings_update(actor=admin, enabled=True, allow_self_approval=self_approval)


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every envelope it is given."""

    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return [
            (
                list(e.rcpt_tos),
                email.message_from_bytes(e.content, policy=email.policy.default),
            )
            for e in self.envelopes
        ]

    def recipients(self) -> set[str]:
        return {to for rcpt, _ in self.messages for to in rcpt}

    def to(self, address: str) -> EmailMessage:
        [message] = [m for rcpt, m in self.messages if rcpt == [address]]
        return message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_serving(handler: Any) -> Iterator[int]:
    """An aiosmtpd `handler` served on 127.0.0.1 (no TLS, no login); yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 that keeps what it receives, and the port it listens on."""
    inbox = Inbox()
    with smtp_serving(inbox) as port:
        yield inbox, port


def use_smtp(settings: Any, port: int, *, timeout: float | None = None) -> None:
    """Point Django's SMTP backend (pytest-django's `settings`) at 127.0.0.1:`port`, plainly."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = timeout
