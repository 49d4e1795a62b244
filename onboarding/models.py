"""Onboarding plans from the milestone template (RULES §9.1), training and certification (RULES §9.3)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from cs_project.core.ids import new_prefixed_id
from customers.choices import Tier

from .choices import (
    AutomationTrigger,
    CertificationLevel,
    CertificationStatus,
    MilestoneInclusion,
    MilestoneStatus,
    PlanStatus,
    ProgressStatus,
    SuccessCriterionStatus,
    TechnicalComplexity,
    TrainingFormat,
    TrainingSessionStatus,
)

# Public ids (module-level so migrations can serialise them).


def new_plan_id() -> str:
    return new_prefixed_id("onb")


def new_automation_id() -> str:
    return new_prefixed_id("wf")


def new_training_module_id() -> str:
    return new_prefixed_id("train")


def new_training_session_id() -> str:
    return new_prefixed_id("sess")


def new_certification_id() -> str:
    return new_prefixed_id("cert")


def default_notification_preferences() -> dict:
    """TOOLS §2.2 default ``notification_preferences``."""
    return {"email": True, "in_app": False, "slack": False, "frequency": "immediate", "recipients": ["csm"]}


def default_automation_triggers() -> list:
    return list(AutomationTrigger.values)


RATE_0_1 = [MinValueValidator(0), MaxValueValidator(1)]


class MilestoneTemplate(models.Model):
    """One row of the onboarding milestone template (RULES §9.1) [DB]: seeded M1–M6, editable in the admin.

    ``template_week`` is null for milestones due in the final plan week (``is_final``). ``success_rule`` is
    the machine-readable code of the measured criterion the progress evaluator applies.
    """

    key = models.CharField(max_length=10, unique=True, help_text="M1 … M6")
    name = models.CharField(max_length=200)
    sequence = models.PositiveSmallIntegerField(default=0)
    template_week = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="Week of a 4-week template; empty when the milestone is due in the final plan week.",
    )
    is_final = models.BooleanField(default=False, help_text="Due in the last week of the plan.")
    estimated_hours = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    inclusion = models.CharField(
        max_length=20, choices=MilestoneInclusion.choices, default=MilestoneInclusion.ALWAYS
    )
    depends_on = models.JSONField(default=list, blank=True, help_text="Keys of prerequisite milestones.")
    tasks = models.JSONField(default=list, blank=True, help_text="Task titles created with the milestone.")
    success_criteria = models.CharField(max_length=300, help_text="Measured success criterion, as text.")
    success_rule = models.CharField(
        max_length=50, help_text="Code of the measured criterion, e.g. m1_achieved."
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sequence", "key"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(is_final=True) & Q(template_week__isnull=True))
                | (
                    Q(is_final=False)
                    & Q(template_week__isnull=False, template_week__gte=1, template_week__lte=4)
                ),
                name="onb_tpl_week_or_final",
            ),
            models.CheckConstraint(condition=Q(estimated_hours__gte=1), name="onb_tpl_hours_positive"),
            models.CheckConstraint(
                condition=Q(inclusion__in=MilestoneInclusion.values), name="onb_tpl_inclusion_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"


class OnboardingPlan(models.Model):
    """A client's onboarding plan (``onb_…``): milestones from the template, dates, hours and cached progress.

    ``progress_status``, ``completion_pct`` and ``expected_pct`` are a cache of RULES §9.2 written by the
    daily ``onboarding_progress`` job; tools evaluate them live. ``last_progress_at`` is the latest milestone
    or task status change (the "stuck" clock).
    """

    plan_id = models.CharField(max_length=20, unique=True, default=new_plan_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="onboarding_plans")
    plan_name = models.CharField(max_length=200)
    product_tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.PROFESSIONAL)
    team_size = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    technical_complexity = models.CharField(
        max_length=10, choices=TechnicalComplexity.choices, default=TechnicalComplexity.MEDIUM
    )
    customer_goals = models.JSONField(default=list, help_text="1–20 goals, each ≤ 300 characters.")
    start_date = models.DateField()
    target_completion_date = models.DateField()
    timeline_weeks = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    total_estimated_hours = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=PlanStatus.choices, default=PlanStatus.IN_PROGRESS)
    progress_status = models.CharField(
        max_length=20, choices=ProgressStatus.choices, default=ProgressStatus.ON_TRACK
    )
    completion_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    expected_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    last_progress_at = models.DateTimeField(null=True, blank=True)
    progress_evaluated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        permissions = [
            ("mcp_read", "Can call read-only onboarding tools"),
            ("mcp_write", "Can call mutating onboarding tools"),
        ]
        indexes = [
            models.Index(fields=["client", "start_date"], name="onb_plan_client_start_idx"),
            models.Index(fields=["status", "target_completion_date"], name="onb_plan_status_target_idx"),
            models.Index(fields=["product_tier", "status"], name="onb_plan_tier_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_completion_date__gt=F("start_date")), name="onb_plan_target_after_start"
            ),
            models.CheckConstraint(
                condition=Q(timeline_weeks__gte=1, timeline_weeks__lte=12), name="onb_plan_weeks_1_12"
            ),
            models.CheckConstraint(
                condition=Q(team_size__gte=1, team_size__lte=10000), name="onb_plan_team_size"
            ),
            models.CheckConstraint(
                condition=Q(total_estimated_hours__gte=0), name="onb_plan_hours_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(completion_pct__gte=0, completion_pct__lte=100), name="onb_plan_completion_0_100"
            ),
            models.CheckConstraint(
                condition=Q(expected_pct__gte=0, expected_pct__lte=100), name="onb_plan_expected_0_100"
            ),
            models.CheckConstraint(condition=Q(status__in=PlanStatus.values), name="onb_plan_status_valid"),
            models.CheckConstraint(condition=Q(product_tier__in=Tier.values), name="onb_plan_tier_valid"),
            models.CheckConstraint(
                condition=Q(technical_complexity__in=TechnicalComplexity.values),
                name="onb_plan_complexity_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=PlanStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="onb_plan_completed_has_time",
            ),
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=[PlanStatus.DRAFT, PlanStatus.IN_PROGRESS]),
                name="onb_plan_one_open_per_client",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.plan_name}"


class OnboardingMilestone(models.Model):
    """A milestone of one plan, copied from the template with its due date and hours (RULES §9.1)."""

    plan = models.ForeignKey(OnboardingPlan, on_delete=models.CASCADE, related_name="milestones")
    template = models.ForeignKey(
        MilestoneTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="milestones"
    )
    key = models.CharField(max_length=10)
    name = models.CharField(max_length=200)
    sequence = models.PositiveSmallIntegerField(default=0)
    due_date = models.DateField()
    estimated_hours = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=MilestoneStatus.choices, default=MilestoneStatus.NOT_STARTED
    )
    depends_on = models.JSONField(default=list, blank=True, help_text="Keys of prerequisite milestones.")
    success_criteria = models.CharField(max_length=300, blank=True, default="")
    blockers = models.TextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "sequence", "key"]
        indexes = [models.Index(fields=["status", "due_date"], name="onb_ms_status_due_idx")]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="onb_ms_unique_key_per_plan"),
            models.CheckConstraint(
                condition=Q(status__in=MilestoneStatus.values), name="onb_ms_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=MilestoneStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="onb_ms_completed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name} ({self.status})"


class OnboardingTask(models.Model):
    """A checklist item of a milestone (template tasks, plus any a CSM adds)."""

    milestone = models.ForeignKey(OnboardingMilestone, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=300)
    sequence = models.PositiveSmallIntegerField(default=0)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["milestone", "sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["milestone", "title"], name="onb_task_unique_title"),
            models.CheckConstraint(
                condition=Q(done=False) | Q(done_at__isnull=False), name="onb_task_done_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{'☑' if self.done else '☐'} {self.title}"


class PlanSuccessCriterion(models.Model):
    """A success criterion of a plan: the six measured defaults of RULES §9.1 and free-text caller criteria.

    Measured criteria are evaluated live; ``status``/``value`` cache the last evaluation. Caller criteria stay
    ``unknown`` until a person marks them.
    """

    plan = models.ForeignKey(OnboardingPlan, on_delete=models.CASCADE, related_name="success_criteria")
    key = models.CharField(max_length=60)
    description = models.CharField(max_length=300)
    measured = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=SuccessCriterionStatus.choices, default=SuccessCriterionStatus.UNKNOWN
    )
    value = models.JSONField(null=True, blank=True)
    threshold = models.JSONField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sequence = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["plan", "sequence", "id"]
        verbose_name_plural = "plan success criteria"
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="onb_crit_unique_key"),
            models.CheckConstraint(
                condition=Q(status__in=SuccessCriterionStatus.values), name="onb_crit_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.status}"


class OnboardingAutomation(models.Model):
    """Trigger-based notifications of one plan (TOOLS §2.2), one per plan (upsert).

    The triggers run as ``communication.Workflow`` rows of kind ``onboarding`` whose ``wf_…`` ids are kept in
    ``workflow_ids``.
    """

    automation_id = models.CharField(max_length=20, unique=True, default=new_automation_id, editable=False)
    plan = models.OneToOneField(OnboardingPlan, on_delete=models.CASCADE, related_name="automation")
    triggers = models.JSONField(default=default_automation_triggers)
    notification_preferences = models.JSONField(default=default_notification_preferences)
    workflow_ids = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.automation_id} for plan {self.plan_id}"


class TrainingModule(models.Model):
    """A training module (``train_…``) with its passing score [DB] (RULES §9.3)."""

    module_id = models.CharField(max_length=20, unique=True, default=new_training_module_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    certification_level = models.CharField(
        max_length=20, choices=CertificationLevel.choices, blank=True, default=""
    )
    duration_minutes = models.PositiveSmallIntegerField(default=90, validators=[MinValueValidator(1)])
    passing_score = models.DecimalField(max_digits=5, decimal_places=4, default=0.75, validators=RATE_0_1)
    requires_assessment = models.BooleanField(default=True)
    content_url = models.URLField(max_length=500, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(passing_score__gte=0, passing_score__lte=1), name="onb_module_passing_0_1"
            ),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1), name="onb_module_duration_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class TrainingSession(models.Model):
    """One delivery of a module to a client's users (``sess_…``): scheduled, assigned (self-paced) or done."""

    session_id = models.CharField(max_length=20, unique=True, default=new_training_session_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="training_sessions")
    module = models.ForeignKey(TrainingModule, on_delete=models.PROTECT, related_name="sessions")
    format = models.CharField(
        max_length=20, choices=TrainingFormat.choices, default=TrainingFormat.LIVE_WEBINAR
    )
    status = models.CharField(
        max_length=20, choices=TrainingSessionStatus.choices, default=TrainingSessionStatus.SCHEDULED
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(15), MaxValueValidator(480)]
    )
    recording_enabled = models.BooleanField(default=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [
            models.Index(fields=["client", "scheduled_at"], name="onb_sess_client_time_idx"),
            models.Index(fields=["module", "status"], name="onb_sess_module_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=15, duration_minutes__lte=480),
                name="onb_sess_duration_15_480",
            ),
            models.CheckConstraint(
                condition=Q(format__in=TrainingFormat.values), name="onb_sess_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TrainingSessionStatus.values), name="onb_sess_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=TrainingSessionStatus.SCHEDULED) | Q(scheduled_at__isnull=False),
                name="onb_sess_scheduled_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} {self.format} ({self.status})"


class TrainingAttendee(models.Model):
    """An invitation of one e-mail address to a session (attendee list); results are TrainingCompletion."""

    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="attendees")
    email = models.EmailField(max_length=254)
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_invitations",
    )
    invited_at = models.DateTimeField(null=True, blank=True)
    invitation_message_id = models.CharField(max_length=20, blank=True, default="", help_text="msg_… id.")

    class Meta:
        ordering = ["session", "email"]
        constraints = [
            models.UniqueConstraint(F("session"), Lower("email"), name="onb_attendee_unique_email"),
        ]

    def __str__(self) -> str:
        return self.email


