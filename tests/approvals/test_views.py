"""The approval pages through Django's test client: Settings > Approval, the queue, a request,
the decisions, and the workflow on the campaign pages (buttons, dialogs, edit form, timeline).

Each page renders for the roles that may see it and refuses the others; each POST does what it
says, and bad input shows a message and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals import services as approval_services
from approvals.models import (
    ApprovalRequest,
    ApprovalSettings,
    ApprovalSettingsChange,
    RequestKind,
    RequestStatus,
)
from campaigns import examples
from campaigns.choices import Delivery, Status
from campaigns.models import Campaign
from tests.factories import push_what

pytestmark = pytest.mark.django_db

QUEUE = reverse("approvals:queue")
SETTINGS = reverse("approval_settings:edit")
COUNT = reverse("approvals:count")
HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    """The page as text, tags dropped and whitespace squeezed, for asserting on what users read."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = html.replace("<wbr>", "")
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def detail_url(campaign: Campaign) -> str:
    return reverse("campaigns:detail", args=[campaign.pk])


def request_url(name: str, item: ApprovalRequest) -> str:
    return reverse(f"approvals:{name}", args=[item.pk])


def submitted(marketer, campaign_factory, **fields) -> tuple[Campaign, ApprovalRequest]:
    """A draft the marketer sent for approval."""
    campaign = campaign_factory(**fields)
    item = approval_services.campaign_submit(actor=marketer, campaign_id=campaign.pk, note="")
    campaign.refresh_from_db()
    return campaign, item


def live(campaign_factory, **fields) -> Campaign:
    fields.setdefault("status", Status.SCHEDULED)
    fields.setdefault("next_run_at", timezone.now() + dt.timedelta(days=7))
    return campaign_factory(**fields)


