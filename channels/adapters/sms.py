"""SMS through Twilio's REST API or a generic HTTP gateway, and WhatsApp through Twilio.

Each message is one POST; a chunk's posts go out on a small thread pool over one keep-alive
httpx client, so a slow provider costs a chunk its slowest answer rather than the sum of them.
Billing segments (GSM-7 160/153, UCS-2 70/67 characters) are counted per message sent in
`segments_sent` and logged: the ledger has no column for them yet.

Replies (STOP, START...) come back through channels.inbound.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from campaigns.validation import sms_segments
from channels.adapters.base import Adapter, Message, Result, classify_http

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 8


def http_client(options: dict[str, Any], connections: int) -> httpx.Client:
    """A keep-alive client with the adapter's timeout (options["timeout"], seconds) that never
    follows redirects: a provider that redirects an API call is misconfigured, not obeyed."""
    timeout = float(options.get("timeout") or DEFAULT_TIMEOUT)
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


def body_snippet(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    if not text:
        return "an empty body"
    return text if len(text) <= limit else text[:limit] + "…"


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class ConcurrentHttpAdapter(Adapter):
    """Sends a chunk's messages concurrently (options["concurrency"] requests at a time) and
    turns network failures into transient results, so subclasses map one answer to one result."""

    label: str = ""

    def __init__(
        self, options: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
    ):
        super().__init__(options, secrets)
        self.concurrency = max(1, int(self.options.get("concurrency") or DEFAULT_CONCURRENCY))
        self.client = http_client(self.options, self.concurrency)
        self._pool: ThreadPoolExecutor | None = None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self.concurrency == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.label)
        return list(self._pool.map(fn, items))

    def network_failure(self, key: str, exc: httpx.HTTPError | httpx.InvalidURL) -> Result:
        """A request that got no answer. A URL the client cannot use is configuration (a retry
        cannot help); timeouts and connection errors are transient."""
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return Result(key, ok=False, error=f"{self.label}: unusable URL ({exc})")
        if isinstance(exc, httpx.TimeoutException):
            return Result(key, ok=False, error=f"{self.label}: timed out", transient=True)
        return Result(
            key,
            ok=False,
            error=f"{self.label}: connection failed ({type(exc).__name__}: {exc})",
            transient=True,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()


class SmsAdapter(ConcurrentHttpAdapter):
    channel = "sms"
    chunk_size = 100

    def __init__(
        self, options: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
    ):
        super().__init__(options, secrets)
        self.segments_sent = 0
        self._count_lock = threading.Lock()

    def send(self, messages: Sequence[Message]) -> list[Result]:
        return self.map(self._send_one, messages)

    def _send_one(self, message: Message) -> Result:
        problem = self.problem(message)
        if problem:
            return Result(message.key, ok=False, error=problem)
        try:
            result = self.post(message)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return self.network_failure(message.key, exc)
        if result.ok:
            self.count(message)
        return result

    def sender(self, message: Message) -> str:
        return str(message.content.get("sender_id") or self.options.get("from") or "")

    def problem(self, message: Message) -> str:
        """Why the message cannot be sent at all (a permanent failure), or ""."""
        if not message.to:
            return "No phone number."
        if not self.sender(message):
            return f"{self.label}: no sender number is configured."
        return ""

    def count(self, message: Message) -> None:
        segments = sms_segments(str(message.content.get("body", "")))["segments"]
        with self._count_lock:
            self.segments_sent += segments
        log.debug("sms %s sent in %s segment(s)", message.key, segments)

    def post(self, message: Message) -> Result:
        raise NotImplementedError


class TwilioAdapter(SmsAdapter):
    """Twilio's Programmable Messaging: POST .../Accounts/{sid}/Messages.json, form-encoded,
    HTTP Basic auth with the account SID and auth token; the answer's "sid" is the provider id."""

    provider = "twilio"
    label = "Twilio"

    def problem(self, message: Message) -> str:
        if not self.options.get("account_sid") or not self.secrets.get("auth_token"):
            return "Twilio: the account SID and auth token are not configured."
        return super().problem(message)

    def form(self, message: Message) -> dict[str, str]:
        return {
            "To": message.to,
            "From": self.sender(message),
            "Body": str(message.content.get("body", "")),
        }

    def post(self, message: Message) -> Result:
        sid = self.options["account_sid"]
        base = str(self.options.get("base_url") or "https://api.twilio.com").rstrip("/")
        response = self.client.post(
            f"{base}/2010-04-01/Accounts/{sid}/Messages.json",
            data=self.form(message),
            auth=(sid, self.secrets["auth_token"]),
        )
        return twilio_result(message.key, response)


