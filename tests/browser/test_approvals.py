"""The creator-approver workflow in a real browser: a Marketer sends a campaign for approval, an
approver approves or rejects it from the queue, changes to a live campaign go for approval with
their diff, and an Admin switches approval on in Settings > Approval."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from approvals import services as approval_services
from approvals.models import ApprovalRequest, ApprovalSettings, RequestStatus
from campaigns.choices import Status
from campaigns.models import Campaign
from tests.factories import push_what

pytestmark = pytest.mark.browser


def switch_user(page: Page, sign_in, user) -> Page:
    page.context.clear_cookies()
    return sign_in(user)


def test_a_marketer_sends_a_draft_for_approval_with_a_note(
    page: Page, sign_in, marketer, approver, campaign_factory, approval_on, screenshot
):
    campaign = campaign_factory(name="Spring launch")
    sign_in(marketer)
    page.goto(f"/campaigns/{campaign.pk}/")
    # With approval on, a Marketer's Publish is "Send for approval".
    expect(page.locator("[data-action=publish]")).to_have_count(0)

    page.get_by_role("button", name="Send for approval").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Approvers are e-mailed a link to review it.")
    dialog.get_by_label("Note for the approver (optional)").fill("Ready for Monday's send.")
    dialog.get_by_label("ari@example.com").check()
    screenshot("approval-submit")
    dialog.get_by_role("button", name="Send for approval").click()

    expect(page.locator(".flash-success")).to_contain_text("Sent for approval")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Approval Pending")
    expect(page.locator("#approval-request")).to_contain_text("Ready for Monday's send.")
    expect(page.locator(".timeline li").first).to_contain_text("Sent for approval")
    expect(page.locator("[data-action=withdraw]")).to_be_visible()
    item = ApprovalRequest.objects.get(campaign=campaign)
    assert item.note == "Ready for Monday's send." and list(item.approvers.all()) == [approver]


def test_an_approver_approves_from_the_queue_and_the_campaign_is_scheduled(
    page: Page, sign_in, marketer, approver, campaign_factory, approval_on, screenshot
):
    campaign = campaign_factory(name="Spring launch")
    approval_services.campaign_submit(
        actor=marketer, campaign_id=campaign.pk, note="Please check the title."
    )
    sign_in(approver)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile(r"Approvals\W+1 awaiting you"))).to_be_visible()
    nav.get_by_role("link", name=re.compile("Approvals")).click()

    item = page.locator("article.approval-item", has_text="Spring launch")
    expect(item).to_contain_text("New campaign · Push Notifications")
    expect(item).to_contain_text("maya@example.com")
    expect(item).to_contain_text("Please check the title.")
    diff = item.locator("table.diff")
    expect(diff.locator("tr[data-path=name] .diff-new")).to_have_text("Spring launch")
    expect(diff.locator("tr[data-path=channel] .diff-new")).to_have_text("Push Notifications")
    screenshot("approval-queue")

    item.get_by_role("button", name="Approve").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("Approving publishes the campaign: it will be Scheduled for")
    campaign.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL  # nothing saved before the confirmation
    dialog.get_by_label("Comment (optional)").fill("Good to go.")
    dialog.get_by_role("button", name="Approve").click()

    expect(page.locator(".flash-success")).to_contain_text(
        "Approved: the campaign is now Scheduled."
    )
    expect(page.locator(".empty-state")).to_contain_text("Nothing awaits your approval.")
    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED

    page.goto(f"/campaigns/{campaign.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Scheduled")
    expect(page.locator(".timeline li").first).to_contain_text("Comment: “Good to go.”")


def test_an_approver_rejects_with_a_comment_and_the_creator_reads_it(
    page: Page, sign_in, marketer, approver, campaign_factory, approval_on, screenshot
):
    campaign = campaign_factory(name="Spring launch")
    approval_services.campaign_submit(actor=marketer, campaign_id=campaign.pk)
    sign_in(approver)
    page.goto("/approvals/")
    item = page.locator("article.approval-item", has_text="Spring launch")
    item.get_by_role("button", name="Reject").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("Rejecting sends the campaign back to its creator")

    # An empty comment is refused, in the dialog, and nothing changes.
    dialog.get_by_role("button", name="Reject").click()
    expect(dialog.get_by_role("alert").first).to_contain_text("Say why the campaign is rejected.")
    expect(dialog.get_by_label("Comment for the creator (required)")).to_have_attribute(
        "aria-invalid", "true"
    )
    campaign.refresh_from_db()
    assert campaign.status == Status.PENDING_APPROVAL
    screenshot("approval-reject-refused")

    dialog.get_by_label("Comment for the creator (required)").fill("The title is too long.")
    dialog.get_by_role("button", name="Reject").click()
    expect(page.locator(".flash-success")).to_contain_text("Rejected")
    campaign.refresh_from_db()
    assert campaign.status == Status.REJECTED

    switch_user(page, sign_in, marketer)
    page.goto(f"/campaigns/{campaign.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rejected")
    card = page.locator("#approval-request")
    expect(card).to_contain_text("Rejected by ari@example.com")
    expect(card.locator("[data-rejection-comment]")).to_have_text("The title is too long.")
    # The creator may send it again.
    expect(page.get_by_role("button", name="Send for approval")).to_be_visible()
    screenshot("approval-rejected")


def test_a_marketer_sends_changes_to_a_scheduled_campaign_for_approval(
    page: Page, sign_in, marketer, approver, campaign_factory, approval_on, screenshot
):
    campaign = campaign_factory(
        name="Weekly digest",
        status=Status.SCHEDULED,
        next_run_at=timezone.now() + dt.timedelta(days=7),
    )
    sign_in(marketer)
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    expect(page.locator("[data-edit-mode=revision]")).to_contain_text(
        "your changes go to an approver"
    )
    page.get_by_label("Name", exact=True).fill("Weekly digest (spring)")
    page.locator("textarea[name=what]").fill(json.dumps(push_what("Spring is here")))
    page.get_by_label("Note for the approver (optional)").fill("Seasonal refresh.")
    screenshot("approval-edit-live")
    page.get_by_role("button", name="Send changes for approval").click()

    expect(page.locator(".flash-success")).to_contain_text("Your changes were sent for approval.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Approval Pending — the live version is Scheduled"
    )
    # The live campaign runs as it was.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Weekly digest")
    campaign.refresh_from_db()
    assert campaign.name == "Weekly digest" and campaign.what == push_what()

    switch_user(page, sign_in, approver)
    page.goto("/approvals/")
    item = page.locator("article.approval-item", has_text="Weekly digest")
    expect(item).to_contain_text("Changes to a live campaign")
    expect(item).to_contain_text("Seasonal refresh.")
    name_row = item.locator("table.diff tr[data-path=name]")
    expect(name_row.locator(".diff-old")).to_have_text("Weekly digest")
    expect(name_row.locator(".diff-new")).to_have_text("Weekly digest (spring)")
    title_row = item.locator('table.diff tr[data-path="what.message.title"]')
    expect(title_row.locator(".diff-new")).to_have_text("Spring is here")
    screenshot("approval-queue-diff")

    item.get_by_role("button", name="Approve").click()
    dialog = page.locator("dialog#modal")
    expect(dialog).to_contain_text("Approving applies these changes to the live campaign")
    dialog.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash-success")).to_contain_text("Approved: the changes now apply")
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert (campaign.name, campaign.status) == ("Weekly digest (spring)", Status.SCHEDULED)
    assert ApprovalRequest.objects.get().status == RequestStatus.APPROVED


def test_an_admin_switches_approval_on_in_settings(page: Page, sign_in, admin, screenshot):
    sign_in(admin)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Approval", exact=True
    ).click()
    expect(page.get_by_role("heading", name="Approval", level=1)).to_be_visible()
    switch = page.get_by_role("switch", name="Campaign approval")
    expect(switch).not_to_be_checked()
    expect(page.get_by_role("switch", name="Allow self-approval")).not_to_be_checked()
    switch.check()
    page.get_by_role("button", name="Save settings").click()

    expect(page.locator(".flash-success")).to_contain_text("Campaign approval is now on.")
    expect(page.get_by_role("switch", name="Campaign approval")).to_be_checked()
    history = page.locator("table.settings-history")
    expect(history).to_contain_text("ada@example.com")
    expect(history).to_contain_text("Campaign approval: off → on")
    screenshot("approval-settings")
    assert ApprovalSettings.current().enabled
