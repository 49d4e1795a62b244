"""Celery tasks of the plumbing: housekeeping that knows no domain app."""

from celery import shared_task
from django.conf import settings

from .access_log import access_log_prune


@shared_task(name="core.tasks.access_log_prune", acks_late=True, time_limit=60 * 30, soft_time_limit=60 * 25)
def access_log_prune_task() -> dict:
    """Daily: delete access-log entries older than ``CS_ACCESS_LOG_RETENTION_DAYS`` (idempotent)."""
    days = settings.CS_ACCESS_LOG_RETENTION_DAYS
    return {"deleted": access_log_prune(retention_days=days), "retention_days": days}
