"""The webhook adapter against a loopback Standard Webhooks receiver that verifies every
signature (tests/channels/webhook_receiver.py)."""

from __future__ import annotations

import base64
import json

import pytest

from channels.adapters.base import Backoff, Message, deliver
from channels.adapters.webhook import WebhookAdapter, batch_webhook_id, webhook_id
from tests.approvals.support import free_port
from tests.channels.webhook_receiver import SLOW, Receiver

SECRET = "whsec_" + base64.b64encode(b"herald-webhook-test-secret-0123").decode()
NO_WAIT = {"backoff": Backoff(attempts=4, base=0.0), "sleep": lambda _: None}


@pytest.fixture
def receiver():
    running = Receiver(SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def adapter():
    with WebhookAdapter({"timeout": 5, "allow_private": True}, {"signing_secret": SECRET}) as a:
        yield a


def message(profile_id: int, url: str, **content) -> Message:
    return Message(
        key=f"41-{profile_id}",
        run_id=41,
        campaign_id=3,
        profile_id=profile_id,
        to="",
        content={"url": url, **content},
        context={
            "profile": {"id": profile_id, "email": f"p{profile_id}@example.com"},
            "campaign": {"id": 3, "name": "Spring sale"},
            "data": {"plan": "pro"},
        },
    )


def test_each_recipient_gets_one_signed_request_carrying_its_context(receiver, adapter):
    messages = [message(n, receiver.url("/ok")) for n in (1, 2, 3)]

    results = adapter.send(messages)

    assert [(r.key, r.ok, r.provider_id) for r in results] == [
        ("41-1", True, "msg_41-1"),
        ("41-2", True, "msg_41-2"),
        ("41-3", True, "msg_41-3"),
    ]
    assert receiver.rejected == []
    assert sorted(receiver.ids()) == ["msg_41-1", "msg_41-2", "msg_41-3"]
    first = next(r for r in receiver.requests if r.webhook_id == "msg_41-1")
    assert first.method == "POST"
    assert first.headers["content-type"] == "application/json"
    assert first.payload == {
        "type": "campaign.message",
        "campaign": {"id": 3, "name": "Spring sale"},
        "profile": {"id": 1, "email": "p1@example.com"},
        "data": {"plan": "pro"},
    }


def test_rendered_payload_and_headers_are_sent_as_given(receiver, adapter):
    payload = '{"event": "welcome", "email": "p1@example.com"}'
    headers = {"Authorization": "Bearer t0k3n", "webhook-id": "forged", "X-Plan": "pro"}
    msg = message(1, receiver.url("/created"), method="PUT", headers=headers, payload=payload)

    [result] = adapter.send([msg])

    assert result.ok, result.error
    [got] = receiver.requests
    assert got.method == "PUT"
    assert got.body == payload
    assert got.headers["authorization"] == "Bearer t0k3n"
    assert got.headers["x-plan"] == "pro"
    # The marketer's headers cannot replace the signed webhook-id.
    assert got.webhook_id == "msg_41-1"


def test_many_recipients_are_sent_concurrently_over_kept_alive_connections(receiver, adapter):
    messages = [message(n, receiver.url("/ok")) for n in range(1, 61)]

    results = adapter.send(messages)

    assert all(r.ok for r in results)
    assert [r.key for r in results] == [m.key for m in messages]
    assert sorted(receiver.ids()) == sorted(webhook_id(m.key) for m in messages)
    assert len(receiver.connections) <= adapter.concurrency


def test_a_batch_request_carries_up_to_batch_size_recipients(receiver, adapter):
    messages = [message(n, receiver.url("/ok"), batch_size=2) for n in range(1, 6)]

    results = adapter.send(messages)

    assert receiver.rejected == []
    bodies = sorted((r.payload for r in receiver.requests), key=lambda p: p["messages"][0]["id"])
    assert [[m["id"] for m in body["messages"]] for body in bodies] == [
        ["41-1", "41-2"],
        ["41-3", "41-4"],
        ["41-5"],
    ]
    assert all(body["type"] == "campaign.batch" for body in bodies)
    assert bodies[0]["messages"][1]["payload"]["profile"] == {"id": 2, "email": "p2@example.com"}
    by_key = {r.key: r for r in results}
    assert all(r.ok for r in results)
    assert by_key["41-1"].provider_id == by_key["41-2"].provider_id
    assert by_key["41-1"].provider_id == batch_webhook_id(["41-2", "41-1"])
    assert sorted(receiver.ids()) == sorted({r.provider_id for r in results})


def test_batches_group_only_recipients_sent_to_the_same_target(receiver, adapter):
    messages = [
        message(1, receiver.url("/ok"), batch_size=10, headers={"X-Team": "a"}),
        message(2, receiver.url("/ok"), batch_size=10, headers={"X-Team": "b"}),
        message(3, receiver.url("/ok"), batch_size=10, headers={"X-Team": "a"}),
        message(4, receiver.url("/created"), batch_size=10, headers={"X-Team": "a"}),
    ]

    adapter.send(messages)

    groups = sorted(
        (r.path, r.headers["x-team"], [m["id"] for m in r.payload["messages"]])
        for r in receiver.requests
    )
    assert groups == [
        ("/created", "a", ["41-4"]),
        ("/ok", "a", ["41-1", "41-3"]),
        ("/ok", "b", ["41-2"]),
    ]


def test_a_resent_message_carries_the_same_webhook_id(receiver, adapter):
    single = message(1, receiver.url("/ok"))
    batch = [message(n, receiver.url("/ok"), batch_size=5) for n in (2, 3)]

    adapter.send([single, *batch])
    adapter.send([single, *batch])

    ids = receiver.ids()
    assert len(ids) == 4
    assert ids.count("msg_41-1") == 2
    assert ids.count(batch_webhook_id(["41-2", "41-3"])) == 2


def test_a_redirect_is_not_followed_and_fails_permanently(receiver, adapter):
    [result] = deliver(adapter, [message(1, receiver.url("/redirect"))], **NO_WAIT)

    assert not result.ok and not result.transient
    assert result.attempts == 1
    assert result.error == f"redirects are not followed: 302 to {receiver.url('/elsewhere')}"
    assert [r.path for r in receiver.requests] == ["/redirect"]


def test_a_server_error_is_retried_with_the_same_webhook_id(receiver, adapter):
    [result] = deliver(adapter, [message(1, receiver.url("/flaky"))], **NO_WAIT)

    assert result.ok, result.error
    assert result.attempts == 2
    assert receiver.ids() == ["msg_41-1", "msg_41-1"]
    # Each attempt is signed afresh (the receiver verified both).
    assert receiver.rejected == []


def test_a_client_error_is_permanent_and_says_what_the_receiver_said(receiver, adapter):
    [result] = deliver(adapter, [message(1, receiver.url("/bad"))], **NO_WAIT)

    assert not result.ok and not result.transient
    assert result.attempts == 1
    assert result.error == 'HTTP 400: {"error": "unknown field\\n plan"}'


def test_a_receiver_slower_than_the_timeout_is_a_transient_failure(receiver):
    with WebhookAdapter(
        {"timeout": SLOW / 5, "allow_private": True}, {"signing_secret": SECRET}
    ) as adapter:
        [result] = adapter.send([message(1, receiver.url("/slow"))])

    assert not result.ok and result.transient
    assert result.error == f"timed out after {SLOW / 5:g} s"


def test_a_refused_connection_is_a_transient_failure(adapter):
    port = free_port()  # nobody listens there
    [result] = adapter.send([message(1, f"http://127.0.0.1:{port}/ok")])

    assert not result.ok and result.transient
    assert result.error.startswith("ConnectError")


def test_a_payload_that_is_not_json_fails_only_its_recipient(receiver, adapter):
    for batch_size in (1, 3):
        receiver.requests.clear()
        good = message(1, receiver.url("/ok"), payload='{"ok": true}', batch_size=batch_size)
        bad = message(2, receiver.url("/ok"), payload='{"ok": tru', batch_size=batch_size)
        other = message(3, receiver.url("/ok"), batch_size=batch_size)

        results = deliver(adapter, [good, bad, other], **NO_WAIT)

        assert [r.ok for r in results] == [True, False, True]
        failed = results[1]
        assert not failed.transient and failed.attempts == 1
        assert failed.error.startswith("payload is not valid JSON: ")
        sent = json.dumps([r.payload for r in receiver.requests])
        assert "41-2" not in sent and len(receiver.requests) == (2 if batch_size == 1 else 1)


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        ("", "webhook signing secret is not configured"),
        (None, "webhook signing secret is not configured"),
        ("whsec_@@@", "webhook signing secret is not valid: expected whsec_ followed by base64"),
    ],
)
def test_without_a_usable_signing_secret_nothing_is_sent(receiver, secret, error):
    with WebhookAdapter({"allow_private": True}, {"signing_secret": secret}) as adapter:
        results = deliver(adapter, [message(n, receiver.url("/ok")) for n in (1, 2)], **NO_WAIT)

    assert [(r.ok, r.transient, r.error, r.attempts) for r in results] == [
        (False, False, error, 1)
    ] * 2
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("127.0.0.1", "target 127.0.0.1 is a loopback address"),
        ("2130706433", "target 2130706433 (127.0.0.1) is a loopback address"),
        ("10.0.0.5", "target 10.0.0.5 is a private address"),
        ("169.254.169.254", "target 169.254.169.254 is a link-local address"),
        ("100.64.0.7", "target 100.64.0.7 is a shared (CGNAT) address"),
        ("[::1]", "target ::1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "target ::ffff:127.0.0.1 is a loopback address"),
        ("localhost", "target localhost ("),
    ],
)
def test_private_targets_are_refused_unless_an_admin_allows_them(receiver, host, error):
    with WebhookAdapter({"timeout": 2}, {"signing_secret": SECRET}) as adapter:
        [result] = deliver(adapter, [message(1, receiver.url("/ok", host=host))], **NO_WAIT)

    assert not result.ok and not result.transient and result.attempts == 1
    assert result.error.startswith(error)
    assert result.error.endswith("; an Admin can allow private targets")
    assert receiver.requests == []


