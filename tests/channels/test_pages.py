"""Dispatch's pages through Django's test client: the campaign page's Delivery panel (a run's
figures from its batches, the history), Settings › Channels (providers, secrets never shown back)
and Settings › Delivery (frequency caps, quiet hours).

Runs are written directly as rows (Run + Batch counters, ledger rows where a page reads them):
what the pages show is tested here, not the sending.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.choices import Delivery, Status
from channels import display, pipeline, services
from channels.models import (
    Batch,
    BatchStatus,
    FrequencyCap,
    ProviderConfig,
    QuietHours,
    Run,
    RunKind,
    RunStatus,
)
from channels.models import Delivery as Ledger
from config.errors import Forbidden

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CHANNELS = reverse("channels_settings:list")
DELIVERY = reverse("channels_settings:delivery")
CAPS = reverse("channels_settings:caps")
QUIET = reverse("channels_settings:quiet_hours")
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "tw-auth-token-5f1e2d3c4b5a"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def text(response) -> str:
    """The page as text, tags dropped and whitespace squeezed, for asserting on what users read."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def edit_url(channel: str) -> str:
    return reverse("channels_settings:edit", args=[channel])


def progress_url(campaign) -> str:
    return reverse("runs:progress", args=[campaign.pk])


def make_run(campaign, *, status=RunStatus.SENDING, targeted=10, counts=(), **fields) -> Run:
    """A run with one batch per counter dict, as the pipeline leaves them."""
    fields.setdefault("scheduled_for", timezone.now())
    run = Run.objects.create(
        campaign=campaign,
        kind=fields.pop("kind", RunKind.SCHEDULED),
        status=status,
        targeted=targeted,
        resolved=status != RunStatus.RESOLVING,
        batches_total=len(counts),
        **fields,
    )
    for seq, batch_counts in enumerate(counts, start=1):
        Batch.objects.create(
            run=run,
            seq=seq,
            profile_ids=list(range(seq * 100, seq * 100 + 5)),
            not_before=run.scheduled_for,
            counts=batch_counts,
        )
    return run


@pytest.fixture
def running(campaign_factory):
    return campaign_factory(status=Status.RUNNING, delivery=Delivery.ONE_TIME)


# ----------------------------------------------------------------------------------------------
# The Delivery panel
# ----------------------------------------------------------------------------------------------
def test_the_progress_partial_shows_a_sending_runs_figures_from_its_batches(
    client_for, marketer, running
):
    make_run(
        running,
        counts=[
            {"sent": 3, "dropped:consent": 1, "failed:provider": 1},
            {"sent": 2, "dropped:frequency_cap": 1, "dropped:no_address": 0},
        ],
    )
    response = client_for(marketer).get(progress_url(running), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert '<progress class="run-bar" value="8" max="10"' in html
    page = text(response)
    assert "8 of 10 recipients handled (80%)" in page
    assert "Sent 5" in page
    assert "Failed 1 Provider error: 1" in page
    assert "Dropped 2" in page and "No consent: 1" in page and "Frequency cap reached: 1" in page
    assert "No address" not in page  # a zero counter is not a reason
    assert "Pending 2" in page
    assert "HX-Trigger" not in response.headers


def test_the_campaign_page_shows_the_panel_and_it_polls_only_while_the_run_is_live(
    client_for, marketer, running
):
    run = make_run(running, counts=[{"sent": 4}])
    client = client_for(marketer)
    page = client.get(reverse("campaigns:detail", args=[running.pk]))
    assert "Delivery" in text(page)
    assert f'hx-get="{progress_url(running)}" hx-trigger="every 2s"' in page.content.decode()

    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE,
        finished_at=timezone.now(),
        totals={"targeted": 10, "sent": 9, "failed": 0, "dropped": {"dnd": 1}, "pending": 0},
    )
    last = client.get(progress_url(running), **HTMX)
    # Figures of a finished run are the totals it recorded.
    assert "10 of 10 recipients handled (100%)" in text(last)
    assert "Quiet hours: 1" in text(last)
    assert "hx-trigger" not in last.content.decode()
    assert last.headers["HX-Trigger"] == "herald:run-finished"


