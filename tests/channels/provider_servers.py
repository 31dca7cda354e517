"""Loopback HTTP servers that speak the SMS and push providers' protocols.

Each checks what the real provider checks (path, method, auth, the request's fields) and answers
the way the provider does, both when it accepts and when it refuses; what it refused is also
written to `problems` so a test can say "the server found nothing wrong". `fail()` and `stall()`
queue answers the provider gives on a bad day (errors, unreadable bodies, no answer in time) for
the next requests that would otherwise have succeeded.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# The audience Google requires in the assertion, wherever the token endpoint is reached.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    client: tuple[str, int]  # the connection's address and port

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = b""  # bytes, text, or anything JSON-serialisable
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Fault:
    reply: Reply | None  # None: the normal answer, after the delay
    delay: float = 0.0
    when: Callable[[Received], bool] | None = None


class LoopbackServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.problems: list[str] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    self.client_address[:2],
                )
                reply = owner._answer(request)
                data = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting (a timeout test)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(
        self,
        status: int,
        body: Any = b"",
        *,
        times: int = 1,
        content_type: str = "application/json",
        when: Callable[[Received], bool] | None = None,
    ) -> None:
        """Answer the next `times` acceptable requests (those `when` picks) with this instead."""
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(Reply(status, body, content_type), when=when))

    def stall(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next `times` acceptable requests only after `seconds`."""
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(None, delay=seconds))

    def _answer(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
        refusal = self.check(request)
        if refusal is not None:
            return refusal
        fault = self._next_fault(request)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.reply is not None:
                return fault.reply
        return self.accept(request)

    def _next_fault(self, request: Received) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.when is None or fault.when(request):
                    self._faults.remove(fault)
                    return fault
        return None

    def refuse(self, problem: str, reply: Reply) -> Reply:
        with self._lock:
            self.problems.append(problem)
        return reply

    def check(self, request: Received) -> Reply | None:
        """The provider's refusal of a malformed or unauthenticated request, or None."""
        return None

    def accept(self, request: Received) -> Reply:
        raise NotImplementedError


def basic_auth(headers: dict[str, str]) -> tuple[str, str] | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def bearer(headers: dict[str, str]) -> str:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else ""


class TwilioServer(LoopbackServer):
    """Twilio's Messages resource: POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded,
    HTTP Basic auth; errors as {code, message, more_info, status}. To +15005550001 is refused as
    an invalid number (one of Twilio's magic test numbers)."""

    INVALID_NUMBER = "+15005550001"

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, str]] = []

    @staticmethod
    def error(status: int, code: int, message: str) -> Reply:
        return Reply(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def check(self, request: Received) -> Reply | None:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != path:
            return self.refuse(
                f"{request.method} {request.path}",
                self.error(404, 20404, "The requested resource was not found"),
            )
        if basic_auth(request.headers) != (self.account_sid, self.auth_token):
            return self.refuse("basic auth", self.error(401, 20003, "Authenticate"))
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return self.refuse(
                f"content type {request.headers.get('content-type')}",
                self.error(400, 21600, "The request must be form-encoded"),
            )
        form = request.form
        repeated = [name for name, values in form.items() if len(values) > 1]
        if repeated:
            return self.refuse(f"repeated {repeated}", self.error(400, 21600, "Repeated fields"))
        fields = {name: values[0] for name, values in form.items()}
        to, sender = fields.get("To", ""), fields.get("From", "")
        if not to:
            return self.refuse("no To", self.error(400, 21604, "A 'To' phone number is required."))
        if not sender:
            return self.refuse(
                "no From", self.error(400, 21603, "A 'From' phone number is required.")
            )
        if not fields.get("Body") and not fields.get("ContentSid"):
            return self.refuse("no Body", self.error(400, 21602, "Message body is required."))
        if to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
            return self.refuse(
                "To/From channels differ", self.error(400, 21910, "Invalid From and To pair.")
            )
        number = to.removeprefix("whatsapp:")
        if not number.startswith("+") or not number[1:].isdigit() or number == self.INVALID_NUMBER:
            return self.error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        return None

    def accept(self, request: Received) -> Reply:
        fields = {name: values[0] for name, values in request.form.items()}
        with self._lock:
            self.messages.append(fields)
        return Reply(
            201,
            {
                "sid": "SM" + uuid.uuid4().hex,
                "account_sid": self.account_sid,
                "to": fields["To"],
                "from": fields["From"],
                "body": fields.get("Body", ""),
                "status": "queued",
                "num_segments": "1",
            },
        )


class GatewayServer(LoopbackServer):
    """A generic SMS gateway: POST /send with JSON {to, from (text, or null for the gateway's
    default sender), body, reference} and a Bearer token; answers {"id": ...} (or {} when
    `with_ids` is off)."""

    path = "/send"

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.with_ids = True
        self.messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def check(self, request: Received) -> Reply | None:
        if request.method != "POST" or request.path != self.path:
            return self.refuse(f"{request.method} {request.path}", Reply(404, {"error": "no"}))
        if bearer(request.headers) != self.token:
            return self.refuse("bearer token", Reply(401, {"error": "invalid token"}))
        if request.headers.get("content-type") != "application/json":
            return self.refuse("content type", Reply(415, {"error": "send JSON"}))
        try:
            data = request.json()
        except ValueError:
            return self.refuse("body is not JSON", Reply(400, {"error": "invalid JSON"}))
        if not isinstance(data, dict) or set(data) != {"to", "from", "body", "reference"}:
            return self.refuse(f"fields {data!r}", Reply(400, {"error": "missing fields"}))
        required = [data["to"], data["body"], data["reference"]]
        if not all(isinstance(value, str) and value for value in required) or not (
            data["from"] is None or (isinstance(data["from"], str) and data["from"])
        ):
            return self.refuse(f"values {data!r}", Reply(400, {"error": "empty field"}))
        return None

    def accept(self, request: Received) -> Reply:
        data = request.json()
        with self._lock:
            self.messages.append(data)
        return Reply(200, {"id": f"gw-{next(self._ids)}"} if self.with_ids else {})


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class GoogleOAuthServer(LoopbackServer):
    """Google's OAuth 2.0 token endpoint for service accounts (RFC 7523 JWT bearer grant): the
    assertion must be an RS256 JWT signed with the service account's key (verified with its
    public key), issued by its e-mail, for Google's token audience, asking for FCM's scope."""

    path = "/token"

    def __init__(self, public_key: rsa.RSAPublicKey, client_email: str) -> None:
        super().__init__()
        self.public_key = public_key
        self.client_email = client_email
        self.expires_in = 3600
        self.valid_tokens: set[str] = set()
        self._tokens = itertools.count(1)

    @property
    def token_uri(self) -> str:
        return self.url + self.path

    @property
    def token_requests(self) -> int:
        return len(self.received)

    def revoke_all(self) -> None:
        """Every token issued so far stops working (FCM answers 401 to them)."""
        with self._lock:
            self.valid_tokens.clear()

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self.valid_tokens

    @staticmethod
    def error(error: str, description: str) -> Reply:
        return Reply(400, {"error": error, "error_description": description})

    def check(self, request: Received) -> Reply | None:
        if request.method != "POST" or request.path != self.path:
            return self.refuse(f"{request.method} {request.path}", Reply(404, {"error": "no"}))
        form = request.form
        if form.get("grant_type") != [JWT_BEARER]:
            return self.refuse(
                f"grant_type {form.get('grant_type')}",
                self.error("unsupported_grant_type", "Invalid grant_type"),
            )
        problem = self._assertion_problem((form.get("assertion") or [""])[0])
        if problem:
            return self.refuse(problem, self.error("invalid_grant", problem))
        return None

    def _assertion_problem(self, assertion: str) -> str:
        parts = assertion.split(".")
        if len(parts) != 3:
            return "The assertion is not a JWT."
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            return "The assertion is not a JWT."
        if header.get("alg") != "RS256":
            return f"Unsupported JWT algorithm {header.get('alg')}."
        try:
            self.public_key.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("iss") != self.client_email:
            return f"Wrong issuer {claims.get('iss')}."
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return f"Wrong audience {claims.get('aud')}."
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return f"Wrong scope {claims.get('scope')}."
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "iat and exp must be numbers."
        if iat > now + 60 or exp <= now or exp - iat > 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)."
        return ""

    def accept(self, request: Received) -> Reply:
        token = f"ya29.test-{next(self._tokens)}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.valid_tokens.add(token)
        return Reply(
            200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )


