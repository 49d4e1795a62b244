"""Admin for e-mail, workflows, community, advocacy, executive reviews and newsletters.

Changelists select their foreign keys up front so they run a constant number of queries; client foreign keys
use ``raw_id_fields`` (tens of thousands of accounts).
"""

from django.contrib import admin

from customers.admin_audit import AuditedAdmin

from .models import (
    Advocate,
    AdvocateContribution,
    Community,
    CommunityMember,
    CommunityPost,
    EmailCampaign,
    EmailMessage,
    EmailSuppression,
    ExecutiveReview,
    ExecutiveReviewActionItem,
    Newsletter,
    NewsletterSubscription,
    Workflow,
    WorkflowEnrollment,
    WorkflowRun,
)

CLIENT_SEARCH = ("client__client_id", "client__client_name")


# E-mail ---------------------------------------------------------------------------------------------


@admin.register(EmailCampaign)
class EmailCampaignAdmin(AuditedAdmin):
    list_display = (
        "campaign_id",
        "name",
        "template_type",
        "status",
        "scheduled_send_time",
        "sent_at",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "template_type", "track_opens", "track_clicks")
    search_fields = ("campaign_id", "name", "subject_line", "sender_email")
    date_hierarchy = "created_at"
    raw_id_fields = ("created_by_user",)
    readonly_fields = ("campaign_id", "created_at")


@admin.register(EmailMessage)
class EmailMessageAdmin(AuditedAdmin):
    list_display = (
        "message_id",
        "recipient_email",
        "subject",
        "client",
        "campaign",
        "kind",
        "status",
        "reason",
        "sent_at",
        "opened_at",
        "clicked_at",
    )
    list_filter = ("status", "kind", "is_internal", "backend")
    search_fields = ("message_id", "recipient_email", "subject", "campaign__campaign_id", *CLIENT_SEARCH)
    date_hierarchy = "created_at"
    list_select_related = ("client", "campaign")
    raw_id_fields = ("client", "contact", "campaign", "newsletter", "workflow_run", "reviewed_by")
    readonly_fields = ("message_id", "created_at")


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(AuditedAdmin):
    list_display = ("email", "reason", "source", "created_at")
    list_filter = ("reason",)
    search_fields = ("email", "source")
    date_hierarchy = "created_at"


# Workflows ----------------------------------------------------------------------------------------


@admin.register(Workflow)
class WorkflowAdmin(AuditedAdmin):
    list_display = (
        "workflow_id",
        "name",
        "kind",
        "trigger_type",
        "is_active",
        "client",
        "delay_minutes",
        "execution_count",
        "last_run_at",
    )
    list_filter = ("kind", "is_active", "trigger_type")
    search_fields = ("workflow_id", "name", "source_object_id", *CLIENT_SEARCH)
    list_select_related = ("client",)
    raw_id_fields = ("client", "created_by")
    readonly_fields = ("workflow_id", "created_at", "updated_at")


@admin.register(WorkflowEnrollment)
class WorkflowEnrollmentAdmin(AuditedAdmin):
    list_display = (
        "workflow",
        "client",
        "status",
        "condition_true",
        "enrolled_at",
        "last_evaluated_at",
        "exited_at",
    )
    list_filter = ("status", "condition_true", "workflow__kind")
    search_fields = ("workflow__workflow_id", "workflow__name", *CLIENT_SEARCH)
    date_hierarchy = "enrolled_at"
    list_select_related = ("workflow", "client")
    raw_id_fields = ("workflow", "client")


@admin.register(WorkflowRun)
class WorkflowRunAdmin(AuditedAdmin):
    list_display = ("id", "workflow", "client", "status", "triggered_at", "scheduled_for", "finished_at")
    list_filter = ("status", "workflow__kind")
    search_fields = ("workflow__workflow_id", "workflow__name", *CLIENT_SEARCH)
    date_hierarchy = "triggered_at"
    list_select_related = ("workflow", "client")
    raw_id_fields = ("workflow", "enrollment", "client")


# Community ----------------------------------------------------------------------------------------


class CommunityMemberInline(admin.TabularInline):
    model = CommunityMember
    extra = 0
    fields = ("member_id", "name", "email", "client", "is_active", "joined_at")
    readonly_fields = ("member_id",)
    raw_id_fields = ("client", "contact")
    show_change_link = True


class CommunityPostInline(admin.TabularInline):
    model = CommunityPost
    extra = 0
    fields = ("post_id", "member", "status", "content", "posted_at", "published_at")
    readonly_fields = ("post_id",)
    raw_id_fields = ("member", "moderated_by")
    show_change_link = True


@admin.register(Community)
class CommunityAdmin(AuditedAdmin):
    list_display = ("community_id", "name", "community_type", "require_approval", "is_active", "created_at")
    list_filter = ("community_type", "require_approval", "is_active")
    search_fields = ("community_id", "name")
    readonly_fields = ("community_id", "created_at")
    inlines = (CommunityMemberInline, CommunityPostInline)