def twilio_result(key: str, response: httpx.Response) -> Result:
    status = response.status_code
    data = json_or_none(response)
    if 200 <= status < 300:
        provider_id = data.get("sid") if isinstance(data, dict) else None
        if isinstance(provider_id, str) and provider_id:
            return Result(key, ok=True, provider_id=provider_id)
        # Twilio took the request: sending again could deliver twice.
        return Result(
            key,
            ok=False,
            error=f"Twilio answered {status} without a message sid: {body_snippet(response)}",
        )
    transient = classify_http(status)
    if isinstance(data, dict) and data.get("message"):
        return Result(
            key,
            ok=False,
            error=f"Twilio {data.get('code') or status}: {data['message']}",
            transient=transient,
        )
    return Result(
        key,
        ok=False,
        error=f"Twilio answered {status} with {body_snippet(response)}",
        transient=transient,
    )


# A Twilio Content Template's SID: HX and 32 hex digits.
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


class TwilioWhatsAppAdapter(TwilioAdapter):
    """WhatsApp through Twilio's Messages API, with "whatsapp:" addresses.

    The message's template_name is either a Twilio Content Template SID (HX...), sent as
    ContentSid with the variables as ContentVariables {"1": ..., "2": ...} (what WhatsApp needs
    outside the 24-hour session window), or the template's text, whose {{1}}, {{2}}...
    placeholders are filled with the variables and sent as the Body. `language` is not sent:
    a Content Template carries its own language.
    """

    channel = "whatsapp"
    label = "Twilio WhatsApp"

    def form(self, message: Message) -> dict[str, str]:
        template = str(message.content.get("template_name", ""))
        variables = [str(v) for v in message.content.get("variables") or []]
        form = {"To": whatsapp_address(message.to), "From": whatsapp_address(self.sender(message))}
        if CONTENT_SID.fullmatch(template):
            form["ContentSid"] = template
            if variables:
                form["ContentVariables"] = json.dumps(
                    {str(i): value for i, value in enumerate(variables, start=1)}
                )
        else:
            form["Body"] = fill_placeholders(template, variables)
        return form

    def sender(self, message: Message) -> str:
        return str(self.options.get("from") or "")

    def count(self, message: Message) -> None:
        """WhatsApp is billed per conversation, not per segment."""


def whatsapp_address(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def fill_placeholders(template: str, variables: list[str]) -> str:
    def value(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return variables[index] if 0 <= index < len(variables) else match.group(0)

    return PLACEHOLDER.sub(value, template)


class HttpGatewayAdapter(SmsAdapter):
    """A generic HTTP SMS gateway: POST JSON {to, from, body, reference} with a Bearer token
    (none when no token is configured); a 2xx answer is sent, its JSON "id" (if any) the
    provider id, else the message key (which the gateway also got as `reference`)."""

    provider = "http"
    label = "SMS gateway"

    def problem(self, message: Message) -> str:
        if not self.options.get("gateway_url"):
            return "SMS gateway: no gateway URL is configured."
        return "" if message.to else "No phone number."

    def post(self, message: Message) -> Result:
        headers = {}
        if self.secrets.get("gateway_token"):
            headers["Authorization"] = f"Bearer {self.secrets['gateway_token']}"
        response = self.client.post(
            self.options["gateway_url"],
            json={
                "to": message.to,
                # null: no sender is configured, the gateway uses its own.
                "from": self.sender(message) or None,
                "body": str(message.content.get("body", "")),
                "reference": message.key,
            },
            headers=headers,
        )
        return gateway_result(message.key, response)


def gateway_result(key: str, response: httpx.Response) -> Result:
    status = response.status_code
    data = json_or_none(response)
    if 200 <= status < 300:
        if not response.content.strip():
            return Result(key, ok=True, provider_id=key)
        if not isinstance(data, dict):
            return Result(
                key,
                ok=False,
                error=f"SMS gateway answered {status} with {body_snippet(response)}, not a JSON "
                "object",
            )
        provider_id = data.get("id")
        return Result(key, ok=True, provider_id=str(provider_id) if provider_id else key)
    reason = ""
    if isinstance(data, dict):
        reason = data.get("error") or data.get("message") or ""
        if isinstance(reason, dict):
            reason = reason.get("message") or json.dumps(reason)
    return Result(
        key,
        ok=False,
        error=f"SMS gateway {status}: {reason or body_snippet(response)}",
        transient=classify_http(status),
    )
