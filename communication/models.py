"""E-mail, workflows, community, advocacy, EBRs, newsletters (TOOLS §5)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from cs_project.core.ids import new_prefixed_id

from .choices import (
    ActionItemStatus,
    AdvocateStatus,
    AdvocateTier,
    CampaignStatus,
    CommunityType,
    ContributionType,
    EbrStatus,
    EbrType,
    EmailBackendName,
    EmailKind,
    EmailStatus,
    EmailTemplateType,
    EnrollmentStatus,
    NewsletterStatus,
    PostStatus,
    RecurrencePattern,
    SuppressionReason,
    WorkflowKind,
    WorkflowRunStatus,
    WorkflowTriggerType,
)

# Public ids (module-level so migrations can serialise them).


def new_campaign_id() -> str:
    return new_prefixed_id("camp")


def new_message_id() -> str:
    return new_prefixed_id("msg")


def new_workflow_id() -> str:
    return new_prefixed_id("wf")


def new_community_id() -> str:
    return new_prefixed_id("com")


def new_member_id() -> str:
    return new_prefixed_id("mem")


def new_post_id() -> str:
    return new_prefixed_id("post")


def new_advocate_id() -> str:
    return new_prefixed_id("adv")


def new_ebr_id() -> str:
    return new_prefixed_id("ebr")


def new_newsletter_id() -> str:
    return new_prefixed_id("nl")


# E-mail ---------------------------------------------------------------------------------------------


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


# Workflows ----------------------------------------------------------------------------------------


class Workflow(models.Model):
    """A trigger → actions rule (``wf_…``) of kind communication, onboarding (per plan) or retention.

    Onboarding workflows carry the plan id in ``source_object_id`` (one per plan and trigger); the client is
    set when the workflow concerns one account only.
    """

    workflow_id = models.CharField(max_length=20, unique=True, default=new_workflow_id, editable=False)
    kind = models.CharField(max_length=20, choices=WorkflowKind.choices, default=WorkflowKind.COMMUNICATION)
    name = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, blank=True, default="")
    trigger_type = models.CharField(max_length=30, choices=WorkflowTriggerType.choices)
    trigger_config = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, help_text="[{type, config}], 1–20 items.")
    delay_minutes = models.PositiveIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(43200)]
    )
    is_active = models.BooleanField(default=True)
    client = models.ForeignKey(
        "customers.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="workflows"
    )
    source_object_id = models.CharField(
        max_length=40, blank=True, default="", help_text="Owning object, e.g. the onb_… plan id."
    )
    execution_count = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        indexes = [
            models.Index(fields=["kind", "is_active", "trigger_type"], name="com_wf_kind_active_idx"),
            models.Index(fields=["source_object_id"], name="com_wf_source_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=WorkflowKind.values), name="com_wf_kind_valid"),
            models.CheckConstraint(
                condition=Q(trigger_type__in=WorkflowTriggerType.values), name="com_wf_trigger_valid"
            ),
            models.CheckConstraint(
                condition=Q(delay_minutes__gte=0, delay_minutes__lte=43200), name="com_wf_delay_range"
            ),
            models.UniqueConstraint(
                Lower("name"), condition=Q(kind=WorkflowKind.COMMUNICATION), name="com_wf_unique_comm_name"
            ),
            models.UniqueConstraint(
                fields=["source_object_id", "trigger_type"],
                condition=Q(kind=WorkflowKind.ONBOARDING),
                name="com_wf_onb_one_per_trigger",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} {self.name}"


class WorkflowEnrollment(models.Model):
    """A client's passage through a workflow; edge-triggered: at most one active enrollment per workflow and
    client, and a new one only after the condition was false at an intermediate evaluation."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="enrollments")
    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="workflow_enrollments"
    )
    status = models.CharField(
        max_length=20, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    condition_true = models.BooleanField(default=True, help_text="Condition state at the last evaluation.")
    enrolled_at = models.DateTimeField()
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        indexes = [models.Index(fields=["client", "enrolled_at"], name="com_enr_client_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EnrollmentStatus.values), name="com_enr_status_valid"
            ),
            models.UniqueConstraint(
                fields=["workflow", "client"],
                condition=Q(status=EnrollmentStatus.ACTIVE),
                name="com_enr_one_active",
            ),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=F("enrolled_at")),
                name="com_enr_exit_after_enrol",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} / {self.client_id} ({self.status})"


