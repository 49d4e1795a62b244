"""communication models: reviews."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from cs_project.core.ids import new_prefixed_id

from ..choices import (
    ActionItemStatus,
    EbrStatus,
    EbrType,
)


def new_ebr_id() -> str:
    return new_prefixed_id("ebr")


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
