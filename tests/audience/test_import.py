"""The CSV import of profiles: files refused before anything is queued, rows turned into records,
the import in chunks with its counters and its error report, and running it twice."""

from __future__ import annotations

import pytest

from audience import imports
from audience.imports import check_file, profile_import_create, profile_import_run, row_record
from audience.models import ImportStatus, Profile, ProfileImport, PropertyDefinition
from config.errors import Invalid

pytestmark = pytest.mark.django_db

GOOD = (
    b"identity,email,phone,timezone,email_consent,sms_consent,plan,age:number,vip:boolean,"
    b"tags:list\r\n"
    b"u1,ann@example.com,+1 202 555 0143,Europe/Paris,yes,opted_in,pro,31,true,a|b\r\n"
    b"u2,not-an-email,,,,,free,,,\r\n"
    b"u3,,,Mars/Olympus,no,,free,thirty,,\r\n"
    b"u4,dee@example.com,,,,,premium,47.5,no,\r\n"
)


def refusal(content: bytes) -> str:
    with pytest.raises(Invalid) as refused:
        check_file(content)
    assert list(refused.value.errors) == ["file"]
    return refused.value.message


# ---------------------------------------------------------------------------------------------
# Files refused before anything is queued
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "The file is empty."),
        (b"  \r\n\r\n", "The file is empty."),
        (b"identity,email\r\n", "a header row but no rows"),
        (b"identity,email\r\n,,\r\n", "a header row but no rows"),
        (b"email,phone\r\nann@example.com,\r\n", "no identity column"),
        (b"PK\x03\x04\x14\x00\x06\x00binary", "not a CSV file"),
        ("identity,name\r\nu1,Zoë\r\n".encode("latin-1"), "not UTF-8"),
        (b"identity,,email\r\nu1,,a@b.c\r\n", "Column 2 has no name"),
        (b"identity,email,e-mail\r\nu1,a@b.c,a@b.c\r\n", "fill the same field"),
        (b"identity,plan,plan\r\nu1,a,b\r\n", "fill the same field"),
        (b"identity," + b",".join(b"c%d" % i for i in range(250)) + b"\r\nu1\r\n", "at most 200"),
        (b'identity,note\r\nu1,"' + b"x" * 140_000 + b'"\r\n', "cannot be read as CSV"),
    ],
)
def test_bad_files_are_refused_with_a_reason(content, says):
    assert says in refusal(content)


def test_a_file_over_the_size_limit_is_refused():
    content = b"identity\r\n" + b"u1234567\r\n" * 1_100_000

    assert "The file is 10.5 MB; an import takes at most 10 MB" in refusal(content)


def test_a_type_contradicting_a_known_property_is_refused(db):
    PropertyDefinition.objects.create(name="age", type="number")

    assert "age is a number property" in refusal(b"identity,age:string\r\nu1,31\r\n")


def test_a_good_file_is_read_once_to_count_its_rows():
    layout = check_file(GOOD)

    assert layout.total_rows == 4 and layout.delimiter == ","
    assert [(c.field, c.name, c.type) for c in layout.columns][-4:] == [
        ("properties", "plan", "string"),
        ("properties", "age", "number"),
        ("properties", "vip", "boolean"),
        ("properties", "tags", "list"),
    ]


def test_semicolons_a_byte_order_mark_and_quoted_newlines_are_read():
    content = '\ufeffidentity;email;note\r\nu1;a@example.com;"two\nlines; here"\r\n'.encode()

    layout = check_file(content)

    assert layout.delimiter == ";" and layout.total_rows == 1
    assert layout.columns[0].field == "identity"


# ---------------------------------------------------------------------------------------------
# Rows to records
# ---------------------------------------------------------------------------------------------
def test_a_row_becomes_a_profiles_upsert_record():
    layout = check_file(GOOD)
    row = ["u1", "ann@example.com", "+1 202 555 0143", "Europe/Paris", "yes", "opted_in", "pro"]
    row += ["31", "true", "a| b |"]

    record, errors = row_record(row, layout.columns)

    assert errors == {}
    assert record == {
        "identity": "u1",
        "email": "ann@example.com",
        "phone": "+1 202 555 0143",
        "timezone": "Europe/Paris",
        "consent": {"email": "opted_in", "sms": "opted_in"},
        "properties": {"plan": "pro", "age": 31, "vip": True, "tags": ["a", "b"]},
    }