def test_a_resolving_run_shows_how_many_were_found_so_far(client_for, marketer, running):
    make_run(running, status=RunStatus.RESOLVING, targeted=2000, counts=[{"sent": 150}])
    response = client_for(marketer).get(progress_url(running))
    assert "Finding the audience: 2000 recipients so far, 150 handled." in text(response)
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_recipients_waiting_for_their_time_are_counted(client_for, marketer, running):
    run = make_run(running, targeted=8, counts=[{"sent": 3}])
    Batch.objects.create(
        run=run,
        seq=2,
        profile_ids=[1, 2, 3],
        not_before=timezone.now() + dt.timedelta(hours=3),
        status=BatchStatus.QUEUED,
    )
    page = text(client_for(marketer).get(progress_url(running)))
    assert "3 recipients wait for their time" in page
    assert "Pending 5" in page


def test_a_stopped_run_says_who_stopped_it_and_that_the_ledger_is_what_was_sent(
    client_for, marketer, admin, running
):
    make_run(
        running,
        status=RunStatus.STOPPED,
        targeted=100,
        counts=[{"sent": 40}],
        stopped_by=admin,
        finished_at=timezone.now(),
    )
    response = client_for(marketer).get(progress_url(running), **HTMX)
    page = text(response)
    assert "Stopped by ada@example.com" in page
    assert "the delivery ledger's rows are what was sent" in page
    assert "Not sent 60" in page
    assert "hx-trigger" not in response.content.decode()


def test_a_finished_runs_most_frequent_errors_come_from_the_ledger(client_for, marketer, running):
    run = make_run(
        running,
        status=RunStatus.DONE,
        targeted=3,
        counts=[{"sent": 1, "failed:provider": 2}],
        finished_at=timezone.now(),
    )
    run.totals = {
        "targeted": 3,
        "sent": 1,
        "failed": 2,
        "dropped": {},
        "failed_reasons": {"provider": 2},
        "pending": 0,
    }
    run.save()
    now = timezone.now()
    for pid in (1, 2):
        Ledger.objects.create(
            run=run,
            profile_id=pid,
            status="failed",
            reason="provider: Twilio 21211: Invalid 'To' Phone Number",
            created_at=now,
        )
    page = text(client_for(marketer).get(progress_url(running)))
    assert "Most frequent errors" in page
    assert "provider: Twilio 21211: Invalid 'To' Phone Number 2" in page


def test_polling_reads_the_batch_counters_not_the_ledger(client_for, marketer, running):
    make_run(running, counts=[{"sent": 1}, {"sent": 2}])
    client = client_for(marketer)
    client.get(progress_url(running))  # the session and roles, read once
    with CaptureQueriesContext(connection) as queries:
        assert client.get(progress_url(running), **HTMX).status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "channels_delivery" not in sql
    assert len(queries.captured_queries) <= 10


def test_the_run_history_lists_every_run_newest_first_a_page_at_a_time(
    client_for, marketer, campaign_factory
):
    campaign = campaign_factory(status=Status.AWAITING_NEXT_RUN, delivery=Delivery.RECURRING)
    start = timezone.now() - dt.timedelta(days=30)
    for day in range(12):
        make_run(
            campaign,
            status=RunStatus.DONE,
            targeted=5,
            scheduled_for=start + dt.timedelta(days=day),
            finished_at=start + dt.timedelta(days=day, minutes=3),
            totals={"targeted": 5, "sent": day, "failed": 0, "dropped": {}, "pending": 0},
        )
    client = client_for(marketer)
    page = client.get(reverse("campaigns:detail", args=[campaign.pk]))
    html = page.content.decode()
    assert "Run history · 12 runs" in text(page)
    sent = re.findall(r'<td class="num">(\d+)</td>\s*<td class="num">0</td>', html)
    assert sent[:3] == ["11", "10", "9"]
    assert "Page 1 of 2" in text(page)
    older = client.get(reverse("runs:history", args=[campaign.pk]), {"page": 2}, **HTMX)
    assert re.findall(
        r'<td class="num">(\d+)</td>\s*<td class="num">0</td>', older.content.decode()
    ) == [
        "1",
        "0",
    ]
    # Without JavaScript the same page comes with the campaign page.
    again = client.get(reverse("campaigns:detail", args=[campaign.pk]), {"runs": 2})
    assert "Page 2 of 2" in text(again)


def test_a_history_row_of_an_unfinished_run_sums_its_batches(client_for, marketer, running):
    make_run(
        running,
        status=RunStatus.DONE,
        scheduled_for=timezone.now() - dt.timedelta(days=1),
        totals={"targeted": 1, "sent": 1, "failed": 0, "dropped": {}, "pending": 0},
    )
    make_run(running, counts=[{"sent": 2, "failed:provider": 1}, {"dropped:consent": 4}])
    html = client_for(marketer).get(reverse("campaigns:detail", args=[running.pk])).content
    assert re.search(
        rb'<td class="num">2</td>\s*<td class="num">1</td>\s*<td class="num">4</td>', html
    )


