"""Find People and the CSV import in a real browser: search a person, open their profile and read
a Notification Sent with its labels in the timeline; upload a file and watch its progress bar
reach done, with the rows refused listed and downloadable."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from audience.imports import profile_import_create, profile_import_run
from audience.models import Device, Event, Profile
from audience.services import record_notification_sent
from campaigns.choices import Status
from labels.services import label_rename
from tests.audience.test_people import add_event

pytestmark = pytest.mark.browser

CSV = (
    "identity,email,plan,age:number\r\n"
    "u-1,ann@example.com,pro,31\r\n"
    "u-2,not-an-email,free,40\r\n"
    "u-3,cy@example.com,free,old\r\n"
    "u-4,dee@example.com,premium,52\r\n"
)


@pytest.fixture(autouse=True)
def _no_events_left() -> Iterator[None]:
    """The events table is not emptied by the transactional tests' flush."""
    yield
    Event.objects.all().delete()


def test_find_a_person_and_read_a_send_with_its_labels_in_the_timeline(
    page: Page, sign_in, marketer, admin, campaign_factory, label_factory, screenshot
):
    maya = Profile.objects.create(
        identity="u-100",
        email="maya@example.com",
        phone="+12025550143",
        email_consent="opted_in",
        properties={"plan": "pro", "favourite_team": "Arsenal"},
    )
    Profile.objects.create(identity="u-1000", email="other@example.com")
    Device.objects.create(profile=maya, kind="push", token="tok-1", platform="ios")
    campaign = campaign_factory(name="Welcome push", status=Status.RUNNING)
    onboarding = label_factory(name="Onboarding")
    campaign.labels.add(onboarding, label_factory(name="Promotions"))
    now = dt.datetime.now(dt.UTC)
    add_event(maya, "App Installed", now - dt.timedelta(hours=3))
    record_notification_sent(
        profile_id=maya.pk,
        campaign=campaign,
        channel="push",
        variant="B",
        ts=now - dt.timedelta(hours=2),
    )
    add_event(maya, "App Launched", now - dt.timedelta(hours=1), screen="home")
    # Renamed since the send: the timeline keeps the name it had then.
    label_rename(actor=admin, label_id=onboarding.pk, name="Activation")

    sign_in(marketer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find People").click()
    expect(page.get_by_role("heading", name="Find People", level=1)).to_be_visible()
    page.get_by_label("Identity, e-mail or phone").fill("MAYA@example.com")
    page.get_by_role("button", name="Search").click()

    results = page.locator("section.people-results")
    expect(results).to_contain_text("1 profile for “MAYA@example.com”")
    screenshot("people-search")
    results.get_by_role("link", name="u-100").click()

    expect(page.get_by_role("heading", name="u-100", level=1)).to_be_visible()
    timeline = page.locator("[data-timeline]")
    expect(timeline.locator("li.tl-event")).to_have_count(3)
    expect(timeline.locator("li.tl-event").first).to_contain_text("App Launched")
    sent = timeline.locator('li[data-event="Notification Sent"]')
    expect(sent).to_contain_text("channel push · variant B")
    expect(sent.locator("[data-labels] .chip")).to_have_text(["Onboarding", "Promotions"])
    expect(sent.get_by_role("link", name="Welcome push")).to_have_attribute(
        "href", f"/campaigns/{campaign.pk}/"
    )
    reach = page.locator("table.reach-table")
    expect(reach.locator('tr[data-channel="email"]')).to_contain_text("Yes")
    expect(reach.locator('tr[data-channel="sms"]')).to_contain_text("No")
    expect(reach.locator('tr[data-channel="push"]')).to_contain_text("1 of 1 device")
    expect(page.locator('tr[data-property="favourite_team"]')).to_contain_text("Arsenal")
    screenshot("people-profile")

    sent.get_by_role("link", name="Welcome push").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome push")


def test_older_events_load_below_with_show_older_events(page: Page, sign_in, approver):
    profile = Profile.objects.create(identity="busy")
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    for i in range(60):
        add_event(profile, f"Step {i:02d}", start + dt.timedelta(minutes=i))

    sign_in(approver)
    page.goto(f"/audience/people/{profile.pk}/")
    events = page.locator("[data-timeline] li.tl-event")
    expect(events).to_have_count(50)
    page.get_by_role("button", name="Show older events").click()

    expect(events).to_have_count(60)
    expect(events.last).to_contain_text("Step 00")
    expect(page.get_by_role("button", name="Show older events")).to_have_count(0)


def test_an_upload_reaches_done_and_lists_the_rows_refused(
    page: Page, sign_in, marketer, tmp_path, screenshot
):
    file = tmp_path / "people.csv"
    file.write_text(CSV, encoding="utf-8")

    sign_in(marketer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import profiles").click()
    page.get_by_label("CSV file (UTF-8, at most 10 MB)").set_input_files(str(file))
    page.get_by_role("button", name="Import").click()

    expect(page.locator(".flash-success").first).to_contain_text("“people.csv” is being imported")
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress.locator("progress")).to_have_attribute("value", "4")
    expect(progress).to_contain_text("4 of 4 rows (100%): 2 imported, 2 refused.")
    report = progress.locator("[data-error-report]")
    expect(report.locator("tr[data-row]")).to_have_count(2)
    expect(report.locator('tr[data-row="3"]')).to_contain_text("“not-an-email” is not a valid")
    expect(report.locator('tr[data-row="4"]')).to_contain_text("“old” is not a number")
    screenshot("import-done")

    with page.expect_download() as info:
        report.get_by_role("link", name="Download the error report (CSV)").click()
    with open(info.value.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "identity", "column", "error"]
    assert [row[:3] for row in rows[1:]] == [["3", "u-2", "email"], ["4", "u-3", "age:number"]]
    assert Profile.objects.filter(identity__in=["u-1", "u-4"]).count() == 2


def test_the_progress_bar_follows_a_running_import_until_it_is_done(
    page: Page, sign_in, marketer, screenshot
):
    job = profile_import_create(actor=marketer, file_name="people.csv", content=CSV.encode())

    sign_in(marketer)
    page.goto(f"/audience/import/{job.pk}/")
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "queued")
    expect(progress).to_contain_text("0 of 4 rows (0%), waiting for a worker")
    screenshot("import-queued")

    # A worker picks the import up; the page, polling every second, follows.
    profile_import_run(import_id=job.pk)

    expect(progress).to_have_attribute("data-status", "done", timeout=5000)
    expect(progress).to_contain_text("2 imported, 2 refused")
    expect(page.get_by_role("status").filter(has_text=re.compile("4 of 4 rows"))).to_be_visible()
    expect(progress.locator("tr[data-row]")).to_have_count(2)


def test_a_file_without_an_identity_column_is_refused_on_the_page(
    page: Page, sign_in, marketer, tmp_path
):
    file = tmp_path / "emails.csv"
    file.write_text("email\r\nann@example.com\r\n", encoding="utf-8")

    sign_in(marketer)
    page.goto("/audience/import/")
    page.get_by_label("CSV file (UTF-8, at most 10 MB)").set_input_files(str(file))
    page.get_by_role("button", name="Import").click()

    expect(page.locator("[data-import-error]")).to_contain_text("The file has no identity column.")
    expect(page.get_by_label("CSV file (UTF-8, at most 10 MB)")).to_have_attribute(
        "aria-invalid", "true"
    )
