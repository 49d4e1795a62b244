"""health models: segments."""

from django.db import models
from django.db.models import F, Q

from cs_project.core.ids import new_prefixed_id
from customers.choices import ValueTierName

from ..choices import (
    EbrCadence,
    MilestoneCategory,
    MilestoneImportance,
    SegmentationType,
    TierColour,
    TouchCadence,
)
from .common import _nullable_range


def new_segment_id() -> str:
    return new_prefixed_id("seg")


class ValueTier(models.Model):
    """An ARR band with its service levels (RULES §6.1); lower bound inclusive, upper bound exclusive."""

    name = models.CharField(max_length=20, choices=ValueTierName.choices, unique=True)
    min_arr = models.DecimalField(max_digits=14, decimal_places=2)
    max_arr = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Exclusive."
    )
    colour = models.CharField(max_length=20, choices=TierColour.choices)
    priority = models.PositiveSmallIntegerField()
    touch_cadence = models.CharField(max_length=20, choices=TouchCadence.choices)
    ebr_cadence = models.CharField(max_length=20, choices=EbrCadence.choices)
    target_health = models.PositiveSmallIntegerField(null=True, blank=True)
    target_nps = models.SmallIntegerField(null=True, blank=True)
    target_grr = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    accounts_per_csm = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.CheckConstraint(condition=Q(min_arr__gte=0), name="value_tier_min_non_negative"),
            models.CheckConstraint(
                condition=Q(max_arr__isnull=True) | Q(max_arr__gt=F("min_arr")),
                name="value_tier_max_above_min",
            ),
            _nullable_range("target_health", 0, 100, "value_tier_target_health_0_100"),
            _nullable_range("target_nps", -100, 100, "value_tier_target_nps_range"),
            _nullable_range("target_grr", 0, 1, "value_tier_target_grr_0_1"),
            models.UniqueConstraint(fields=["priority"], name="value_tier_priority_unique"),
        ]

    def __str__(self) -> str:
        upper = f"< {self.max_arr:,.0f}" if self.max_arr is not None else "and above"
        return f"{self.get_name_display()} (≥ {self.min_arr:,.0f} {upper})"


class Segment(models.Model):
    """A persisted customer segment (``seg_…``), upserted by (segmentation type, key) (RULES §6.2)."""

    segment_id = models.CharField(max_length=20, unique=True, default=new_segment_id, editable=False)
    segmentation_type = models.CharField(max_length=20, choices=SegmentationType.choices)
    segmentation_id = models.CharField(
        max_length=64, blank=True, default="", help_text="Stable id of the set."
    )
    key = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    rule = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["segmentation_type", "key"]
        constraints = [
            models.UniqueConstraint(fields=["segmentation_type", "key"], name="segment_type_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.segmentation_type}:{self.key}"


class SegmentMembership(models.Model):
    """A client's stint in a segment; a re-run closes leavers (``exited_at``) and opens entrants only."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["segment", "-entered_at"]
        indexes = [models.Index(fields=["client", "exited_at"], name="segment_member_client_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "client"],
                condition=Q(exited_at__isnull=True),
                name="segment_one_open_membership",
            ),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=F("entered_at")),
                name="segment_exit_after_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} in {self.segment_id}"


class AdoptionFramework(models.Model):
    """A set of adoption milestones (RULES §8): the seeded ``standard`` one, or one per industry.

    ``milestones`` = ``[{id, name, typical_days, importance, category, criterion}]``."""

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    industry = models.CharField(
        max_length=100, null=True, blank=True, help_text="Null for the standard framework."
    )
    milestones = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["industry"], condition=Q(industry__isnull=False), name="framework_one_per_industry"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ClientMilestone(models.Model):
    """The first date a client achieved an adoption milestone; once achieved it stays achieved (RULES §8)."""

    client = models.ForeignKey(
        "customers.Client", on_delete=models.CASCADE, related_name="adoption_milestones"
    )
    framework = models.ForeignKey(
        AdoptionFramework, on_delete=models.CASCADE, related_name="client_milestones"
    )
    milestone_id = models.CharField(max_length=50)
    importance = models.CharField(max_length=10, choices=MilestoneImportance.choices, blank=True, default="")
    category = models.CharField(max_length=30, choices=MilestoneCategory.choices, blank=True, default="")
    achieved_on = models.DateField()
    days_to_achieve = models.IntegerField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["client", "framework", "milestone_id"]
        indexes = [
            models.Index(fields=["framework", "milestone_id", "achieved_on"], name="milestone_fw_date_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "framework", "milestone_id"], name="milestone_once_per_client"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.milestone_id} on {self.achieved_on}"
