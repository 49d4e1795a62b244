"""Support and self-service (RULES §10, TOOLS §6): agents, SLA matrix, routing, tickets, KB, portal."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from cs_project.core.ids import format_seq_id

from .choices import (
    CommentAuthorKind,
    KbArticleStatus,
    PortalActivityType,
    PortalResourceType,
    PortalScope,
    SupportTeam,
    TicketCategory,
    TicketChannel,
    TicketPriority,
    TicketStatus,
)

DEFAULT_MAX_OPEN_TICKETS = 10


class SupportAgent(models.Model):
    """A staff user working tickets in one support team; routing (RULES §10.3) balances load across agents."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_agent"
    )
    team = models.CharField(max_length=50, choices=SupportTeam.choices)
    max_open_tickets = models.PositiveSmallIntegerField(
        default=DEFAULT_MAX_OPEN_TICKETS,
        help_text="Capacity: open assigned tickets before routing skips the agent",
    )
    skills = models.JSONField(default=list, blank=True, help_text="List of skill tags")
    active = models.BooleanField(default=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True, help_text="Routing tie-break")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "id"]
        indexes = [models.Index(fields=["team", "active"], name="sup_agent_team_active_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(max_open_tickets__gte=1), name="sup_agent_capacity_positive"),
            models.CheckConstraint(condition=Q(team__in=SupportTeam.values), name="sup_agent_team_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.team})"


class SlaPolicy(models.Model):
    """SLA allowance per ticket priority in calendar minutes (RULES §10.1); seeded, editable in the admin."""

    priority = models.CharField(max_length=2, choices=TicketPriority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__in=TicketPriority.values), name="sup_sla_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gt=0), name="sup_sla_first_response_positive"
            ),
            models.CheckConstraint(condition=Q(resolution_minutes__gt=0), name="sup_sla_resolution_positive"),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=F("first_response_minutes")),
                name="sup_sla_resolution_after_first_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority}: {self.first_response_minutes} / {self.resolution_minutes} min"


class RoutingRule(models.Model):
    """One line of the routing table (RULES §10.3): a priority or a category sends the ticket to a team.

    Rules are evaluated by ascending ``position``; the first active match wins (priority rules come first).
    Exactly one of ``priority`` / ``category`` is set.
    """

    position = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=100, unique=True, help_text="Reported as the routing `rule`")
    priority = models.CharField(max_length=2, choices=TicketPriority.choices, blank=True, default="")
    category = models.CharField(max_length=40, choices=TicketCategory.choices, blank=True, default="")
    team = models.CharField(max_length=50, choices=SupportTeam.choices)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(priority="") & ~Q(category="")) | (~Q(priority="") & Q(category="")),
                name="sup_routing_exactly_one_condition",
            ),
            models.CheckConstraint(
                condition=Q(priority="") | Q(priority__in=TicketPriority.values),
                name="sup_routing_priority_valid",
            ),
            models.CheckConstraint(
                condition=Q(category="") | Q(category__in=TicketCategory.values),
                name="sup_routing_category_valid",
            ),
            models.CheckConstraint(condition=Q(team__in=SupportTeam.values), name="sup_routing_team_valid"),
            models.CheckConstraint(condition=Q(position__gte=1), name="sup_routing_position_positive"),
            models.UniqueConstraint(
                fields=["priority"], condition=~Q(priority=""), name="sup_routing_unique_priority"
            ),
            models.UniqueConstraint(
                fields=["category"], condition=~Q(category=""), name="sup_routing_unique_category"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name} → {self.team}"