def edit_data(campaign: Campaign, **overrides) -> dict:
    data = {
        "name": campaign.name,
        "channel": campaign.channel,
        "type": campaign.type,
        "delivery": campaign.delivery,
        "labels": [label.pk for label in campaign.labels.all()],
        "who": json.dumps(campaign.who),
        "what": json.dumps(campaign.what),
        "when": json.dumps(campaign.when),
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------------------------------------
# Settings > Approval
# ---------------------------------------------------------------------------------------------
def test_the_settings_page_is_for_admins_only(
    client_for, admin, approver, marketer, outsider, approval_on
):
    assert client_for(admin).get(SETTINGS).status_code == 200
    for user in (approver, marketer):
        response = client_for(user).get(SETTINGS)
        assert response.status_code == 403
        assert "Your role does not allow this" in text(response)
        response = client_for(user).post(SETTINGS, {})
        assert response.status_code == 403
    assert client_for(outsider).get(SETTINGS).status_code == 403
    anonymous = client_for(None).get(SETTINGS)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    # The refused POSTs (an empty form would switch both off) changed nothing.
    assert ApprovalSettings.current().enabled is True
    assert ApprovalSettingsChange.objects.count() == 1


def test_the_admin_switches_approval_on_and_the_history_says_who_changed_what(client_for, admin):
    client = client_for(admin)
    page = text(client.get(SETTINGS))
    assert "campaign approval is off" in page and "No changes yet." in page

    response = client.post(SETTINGS, {"enabled": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == SETTINGS
    page = text(response)
    assert "Campaign approval is now on." in page
    setting = ApprovalSettings.current()
    assert setting.enabled and not setting.allow_self_approval
    history = page[page.index("History") :]
    assert "ada@example.com" in history and "Campaign approval: off → on" in history

    response = client.post(SETTINGS, {"enabled": "on", "allow_self_approval": "on"}, follow=True)
    assert "Self-approval is now allowed." in text(response)
    assert ApprovalSettings.current().allow_self_approval
    assert ApprovalSettingsChange.objects.count() == 2


def test_saving_the_settings_unchanged_says_so_and_records_nothing(client_for, admin):
    response = client_for(admin).post(SETTINGS, {}, follow=True)
    assert "Nothing changed" in text(response)
    assert not ApprovalSettingsChange.objects.exists()


def test_the_switches_are_labelled_switches(client_for, admin):
    html = client_for(admin).get(SETTINGS).content.decode()
    for name in ("enabled", "allow_self_approval"):
        assert re.search(rf'<input type="checkbox" name="{name}"[^>]*role="switch"', html)
        assert f'aria-describedby="help-{name}"' in html and f'id="help-{name}"' in html
    assert "Allow self-approval" in html


def test_the_navigation_links_approval_settings_for_admins_and_the_queue_for_approvers(
    client_for, admin, approver, marketer
):
    admin_page = client_for(admin).get(reverse("campaigns:list")).content.decode()
    assert f'href="{SETTINGS}"' in admin_page and f'href="{QUEUE}"' in admin_page
    approver_page = client_for(approver).get(reverse("campaigns:list")).content.decode()
    assert f'href="{QUEUE}"' in approver_page and f'href="{SETTINGS}"' not in approver_page
    assert f'hx-get="{COUNT}"' in approver_page
    marketer_page = client_for(marketer).get(reverse("campaigns:list")).content.decode()
    assert f'href="{QUEUE}"' not in marketer_page and f'href="{SETTINGS}"' not in marketer_page


# ---------------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------------
def test_the_queue_is_for_approvers_and_admins(client_for, approver, admin, marketer, outsider):
    assert client_for(approver).get(QUEUE).status_code == 200
    assert client_for(admin).get(QUEUE).status_code == 200
    response = client_for(marketer).get(QUEUE)
    assert response.status_code == 403 and "Your role does not allow this" in text(response)
    assert client_for(outsider).get(QUEUE).status_code == 403


def test_the_queue_lists_requests_oldest_first_with_creator_channel_kind_note_and_diff(
    client_for, approver, marketer, campaign_factory, approval_on
):
    first, first_request = submitted(marketer, campaign_factory, name="First draft")
    ApprovalRequest.objects.filter(pk=first_request.pk).update(
        requested_at=timezone.now() - dt.timedelta(hours=2)
    )
    running = live(campaign_factory, name="Live digest")
    approval_services.campaign_propose(
        actor=marketer,
        campaign_id=running.pk,
        data={"name": "Live digest v2"},
        note="Sharper name, please.",
    )
    response = client_for(approver).get(QUEUE)
    page = text(response)
    assert [row.campaign.name for row in response.context["rows"]] == [
        "First draft",
        "Live digest",
    ]
    assert "2 requests awaiting you" in page
    assert page.index("First draft") < page.index("Live digest")
    assert "New campaign · Push Notifications" in page
    assert "Changes to a live campaign · Push Notifications" in page
    assert "Creator maya@example.com" in page
    assert "Sharper name, please." in page
    # The revision's diff: the name, old next to new.
    live_row = response.context["rows"][1]
    assert [(d.section, d.path, d.old, d.new) for d in live_row.diff] == [
        ("Name", "name", "Live digest", "Live digest v2")
    ]
    # The new campaign's diff: all of it, as added.
    new_row = response.context["rows"][0]
    assert {d.path for d in new_row.diff} >= {"name", "channel", "who", "what", "when"}
    assert all(d.kind == "added" for d in new_row.diff)
    html = response.content.decode()
    assert html.count('data-action="approve"') == 2 and html.count('data-action="reject"') == 2


def test_a_scheduled_time_already_past_is_flagged(
    client_for, approver, marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Late one")
    item = approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("New title")}
    )
    page = text(client_for(approver).get(QUEUE))
    assert "past" not in page.split("Late one", 1)[1].split("Note", 1)[0]

    ApprovalRequest.objects.filter(pk=item.pk).update(
        target_run_at=timezone.now() - dt.timedelta(minutes=5)
    )
    response = client_for(approver).get(QUEUE)
    assert response.context["rows"][0].is_past
    assert 'class="badge badge-past"' in response.content.decode()
    # The rules' notice says what approving now does.
    assert "changes made for that send are discarded" in text(response)


def test_chosen_approvers_are_respected(
    client_for, approver, second_approver, admin, marketer, campaign_factory, approval_on
):
    campaign = campaign_factory(name="For Bea")
    approval_services.campaign_submit(
        actor=marketer, campaign_id=campaign.pk, approvers=[second_approver.pk]
    )
    assert not client_for(approver).get(QUEUE).context["rows"]
    assert [r.campaign.name for r in client_for(second_approver).get(QUEUE).context["rows"]] == [
        "For Bea"
    ]
    # Admins decide any request.
    assert len(client_for(admin).get(QUEUE).context["rows"]) == 1


def test_requests_an_approver_wrote_wait_for_another_approver_in_a_note_of_their_own(
    client_for, approver, second_approver, admin, campaign_factory, approval_on
):
    campaign = campaign_factory(name="Ari's own", created_by=approver)
    approval_services.campaign_submit(actor=approver, campaign_id=campaign.pk)
    response = client_for(approver).get(QUEUE)
    assert not response.context["rows"]
    page = text(response)
    assert "Nothing awaits your approval." in page
    assert "Yours, awaiting another approver" in page and "Ari's own" in page
    assert len(client_for(second_approver).get(QUEUE).context["rows"]) == 1

    approval_services.approval_settings_update(actor=admin, allow_self_approval=True)
    response = client_for(approver).get(QUEUE)
    assert [r.campaign.name for r in response.context["rows"]] == ["Ari's own"]
    assert "Yours, awaiting another approver" not in text(response)


def test_the_navigation_count_is_the_queues_length(
    client_for, approver, second_approver, marketer, campaign_factory, approval_on
):
    for name in ("One", "Two"):
        submitted(marketer, campaign_factory, name=name)
    campaign = campaign_factory(name="Three")
    approval_services.campaign_submit(
        actor=marketer, campaign_id=campaign.pk, approvers=[second_approver.pk]
    )
    response = client_for(approver).get(COUNT, **HTMX)
    assert text(response) == ", 2 awaiting you"
    assert text(client_for(second_approver).get(COUNT, **HTMX)) == ", 3 awaiting you"
    assert text(client_for(marketer).get(COUNT, **HTMX)) == ""


def test_the_queue_costs_the_same_queries_at_any_length(
    client_for, approver, marketer, campaign_factory, label_factory, approval_on
):
    label = label_factory(name="Spring")

    def add(n: int) -> None:
        for i in range(n):
            campaign = live(campaign_factory, name=f"Live {i}")
            campaign.labels.set([label])
            approval_services.campaign_propose(
                actor=marketer, campaign_id=campaign.pk, data={"name": f"Live {i} v2"}
            )
            submitted(marketer, campaign_factory, name=f"Draft {i}")

    client = client_for(approver)
    add(1)
    client.get(QUEUE)  # the session, warmed
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(QUEUE).context["rows"]) == 2
    add(4)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(QUEUE).context["rows"]) == 10
    assert len(many) == len(few)


