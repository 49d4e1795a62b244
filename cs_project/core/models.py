"""API tokens: hashed at rest, bound to a user, scoped, optionally expiring, revocable in the admin."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


TOKEN_PREFIX = "cst_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for /mcp and /api. Only its SHA-256 is stored; the raw value is shown once."""

    name = models.CharField(max_length=100, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_prefix = models.CharField(max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Subset of read, write, admin.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user})"

    @staticmethod
    def generate_raw() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def is_usable(self) -> bool:
        return (
            self.revoked_at is None
            and self.user.is_active
            and (self.expires_at is None or self.expires_at > timezone.now())
        )


class AccessLogEntry(models.Model):
    """One tool call, read-only ones included, for security review (TOOLS §0.5 access log).

    Deliberately not part of the audit hash chain: an append takes no lock and reads no previous row, so
    concurrent readers never wait on each other, and old rows are pruned after
    ``CS_ACCESS_LOG_RETENTION_DAYS`` (``core.tasks.access_log_prune``). Who/what is kept as plain values
    (no foreign keys) so that pruning, deleting a user or a client never cascades here or there. The hash
    chain (``customers.AuditEvent``) stays the tamper-evident record of every change.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(help_text="When the call finished (UTC).")
    actor = models.CharField(max_length=150, help_text="Username of the caller, or 'anonymous'.")
    user_id = models.BigIntegerField(null=True, blank=True, help_text="Caller's user id (no foreign key).")
    channel = models.CharField(max_length=10, help_text="Doorway: mcp or api.")
    tool = models.CharField(max_length=100)
    client_id = models.CharField(
        max_length=128,
        blank=True,
        default="",
        help_text="The call's client_id argument, if any (no foreign key).",
    )
    outcome = models.CharField(max_length=32, help_text="'success' or the error code of the envelope.")
    duration_ms = models.PositiveIntegerField()
    request_id = models.CharField(max_length=32, help_text="Also in the server log line of the call.")
    arguments_sha256 = models.CharField(
        max_length=64, help_text="Digest of the arguments, not the arguments."
    )
    audit_event_id = models.UUIDField(
        null=True, blank=True, help_text="The mutation's chained audit event, when the call wrote one."
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        indexes = [
            models.Index(fields=["occurred_at"], name="core_access_occurred_idx"),
            models.Index(fields=["actor", "occurred_at"], name="core_access_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.tool} {self.outcome}"
