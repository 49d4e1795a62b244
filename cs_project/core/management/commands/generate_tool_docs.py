"""``manage.py generate_tool_docs [--check]``: write docs/api/ from the tool registry."""

from django.core.management.base import BaseCommand, CommandError

from cs_project.core.docs import DOCS_DIR, stale_files, write_docs


class Command(BaseCommand):
    help = "Generate docs/api/index.md and one page per tool category from the registry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; exit non-zero when docs/api is out of date."
        )

    def handle(self, *args, **options):
        if options["check"]:
            stale = stale_files()
            if stale:
                raise CommandError(f"docs/api is out of date ({', '.join(stale)}); run generate_tool_docs.")
            self.stdout.write(self.style.SUCCESS("docs/api is up to date."))
            return
        written = write_docs()
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {len(written)} file(s) to {DOCS_DIR}: {', '.join(written)}")
        )
