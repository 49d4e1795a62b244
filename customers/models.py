"""Accounts and what every other app hangs off them: contacts, contracts, invoices, ARR, alerts, timeline, audit."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from encrypted_model_fields.fields import EncryptedTextField

from cs_project.core.ids import format_seq_id, new_prefixed_id

from .choices import (
    AccountStatus,
    AlertStatus,
    AlertType,
    ArrMovementKind,
    AuditChannel,
    ContactRole,
    ContractStatus,
    ContractType,
    ExternalSystem,
    HealthTrend,
    Impact,
    IntegrationProvider,
    InvoiceStatus,
    JobRunStatus,
    LifecycleStage,
    PaymentStatus,
    Priority,
    RiskLevel,
    Severity,
    Tier,
    TimelineEventType,
    ValueTierName,
)

CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
client_id_validator = RegexValidator(CLIENT_ID_PATTERN, "Use 1–128 letters, digits, '_' or '-'.")


def new_alert_id() -> str:
    return new_prefixed_id("alr")


class Client(models.Model):
    """A customer account. ``client_id`` is the business key used by every tool and integration.

    Health, trend and risk are a cache of the latest official snapshot (RULES §4.6); ``value_tier`` is a
    cache of the ARR band (RULES §6.1) kept by the services that change ARR, so portfolio queries can filter
    on it without joins.
    """

    client_id = models.CharField(max_length=128, unique=True, validators=[client_id_validator])
    client_name = models.CharField(max_length=200)
    company_name = models.CharField(max_length=200)
    industry = models.CharField(max_length=100, default="Technology")
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    value_tier = models.CharField(max_length=20, choices=ValueTierName.choices, default=ValueTierName.STARTER)
    status = models.CharField(max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    lifecycle_stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.ONBOARDING
    )
    contract_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    contract_start_date = models.DateField(null=True, blank=True)
    contract_end_date = models.DateField(null=True, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    primary_contact_email = models.EmailField(max_length=254, blank=True, default="")
    primary_contact_name = models.CharField(max_length=200, blank=True, default="")
    csm_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_clients",
    )
    health_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    health_trend = models.CharField(max_length=20, choices=HealthTrend.choices, blank=True, default="")
    risk_level = models.CharField(max_length=20, choices=RiskLevel.choices, blank=True, default="")
    health_as_of = models.DateField(null=True, blank=True)
    last_engagement_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client_name", "client_id"]
        permissions = [
            ("mcp_read", "Can call read-only core tools"),
            ("mcp_write", "Can call mutating core tools"),
        ]
        indexes = [
            models.Index(fields=["client_name", "client_id"], name="client_name_order_idx"),
            models.Index(fields=["tier", "lifecycle_stage"], name="client_tier_stage_idx"),
            models.Index(fields=["status", "health_score"], name="client_status_health_idx"),
            models.Index(fields=["lifecycle_stage"], name="client_stage_idx"),
            models.Index(fields=["value_tier"], name="client_value_tier_idx"),
            models.Index(fields=["contract_end_date"], name="client_contract_end_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(contract_value__gte=0), name="client_arr_non_negative"),
            models.CheckConstraint(
                condition=Q(health_score__isnull=True) | Q(health_score__gte=0, health_score__lte=100),
                name="client_health_0_100",
            ),
            models.CheckConstraint(
                condition=Q(contract_start_date__isnull=True)
                | Q(contract_end_date__isnull=True)
                | Q(contract_end_date__gt=models.F("contract_start_date")),
                name="client_contract_end_after_start",
            ),
            models.CheckConstraint(condition=Q(client_id__regex=CLIENT_ID_PATTERN), name="client_id_pattern"),
        ]

    def __str__(self) -> str:
        return f"{self.client_name} ({self.client_id})"


class Contact(models.Model):
    """A person at a customer. At most one primary contact per account; replaced primaries are kept (RSK-06)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(max_length=254, blank=True, default="")
    role = models.CharField(max_length=30, choices=ContactRole.choices, default=ContactRole.OTHER)
    title = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    is_primary = models.BooleanField(default=False)
    primary_since = models.DateTimeField(null=True, blank=True)
    primary_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "-is_primary", "name"]
        indexes = [models.Index(fields=["client", "email"], name="contact_client_email_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["client"], condition=Q(is_primary=True), name="contact_one_primary_per_client"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Contact {self.pk}"


class ClientExternalId(models.Model):
    """An account's id in another system (Segment group id, Mixpanel property, Zendesk organisation)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="external_ids")
    system = models.CharField(max_length=20, choices=ExternalSystem.choices)
    external_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="external_id_unique_per_system"),
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"


class Contract(models.Model):
    """A commercial agreement (``CNT-<n>``). The active contract carries seats, ARR and payment status."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contracts")
    contract_type = models.CharField(max_length=20, choices=ContractType.choices, default=ContractType.ANNUAL)
    status = models.CharField(max_length=20, choices=ContractStatus.choices, default=ContractStatus.ACTIVE)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    value = models.DecimalField("ARR", max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    start_date = models.DateField()
    end_date = models.DateField()
    included_users = models.PositiveIntegerField("seats", null=True, blank=True)
    included_usage = models.DecimalField(
        "metered usage included", max_digits=18, decimal_places=4, null=True, blank=True
    )
    auto_renew = models.BooleanField(default=False)
    notice_period_days = models.PositiveIntegerField(default=30)
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CURRENT
    )
    payment_status_manual = models.BooleanField(
        default=False, help_text="True when a person set the payment status (RULES §4.2.5)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "-start_date"]
        indexes = [
            models.Index(fields=["client", "status", "end_date"], name="contract_client_status_idx"),
            models.Index(fields=["end_date"], name="contract_end_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="contract_value_non_negative"),
            models.CheckConstraint(
                condition=Q(end_date__gt=models.F("start_date")), name="contract_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(included_usage__isnull=True) | Q(included_usage__gte=0),
                name="contract_usage_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.client_id}"

    @property
    def contract_id(self) -> str | None:
        return format_seq_id("CNT", self.pk)


class Invoice(models.Model):
    """An invoice (``INV-<n>``); payment status and the payment health component derive from these."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="invoices")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    issued_on = models.DateField()
    due_date = models.DateField()
    paid_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)

    class Meta:
        ordering = ["client", "-issued_on"]
        indexes = [models.Index(fields=["client", "status", "due_date"], name="invoice_client_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("issued_on")), name="invoice_due_after_issue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.amount} {self.currency}"

    @property
    def invoice_id(self) -> str | None:
        return format_seq_id("INV", self.pk)


class ArrMovement(models.Model):
    """A signed change of a client's ARR on a date; ARR history and NRR/GRR are sums of these (RULES §14)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="arr_movements")
    kind = models.CharField(max_length=20, choices=ArrMovementKind.choices)
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Signed: churn and contraction < 0."
    )
    movement_date = models.DateField()
    contract = models.ForeignKey(Contract, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client", "movement_date", "id"]
        indexes = [
            models.Index(fields=["client", "movement_date"], name="arr_client_date_idx"),
            models.Index(fields=["movement_date", "kind"], name="arr_date_kind_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["new", "expansion", "reactivation"]) & Q(amount__gte=0))
                | (Q(kind__in=["churn", "contraction"]) & Q(amount__lte=0)),
                name="arr_movement_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.kind} {self.amount} on {self.movement_date}"


class LifecycleStageHistory(models.Model):
    """One row per stage a client entered (RULES §7.1); the open row has ``exited_at`` null."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="stage_history")
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True, default="")
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    rule_id = models.CharField(max_length=20, blank=True, default="")
    actor = models.CharField(max_length=150)
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["client", "-entered_at"]
        verbose_name_plural = "lifecycle stage history"
        indexes = [models.Index(fields=["client", "entered_at"], name="stage_client_entered_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=models.F("entered_at")),
                name="stage_exit_after_entry",
            ),
            models.UniqueConstraint(
                fields=["client"], condition=Q(exited_at__isnull=True), name="stage_one_open_row"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.from_stage or '∅'} → {self.to_stage}"


class Alert(models.Model):
    """A call to action (``alr_…``), de-duplicated per (client, type, reason) while open or snoozed (RULES §16)."""

    alert_id = models.CharField(max_length=20, unique=True, default=new_alert_id, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alerts")
    type = models.CharField(max_length=20, choices=AlertType.choices)
    reason = models.CharField(max_length=120)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    due_at = models.DateTimeField()
    rule_id = models.CharField(max_length=20, blank=True, default="")
    evidence = models.JSONField(default=dict, blank=True)
    occurrence_count = models.PositiveIntegerField(default=1)
    first_triggered_at = models.DateTimeField()
    last_triggered_at = models.DateTimeField()
    consecutive_clear_runs = models.PositiveSmallIntegerField(default=0)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-last_triggered_at"]
        indexes = [
            models.Index(fields=["client", "status"], name="alert_client_status_idx"),
            models.Index(fields=["status", "priority", "due_at"], name="alert_queue_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "type", "reason"],
                condition=Q(status__in=["open", "snoozed"]),
                name="alert_one_live_per_reason",
            ),
            models.CheckConstraint(condition=Q(occurrence_count__gte=1), name="alert_occurrence_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.reason} ({self.status})"


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every mutation (TOOLS §0.5); tool calls are in core.AccessLogEntry.

    ``hash`` = SHA-256 over the previous event's hash and this event's canonical content, so editing or
    deleting any row breaks the chain (``manage.py verify_audit_log``).
    """

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150)
    channel = models.CharField(max_length=10, choices=AuditChannel.choices)
    tool = models.CharField(max_length=100, blank=True, default="")
    action = models.CharField(
        max_length=120, help_text="<app>.<entity>.<verb>, e.g. customers.client.created"
    )
    object_type = models.CharField(max_length=100, blank=True, default="")
    object_id = models.CharField(max_length=150, blank=True, default="")
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    changes = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["client", "occurred_at"], name="audit_client_time_idx"),
            models.Index(fields=["action"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class TimelineEvent(models.Model):
    """An entry of a client's timeline: one per affected client per mutation, plus engagement logged by staff."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="timeline_events", db_index=False
    )
    occurred_at = models.DateTimeField()
    event_type = models.CharField(max_length=20, choices=TimelineEventType.choices)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True, default="")
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.NEUTRAL)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    source_type = models.CharField(max_length=100, blank=True, default="")
    source_id = models.CharField(max_length=150, blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    audit_event = models.ForeignKey(
        AuditEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="timeline_events"
    )
    counts_as_engagement = models.BooleanField(default=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["client", "occurred_at"], name="timeline_client_time_idx"),
            models.Index(
                fields=["client", "occurred_at"],
                condition=Q(counts_as_engagement=True),
                name="timeline_engagement_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.occurred_at:%Y-%m-%d} {self.title}"


class IntegrationCredential(models.Model):
    """Credentials of one integration; ``secrets`` is Fernet-encrypted JSON and never leaves the server."""

    provider = models.CharField(max_length=20, choices=IntegrationProvider.choices, unique=True)
    enabled = models.BooleanField(default=False)
    secrets = EncryptedTextField(
        blank=True, default="", help_text="JSON object of secret values (encrypted)."
    )
    config = models.JSONField(default=dict, blank=True, help_text="Non-secret settings.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({'enabled' if self.enabled else 'disabled'})"


class JobRun(models.Model):
    """One run of a scheduled job (RULES §19): what it processed and what failed."""

    job = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=JobRunStatus.choices, default=JobRunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error_sample = models.TextField(blank=True, default="")
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "started_at"], name="jobrun_job_started_idx")]

    def __str__(self) -> str:
        return f"{self.job} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
