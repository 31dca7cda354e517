"""What every channel adapter is: messages in, one result per message out.

The pipeline (channels.pipeline) renders each recipient's message and hands an adapter a chunk of
them; the adapter talks to its provider and says, per message, sent (with the provider's id) or
failed, and whether a failure is transient. `deliver` retries the transient ones with exponential
backoff and full jitter, so adapters only map one provider answer to one result.

Adapters never touch the database: the pipeline records their results in the ledger (and disables
the devices a push provider says are gone).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(slots=True)
class Message:
    # The delivery's stable id, "<run id>-<profile id>": the same on every attempt, so a provider
    # that deduplicates (webhook-id, an ESP's idempotency header) can.
    key: str
    run_id: int
    campaign_id: int
    profile_id: int
    # The address: an e-mail address, an E.164 phone number, or "" (push: see devices; webhooks:
    # the URL is in content).
    to: str
    # The channel's message fields (validation.MESSAGE_SCHEMAS) with every template rendered.
    content: dict[str, Any]
    # Push: [(device id, token), ...] of the recipient's enabled, opted-in devices.
    devices: list[tuple[int, str]] = field(default_factory=list)
    # The context the templates were rendered with (profile, campaign, data), for adapters that
    # send it on (webhook payloads).
    context: dict[str, Any] = field(default_factory=dict)
    variant: str = ""


@dataclass(slots=True)
class Result:
    key: str
    ok: bool
    provider_id: str = ""
    # Why it failed, in words a marketer can read ("Twilio 21211: invalid 'To' number").
    error: str = ""
    # A failure worth retrying (timeouts, 429, 5xx); permanent ones are not retried.
    transient: bool = False
    # Push: device ids the provider said are gone (FCM UNREGISTERED): the pipeline disables them.
    disabled_devices: list[int] = field(default_factory=list)
    attempts: int = 1


class Adapter:
    """One provider of one channel. Subclasses set `channel`, `provider` and implement `send`."""

    channel: ClassVar[str] = ""
    provider: ClassVar[str] = ""
    # How many messages the pipeline hands over per call (and commits per transaction).
    chunk_size: ClassVar[int] = 100
    # True when sending a message again with the same key cannot deliver it twice (the receiver
    # deduplicates by key): then a message whose outcome a crash left unknown is sent again;
    # otherwise it is recorded as failed with the reason "outcome_unknown" and not resent.
    idempotent: ClassVar[bool] = False

    def __init__(
        self, options: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
    ):
        self.options = dict(options or {})
        self.secrets = dict(secrets or {})

    def send(self, messages: Sequence[Message]) -> list[Result]:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (the pipeline calls it at the end of a batch)."""

    def __enter__(self) -> Adapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProviderNotConfigured(Exception):
    """No provider is configured for a channel: its messages fail with this reason."""


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)) (attempt counts from 0)."""
        return rng() * min(self.cap, self.base * (2**attempt))


def deliver(
    adapter: Adapter,
    messages: Sequence[Message],
    *,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Result]:
    """Send through `adapter`, retrying transient failures up to backoff.attempts times in all.

    Returns one result per message, in the messages' order, each with its attempts. An adapter
    that raises fails the whole chunk with the exception's text as a transient failure (and so
    retries it); an adapter that answers for a key it was not given is a bug, and raises.
    """
    by_key = {m.key: m for m in messages}
    final: dict[str, Result] = {}
    pending = list(messages)
    for attempt in range(backoff.attempts):
        if attempt:
            sleep(backoff.delay(attempt - 1))
            if should_stop():
                break
        try:
            results = adapter.send(pending)
        except Exception as exc:  # noqa: BLE001 - a provider library's error fails the chunk
            results = [
                Result(m.key, ok=False, error=f"{type(exc).__name__}: {exc}", transient=True)
                for m in pending
            ]
        answered = {r.key for r in results}
        if answered != {m.key for m in pending}:
            raise RuntimeError(f"{type(adapter).__name__} did not answer for exactly its messages")
        retry = []
        for result in results:
            result.attempts = attempt + 1
            final[result.key] = result
            if not result.ok and result.transient:
                retry.append(by_key[result.key])
        pending = retry
        if not pending:
            break
    return [final[m.key] for m in messages]


def classify_http(status: int) -> bool:
    """Is an HTTP status from a provider worth retrying? 408, 409 (Twilio's "try again"), 425,
    429 and 5xx are; other 4xx are permanent."""
    return status in (408, 409, 425, 429) or status >= 500
