"""Install settings.CELERY_BEAT_SCHEDULE into django-celery-beat (also done automatically after migrate)."""

from django.core.management.base import BaseCommand

from health.services import beat_schedules_install


class Command(BaseCommand):
    help = "Create or update one PeriodicTask per entry of settings.CELERY_BEAT_SCHEDULE (idempotent)."

    def handle(self, *args, **options):
        names = beat_schedules_install()
        self.stdout.write(self.style.SUCCESS(f"Installed {len(names)} schedules: {', '.join(names)}"))
