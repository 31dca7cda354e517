"""The FCM HTTP v1 adapter against loopback imitations of Google's OAuth token endpoint (which
verifies the service account's signed JWT) and FCM (which checks the access token and the
message format)."""

from __future__ import annotations

import pytest

from channels.adapters.base import Backoff, Message, deliver
from channels.adapters.push import FcmAdapter
from tests.channels.provider_servers import (
    FcmServer,
    GoogleOAuthServer,
    fcm_error,
    generate_key,
    service_account_json,
)

PROJECT = "herald-test"
CLIENT_EMAIL = f"herald@{PROJECT}.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key():
    return generate_key()


@pytest.fixture
def oauth(key):
    with GoogleOAuthServer(key.public_key(), CLIENT_EMAIL) as server:
        yield server


@pytest.fixture
def fcm(oauth):
    with FcmServer(oauth, PROJECT) as server:
        yield server


@pytest.fixture
def make_adapter(key, oauth, fcm):
    made = []

    def make(signing_key=None, **options):
        service_account = service_account_json(
            signing_key or key,
            token_uri=oauth.token_uri,
            project_id=PROJECT,
            client_email=CLIENT_EMAIL,
        )
        adapter = FcmAdapter(
            {"provider": "fcm", "base_url": fcm.url, "project_id": PROJECT, **options},
            {"service_account": service_account},
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


def push(profile_id: int, devices, **content) -> Message:
    return Message(
        key=f"9-{profile_id}",
        run_id=9,
        campaign_id=4,
        profile_id=profile_id,
        to="",
        content={"title": "Sale", "body": "Half price today", **content},
        devices=devices,
    )


def test_each_device_gets_one_v1_request_with_the_service_accounts_token(oauth, fcm, make_adapter):
    message = push(
        1,
        [(11, "token-a"), (12, "token-b")],
        image_url="https://cdn.example.com/sale.png",
        deep_link="shop://sale",
        custom_kv={"sku": "A-17"},
    )

    [result] = make_adapter().send([message])

    assert result.ok
    assert result.provider_id.startswith(f"projects/{PROJECT}/messages/")
    assert result.disabled_devices == []
    assert oauth.problems == [] and fcm.problems == []
    assert oauth.token_requests == 1
    assert sorted(fcm.messages, key=lambda m: m["token"]) == [
        {
            "token": token,
            "notification": {
                "title": "Sale",
                "body": "Half price today",
                "image": "https://cdn.example.com/sale.png",
            },
            "data": {"sku": "A-17", "deep_link": "shop://sale"},
        }
        for token in ("token-a", "token-b")
    ]


def test_the_provider_id_is_the_first_devices_message_name(fcm, make_adapter):
    [result] = make_adapter(concurrency=1).send([push(1, [(11, "token-a"), (12, "token-b")])])

    assert result.provider_id == f"projects/{PROJECT}/messages/1"


def test_a_message_without_data_sends_only_the_notification(fcm, make_adapter):
    [result] = make_adapter().send([push(1, [(11, "token-a")])])

    assert result.ok
    assert fcm.messages == [
        {"token": "token-a", "notification": {"title": "Sale", "body": "Half price today"}}
    ]


def test_the_access_token_is_cached_across_sends(oauth, fcm, make_adapter):
    adapter = make_adapter()
    for start in range(0, 30, 10):
        results = adapter.send([push(i, [(i, f"token-{i}")]) for i in range(start, start + 10)])
        assert all(r.ok for r in results)

    assert len(fcm.messages) == 30
    assert oauth.token_requests == 1


def test_a_token_about_to_expire_is_refreshed_before_use(oauth, fcm, make_adapter):
    # google-auth treats a token as expired a few minutes early: a 60 s token is never reused.
    oauth.expires_in = 60
    adapter = make_adapter()
    adapter.send([push(1, [(1, "token-1")])])
    adapter.send([push(2, [(2, "token-2")])])

    assert oauth.token_requests == 2
    assert len(fcm.messages) == 2


def test_a_refused_token_is_refreshed_once_and_the_request_retried(oauth, fcm, make_adapter):
    adapter = make_adapter()
    adapter.send([push(1, [(1, "token-1")])])
    oauth.revoke_all()

    results = adapter.send([push(i, [(i, f"token-{i}")]) for i in range(2, 8)])

    assert all(r.ok for r in results)
    assert oauth.token_requests == 2
    assert len(fcm.messages) == 7


def test_fcm_refusing_every_token_is_a_permanent_authentication_failure(oauth, fcm, make_adapter):
    fcm.accept_tokens = False

    [result] = make_adapter().send([push(1, [(1, "token-1")])])

    assert not result.ok and not result.transient
    assert result.error.startswith("FCM authentication failed: FCM 401 UNAUTHENTICATED")
    # The first token, then one refresh: no loop.
    assert oauth.token_requests == 2
    assert fcm.messages == []


def test_a_key_google_does_not_know_fails_permanently_before_fcm(oauth, fcm, make_adapter):
    other_key = generate_key()

    [result] = make_adapter(signing_key=other_key).send([push(1, [(1, "token-1")])])

    assert not result.ok and not result.transient
    assert result.error == "FCM authentication failed: invalid_grant: Invalid JWT Signature."
    assert oauth.problems == ["Invalid JWT Signature."]
    assert fcm.received == []


def test_an_unreadable_service_account_key_fails_permanently(fcm):
    with FcmAdapter({"base_url": fcm.url}, {"service_account": "{not json"}) as adapter:
        [result] = adapter.send([push(1, [(1, "token-1")])])

    assert not result.ok and not result.transient
    assert result.error.startswith("FCM: the service account key is not usable")


def test_an_unregistered_device_is_reported_while_the_others_get_it(fcm, make_adapter):
    fcm.unregistered.add("token-gone")

    [result] = make_adapter().send([push(1, [(11, "token-ok"), (12, "token-gone")])])

    assert result.ok
    assert result.disabled_devices == [12]
    assert [m["token"] for m in fcm.messages] == ["token-ok"]


def test_a_recipient_whose_devices_are_all_gone_fails_permanently(fcm, make_adapter):
    fcm.unregistered.add("token-gone")
    fcm.invalid.add("not-a-token")

    [result] = make_adapter().send([push(1, [(11, "token-gone"), (12, "not-a-token")])])

    assert not result.ok and not result.transient
    assert result.disabled_devices == [11, 12]
    assert result.error == (
        "FCM: no device token is valid (UNREGISTERED, invalid registration token)."
    )


def test_an_invalid_argument_that_is_not_the_token_keeps_the_device(fcm, make_adapter):
    # FCM refuses reserved data keys: the message is wrong, not the device.
    [result] = make_adapter().send([push(1, [(11, "token-a")], custom_kv={"google.x": "1"})])

    assert not result.ok and not result.transient
    assert result.disabled_devices == []
    assert result.error == "FCM 400 INVALID_ARGUMENT: Invalid data payload key: google.x"


def test_a_recipient_without_devices_fails_permanently(fcm, make_adapter):
    [result] = make_adapter().send([push(1, [])])

    assert (result.ok, result.transient, result.error) == (False, False, "No device.")
    assert fcm.received == []


@pytest.mark.parametrize(
    ("status", "rpc_status", "code", "transient"),
    [
        (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", True),
        (503, "UNAVAILABLE", "UNAVAILABLE", True),
        (500, "INTERNAL", "INTERNAL", True),
        (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", False),
        (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", False),
    ],
)
def test_fcm_errors_map_to_permanent_or_transient(
    oauth, fcm, make_adapter, status, rpc_status, code, transient
):
    fcm.fail(status, fcm_error(status, rpc_status, "Nope.", code))

    [result] = make_adapter().send([push(1, [(11, "token-a")])])

    assert (result.ok, result.transient) == (False, transient)
    assert result.error == f"FCM {status} {code}: Nope."
    assert result.disabled_devices == []
    assert oauth.token_requests == 1


@pytest.mark.parametrize(
    ("status", "body", "transient", "error"),
    [
        (200, "{oops", False, "FCM answered 200 without a message name: {oops"),
        (200, {"id": 1}, False, 'FCM answered 200 without a message name: {"id": 1}'),
        (502, "<html>Bad Gateway</html>", True, "FCM 502: <html>Bad Gateway</html>"),
    ],
)
def test_unreadable_fcm_answers_fail_with_a_clear_error(
    fcm, make_adapter, status, body, transient, error
):
    fcm.fail(status, body)

    [result] = make_adapter().send([push(1, [(11, "token-a")])])

    assert (result.ok, result.transient, result.error) == (False, transient, error)


def test_an_fcm_timeout_is_transient(fcm, make_adapter):
    fcm.stall(1.0)

    [result] = make_adapter(timeout=0.3).send([push(1, [(11, "token-a")])])

    assert (result.ok, result.transient, result.error) == (False, True, "FCM: timed out")


def test_one_device_delivered_is_enough_when_another_fails_transiently(fcm, make_adapter):
    fcm.fail(503, fcm_error(503, "UNAVAILABLE", "Try later."), when=_to("token-b"))

    [result] = make_adapter().send([push(1, [(11, "token-a"), (12, "token-b")])])

    assert result.ok
    assert [m["token"] for m in fcm.messages] == ["token-a"]


def _to(token):
    return lambda request: request.json()["message"]["token"] == token


def test_deliver_retries_a_transient_failure_and_stops_when_it_clears(fcm, make_adapter):
    fcm.fail(503, fcm_error(503, "UNAVAILABLE", "Try later."), times=2)
    sleeps = []

    [result] = deliver(
        make_adapter(),
        [push(1, [(11, "token-a")])],
        backoff=Backoff(attempts=5),
        sleep=sleeps.append,
    )

    assert result.ok and result.attempts == 3
    assert len(fcm.received) == 3 and len(fcm.messages) == 1
    assert len(sleeps) == 2


def test_a_retry_skips_devices_already_gone_and_still_reports_them(fcm, make_adapter):
    fcm.unregistered.add("token-gone")
    fcm.fail(503, fcm_error(503, "UNAVAILABLE", "Try later."), when=_to("token-b"))

    [result] = deliver(
        make_adapter(),
        [push(1, [(11, "token-gone"), (12, "token-b")])],
        backoff=Backoff(attempts=3),
        sleep=lambda _: None,
    )

    assert result.ok and result.attempts == 2
    assert result.disabled_devices == [11]
    tokens = [r.json()["message"]["token"] for r in fcm.received]
    assert sorted(tokens) == ["token-b", "token-b", "token-gone"]


def test_many_recipients_are_answered_in_order(fcm, make_adapter):
    messages = [push(i, [(i * 10, f"t{i}a"), (i * 10 + 1, f"t{i}b")]) for i in range(40)]

    results = make_adapter(concurrency=8).send(messages)

    assert [r.key for r in results] == [m.key for m in messages]
    assert all(r.ok for r in results)
    assert len(fcm.messages) == 80
