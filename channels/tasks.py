"""Dispatch's Celery tasks. Each takes an id, re-reads its rows and is safe to run twice: the
batch claim, the run lock and the ledger's key make a redelivered message do nothing more."""

from __future__ import annotations

import logging

from celery import shared_task

from channels import pipeline, scheduler

log = logging.getLogger(__name__)


@shared_task(name="channels.tasks.tick", ignore_result=True)
def tick() -> dict[str, int]:
    """The beat's dispatch tick (HERALD_DISPATCH_TICK seconds): start what is due, sweep."""
    done = scheduler.tick()
    if any(done.values()):
        log.info("dispatch tick: %s", ", ".join(f"{k} {n}" for k, n in done.items() if n))
    return done


def tick_soon() -> None:
    """A tick now rather than at the next beat (a campaign went live with a send due now)."""
    tick.delay()


@shared_task(name="channels.tasks.resolve_run", ignore_result=True)
def resolve_run(run_id: int) -> str:
    return scheduler.resolve(run_id)


@shared_task(name="channels.tasks.send_batch", ignore_result=True)
def send_batch(batch_id: int) -> str:
    return pipeline.send_batch(batch_id)
