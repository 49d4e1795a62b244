"""Enumerations owned by the communication app (TOOLS §5, RULES §17); shared ones: customers/choices.py."""

from django.db import models


class EmailTemplateType(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    PRODUCT_UPDATE = "product_update", "Product update"
    FEATURE_ANNOUNCEMENT = "feature_announcement", "Feature announcement"
    HEALTH_CHECK = "health_check", "Health check"
    RENEWAL_REMINDER = "renewal_reminder", "Renewal reminder"
    UPSELL_OPPORTUNITY = "upsell_opportunity", "Upsell opportunity"
    EVENT_INVITATION = "event_invitation", "Event invitation"
    TRAINING_INVITATION = "training_invitation", "Training invitation"
    FEEDBACK_REQUEST = "feedback_request", "Feedback request"
    SUCCESS_STORY = "success_story", "Success story"
    NEWSLETTER = "newsletter", "Newsletter"
    CUSTOM = "custom", "Custom"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class EmailStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    PENDING_REVIEW = "pending_review", "Pending review"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    CANCELLED = "cancelled", "Cancelled"


class EmailKind(models.TextChoices):
    """Why a message exists; internal and transactional mail are not frequency-capped (RULES §17)."""

    CAMPAIGN = "campaign", "Campaign"
    NEWSLETTER = "newsletter", "Newsletter"
    WORKFLOW = "workflow", "Workflow"
    TRAINING_INVITATION = "training_invitation", "Training invitation"
    RENEWAL_REMINDER = "renewal_reminder", "Renewal reminder"
    SURVEY = "survey", "Survey"
    NOTIFICATION = "notification", "Notification"
    INTERNAL = "internal", "Internal"
    TRANSACTIONAL = "transactional", "Transactional"


class EmailBackendName(models.TextChoices):
    SENDGRID = "sendgrid", "SendGrid"
    DJANGO = "django", "Django e-mail backend"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    MANUAL = "manual", "Added manually"


class WorkflowKind(models.TextChoices):
    COMMUNICATION = "communication", "Communication"
    ONBOARDING = "onboarding", "Onboarding"
    RETENTION = "retention", "Retention"


class WorkflowTriggerType(models.TextChoices):
    """Trigger types of all kinds: communication (TOOLS §5.2), onboarding (§2.2), retention (§4.7)."""

    # communication
    TIME_BASED = "time_based", "Time-based"
    EVENT_BASED = "event_based", "Event-based"
    BEHAVIOR_BASED = "behavior_based", "Behaviour-based"
    HEALTH_SCORE = "health_score", "Health score"
    MILESTONE = "milestone", "Milestone"
    CONTRACT_EVENT = "contract_event", "Contract event"
    USAGE_PATTERN = "usage_pattern", "Usage pattern"
    CUSTOM = "custom", "Custom"
    # onboarding
    MILESTONE_COMPLETION = "milestone_completion", "Milestone completion"
    TRAINING_COMPLETION = "training_completion", "Training completion"
    INTEGRATION_SUCCESS = "integration_success", "Integration success"
    USAGE_MILESTONE_REACHED = "usage_milestone_reached", "Usage milestone reached"
    TASK_OVERDUE = "task_overdue", "Task overdue"
    BLOCKER_IDENTIFIED = "blocker_identified", "Blocker identified"
    HEALTH_SCORE_CHANGE = "health_score_change", "Health score change"
    # retention
    USAGE_DECLINE = "usage_decline", "Usage decline"
    NPS_DETRACTOR = "nps_detractor", "NPS detractor"
    RENEWAL_RISK = "renewal_risk", "Renewal risk"


class WorkflowActionType(models.TextChoices):
    SEND_EMAIL = "send_email", "Send e-mail"
    CREATE_TASK = "create_task", "Create task"
    UPDATE_HEALTH_SCORE = "update_health_score", "Update health score"
    CREATE_TICKET = "create_ticket", "Create ticket"
    SCHEDULE_MEETING = "schedule_meeting", "Schedule meeting"
    SEND_IN_APP_NOTIFICATION = "send_in_app_notification", "Send in-app notification"
    TRIGGER_WEBHOOK = "trigger_webhook", "Trigger webhook"
    SEND_SLACK_MESSAGE = "send_slack_message", "Send Slack message (unavailable)"
    SEND_SMS = "send_sms", "Send SMS (unavailable)"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


class WorkflowRunStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled (delayed)"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partially failed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class CommunityType(models.TextChoices):
    FORUM = "forum", "Forum"
    SLACK_CHANNEL = "slack_channel", "Slack channel"
    USER_GROUP = "user_group", "User group"
    ADVISORY_BOARD = "advisory_board", "Advisory board"
    BETA_PROGRAM = "beta_program", "Beta programme"
    CHAMPIONS_PROGRAM = "champions_program", "Champions programme"


class PostStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    PUBLISHED = "published", "Published"
    REJECTED = "rejected", "Rejected"
    REMOVED = "removed", "Removed"


class AdvocateTier(models.TextChoices):
    """Advocate tier; the order of declaration is the order of the tiers (thresholds: RULES §17 [S])."""

    BRONZE = "bronze", "Bronze"
    SILVER = "silver", "Silver"
    GOLD = "gold", "Gold"
    PLATINUM = "platinum", "Platinum"
    CHAMPION = "champion", "Champion"

    @classmethod
    def rank(cls, value: str) -> int:
        return list(cls.values).index(value)


class AdvocateStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class ContributionType(models.TextChoices):
    """Contribution types of RULES §17, plus ``award`` for points granted by ``award_points``."""

    CASE_STUDY = "case_study", "Case study"
    REFERENCE = "reference", "Reference"
    REVIEW = "review", "Review"
    TESTIMONIAL = "testimonial", "Testimonial"
    SPEAKING_ENGAGEMENT = "speaking_engagement", "Speaking engagement"
    REFERRAL = "referral", "Referral"
    AWARD = "award", "Points award"


class EbrType(models.TextChoices):
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUAL = "semi_annual", "Semi-annual"
    ANNUAL = "annual", "Annual"
    AD_HOC = "ad_hoc", "Ad hoc"
    RENEWAL = "renewal", "Renewal"
    EXPANSION = "expansion", "Expansion"


class EbrStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class NewsletterStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class RecurrencePattern(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


class NewsletterSectionType(models.TextChoices):
    ANNOUNCEMENT = "announcement", "Announcement"
    FEATURE_HIGHLIGHT = "feature_highlight", "Feature highlight"
    TIP = "tip", "Tip"
    SUCCESS_STORY = "success_story", "Success story"
    EVENT = "event", "Event"
    BLOG_POST = "blog_post", "Blog post"
    RESOURCE = "resource", "Resource"
    UPDATE = "update", "Update"
    CUSTOM = "custom", "Custom"