class Ticket(models.Model):
    """A support ticket (`TKT-<n>`) with its SLA clocks (RULES §10.2) and state (RULES §10.4).

    Local data is the source of truth; ``external_id`` links the Zendesk copy when sync is configured.
    ``satisfaction_rating`` is also stored as a CSAT survey response (feedback app).
    """

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="tickets")
    requester_contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    requester_email = models.EmailField(max_length=254, blank=True, default="")
    requester_name = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=300)
    description = models.TextField(max_length=20000)
    priority = models.CharField(max_length=2, choices=TicketPriority.choices, default=TicketPriority.P3)
    status = models.CharField(max_length=30, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    category = models.CharField(
        max_length=40, choices=TicketCategory.choices, default=TicketCategory.TECHNICAL_ISSUE
    )
    channel = models.CharField(max_length=20, choices=TicketChannel.choices, default=TicketChannel.API)
    tags = models.JSONField(default=list, blank=True)
    assigned_team = models.CharField(max_length=50, choices=SupportTeam.choices, blank=True, default="")
    assigned_agent = models.ForeignKey(
        SupportAgent, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    routing_rule = models.CharField(
        max_length=100, blank=True, default="", help_text="Name of the rule that routed it"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution_notes = models.TextField(max_length=5000, blank=True, default="")
    reopened_count = models.PositiveSmallIntegerField(default=0)
    escalated = models.BooleanField(default=False)
    escalated_at = models.DateTimeField(null=True, blank=True)
    satisfaction_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1–5; counts as CSAT"
    )
    satisfaction_comment = models.TextField(max_length=2000, blank=True, default="")
    rated_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=64, blank=True, default="", help_text="Zendesk ticket id")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("mcp_read", "Can call read-only support tools"),
            ("mcp_write", "Can call mutating support tools"),
        ]
        indexes = [
            models.Index(fields=["client", "created_at"], name="sup_ticket_client_created_idx"),
            models.Index(fields=["status", "priority"], name="sup_ticket_status_priority_idx"),
            models.Index(fields=["assigned_agent", "status"], name="sup_ticket_agent_status_idx"),
            models.Index(fields=["assigned_team", "status"], name="sup_ticket_team_status_idx"),
            models.Index(fields=["created_at"], name="sup_ticket_created_idx"),
            models.Index(fields=["resolved_at"], name="sup_ticket_resolved_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(subject=""), name="sup_ticket_subject_not_empty"),
            models.CheckConstraint(
                condition=Q(priority__in=TicketPriority.values), name="sup_ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TicketStatus.values), name="sup_ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=TicketCategory.values), name="sup_ticket_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(assigned_team="") | Q(assigned_team__in=SupportTeam.values),
                name="sup_ticket_team_valid",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction_rating__isnull=True)
                | Q(satisfaction_rating__gte=1, satisfaction_rating__lte=5),
                name="sup_ticket_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("created_at")),
                name="sup_ticket_resolved_after_created",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("created_at")),
                name="sup_ticket_closed_after_created",
            ),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True) | Q(first_response_at__gte=F("created_at")),
                name="sup_ticket_first_response_after_created",
            ),
            models.CheckConstraint(
                condition=Q(first_response_due_at__isnull=True)
                | Q(first_response_due_at__gt=F("created_at")),
                name="sup_ticket_fr_due_after_created",
            ),
            models.CheckConstraint(
                condition=Q(resolution_due_at__isnull=True) | Q(resolution_due_at__gt=F("created_at")),
                name="sup_ticket_res_due_after_created",
            ),
            models.CheckConstraint(
                condition=~Q(status=TicketStatus.RESOLVED) | Q(resolved_at__isnull=False),
                name="sup_ticket_resolved_has_resolved_at",
            ),
            models.CheckConstraint(
                condition=Q(status=TicketStatus.CLOSED) | Q(closed_at__isnull=True),
                name="sup_ticket_closed_at_only_when_closed",
            ),
            models.CheckConstraint(
                condition=Q(reopened_count__gte=0), name="sup_ticket_reopened_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(escalated=True) | Q(escalated_at__isnull=True),
                name="sup_ticket_escalated_at_flag",
            ),
            models.UniqueConstraint(
                fields=["external_id"], condition=~Q(external_id=""), name="sup_ticket_external_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.subject[:60]}"

    @property
    def ticket_id(self) -> str | None:
        return format_seq_id("TKT", self.pk)


class TicketComment(models.Model):
    """A public reply or internal note on a ticket.

    The first public agent comment stops the first-response clock (RULES §10.2).
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField(max_length=5000)
    is_public = models.BooleanField(
        default=True, help_text="False = internal note, never shown to the customer"
    )
    author_kind = models.CharField(
        max_length=20, choices=CommentAuthorKind.choices, default=CommentAuthorKind.AGENT
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ticket_comments",
    )
    author_email = models.EmailField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ticket", "created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="sup_comment_ticket_created_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="sup_comment_body_not_empty"),
            models.CheckConstraint(
                condition=Q(author_kind__in=CommentAuthorKind.values), name="sup_comment_author_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(author_kind=CommentAuthorKind.CUSTOMER) | Q(is_public=True),
                name="sup_comment_customer_is_public",
            ),
        ]

    def __str__(self) -> str:
        kind = "public" if self.is_public else "internal"
        return f"{self.author_kind} {kind} comment on {format_seq_id('TKT', self.ticket_id)}"


class KbArticle(models.Model):
    """A knowledge-base article (`KB-<n>`); every text change is kept as a KbArticleVersion (RULES §10.5)."""

    slug = models.SlugField(max_length=320, unique=True)
    title = models.CharField(max_length=300)
    summary = models.TextField(max_length=1000, blank=True, default="")
    content = models.TextField(max_length=100000, help_text="Markdown")
    status = models.CharField(max_length=20, choices=KbArticleStatus.choices, default=KbArticleStatus.DRAFT)
    category = models.CharField(max_length=100, blank=True, default="")
    subcategory = models.CharField(max_length=100, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    author = models.CharField(max_length=200, blank=True, default="")
    version = models.PositiveIntegerField(default=1, help_text="Current version number")
    view_count = models.PositiveIntegerField(default=0)
    helpful_count = models.PositiveIntegerField(default=0)
    not_helpful_count = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = "KB article"
        indexes = [
            models.Index(fields=["status", "category"], name="sup_kb_status_category_idx"),
            models.Index(fields=["-view_count"], name="sup_kb_views_idx"),
            models.Index(fields=["-updated_at"], name="sup_kb_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="sup_kb_title_not_empty"),
            models.CheckConstraint(
                condition=Q(status__in=KbArticleStatus.values), name="sup_kb_status_valid"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="sup_kb_version_positive"),
            models.CheckConstraint(condition=Q(view_count__gte=0), name="sup_kb_view_count_non_negative"),
            models.CheckConstraint(condition=Q(helpful_count__gte=0), name="sup_kb_helpful_non_negative"),
            models.CheckConstraint(
                condition=Q(not_helpful_count__gte=0), name="sup_kb_not_helpful_non_negative"
            ),
            models.CheckConstraint(
                condition=~Q(status=KbArticleStatus.PUBLISHED) | Q(published_at__isnull=False),
                name="sup_kb_published_has_published_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} {self.title[:60]}"

    @property
    def article_id(self) -> str | None:
        return format_seq_id("KB", self.pk)

    @property
    def helpfulness(self) -> float | None:
        """helpful ÷ (helpful + not helpful); None without votes (RULES §10.5)."""
        total = self.helpful_count + self.not_helpful_count
        return None if total == 0 else self.helpful_count / total


class KbArticleVersion(models.Model):
    """A snapshot of an article's title, summary and content at one version number (RULES §10.5)."""

    article = models.ForeignKey(KbArticle, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    summary = models.TextField(max_length=1000, blank=True, default="")
    content = models.TextField(max_length=100000)
    created_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["article", "-version"]
        verbose_name = "KB article version"
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="sup_kbver_version_positive"),
            models.UniqueConstraint(fields=["article", "version"], name="sup_kbver_unique_article_version"),
        ]

    def __str__(self) -> str:
        return f"{format_seq_id('KB', self.article_id)} v{self.version}"


