"""Replies to SMS: STOP and START from Twilio's signed webhook and from a generic gateway change
the sender's consent; anything unsigned changes nothing."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from audience.models import Consent, Profile
from channels.inbound import consent_from_reply, twilio_signature
from channels.models import ProviderConfig

AUTH_TOKEN = "twilio-auth-token"
GATEWAY_TOKEN = "gateway-token"
TWILIO_PATH = "/t/sms/twilio/inbound/"
GATEWAY_PATH = "/t/sms/inbound/"
PHONE = "+14155550123"


@pytest.fixture(autouse=True)
def providers(settings):
    settings.HERALD_BASE_URL = "https://herald.example.com"
    settings.HERALD_PROVIDERS = {
        **settings.HERALD_PROVIDERS,
        "sms": {
            "provider": "twilio",
            "options": {"account_sid": "AC1", "from": "+14155552671"},
            "secrets": {"auth_token": AUTH_TOKEN, "gateway_token": GATEWAY_TOKEN},
        },
    }


@pytest.fixture
def ann(db):
    return Profile.objects.create(identity="ann", phone=PHONE, sms_consent=Consent.OPTED_IN)


def twilio_post(client, params, *, token=AUTH_TOKEN, url=None, **extra):
    url = url or "https://herald.example.com" + TWILIO_PATH
    signature = twilio_signature(url, {k: [v] for k, v in params.items()}, token)
    return client.post(TWILIO_PATH, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def inbound(body, sender=PHONE):
    return {
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": "AC1",
        "From": sender,
        "To": "+14155552671",
        "Body": body,
        "NumMedia": "0",
    }


# Twilio's published examples of the signature (twilio-python's validator tests).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {
                "CallSid": ["CA1234567890ABCDE"],
                "Digits": ["1234"],
                "From": ["+14158675309"],
                "To": ["+18005551212"],
                "Caller": ["+14158675309"],
            },
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ),
        (
            {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234"]},
            "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
        ),
    ],
)
def test_the_signature_matches_twilios_published_examples(params, expected):
    assert twilio_signature(TWILIO_URL, params, "12345") == expected


@pytest.mark.parametrize(
    "body", ["STOP", "stop", "  Stop \n", "STOPALL", "unsubscribe", "Cancel", "END", "quit"]
)
def test_a_stop_word_opts_the_sender_out(client, ann, body):
    response = twilio_post(client, inbound(body))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_OUT
    assert ann.sms_unsubscribed_at is not None


@pytest.mark.parametrize("body", ["START", "unstop", "Yes"])
def test_a_start_word_opts_the_sender_back_in(client, ann, body):
    Profile.objects.filter(pk=ann.pk).update(
        sms_consent=Consent.OPTED_OUT, sms_unsubscribed_at=timezone.now()
    )

    response = twilio_post(client, inbound(body))

    assert response.status_code == 200
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_IN
    assert ann.sms_unsubscribed_at is None


def test_other_replies_change_nothing(client, ann):
    response = twilio_post(client, inbound("stop sending me these"))

    assert response.status_code == 200
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_IN


def test_every_profile_with_the_number_is_opted_out_and_others_are_not(client, ann):
    twin = Profile.objects.create(identity="ann-2", phone=PHONE, sms_consent=Consent.UNKNOWN)
    bob = Profile.objects.create(identity="bob", phone="+12025550143", sms_consent=Consent.OPTED_IN)

    twilio_post(client, inbound("STOP"))

    assert set(
        Profile.objects.filter(sms_consent=Consent.OPTED_OUT).values_list("pk", flat=True)
    ) == {ann.pk, twin.pk}
    bob.refresh_from_db()
    assert bob.sms_consent == Consent.OPTED_IN


def test_a_second_stop_keeps_the_first_opt_out_time(ann):
    consent_from_reply(phone=PHONE, body="STOP")
    first = Profile.objects.get(pk=ann.pk).sms_unsubscribed_at

    assert consent_from_reply(phone=PHONE, body="STOP") == ("opted_out", 0)
    assert Profile.objects.get(pk=ann.pk).sms_unsubscribed_at == first


def test_a_whatsapp_stop_opts_out_of_whatsapp_only(client, ann):
    Profile.objects.filter(pk=ann.pk).update(whatsapp_consent=Consent.OPTED_IN)

    twilio_post(client, inbound("STOP", sender="whatsapp:" + PHONE))

    ann.refresh_from_db()
    assert ann.whatsapp_consent == Consent.OPTED_OUT
    assert ann.sms_consent == Consent.OPTED_IN


def test_a_bad_signature_is_refused_and_changes_nothing(client, ann):
    response = twilio_post(client, inbound("STOP"), token="not-the-token")

    assert response.status_code == 403
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_IN


def test_a_signature_for_other_parameters_is_refused(client, ann):
    url = "https://herald.example.com" + TWILIO_PATH
    signature = twilio_signature(url, {k: [v] for k, v in inbound("START").items()}, AUTH_TOKEN)

    response = client.post(TWILIO_PATH, inbound("STOP"), HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_IN


def test_an_unsigned_request_is_refused(client, ann):
    response = client.post(TWILIO_PATH, inbound("STOP"))

    assert response.status_code == 403


def test_a_signature_with_the_default_port_is_accepted(client, ann):
    response = twilio_post(
        client, inbound("STOP"), url="https://herald.example.com:443" + TWILIO_PATH
    )

    assert response.status_code == 200
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_OUT


def test_a_signature_for_the_address_the_request_reached_is_accepted(client, ann):
    response = twilio_post(client, inbound("STOP"), url="http://testserver" + TWILIO_PATH)

    assert response.status_code == 200


def test_the_auth_token_an_admin_configured_is_used(client, ann):
    ProviderConfig.objects.create(
        channel="sms", provider="twilio", secrets={"auth_token": "admin-token"}
    )

    assert twilio_post(client, inbound("STOP")).status_code == 403
    assert twilio_post(client, inbound("STOP"), token="admin-token").status_code == 200


def test_without_an_auth_token_nothing_is_accepted(client, ann, settings):
    settings.HERALD_PROVIDERS = {**settings.HERALD_PROVIDERS, "sms": {}}

    response = twilio_post(client, inbound("STOP"), token="")

    assert response.status_code == 403


def test_the_webhook_only_takes_posts(client, db):
    assert client.get(TWILIO_PATH).status_code == 405


def gateway_post(client, payload, token=GATEWAY_TOKEN):
    return client.post(
        GATEWAY_PATH,
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_the_gateway_stop_opts_the_sender_out(client, ann):
    response = gateway_post(client, {"from": PHONE, "body": " stop "})

    assert response.status_code == 200
    assert response.json() == {"consent": "opted_out", "profiles": 1}
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_OUT


def test_the_gateway_may_send_the_number_without_its_plus(client, ann):
    response = gateway_post(client, {"from": PHONE[1:], "body": "STOP"})

    assert response.json() == {"consent": "opted_out", "profiles": 1}


def test_the_gateway_start_opts_the_sender_in(client, ann):
    Profile.objects.filter(pk=ann.pk).update(sms_consent=Consent.OPTED_OUT)

    response = gateway_post(client, {"from": PHONE, "body": "start"})

    assert response.json() == {"consent": "opted_in", "profiles": 1}


def test_the_gateway_reports_replies_that_are_no_keyword(client, ann):
    response = gateway_post(client, {"from": PHONE, "body": "thanks!"})

    assert response.json() == {"consent": None, "profiles": 0}


def test_the_gateway_needs_its_token(client, ann):
    response = gateway_post(client, {"from": PHONE, "body": "STOP"}, token="wrong")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    ann.refresh_from_db()
    assert ann.sms_consent == Consent.OPTED_IN


@pytest.mark.parametrize(
    "payload", ["not json", "[]", '{"from": "+14155550123"}', '{"from": 1, "body": "STOP"}']
)
def test_the_gateway_refuses_a_malformed_body(client, ann, payload):
    response = client.post(
        GATEWAY_PATH,
        payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {GATEWAY_TOKEN}",
    )

    assert response.status_code == 400
