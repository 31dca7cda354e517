import datetime as dt

from celery import shared_task
from django.utils import timezone

from audience import partitions
from audience.models import IngestRecord

# How long a record id keeps a retried batch from adding its events again.
INGEST_KEY_DAYS = 30


@shared_task(name="audience.tasks.create_event_partitions")
def create_event_partitions() -> list[str]:
    """Daily: the events table's partitions for this month and the next three."""
    return partitions.ensure_ahead()


@shared_task(name="audience.tasks.prune_ingest_records")
def prune_ingest_records() -> int:
    """Daily: forget record ids older than INGEST_KEY_DAYS (a retry comes within minutes)."""
    cutoff = timezone.now() - dt.timedelta(days=INGEST_KEY_DAYS)
    deleted, _ = IngestRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="audience.tasks.import_profiles")
def import_profiles(import_id: int) -> dict[str, int] | None:
    """A dashboard CSV import, chunk by chunk (audience.imports); a second delivery resumes after
    the last committed chunk, or does nothing once the import is finished."""
    from audience.imports import profile_import_run

    job = profile_import_run(import_id=import_id)
    if job is None:
        return None
    return {"accepted": job.accepted_rows, "rejected": job.rejected_rows}


@shared_task(name="audience.tasks.requeue_stale_imports")
def requeue_stale_imports() -> list[int]:
    """Every few minutes: queue again the profile imports whose task message was lost."""
    from audience.imports import profile_imports_requeue_stale

    return profile_imports_requeue_stale()