class KbVote(models.Model):
    """One reader's helpful / not-helpful vote on an article; a new vote by that voter replaces the old."""

    article = models.ForeignKey(KbArticle, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=254, help_text="Actor identity (user name or e-mail)")
    helpful = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = "KB vote"
        constraints = [
            models.CheckConstraint(condition=~Q(voter=""), name="sup_kbvote_voter_not_empty"),
            models.UniqueConstraint(fields=["article", "voter"], name="sup_kbvote_unique_voter_article"),
        ]

    def __str__(self) -> str:
        return f"{self.voter}: {'helpful' if self.helpful else 'not helpful'}"


class KbSearchLog(models.Model):
    """Every knowledge-base search (RULES §10.5): drives search gaps and the zero-result rate."""

    query = models.CharField(max_length=200)
    normalized_query = models.CharField(max_length=200, help_text="Lower-cased, whitespace-collapsed query")
    category = models.CharField(max_length=100, blank=True, default="")
    results_count = models.PositiveIntegerField()
    client = models.ForeignKey(
        "customers.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="kb_searches"
    )
    searched_by = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "KB search log"
        indexes = [
            models.Index(fields=["created_at"], name="sup_kbsearch_created_idx"),
            models.Index(fields=["normalized_query", "created_at"], name="sup_kbsearch_query_time_idx"),
            models.Index(fields=["client", "created_at"], name="sup_kbsearch_client_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(results_count__gte=0), name="sup_kbsearch_results_non_negative"
            ),
            models.CheckConstraint(condition=~Q(query=""), name="sup_kbsearch_query_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.query!r} → {self.results_count}"


class PortalConfig(models.Model):
    """Self-service portal settings: one global default row and at most one override per client (TOOLS §6.5).

    A client without a row reads as the defaults (``DEFAULT_PORTAL_FEATURES``); the first write creates it.
    """

    scope = models.CharField(max_length=10, choices=PortalScope.choices, default=PortalScope.CLIENT)
    client = models.OneToOneField(
        "customers.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="portal_config"
    )
    features = models.JSONField(default=dict, blank=True, help_text="{feature: bool}")
    branding = models.JSONField(default=dict, blank=True, help_text="logo_url, colours, display name, …")
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope", "client_id"]
        verbose_name = "portal configuration"
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope=PortalScope.GLOBAL) & Q(client__isnull=True))
                | (Q(scope=PortalScope.CLIENT) & Q(client__isnull=False)),
                name="sup_portal_scope_matches_client",
            ),
            models.UniqueConstraint(
                fields=["scope"], condition=Q(scope=PortalScope.GLOBAL), name="sup_portal_single_global"
            ),
        ]

    def __str__(self) -> str:
        return (
            "Global portal defaults"
            if self.scope == PortalScope.GLOBAL
            else f"Portal of client #{self.client_id}"
        )


