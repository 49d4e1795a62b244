"""Admin for retention: campaign templates are editable config (RULES §1 [DB]).

Also campaigns with their actions, escalations and churn post-mortems.
"""

from django.contrib import admin

from customers.admin_audit import AuditedAdmin

from . import models


@admin.register(models.CampaignTemplate)
class CampaignTemplateAdmin(AuditedAdmin):
    list_display = (
        "campaign_type",
        "name",
        "target_health_uplift",
        "target_health_floor",
        "evaluation_window_days",
        "active",
        "updated_at",
    )
    list_filter = ("active",)
    search_fields = ("name", "campaign_type")


class RetentionActionInline(admin.TabularInline):
    model = models.RetentionAction
    extra = 0
    fields = ("sequence", "action_type", "offset_days", "due_date", "owner", "status", "completed_at")
    raw_id_fields = ("owner",)
    show_change_link = True


@admin.register(models.RetentionCampaign)
class RetentionCampaignAdmin(AuditedAdmin):
    list_display = (
        "campaign_id",
        "client",
        "template",
        "campaign_type",
        "intervention_level",
        "status",
        "trigger",
        "baseline_health",
        "target_health",
        "evaluation_date",
        "outcome",
        "started_at",
    )
    list_filter = ("status", "campaign_type", "intervention_level", "trigger", "outcome")
    search_fields = ("campaign_id", "automation_id", "client__client_id", "client__client_name")
    date_hierarchy = "started_at"
    list_select_related = ("client", "template")
    raw_id_fields = ("client", "created_by")
    readonly_fields = ("campaign_id", "created_at", "updated_at")
    inlines = [RetentionActionInline]


@admin.register(models.RetentionAction)
class RetentionActionAdmin(AuditedAdmin):
    list_display = ("campaign", "sequence", "action_type", "due_date", "owner", "status", "completed_at")
    list_filter = ("status", "action_type")
    search_fields = ("campaign__campaign_id", "campaign__client__client_id", "notes")
    date_hierarchy = "due_date"
    list_select_related = ("campaign", "owner")
    raw_id_fields = ("campaign", "owner")


@admin.register(models.Escalation)
class EscalationAdmin(AuditedAdmin):
    list_display = (
        "escalation_id",
        "title",
        "client",
        "ticket",
        "campaign",
        "severity",
        "status",
        "source",
        "assigned_to",
        "opened_at",
        "due_at",
        "resolved_at",
    )
    list_filter = ("status", "severity", "source")
    search_fields = ("escalation_id", "title", "client__client_id", "client__client_name")
    date_hierarchy = "opened_at"
    list_select_related = ("client", "ticket", "campaign", "assigned_to")
    raw_id_fields = ("client", "ticket", "campaign", "assigned_to")
    readonly_fields = ("escalation_id", "created_at", "updated_at")


@admin.register(models.ChurnPostmortem)
class ChurnPostmortemAdmin(AuditedAdmin):
    list_display = (
        "postmortem_id",
        "client",
        "churn_date",
        "lost_arr",
        "ltv_amount",
        "ltv_estimated",
        "created_at",
    )
    list_filter = ("ltv_estimated",)
    search_fields = ("postmortem_id", "client__client_id", "client__client_name", "notes")
    date_hierarchy = "churn_date"
    list_select_related = ("client",)
    raw_id_fields = ("client", "created_by")
    readonly_fields = ("postmortem_id", "created_at", "updated_at")
