"""``manage.py generate_schema_docs [--check]``: write docs/database-schema.md from the installed models."""

from django.core.management.base import BaseCommand, CommandError

from cs_project.core.schema_docs import SCHEMA_DOC, is_stale, write_schema_docs


class Command(BaseCommand):
    help = (
        "Generate docs/database-schema.md (tables, columns, constraints, indexes, relations) from the models."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; exit non-zero when the file is out of date."
        )

    def handle(self, *args, **options):
        if options["check"]:
            if is_stale():
                raise CommandError(f"{SCHEMA_DOC} is out of date; run `manage.py generate_schema_docs`.")
            self.stdout.write(self.style.SUCCESS(f"{SCHEMA_DOC} is up to date."))
            return
        self.stdout.write(self.style.SUCCESS(f"Wrote {write_schema_docs()}."))