# ---------------------------------------------------------------------------------------------
# Decisions from the queue
# ---------------------------------------------------------------------------------------------
def test_the_approve_dialog_says_what_will_happen_before_anything_is_saved(
    client_for, approver, marketer, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory, name="Launch")
    response = client_for(approver).get(f"{request_url('approve', item)}?next={QUEUE}", **HTMX)
    page = text(response)
    assert "Approve this campaign?" in page
    assert "Approving publishes the campaign: it will be Scheduled for" in page
    assert 'hx-post="' in response.content.decode()
    assert "Comment (optional)" in page
    campaign.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL


def test_approving_from_the_queue_publishes_the_campaign(
    client_for, approver, marketer, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory, name="Launch")
    response = client_for(approver).post(
        request_url("approve", item), {"comment": "Looks good", "next": QUEUE}, follow=True
    )
    assert response.redirect_chain[-1][0] == QUEUE
    assert "Approved: the campaign is now Scheduled." in text(response)
    campaign.refresh_from_db()
    item.refresh_from_db()
    assert campaign.status == Status.SCHEDULED
    assert (item.status, item.comment, item.decided_by) == (
        RequestStatus.APPROVED,
        "Looks good",
        approver,
    )


def test_approving_through_htmx_navigates_the_page(
    client_for, approver, marketer, campaign_factory, approval_on
):
    _, item = submitted(marketer, campaign_factory)
    response = client_for(approver).post(request_url("approve", item), {"next": QUEUE}, **HTMX)
    assert response["HX-Redirect"] == QUEUE


