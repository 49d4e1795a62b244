"""Enumerations owned by the onboarding app (RULES §2, §9); shared ones (Tier, …): customers/choices.py."""

from django.db import models


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_PLAN_STATUSES = (PlanStatus.DRAFT, PlanStatus.IN_PROGRESS)


class ProgressStatus(models.TextChoices):
    """Derived progress of a plan (RULES §9.2)."""

    ON_TRACK = "on_track", "On track"
    BEHIND = "behind", "Behind"
    STUCK = "stuck", "Stuck"
    COMPLETED = "completed", "Completed"


class MilestoneStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    BLOCKED = "blocked", "Blocked"
    SKIPPED = "skipped", "Skipped"


class TechnicalComplexity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class MilestoneInclusion(models.TextChoices):
    """When a template milestone is added to a new plan (RULES §9.1 "Included when")."""

    ALWAYS = "always", "Always"
    ENTERPRISE_TIER = "enterprise_tier", "Product tier is enterprise"
    HIGH_COMPLEXITY = "high_complexity", "Technical complexity is high"


class SuccessCriterionStatus(models.TextChoices):
    MET = "met", "Met"
    NOT_MET = "not_met", "Not met"
    UNKNOWN = "unknown", "Unknown"


class AutomationTrigger(models.TextChoices):
    """Triggers of an onboarding automation (TOOLS §2.2)."""

    MILESTONE_COMPLETION = "milestone_completion", "Milestone completion"
    TRAINING_COMPLETION = "training_completion", "Training completion"
    INTEGRATION_SUCCESS = "integration_success", "Integration success"
    USAGE_MILESTONE_REACHED = "usage_milestone_reached", "Usage milestone reached"
    TASK_OVERDUE = "task_overdue", "Task overdue"
    BLOCKER_IDENTIFIED = "blocker_identified", "Blocker identified"
    HEALTH_SCORE_CHANGE = "health_score_change", "Health score change"


class NotificationFrequency(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate"
    DAILY_DIGEST = "daily_digest", "Daily digest"
    WEEKLY_DIGEST = "weekly_digest", "Weekly digest"


class TrainingFormat(models.TextChoices):
    LIVE_WEBINAR = "live_webinar", "Live webinar"
    SELF_PACED = "self_paced", "Self-paced"
    ONE_ON_ONE = "one_on_one", "One-on-one"
    WORKSHOP = "workshop", "Workshop"
    VIDEO = "video", "Video"
    DOCUMENTATION = "documentation", "Documentation"


#: Formats that need a date when a session is created (TOOLS §2.3).
LIVE_TRAINING_FORMATS = (TrainingFormat.LIVE_WEBINAR, TrainingFormat.ONE_ON_ONE, TrainingFormat.WORKSHOP)


class TrainingSessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ASSIGNED = "assigned", "Assigned (self-paced)"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class CertificationLevel(models.TextChoices):
    """Certification level; the order of declaration is the order of the levels (RULES §9.3)."""

    BASIC = "basic", "Basic"
    INTERMEDIATE = "intermediate", "Intermediate"
    ADVANCED = "advanced", "Advanced"
    EXPERT = "expert", "Expert"

    @classmethod
    def rank(cls, value: str) -> int:
        return list(cls.values).index(value)


class CertificationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