class TrainingCompletion(models.Model):
    """Attendance and assessment result of one attendee in one session (an attempt of the module).

    ``passed`` = score ≥ the module's passing score when the module requires assessment, else attended.
    At most 3 attempts per user and module (RULES §9.3), numbered 1–3 and unique.
    """

    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="completions")
    module = models.ForeignKey(TrainingModule, on_delete=models.PROTECT, related_name="completions")
    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="training_completions"
    )
    attendee_email = models.EmailField(max_length=254)
    attended = models.BooleanField(default=True)
    assessment_score = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, validators=RATE_0_1
    )
    passed = models.BooleanField(default=False)
    attempt = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    completed_at = models.DateTimeField()

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [
            models.Index(fields=["client", "completed_at"], name="onb_compl_client_time_idx"),
            models.Index(fields=["module", "passed"], name="onb_compl_module_passed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assessment_score__isnull=True)
                | Q(assessment_score__gte=0, assessment_score__lte=1),
                name="onb_compl_score_0_1",
            ),
            models.CheckConstraint(condition=Q(attempt__gte=1, attempt__lte=3), name="onb_compl_attempt_1_3"),
            models.CheckConstraint(
                condition=Q(passed=False) | Q(attended=True), name="onb_compl_passed_attended"
            ),
            models.UniqueConstraint(F("session"), Lower("attendee_email"), name="onb_compl_one_per_session"),
            models.UniqueConstraint(
                F("module"), Lower("attendee_email"), F("attempt"), name="onb_compl_unique_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attendee_email} attempt {self.attempt} ({'passed' if self.passed else 'not passed'})"


class CertificationTrack(models.Model):
    """The modules required for a certification level; client-specific tracks override the global one."""

    level = models.CharField(max_length=20, choices=CertificationLevel.choices)
    client = models.ForeignKey(
        "customers.Client",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="certification_tracks",
        help_text="Empty for the global track of the level.",
    )
    name = models.CharField(max_length=200, blank=True, default="")
    modules = models.ManyToManyField(TrainingModule, related_name="certification_tracks", blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["level", "client"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=CertificationLevel.values), name="onb_track_level_valid"
            ),
            models.UniqueConstraint(
                fields=["client", "level"],
                condition=Q(client__isnull=False),
                name="onb_track_one_per_client_level",
            ),
            models.UniqueConstraint(
                fields=["level"], condition=Q(client__isnull=True), name="onb_track_one_global_per_level"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} track ({'global' if self.client_id is None else self.client_id})"


class Certification(models.Model):
    """A certification (``cert_…``) held by a person at a client; revoking keeps the row (RULES §9.3)."""

    certification_id = models.CharField(
        max_length=20, unique=True, default=new_certification_id, editable=False
    )
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="certifications")
    track = models.ForeignKey(
        CertificationTrack, null=True, blank=True, on_delete=models.SET_NULL, related_name="certifications"
    )
    level = models.CharField(max_length=20, choices=CertificationLevel.choices)
    holder_email = models.EmailField(max_length=254)
    holder_name = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=CertificationStatus.choices, default=CertificationStatus.ACTIVE
    )
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["client", "issued_at"], name="onb_cert_client_issued_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=CertificationLevel.values), name="onb_cert_level_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status=CertificationStatus.ACTIVE) & Q(revoked_at__isnull=True))
                | (Q(status=CertificationStatus.REVOKED) & Q(revoked_at__isnull=False)),
                name="onb_cert_revoked_has_time",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=F("issued_at")),
                name="onb_cert_revoked_after_issue",
            ),
            models.UniqueConstraint(
                F("client"),
                Lower("holder_email"),
                F("level"),
                condition=Q(status=CertificationStatus.ACTIVE),
                name="onb_cert_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.certification_id} {self.level} {self.holder_email}"
