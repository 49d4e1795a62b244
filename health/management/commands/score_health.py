"""``manage.py score_health [--date D] [--client ID ...] [--chunk-size N]``: the nightly job, foreground."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.models import Client
from health.services import DEFAULT_CHUNK_SIZE, active_client_ids, health_scoring_run


class Command(BaseCommand):
    help = "Score active clients officially for a day (same work as the nightly_health_scoring job)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="As-of day YYYY-MM-DD (default: today in the reporting time zone)."
        )
        parser.add_argument("--client", action="append", default=[], help="client_id to score (repeatable).")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options):
        as_of = None
        if options["date"]:
            try:
                as_of = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD: {exc}") from exc
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be ≥ 1")
        if options["client"]:
            found = dict(
                Client.objects.filter(client_id__in=options["client"]).values_list("client_id", "id")
            )
            unknown = sorted(set(options["client"]) - found.keys())
            if unknown:
                raise CommandError(f"Unknown client(s): {', '.join(unknown)}")
            ids = sorted(found.values())
        else:
            ids = active_client_ids()
        bar = tqdm(total=len(ids), unit="client", disable=options["no_progress"], file=self.stderr._out)
        try:
            run = health_scoring_run(
                as_of=as_of,
                client_ids=ids,
                chunk_size=options["chunk_size"],
                job="score_health",
                progress=bar.update,
            )
        finally:
            bar.close()
        self.stdout.write(
            f"score_health: {run.processed} scored, {run.failed} failed ({run.status}); JobRun {run.pk}"
        )
        if run.error_sample:
            self.stderr.write(run.error_sample)
