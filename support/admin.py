"""Admin for support: SLA matrix and routing are editable config (RULES §1 [DB]); tickets, KB, portal."""

from django.contrib import admin

from customers.admin_audit import AuditedAdmin

from . import models


@admin.register(models.SupportAgent)
class SupportAgentAdmin(AuditedAdmin):
    list_display = ("user", "team", "max_open_tickets", "active", "last_assigned_at")
    list_filter = ("team", "active")
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(models.SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = ("priority", "first_response_minutes", "resolution_minutes", "updated_at")
    list_editable = ("first_response_minutes", "resolution_minutes")
    search_fields = ("priority",)


@admin.register(models.RoutingRule)
class RoutingRuleAdmin(AuditedAdmin):
    list_display = ("position", "name", "priority", "category", "team", "active")
    list_display_links = ("name",)
    list_filter = ("team", "active")
    search_fields = ("name", "team", "category")


class TicketCommentInline(admin.TabularInline):
    model = models.TicketComment
    extra = 0
    fields = ("created_at", "author_kind", "author_user", "author_email", "is_public", "body")
    raw_id_fields = ("author_user",)
    show_change_link = True


@admin.register(models.Ticket)
class TicketAdmin(AuditedAdmin):
    list_display = (
        "ticket_id",
        "subject",
        "client",
        "priority",
        "status",
        "category",
        "assigned_team",
        "assigned_agent",
        "escalated",
        "created_at",
        "first_response_due_at",
        "resolution_due_at",
        "satisfaction_rating",
    )
    list_filter = ("status", "priority", "category", "channel", "assigned_team", "escalated")
    search_fields = (
        "=id",
        "subject",
        "requester_email",
        "external_id",
        "client__client_id",
        "client__client_name",
    )
    date_hierarchy = "created_at"
    list_select_related = ("client", "assigned_agent__user")
    raw_id_fields = ("client", "requester_contact", "assigned_agent")
    readonly_fields = ("ticket_id", "updated_at")
    inlines = [TicketCommentInline]
    fieldsets = (
        (None, {"fields": ("ticket_id", "client", "subject", "description", "tags")}),
        ("Classification", {"fields": ("priority", "status", "category", "channel")}),
        ("Requester", {"fields": ("requester_contact", "requester_email", "requester_name")}),
        (
            "Routing",
            {"fields": ("assigned_team", "assigned_agent", "routing_rule", "escalated", "escalated_at")},
        ),
        (
            "SLA clocks",
            {
                "fields": (
                    "created_at",
                    "first_response_due_at",
                    "first_response_at",
                    "resolution_due_at",
                    "resolved_at",
                    "closed_at",
                    "reopened_count",
                    "resolution_notes",
                )
            },
        ),
        ("Satisfaction", {"fields": ("satisfaction_rating", "satisfaction_comment", "rated_at")}),
        ("Sync", {"fields": ("external_id", "updated_at")}),
    )

    @admin.display(description="Ticket", ordering="id")
    def ticket_id(self, obj: models.Ticket) -> str | None:
        return obj.ticket_id


@admin.register(models.TicketComment)
class TicketCommentAdmin(AuditedAdmin):
    list_display = ("id", "ticket", "author_kind", "author_user", "author_email", "is_public", "created_at")
    list_filter = ("author_kind", "is_public")
    search_fields = ("body", "author_email", "=ticket__id")
    date_hierarchy = "created_at"
    list_select_related = ("ticket", "author_user")
    raw_id_fields = ("ticket", "author_user")


class KbArticleVersionInline(admin.TabularInline):
    model = models.KbArticleVersion
    extra = 0
    fields = ("version", "title", "created_by", "created_at")
    readonly_fields = ("created_at",)
    show_change_link = True


@admin.register(models.KbArticle)
class KbArticleAdmin(AuditedAdmin):
    list_display = (
        "article_id",
        "title",
        "status",
        "category",
        "version",
        "view_count",
        "helpful_count",
        "not_helpful_count",
        "published_at",
        "updated_at",
    )
    list_filter = ("status", "category")
    search_fields = ("=id", "title", "slug", "summary", "category")
    date_hierarchy = "created_at"
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("article_id", "updated_at")
    inlines = [KbArticleVersionInline]

    @admin.display(description="Article", ordering="id")
    def article_id(self, obj: models.KbArticle) -> str | None:
        return obj.article_id


@admin.register(models.KbArticleVersion)
class KbArticleVersionAdmin(AuditedAdmin):
    list_display = ("article", "version", "title", "created_by", "created_at")
    search_fields = ("title", "article__title", "=article__id")
    date_hierarchy = "created_at"
    list_select_related = ("article",)
    raw_id_fields = ("article",)


@admin.register(models.KbVote)
class KbVoteAdmin(AuditedAdmin):
    list_display = ("article", "voter", "helpful", "updated_at")
    list_filter = ("helpful",)
    search_fields = ("voter", "article__title")
    date_hierarchy = "created_at"
    list_select_related = ("article",)
    raw_id_fields = ("article",)


@admin.register(models.KbSearchLog)
class KbSearchLogAdmin(AuditedAdmin):
    list_display = ("query", "category", "results_count", "client", "searched_by", "created_at")
    list_filter = ("category",)
    search_fields = ("query", "normalized_query", "searched_by", "client__client_id")
    date_hierarchy = "created_at"
    list_select_related = ("client",)
    raw_id_fields = ("client",)


@admin.register(models.PortalConfig)
class PortalConfigAdmin(AuditedAdmin):
    list_display = ("__str__", "scope", "client", "updated_at")
    list_filter = ("scope",)
    search_fields = ("client__client_id", "client__client_name")
    list_select_related = ("client",)
    raw_id_fields = ("client",)


@admin.register(models.PortalResource)
class PortalResourceAdmin(AuditedAdmin):
    list_display = ("title", "resource_type", "client", "kb_article", "visible", "created_at")
    list_filter = ("resource_type", "visible")
    search_fields = ("title", "url", "client__client_id")
    date_hierarchy = "created_at"
    list_select_related = ("client", "kb_article")
    raw_id_fields = ("client", "kb_article")


@admin.register(models.PortalActivity)
class PortalActivityAdmin(AuditedAdmin):
    list_display = ("occurred_at", "client", "user_email", "activity_type", "resource", "portal_resource")
    list_filter = ("activity_type",)
    search_fields = ("user_email", "resource", "client__client_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("client", "portal_resource")
    raw_id_fields = ("client", "portal_resource")
