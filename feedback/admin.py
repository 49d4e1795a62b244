"""Admin for feedback, surveys, themes, product insights and VoC reports.

Every foreign key shown in a changelist is in ``list_select_related`` and many-to-many columns are
prefetched or counted in the same query, so a changelist runs a constant number of queries. The search box
also accepts public ids (``FB-12``, ``NPS-3``, ``CSAT-4``, ``CES-5``).
"""

from django.contrib import admin
from django.db.models import Count

from cs_project.core.ids import parse_seq_id
from customers.admin_audit import AuditedAdmin

from .choices import SurveyType
from .models import (
    Feedback,
    ProductInsight,
    SurveyInvitation,
    SurveyResponse,
    SurveyTemplate,
    Theme,
    VocReport,
)


@admin.register(Theme)
class ThemeAdmin(AuditedAdmin):
    list_display = ("key", "name", "keyword_list", "keywords_setting", "item_count", "active")
    list_filter = ("active",)
    search_fields = ("key", "name", "description")
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_items=Count("feedback_items", distinct=True))

    @admin.display(description="keywords")
    def keyword_list(self, obj: Theme) -> str:
        return ", ".join(obj.keywords or [])

    @admin.display(description="feedback items", ordering="_items")
    def item_count(self, obj: Theme) -> int:
        return obj._items


@admin.register(Feedback)
class FeedbackAdmin(AuditedAdmin):
    list_display = (
        "feedback_code",
        "title",
        "client",
        "contact",
        "feedback_type",
        "status",
        "voc_status",
        "priority",
        "sentiment",
        "sentiment_score",
        "theme_keys",
        "assigned_team",
        "source",
        "created_at",
    )
    list_select_related = ("client", "contact")
    list_filter = (
        "status",
        "voc_status",
        "priority",
        "feedback_type",
        "sentiment",
        "assigned_team",
        "themes",
    )
    search_fields = (
        "title",
        "submitter_email",
        "submitter_name",
        "category",
        "client__client_id",
        "client__client_name",
    )
    date_hierarchy = "created_at"
    raw_id_fields = ("client", "contact")
    filter_horizontal = ("themes",)
    readonly_fields = ("feedback_code", "updated_at")
    fieldsets = (
        (None, {"fields": ("feedback_code", "client", "contact", ("submitter_name", "submitter_email"))}),
        (
            "Content",
            {"fields": ("feedback_type", "source", "title", "content", ("category", "subcategory"), "tags")},
        ),
        ("Analysis", {"fields": (("sentiment", "sentiment_score"), "themes", "metadata")}),
        ("Handling", {"fields": (("priority", "status", "assigned_team"),)}),
        (
            "Voice-of-customer loop",
            {
                "fields": (
                    "voc_status",
                    ("created_at", "acknowledged_at"),
                    ("actioned_at", "closed_loop_at"),
                    "closed_loop_message",
                    "updated_at",
                )
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("themes")

    @admin.display(description="id", ordering="pk")
    def feedback_code(self, obj: Feedback) -> str | None:
        return obj.feedback_id

    @admin.display(description="themes")
    def theme_keys(self, obj: Feedback) -> str:
        return ", ".join(t.key for t in obj.themes.all()) or "uncategorized"

    def get_search_results(self, request, queryset, search_term):
        pk = parse_seq_id("FB", search_term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(SurveyResponse)
class SurveyResponseAdmin(AuditedAdmin):
    list_display = (
        "response_code",
        "client",
        "contact",
        "survey_type",
        "score",
        "nps_category",
        "respondent_email",
        "source",
        "ticket",
        "feedback",
        "follow_up_status",
        "contacted_at",
        "responded_at",
    )
    list_select_related = ("client", "contact", "ticket", "feedback")
    list_filter = ("survey_type", "source", "follow_up_status", "score")
    search_fields = ("respondent_email", "comment", "client__client_id", "client__client_name")
    date_hierarchy = "responded_at"
    raw_id_fields = ("client", "contact", "ticket", "feedback")
    readonly_fields = ("response_code", "created_at")

    @admin.display(description="id", ordering="pk")
    def response_code(self, obj: SurveyResponse) -> str | None:
        return obj.response_id

    @admin.display(description="NPS category")
    def nps_category(self, obj: SurveyResponse) -> str:
        return obj.nps_category or "–"

    def get_search_results(self, request, queryset, search_term):
        for survey_type in SurveyType.values:
            pk = parse_seq_id(survey_type.upper(), search_term)
            if pk is not None:
                return queryset.filter(pk=pk, survey_type=survey_type), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(SurveyTemplate)
class SurveyTemplateAdmin(AuditedAdmin):
    list_display = ("name", "survey_type", "question_count", "is_default", "active", "updated_at")
    list_filter = ("survey_type", "is_default", "active")
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="questions")
    def question_count(self, obj: SurveyTemplate) -> int:
        return len(obj.questions) if isinstance(obj.questions, list) else 0


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(AuditedAdmin):
    list_display = (
        "email",
        "client",
        "contact",
        "survey_type",
        "template",
        "source",
        "source_ref",
        "ticket",
        "response",
        "sent_at",
        "responded",
    )
    list_select_related = ("client", "contact", "template", "ticket", "response")
    list_filter = ("survey_type", "source", "responded")
    search_fields = ("email", "source_ref", "client__client_id", "client__client_name")
    date_hierarchy = "sent_at"
    raw_id_fields = ("client", "contact", "ticket", "response")


@admin.register(ProductInsight)
class ProductInsightAdmin(AuditedAdmin):
    list_display = (
        "insight_id",
        "title",
        "insight_type",
        "priority",
        "status",
        "feedback_count",
        "client_count",
        "due_date",
        "created_by",
        "created_at",
    )
    list_select_related = ("created_by",)
    list_filter = ("status", "priority", "insight_type")
    search_fields = ("insight_id", "title", "description")
    date_hierarchy = "created_at"
    raw_id_fields = ("feedback", "affected_clients", "created_by")
    readonly_fields = ("insight_id", "updated_at")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _feedback=Count("feedback", distinct=True), _clients=Count("affected_clients", distinct=True)
            )
        )

    @admin.display(description="feedback", ordering="_feedback")
    def feedback_count(self, obj: ProductInsight) -> int:
        return obj._feedback

    @admin.display(description="clients", ordering="_clients")
    def client_count(self, obj: ProductInsight) -> int:
        return obj._clients


@admin.register(VocReport)
class VocReportAdmin(AuditedAdmin):
    list_display = (
        "report_id",
        "report_type",
        "target_audience",
        "client",
        "period_start",
        "period_end",
        "generated_at",
        "generated_by",
    )
    list_select_related = ("client", "generated_by")
    list_filter = ("report_type", "target_audience")
    search_fields = ("report_id", "client__client_id", "client__client_name")
    date_hierarchy = "generated_at"
    raw_id_fields = ("client", "generated_by")
    readonly_fields = ("report_id",)