def fcm_error(
    status: int, rpc_status: str, message: str, code: str = "", **extra: Any
) -> dict[str, Any]:
    """FCM v1's error document: a google.rpc.Status with an FcmError detail."""
    details: list[dict[str, Any]] = []
    if code:
        details.append(
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
        )
    if extra.get("field"):
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": extra["field"], "description": message}],
            }
        )
    return {"error": {"code": status, "message": message, "status": rpc_status, "details": details}}


class FcmServer(LoopbackServer):
    """FCM HTTP v1: POST /v1/projects/{project}/messages:send with a Bearer access token the
    OAuth server issued and JSON {"message": {token, notification, data}}; answers
    {"name": "projects/{project}/messages/{n}"}. Tokens in `unregistered` are gone (404
    UNREGISTERED); tokens in `invalid` are malformed (400 INVALID_ARGUMENT on message.token)."""

    def __init__(self, oauth: GoogleOAuthServer, project_id: str) -> None:
        super().__init__()
        self.oauth = oauth
        self.project_id = project_id
        self.unregistered: set[str] = set()
        self.invalid: set[str] = set()
        # Off: every access token is refused, even fresh ones (a project without FCM rights).
        self.accept_tokens = True
        self.messages: list[dict[str, Any]] = []
        self._names = itertools.count(1)

    def check(self, request: Received) -> Reply | None:
        path = f"/v1/projects/{self.project_id}/messages:send"
        if request.method != "POST" or request.path != path:
            return self.refuse(
                f"{request.method} {request.path}",
                Reply(404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.")),
            )
        if not self.accept_tokens or not self.oauth.is_valid(bearer(request.headers)):
            return self.refuse(
                "access token",
                Reply(
                    401,
                    fcm_error(
                        401,
                        "UNAUTHENTICATED",
                        "Request had invalid authentication credentials. Expected OAuth 2 "
                        "access token, login cookie or other valid authentication credential.",
                    ),
                ),
            )
        try:
            message = request.json()["message"]
        except (ValueError, KeyError, TypeError):
            return self.refuse("body", self._invalid("Invalid JSON payload received."))
        problem = self._message_problem(message)
        if problem:
            return self.refuse(problem, self._invalid(problem))
        token = message["token"]
        if token in self.unregistered:
            return Reply(
                404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            )
        if token in self.invalid:
            return Reply(
                400,
                fcm_error(
                    400,
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token",
                    "INVALID_ARGUMENT",
                    field="message.token",
                ),
            )
        return None

    @staticmethod
    def _invalid(message: str) -> Reply:
        return Reply(400, fcm_error(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT"))

    @staticmethod
    def _message_problem(message: Any) -> str:
        if not isinstance(message, dict):
            return "message must be an object"
        unknown = set(message) - {"token", "notification", "data", "android", "apns", "webpush"}
        if unknown:
            return f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"'
        if not isinstance(message.get("token"), str) or not message["token"]:
            return "message.token is required"
        notification = message.get("notification", {})
        if not isinstance(notification, dict) or set(notification) - {"title", "body", "image"}:
            return f"Invalid notification {notification!r}"
        if not all(isinstance(value, str) for value in notification.values()):
            return "notification fields must be strings"
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return "Invalid value at 'message.data': data values must be strings"
        reserved = [
            key
            for key in data
            if key in ("from", "notification", "message_type") or key.startswith(("google", "gcm"))
        ]
        if reserved:
            return f"Invalid data payload key: {reserved[0]}"
        return ""

    def accept(self, request: Received) -> Reply:
        message = request.json()["message"]
        with self._lock:
            self.messages.append(message)
            name = f"projects/{self.project_id}/messages/{next(self._names)}"
        return Reply(200, {"name": name})


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_json(
    private_key: rsa.RSAPrivateKey, *, token_uri: str, project_id: str, client_email: str
) -> str:
    """A service account's JSON key, as the Google Cloud console downloads it."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": client_email,
            "client_id": "100000000000000000000",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }
    )
