"""Enumerations owned by the health app (shared ones — tier, risk, trend, value tier — are in customers)."""

from django.db import models


class FeatureCategory(models.TextChoices):
    CORE = "core", "Core"
    ADVANCED = "advanced", "Advanced"
    INTEGRATION = "integration", "Integration"
    ADMIN = "admin", "Admin"
    OTHER = "other", "Other"


class EventSource(models.TextChoices):
    """Where a usage event came from (RULES §3.1); de-duplication is per (source, message_id)."""

    API = "api", "API (native)"
    SEGMENT = "segment", "Segment batch"
    MIXPANEL = "mixpanel", "Mixpanel import"
    ADMIN = "admin", "Admin"


class HealthComponent(models.TextChoices):
    """The five health components of RULES §4.1, in their canonical order."""

    USAGE = "usage", "Usage"
    ENGAGEMENT = "engagement", "Engagement"
    SUPPORT = "support", "Support"
    SATISFACTION = "satisfaction", "Satisfaction"
    PAYMENT = "payment", "Payment"


COMPONENTS: tuple[str, ...] = tuple(HealthComponent.values)


class ChurnModelStatus(models.TextChoices):
    """Outcome of a training run (RULES §5.2)."""

    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected (not better than the heuristic)"
    SKIPPED = "skipped", "Skipped (not enough data)"
    RETIRED = "retired", "Retired"
    DEACTIVATED = "deactivated", "Deactivated by an admin"


class SegmentationType(models.TextChoices):
    VALUE_BASED = "value_based", "Value based"
    USAGE_BASED = "usage_based", "Usage based"
    HEALTH_BASED = "health_based", "Health based"
    INDUSTRY = "industry", "Industry"
    LIFECYCLE = "lifecycle", "Lifecycle"
    CUSTOM = "custom", "Custom"


class TouchCadence(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    EVERY_2_WEEKS = "every_2_weeks", "Every 2 weeks"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY_DIGITAL = "quarterly_digital", "Quarterly (digital)"


class EbrCadence(models.TextChoices):
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUAL = "semi_annual", "Semi-annual"
    ANNUAL = "annual", "Annual"
    NONE = "none", "None"


class TierColour(models.TextChoices):
    PLATINUM = "platinum", "Platinum"
    GOLD = "gold", "Gold"
    SILVER = "silver", "Silver"
    BRONZE = "bronze", "Bronze"
    STANDARD = "standard", "Standard"


class MilestoneImportance(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class MilestoneCategory(models.TextChoices):
    ACTIVATION = "activation", "Activation"
    VALUE_REALIZATION = "value_realization", "Value realization"
    ADOPTION = "adoption", "Adoption"
    INTEGRATION = "integration", "Integration"
    EXPANSION = "expansion", "Expansion"
    ADVOCACY = "advocacy", "Advocacy"


class MilestoneStatus(models.TextChoices):
    """Per-milestone status of a client against a framework (RULES §8)."""

    ACHIEVED = "achieved", "Achieved"
    ON_TRACK = "on_track", "On track"
    OVERDUE = "overdue", "Overdue"
    STUCK = "stuck", "Stuck"


FORMULA_VERSION = "health-v1"
CHURN_HEURISTIC_METHOD = "churn-heuristic-v1"
