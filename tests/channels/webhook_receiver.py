"""A Standard Webhooks receiver on loopback, for the webhook adapter's tests.

It verifies every request's signature with the standardwebhooks library (as a real receiver
would), records what it got, and answers by path:
/ok 204, /created 201, /redirect 302, /flaky 500 on a webhook-id's first delivery then 200,
/bad 400, /slow answers after SLOW seconds.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

SLOW = 1.5


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str
    payload: Any

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    secret: str
    requests: list[Received] = field(default_factory=list)
    # Requests whose signature did not verify (a test expects none).
    rejected: list[str] = field(default_factory=list)
    connections: set[int] = field(default_factory=set)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        assert self.server is not None
        return f"http://{host}:{self.server.server_address[1]}{path}"

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.requests]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.connections.add(id(self.connection))
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver.lock:
                        receiver.rejected.append(f"{self.path}: {exc}")
                    self._answer(401, b"bad signature")
                    return
                with receiver.lock:
                    seen = sum(r.webhook_id == headers["webhook-id"] for r in receiver.requests)
                    receiver.requests.append(
                        Received(self.command, self.path, headers, body, payload)
                    )
                if self.path == "/ok":
                    self._answer(204)
                elif self.path == "/created":
                    self._answer(201, json.dumps({"received": True}).encode())
                elif self.path == "/redirect":
                    self._answer(302, Location=f"http://127.0.0.1:{receiver.port}/elsewhere")
                elif self.path == "/flaky":
                    self._answer(500, b"try later") if not seen else self._answer(200, b"ok")
                elif self.path == "/bad":
                    self._answer(400, b'{"error": "unknown field\\n plan"}')
                elif self.path == "/slow":
                    time.sleep(SLOW)
                    self._answer(200)
                else:
                    self._answer(404, b"no such hook")

            do_POST = do_PUT = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
