"""The dry-run adapter: everything but the network call. Every message is "sent" with a provider
id derived from its key, so the pipeline, the ledger and Notification Sent behave as in a real
send (the demo uses it for channels without a provider; the dispatch benchmark measures with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from channels.adapters.base import Adapter, Message, Result


class DryRunAdapter(Adapter):
    provider = "dry_run"
    chunk_size = 5000
    idempotent = True

    def __init__(
        self,
        options: dict[str, Any] | None = None,
        secrets: dict[str, Any] | None = None,
        *,
        channel: str = "",
    ) -> None:
        super().__init__(options, secrets)
        self.channel = channel

    def send(self, messages: Sequence[Message]) -> list[Result]:
        return [Result(m.key, ok=True, provider_id=f"dry-{m.key}") for m in messages]
