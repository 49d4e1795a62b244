"""``manage.py generate_rules_doc [--check] [--spec PATH]``: write docs/rules.md from the spec's RULES.md."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cs_project.core.rules_doc import RULES_DOC, SPEC_DIR_ENV, is_stale, spec_path, write_rules_doc


class Command(BaseCommand):
    help = "Generate docs/rules.md (the rules the tools cite) from ../shared/spec/RULES.md."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit non-zero when docs/rules.md is out of date.",
        )
        parser.add_argument(
            "--spec",
            type=Path,
            help=f"RULES.md to read (default: ${SPEC_DIR_ENV}/RULES.md or ../shared/spec/).",
        )

    def handle(self, *args, **options):
        spec = options["spec"] or spec_path()
        if not spec.exists():
            raise CommandError(f"{spec} not found; pass --spec or set {SPEC_DIR_ENV}.")
        if options["check"]:
            if is_stale(spec):
                raise CommandError(f"{RULES_DOC} is out of date with {spec}; run generate_rules_doc.")
            self.stdout.write(self.style.SUCCESS("docs/rules.md is up to date."))
            return
        self.stdout.write(self.style.SUCCESS(f"Wrote {write_rules_doc(spec)} from {spec}."))