def test_empty_cells_and_unknown_consent_are_left_out():
    layout = check_file(b"identity,email,sms_consent,plan\r\nu1,,unknown,\r\n")

    assert row_record(["u1", "", "unknown", ""], layout.columns) == ({"identity": "u1"}, {})


def test_cells_not_of_their_columns_type_are_errors_under_the_column():
    layout = check_file(b"identity,age:number,vip:boolean\r\nu1,x,y\r\n")

    _, errors = row_record(["u1", "thirty", "maybe", "extra"], layout.columns)

    assert errors == {
        "row": ["The row has 4 cells; the header has 3 columns."],
        "age:number": ["“thirty” is not a number, such as 42 or 3.5."],
        "vip:boolean": ["“maybe” is not true or false (yes / no, 1 / 0)."],
    }


# ---------------------------------------------------------------------------------------------
# The import
# ---------------------------------------------------------------------------------------------
def run(marketer, content: bytes) -> ProfileImport:
    job = profile_import_create(actor=marketer, file_name="people.csv", content=content)
    profile_import_run(import_id=job.pk)
    job.refresh_from_db()
    return job


def test_an_import_creates_profiles_and_reports_the_rows_refused(marketer):
    job = run(marketer, GOOD)

    assert job.status == ImportStatus.DONE and job.finished_at is not None
    assert (job.total_rows, job.processed_rows, job.accepted_rows, job.rejected_rows) == (
        4,
        4,
        2,
        2,
    )
    assert [(e["row"], e["identity"], sorted(e["errors"])) for e in job.errors] == [
        (3, "u2", ["email"]),
        (4, "u3", ["age:number"]),
    ]
    ann = Profile.objects.get(identity="u1")
    assert (ann.email, ann.phone, ann.timezone) == (
        "ann@example.com",
        "+12025550143",
        "Europe/Paris",
    )
    assert (ann.email_consent, ann.sms_consent) == ("opted_in", "opted_in")
    assert ann.properties == {"plan": "pro", "age": 31, "vip": True, "tags": ["a", "b"]}
    assert Profile.objects.get(identity="u4").properties["age"] == 47.5
    # The header's types define the new properties.
    assert dict(PropertyDefinition.objects.values_list("name", "type")) == {
        "plan": "string",
        "age": "number",
        "vip": "boolean",
        "tags": "list",
    }


def test_an_import_updates_existing_profiles_and_leaves_empty_cells_alone(marketer):
    Profile.objects.create(identity="u1", email="old@example.com", properties={"plan": "free"})

    run(marketer, b"identity,email,plan,team\r\nu1,,pro,Arsenal\r\n")

    profile = Profile.objects.get(identity="u1")
    assert profile.email == "old@example.com"
    assert profile.properties == {"plan": "pro", "team": "Arsenal"}


def test_a_column_without_a_type_follows_the_known_property(marketer):
    PropertyDefinition.objects.create(name="age", type="number")

    job = run(marketer, b"identity,age\r\nu1,40\r\nu2,old\r\n")

    assert Profile.objects.get(identity="u1").properties == {"age": 40}
    assert job.errors == [
        {
            "row": 3,
            "identity": "u2",
            "errors": {"age": ["“old” is not a number, such as 42 or 3.5."]},
        }
    ]


