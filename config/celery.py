"""The Celery app and the one place where periodic schedules are declared."""

import logging
import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import after_setup_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# As config/settings.py reads it (read here too: settings are not loaded when this module is).
DISPATCH_TICK = float(os.environ.get("HERALD_DISPATCH_TICK", "5"))


@after_setup_logger.connect
def _quiet_task_lines(**_: object) -> None:
    """With HERALD_QUIET_TASK_LOG (make run sets it), a worker does not log every task it
    receives and finishes (the dispatch tick alone is one every few seconds); the tasks' own
    messages and every warning still show."""
    if os.environ.get("HERALD_QUIET_TASK_LOG"):
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)


app.conf.beat_schedule = {
    # Dispatch: every due send, batch and trigger is a row the tick claims (no long ETAs); a tick
    # nobody picked up within two periods is dropped rather than run late (the next one does it).
    "channels-dispatch-tick": {
        "task": "channels.tasks.tick",
        "schedule": DISPATCH_TICK,
        "options": {"expires": DISPATCH_TICK * 2},
    },
    # The spec's auto-archival cannot be disabled; once a day is enough because its unit is a date.
    "campaigns-auto-archive": {
        "task": "campaigns.tasks.auto_archive_campaigns",
        "schedule": crontab(hour=2, minute=15),
    },
    # Events land in monthly partitions: keep three months ahead of the clock.
    "audience-event-partitions": {
        "task": "audience.tasks.create_event_partitions",
        "schedule": crontab(hour=1, minute=5),
    },
    # A CSV import whose task message was lost is queued again (imports resume where they were).
    "audience-requeue-stale-imports": {
        "task": "audience.tasks.requeue_stale_imports",
        "schedule": crontab(minute="*/5"),
    },
    "audience-prune-ingest-records": {
        "task": "audience.tasks.prune_ingest_records",
        "schedule": crontab(hour=3, minute=40),
    },
}
