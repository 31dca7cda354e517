"""A dashboard CSV import run by a real Celery worker: a separate `celery worker` process
(tests/integration/test_celery_worker.py's fixture), a Redis broker, and the test database. The
file is checked and kept as the upload does it; the worker imports it chunk by chunk."""

from __future__ import annotations

import pytest

import audience.tasks  # noqa: F401 - registers the task on every Celery app, the test's included
from audience.imports import CHUNK_ROWS, profile_import_create
from audience.models import ImportStatus, Profile, ProfileImport
from tests.integration.test_celery_worker import TASK_TIMEOUT, Worker, worker  # noqa: F401

TASK = "audience.tasks.import_profiles"
ROWS = 2 * CHUNK_ROWS + 500


def csv_file() -> bytes:
    lines = ["identity,email,plan,age:number"]
    for i in range(ROWS):
        # Every 100th row has an e-mail address that is not one.
        email = "not-an-email" if i % 100 == 0 else f"user{i}@example.com"
        lines.append(f"user-{i:05d},{email},{'pro' if i % 3 == 0 else 'free'},{20 + i % 50}")
    return ("\r\n".join(lines) + "\r\n").encode()


def run_on(worker: Worker, import_id: int):  # noqa: F811
    result = worker.app.tasks[TASK].apply_async(args=(import_id,), queue=worker.queue)
    try:
        return result.get(timeout=TASK_TIMEOUT)
    except Exception as exc:  # the worker's log says why
        pytest.fail(f"the task did not succeed ({exc!r}):\n{worker.log_tail()}")
    finally:
        result.forget()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_imports_a_csv_file_in_chunks(worker: Worker, marketer) -> None:  # noqa: F811
    job = profile_import_create(actor=marketer, file_name="people.csv", content=csv_file())
    assert (job.status, job.total_rows) == (ImportStatus.QUEUED, ROWS)

    outcome = run_on(worker, job.pk)

    job = ProfileImport.objects.get(pk=job.pk)
    refused = len(range(0, ROWS, 100))
    assert outcome == {"accepted": ROWS - refused, "rejected": refused}
    assert job.status == ImportStatus.DONE
    assert (job.processed_rows, job.accepted_rows, job.rejected_rows) == (
        ROWS,
        ROWS - refused,
        refused,
    )
    assert job.started_at <= job.finished_at
    assert [error["row"] for error in job.errors[:3]] == [2, 102, 202]
    assert Profile.objects.count() == ROWS - refused
    assert Profile.objects.get(identity="user-00003").properties == {"plan": "pro", "age": 23}
    log = worker.log.read_text(errors="replace")
    assert f"Task {TASK}" in log and "succeeded" in log

    # A second delivery of the same task (a retry) imports nothing again.
    assert run_on(worker, job.pk) is None
    again = ProfileImport.objects.get(pk=job.pk)
    assert (again.processed_rows, again.accepted_rows) == (ROWS, ROWS - refused)
