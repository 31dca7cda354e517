"""The import pages: uploading (a refused file says why and keeps nothing), the progress card that
htmx polls until the import is finished, and the error report as CSV."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audience.imports import profile_import_create
from audience.models import ImportStatus, Profile, ProfileImport

pytestmark = pytest.mark.django_db

CSV = b"identity,email,age:number\r\nu1,ann@example.com,31\r\nu2,nope,40\r\nu3,,old\r\n"


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """Post a file to the import page, running the import it queues (Celery is eager here)."""

    def post(client, content: bytes = CSV, name: str = "people.csv"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/audience/import/", {"file": SimpleUploadedFile(name, content)})

    return post


@pytest.mark.parametrize("role", ["marketer", "approver", "admin"])
def test_roles_that_create_campaigns_may_import(request, client_for, role):
    assert client_for(request.getfixturevalue(role)).get("/audience/import/").status_code == 200


def test_people_without_a_role_may_not_import(client_for, outsider, marketer, upload):
    job = profile_import_create(actor=marketer, file_name="p.csv", content=CSV)
    client = client_for(outsider)

    assert upload(client).status_code == 403
    assert client.get(f"/audience/import/{job.pk}/").status_code == 403
    assert client.get(f"/audience/import/{job.pk}/errors.csv").status_code == 403
    assert ProfileImport.objects.count() == 1


def test_an_upload_is_imported_and_its_page_shows_the_result(client_for, marketer, upload):
    client = client_for(marketer)

    response = upload(client)

    job = ProfileImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/audience/import/{job.pk}/"
    assert (job.status, job.created_by, job.file_name) == (
        ImportStatus.DONE,
        marketer,
        "people.csv",
    )
    page = client.get(response["Location"]).text
    assert "“people.csv” is being imported: 3 rows." in page
    assert "3 of 3 rows (100%)" in page
    assert "1 imported" in page and "2 refused" in page
    assert 'data-row="3"' in page and 'data-row="4"' in page
    assert "hx-trigger" not in page  # finished: nothing polls
    assert Profile.objects.filter(identity="u1").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "The file is empty."),
        (b"email\r\na@b.c\r\n", "no identity column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
    ],
)
def test_a_refused_file_is_said_so_on_the_page_and_nothing_is_kept(
    client_for, marketer, content, says, upload
):
    response = upload(client_for(marketer), content)

    assert response.status_code == 400
    assert says in response.text and 'aria-invalid="true"' in response.text
    assert not ProfileImport.objects.exists()


def test_posting_without_a_file_asks_for_one(client_for, marketer):
    response = client_for(marketer).post("/audience/import/", {})

    assert response.status_code == 400 and "Choose a CSV file to import." in response.text


def test_the_progress_card_polls_while_the_import_runs(client_for, marketer):
    job = profile_import_create(actor=marketer, file_name="p.csv", content=CSV)
    ProfileImport.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, processed_rows=1, accepted_rows=1
    )
    client = client_for(marketer)

    running = client.get(f"/audience/import/{job.pk}/progress/", headers={"HX-Request": "true"})

    assert 'hx-trigger="every 1s"' in running.text and "1 of 3 rows (33%)" in running.text
    assert "<html" not in running.text
    ProfileImport.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, processed_rows=3)
    done = client.get(f"/audience/import/{job.pk}/progress/").text
    assert "hx-trigger" not in done and 'data-status="done"' in done


def test_the_error_report_downloads_as_csv(client_for, marketer, upload):
    client = client_for(marketer)
    upload(client)
    job = ProfileImport.objects.get()

    response = client.get(f"/audience/import/{job.pk}/errors.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="import-{job.pk}-errors.csv"' in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "row,identity,column,error"
    assert lines[1].startswith("3,u2,email,")
    assert lines[2] == '4,u3,age:number,"“old” is not a number, such as 42 or 3.5."'


def test_the_error_report_neutralises_formulas(client_for, marketer, upload):
    client = client_for(marketer)
    upload(client, b"identity,email\r\n=cmd|' /C calc'!A0,nope\r\n")
    job = ProfileImport.objects.get()

    body = b"".join(client.get(f"/audience/import/{job.pk}/errors.csv").streaming_content)

    assert b"\r\n2,'=cmd" in body or b"\r\n2,\"'=cmd" in body


def test_the_recent_imports_are_listed(client_for, marketer, approver):
    profile_import_create(actor=approver, file_name="spring.csv", content=CSV)

    page = client_for(marketer).get("/audience/import/").text

    assert "spring.csv" in page and "ari@example.com" in page and "Queued" in page


def test_a_missing_import_is_a_404(client_for, marketer):
    client = client_for(marketer)

    assert client.get("/audience/import/99999/").status_code == 404
    assert client.get("/audience/import/99999/progress/").status_code == 404
    assert client.get("/audience/import/99999/errors.csv").status_code == 404
