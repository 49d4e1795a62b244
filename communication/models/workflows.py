"""communication models: workflows."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from cs_project.core.ids import new_prefixed_id

from ..choices import (
    EnrollmentStatus,
    WorkflowKind,
    WorkflowRunStatus,
    WorkflowTriggerType,
)


def new_workflow_id() -> str:
    return new_prefixed_id("wf")


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
