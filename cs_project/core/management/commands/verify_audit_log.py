"""``manage.py verify_audit_log``: recompute the audit hash chain and report the first broken event."""

from django.core.management.base import BaseCommand, CommandError

from customers.audit import audit_event_hash
from customers.models import AuditEvent


def verify_chain(chunk_size: int = 2000) -> tuple[int, int | None, str]:
    """Walk the chain in id order. Returns ``(events checked, first broken id or None, reason)``."""
    previous_hash = ""
    count = 0
    events = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
    for event in events:
        if event.prev_hash != previous_hash:
            return (
                count,
                event.pk,
                "prev_hash does not match the previous event (a row was deleted or altered)",
            )
        if audit_event_hash(event) != event.hash:
            return count, event.pk, "hash does not match the event's content (the row was edited)"
        previous_hash = event.hash
        count += 1
    return count, None, ""


class Command(BaseCommand):
    help = "Verify the SHA-256 chain of customers.AuditEvent; exits non-zero at the first broken event."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, **options):
        count, broken_id, reason = verify_chain(chunk_size=options["chunk_size"])
        if broken_id is not None:
            raise CommandError(
                f"Audit chain broken at event id {broken_id}: {reason} ({count} events verified)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain OK: {count} events verified."))