class PortalResource(models.Model):
    """A document, download, video, link or KB article offered in the portal; global when client is null."""

    client = models.ForeignKey(
        "customers.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="portal_resources"
    )
    resource_type = models.CharField(max_length=20, choices=PortalResourceType.choices)
    title = models.CharField(max_length=300)
    description = models.TextField(max_length=5000, blank=True, default="")
    url = models.URLField(max_length=500, blank=True, default="")
    kb_article = models.ForeignKey(
        KbArticle, null=True, blank=True, on_delete=models.CASCADE, related_name="portal_resources"
    )
    visible = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["client", "visible"], name="sup_portalres_client_vis_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(resource_type__in=PortalResourceType.values), name="sup_portalres_type_valid"
            ),
            models.CheckConstraint(
                condition=(Q(resource_type=PortalResourceType.KB_ARTICLE) & Q(kb_article__isnull=False))
                | (~Q(resource_type=PortalResourceType.KB_ARTICLE) & Q(kb_article__isnull=True)),
                name="sup_portalres_kb_article_iff_type",
            ),
            models.CheckConstraint(condition=~Q(title=""), name="sup_portalres_title_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}: {self.title}"


class PortalActivity(models.Model):
    """One portal event (login, view, search, …) by a client's user; feeds engagement (RULES §4.2.2)."""

    client = models.ForeignKey("customers.Client", on_delete=models.CASCADE, related_name="portal_activities")
    user_email = models.EmailField(max_length=254)
    activity_type = models.CharField(max_length=20, choices=PortalActivityType.choices)
    resource = models.CharField(
        max_length=300, blank=True, default="", help_text="What was viewed / searched"
    )
    portal_resource = models.ForeignKey(
        PortalResource, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "portal activities"
        indexes = [
            models.Index(fields=["client", "occurred_at"], name="sup_portalact_client_time_idx"),
            models.Index(fields=["occurred_at"], name="sup_portalact_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(activity_type__in=PortalActivityType.values), name="sup_portalact_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_email} {self.activity_type} @ {self.occurred_at:%Y-%m-%d %H:%M}"
