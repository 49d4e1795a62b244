"""health models: scoring."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from customers.choices import HealthTrend, LifecycleStage, RiskLevel, Tier, ValueTierName

from ..choices import (
    COMPONENTS,
    ChurnModelStatus,
)
from .common import _nullable_range, _rate_0_1

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
