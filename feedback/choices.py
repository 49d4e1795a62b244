"""Enumerations owned by the feedback app (RULES §2, §13). Priority and sentiment live in customers."""

from django.db import models


class FeedbackType(models.TextChoices):
    """Feedback type (RULES §2)."""

    NPS = "nps", "NPS"
    CSAT = "csat", "CSAT"
    CES = "ces", "CES"
    FEATURE_REQUEST = "feature_request", "Feature request"
    BUG_REPORT = "bug_report", "Bug report"
    PRODUCT_FEEDBACK = "product_feedback", "Product feedback"
    SERVICE_FEEDBACK = "service_feedback", "Service feedback"
    GENERAL = "general", "General"


class FeedbackStatus(models.TextChoices):
    """Handling status of a feedback item (RULES §2)."""

    NEW = "new", "New"
    REVIEWED = "reviewed", "Reviewed"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    WONT_FIX = "wont_fix", "Won't fix"


#: Statuses counted as done (``critical_issues`` lists items not resolved/closed).
DONE_FEEDBACK_STATUSES = (FeedbackStatus.RESOLVED, FeedbackStatus.CLOSED, FeedbackStatus.WONT_FIX)


class VocLoopStatus(models.TextChoices):
    """Voice-of-customer loop (RULES §13.5): received → acknowledged → actioned → closed_loop."""

    RECEIVED = "received", "Received"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ACTIONED = "actioned", "Actioned"
    CLOSED_LOOP = "closed_loop", "Closed loop"


class RoutingTeam(models.TextChoices):
    """Team a feedback item is routed to (RULES §13.5); e-mail addresses come from ``team_emails``."""

    CS_LEADERSHIP = "cs_leadership", "CS leadership"
    PRODUCT = "product", "Product"
    SUPPORT = "support", "Support"
    FINANCE = "finance", "Finance"
    CS_TEAM = "cs_team", "CS team"


class SurveyType(models.TextChoices):
    """Survey type; the value upper-cased is the public id prefix (``NPS-<n>``)."""

    NPS = "nps", "NPS"
    CSAT = "csat", "CSAT"
    CES = "ces", "CES"


#: Score range per survey type (RULES §13.1), inclusive.
SURVEY_SCORE_RANGES = {
    SurveyType.NPS: (0, 10),
    SurveyType.CSAT: (1, 5),
    SurveyType.CES: (1, 7),
}


class NpsCategory(models.TextChoices):
    """NPS category of a 0–10 score (RULES §13.1); derived from the score, never stored."""

    DETRACTOR = "detractor", "Detractor (0–6)"
    PASSIVE = "passive", "Passive (7–8)"
    PROMOTER = "promoter", "Promoter (9–10)"


class SurveySource(models.TextChoices):
    """Where a survey response came from (ticket ratings count as CSAT, TOOLS §6.1)."""

    SURVEY = "survey", "Survey"
    FEEDBACK = "feedback", "collect_feedback"
    TICKET = "ticket", "Ticket rating"
    API = "api", "REST API"
    IMPORT = "import", "Import"


class FollowUpStatus(models.TextChoices):
    """Follow-up of a survey response (RULES §13.2): detractors need a contact within 2 days."""

    NOT_REQUIRED = "not_required", "Not required"
    REQUIRED = "required", "Follow-up required"
    CONTACTED = "contacted", "Contacted"
    CLOSED = "closed", "Closed"


class InvitationSource(models.TextChoices):
    """Who recorded a survey invitation (RULES §13.1)."""

    CES_JOB = "ces_job", "CES job (closed ticket)"
    CAMPAIGN = "campaign", "E-mail campaign"
    API = "api", "REST API"
    ADMIN = "admin", "Admin"


class InsightType(models.TextChoices):
    """``insight_type`` of ``share_product_insights`` (TOOLS §8.3)."""

    FEATURE_REQUEST = "feature_request", "Feature request"
    BUG_REPORT = "bug_report", "Bug report"
    USABILITY_FEEDBACK = "usability_feedback", "Usability feedback"
    PERFORMANCE_FEEDBACK = "performance_feedback", "Performance feedback"
    INTEGRATION_REQUEST = "integration_request", "Integration request"
    GENERAL_PRODUCT = "general_product", "General product"


class InsightStatus(models.TextChoices):
    """Product insight status: ``submitted`` on creation, then the roadmap statuses (TOOLS §8.6)."""

    SUBMITTED = "submitted", "Submitted"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    SHIPPED = "shipped", "Shipped"
    DECLINED = "declined", "Declined"


class VocReportType(models.TextChoices):
    """VoC report window (TOOLS §8.6): weekly 7 d, monthly 30 d, quarterly 90 d, annual 365 d."""

    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUAL = "annual", "Annual"


VOC_REPORT_DAYS = {
    VocReportType.WEEKLY: 7,
    VocReportType.MONTHLY: 30,
    VocReportType.QUARTERLY: 90,
    VocReportType.ANNUAL: 365,
}


class VocAudience(models.TextChoices):
    """``target_audience`` of a VoC report (TOOLS §8.6)."""

    EXECUTIVE = "executive", "Executive"
    PRODUCT = "product", "Product"
    CS_TEAM = "cs_team", "CS team"
    ALL = "all", "All"
