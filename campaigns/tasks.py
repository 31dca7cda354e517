from celery import shared_task

from campaigns.services import campaigns_auto_archive


@shared_task(name="campaigns.tasks.auto_archive_campaigns")
def auto_archive_campaigns() -> int:
    """Daily: archive Completed/Stopped/Draft campaigns six months after their last active date."""
    return campaigns_auto_archive()
