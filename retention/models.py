"""Retention (RULES §11, TOOLS §4): campaign templates, campaigns, actions, escalations, post-mortems.

Retention automations (RULES §11.3) are ``communication.Workflow`` rows of kind ``retention``; a campaign they
launch records the workflow's public id in ``RetentionCampaign.automation_id``.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from cs_project.core.ids import new_prefixed_id

from .choices import (
    ESCALATION_SEVERITIES,
    ESCALATION_SEVERITY_CHOICES,
    CampaignOutcome,
    CampaignStatus,
    CampaignTrigger,
    CampaignType,
    EscalationSource,
    EscalationStatus,
    InterventionLevel,
    RetentionActionStatus,
    RetentionActionType,
)

EVALUATION_WINDOW_DAYS = 60


def new_campaign_id() -> str:
    return new_prefixed_id("ret")


def new_escalation_id() -> str:
    return new_prefixed_id("esc")


def new_postmortem_id() -> str:
    return new_prefixed_id("pm")


class CampaignTemplate(models.Model):
    """Base action plan of one campaign type (RULES §11.2); seeded, editable in the admin.

    ``actions`` is an ordered list of ``{"action": <RetentionActionType>, "offset_days": int}`` for the
    ``standard`` level; ``light`` / ``aggressive`` are derived from it by the launch service.
    """

    campaign_type = models.CharField(max_length=30, choices=CampaignType.choices, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(max_length=5000, blank=True, default="")
    actions = models.JSONField(default=list)
    target_health_uplift = models.PositiveSmallIntegerField(
        default=10, help_text="Target = baseline + uplift …"
    )
    target_health_floor = models.PositiveSmallIntegerField(
        default=65, help_text="… but at least this (cap 100)"
    )
    evaluation_window_days = models.PositiveSmallIntegerField(default=EVALUATION_WINDOW_DAYS)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign_type"]
        constraints = [
            models.CheckConstraint(
                condition=Q(campaign_type__in=CampaignType.values), name="ret_template_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(evaluation_window_days__gte=1), name="ret_template_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(target_health_uplift__lte=100) & Q(target_health_floor__lte=100),
                name="ret_template_targets_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RetentionCampaign(models.Model):
    """A retention campaign (`ret_…`) for one client: a dated task plan with a health target (RULES §11.2).

    At most one ``active`` campaign per client and campaign type; the outcome is set when the window ends.
    """

    campaign_id = models.CharField(max_length=20, unique=True, default=new_campaign_id, editable=False)
    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="retention_campaigns"
    )
    template = models.ForeignKey(
        CampaignTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    campaign_type = models.CharField(max_length=30, choices=CampaignType.choices)
    intervention_level = models.CharField(
        max_length=20, choices=InterventionLevel.choices, default=InterventionLevel.STANDARD
    )
    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.ACTIVE)
    trigger = models.CharField(max_length=20, choices=CampaignTrigger.choices, default=CampaignTrigger.MANUAL)
    automation_id = models.CharField(
        max_length=20, blank=True, default="", help_text="`wf_…` of the retention automation that launched it"
    )
    target_metric = models.CharField(max_length=50, default="health_score")
    baseline_health = models.PositiveSmallIntegerField(null=True, blank=True)
    target_health = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome_health = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Health at evaluation")
    evaluation_date = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=CampaignOutcome.choices, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [
            ("mcp_read", "Can call read-only retention tools"),
            ("mcp_write", "Can call mutating retention tools"),
        ]
        indexes = [
            models.Index(fields=["client", "started_at"], name="ret_campaign_client_start_idx"),
            models.Index(fields=["status", "evaluation_date"], name="ret_campaign_status_eval_idx"),
            models.Index(fields=["automation_id"], name="ret_campaign_automation_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "campaign_type"],
                condition=Q(status=CampaignStatus.ACTIVE),
                name="ret_campaign_one_active_per_type",
            ),
            models.CheckConstraint(
                condition=Q(campaign_type__in=CampaignType.values), name="ret_campaign_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(intervention_level__in=InterventionLevel.values), name="ret_campaign_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="ret_campaign_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=CampaignTrigger.values), name="ret_campaign_trigger_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=CampaignOutcome.values),
                name="ret_campaign_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(baseline_health__isnull=True)
                | Q(baseline_health__gte=0, baseline_health__lte=100),
                name="ret_campaign_baseline_0_100",
            ),
            models.CheckConstraint(
                condition=Q(target_health__isnull=True) | Q(target_health__gte=0, target_health__lte=100),
                name="ret_campaign_target_0_100",
            ),
            models.CheckConstraint(
                condition=Q(outcome_health__isnull=True) | Q(outcome_health__gte=0, outcome_health__lte=100),
                name="ret_campaign_outcome_health_0_100",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="ret_campaign_ended_after_started",
            ),
            models.CheckConstraint(
                condition=~Q(status=CampaignStatus.ACTIVE) | (Q(ended_at__isnull=True) & Q(outcome="")),
                name="ret_campaign_active_not_ended",
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(status=CampaignStatus.COMPLETED),
                name="ret_campaign_outcome_only_completed",
            ),
            models.CheckConstraint(
                condition=Q(trigger=CampaignTrigger.AUTOMATION) | Q(automation_id=""),
                name="ret_campaign_automation_id_trigger",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.campaign_type} ({self.status})"


class RetentionAction(models.Model):
    """One dated task of a retention campaign (RULES §11.2); owner = the client's CSM (null → unassigned)."""

    campaign = models.ForeignKey(RetentionCampaign, on_delete=models.CASCADE, related_name="actions")
    sequence = models.PositiveSmallIntegerField(help_text="1-based order within the campaign")
    action_type = models.CharField(max_length=40, choices=RetentionActionType.choices)
    offset_days = models.PositiveSmallIntegerField(default=0, help_text="Days after launch")
    due_date = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retention_actions",
    )
    status = models.CharField(
        max_length=20, choices=RetentionActionStatus.choices, default=RetentionActionStatus.PENDING
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(max_length=5000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "sequence"]
        indexes = [
            models.Index(fields=["status", "due_date"], name="ret_action_status_due_idx"),
            models.Index(fields=["owner", "status"], name="ret_action_owner_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sequence"], name="ret_action_unique_sequence"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="ret_action_sequence_positive"),
            models.CheckConstraint(
                condition=Q(action_type__in=RetentionActionType.values), name="ret_action_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RetentionActionStatus.values), name="ret_action_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=RetentionActionStatus.COMPLETED) | Q(completed_at__isnull=True),
                name="ret_action_completed_at_only_when_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action_type} due {self.due_date}"


class Escalation(models.Model):
    """An escalation (`esc_…`) of a client problem, maybe from a ticket, with a resolution SLA (RULES §11.4).

    ``due_at = opened_at + SLA`` (critical 4 h, other severities 24 h); ``resolution_plan`` holds the initial
    steps ``[{"step", "due_at", "done"}]``.
    """

    escalation_id = models.CharField(max_length=20, unique=True, default=new_escalation_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="escalations")
    ticket = models.ForeignKey(
        "support.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    campaign = models.ForeignKey(
        RetentionCampaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    source = models.CharField(
        max_length=20, choices=EscalationSource.choices, default=EscalationSource.MANUAL
    )
    title = models.CharField(max_length=300)
    description = models.TextField(max_length=5000, blank=True, default="")
    severity = models.CharField(max_length=10, choices=ESCALATION_SEVERITY_CHOICES, default="high")
    status = models.CharField(max_length=20, choices=EscalationStatus.choices, default=EscalationStatus.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution_notes = models.TextField(max_length=5000, blank=True, default="")
    resolution_plan = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["client", "opened_at"], name="ret_esc_client_opened_idx"),
            models.Index(fields=["status", "due_at"], name="ret_esc_status_due_idx"),
            models.Index(fields=["opened_at"], name="ret_esc_opened_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="ret_esc_title_not_empty"),
            models.CheckConstraint(
                condition=Q(severity__in=[s.value for s in ESCALATION_SEVERITIES]),
                name="ret_esc_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=EscalationStatus.values), name="ret_esc_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=EscalationSource.values), name="ret_esc_source_valid"
            ),
            models.CheckConstraint(condition=Q(due_at__gt=F("opened_at")), name="ret_esc_due_after_opened"),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
                name="ret_esc_resolved_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="ret_esc_closed_after_opened",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[EscalationStatus.OPEN, EscalationStatus.IN_PROGRESS])
                | (Q(resolved_at__isnull=True) & Q(closed_at__isnull=True)),
                name="ret_esc_open_not_resolved",
            ),
            models.CheckConstraint(
                condition=~Q(status=EscalationStatus.RESOLVED) | Q(resolved_at__isnull=False),
                name="ret_esc_resolved_has_resolved_at",
            ),
            models.CheckConstraint(
                condition=~Q(status=EscalationStatus.CLOSED) | Q(closed_at__isnull=False),
                name="ret_esc_closed_has_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.escalation_id} [{self.severity}] {self.title[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status in (EscalationStatus.OPEN, EscalationStatus.IN_PROGRESS)


class ChurnPostmortem(models.Model):
    """Evidence-based post-mortem of a churned client (RULES §11.5), one per client and churn date (upsert).

    ``findings`` holds the full analysis returned by ``analyze_churn_postmortem`` (warning signs, missed
    interventions, lessons); the columns are the parts queried across post-mortems.
    """

    postmortem_id = models.CharField(max_length=20, unique=True, default=new_postmortem_id, editable=False)
    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="churn_postmortems")
    churn_date = models.DateField()
    observed_reasons = models.JSONField(default=list, blank=True, help_text="[{reason, weight, details}]")
    stated_reasons = models.JSONField(default=list, blank=True, help_text="Reason codes stated by the caller")
    findings = models.JSONField(default=dict, blank=True)
    notes = models.TextField(max_length=5000, blank=True, default="")
    lifetime_days = models.PositiveIntegerField(null=True, blank=True)
    ltv_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    ltv_estimated = models.BooleanField(default=False)
    lost_arr = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-churn_date", "-id"]
        indexes = [models.Index(fields=["churn_date"], name="ret_pm_churn_date_idx")]
        constraints = [
            models.UniqueConstraint(fields=["client", "churn_date"], name="ret_pm_unique_client_date"),
            models.CheckConstraint(
                condition=Q(ltv_amount__isnull=True) | Q(ltv_amount__gte=0), name="ret_pm_ltv_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(lost_arr__isnull=True) | Q(lost_arr__gte=0), name="ret_pm_lost_arr_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.postmortem_id} churned {self.churn_date}"
