"""communication models: email."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from cs_project.core.ids import new_prefixed_id

from ..choices import (
    CampaignStatus,
    EmailBackendName,
    EmailKind,
    EmailStatus,
    EmailTemplateType,
    NewsletterStatus,
    RecurrencePattern,
    SuppressionReason,
)


def new_campaign_id() -> str:
    return new_prefixed_id("camp")


def new_message_id() -> str:
    return new_prefixed_id("msg")


def new_newsletter_id() -> str:
    return new_prefixed_id("nl")


class EmailCampaign(models.Model):
    """A targeted e-mail campaign (``camp_…``, TOOLS §5.1): content, selectors and schedule; one EmailMessage
    per recipient is created with it."""

    campaign_id = models.CharField(max_length=20, unique=True, default=new_campaign_id, editable=False)
    name = models.CharField(max_length=200)
    template_type = models.CharField(max_length=30, choices=EmailTemplateType.choices)
    subject_line = models.CharField(max_length=300)
    body_text = models.TextField(max_length=20000)
    body_html = models.TextField(max_length=100000, blank=True, default="")
    sender_email = models.EmailField(max_length=254)
    selectors = models.JSONField(
        default=dict, blank=True, help_text="target_client_ids / segment / tier used."
    )
    personalization_tokens = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    scheduled_send_time = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
    created_by = models.CharField(max_length=200, default="CS Team")
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_send_time"], name="com_camp_status_sched_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="com_camp_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(template_type__in=EmailTemplateType.values), name="com_camp_template_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=CampaignStatus.SCHEDULED) | Q(scheduled_send_time__isnull=False),
                name="com_camp_scheduled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.name}"


class EmailMessage(models.Model):
    """One e-mail to one recipient (``msg_…``): the unit of dispatch, suppression, frequency cap and tracking.

    ``client`` is empty only for internal mail that concerns no account. Opens/clicks stay null when
    tracking is unavailable (RULES §17).
    """

    message_id = models.CharField(max_length=20, unique=True, default=new_message_id, editable=False)
    client = models.ForeignKey(
        "customers.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="email_messages"
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="email_messages"
    )
    campaign = models.ForeignKey(
        EmailCampaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    newsletter = models.ForeignKey(
        "Newsletter", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    workflow_run = models.ForeignKey(
        "WorkflowRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    kind = models.CharField(max_length=30, choices=EmailKind.choices, default=EmailKind.CAMPAIGN)
    is_internal = models.BooleanField(
        default=False, help_text="Internal mail (CSMs, product team): not capped."
    )
    sender_email = models.EmailField(max_length=254, blank=True, default="")
    recipient_email = models.EmailField(max_length=254)
    recipient_name = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=300)
    body_text = models.TextField(max_length=20000)
    body_html = models.TextField(max_length=100000, blank=True, default="")
    status = models.CharField(max_length=20, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    reason = models.CharField(
        max_length=100, blank=True, default="", help_text="frequency_cap, suppressed, no_contact_email, …"
    )
    error = models.TextField(blank=True, default="")
    backend = models.CharField(max_length=10, choices=EmailBackendName.choices, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="")
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("mcp_read", "Can call read-only communication tools"),
            ("mcp_write", "Can call mutating communication tools"),
        ]
        indexes = [
            models.Index(fields=["client", "sent_at"], name="com_msg_client_sent_idx"),
            models.Index(fields=["recipient_email", "sent_at"], name="com_msg_recipient_sent_idx"),
            models.Index(fields=["status", "scheduled_for"], name="com_msg_status_sched_idx"),
            models.Index(
                fields=["client", "clicked_at"],
                condition=Q(clicked_at__isnull=False),
                name="com_msg_clicks_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EmailStatus.values), name="com_msg_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=EmailKind.values), name="com_msg_kind_valid"),
            models.CheckConstraint(
                condition=~Q(status=EmailStatus.SENT) | Q(sent_at__isnull=False), name="com_msg_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status=EmailStatus.SUPPRESSED) | ~Q(reason=""),
                name="com_msg_suppressed_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(opened_at__isnull=True) | Q(sent_at__isnull=False), name="com_msg_open_after_send"
            ),
            models.CheckConstraint(
                condition=Q(clicked_at__isnull=True) | Q(sent_at__isnull=False),
                name="com_msg_click_after_send",
            ),
            models.CheckConstraint(
                condition=Q(client__isnull=False) | Q(is_internal=True), name="com_msg_client_unless_internal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.recipient_email} ({self.status})"


class EmailSuppression(models.Model):
    """An address that never receives non-transactional mail again (unsubscribe, bounce, complaint)."""

    email = models.EmailField(max_length=254)
    reason = models.CharField(
        max_length=20, choices=SuppressionReason.choices, default=SuppressionReason.UNSUBSCRIBED
    )
    source = models.CharField(max_length=200, blank=True, default="", help_text="Link, webhook or person.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="com_suppression_unique_email"),
            models.CheckConstraint(
                condition=Q(reason__in=SuppressionReason.values), name="com_supp_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"


class Newsletter(models.Model):
    """One edition (``nl_…``) of a newsletter series (``name``); editions are unique per series.

    Recurring series create the next edition when one is sent (RULES §17).
    """

    newsletter_id = models.CharField(max_length=20, unique=True, default=new_newsletter_id, editable=False)
    name = models.CharField(max_length=200, help_text="Series name.")
    edition_number = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    subject_line = models.CharField(max_length=300)
    sections = models.JSONField(default=list, help_text="1–30 sections {type, title, body, url?}.")
    status = models.CharField(max_length=20, choices=NewsletterStatus.choices, default=NewsletterStatus.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_to_all = models.BooleanField(default=True)
    target_tiers = models.JSONField(default=list, blank=True)
    exclude_client_ids = models.JSONField(default=list, blank=True)
    is_recurring = models.BooleanField(default=False)
    recurrence_pattern = models.CharField(
        max_length=20, choices=RecurrencePattern.choices, blank=True, default=""
    )
    previous_edition = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_edition"
    )
    created_by = models.CharField(max_length=200, default="CS Team")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-edition_number"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="com_nl_status_sched_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(edition_number__gte=1), name="com_nl_edition_positive"),
            models.UniqueConstraint(Lower("name"), F("edition_number"), name="com_nl_unique_edition"),
            models.CheckConstraint(
                condition=Q(status__in=NewsletterStatus.values), name="com_nl_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_recurring=False, recurrence_pattern="")
                | Q(is_recurring=True, recurrence_pattern__in=RecurrencePattern.values),
                name="com_nl_recurrence_pattern",
            ),
            models.CheckConstraint(
                condition=~Q(status=NewsletterStatus.SCHEDULED) | Q(scheduled_at__isnull=False),
                name="com_nl_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=NewsletterStatus.SENT) | Q(sent_at__isnull=False),
                name="com_nl_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.edition_number}"


class NewsletterSubscription(models.Model):
    """A client's (or one address's) subscription to a newsletter series; empty ``series`` = every newsletter,
    empty ``email`` = every contact of the client. Unsubscribing sets ``unsubscribed_at`` (row kept)."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="newsletter_subscriptions"
    )
    series = models.CharField(
        max_length=200, blank=True, default="", help_text="Newsletter name; empty = all."
    )
    email = models.EmailField(max_length=254, blank=True, default="", help_text="Empty = all contacts.")
    subscribed_at = models.DateTimeField()
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["client", "series", "email"]
        indexes = [models.Index(fields=["client", "unsubscribed_at"], name="com_nlsub_client_unsub_idx")]
        constraints = [
            models.UniqueConstraint(
                F("client"), Lower("series"), Lower("email"), name="com_nlsub_unique_client_series_email"
            ),
            models.CheckConstraint(
                condition=Q(unsubscribed_at__isnull=True) | Q(unsubscribed_at__gte=F("subscribed_at")),
                name="com_nlsub_unsub_after_sub",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.series or 'all newsletters'} {self.email or 'all contacts'}"

    @property
    def is_subscribed(self) -> bool:
        return self.unsubscribed_at is None