def test_a_campaign_without_runs_has_no_delivery_panel(client_for, marketer, campaign_factory):
    draft = campaign_factory()
    page = client_for(marketer).get(reverse("campaigns:detail", args=[draft.pk]))
    assert page.status_code == 200
    assert 'id="section-delivery"' not in page.content.decode()


def test_the_progress_partial_needs_a_role(client_for, outsider, running):
    make_run(running, counts=[{"sent": 1}])
    assert client_for(outsider).get(progress_url(running)).status_code == 403
    assert client_for(None).get(progress_url(running)).status_code == 302


@pytest.mark.parametrize(
    "reason",
    [
        pipeline.NO_ADDRESS,
        pipeline.CONSENT,
        pipeline.FREQUENCY_CAP,
        pipeline.DND,
        pipeline.CONTROL_GROUP,
        pipeline.NO_PROFILE,
        pipeline.OUTCOME_UNKNOWN,
        pipeline.NOT_CONFIGURED,
        "template_error",
        "provider",
    ],
)
def test_every_reason_the_pipeline_records_has_a_readable_label(reason):
    label = display.reason_label(reason)
    assert label != reason and label[0].isupper()


# ----------------------------------------------------------------------------------------------
# Who may open the settings
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["marketer", "approver"])
def test_only_admins_open_the_dispatch_settings(who, request, client_for):
    client = client_for(request.getfixturevalue(who))
    for url in (CHANNELS, DELIVERY, edit_url("sms")):
        assert client.get(url).status_code == 403, url
    posted = {"provider": "twilio", "account_sid": SID, "auth_token": TOKEN}
    assert client.post(edit_url("sms"), posted).status_code == 403
    assert client.post(CAPS, {"sms_max_messages": "3", "sms_days": "7"}).status_code == 403
    assert client.post(QUIET, {"start": "22:00", "end": "07:00"}).status_code == 403
    assert not ProviderConfig.objects.exists() and not FrequencyCap.objects.exists()
    assert not QuietHours.objects.exists()


def test_the_services_refuse_non_admins_too(marketer):
    with pytest.raises(Forbidden):
        services.provider_config_update(
            actor=marketer, channel="webhook", provider="http", options={}, secrets={}
        )
    with pytest.raises(Forbidden):
        services.frequency_cap_remove(actor=marketer, channel="sms")


def test_the_settings_navigation_links_channels_and_delivery_for_admins(
    client_for, admin, marketer
):
    page = client_for(admin).get(CHANNELS).content.decode()
    assert f'<a href="{CHANNELS}" aria-current="page">Channels</a>' in page
    assert f'<a href="{DELIVERY}" >Delivery</a>' in page
    assert CHANNELS not in client_for(marketer).get(reverse("campaigns:list")).content.decode()


# ----------------------------------------------------------------------------------------------
# Settings › Channels
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def environment(settings):
    """Providers as a deployment's environment might set them: e-mail through Django, SMS not
    configured, push dry run, webhooks through HTTP with a secret."""
    settings.HERALD_PROVIDERS = {
        "email": {"provider": "django", "options": {"backend": ""}, "secrets": {}},
        "sms": {"provider": "", "options": {"base_url": "https://api.twilio.com"}, "secrets": {}},
        "whatsapp": {"provider": "", "options": {}, "secrets": {}},
        "push": {"provider": "", "options": {}, "secrets": {}},
        "webhook": {
            "provider": "http",
            "options": {"timeout": 5.0, "allow_private": False},
            "secrets": {"signing_secret": WHSEC},
        },
    }
    settings.HERALD_DRY_RUN_CHANNELS = ["push"]
    return settings


def test_the_channel_list_says_where_each_provider_comes_from(client_for, admin, environment):
    response = client_for(admin).get(CHANNELS)
    html = response.content.decode()
    for channel, source in [
        ("email", "settings"),
        ("sms", "none"),
        ("push", "dry_run"),
        ("webhook", "settings"),
        ("whatsapp", "none"),
    ]:
        card = html.split(f'data-channel="{channel}"')[1].split("</section>")[0]
        assert f'data-source="{source}"' in card, channel
    webhook = html.split('data-channel="webhook"')[1].split("</section>")[0]
    assert 'data-secret-state="set"' in webhook
    assert WHSEC not in html


