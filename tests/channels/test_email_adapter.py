"""The e-mail adapter against a real SMTP server (aiosmtpd) on loopback, with and without
PIPELINING, and against a loopback HTTP server speaking Mailgun's API for django-anymail.

The server keeps what it receives, counts SMTP sessions (connection reuse) and answers chosen
recipients with chosen replies: a 550 at RCPT (permanent), a 451 (transient), a 554 after the
content, a 421 closing the session.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import quopri
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from django.core import mail

from channels.adapters import email as email_adapter
from channels.adapters.base import Message, deliver
from channels.adapters.email import EmailAdapter, html_to_text, parse_html, quoted_printable
from channels.providers import adapter_for
from tests.approvals import support
from tests.approvals.support import free_port, smtp_serving

BASE_URL = "https://herald.example.com"
HTML = (
    "<html><head><style>p { color: #333 }</style></head><body>"
    "<p>Hello Ann,</p>\n"
    '<p><a href="https://shop.example.com/spring?utm_source=herald&amp;utm_medium=email">'
    "See the spring sale</a></p>\n"
    "<p><a href='https://shop.example.com/spring?utm_source=herald&amp;utm_medium=email'>"
    'Same link again</a> or <a href="mailto:help@example.com">write to us</a>'
    ' or <a href="#top">go up</a>.</p>\n'
    ".a line starting with a dot\n"
    "</body></html>"
)
CONTENT = {
    "subject": "Spring sale: 20% off, Ann",
    "from_email": "news@example.com",
    "from_name": "Example Shop",
    "reply_to": "help@example.com",
    "preheader": "Three days only",
    "html": HTML,
}


@dataclass
class SmtpSink:
    """An aiosmtpd handler keeping every envelope, counting sessions, and answering chosen
    recipients with chosen replies."""

    pipelining: bool = False
    envelopes: list[Any] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    # address -> the reply to its RCPT TO ("550 5.1.1 No such user")
    at_rcpt: dict[str, str] = field(default_factory=dict)
    # address -> the reply to its content ("554 5.7.1 Rejected")
    at_data: dict[str, str] = field(default_factory=dict)
    # address -> how many times to answer 451 before accepting (greylisting)
    greylist: dict[str, int] = field(default_factory=dict)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        self.sessions.add(id(session))
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.at_rcpt:
            return self.at_rcpt[address]
        if self.greylist.get(address, 0) > 0:
            self.greylist[address] -= 1
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        [address] = envelope.rcpt_tos
        if address in self.at_data:
            return self.at_data[address]
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def received(self) -> dict[str, EmailMessage]:
        out = {}
        for envelope in self.envelopes:
            [address] = envelope.rcpt_tos
            assert address not in out, f"{address} received two messages"
            out[address] = email.message_from_bytes(envelope.content, policy=email.policy.default)
        return out


@contextmanager
def smtp_sink(*, pipelining: bool) -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink(pipelining=pipelining)
    with smtp_serving(sink) as port:
        yield sink, port


def use_smtp(settings, port: int) -> None:
    support.use_smtp(settings, port, timeout=5)


@pytest.fixture(params=["pipelining", "no pipelining"])
def sink(request, settings) -> Iterator[SmtpSink]:
    settings.HERALD_BASE_URL = BASE_URL
    with smtp_sink(pipelining=request.param == "pipelining") as (handler, port):
        use_smtp(settings, port)
        yield handler


@pytest.fixture
def adapter(sink) -> Iterator[EmailAdapter]:
    with EmailAdapter({"provider": "django"}) as opened:
        yield opened


def messages(*addresses: str, run_id: int = 7, content: dict[str, Any] | None = None):
    return [
        Message(
            key=f"{run_id}-{profile_id}",
            run_id=run_id,
            campaign_id=3,
            profile_id=profile_id,
            to=address,
            content=dict(content or CONTENT),
        )
        for profile_id, address in enumerate(addresses, start=1)
    ]


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content().replace("\r\n", "\n")


def hrefs(html: str) -> list[str]:
    return re.findall(r"""href=["']([^"']*)["']""", html)


# ---------------------------------------------------------------------------------------------
# What a recipient gets
# ---------------------------------------------------------------------------------------------
def test_each_recipient_gets_one_click_unsubscribe_and_a_stable_message_id(adapter, sink):
    results = adapter.send(messages("ann@example.com", "bob@example.com"))

    assert [r.ok for r in results] == [True, True]
    received = sink.received()
    ann = received["ann@example.com"]
    assert ann["Message-ID"] == "<7-1.herald@example.com>" == results[0].provider_id
    assert ann["X-Herald-Delivery"] == "7-1"
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(rf"<{BASE_URL}/t/u/[A-Za-z0-9_.-]+/>", ann["List-Unsubscribe"])
    assert ann["Subject"] == "Spring sale: 20% off, Ann"
    assert ann["From"] == "Example Shop <news@example.com>"
    assert ann["Reply-To"] == "help@example.com"
    assert ann["To"] == "ann@example.com"
    # The same delivery key always makes the same Message-ID; each recipient has their own links.
    assert received["bob@example.com"]["Message-ID"] == "<7-2.herald@example.com>"
    assert received["bob@example.com"]["List-Unsubscribe"] != ann["List-Unsubscribe"]


def test_links_are_rewritten_to_signed_redirects_and_a_pixel_is_added(adapter, sink):
    adapter.send(messages("ann@example.com"))

    html = html_of(sink.received()["ann@example.com"])
    links = hrefs(html)
    # Both http(s) links tracked (the same URL, the same token), mailto and anchors left alone.
    assert links[0] == links[1]
    assert re.fullmatch(rf"{BASE_URL}/t/c/[A-Za-z0-9_.-]+/", links[0])
    assert links[2:] == ["mailto:help@example.com", "#top"]
    assert "shop.example.com" not in html
    assert re.search(rf'<img src="{BASE_URL}/t/o/[A-Za-z0-9_.-]+\.gif" width="1" height="1"', html)
    assert html.index("/t/o/") > html.index("Same link again")
    assert html.rstrip().endswith("</body></html>")
    # The preheader is hidden text at the very top of the body; the rest is untouched.
    assert re.search(r'<body><span style="display:none[^"]*">Three days only</span><p>', html)
    assert "\n.a line starting with a dot\n" in html


def test_the_text_part_is_made_from_the_html_when_there_is_none(adapter, sink):
    adapter.send(
        messages("ann@example.com")
        + messages("bob@example.com", run_id=8, content={**CONTENT, "text": "Plain words"})
    )

    received = sink.received()
    text = received["ann@example.com"].get_body(("plain",)).get_content()
    assert "Hello Ann," in text
    assert (
        "See the spring sale (https://shop.example.com/spring?utm_source=herald&utm_medium=email)"
        in text
    )
    assert "color: #333" not in text
    assert received["bob@example.com"].get_body(("plain",)).get_content().strip() == "Plain words"


def test_unicode_subjects_and_sender_names_are_encoded(adapter, sink):
    content = {**CONTENT, "subject": "Grüße, Zoë — 20 %", "from_name": 'Café "Zoë", Paris'}
    adapter.send(messages("ann@example.com", content=content))

    ann = sink.received()["ann@example.com"]
    assert ann["Subject"] == "Grüße, Zoë — 20 %"
    assert ann["From"].addresses[0].display_name == 'Café "Zoë", Paris'
    assert ann["From"].addresses[0].addr_spec == "news@example.com"


def test_a_line_break_in_a_rendered_subject_cannot_add_headers(adapter, sink):
    content = {**CONTENT, "subject": "Hello\r\nBcc: everyone@example.com"}
    [result] = adapter.send(messages("ann@example.com", content=content))

    assert result.ok
    ann = sink.received()["ann@example.com"]
    assert ann["Bcc"] is None
    assert ann["Subject"] == "Hello Bcc: everyone@example.com"


# ---------------------------------------------------------------------------------------------
# Connection reuse
# ---------------------------------------------------------------------------------------------
def test_one_smtp_session_carries_every_chunk(adapter, sink):
    addresses = [f"user{i}@example.com" for i in range(250)]
    batch = messages(*addresses)

    for start in range(0, len(batch), adapter.chunk_size):
        results = adapter.send(batch[start : start + adapter.chunk_size])
        assert all(r.ok for r in results)

    assert len(sink.received()) == 250
    assert len(sink.sessions) == 1


# ---------------------------------------------------------------------------------------------
# Failures: one message at a time
# ---------------------------------------------------------------------------------------------
def test_a_refused_recipient_fails_only_that_message_for_good(adapter, sink):
    sink.at_rcpt["gone@example.com"] = "550 5.1.1 No such user"

    results = adapter.send(messages("ann@example.com", "gone@example.com", "bob@example.com"))

    ok, refused, also_ok = results
    assert ok.ok and also_ok.ok
    assert not refused.ok and not refused.transient
    assert refused.error == "Recipient refused: 550 5.1.1 No such user"
    assert set(sink.received()) == {"ann@example.com", "bob@example.com"}
    assert len(sink.sessions) == 1


def test_a_temporary_refusal_is_transient(adapter, sink):
    sink.at_rcpt["busy@example.com"] = "451 4.3.0 Mailbox busy"

    results = adapter.send(messages("busy@example.com", "ann@example.com"))

    assert not results[0].ok and results[0].transient
    assert "451 4.3.0 Mailbox busy" in results[0].error
    assert results[1].ok


def test_rejected_content_fails_that_message_and_the_next_is_still_sent(adapter, sink):
    sink.at_data["strict@example.com"] = "554 5.7.1 Message rejected as spam"

    results = adapter.send(messages("ann@example.com", "strict@example.com", "bob@example.com"))

    assert [r.ok for r in results] == [True, False, True]
    assert not results[1].transient
    assert results[1].error == "Message refused: 554 5.7.1 Message rejected as spam"
    assert set(sink.received()) == {"ann@example.com", "bob@example.com"}


def test_an_invalid_address_fails_for_good_without_troubling_the_others(adapter, sink):
    results = adapter.send(messages("ann@example.com", "not an address", ""))

    assert results[0].ok
    assert [(r.ok, r.transient) for r in results[1:]] == [(False, False), (False, False)]
    assert "Not an e-mail address" in results[1].error
    assert results[2].error == "The profile has no e-mail address."
    assert set(sink.received()) == {"ann@example.com"}


def test_greylisting_is_retried_by_deliver_until_accepted(adapter, sink):
    sink.greylist["ann@example.com"] = 2

    [result] = deliver(adapter, messages("ann@example.com"), sleep=lambda seconds: None)

    assert result.ok and result.attempts == 3
    assert set(sink.received()) == {"ann@example.com"}


def test_a_server_closing_the_session_fails_the_rest_transiently_and_the_retry_reconnects(
    adapter, sink
):
    sink.at_data["third@example.com"] = "421 4.3.2 Shutting down"
    batch = messages(*(f"{name}@example.com" for name in ("one", "two", "third", "four")))

    first = adapter.send(batch)

    assert [(r.ok, r.transient) for r in first] == [
        (True, False),
        (True, False),
        (False, True),
        (False, True),
    ]
    del sink.at_data["third@example.com"]
    again = adapter.send(batch[2:])
    assert all(r.ok for r in again)
    # Every message exactly once, the second attempt over a new session.
    assert set(sink.received()) == {f"{n}@example.com" for n in ("one", "two", "third", "four")}
    assert len(sink.sessions) == 2


def test_a_server_that_is_down_gives_transient_failures(settings):
    settings.HERALD_BASE_URL = BASE_URL
    use_smtp(settings, free_port())  # nobody listens there

    with EmailAdapter({"provider": "django"}) as adapter:
        results = adapter.send(messages("ann@example.com", "bob@example.com"))

    assert all(not r.ok and r.transient for r in results)
    assert results[0].error.startswith("Cannot reach the mail server")


def test_the_connection_opens_again_when_the_server_is_back(settings):
    settings.HERALD_BASE_URL = BASE_URL
    port = free_port()
    use_smtp(settings, port)
    with EmailAdapter({"provider": "django"}) as adapter:
        assert all(r.transient for r in adapter.send(messages("ann@example.com")))
        sink = SmtpSink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            assert all(r.ok for r in adapter.send(messages("ann@example.com")))
        finally:
            controller.stop()
    assert set(sink.received()) == {"ann@example.com"}


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_sending(
    settings, monkeypatch
):
    monkeypatch.setattr(email_adapter, "IDLE_CHECK", 0.0)
    settings.HERALD_BASE_URL = BASE_URL
    port = free_port()
    use_smtp(settings, port)
    first, second = SmtpSink(), SmtpSink()
    with EmailAdapter({"provider": "django"}) as adapter:
        controller = Controller(first, hostname="127.0.0.1", port=port)
        controller.start()
        assert adapter.send(messages("ann@example.com"))[0].ok
        controller.stop()  # drops the session the adapter keeps
        controller = Controller(second, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            [result] = adapter.send(messages("bob@example.com"))
        finally:
            controller.stop()

    assert result.ok and result.attempts == 1
    assert set(second.received()) == {"bob@example.com"}


# ---------------------------------------------------------------------------------------------
# Other Django backends: the whole chunk in one send_messages call
# ---------------------------------------------------------------------------------------------
def test_any_django_backend_sends_the_same_message(settings):
    settings.HERALD_BASE_URL = BASE_URL
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []

    with EmailAdapter({"provider": "django"}) as adapter:
        results = adapter.send(messages("ann@example.com", "bob@example.com"))

    assert [r.provider_id for r in results] == [
        "<7-1.herald@example.com>",
        "<7-2.herald@example.com>",
    ]
    ann = mail.outbox[0]
    assert ann.to == ["ann@example.com"]
    assert ann.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parsed = email.message_from_bytes(ann.message().as_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<7-1.herald@example.com>"
    assert "/t/c/" in html_of(parsed) and "/t/o/" in html_of(parsed)


def test_django_smtp_backend_resumes_after_a_refusal_without_sending_twice(settings):
    """Django's own SMTP backend stops at the first refused recipient; the adapter sends the rest
    in a second call, and nobody gets a message twice."""
    settings.HERALD_BASE_URL = BASE_URL
    with smtp_sink(pipelining=False) as (sink, port):
        use_smtp(settings, port)
        sink.at_rcpt["gone@example.com"] = "550 5.1.1 No such user"
        with EmailAdapter({"provider": "django", "fast": False}) as adapter:
            results = adapter.send(
                messages("ann@example.com", "gone@example.com", "bob@example.com")
            )

    assert [(r.ok, r.transient) for r in results] == [(True, False), (False, False), (True, False)]
    assert set(sink.received()) == {"ann@example.com", "bob@example.com"}


def test_the_registry_builds_the_adapter_from_settings(settings, db):
    settings.HERALD_PROVIDERS = {"email": {"provider": "django", "options": {}, "secrets": {}}}

    adapter = adapter_for("email")

    assert isinstance(adapter, EmailAdapter)
    assert adapter.options["provider"] == "django"


# ---------------------------------------------------------------------------------------------
# django-anymail: an ESP's HTTP API (Mailgun's, on loopback)
# ---------------------------------------------------------------------------------------------
@dataclass
class MailgunApi:
    """Mailgun's messages endpoint: checks the API key, answers chosen recipients with chosen
    statuses, and keeps every form it accepted."""

    key: str = "key-test"
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    statuses: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)


def _form(handler: BaseHTTPRequestHandler) -> dict[str, list[str]]:
    body = handler.rfile.read(int(handler.headers["Content-Length"]))
    content_type = handler.headers["Content-Type"]
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qs(body.decode(), keep_blank_values=True)
    parsed = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.default
    )
    form: dict[str, list[str]] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        form.setdefault(name, []).append(part.get_content().strip())
    return form


@contextmanager
def mailgun_api() -> Iterator[tuple[MailgunApi, int]]:
    api = MailgunApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            api.paths.append(self.path)
            expected = "Basic " + base64.b64encode(f"api:{api.key}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._answer(401, {"message": "Invalid private key"})
            form = _form(self)
            [to] = form["to"]
            api.tried.append(to)
            status, answer = api.statuses.get(
                to, (200, {"id": f"<{len(api.tried)}.mg@example.com>", "message": "Queued."})
            )
            if status == 200:
                api.forms.append(form)
            self._answer(status, answer)

        def _answer(self, status: int, answer: dict[str, Any]) -> None:
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mailgun(settings) -> Iterator[MailgunApi]:
    settings.HERALD_BASE_URL = BASE_URL
    with mailgun_api() as (api, port):
        settings.ANYMAIL = {
            "MAILGUN_API_KEY": api.key,
            "MAILGUN_API_URL": f"http://127.0.0.1:{port}/v3",
        }
        yield api


ANYMAIL_OPTIONS = {"provider": "anymail", "backend": "anymail.backends.mailgun.EmailBackend"}


def test_anymail_sends_through_the_esp_api_with_the_esp_message_id(mailgun):
    with EmailAdapter(ANYMAIL_OPTIONS) as adapter:
        results = adapter.send(messages("ann@example.com", "bob@example.com"))

    assert [r.provider_id for r in results] == ["<1.mg@example.com>", "<2.mg@example.com>"]
    assert mailgun.paths == ["/v3/example.com/messages"] * 2
    ann = mailgun.forms[0]
    assert ann["h:List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    assert ann["h:X-Herald-Delivery"] == ["7-1"]
    assert ann["h:List-Unsubscribe"][0].startswith(f"<{BASE_URL}/t/u/")
    assert f"{BASE_URL}/t/c/" in ann["html"][0] and f"{BASE_URL}/t/o/" in ann["html"][0]


def test_anymail_errors_are_classified_by_http_status(mailgun):
    mailgun.statuses["bad@example.com"] = (400, {"message": "'to' parameter is not valid"})
    mailgun.statuses["busy@example.com"] = (503, {"message": "Service unavailable"})
    batch = messages(*(f"{n}@example.com" for n in ("ann", "bad", "bob", "busy", "cyd")))

    with EmailAdapter(ANYMAIL_OPTIONS) as adapter:
        results = adapter.send(batch)

    assert [(r.ok, r.transient) for r in results] == [
        (True, False),
        (False, False),
        (True, False),
        (False, True),
        # After a 5xx the rest of the chunk waits for the retry instead of hammering the ESP.
        (False, True),
    ]
    assert "400" in results[1].error
    assert mailgun.tried == [f"{n}@example.com" for n in ("ann", "bad", "bob", "busy")]


def test_a_wrong_esp_key_fails_for_good(mailgun):
    mailgun.key = "key-other"
    with EmailAdapter(ANYMAIL_OPTIONS) as adapter:
        results = adapter.send(messages("ann@example.com"))

    assert not results[0].ok and not results[0].transient
    assert "401" in results[0].error


def test_anymail_without_a_backend_is_a_clear_permanent_failure(settings):
    with EmailAdapter({"provider": "anymail", "backend": ""}) as adapter:
        [result] = adapter.send(messages("ann@example.com"))

    assert not result.ok and not result.transient
    assert "HERALD_ANYMAIL_BACKEND" in result.error


# ---------------------------------------------------------------------------------------------
# The HTML work done once per distinct body
# ---------------------------------------------------------------------------------------------
def test_parsing_keeps_herald_links_and_finds_body_slots():
    source = (
        '<body class="x"><a href="https://a.example/">a</a>'
        '<a href="https://herald.example.com/t/u/abc/">unsubscribe</a>'
        '<area href="http://b.example/map"><link href="https://cdn.example/x.css"></body>'
    )
    parsed = parse_html(source, keep=("https://herald.example.com/t/",))

    assert parsed.urls == ("https://a.example/", "http://b.example/map")
    rendered = parsed.render("[pre]", ["[link0]", "[link1]"], "[pixel]")
    assert rendered == (
        '<body class="x">[pre]<a href="[link0]">a</a>'
        '<a href="https://herald.example.com/t/u/abc/">unsubscribe</a>'
        '<area href="[link1]"><link href="https://cdn.example/x.css">[pixel]</body>'
    )


def test_a_fragment_without_body_gets_the_preheader_first_and_the_pixel_last():
    parsed = parse_html('<p><a href="https://a.example/">a</a></p>')

    assert parsed.render("[pre]", ["[a]"], "[pixel]") == '[pre]<p><a href="[a]">a</a></p>[pixel]'


def test_the_encoded_html_decodes_to_the_rendered_html():
    parsed = parse_html(HTML + "é" * 100 + "x" * 300)
    links = ["https://herald.example.com/t/c/" + "T" * 150 + "/"]
    pixel = '<img src="https://herald.example.com/t/o/' + "P" * 90 + '.gif">'

    encoded = parsed.render_encoded(
        quoted_printable("<span>pre</span>"),
        [quoted_printable(link) for link in links],
        quoted_printable(pixel),
    )

    assert quopri.decodestring(encoded).decode().replace("\r\n", "\n") == parsed.render(
        "<span>pre</span>", links, pixel
    )
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 78


def test_html_to_text_reads_like_the_html():
    assert (
        html_to_text(
            "<head><title>T</title></head><h1>Sale</h1><p>Up to <b>20%</b>&nbsp;off</p>"
            '<a href="https://a.example/">https://a.example/</a><br>bye'
        )
        == "Sale\nUp to 20% off\nhttps://a.example/\nbye\n"
    )