def test_an_import_runs_in_chunks_that_each_move_the_counters(marketer, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    rows = "".join(f"u{i},{'bad' if i % 4 == 0 else f'u{i}@example.com'}\r\n" for i in range(10))
    seen = []
    original = imports._import_chunk

    def watched(import_id, first, chunk, columns):
        original(import_id, first, chunk, columns)
        job = ProfileImport.objects.get(pk=import_id)
        seen.append((job.processed_rows, job.accepted_rows, job.rejected_rows))

    monkeypatch.setattr(imports, "_import_chunk", watched)

    job = run(marketer, ("identity,email\r\n" + rows).encode())

    # Rows u0, u4 and u8 have a bad e-mail.
    assert seen == [(3, 2, 1), (6, 4, 2), (9, 6, 3), (10, 7, 3)]
    assert [e["row"] for e in job.errors] == [2, 6, 10]


def test_running_an_import_again_imports_nothing_twice(marketer):
    job = run(marketer, GOOD)
    before = (job.processed_rows, job.accepted_rows, job.rejected_rows, len(job.errors))

    assert profile_import_run(import_id=job.pk) is None

    job.refresh_from_db()
    assert (job.processed_rows, job.accepted_rows, job.rejected_rows, len(job.errors)) == before


def test_an_interrupted_import_resumes_after_its_last_committed_chunk(marketer, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    content = b"identity,plan\r\nu1,a\r\nu2,b\r\nu3,c\r\nu4,d\r\nu5,e\r\n"
    job = profile_import_create(actor=marketer, file_name="p.csv", content=content)
    # A worker imported the first chunk, then died.
    ProfileImport.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, processed_rows=2, accepted_rows=2
    )

    profile_import_run(import_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.accepted_rows) == (ImportStatus.DONE, 5, 5)
    # Rows 1-2 were not imported again (the "worker" never wrote them): only u3..u5 exist.
    assert sorted(Profile.objects.values_list("identity", flat=True)) == ["u3", "u4", "u5"]


def test_the_error_report_keeps_the_first_errors_and_counts_all(marketer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_IMPORT_ERRORS", 5)
    rows = "".join(f"u{i},nope\r\n" for i in range(8))

    job = run(marketer, ("identity,email\r\n" + rows).encode())

    assert job.rejected_rows == 8 and len(job.errors) == 5
    assert [row[:3] for row in imports.error_rows(job)][:2] == [
        (2, "u0", "email"),
        (3, "u1", "email"),
    ]


def test_a_refused_file_stores_nothing(marketer):
    with pytest.raises(Invalid):
        profile_import_create(actor=marketer, file_name="x.csv", content=b"email\r\na@b.c\r\n")

    assert not ProfileImport.objects.exists()


def test_rows_are_numbered_as_a_spreadsheet_numbers_them(marketer):
    content = b'identity,email,note\r\n\r\nu1,nope,"two\nlines"\r\n,,\r\nu2,bad\r\n'

    job = run(marketer, content)

    # Header row 1, a blank row 2, u1 on row 3 (its cell spans two lines), an empty row 4.
    assert job.total_rows == 2
    assert [(e["row"], e["identity"]) for e in job.errors] == [(3, "u1"), (5, "u2")]


def test_imports_that_lost_their_task_message_are_queued_again_and_finish(marketer):
    import datetime as dt

    from django.utils import timezone

    lost = profile_import_create(actor=marketer, file_name="lost.csv", content=GOOD)
    stalled = profile_import_create(actor=marketer, file_name="stalled.csv", content=GOOD)
    fresh = profile_import_create(actor=marketer, file_name="fresh.csv", content=GOOD)
    long_ago = timezone.now() - dt.timedelta(minutes=30)
    ProfileImport.objects.filter(pk=lost.pk).update(created_at=long_ago)
    ProfileImport.objects.filter(pk=stalled.pk).update(
        created_at=long_ago, status=ImportStatus.RUNNING, progressed_at=long_ago
    )

    # Celery runs in process in these tests: the queued imports run at once.
    assert imports.profile_imports_requeue_stale() == [lost.pk, stalled.pk]

    statuses = dict(ProfileImport.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == statuses[stalled.pk] == ImportStatus.DONE
    assert statuses[fresh.pk] == ImportStatus.QUEUED  # not stale yet
    assert ProfileImport.objects.get(pk=lost.pk).processed_rows == 4
    assert imports.profile_imports_requeue_stale() == []
