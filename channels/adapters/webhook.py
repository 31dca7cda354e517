"""The webhook channel: an HTTP request per recipient (or per batch of recipients), signed with
the Standard Webhooks scheme (https://www.standardwebhooks.com/).

Every request carries webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256 over
"<id>.<timestamp>.<body>" with the whsec_ signing secret), so receivers verify it with any Standard
Webhooks library. The webhook-id of a recipient's request is derived from the delivery key, so a
resend (a retry, or a resend after a crash) carries the same id and a receiver that deduplicates
by it does not act twice: the adapter is idempotent.

Targets on private networks are refused where the socket is opened (channels.netguard) unless an
Admin allows them; redirects are never followed (a redirect to an internal address would get
around that guard, and a receiver that moved should be reconfigured, not chased).
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from channels.adapters.base import Adapter, Message, Result, classify_http
from channels.netguard import SCHEMES, GuardedTransport, TargetRefused, truthy

METHODS = ("POST", "PUT", "PATCH")
USER_AGENT = "Herald-Webhooks/1"
# How much of an answer is read: enough for an error text, never a receiver's whole download.
MAX_ANSWER_BYTES = 64 * 1024
ERROR_SNIPPET = 200
# RFC 9110 token characters; a value must stay on one line (no header injection).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_LINE_BREAKS = re.compile(r"[\r\n\0]")


@dataclass(slots=True)
class _Request:
    webhook_id: str
    url: str
    method: str
    headers: dict[str, str]
    body: str
    keys: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Outcome:
    ok: bool
    error: str = ""
    transient: bool = False


def webhook_id(key: str) -> str:
    """A recipient's webhook-id: the delivery key, the same on every attempt."""
    return f"msg_{key}"


def batch_webhook_id(keys: Sequence[str]) -> str:
    """A batch request's webhook-id: derived from the keys it carries, in any order, so the same
    batch retried carries the same id."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
    return f"msg_batch_{digest[:32]}"


def _number(value: Any, default: float) -> float:
    """An option from settings or an Admin's JSON; a missing, empty or unusable one is the default."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


