"""Usage events and their daily roll-ups, health scorecards and snapshots, churn models, value tiers,
segments and adoption milestones (RULES §3–§6, §8)."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from cs_project.core.ids import new_prefixed_id
from customers.choices import HealthTrend, LifecycleStage, RiskLevel, Tier, ValueTierName

from .choices import (
    COMPONENTS,
    ChurnModelStatus,
    EbrCadence,
    EventSource,
    FeatureCategory,
    MilestoneCategory,
    MilestoneImportance,
    SegmentationType,
    TierColour,
    TouchCadence,
)


def new_segment_id() -> str:
    return new_prefixed_id("seg")


def _rate_0_1(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__gte": 0, f"{field}__lte": 1}), name=name)


def _nullable_range(field: str, low, high, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high}),
        name=name,
    )


# ----------------------------------------------------------------------------------------------------
# Usage (RULES §3)
# ----------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------
# Health score (RULES §4–§5)
# ----------------------------------------------------------------------------------------------------

WEIGHT_FIELDS = tuple(f"{c}_weight" for c in COMPONENTS)


class HealthScorecard(models.Model):
    """Component weights per segment (RULES §4.4). The most specific active match wins; otherwise the single
    active default scorecard. Snapshots copy the weights they used, so edits never rewrite history."""

    name = models.CharField(max_length=200)
    tier = models.CharField(max_length=20, choices=Tier.choices, null=True, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, null=True, blank=True)
    value_tier = models.CharField(max_length=20, choices=ValueTierName.choices, null=True, blank=True)
    priority = models.IntegerField(default=100)
    usage_weight = models.DecimalField(max_digits=5, decimal_places=4)
    engagement_weight = models.DecimalField(max_digits=5, decimal_places=4)
    support_weight = models.DecimalField(max_digits=5, decimal_places=4)
    satisfaction_weight = models.DecimalField(max_digits=5, decimal_places=4)
    payment_weight = models.DecimalField(max_digits=5, decimal_places=4)
    is_active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "priority", "id"]
        constraints = [
            *[_rate_0_1(f, f"scorecard_{f}_0_1") for f in WEIGHT_FIELDS],
            models.CheckConstraint(
                condition=GreaterThanOrEqual(
                    F("usage_weight")
                    + F("engagement_weight")
                    + F("support_weight")
                    + F("satisfaction_weight")
                    + F("payment_weight"),
                    Decimal("0.99"),
                )
                & LessThanOrEqual(
                    F("usage_weight")
                    + F("engagement_weight")
                    + F("support_weight")
                    + F("satisfaction_weight")
                    + F("payment_weight"),
                    Decimal("1.01"),
                ),
                name="scorecard_weights_sum_1",
            ),
            models.CheckConstraint(
                condition=Q(is_default=False)
                | Q(tier__isnull=True, lifecycle_stage__isnull=True, value_tier__isnull=True),
                name="scorecard_default_matches_all",
            ),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True, is_active=True),
                name="scorecard_one_active_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (default)' if self.is_default else ''}"

    def weights(self) -> dict[str, float]:
        return {c: float(getattr(self, f"{c}_weight")) for c in COMPONENTS}

    def match_fields(self) -> dict[str, str | None]:
        return {"tier": self.tier, "lifecycle_stage": self.lifecycle_stage, "value_tier": self.value_tier}

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for field in WEIGHT_FIELDS:
            value = getattr(self, field)
            if value is None or not (0 <= value <= 1):
                errors[field] = "Each weight must be between 0 and 1."
        if not errors:
            total = sum(getattr(self, f) for f in WEIGHT_FIELDS)
            if abs(total - 1) > Decimal("0.01"):
                errors["__all__"] = f"Weights must sum to 1.00 ± 0.01 (they sum to {total})."
        if self.is_default and any(v is not None for v in self.match_fields().values()):
            errors["is_default"] = (
                "The default scorecard must not have match fields (tier, stage, value tier)."
            )
        others = HealthScorecard.objects.exclude(pk=self.pk)
        if self.is_default and self.is_active and others.filter(is_default=True, is_active=True).exists():
            errors["is_default"] = "There is already an active default scorecard."
        if (
            not (self.is_default and self.is_active)
            and not others.filter(is_default=True, is_active=True).exists()
        ):
            errors.setdefault("is_default", "Exactly one active default scorecard must exist.")
        if errors:
            raise ValidationError(errors)


class HealthSnapshot(models.Model):
    """The official daily health score of a client (RULES §4.6): one row per client per day, overwritten by a
    same-day recalculation. Stores everything needed to explain it later (components, weights, inputs)."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="health_snapshots", db_index=False
    )
    as_of = models.DateField()
    health_score = models.PositiveSmallIntegerField(null=True, blank=True)
    raw_score = models.FloatField(null=True, blank=True, help_text="Unrounded weighted score.")
    usage_score = models.FloatField(null=True, blank=True)
    engagement_score = models.FloatField(null=True, blank=True)
    support_score = models.FloatField(null=True, blank=True)
    satisfaction_score = models.FloatField(null=True, blank=True)
    payment_score = models.FloatField(null=True, blank=True)
    weights = models.JSONField(default=dict, help_text="Base weights used, by component.")
    effective_weights = models.JSONField(
        default=dict, help_text="Weights after redistribution of missing ones."
    )
    scorecard = models.ForeignKey(
        HealthScorecard, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshots"
    )
    missing_components = models.JSONField(default=list, blank=True)
    coverage = models.FloatField(default=0)
    low_confidence = models.BooleanField(default=False)
    inputs = models.JSONField(default=dict, blank=True, help_text="Raw inputs of every sub-score.")
    explanation = models.JSONField(default=dict, blank=True)
    data_gaps = models.JSONField(default=list, blank=True)
    risk_level = models.CharField(max_length=20, choices=RiskLevel.choices, null=True, blank=True)
    trend = models.CharField(max_length=20, choices=HealthTrend.choices, null=True, blank=True)
    score_change = models.SmallIntegerField(null=True, blank=True)
    comparison_as_of = models.DateField(null=True, blank=True)
    churn_probability = models.FloatField(null=True, blank=True)
    churn_method = models.CharField(max_length=40, blank=True, default="")
    lookback_days = models.PositiveSmallIntegerField(default=30)
    formula_version = models.CharField(max_length=20, default="health-v1")
    calculated_at = models.DateTimeField()

    class Meta:
        ordering = ["client", "-as_of"]
        get_latest_by = "as_of"
        permissions = [
            ("mcp_read", "Can call read-only health tools"),
            ("mcp_write", "Can call mutating health tools"),
        ]
        indexes = [
            models.Index(fields=["as_of", "health_score"], name="snapshot_date_score_idx"),
            models.Index(fields=["as_of", "risk_level"], name="snapshot_date_risk_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["client", "as_of"], name="snapshot_one_per_client_day"),
            _nullable_range("health_score", 0, 100, "snapshot_health_0_100"),
            *[_nullable_range(f"{c}_score", 0, 100, f"snapshot_{c}_0_100") for c in COMPONENTS],
            _nullable_range("churn_probability", 0, 1, "snapshot_churn_0_1"),
            models.CheckConstraint(
                condition=Q(coverage__gte=0, coverage__lte=1.0001), name="snapshot_coverage_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.as_of}: {self.health_score}"

    def component_scores(self) -> dict[str, float | None]:
        return {c: getattr(self, f"{c}_score") for c in COMPONENTS}


class ChurnModel(models.Model):
    """A trained churn model (RULES §5.2) stored as JSON numbers, with the validation metrics of the model and
    of the heuristic on the same rows. At most one is ``active``; without one the heuristic is used."""

    version = models.CharField(max_length=40, unique=True, help_text="churn-logreg-<YYYYMMDD>")
    status = models.CharField(max_length=20, choices=ChurnModelStatus.choices)
    trained_at = models.DateTimeField()
    feature_names = models.JSONField(default=list, blank=True)
    means = models.JSONField(default=list, blank=True)
    stds = models.JSONField(default=list, blank=True)
    coefficients = models.JSONField(default=list, blank=True)
    intercept = models.FloatField(null=True, blank=True)
    calibration_a = models.FloatField(null=True, blank=True)
    calibration_b = models.FloatField(null=True, blank=True)
    training_window_start = models.DateField(null=True, blank=True)
    training_window_end = models.DateField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Observations and positives per split.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Validation metrics of the model.")
    heuristic_metrics = models.JSONField(
        default=dict, blank=True, help_text="Same metrics for the heuristic."
    )
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="churn_model_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"


class ChurnPrediction(models.Model):
    """The churn probability of a client on a day (RULES §5), written with each official snapshot."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="churn_predictions", db_index=False
    )
    as_of = models.DateField()
    probability = models.FloatField(null=True, blank=True)
    risk_level = models.CharField(max_length=20, choices=RiskLevel.choices, null=True, blank=True)
    method = models.CharField(max_length=40)
    calibrated = models.BooleanField(default=False)
    horizon_days = models.PositiveSmallIntegerField(null=True, blank=True)
    drivers = models.JSONField(default=list, blank=True)
    predicted_churn_date = models.DateField(null=True, blank=True)
    data_coverage = models.FloatField(null=True, blank=True)
    model = models.ForeignKey(
        ChurnModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="predictions"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["client", "-as_of"]
        indexes = [models.Index(fields=["as_of", "risk_level"], name="churn_pred_date_risk_idx")]
        constraints = [
            models.UniqueConstraint(fields=["client", "as_of"], name="churn_pred_one_per_client_day"),
            _nullable_range("probability", 0, 1, "churn_pred_probability_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.as_of}: {self.probability} ({self.method})"


# ----------------------------------------------------------------------------------------------------
# Segmentation and value tiers (RULES §6)
# ----------------------------------------------------------------------------------------------------


class ValueTier(models.Model):
    """An ARR band with its service levels (RULES §6.1); lower bound inclusive, upper bound exclusive."""

    name = models.CharField(max_length=20, choices=ValueTierName.choices, unique=True)
    min_arr = models.DecimalField(max_digits=14, decimal_places=2)
    max_arr = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Exclusive."
    )
    colour = models.CharField(max_length=20, choices=TierColour.choices)
    priority = models.PositiveSmallIntegerField()
    touch_cadence = models.CharField(max_length=20, choices=TouchCadence.choices)
    ebr_cadence = models.CharField(max_length=20, choices=EbrCadence.choices)
    target_health = models.PositiveSmallIntegerField(null=True, blank=True)
    target_nps = models.SmallIntegerField(null=True, blank=True)
    target_grr = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    accounts_per_csm = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.CheckConstraint(condition=Q(min_arr__gte=0), name="value_tier_min_non_negative"),
            models.CheckConstraint(
                condition=Q(max_arr__isnull=True) | Q(max_arr__gt=F("min_arr")),
                name="value_tier_max_above_min",
            ),
            _nullable_range("target_health", 0, 100, "value_tier_target_health_0_100"),
            _nullable_range("target_nps", -100, 100, "value_tier_target_nps_range"),
            _nullable_range("target_grr", 0, 1, "value_tier_target_grr_0_1"),
            models.UniqueConstraint(fields=["priority"], name="value_tier_priority_unique"),
        ]

    def __str__(self) -> str:
        upper = f"< {self.max_arr:,.0f}" if self.max_arr is not None else "and above"
        return f"{self.get_name_display()} (≥ {self.min_arr:,.0f} {upper})"


class Segment(models.Model):
    """A persisted customer segment (``seg_…``), upserted by (segmentation type, key) (RULES §6.2)."""

    segment_id = models.CharField(max_length=20, unique=True, default=new_segment_id, editable=False)
    segmentation_type = models.CharField(max_length=20, choices=SegmentationType.choices)
    segmentation_id = models.CharField(
        max_length=64, blank=True, default="", help_text="Stable id of the set."
    )
    key = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    rule = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["segmentation_type", "key"]
        constraints = [
            models.UniqueConstraint(fields=["segmentation_type", "key"], name="segment_type_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.segmentation_type}:{self.key}"


class SegmentMembership(models.Model):
    """A client's stint in a segment; a re-run closes leavers (``exited_at``) and opens entrants only."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["segment", "-entered_at"]
        indexes = [models.Index(fields=["client", "exited_at"], name="segment_member_client_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "client"],
                condition=Q(exited_at__isnull=True),
                name="segment_one_open_membership",
            ),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=F("entered_at")),
                name="segment_exit_after_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} in {self.segment_id}"


# ----------------------------------------------------------------------------------------------------
# Adoption milestones (RULES §8)
# ----------------------------------------------------------------------------------------------------


class AdoptionFramework(models.Model):
    """A set of adoption milestones (RULES §8): the seeded ``standard`` one, or one per industry.

    ``milestones`` = ``[{id, name, typical_days, importance, category, criterion}]``."""

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    industry = models.CharField(
        max_length=100, null=True, blank=True, help_text="Null for the standard framework."
    )
    milestones = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["industry"], condition=Q(industry__isnull=False), name="framework_one_per_industry"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ClientMilestone(models.Model):
    """The first date a client achieved an adoption milestone; once achieved it stays achieved (RULES §8)."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="adoption_milestones"
    )
    framework = models.ForeignKey(
        AdoptionFramework, on_delete=models.CASCADE, related_name="client_milestones"
    )
    milestone_id = models.CharField(max_length=50)
    importance = models.CharField(max_length=10, choices=MilestoneImportance.choices, blank=True, default="")
    category = models.CharField(max_length=30, choices=MilestoneCategory.choices, blank=True, default="")
    achieved_on = models.DateField()
    days_to_achieve = models.IntegerField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["client", "framework", "milestone_id"]
        indexes = [
            models.Index(fields=["framework", "milestone_id", "achieved_on"], name="milestone_fw_date_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "framework", "milestone_id"], name="milestone_once_per_client"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.milestone_id} on {self.achieved_on}"
