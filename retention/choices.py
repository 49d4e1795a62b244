"""Enumerations and fixed tables owned by the retention app (RULES §11).

Shared enumerations live in ``customers/choices.py``.
"""

from django.db import models

from customers.choices import Severity


class CampaignType(models.TextChoices):
    """Retention campaign types (RULES §11.2, TOOLS §4.2)."""

    PROACTIVE_OUTREACH = "proactive_outreach", "Proactive outreach"
    VALUE_REINFORCEMENT = "value_reinforcement", "Value reinforcement"
    SUCCESS_PLANNING = "success_planning", "Success planning"
    EXECUTIVE_ENGAGEMENT = "executive_engagement", "Executive engagement"
    RE_ONBOARDING = "re_onboarding", "Re-onboarding"
    RENEWAL_SAVE = "renewal_save", "Renewal save"


class InterventionLevel(models.TextChoices):
    """How hard a campaign pushes (RULES §11.2)."""

    LIGHT = "light", "Light"
    STANDARD = "standard", "Standard"
    AGGRESSIVE = "aggressive", "Aggressive"


class CampaignStatus(models.TextChoices):
    """Lifecycle of a retention campaign; at most one ``active`` per client and type."""

    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class CampaignTrigger(models.TextChoices):
    """What launched a campaign."""

    MANUAL = "manual", "Manual"
    AUTOMATION = "automation", "Retention automation"


class CampaignOutcome(models.TextChoices):
    """Outcome set by ``churn_risk_monitor`` when the window ends (RULES §11.2). Empty = pending."""

    RETAINED = "retained", "Retained"
    NOT_IMPROVED = "not_improved", "Not improved"
    CHURNED = "churned", "Churned"


class RetentionActionType(models.TextChoices):
    """Campaign actions of the templates (RULES §11.2) and the automation chain (RULES §11.3)."""

    CSM_CHECK_IN_CALL = "csm_check_in_call", "CSM check-in call"
    HEALTH_REVIEW = "health_review", "Health review"
    VALUE_SUMMARY_PREPARED = "value_summary_prepared", "Value summary prepared"
    ROI_REVIEW_MEETING = "roi_review_meeting", "ROI review meeting"
    SUCCESS_PLAN_WORKSHOP = "success_plan_workshop", "Success plan workshop"
    SUCCESS_PLAN_DOCUMENTED = "success_plan_documented", "Success plan documented"
    EXEC_SPONSOR_OUTREACH = "exec_sponsor_outreach", "Executive sponsor outreach"
    EXECUTIVE_REVIEW_SCHEDULED = "executive_review_scheduled", "Executive review scheduled"
    RE_ONBOARDING_PLAN_CREATED = "re_onboarding_plan_created", "Re-onboarding plan created"
    REFRESHER_TRAINING = "refresher_training", "Refresher training"
    RENEWAL_RISK_REVIEW = "renewal_risk_review", "Renewal risk review"
    COMMERCIAL_OPTIONS_PREPARED = "commercial_options_prepared", "Commercial options prepared"
    DECISION_MAKER_MEETING = "decision_maker_meeting", "Decision-maker meeting"
    WEEKLY_CHECK_IN = "weekly_check_in", "Weekly check-in"
    SCHEDULE_CALL = "schedule_call", "Schedule call"


class RetentionActionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class RetentionTriggerType(models.TextChoices):
    """Trigger of a retention automation (communication.Workflow of kind ``retention``, RULES §11.3)."""

    HEALTH_SCORE = "health_score", "Health score below threshold"
    USAGE_DECLINE = "usage_decline", "Usage decline"
    NPS_DETRACTOR = "nps_detractor", "NPS detractor"
    RENEWAL_RISK = "renewal_risk", "Renewal risk"


