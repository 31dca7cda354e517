"""Mobile push through Firebase Cloud Messaging's HTTP v1 API.

FCM v1 takes one device token per request, so a recipient with two devices costs two requests;
a chunk's requests go out on a small thread pool over one keep-alive client. The recipient's
result is sent when at least one device got the message (its provider id the first FCM message
name). Tokens FCM says are gone (UNREGISTERED, or INVALID_ARGUMENT naming the token) come back
in Result.disabled_devices for the pipeline to disable, and are not tried again by this adapter.

Authentication is an OAuth 2.0 access token for the service account (google-auth signs a JWT
with the account's private key and trades it at the key's token_uri), cached until shortly
before it expires and refreshed once when FCM answers 401.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import httpx
import requests
from google.oauth2 import service_account

from channels.adapters.base import Message, Result, classify_http
from channels.adapters.sms import ConcurrentHttpAdapter, body_snippet, json_or_none

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


class AuthFailed(Exception):
    def __init__(self, text: str, *, transient: bool) -> None:
        super().__init__(text)
        self.transient = transient


@dataclass(slots=True)
class DeviceOutcome:
    device_id: int
    name: str = ""
    error: str = ""
    transient: bool = False


class TokenRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with the adapter's timeout (its default is 120 s)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(requests.Session())
        self.timeout = timeout

    def __call__(  # type: ignore[override]
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        return super().__call__(
            url,
            method=method,
            body=body,
            headers=headers,
            timeout=timeout or self.timeout,
            **kwargs,
        )


class FcmAdapter(ConcurrentHttpAdapter):
    channel = "push"
    provider = "fcm"
    label = "FCM"
    chunk_size = 100

    def __init__(
        self, options: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
    ):
        super().__init__(options, secrets)
        self._credentials: service_account.Credentials | None = None
        self._project_id = str(self.options.get("project_id") or "")
        self._token_lock = threading.Lock()
        self._token_request: TokenRequest | None = None
        # Device id -> why FCM said its token is gone, for this adapter's life: a retried
        # message is not sent to them again but still reports them.
        self._gone: dict[int, str] = {}
        self._gone_lock = threading.Lock()

    def credentials(self) -> service_account.Credentials:
        if self._credentials is None:
            raw = self.secrets.get("service_account")
            if not raw:
                raise AuthFailed("FCM: no service account key is configured.", transient=False)
            try:
                info = json.loads(raw) if isinstance(raw, str) else dict(raw)
                credentials = service_account.Credentials.from_service_account_info(
                    info, scopes=[SCOPE]
                )
            except Exception as exc:  # noqa: BLE001 - any unreadable key is a configuration error
                raise AuthFailed(
                    f"FCM: the service account key is not usable ({exc}).", transient=False
                ) from exc
            self._credentials = credentials
            self._project_id = self._project_id or str(info.get("project_id") or "")
        return self._credentials

    def access_token(self, stale: str | None = None) -> str:
        """The cached access token, refreshed when it is (nearly) expired or is `stale` (the one
        FCM just refused: threads that saw the same 401 refresh it once between them)."""
        with self._token_lock:
            credentials = self.credentials()
            if credentials.valid and (stale is None or credentials.token != stale):
                return str(credentials.token)
            if self._token_request is None:
                timeout = float(self.options.get("timeout") or 10.0)
                self._token_request = TokenRequest(timeout)
            try:
                credentials.refresh(self._token_request)
            except google.auth.exceptions.RefreshError as exc:
                reason = exc.args[0] if exc.args else exc
                raise AuthFailed(
                    f"FCM authentication failed: {reason}",
                    transient=bool(getattr(exc, "retryable", False)),
                ) from exc
            except google.auth.exceptions.TransportError as exc:
                raise AuthFailed(
                    f"FCM: the OAuth token endpoint did not answer ({exc}).", transient=True
                ) from exc
            except (ValueError, TypeError, KeyError) as exc:
                raise AuthFailed(
                    f"FCM: the OAuth token endpoint's answer is unreadable ({exc}).",
                    transient=False,
                ) from exc
            return str(credentials.token)

    def send(self, messages: Sequence[Message]) -> list[Result]:
        try:
            token = self.access_token()
            if not self._project_id:
                raise AuthFailed("FCM: no project id is configured.", transient=False)
        except AuthFailed as exc:
            return [
                Result(m.key, ok=False, error=str(exc), transient=exc.transient) for m in messages
            ]
        jobs = [
            (message, device_id, device_token)
            for message in messages
            for device_id, device_token in message.devices
            if device_id not in self._gone
        ]
        outcomes = self.map(lambda job: self._push(*job, access_token=token), jobs)
        by_key: dict[str, list[DeviceOutcome]] = {}
        for (message, _, _), outcome in zip(jobs, outcomes, strict=True):
            by_key.setdefault(message.key, []).append(outcome)
        return [self._result(m, by_key.get(m.key, [])) for m in messages]

    def _result(self, message: Message, outcomes: list[DeviceOutcome]) -> Result:
        if not message.devices:
            return Result(message.key, ok=False, error="No device.")
        gone = [device_id for device_id, _ in message.devices if device_id in self._gone]
        sent = [o for o in outcomes if o.name]
        if sent:
            return Result(message.key, ok=True, provider_id=sent[0].name, disabled_devices=gone)
        failures = [o for o in outcomes if o.error and o.device_id not in self._gone]
        if not failures:
            reasons = sorted({self._gone[device_id] for device_id in gone})
            return Result(
                message.key,
                ok=False,
                error=f"FCM: no device token is valid ({', '.join(reasons)}).",
                disabled_devices=gone,
            )
        # One device worth retrying makes the message worth retrying.
        failure = next((o for o in failures if o.transient), failures[0])
        return Result(
            message.key,
            ok=False,
            error=failure.error,
            transient=failure.transient,
            disabled_devices=gone,
        )

    def _push(
        self, message: Message, device_id: int, device_token: str, *, access_token: str
    ) -> DeviceOutcome:
        payload = fcm_payload(message, device_token)
        try:
            response = self._post(payload, access_token)
            if _needs_new_token(response):
                access_token = self.access_token(stale=access_token)
                response = self._post(payload, access_token)
                if _needs_new_token(response):
                    return DeviceOutcome(
                        device_id, error=f"FCM authentication failed: {_fcm_error(response)}"
                    )
        except AuthFailed as exc:
            return DeviceOutcome(device_id, error=str(exc), transient=exc.transient)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            failure = self.network_failure(message.key, exc)
            return DeviceOutcome(device_id, error=failure.error, transient=failure.transient)
        return self._outcome(device_id, response)

    def _post(self, payload: dict[str, Any], access_token: str) -> httpx.Response:
        base = str(self.options.get("base_url") or "https://fcm.googleapis.com").rstrip("/")
        return self.client.post(
            f"{base}/v1/projects/{self._project_id}/messages:send",
            json=payload,
            headers={"Authorization": f"Bearer {access_token}"},
        )

    def _outcome(self, device_id: int, response: httpx.Response) -> DeviceOutcome:
        status = response.status_code
        if 200 <= status < 300:
            data = json_or_none(response)
            name = data.get("name") if isinstance(data, dict) else None
            if isinstance(name, str) and name:
                return DeviceOutcome(device_id, name=name)
            # FCM took the request: sending again could deliver twice.
            return DeviceOutcome(
                device_id,
                error=f"FCM answered {status} without a message name: {body_snippet(response)}",
            )
        error = _error_object(response)
        code = _fcm_error_code(error)
        if status == 404 or code == "UNREGISTERED":
            self._forget(device_id, "UNREGISTERED")
        elif status == 400 and "INVALID_ARGUMENT" in (code, error.get("status")):
            if _names_the_token(error):
                self._forget(device_id, "invalid registration token")
        return DeviceOutcome(device_id, error=_fcm_error(response), transient=classify_http(status))

    def _forget(self, device_id: int, reason: str) -> None:
        with self._gone_lock:
            self._gone[device_id] = reason


def fcm_payload(message: Message, device_token: str) -> dict[str, Any]:
    """An FCM v1 message: the notification, and custom key-values plus the deep link as data
    (FCM's data values are strings)."""
    content = message.content
    notification = {"title": str(content.get("title", "")), "body": str(content.get("body", ""))}
    if content.get("image_url"):
        notification["image"] = str(content["image_url"])
    data = {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in (content.get("custom_kv") or {}).items()
    }
    if content.get("deep_link"):
        data["deep_link"] = str(content["deep_link"])
    fcm_message: dict[str, Any] = {"token": device_token, "notification": notification}
    if data:
        fcm_message["data"] = data
    return {"message": fcm_message}


def _error_object(response: httpx.Response) -> dict[str, Any]:
    data = json_or_none(response)
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _fcm_error_code(error: dict[str, Any]) -> str:
    """FCM's own error code (UNREGISTERED, QUOTA_EXCEEDED...), from the FcmError detail."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
            return detail["errorCode"]
    return ""


def _names_the_token(error: dict[str, Any]) -> bool:
    for detail in error.get("details") or []:
        for violation in (detail.get("fieldViolations") or []) if isinstance(detail, dict) else []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    return "registration token" in str(error.get("message", "")).lower()


def _fcm_error(response: httpx.Response) -> str:
    error = _error_object(response)
    code = _fcm_error_code(error) or error.get("status")
    message = error.get("message") or body_snippet(response)
    if code:
        return f"FCM {response.status_code} {code}: {message}"
    return f"FCM {response.status_code}: {message}"


def _needs_new_token(response: httpx.Response) -> bool:
    """401 means our access token was refused, except THIRD_PARTY_AUTH_ERROR (the project's
    APNs or web push credentials are wrong: a new token cannot help)."""
    return (
        response.status_code == 401
        and _fcm_error_code(_error_object(response)) != "THIRD_PARTY_AUTH_ERROR"
    )
