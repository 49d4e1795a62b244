"""Admin for onboarding plans, the milestone template, training and certification.

Changelists select their foreign keys up front so they run a constant number of queries; client foreign keys
use ``raw_id_fields`` (tens of thousands of accounts).
"""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html_join

from customers.admin_audit import AuditedAdmin

from .models import (
    Certification,
    CertificationTrack,
    MilestoneTemplate,
    OnboardingAutomation,
    OnboardingMilestone,
    OnboardingPlan,
    OnboardingTask,
    PlanSuccessCriterion,
    TrainingAttendee,
    TrainingCompletion,
    TrainingModule,
    TrainingSession,
)

CLIENT_SEARCH = ("client__client_id", "client__client_name")


@admin.register(MilestoneTemplate)
class MilestoneTemplateAdmin(AuditedAdmin):
    list_display = (
        "key",
        "name",
        "template_week",
        "is_final",
        "estimated_hours",
        "inclusion",
        "success_rule",
        "is_active",
    )
    list_filter = ("inclusion", "is_final", "is_active")
    search_fields = ("key", "name")
    ordering = ("sequence", "key")


# Plans --------------------------------------------------------------------------------------------


class OnboardingMilestoneInline(admin.TabularInline):
    model = OnboardingMilestone
    extra = 0
    fields = ("key", "name", "sequence", "due_date", "estimated_hours", "status", "completed_at", "blockers")
    show_change_link = True
    ordering = ("sequence", "key")


class PlanSuccessCriterionInline(admin.TabularInline):
    model = PlanSuccessCriterion
    extra = 0
    fields = ("key", "description", "measured", "status", "value", "threshold", "evaluated_at")
    raw_id_fields = ("marked_by",)


class OnboardingAutomationInline(admin.StackedInline):
    model = OnboardingAutomation
    extra = 0
    max_num = 1
    fields = ("automation_id", "is_active", "triggers", "notification_preferences", "workflow_ids")
    readonly_fields = ("automation_id",)


class OnboardingTaskInline(admin.TabularInline):
    model = OnboardingTask
    extra = 0
    fields = ("title", "sequence", "done", "done_at")


