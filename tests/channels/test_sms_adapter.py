"""The SMS adapters (Twilio, a generic gateway) and WhatsApp through Twilio, against loopback
servers that check each provider's request format and auth."""

from __future__ import annotations

import json

import pytest

from channels.adapters.base import Backoff, Message, deliver
from channels.adapters.sms import HttpGatewayAdapter, TwilioAdapter, TwilioWhatsAppAdapter
from channels.providers import adapter_for
from tests.approvals.support import free_port
from tests.channels.provider_servers import GatewayServer, TwilioServer

SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-auth-token"
GATEWAY_TOKEN = "gateway-token"


def sms(profile_id: int, to: str = "+14155550123", body: str = "Hello", **content) -> Message:
    return Message(
        key=f"7-{profile_id}",
        run_id=7,
        campaign_id=3,
        profile_id=profile_id,
        to=to,
        content={"body": body, **content},
    )


@pytest.fixture
def twilio():
    with TwilioServer(SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def gateway():
    with GatewayServer(GATEWAY_TOKEN) as server:
        yield server


@pytest.fixture
def twilio_adapter(twilio):
    made = []

    def make(cls=TwilioAdapter, auth_token=AUTH_TOKEN, **options):
        adapter = cls(
            {
                "provider": "twilio",
                "base_url": twilio.url,
                "account_sid": SID,
                "from": "+14155552671",
                **options,
            },
            {"auth_token": auth_token},
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def gateway_adapter(gateway):
    made = []

    def make(token=GATEWAY_TOKEN, **options):
        adapter = HttpGatewayAdapter(
            {
                "provider": "http",
                "gateway_url": gateway.url + "/send",
                "from": "Herald",
                **options,
            },
            {"gateway_token": token},
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


def test_twilio_posts_the_form_with_basic_auth_and_keeps_the_sid(twilio, twilio_adapter):
    adapter = twilio_adapter()
    results = adapter.send([sms(1, body="Hi Ann"), sms(2, to="+12025550143", body="Hi Bob")])

    assert [r.ok for r in results] == [True, True]
    assert all(r.provider_id.startswith("SM") for r in results)
    assert results[0].provider_id != results[1].provider_id
    assert twilio.problems == []
    assert sorted(twilio.messages, key=lambda m: m["To"]) == [
        {"To": "+12025550143", "From": "+14155552671", "Body": "Hi Bob"},
        {"To": "+14155550123", "From": "+14155552671", "Body": "Hi Ann"},
    ]


def test_twilio_sends_from_the_message_sender_id_when_given(twilio, twilio_adapter):
    [result] = twilio_adapter().send([sms(1, sender_id="HERALD")])

    assert result.ok
    assert twilio.messages[0]["From"] == "HERALD"


def test_twilio_counts_billing_segments_of_sent_messages(twilio, twilio_adapter):
    adapter = twilio_adapter()
    adapter.send(
        [
            sms(1, body="a" * 160),  # GSM-7: one segment
            sms(2, body="a" * 161),  # two of 153
            sms(3, body="é" * 70 + "😀"),  # UCS-2: 72 units, two of 67
            sms(4, to=TwilioServer.INVALID_NUMBER, body="a" * 500),  # refused: not counted
        ]
    )

    assert adapter.segments_sent == 1 + 2 + 2


def test_twilio_keeps_one_connection_for_many_messages(twilio, twilio_adapter):
    adapter = twilio_adapter(concurrency=1)
    adapter.send([sms(i) for i in range(5)])

    assert len(twilio.received) == 5
    # One keep-alive connection: every request after the first reused it.
    assert len({request.client for request in twilio.received}) == 1


def test_twilio_answers_for_every_message_in_order_when_sending_concurrently(
    twilio, twilio_adapter
):
    messages = [sms(i, body=f"n{i}") for i in range(30)]
    results = twilio_adapter(concurrency=8).send(messages)

    assert [r.key for r in results] == [m.key for m in messages]
    assert all(r.ok for r in results)
    assert sorted(m["Body"] for m in twilio.messages) == sorted(f"n{i}" for i in range(30))


def test_twilio_refusing_a_number_is_a_permanent_failure_with_its_code(twilio, twilio_adapter):
    [result] = twilio_adapter().send([sms(1, to=TwilioServer.INVALID_NUMBER)])

    assert not result.ok and not result.transient
    assert result.error == (
        "Twilio 21211: The 'To' number +15005550001 is not a valid phone number."
    )


def test_a_wrong_auth_token_is_a_permanent_failure(twilio, twilio_adapter):
    [result] = twilio_adapter(auth_token="wrong").send([sms(1)])

    assert not result.ok and not result.transient
    assert result.error == "Twilio 20003: Authenticate"
    assert twilio.problems == ["basic auth"]


@pytest.mark.parametrize(
    ("status", "body", "content_type", "transient", "error"),
    [
        (
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            "application/json",
            True,
            "Twilio 20429: Too Many Requests",
        ),
        (
            503,
            "<html><body>Service Unavailable</body></html>",
            "text/html",
            True,
            "Twilio answered 503 with <html><body>Service Unavailable</body></html>",
        ),
        (500, b"", "application/json", True, "Twilio answered 500 with an empty body"),
        (
            400,
            {"code": 21602, "message": "Message body is required.", "status": 400},
            "application/json",
            False,
            "Twilio 21602: Message body is required.",
        ),
        (400, "{not json", "application/json", False, "Twilio answered 400 with {not json"),
        (
            201,
            "{not json",
            "application/json",
            False,
            "Twilio answered 201 without a message sid: {not json",
        ),
        (
            201,
            {"status": "queued"},
            "application/json",
            False,
            'Twilio answered 201 without a message sid: {"status": "queued"}',
        ),
        (
            302,
            b"",
            "text/html",
            False,
            "Twilio answered 302 with an empty body",
        ),
    ],
)
def test_twilio_errors_map_to_permanent_or_transient(
    twilio, twilio_adapter, status, body, content_type, transient, error
):
    twilio.fail(status, body, content_type=content_type)

    [result] = twilio_adapter().send([sms(1)])

    assert not result.ok
    assert result.transient is transient
    assert result.error == error


def test_a_twilio_timeout_is_transient(twilio, twilio_adapter):
    twilio.stall(1.0)

    [result] = twilio_adapter(timeout=0.2).send([sms(1)])

    assert not result.ok and result.transient
    assert result.error == "Twilio: timed out"


def test_an_unreachable_twilio_is_transient(twilio_adapter):
    [result] = twilio_adapter(base_url=f"http://127.0.0.1:{free_port()}").send([sms(1)])

    assert not result.ok and result.transient
    assert result.error.startswith("Twilio: connection failed (ConnectError")


def test_a_message_without_a_number_fails_without_a_request(twilio, twilio_adapter):
    [result] = twilio_adapter().send([sms(1, to="")])

    assert not result.ok and not result.transient
    assert result.error == "No phone number."
    assert twilio.received == []


def test_deliver_retries_until_twilio_recovers(twilio, twilio_adapter):
    twilio.fail(503, {"code": 20500, "message": "Internal Server Error", "status": 503}, times=2)
    sleeps = []

    [result] = deliver(twilio_adapter(), [sms(1)], backoff=Backoff(attempts=4), sleep=sleeps.append)

    assert result.ok and result.provider_id.startswith("SM")
    assert result.attempts == 3
    assert len(twilio.received) == 3 and len(twilio.messages) == 1
    assert len(sleeps) == 2


def test_deliver_does_not_retry_a_permanent_twilio_error(twilio, twilio_adapter):
    [result] = deliver(
        twilio_adapter(),
        [sms(1, to=TwilioServer.INVALID_NUMBER)],
        backoff=Backoff(attempts=4),
        sleep=lambda _: None,
    )

    assert not result.ok and result.attempts == 1
    assert len(twilio.received) == 1


def whatsapp(profile_id: int, **content) -> Message:
    return Message(
        key=f"7-{profile_id}",
        run_id=7,
        campaign_id=3,
        profile_id=profile_id,
        to="+14155550123",
        content={"language": "en", **content},
    )


def test_whatsapp_text_templates_are_filled_and_sent_between_whatsapp_addresses(
    twilio, twilio_adapter
):
    adapter = twilio_adapter(TwilioWhatsAppAdapter)
    [result] = adapter.send(
        [
            whatsapp(
                1,
                template_name="Your order {{1}} ships on {{2}}.",
                variables=["A-17", "Monday"],
            )
        ]
    )

    assert result.ok
    assert twilio.problems == []
    assert twilio.messages == [
        {
            "To": "whatsapp:+14155550123",
            "From": "whatsapp:+14155552671",
            "Body": "Your order A-17 ships on Monday.",
        }
    ]
    assert adapter.segments_sent == 0


def test_whatsapp_content_templates_are_sent_by_sid_with_numbered_variables(twilio, twilio_adapter):
    content_sid = "HX" + "ab" * 16
    [result] = twilio_adapter(TwilioWhatsAppAdapter).send(
        [whatsapp(1, template_name=content_sid, variables=["A-17", "Monday"])]
    )

    assert result.ok
    [sent] = twilio.messages
    assert sent["ContentSid"] == content_sid
    assert json.loads(sent["ContentVariables"]) == {"1": "A-17", "2": "Monday"}
    assert "Body" not in sent


def test_gateway_posts_json_with_the_bearer_token_and_keeps_the_id(gateway, gateway_adapter):
    messages = [sms(1, body="Hi Ann"), sms(2, body="Hi Bob", sender_id="SHOP")]
    results = gateway_adapter().send(messages)

    assert [r.ok for r in results] == [True, True]
    assert {r.provider_id for r in results} == {"gw-1", "gw-2"}
    assert gateway.problems == []
    assert sorted(gateway.messages, key=lambda m: m["reference"]) == [
        {"to": "+14155550123", "from": "Herald", "body": "Hi Ann", "reference": "7-1"},
        {"to": "+14155550123", "from": "SHOP", "body": "Hi Bob", "reference": "7-2"},
    ]


def test_gateway_without_a_configured_sender_sends_null_for_its_default(gateway, gateway_adapter):
    [result] = gateway_adapter(**{"from": ""}).send([sms(1)])

    assert result.ok
    assert gateway.problems == []
    assert gateway.messages[0]["from"] is None


def test_gateway_without_an_id_is_sent_under_the_message_key(gateway, gateway_adapter):
    gateway.with_ids = False

    [result] = gateway_adapter().send([sms(1)])

    assert result.ok and result.provider_id == "7-1"


@pytest.mark.parametrize(
    ("status", "body", "transient", "error"),
    [
        (400, {"error": "invalid number"}, False, "SMS gateway 400: invalid number"),
        (422, {"error": {"message": "body too long"}}, False, "SMS gateway 422: body too long"),
        (429, {"message": "slow down"}, True, "SMS gateway 429: slow down"),
        (502, "Bad Gateway", True, "SMS gateway 502: Bad Gateway"),
        (
            200,
            "OK",
            False,
            "SMS gateway answered 200 with OK, not a JSON object",
        ),
    ],
)
def test_gateway_errors_map_to_permanent_or_transient(
    gateway, gateway_adapter, status, body, transient, error
):
    gateway.fail(status, body)

    [result] = gateway_adapter().send([sms(1)])

    assert (result.ok, result.transient, result.error) == (False, transient, error)


def test_gateway_refuses_a_wrong_token(gateway, gateway_adapter):
    [result] = gateway_adapter(token="wrong").send([sms(1)])

    assert (result.ok, result.transient) == (False, False)
    assert result.error == "SMS gateway 401: invalid token"
    assert gateway.problems == ["bearer token"]


def test_a_gateway_timeout_is_transient_and_deliver_retries_it(gateway, gateway_adapter):
    gateway.stall(1.0)

    [result] = deliver(
        gateway_adapter(timeout=0.2), [sms(1)], backoff=Backoff(attempts=3), sleep=lambda _: None
    )

    assert result.ok and result.attempts == 2


def test_a_gateway_url_httpx_cannot_use_fails_permanently(gateway_adapter):
    [result] = gateway_adapter(gateway_url="ftp://sms.example.com/send").send([sms(1)])

    assert (result.ok, result.transient) == (False, False)
    assert result.error.startswith("SMS gateway: unusable URL")


@pytest.mark.django_db
def test_the_registry_builds_each_adapter_from_settings(settings, twilio):
    settings.HERALD_PROVIDERS = {
        **settings.HERALD_PROVIDERS,
        "whatsapp": {
            "provider": "twilio",
            "options": {"base_url": twilio.url, "account_sid": SID, "from": "+14155552671"},
            "secrets": {"auth_token": AUTH_TOKEN},
        },
        "sms": {
            "provider": "http",
            "options": {"gateway_url": "http://127.0.0.1:1/send", "from": "Herald"},
            "secrets": {"gateway_token": GATEWAY_TOKEN},
        },
    }

    with adapter_for("whatsapp") as adapter:
        assert type(adapter) is TwilioWhatsAppAdapter
        [result] = adapter.send([whatsapp(1, template_name="Hello")])
        assert result.ok
    with adapter_for("sms") as adapter:
        assert type(adapter) is HttpGatewayAdapter