def test_the_admin_setting_may_arrive_as_text(receiver):
    with WebhookAdapter({"allow_private": "true"}, {"signing_secret": SECRET}) as adapter:
        [allowed] = adapter.send([message(1, receiver.url("/ok"))])
    with WebhookAdapter({"allow_private": "false"}, {"signing_secret": SECRET}) as adapter:
        [refused] = adapter.send([message(2, receiver.url("/ok"))])

    assert allowed.ok
    assert not refused.ok and "loopback" in refused.error


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ({"url": "ftp://example.com/hook"}, "the URL must be http:// or https:// with a host"),
        ({"url": "file:///etc/passwd"}, "the URL must be http:// or https:// with a host"),
        ({"url": "https://example.com/hook", "method": "DELETE"}, "method DELETE is not allowed"),
        (
            {"url": "https://example.com/hook", "headers": {"X-Bad": "one\r\nInjected: two"}},
            "header 'X-Bad' is not valid",
        ),
        (
            {"url": "https://example.com/hook", "headers": {"Bad Name": "x"}},
            "header 'Bad Name' is not valid",
        ),
    ],
)
def test_requests_that_cannot_be_made_fail_permanently(adapter, content, error):
    msg = message(1, "")
    msg.content = content

    [result] = adapter.send([msg])

    assert not result.ok and not result.transient
    assert result.error.startswith(error)


def test_unusable_options_fall_back_to_the_defaults():
    with WebhookAdapter(
        {"timeout": "soon", "concurrency": ""}, {"signing_secret": SECRET}
    ) as adapter:
        assert (adapter.timeout, adapter.concurrency, adapter.allow_private) == (10.0, 8, False)