def test_rejecting_without_a_comment_is_refused_and_changes_nothing(
    client_for, approver, marketer, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory)
    client = client_for(approver)
    # In the dialog: the refusal shows there, and the dialog stays.
    response = client.post(request_url("reject", item), {"comment": "  ", "next": QUEUE}, **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert "Say why the campaign is rejected." in page
    assert "A rejection needs a comment for the creator." in page
    assert "Reject this campaign?" in page
    # Without JavaScript: back to the queue with the message.
    response = client.post(request_url("reject", item), {"comment": "", "next": QUEUE}, follow=True)
    assert response.redirect_chain[-1][0] == QUEUE
    assert "Say why the campaign is rejected." in text(response)
    campaign.refresh_from_db()
    item.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL and item.is_pending


def test_rejecting_with_a_comment_shows_rejected_and_the_comment_to_the_creator(
    client_for, approver, marketer, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory, name="Launch")
    response = client_for(approver).post(
        request_url("reject", item), {"comment": "Subject line is too long.", "next": QUEUE}
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Status.REJECTED
    page = text(client_for(marketer).get(detail_url(campaign)))
    assert "Rejected by ari@example.com" in page
    assert "Subject line is too long." in page
    timeline = page[page.index("Timeline") :]
    assert "Rejected Approval Pending → Rejected" in timeline
    assert "Comment: “Subject line is too long.”" in timeline


def test_a_marketer_cannot_approve_or_reject(client_for, marketer, campaign_factory, approval_on):
    campaign, item = submitted(marketer, campaign_factory)
    client = client_for(marketer)
    for name in ("approve", "reject"):
        assert client.get(request_url(name, item)).status_code == 403
        assert client.post(request_url(name, item), {"comment": "ok"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL


def test_approving_ones_own_campaign_is_refused_with_the_reason(
    client_for, approver, campaign_factory, approval_on
):
    campaign = campaign_factory(created_by=approver)
    item = approval_services.campaign_submit(actor=approver, campaign_id=campaign.pk)
    client = client_for(approver)
    response = client.get(request_url("approve", item))
    page = text(response)
    assert "This cannot be done now: You created or last edited this campaign" in page
    assert re.search(r'<button type="submit"[^>]*disabled', response.content.decode())
    response = client.post(request_url("approve", item), follow=True)
    assert response.status_code == 200
    assert "another approver must approve it" in text(response)
    campaign.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL


def test_a_decided_request_cannot_be_decided_again(
    client_for, approver, second_approver, marketer, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory)
    client_for(approver).post(request_url("approve", item))
    response = client_for(second_approver).post(
        request_url("reject", item), {"comment": "Too late?"}, follow=True
    )
    assert "This request is no longer pending: it was approved." in text(response)
    item.refresh_from_db()
    assert item.status == RequestStatus.APPROVED and item.comment == ""


def test_decisions_redirect_only_to_this_site(
    client_for, approver, marketer, campaign_factory, approval_on
):
    _, item = submitted(marketer, campaign_factory)
    response = client_for(approver).post(
        request_url("approve", item), {"next": "https://evil.example.com/"}
    )
    assert response["Location"] == request_url("request", item)


# ---------------------------------------------------------------------------------------------
# One request (the e-mails' link)
# ---------------------------------------------------------------------------------------------
def test_the_request_page_shows_the_request_its_diff_and_the_forms_each_role_may_use(
    client_for, approver, marketer, other_marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Digest")
    item = approval_services.campaign_propose(
        actor=marketer,
        campaign_id=campaign.pk,
        data={"what": push_what("Fresh title")},
        note="New title for spring.",
    )
    url = request_url("request", item)
    response = client_for(approver).get(url)
    page = text(response)
    assert "Changes to Digest Pending" in page
    assert "New title for spring." in page
    assert "what.message.title" in page and "Fresh title" in page
    assert "Approving applies these changes to the live campaign at once; it stays Scheduled" in (
        page
    )
    html = response.content.decode()
    assert f'action="{request_url("approve", item)}"' in html
    assert f'action="{request_url("reject", item)}"' in html
    assert f'action="{request_url("withdraw", item)}"' not in html

    creator = client_for(marketer).get(url)
    html = creator.content.decode()
    assert f'action="{request_url("withdraw", item)}"' in html
    assert f'action="{request_url("approve", item)}"' not in html
    assert "Awaiting an approver's decision." in text(creator)
    # Another marketer may read it, but not withdraw it.
    html = client_for(other_marketer).get(url).content.decode()
    assert "action=" not in html.split("Awaiting approval", 1)[1].split("</section>", 1)[0]


def test_the_request_page_of_a_decided_request_shows_the_decision(
    client_for, approver, marketer, campaign_factory, approval_on
):
    _, item = submitted(marketer, campaign_factory)
    approval_services.request_reject(actor=approver, request_id=item.pk, comment="Not yet.")
    page = text(client_for(marketer).get(request_url("request", item)))
    assert "Rejected By ari@example.com" in page and "Not yet." in page
    assert "Decide" not in page


def test_a_missing_request_is_a_404_and_outsiders_see_nothing(
    client_for, marketer, outsider, campaign_factory, approval_on
):
    _, item = submitted(marketer, campaign_factory)
    assert client_for(marketer).get(reverse("approvals:request", args=[999999])).status_code == 404
    assert client_for(outsider).get(request_url("request", item)).status_code == 403
    assert client_for(None).get(request_url("request", item)).status_code == 302


def test_the_requester_withdraws_and_the_campaign_is_a_draft_again(
    client_for, marketer, other_marketer, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory)
    response = client_for(other_marketer).post(request_url("withdraw", item), follow=True)
    assert "Only the requester or the campaign's creator can withdraw it." in text(response)
    item.refresh_from_db()
    assert item.is_pending

    response = client_for(marketer).post(
        request_url("withdraw", item), {"next": detail_url(campaign)}, follow=True
    )
    assert "Withdrawn: the campaign is Draft again." in text(response)
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


# ---------------------------------------------------------------------------------------------
# The campaign page
# ---------------------------------------------------------------------------------------------
def buttons_of(response) -> dict[str, object]:
    return {b.key: b for b in response.context["buttons"]}


def test_with_approval_on_a_marketers_publish_is_send_for_approval(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = campaign_factory(name="Draft")
    response = client_for(marketer).get(detail_url(campaign))
    buttons = buttons_of(response)
    assert "publish" not in buttons
    assert buttons["submit"].allowed and buttons["submit"].label == "Send for approval"
    assert "approve" not in buttons and "reject" not in buttons

    # A Publish posted anyway is refused with the reason, and nothing changes.
    response = client_for(marketer).post(
        reverse("campaigns:publish", args=[campaign.pk]), follow=True
    )
    assert response.status_code == 200
    assert "Campaign approval is on: send the campaign for approval" in text(response)
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


def test_with_approval_off_drafts_publish_as_before(client_for, marketer, campaign_factory):
    campaign = campaign_factory()
    buttons = buttons_of(client_for(marketer).get(detail_url(campaign)))
    assert buttons["publish"].allowed and buttons["publish"].kind == "post"
    assert "submit" not in buttons


def test_the_send_for_approval_dialog_takes_a_note_and_chosen_approvers(
    client_for, marketer, approver, admin, campaign_factory, approval_on
):
    campaign = campaign_factory(name="Launch")
    url = reverse("campaigns:submit", args=[campaign.pk])
    response = client_for(marketer).get(url, **HTMX)
    page = text(response)
    assert "Send for approval?" in page
    assert "Approvers are e-mailed a link to review it." in page
    assert "Note for the approver (optional)" in page
    assert "ari@example.com" in page and "ada@example.com" in page
    assert "maya@example.com" not in page.split("Approvers (optional)")[1]
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT

    response = client_for(marketer).post(
        url, {"note": "Ready for Monday.", "approvers": [approver.pk]}, **HTMX
    )
    assert response["HX-Redirect"] == detail_url(campaign)
    campaign.refresh_from_db()
    item = ApprovalRequest.objects.get(campaign=campaign)
    assert campaign.status == Status.PENDING_APPROVAL
    assert item.note == "Ready for Monday." and list(item.approvers.all()) == [approver]

    page = text(client_for(marketer).get(detail_url(campaign)))
    assert "Awaiting approval" in page and "Ready for Monday." in page
    timeline = page[page.index("Timeline") :]
    assert "Sent for approval Draft → Approval Pending" in timeline
    assert "Note: “Ready for Monday.”" in timeline and "Asked: ari@example.com" in timeline


def test_a_refused_send_for_approval_is_a_message_and_changes_nothing(
    client_for, marketer, campaign_factory
):
    campaign = campaign_factory()  # approval is off
    url = reverse("campaigns:submit", args=[campaign.pk])
    response = client_for(marketer).post(url, {"note": "x"}, follow=True)
    assert response.status_code == 200
    assert "Campaign approval is off: publish the campaign directly." in text(response)
    response = client_for(marketer).post(url, {"note": "x"}, **HTMX)
    assert "Campaign approval is off" in text(response)
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert not ApprovalRequest.objects.exists()


def test_a_pending_change_to_a_live_campaign_shows_the_live_status_and_the_diff(
    client_for, marketer, approver, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Digest", status=Status.RUNNING)
    approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("Fresh title")}
    )
    response = client_for(approver).get(detail_url(campaign))
    page = text(response)
    assert "Approval Pending — the live version is Running" in page
    assert "Awaiting approval: changes to the live campaign" in page
    assert "what.message.title" in page and "Fresh title" in page
    buttons = buttons_of(response)
    assert buttons["approve"].allowed and buttons["reject"].allowed
    assert buttons["stop"].allowed  # the live version can always be stopped
    assert "publish" not in buttons

    creator = buttons_of(client_for(marketer).get(detail_url(campaign)))
    assert creator["withdraw"].allowed and "approve" not in creator
    timeline = page[page.index("Timeline") :]
    assert "Changes sent for approval Running → Approval Pending" in timeline


def test_after_the_scheduled_time_editing_is_refused_with_the_discarded_notice(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory, next_run_at=timezone.now() - dt.timedelta(minutes=1))
    response = client_for(marketer).get(detail_url(campaign))
    assert "changes made for that send are discarded" in text(response)
    assert not buttons_of(response)["edit"].allowed
    response = client_for(marketer).get(reverse("campaigns:edit", args=[campaign.pk]), follow=True)
    assert response.redirect_chain[-1][0] == detail_url(campaign)
    assert "changes made for that send are discarded" in text(response)


# ---------------------------------------------------------------------------------------------
# The edit page
# ---------------------------------------------------------------------------------------------
def test_a_marketer_editing_a_live_campaign_sends_the_changes_for_approval(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Spring sale")
    url = reverse("campaigns:edit", args=[campaign.pk])
    response = client_for(marketer).get(url)
    page = text(response)
    assert "Campaign approval is on: your changes go to an approver" in page
    assert "Send changes for approval" in page and "Note for the approver (optional)" in page

    response = client_for(marketer).post(
        url,
        edit_data(campaign, name="Spring sale 2", **{"request-note": "Renamed for the season."}),
        follow=True,
    )
    assert "Your changes were sent for approval." in text(response)
    campaign.refresh_from_db()
    item = ApprovalRequest.objects.get(campaign=campaign)
    assert campaign.name == "Spring sale"  # the live campaign is untouched
    assert (campaign.status, campaign.live_status) == (Status.PENDING_APPROVAL, Status.SCHEDULED)
    assert item.kind == RequestKind.REVISION and item.proposed["name"] == "Spring sale 2"
    assert item.note == "Renamed for the season."


def test_editing_the_pending_changes_updates_them_and_starts_from_the_proposal(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Spring sale")
    item = approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"name": "Spring sale 2"}
    )
    campaign.refresh_from_db()
    url = reverse("campaigns:edit", args=[campaign.pk])
    response = client_for(marketer).get(url)
    assert response.context["form"]["name"].value() == "Spring sale 2"
    assert "These changes await approval." in text(response)

    response = client_for(marketer).post(
        url,
        edit_data(campaign, name="Spring sale 2", what=json.dumps(push_what("New"))),
        follow=True,
    )
    assert "The changes awaiting approval were updated" in text(response)
    item.refresh_from_db()
    assert item.is_pending and item.proposed["what"] == push_what("New")
    assert item.proposed["name"] == "Spring sale 2"
    assert ApprovalRequest.objects.count() == 1


def test_sending_no_change_for_approval_says_so_and_opens_no_request(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory)
    response = client_for(marketer).post(
        reverse("campaigns:edit", args=[campaign.pk]), edit_data(campaign)
    )
    assert response.status_code == 200
    assert "Nothing changed: there is nothing to send for approval." in text(response)
    assert not ApprovalRequest.objects.exists()


def test_the_edit_form_locks_the_sections_the_approval_table_locks(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = live(
        campaign_factory,
        status=Status.AWAITING_NEXT_RUN,
        runs_count=1,
        delivery=Delivery.RECURRING,
        when=examples.example_when(Delivery.RECURRING),
    )
    form = client_for(marketer).get(reverse("campaigns:edit", args=[campaign.pk])).context["form"]
    # Without approval the name and labels could change; the table says What only.
    assert {"name", "labels", "who", "when"} <= set(form.locks)
    assert "what" not in form.locks
    assert "with campaign approval on, only What can change" in form.locks["name"]


def test_an_approver_publishes_rejected_live_changes_choosing_today_or_tomorrow(
    client_for, marketer, approver, campaign_factory, approval_on
):
    campaign = live(
        campaign_factory,
        status=Status.AWAITING_NEXT_RUN,
        runs_count=1,
        delivery=Delivery.RECURRING,
        when=examples.example_when(Delivery.RECURRING),
        next_run_at=timezone.now() + dt.timedelta(hours=1),
    )
    item = approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("Fresh")}
    )
    approval_services.request_reject(actor=approver, request_id=item.pk, comment="Not yet.")
    # The send the changes were for has gone.
    ApprovalRequest.objects.filter(pk=item.pk).update(
        target_run_at=timezone.now() - dt.timedelta(minutes=10)
    )
    client = client_for(approver)
    publish = reverse("campaigns:publish", args=[campaign.pk])
    page = text(client.get(detail_url(campaign)))
    assert "Choose whether the next run happens today or tomorrow" in page

    response = client.get(publish, **HTMX)
    page = text(response)
    assert "Publish the rejected changes?" in page and "When does the next run happen?" in page
    assert 'value="today"' in response.content.decode()
    assert 'value="tomorrow"' in response.content.decode()

    # The edit page offers the same choice, with What open and a "Publish changes" button.
    response = client.get(reverse("campaigns:edit", args=[campaign.pk]))
    page = text(response)
    assert "You are publishing the rejected changes." in page and "Publish changes" in page
    assert response.context["choices"][1][0] == "tomorrow"
    assert json.loads(response.context["form"]["what"].value()) == push_what("Fresh")

    response = client.post(publish, follow=True)
    assert "Choose whether the next run happens today or tomorrow" in text(response)
    campaign.refresh_from_db()
    assert campaign.status == Status.REJECTED and campaign.what == push_what()

    response = client.post(publish, {"run_on": "tomorrow"}, follow=True)
    assert "Published: the campaign is now Awaiting Next Run." in text(response)
    campaign.refresh_from_db()
    assert campaign.what == push_what("Fresh") and campaign.live_status == ""
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert timezone.localtime(campaign.next_run_at).date() == tomorrow


def test_an_approver_approves_from_the_campaign_page_and_comes_back_to_it(
    client_for, marketer, approver, campaign_factory, approval_on
):
    campaign, item = submitted(marketer, campaign_factory, name="Launch")
    client = client_for(approver)
    button = buttons_of(client.get(detail_url(campaign)))["approve"]
    assert button.kind == "dialog" and button.url.startswith(request_url("approve", item))
    dialog = text(client.get(button.url, **HTMX))
    assert "Approving publishes the campaign" in dialog
    response = client.post(button.url, {"next": detail_url(campaign)}, **HTMX)
    assert response["HX-Redirect"] == detail_url(campaign)
    page = text(client.get(detail_url(campaign)))
    assert "Approved: the campaign is now Scheduled." in page
    assert "Approved Approval Pending → Scheduled" in page


def test_the_request_pages_own_forms_decide_and_come_back_to_it(
    client_for, marketer, approver, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Digest")
    item = approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"name": "Digest 2"}
    )
    url = request_url("request", item)
    response = client_for(approver).post(
        request_url("approve", item), {"next": url, "comment": "Fine."}, follow=True
    )
    assert response.redirect_chain[-1][0] == url
    page = text(response)
    assert "Approved: the changes now apply to the live campaign, which is Scheduled." in page
    assert "Approved By ari@example.com" in page and "Fine." in page
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, campaign.live_status) == (
        "Digest 2",
        Status.SCHEDULED,
        "",
    )
    timeline = text(client_for(marketer).get(detail_url(campaign)))
    timeline = timeline[timeline.index("Timeline") :]
    assert "Approved Approval Pending → Scheduled" in timeline
    assert "Name: “Digest” → “Digest 2”" in timeline  # what the approval applied
    assert "Proposed: Name: “Digest” → “Digest 2”" in timeline  # what was sent


def test_an_approver_publishes_rejected_live_changes_before_the_time_without_a_choice(
    client_for, marketer, approver, campaign_factory, approval_on
):
    campaign = live(
        campaign_factory,
        status=Status.AWAITING_NEXT_RUN,
        runs_count=1,
        delivery=Delivery.RECURRING,
        when=examples.example_when(Delivery.RECURRING),
    )
    item = approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"what": push_what("Fresh")}
    )
    approval_services.request_reject(actor=approver, request_id=item.pk, comment="Hmm.")
    client = client_for(approver)
    buttons = buttons_of(client.get(detail_url(campaign)))
    assert buttons["publish"].allowed and buttons["publish"].kind == "dialog"
    publish = reverse("campaigns:publish", args=[campaign.pk])
    response = client.get(publish, **HTMX)
    assert "Publishing applies the rejected changes to the live campaign" in text(response)
    assert 'name="run_on"' not in response.content.decode()
    response = client.post(publish, follow=True)
    assert "Published: the campaign is now Awaiting Next Run." in text(response)
    campaign.refresh_from_db()
    assert campaign.what == push_what("Fresh") and campaign.live_status == ""


def test_editing_the_pending_changes_is_in_the_timeline_with_a_link_to_the_request(
    client_for, marketer, campaign_factory, approval_on
):
    campaign = live(campaign_factory, name="Digest")
    item = approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"name": "Digest 2"}
    )
    approval_services.campaign_propose(
        actor=marketer, campaign_id=campaign.pk, data={"name": "Digest 3"}
    )
    response = client_for(marketer).get(detail_url(campaign))
    html = response.content.decode()
    page = text(response)
    assert "In the changes awaiting approval (request #" in page
    assert f'href="{request_url("request", item)}"' in html
    assert "Request changed" not in page