@admin.register(OnboardingPlan)
class OnboardingPlanAdmin(AuditedAdmin):
    list_display = (
        "plan_id",
        "plan_name",
        "client",
        "product_tier",
        "status",
        "progress_status",
        "completion_pct",
        "start_date",
        "target_completion_date",
        "timeline_weeks",
        "total_estimated_hours",
    )
    list_filter = ("status", "progress_status", "product_tier", "technical_complexity", "timeline_weeks")
    search_fields = ("plan_id", "plan_name", *CLIENT_SEARCH)
    date_hierarchy = "start_date"
    list_select_related = ("client",)
    raw_id_fields = ("client", "created_by")
    readonly_fields = ("plan_id", "tasks_overview", "created_at", "updated_at")
    inlines = (OnboardingMilestoneInline, PlanSuccessCriterionInline, OnboardingAutomationInline)
    fieldsets = (
        (None, {"fields": ("plan_id", "client", "plan_name", "status", "created_by")}),
        (
            "Scope",
            {"fields": ("product_tier", "team_size", "technical_complexity", "customer_goals")},
        ),
        (
            "Timeline",
            {"fields": ("start_date", "target_completion_date", "timeline_weeks", "total_estimated_hours")},
        ),
        (
            "Progress (cache of RULES §9.2)",
            {
                "fields": (
                    "progress_status",
                    "completion_pct",
                    "expected_pct",
                    "last_progress_at",
                    "progress_evaluated_at",
                    "completed_at",
                    "cancelled_at",
                )
            },
        ),
        ("Tasks", {"fields": ("tasks_overview",)}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Tasks by milestone (edit them on the milestone)")
    def tasks_overview(self, obj):
        if obj.pk is None:
            return "—"
        tasks = (
            OnboardingTask.objects.filter(milestone__plan=obj)
            .select_related("milestone")
            .order_by("milestone__sequence", "milestone__key", "sequence", "id")
        )
        rows = [(t.milestone.key, "☑" if t.done else "☐", t.title) for t in tasks]
        if not rows:
            return "—"
        return format_html_join("", "<div>{} {} {}</div>", rows)


@admin.register(OnboardingMilestone)
class OnboardingMilestoneAdmin(AuditedAdmin):
    list_display = ("key", "name", "plan", "client", "status", "due_date", "estimated_hours", "completed_at")
    list_filter = ("status", "key")
    search_fields = ("key", "name", "plan__plan_id", "plan__client__client_id", "plan__client__client_name")
    date_hierarchy = "due_date"
    list_select_related = ("plan", "plan__client")
    raw_id_fields = ("plan", "template")
    inlines = (OnboardingTaskInline,)

    @admin.display(description="client", ordering="plan__client__client_name")
    def client(self, obj):
        return obj.plan.client


@admin.register(OnboardingTask)
class OnboardingTaskAdmin(AuditedAdmin):
    list_display = ("title", "milestone", "plan", "done", "done_at", "status_changed_at")
    list_filter = ("done", "milestone__key")
    search_fields = ("title", "milestone__plan__plan_id", "milestone__plan__client__client_id")
    list_select_related = ("milestone", "milestone__plan")
    raw_id_fields = ("milestone",)

    @admin.display(description="plan", ordering="milestone__plan__plan_id")
    def plan(self, obj):
        return obj.milestone.plan


@admin.register(PlanSuccessCriterion)
class PlanSuccessCriterionAdmin(AuditedAdmin):
    list_display = ("key", "description", "plan", "measured", "status", "evaluated_at")
    list_filter = ("status", "measured", "key")
    search_fields = ("key", "description", "plan__plan_id", "plan__client__client_id")
    list_select_related = ("plan",)
    raw_id_fields = ("plan", "marked_by")


@admin.register(OnboardingAutomation)
class OnboardingAutomationAdmin(AuditedAdmin):
    list_display = ("automation_id", "plan", "client", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("automation_id", "plan__plan_id", "plan__client__client_id")
    list_select_related = ("plan", "plan__client")
    raw_id_fields = ("plan",)
    readonly_fields = ("automation_id", "created_at", "updated_at")

    @admin.display(description="client", ordering="plan__client__client_name")
    def client(self, obj):
        return obj.plan.client


# Training -----------------------------------------------------------------------------------------


@admin.register(TrainingModule)
class TrainingModuleAdmin(AuditedAdmin):
    list_display = (
        "module_id",
        "name",
        "certification_level",
        "duration_minutes",
        "passing_score",
        "requires_assessment",
        "is_active",
    )
    list_filter = ("certification_level", "requires_assessment", "is_active")
    search_fields = ("module_id", "name")
    readonly_fields = ("module_id", "created_at")


class TrainingAttendeeInline(admin.TabularInline):
    model = TrainingAttendee
    extra = 0
    fields = ("email", "contact", "invited_at", "invitation_message_id")
    raw_id_fields = ("contact",)


class TrainingCompletionInline(admin.TabularInline):
    """Results of the session; module and client are taken from the session on save."""

    model = TrainingCompletion
    extra = 0
    fields = ("attendee_email", "attended", "assessment_score", "passed", "attempt", "completed_at")


@admin.register(TrainingSession)
class TrainingSessionAdmin(AuditedAdmin):
    list_display = (
        "session_id",
        "client",
        "module",
        "format",
        "status",
        "scheduled_at",
        "duration_minutes",
        "recording_enabled",
    )
    list_filter = ("status", "format", "recording_enabled")
    search_fields = ("session_id", "module__name", *CLIENT_SEARCH)
    date_hierarchy = "scheduled_at"
    list_select_related = ("client", "module")
    raw_id_fields = ("client", "created_by")
    readonly_fields = ("session_id", "created_at")
    inlines = (TrainingAttendeeInline, TrainingCompletionInline)

    def save_formset(self, request, form, formset, change):
        if formset.model is TrainingCompletion:
            session = form.instance
            for row in formset.save(commit=False):
                row.module_id = session.module_id
                row.client_id = session.client_id
                row.save()
            for row in formset.deleted_objects:
                row.delete()
            formset.save_m2m()
            return
        super().save_formset(request, form, formset, change)


@admin.register(TrainingAttendee)
class TrainingAttendeeAdmin(AuditedAdmin):
    list_display = ("email", "session", "client", "invited_at")
    search_fields = ("email", "session__session_id", "session__client__client_id")
    list_select_related = ("session", "session__client")
    raw_id_fields = ("session", "contact")

    @admin.display(description="client", ordering="session__client__client_name")
    def client(self, obj):
        return obj.session.client


@admin.register(TrainingCompletion)
class TrainingCompletionAdmin(AuditedAdmin):
    list_display = (
        "attendee_email",
        "module",
        "session",
        "client",
        "attended",
        "assessment_score",
        "passed",
        "attempt",
        "completed_at",
    )
    list_filter = ("passed", "attended", "attempt", "module")
    search_fields = ("attendee_email", "session__session_id", "module__name", *CLIENT_SEARCH)
    date_hierarchy = "completed_at"
    list_select_related = ("module", "session", "client")
    raw_id_fields = ("session", "module", "client")


# Certification ------------------------------------------------------------------------------------


@admin.register(CertificationTrack)
class CertificationTrackAdmin(AuditedAdmin):
    list_display = ("level", "name", "client", "module_count", "is_active", "updated_at")
    list_filter = ("level", "is_active")
    search_fields = ("name", *CLIENT_SEARCH)
    list_select_related = ("client",)
    raw_id_fields = ("client",)
    filter_horizontal = ("modules",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(module_total=Count("modules"))

    @admin.display(description="modules", ordering="module_total")
    def module_count(self, obj):
        return obj.module_total


@admin.register(Certification)
class CertificationAdmin(AuditedAdmin):
    list_display = (
        "certification_id",
        "holder_email",
        "holder_name",
        "level",
        "client",
        "status",
        "issued_at",
        "revoked_at",
    )
    list_filter = ("status", "level")
    search_fields = ("certification_id", "holder_email", "holder_name", *CLIENT_SEARCH)
    date_hierarchy = "issued_at"
    list_select_related = ("client",)
    raw_id_fields = ("client", "track")
    readonly_fields = ("certification_id",)