def test_a_configuration_lacking_a_required_secret_is_flagged(client_for, admin, environment):
    environment.HERALD_PROVIDERS = {
        **environment.HERALD_PROVIDERS,
        "webhook": {"provider": "http", "options": {"timeout": 10.0}, "secrets": {}},
    }
    html = client_for(admin).get(CHANNELS).content.decode()
    webhook = html.split('data-channel="webhook"')[1].split("</section>")[0]
    assert "Missing: Signing secret. Messages on this channel fail until it is set." in webhook
    assert '<dd class="mono">10</dd>' in webhook
    sms = html.split('data-channel="sms"')[1].split("</section>")[0]
    assert "data-missing" not in sms


def test_an_admin_saves_twilio_and_the_token_is_never_shown_back(client_for, admin, environment):
    client = client_for(admin)
    form = client.get(edit_url("sms"), {"provider": "twilio"})
    # The environment's options are the starting point.
    assert 'value="https://api.twilio.com"' in form.content.decode()
    response = client.post(
        edit_url("sms"),
        {
            "provider": "twilio",
            "base_url": "https://api.twilio.com",
            "account_sid": SID,
            "from": "+14155550100",
            "timeout": "",
            "auth_token": TOKEN,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "SMS now sends with Twilio." in text(response)
    row = ProviderConfig.objects.get(channel="sms")
    assert (row.provider, row.updated_by) == ("twilio", admin)
    assert row.options == {
        "base_url": "https://api.twilio.com",
        "account_sid": SID,
        "from": "+14155550100",
    }
    assert row.secrets == {"auth_token": TOKEN}
    card = response.content.decode().split('data-channel="sms"')[1].split("</section>")[0]
    assert 'data-source="admin"' in card and 'data-secret-state="set"' in card
    assert "Last changed here by ada@example.com" in text(response)
    for page in (
        response,
        client.get(CHANNELS),
        client.get(edit_url("sms")),
        client.get(edit_url("sms"), {"provider": "twilio"}, **HTMX),
    ):
        assert TOKEN not in page.content.decode()
    edit = client.get(edit_url("sms")).content.decode()
    assert 'data-secret-state="set"' in edit
    assert re.search(r'<input type="password" name="auth_token"[^>]*>', edit)
    assert 'name="auth_token" value' not in edit


def test_an_empty_secret_keeps_the_stored_one_and_clear_removes_it(client_for, admin):
    client = client_for(admin)
    data = {"provider": "twilio", "account_sid": SID, "auth_token": TOKEN}
    client.post(edit_url("sms"), data)
    client.post(edit_url("sms"), {**data, "auth_token": "", "from": "HERALD"})
    row = ProviderConfig.objects.get(channel="sms")
    assert row.secrets == {"auth_token": TOKEN} and row.options["from"] == "HERALD"

    # A required secret cannot be cleared, only replaced.
    refused = client.post(edit_url("sms"), {**data, "auth_token": "", "clear_auth_token": "on"})
    assert refused.status_code == 400
    assert "Required: it cannot be cleared, only replaced." in text(refused)
    assert ProviderConfig.objects.get(channel="sms").secrets == {"auth_token": TOKEN}

    # An optional one can.
    gateway = {"provider": "http", "gateway_url": "https://sms.example.com/send"}
    client.post(edit_url("sms"), {**gateway, "gateway_token": "gw-secret-1"})
    assert ProviderConfig.objects.get(channel="sms").secrets == {"gateway_token": "gw-secret-1"}
    both = client.post(
        edit_url("sms"), {**gateway, "gateway_token": "new", "clear_gateway_token": "on"}
    )
    assert "Enter a new value or clear the stored one, not both." in text(both)
    client.post(edit_url("sms"), {**gateway, "clear_gateway_token": "on"})
    assert ProviderConfig.objects.get(channel="sms").secrets == {}


def _service_account(**overrides) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "herald-test-1",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "sender@herald-test-1.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
        **overrides,
    }
    return json.dumps({k: v for k, v in info.items() if v is not None})


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ('{"type": "service_account", ', "This is not valid JSON"),
        ("[1, 2]", "The key file is a JSON object"),
        (
            _service_account(client_email=None, token_uri=None),
            "This is not a service account key: it has no client_email, token_uri.",
        ),
        (
            _service_account(
                private_key="-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
            ),
            "The key's private_key is not a readable PEM private key.",
        ),
        (
            _service_account(token_uri="file:///etc/passwd"),
            "The key's token_uri is not an http(s) URL.",
        ),
    ],
)
def test_a_bad_service_account_shows_an_error_and_saves_nothing(client_for, admin, key, message):
    response = client_for(admin).post(edit_url("push"), {"provider": "fcm", "service_account": key})
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was saved" in page and message in page
    assert not ProviderConfig.objects.exists()
    # What was pasted is not sent back, not even to correct it.
    assert "BEGIN PRIVATE KEY" not in response.content.decode()
    assert '"type": "service_account"' not in unescape(response.content.decode())