class WebhookAdapter(Adapter):
    """Sends webhooks over one keep-alive client, several requests at a time.

    Options: timeout (seconds, default 10), allow_private (default false), concurrency (requests
    in flight, default 8). Secrets: signing_secret (whsec_...).
    """

    channel = "webhook"
    provider = "http"
    chunk_size = 200
    idempotent = True

    def __init__(
        self, options: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
    ) -> None:
        super().__init__(options, secrets)
        self.timeout = _number(self.options.get("timeout"), 10.0)
        self.allow_private = truthy(self.options.get("allow_private", False))
        self.concurrency = max(1, int(_number(self.options.get("concurrency"), 8)))
        self._signer: Webhook | None = None
        self._unsigned_reason = ""
        secret = str(self.secrets.get("signing_secret") or "").strip()
        if not secret:
            self._unsigned_reason = "webhook signing secret is not configured"
        else:
            try:
                self._signer = Webhook(secret)
            except (ValueError, EmptyWebhookSecretError):
                self._unsigned_reason = (
                    "webhook signing secret is not valid: expected whsec_ followed by base64"
                )
        limits = httpx.Limits(
            max_connections=self.concurrency,
            max_keepalive_connections=self.concurrency,
            keepalive_expiry=30.0,
        )
        self._client = httpx.Client(
            transport=GuardedTransport(allow_private=self.allow_private, limits=limits),
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            # Proxies from the environment would connect on the guard's behalf, out of its sight.
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
            # One receiver's cookies are never sent back with later webhooks.
            cookies=http.cookiejar.CookieJar(
                http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            ),
        )
        self._pool: ThreadPoolExecutor | None = None

    # --- building requests -------------------------------------------------------------------

    def _payload(self, message: Message) -> Any:
        """The recipient's payload as a JSON value; ValueError when the rendered one is not JSON."""
        rendered = message.content.get("payload")
        if rendered not in (None, ""):
            try:
                return json.loads(rendered)
            except ValueError as exc:
                raise ValueError(f"payload is not valid JSON: {exc}") from exc
        context = message.context or {}
        return {
            "type": "campaign.message",
            "campaign": context.get("campaign", {"id": message.campaign_id}),
            "profile": context.get("profile", {"id": message.profile_id}),
            "data": context.get("data", {}),
        }

    @staticmethod
    def _target(message: Message) -> tuple[str, str, dict[str, str]]:
        content = message.content
        method = str(content.get("method") or "POST").upper()
        headers = {str(k): str(v) for k, v in (content.get("headers") or {}).items()}
        return str(content.get("url") or ""), method, headers

    def _requests(self, messages: Sequence[Message]) -> tuple[list[_Request], dict[str, Result]]:
        """Requests to make, and the results already known (payloads that are not JSON)."""
        failed: dict[str, Result] = {}
        requests: list[_Request] = []
        batches: dict[tuple[Any, ...], list[tuple[str, Any]]] = {}
        for message in messages:
            try:
                payload = self._payload(message)
            except ValueError as exc:
                failed[message.key] = Result(message.key, ok=False, error=str(exc))
                continue
            url, method, headers = self._target(message)
            try:
                batch_size = int(message.content.get("batch_size") or 1)
            except (TypeError, ValueError):
                batch_size = 1
            if batch_size <= 1:
                body = message.content.get("payload") or _dumps(payload)
                requests.append(
                    _Request(webhook_id(message.key), url, method, headers, body, [message.key])
                )
                continue
            group = (url, method, tuple(sorted(headers.items())), batch_size)
            batches.setdefault(group, []).append((message.key, payload))
        for (url, method, header_items, batch_size), members in batches.items():
            for start in range(0, len(members), batch_size):
                part = members[start : start + batch_size]
                keys = [key for key, _ in part]
                body = _dumps(
                    {
                        "type": "campaign.batch",
                        "messages": [{"id": key, "payload": payload} for key, payload in part],
                    }
                )
                requests.append(
                    _Request(batch_webhook_id(keys), url, method, dict(header_items), body, keys)
                )
        return requests, failed

    # --- sending -----------------------------------------------------------------------------

    def _sign(self, request: _Request) -> dict[str, str]:
        assert self._signer is not None
        now = datetime.now(UTC)
        headers = dict(request.headers)
        # The marketer's headers cannot replace the signature or the body's type.
        for name in list(headers):
            if name.lower().startswith("webhook-") or name.lower() == "content-type":
                del headers[name]
        headers["Content-Type"] = "application/json"
        headers["webhook-id"] = request.webhook_id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = self._signer.sign(request.webhook_id, now, request.body)
        return headers

    def _post(self, request: _Request) -> _Outcome:
        if request.method not in METHODS:
            return _Outcome(
                False, f"method {request.method} is not allowed; use POST, PUT or PATCH"
            )
        try:
            url = httpx.URL(request.url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            return _Outcome(False, f"the URL is not valid: {exc}")
        if url.scheme not in SCHEMES or not url.host:
            return _Outcome(
                False, f"the URL must be http:// or https:// with a host: {request.url}"
            )
        for name, value in request.headers.items():
            if not _HEADER_NAME.fullmatch(name) or _LINE_BREAKS.search(value):
                return _Outcome(False, f"header {name!r} is not valid: one line, a token name")
        try:
            with self._client.stream(
                request.method, url, content=request.body.encode(), headers=self._sign(request)
            ) as response:
                answer = self._read(response)
                status = response.status_code
                location = response.headers.get("location", "")
        except TargetRefused as exc:
            return _Outcome(False, str(exc))
        except httpx.TimeoutException:
            return _Outcome(False, f"timed out after {self.timeout:g} s", transient=True)
        except httpx.LocalProtocolError as exc:
            return _Outcome(False, f"the request is not valid HTTP: {exc}")
        except (httpx.TransportError, httpx.StreamError) as exc:
            reason = str(exc) or "the connection failed"
            return _Outcome(False, f"{type(exc).__name__}: {reason}", transient=True)
        if 200 <= status < 300:
            return _Outcome(True)
        if 300 <= status < 400:
            target = location[:ERROR_SNIPPET] or "no location"
            return _Outcome(False, f"redirects are not followed: {status} to {target}")
        snippet = " ".join(answer.split())[:ERROR_SNIPPET]
        error = f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"
        return _Outcome(False, error, transient=classify_http(status))

    def _read(self, response: httpx.Response) -> str:
        """Up to MAX_ANSWER_BYTES of the answer, within the timeout: a receiver that trickles an
        endless body does not hold a worker (its status is all that counts)."""
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
                break
        return b"".join(chunks)[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")

    def _run(self, requests: list[_Request]) -> list[_Outcome]:
        if len(requests) <= 1 or self.concurrency == 1:
            return [self._post(request) for request in requests]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="herald-webhook")
        return list(self._pool.map(self._post, requests))

    def send(self, messages: Sequence[Message]) -> list[Result]:
        if self._signer is None:
            return [Result(m.key, ok=False, error=self._unsigned_reason) for m in messages]
        requests, results = self._requests(messages)
        for request, outcome in zip(requests, self._run(requests), strict=True):
            for key in request.keys:
                results[key] = Result(
                    key,
                    ok=outcome.ok,
                    provider_id=request.webhook_id if outcome.ok else "",
                    error=outcome.error,
                    transient=outcome.transient,
                )
        return [results[m.key] for m in messages]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._client.close()