class AutomationCampaignTemplate(models.TextChoices):
    """``campaign_template`` argument of ``automate_retention_campaigns`` (RULES §11.3)."""

    STANDARD_INTERVENTION = "standard_intervention", "Standard intervention"
    LIGHT_TOUCH = "light_touch", "Light touch"
    VALUE_REINFORCEMENT = "value_reinforcement", "Value reinforcement"
    EXECUTIVE_SAVE = "executive_save", "Executive save"
    RENEWAL_SAVE = "renewal_save", "Renewal save"


#: RULES §11.3: automation template → (campaign type, intervention level).
AUTOMATION_TEMPLATE_CAMPAIGNS: dict[str, tuple[str, str]] = {
    AutomationCampaignTemplate.STANDARD_INTERVENTION: (
        CampaignType.PROACTIVE_OUTREACH,
        InterventionLevel.STANDARD,
    ),
    AutomationCampaignTemplate.LIGHT_TOUCH: (CampaignType.PROACTIVE_OUTREACH, InterventionLevel.LIGHT),
    AutomationCampaignTemplate.VALUE_REINFORCEMENT: (
        CampaignType.VALUE_REINFORCEMENT,
        InterventionLevel.STANDARD,
    ),
    AutomationCampaignTemplate.EXECUTIVE_SAVE: (
        CampaignType.EXECUTIVE_ENGAGEMENT,
        InterventionLevel.AGGRESSIVE,
    ),
    AutomationCampaignTemplate.RENEWAL_SAVE: (CampaignType.RENEWAL_SAVE, InterventionLevel.AGGRESSIVE),
}


class EscalationStatus(models.TextChoices):
    """open → in_progress → resolved → closed (RULES §11.4)."""

    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_ESCALATION_STATUSES = (EscalationStatus.OPEN, EscalationStatus.IN_PROGRESS)


class EscalationSource(models.TextChoices):
    """Where an escalation was opened from."""

    MANUAL = "manual", "Manual"
    TICKET = "ticket", "Support ticket"
    SLA_TRACKER = "sla_tracker", "SLA tracker (auto-escalation)"
    AUTOMATION = "automation", "Retention automation"


#: Escalation severities: the shared Severity enum without ``info`` (RULES §11.4).
ESCALATION_SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
ESCALATION_SEVERITY_CHOICES = [(s.value, s.label) for s in ESCALATION_SEVERITIES]

#: Resolution SLA in hours per severity (RULES §11.4).
ESCALATION_SLA_HOURS: dict[str, int] = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 24,
    Severity.MEDIUM: 24,
    Severity.LOW: 24,
}

#: Severity of an escalation opened from a ticket (RULES §11.4).
TICKET_PRIORITY_TO_SEVERITY: dict[str, str] = {
    "P0": Severity.CRITICAL,
    "P1": Severity.HIGH,
    "P2": Severity.MEDIUM,
    "P3": Severity.LOW,
    "P4": Severity.LOW,
}

#: Initial resolution plan: (step, due as a fraction of the SLA from ``opened_at``) (RULES §11.4).
ESCALATION_PLAN_STEPS: tuple[tuple[str, float], ...] = (
    ("acknowledge_with_customer", 0.1),
    ("root_cause_analysis", 0.5),
    ("remediation_in_place", 0.8),
    ("customer_update", 0.9),
    ("closure_review", 1.0),
)


class ChurnReason(models.TextChoices):
    """Churn reason taxonomy (RULES §11.5)."""

    LOW_ADOPTION = "low_adoption", "Low adoption"
    SUPPORT_QUALITY = "support_quality", "Support quality"
    DISSATISFACTION = "dissatisfaction", "Dissatisfaction"
    PAYMENT = "payment", "Payment"
    CHAMPION_CHANGE = "champion_change", "Champion change"
    PRICING = "pricing", "Pricing"
    COMPETITOR = "competitor", "Competitor"
    FEATURE_GAP = "feature_gap", "Feature gap"
    COMPANY_CHANGE = "company_change", "Company change"
    OTHER = "other", "Other"