def test_a_service_account_key_is_stored_and_shown_only_as_set(client_for, admin):
    key = _service_account()
    client = client_for(admin)
    response = client.post(
        edit_url("push"), {"provider": "fcm", "service_account": key, "timeout": "15"}
    )
    assert response.status_code == 302
    row = ProviderConfig.objects.get(channel="push")
    assert row.secrets == {"service_account": key} and row.options == {"timeout": 15.0}
    for url in (CHANNELS, edit_url("push")):
        html = client.get(url).content.decode()
        assert "PRIVATE KEY" not in html and "sender@herald-test-1" not in html
        assert 'data-secret-state="set"' in html


def test_a_service_account_without_project_needs_a_project_id(client_for, admin):
    key = _service_account(project_id=None)
    response = client_for(admin).post(edit_url("push"), {"provider": "fcm", "service_account": key})
    assert "Required: the service account key names no project." in text(response)
    assert not ProviderConfig.objects.exists()


@pytest.mark.parametrize(
    ("channel", "data", "message"),
    [
        ("webhook", {"signing_secret": "not-a-whsec"}, "starts with whsec_"),
        ("webhook", {"signing_secret": "whsec_!!!"}, "whsec_ followed by base64"),
        ("webhook", {"signing_secret": WHSEC, "timeout": "0.1"}, "between 1 and 120 seconds"),
        (
            "sms",
            {"provider": "http", "gateway_url": "ftp://sms.example.com"},
            "http:// or https://",
        ),
        ("sms", {"provider": "http", "gateway_url": ""}, "Required."),
        (
            "sms",
            {"provider": "twilio", "account_sid": "AC123", "auth_token": TOKEN},
            "AC followed by 32",
        ),
        (
            "sms",
            {
                "provider": "twilio",
                "account_sid": SID,
                "auth_token": TOKEN,
                "from": "not a sender!",
            },
            "international format",
        ),
        ("sms", {"provider": "twilio", "account_sid": SID}, "Required: none is stored, enter it."),
        ("whatsapp", {"provider": "twilio", "account_sid": SID, "auth_token": TOKEN}, "Required."),
        ("email", {"provider": "anymail", "backend": "not a path"}, "dotted path"),
        ("email", {"provider": "carrier-pigeon"}, "Select a valid choice"),
    ],
)
def test_bad_provider_settings_show_field_errors_and_save_nothing(
    client_for, admin, channel, data, message
):
    data = {"provider": "http", **data}
    response = client_for(admin).post(edit_url(channel), data)
    assert response.status_code == 400
    assert message in text(response)
    assert not ProviderConfig.objects.exists()
    assert TOKEN not in response.content.decode()
    if data.get("auth_token") and message != "Select a valid choice":
        assert "Enter auth token again too" in text(response)


def test_a_webhook_configuration_with_private_targets_allowed(client_for, admin):
    client_for(admin).post(
        edit_url("webhook"),
        {"provider": "http", "signing_secret": WHSEC, "allow_private": "on", "timeout": "3"},
    )
    row = ProviderConfig.objects.get(channel="webhook")
    assert row.options == {"timeout": 3.0, "allow_private": True}
    assert row.secrets == {"signing_secret": WHSEC}


def test_going_back_to_the_environment_drops_what_was_stored(client_for, admin, environment):
    client = client_for(admin)
    client.post(edit_url("sms"), {"provider": "twilio", "account_sid": SID, "auth_token": TOKEN})
    response = client.post(edit_url("sms"), {"provider": ""}, follow=True)
    assert "SMS uses the environment's configuration again." in text(response)
    row = ProviderConfig.objects.get(channel="sms")
    assert (row.provider, row.options, row.secrets, row.updated_by) == ("", {}, {}, admin)
    card = response.content.decode().split('data-channel="sms"')[1].split("</section>")[0]
    assert 'data-source="none"' in card


