"""health models: usage."""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from customers.choices import Tier

from ..choices import (
    EventSource,
    FeatureCategory,
)


class Feature(models.Model):
    """The feature catalogue (RULES §3.1): which events count as activity, which features are core for which
    tier, which mark first value. Rows for unknown keys are created by ingestion with ``catalogued=False``."""

    feature_key = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    category = models.CharField(max_length=20, choices=FeatureCategory.choices, default=FeatureCategory.OTHER)
    is_core = models.BooleanField(default=False)
    min_tier = models.CharField(
        max_length=20,
        choices=Tier.choices,
        default=Tier.STARTER,
        help_text="Lowest product tier that includes it.",
    )
    counts_as_activity = models.BooleanField(
        default=True, help_text="False for logins, heartbeats and automated/API traffic."
    )
    is_value_event = models.BooleanField(
        default=False, help_text="Marks a 'first value' event (RULES §8, m2)."
    )
    is_metered = models.BooleanField(default=False, help_text="Counts toward contract usage limits.")
    catalogued = models.BooleanField(
        default=True, help_text="False for rows created automatically by ingestion."
    )
    active = models.BooleanField(default=True)
    released_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["feature_key"]
        indexes = [models.Index(fields=["is_core", "min_tier"], name="feature_core_tier_idx")]

    def __str__(self) -> str:
        return self.name or self.feature_key


class UsageEvent(models.Model):
    """One raw product-usage event (RULES §3.1), kept for the raw-retention window; everything except hourly
    views reads the daily roll-ups. De-duplicated by (source, message_id)."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="usage_events", db_index=False
    )
    user_id = models.CharField(max_length=128, help_text="userId, or 'anon:<anonymousId>'.")
    event_name = models.CharField(max_length=200)
    feature_key = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    quantity = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("1"))
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=EventSource.choices, default=EventSource.API)
    message_id = models.CharField(max_length=100)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        permissions = [("ingest_usage", "Can ingest usage events through the events API")]
        indexes = [
            models.Index(fields=["client", "occurred_at"], name="usage_client_time_idx"),
            models.Index(
                fields=["client", "feature_key", "occurred_at"], name="usage_client_feature_time_idx"
            ),
            models.Index(fields=["occurred_at"], name="usage_occurred_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="usage_source_message_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="usage_quantity_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.user_id} {self.feature_key} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def is_anonymous(self) -> bool:
        return self.user_id.startswith("anon:")


class UserActivityDaily(models.Model):
    """Roll-up per (client, user, day) (RULES §3.3): WAU/MAU and user cohorts are computed from it."""

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="+", db_index=False)
    user_id = models.CharField(max_length=128)
    date = models.DateField()
    events = models.PositiveIntegerField(default=0)
    quantity = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("0"))
    counting_events = models.PositiveIntegerField(
        default=0, help_text="Events on counts_as_activity features."
    )
    features_used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["client", "-date", "user_id"]
        verbose_name_plural = "user activity (daily)"
        # Covering (index-only scans): scoring reads a chunk's 30 days of user-days from the index alone, not from
        # heap pages scattered by the day-by-day roll-up (one page per row at 100k accounts).
        indexes = [
            models.Index(
                fields=["client", "date"],
                include=["user_id", "counting_events"],
                name="uad_client_date_cover_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["client", "user_id", "date"], name="uad_grain_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.user_id} {self.date}"


class FeatureUsageDaily(models.Model):
    """Roll-up per (client, feature, day) (RULES §3.3): core breadth and feature adoption read it."""

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="+", db_index=False)
    feature_key = models.CharField(max_length=100)
    date = models.DateField()
    events = models.PositiveIntegerField(default=0)
    quantity = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("0"))
    active_users = models.PositiveIntegerField(default=0, help_text="Distinct non-anonymous users.")

    class Meta:
        ordering = ["client", "-date", "feature_key"]
        verbose_name_plural = "feature usage (daily)"
        indexes = [
            models.Index(
                fields=["client", "date"], include=["feature_key", "events"], name="fud_client_date_cover_idx"
            ),  # covering, as for UserActivityDaily
            models.Index(fields=["feature_key", "date"], name="fud_feature_date_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["client", "feature_key", "date"], name="fud_grain_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.feature_key} {self.date}"


class ClientUsageDaily(models.Model):
    """Roll-up per (client, day) (RULES §3.3): DAU, active user-days and usage-drop alerts read it."""

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="+", db_index=False)
    date = models.DateField()
    events = models.PositiveIntegerField(default=0)
    quantity = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("0"))
    counting_events = models.PositiveIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0, help_text="DAU (RULES §3.1).")

    class Meta:
        ordering = ["client", "-date"]
        verbose_name_plural = "client usage (daily)"
        indexes = [models.Index(fields=["date"], name="cud_date_idx")]
        # On PostgreSQL the index behind this constraint also carries (events, active_users) — covering, as for
        # UserActivityDaily — set by migration 0005 (SQLite cannot create a unique constraint with INCLUDE).
        constraints = [models.UniqueConstraint(fields=["client", "date"], name="cud_grain_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.date}: {self.active_users} DAU"


class UsageRollupPending(models.Model):
    """A (client, day) whose roll-ups must be rebuilt because events for it were accepted (RULES §3.3).

    Ingestion upserts a row per touched (client, date) in the same transaction as the events; the roll-up
    deletes the rows it rebuilds in the same transaction as the rebuild, so nothing is ever lost."""

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="+", db_index=False)
    date = models.DateField()
    touched_at = models.DateTimeField()

    class Meta:
        ordering = ["touched_at"]
        verbose_name_plural = "usage roll-ups pending"
        constraints = [models.UniqueConstraint(fields=["client", "date"], name="rollup_pending_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.date}"


class ExpiredEventReceipt(models.Model):
    """The (source, message id) of an event accepted older than raw retention (RULES §3.2): such events go
    into the roll-ups only, so without this receipt a replayed batch would be counted there again."""

    source = models.CharField(max_length=10, choices=EventSource.choices)
    message_id = models.CharField(max_length=100)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="expired_receipt_source_message_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.message_id}"
