"""Enumerations of RULES §2 shared across apps. Each is defined once here and imported everywhere else."""

from django.db import models


class Tier(models.TextChoices):
    """Product tier; the order of declaration is the order of the tiers."""

    STARTER = "starter", "Starter"
    STANDARD = "standard", "Standard"
    PROFESSIONAL = "professional", "Professional"
    ENTERPRISE = "enterprise", "Enterprise"

    @classmethod
    def rank(cls, value: str) -> int:
        return list(cls.values).index(value)


class LifecycleStage(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ACTIVE = "active", "Active"
    AT_RISK = "at_risk", "At risk"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"
    CHURNED = "churned", "Churned"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    CHURNED = "churned", "Churned"


class PaymentStatus(models.TextChoices):
    CURRENT = "current", "Current"
    LATE = "late", "Late"
    OVERDUE = "overdue", "Overdue"
    PAYMENT_PLAN = "payment_plan", "Payment plan"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


RISK_LEVEL_COLOURS = {
    RiskLevel.LOW: "green",
    RiskLevel.MEDIUM: "yellow",
    RiskLevel.HIGH: "orange",
    RiskLevel.CRITICAL: "red",
}


class HealthTrend(models.TextChoices):
    IMPROVING = "improving", "Improving"
    STABLE = "stable", "Stable"
    DECLINING = "declining", "Declining"


class ValueTierName(models.TextChoices):
    """ARR band (RULES §6.1); distinct from the product tier even where names coincide."""

    STRATEGIC = "strategic", "Strategic"
    ENTERPRISE = "enterprise", "Enterprise"
    PROFESSIONAL = "professional", "Professional"
    STANDARD = "standard", "Standard"
    STARTER = "starter", "Starter"


class Priority(models.TextChoices):
    """Priority of feedback, insights and alerts, most urgent first."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"

    @classmethod
    def rank(cls, value: str) -> int:
        """0 for critical … 3 for low: sort key, most urgent first (raises ValueError for an unknown value)."""
        try:
            return _PRIORITY_RANK[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a priority") from None


_PRIORITY_RANK = {value: rank for rank, value in enumerate(Priority.values)}


class Sentiment(models.TextChoices):
    VERY_POSITIVE = "very_positive", "Very positive"
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"
    VERY_NEGATIVE = "very_negative", "Very negative"


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    CHAMPION = "champion", "Champion"
    ADMIN = "admin", "Admin"
    END_USER = "end_user", "End user"
    BILLING = "billing", "Billing"
    OTHER = "other", "Other"


class ContractType(models.TextChoices):
    ANNUAL = "annual", "Annual"
    MULTI_YEAR = "multi_year", "Multi-year"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


class ContractStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class ArrMovementKind(models.TextChoices):
    NEW = "new", "New"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"
    REACTIVATION = "reactivation", "Reactivation"


class ExternalSystem(models.TextChoices):
    SEGMENT = "segment", "Segment"
    MIXPANEL = "mixpanel", "Mixpanel"
    ZENDESK = "zendesk", "Zendesk"
    OTHER = "other", "Other"


class AlertType(models.TextChoices):
    RISK = "risk", "Risk"
    OPPORTUNITY = "opportunity", "Opportunity"
    LIFECYCLE = "lifecycle", "Lifecycle"
    ACTIVITY = "activity", "Activity"
    OBJECTIVE = "objective", "Objective"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    SNOOZED = "snoozed", "Snoozed"
    CLOSED = "closed", "Closed"


class TimelineEventType(models.TextChoices):
    ACCOUNT = "account", "Account"
    CONTRACT = "contract", "Contract"
    LIFECYCLE = "lifecycle", "Lifecycle"
    HEALTH = "health", "Health"
    USAGE = "usage", "Usage"
    ONBOARDING = "onboarding", "Onboarding"
    SUPPORT = "support", "Support"
    COMMUNICATION = "communication", "Communication"
    RETENTION = "retention", "Retention"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"
    FEEDBACK = "feedback", "Feedback"
    PRODUCT = "product", "Product"


class Impact(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class AuditChannel(models.TextChoices):
    MCP = "mcp", "MCP"
    API = "api", "REST API"
    ADMIN = "admin", "Admin"
    TASK = "task", "Scheduled task"


class IntegrationProvider(models.TextChoices):
    ZENDESK = "zendesk", "Zendesk"
    INTERCOM = "intercom", "Intercom"
    MIXPANEL = "mixpanel", "Mixpanel"
    SENDGRID = "sendgrid", "SendGrid"


class JobRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partially failed"
    FAILED = "failed", "Failed"