def test_an_admin_may_choose_the_dry_run(client_for, admin, environment):
    client_for(admin).post(edit_url("sms"), {"provider": "dry_run"})
    assert ProviderConfig.objects.get(channel="sms").provider == "dry_run"


def test_changing_the_provider_swaps_in_its_fields(client_for, admin):
    response = client_for(admin).get(edit_url("sms"), {"provider": "http"}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="provider-fields"')
    assert 'name="gateway_url"' in html and 'name="account_sid"' not in html


def test_a_channel_without_an_adapter_has_no_settings_page(client_for, admin):
    assert client_for(admin).get(edit_url("in_app")).status_code == 404


# ----------------------------------------------------------------------------------------------
# Settings › Delivery
# ----------------------------------------------------------------------------------------------
def test_an_admin_sets_changes_and_removes_frequency_caps(client_for, admin):
    client = client_for(admin)
    response = client.post(
        CAPS,
        {"sms_max_messages": "3", "sms_days": "7", "email_max_messages": "10", "email_days": "1"},
        follow=True,
    )
    assert "Frequency caps saved." in text(response)
    assert {(c.channel, c.max_messages, c.days) for c in FrequencyCap.objects.all()} == {
        ("sms", 3, 7),
        ("email", 10, 1),
    }
    assert "3 in 7 days" in text(response)
    # Emptying both removes a cap; the others stay.
    client.post(
        CAPS, {"sms_max_messages": "", "sms_days": "", "email_max_messages": "5", "email_days": "2"}
    )
    assert {(c.channel, c.max_messages, c.days) for c in FrequencyCap.objects.all()} == {
        ("email", 5, 2)
    }
    removed = client.post(reverse("channels_settings:cap_remove", args=["email"]), follow=True)
    assert "Email has no frequency cap now." in text(removed)
    assert not FrequencyCap.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"sms_max_messages": "3", "sms_days": ""},
            "Give both the number of messages and the days",
        ),
        ({"sms_max_messages": "0", "sms_days": "7"}, "Give between 1 and 1000 messages."),
        ({"sms_max_messages": "3", "sms_days": "400"}, "Give between 1 and 365 days."),
        ({"sms_max_messages": "three", "sms_days": "7"}, "Enter a whole number of messages."),
    ],
)
def test_bad_caps_show_an_error_and_save_nothing(client_for, admin, data, message):
    FrequencyCap.objects.create(channel="push", max_messages=2, days=1)
    response = client_for(admin).post(
        CAPS, {**data, "email_max_messages": "9", "email_days": "9", "push_max_messages": ""}
    )
    assert response.status_code == 400
    assert message in text(response) and "Nothing was saved" in text(response)
    assert list(FrequencyCap.objects.values_list("channel", "max_messages", "days")) == [
        ("push", 2, 1)
    ]


def test_an_admin_sets_quiet_hours(client_for, admin):
    response = client_for(admin).post(
        QUIET,
        {"enabled": "on", "start": "21:30", "end": "08:00", "channels": ["sms", "push"]},
        follow=True,
    )
    assert "Quiet hours saved." in text(response)
    quiet = QuietHours.current()
    assert (quiet.enabled, quiet.start, quiet.end, quiet.channels) == (
        True,
        dt.time(21, 30),
        dt.time(8, 0),
        ["sms", "push"],
    )
    assert "quiet hours are on, 21:30–08:00 on SMS, Push Notifications" in text(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"enabled": "on", "start": "22:00", "end": "22:00", "channels": ["sms"]},
            "must end at another time",
        ),
        (
            {"enabled": "on", "start": "22:00", "end": "07:00"},
            "Choose the channels quiet hours apply to.",
        ),
        ({"enabled": "on", "start": "25:00", "end": "07:00", "channels": ["sms"]}, "Enter a time."),
        (
            {"enabled": "on", "start": "22:00", "end": "07:00", "channels": ["in_app"]},
            "Select a valid choice",
        ),
    ],
)
def test_bad_quiet_hours_show_an_error_and_save_nothing(client_for, admin, data, message):
    response = client_for(admin).post(QUIET, data)
    assert response.status_code == 400
    assert message in text(response)
    assert not QuietHours.objects.exists()


# ----------------------------------------------------------------------------------------------
# The campaign form's When
# ----------------------------------------------------------------------------------------------
def test_the_campaign_form_explains_the_delivery_options_of_when(client_for, marketer):
    page = text(client_for(marketer).get(reverse("campaigns:create")))
    for key in ('"dnd"', '"ignore_frequency_caps"', '"month_weekdays"'):
        assert key in page
