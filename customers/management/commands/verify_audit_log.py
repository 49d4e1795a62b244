"""``manage.py verify_audit_log``: recompute the audit hash chain and report the first broken event."""

from django.core.management.base import BaseCommand, CommandError

from customers.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the SHA-256 chain of customers.AuditEvent; exits non-zero at the first broken event."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, **options):
        count, broken_id, reason = audit_chain_verify(chunk_size=options["chunk_size"])
        if broken_id is not None:
            raise CommandError(
                f"Audit chain broken at event id {broken_id}: {reason} ({count} events verified)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain OK: {count} events verified."))
