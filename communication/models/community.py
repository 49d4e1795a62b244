"""communication models: community."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from cs_project.core.ids import new_prefixed_id

from ..choices import (
    AdvocateStatus,
    AdvocateTier,
    CommunityType,
    ContributionType,
    PostStatus,
)


def new_community_id() -> str:
    return new_prefixed_id("com")


def new_member_id() -> str:
    return new_prefixed_id("mem")


def new_post_id() -> str:
    return new_prefixed_id("post")


def new_advocate_id() -> str:
    return new_prefixed_id("adv")


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