@admin.register(CommunityMember)
class CommunityMemberAdmin(AuditedAdmin):
    list_display = ("member_id", "name", "email", "community", "client", "is_active", "joined_at")
    list_filter = ("is_active", "community")
    search_fields = ("member_id", "name", "email", *CLIENT_SEARCH)
    date_hierarchy = "joined_at"
    list_select_related = ("community", "client")
    raw_id_fields = ("community", "client", "contact")
    readonly_fields = ("member_id",)


@admin.register(CommunityPost)
class CommunityPostAdmin(AuditedAdmin):
    list_display = ("post_id", "community", "member", "status", "posted_at", "published_at", "moderated_at")
    list_filter = ("status", "community")
    search_fields = ("post_id", "content", "member__email", "member__name")
    date_hierarchy = "posted_at"
    list_select_related = ("community", "member")
    raw_id_fields = ("community", "member", "moderated_by")
    readonly_fields = ("post_id",)


# Advocacy -----------------------------------------------------------------------------------------


class AdvocateContributionInline(admin.TabularInline):
    model = AdvocateContribution
    extra = 0
    fields = ("contribution_type", "points", "details", "contributed_at", "recorded_by")


@admin.register(Advocate)
class AdvocateAdmin(AuditedAdmin):
    list_display = (
        "advocate_id",
        "contact_name",
        "contact_email",
        "client",
        "tier",
        "lifetime_points",
        "status",
        "enrolled_at",
        "last_contribution_at",
    )
    list_filter = ("tier", "status")
    search_fields = ("advocate_id", "contact_name", "contact_email", *CLIENT_SEARCH)
    date_hierarchy = "enrolled_at"
    list_select_related = ("client",)
    raw_id_fields = ("client", "contact")
    readonly_fields = ("advocate_id",)
    inlines = (AdvocateContributionInline,)


@admin.register(AdvocateContribution)
class AdvocateContributionAdmin(AuditedAdmin):
    list_display = ("advocate", "client", "contribution_type", "points", "contributed_at", "recorded_by")
    list_filter = ("contribution_type",)
    search_fields = ("advocate__advocate_id", "advocate__contact_email", "advocate__client__client_id")
    date_hierarchy = "contributed_at"
    list_select_related = ("advocate", "advocate__client")
    raw_id_fields = ("advocate",)

    @admin.display(description="client", ordering="advocate__client__client_name")
    def client(self, obj):
        return obj.advocate.client


# Executive business reviews -----------------------------------------------------------------------


class ExecutiveReviewActionItemInline(admin.TabularInline):
    model = ExecutiveReviewActionItem
    extra = 0
    fields = ("title", "owner", "due_date", "status", "completed_at")


@admin.register(ExecutiveReview)
class ExecutiveReviewAdmin(AuditedAdmin):
    list_display = (
        "ebr_id",
        "client",
        "ebr_type",
        "status",
        "scheduled_date",
        "prepared",
        "satisfaction_rating",
        "completed_at",
    )
    list_filter = ("status", "ebr_type", "prepared", "satisfaction_rating")
    search_fields = ("ebr_id", *CLIENT_SEARCH)
    date_hierarchy = "scheduled_date"
    list_select_related = ("client",)
    raw_id_fields = ("client", "previous_review")
    readonly_fields = ("ebr_id", "created_at")
    inlines = (ExecutiveReviewActionItemInline,)


@admin.register(ExecutiveReviewActionItem)
class ExecutiveReviewActionItemAdmin(AuditedAdmin):
    list_display = ("title", "review", "client", "owner", "due_date", "status", "completed_at")
    list_filter = ("status",)
    search_fields = ("title", "owner", "review__ebr_id", "review__client__client_id")
    date_hierarchy = "due_date"
    list_select_related = ("review", "review__client")
    raw_id_fields = ("review",)

    @admin.display(description="client", ordering="review__client__client_name")
    def client(self, obj):
        return obj.review.client


# Newsletters --------------------------------------------------------------------------------------


@admin.register(Newsletter)
class NewsletterAdmin(AuditedAdmin):
    list_display = (
        "newsletter_id",
        "name",
        "edition_number",
        "status",
        "scheduled_at",
        "sent_at",
        "is_recurring",
        "recurrence_pattern",
    )
    list_filter = ("status", "is_recurring", "recurrence_pattern")
    search_fields = ("newsletter_id", "name", "subject_line")
    date_hierarchy = "created_at"
    raw_id_fields = ("previous_edition",)
    readonly_fields = ("newsletter_id", "created_at")


@admin.register(NewsletterSubscription)
class NewsletterSubscriptionAdmin(AuditedAdmin):
    list_display = ("client", "series", "email", "subscribed_at", "unsubscribed_at")
    list_filter = (("unsubscribed_at", admin.EmptyFieldListFilter),)
    search_fields = ("series", "email", *CLIENT_SEARCH)
    date_hierarchy = "subscribed_at"
    list_select_related = ("client",)
    raw_id_fields = ("client",)