class WorkflowRun(models.Model):
    """One execution of a workflow's actions for one trigger (per client), with per-action results."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    enrollment = models.ForeignKey(
        WorkflowEnrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    client = models.ForeignKey(
        "customers.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="workflow_runs"
    )
    status = models.CharField(
        max_length=20, choices=WorkflowRunStatus.choices, default=WorkflowRunStatus.RUNNING
    )
    triggered_at = models.DateTimeField()
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="When delayed actions are due.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger_context = models.JSONField(default=dict, blank=True)
    action_results = models.JSONField(default=list, blank=True, help_text="[{index, type, status, detail}]")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-triggered_at", "-id"]
        indexes = [
            models.Index(fields=["workflow", "triggered_at"], name="com_run_wf_time_idx"),
            models.Index(fields=["client", "triggered_at"], name="com_run_client_time_idx"),
            models.Index(fields=["status", "scheduled_for"], name="com_run_status_sched_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WorkflowRunStatus.values), name="com_run_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(finished_at__gte=F("started_at")),
                name="com_run_finish_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} run {self.pk} ({self.status})"


# Community ----------------------------------------------------------------------------------------


class Community(models.Model):
    """A customer community (``com_…``): forum, user group, advisory board…; names unique, any case."""

    community_id = models.CharField(max_length=20, unique=True, default=new_community_id, editable=False)
    name = models.CharField(max_length=200)
    community_type = models.CharField(max_length=30, choices=CommunityType.choices)
    description = models.TextField(blank=True, default="")
    require_approval = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "communities"
        constraints = [
            models.UniqueConstraint(Lower("name"), name="com_community_unique_name"),
            models.CheckConstraint(
                condition=Q(community_type__in=CommunityType.values), name="com_cmty_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommunityMember(models.Model):
    """A person in a community (``mem_…``), linked to the account they belong to when known."""

    member_id = models.CharField(max_length=20, unique=True, default=new_member_id, editable=False)
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="members")
    client = models.ForeignKey(
        "customers.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="community_members"
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="community_members",
    )
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    joined_at = models.DateTimeField()

    class Meta:
        ordering = ["community", "name"]
        indexes = [models.Index(fields=["client", "joined_at"], name="com_mem_client_joined_idx")]
        constraints = [
            models.UniqueConstraint(F("community"), Lower("email"), name="com_member_unique_email"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class CommunityPost(models.Model):
    """A post by a member (``post_…``); pending until approved when the community requires approval."""

    post_id = models.CharField(max_length=20, unique=True, default=new_post_id, editable=False)
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="posts")
    member = models.ForeignKey(CommunityMember, on_delete=models.CASCADE, related_name="posts")
    content = models.TextField(max_length=10000)
    status = models.CharField(max_length=20, choices=PostStatus.choices, default=PostStatus.PUBLISHED)
    posted_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [
            models.Index(fields=["community", "posted_at"], name="com_post_cmty_time_idx"),
            models.Index(fields=["member", "posted_at"], name="com_post_member_time_idx"),
            models.Index(fields=["status"], name="com_post_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PostStatus.values), name="com_post_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=PostStatus.PUBLISHED) | Q(published_at__isnull=False),
                name="com_post_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} ({self.status})"


# Advocacy -----------------------------------------------------------------------------------------


class Advocate(models.Model):
    """A customer advocate (``adv_…``): one per client and contact e-mail; tier follows lifetime points
    (RULES §17, promotion only)."""

    advocate_id = models.CharField(max_length=20, unique=True, default=new_advocate_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="advocates")
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="advocacies"
    )
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField(max_length=254)
    contact_title = models.CharField(max_length=200, blank=True, default="")
    tier = models.CharField(max_length=20, choices=AdvocateTier.choices, default=AdvocateTier.BRONZE)
    lifetime_points = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=AdvocateStatus.choices, default=AdvocateStatus.ACTIVE)
    enrolled_at = models.DateTimeField()
    promoted_at = models.DateTimeField(null=True, blank=True)
    last_contribution_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-lifetime_points", "contact_name"]
        indexes = [
            models.Index(fields=["client", "enrolled_at"], name="com_adv_client_enrolled_idx"),
            models.Index(fields=["tier"], name="com_adv_tier_idx"),
        ]
        constraints = [
            models.UniqueConstraint(F("client"), Lower("contact_email"), name="com_adv_unique_client_email"),
            models.CheckConstraint(condition=Q(lifetime_points__gte=0), name="com_adv_points_non_negative"),
            models.CheckConstraint(condition=Q(tier__in=AdvocateTier.values), name="com_adv_tier_valid"),
            models.CheckConstraint(
                condition=Q(status__in=AdvocateStatus.values), name="com_adv_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.advocate_id} {self.contact_name} ({self.tier})"


class AdvocateContribution(models.Model):
    """An entry of an advocate's points ledger: a contribution or a manual award."""

    advocate = models.ForeignKey(Advocate, on_delete=models.CASCADE, related_name="contributions")
    contribution_type = models.CharField(max_length=30, choices=ContributionType.choices)
    details = models.JSONField(default=dict, blank=True, help_text="≤ 5,000 characters serialised.")
    points = models.PositiveIntegerField()
    contributed_at = models.DateTimeField()
    recorded_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["-contributed_at", "-id"]
        indexes = [
            models.Index(fields=["advocate", "contributed_at"], name="com_contrib_adv_time_idx"),
            models.Index(fields=["contribution_type", "contributed_at"], name="com_contrib_type_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="com_contrib_points_non_negative"),
            models.CheckConstraint(
                condition=Q(contribution_type__in=ContributionType.values), name="com_contrib_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contribution_type} +{self.points}"


# Executive business reviews -----------------------------------------------------------------------


class ExecutiveReview(models.Model):
    """An executive business review (``ebr_…``): schedule, attendees, stored preparation package and outcome.

    A completed EBR with rating ≥ 4 feeds adoption milestone m7; cadence checks (COM-01) read completed ones.
    """

    ebr_id = models.CharField(max_length=20, unique=True, default=new_ebr_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="executive_reviews")
    ebr_type = models.CharField(max_length=20, choices=EbrType.choices, default=EbrType.QUARTERLY)
    status = models.CharField(max_length=20, choices=EbrStatus.choices, default=EbrStatus.SCHEDULED)
    scheduled_date = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(15), MaxValueValidator(480)]
    )
    customer_attendees = models.JSONField(default=list, blank=True)
    vendor_attendees = models.JSONField(default=list, blank=True)
    agenda_items = models.JSONField(default=list, blank=True)
    objectives = models.JSONField(default=list, blank=True)
    prepared = models.BooleanField(default=False)
    prepared_at = models.DateTimeField(null=True, blank=True)
    preparation_package = models.JSONField(null=True, blank=True)
    readiness = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    satisfaction_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    notes = models.TextField(max_length=5000, blank=True, default="")
    previous_review = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_date", "-id"]
        indexes = [
            models.Index(fields=["client", "scheduled_date"], name="com_ebr_client_date_idx"),
            models.Index(fields=["status", "scheduled_date"], name="com_ebr_status_date_idx"),
            models.Index(fields=["client", "completed_at"], name="com_ebr_client_completed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction_rating__isnull=True)
                | Q(satisfaction_rating__gte=1, satisfaction_rating__lte=5),
                name="com_ebr_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=15, duration_minutes__lte=480),
                name="com_ebr_duration_15_480",
            ),
            models.CheckConstraint(
                condition=Q(readiness__isnull=True) | Q(readiness__gte=0, readiness__lte=1),
                name="com_ebr_readiness_0_1",
            ),
            models.CheckConstraint(condition=Q(status__in=EbrStatus.values), name="com_ebr_status_valid"),
            models.CheckConstraint(condition=Q(ebr_type__in=EbrType.values), name="com_ebr_type_valid"),
            models.CheckConstraint(
                condition=~Q(status=EbrStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="com_ebr_completed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(prepared=False) | Q(prepared_at__isnull=False), name="com_ebr_prepared_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ebr_id} {self.ebr_type} {self.scheduled_date:%Y-%m-%d} ({self.status})"


class ExecutiveReviewActionItem(models.Model):
    """A follow-up agreed in an EBR; open items are carried into the next EBR's preparation package."""

    review = models.ForeignKey(ExecutiveReview, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    owner = models.CharField(max_length=200, blank=True, default="")
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["review", "due_date", "id"]
        indexes = [models.Index(fields=["status", "due_date"], name="com_ebr_item_status_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ActionItemStatus.values), name="com_ebr_item_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=ActionItemStatus.DONE) | Q(completed_at__isnull=False),
                name="com_ebr_item_done_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


# Newsletters --------------------------------------------------------------------------------------


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
