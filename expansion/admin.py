"""Admin for the product catalogue, the expansion pipeline and renewals (reminders and proposals inline).

Every foreign key shown in a changelist is in ``list_select_related``, so a changelist runs a constant
number of queries whatever the page size. The search box also accepts public ids (``EXP-12``).
"""

from django.contrib import admin
from django.db.models import Count
from django.utils import timezone

from cs_project.core.ids import parse_seq_id
from customers.admin_audit import AuditedAdmin

from .models import ExpansionOpportunity, Product, Renewal, RenewalProposal, RenewalReminder


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = (
        "product_key",
        "name",
        "family",
        "annual_list_price",
        "currency",
        "pricing",
        "min_tier",
        "prerequisite_count",
        "active",
    )
    list_filter = ("active", "family", "pricing", "min_tier")
    search_fields = ("product_key", "name", "family", "use_case")
    filter_horizontal = ("prerequisites",)
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_prerequisites=Count("prerequisites", distinct=True))

    @admin.display(description="prerequisites", ordering="_prerequisites")
    def prerequisite_count(self, obj: Product) -> int:
        return obj._prerequisites


@admin.register(ExpansionOpportunity)
class ExpansionOpportunityAdmin(AuditedAdmin):
    list_display = (
        "opportunity_code",
        "client",
        "opportunity_type",
        "stage",
        "target_tier",
        "target_product",
        "target_seats",
        "amount",
        "probability",
        "owner",
        "identified_at",
        "closed_at",
    )
    list_select_related = ("client", "target_product", "owner")
    list_filter = ("stage", "opportunity_type", "target_tier", "rule_id")
    search_fields = ("client__client_id", "client__client_name", "description", "rule_id")
    date_hierarchy = "identified_at"
    raw_id_fields = ("client", "target_product", "owner")
    readonly_fields = ("opportunity_code", "updated_at")

    @admin.display(description="id", ordering="pk")
    def opportunity_code(self, obj: ExpansionOpportunity) -> str | None:
        return obj.opportunity_id

    def get_search_results(self, request, queryset, search_term):
        pk = parse_seq_id("EXP", search_term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)


class RenewalReminderInline(admin.TabularInline):
    model = RenewalReminder
    extra = 0
    fields = ("days_before", "due_date", "sent_at", "failed_at", "cancelled_at", "last_error")
    ordering = ("-days_before",)


class RenewalProposalInline(admin.StackedInline):
    model = RenewalProposal
    extra = 0
    fields = (
        ("proposal_id", "strategy", "status"),
        ("base_arr", "proposed_arr", "discount", "term_months"),
        "package",
        ("created_by", "created_at"),
    )
    readonly_fields = ("proposal_id", "created_by")
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(Renewal)
class RenewalAdmin(AuditedAdmin):
    list_display = (
        "renewal_id",
        "client",
        "contract",
        "renewal_date",
        "status",
        "probability",
        "target_arr",
        "final_arr",
        "currency",
        "closed_at",
    )
    list_select_related = ("client", "contract")
    list_filter = ("status", "currency")
    search_fields = ("renewal_id", "client__client_id", "client__client_name")
    date_hierarchy = "renewal_date"
    raw_id_fields = ("client", "contract")
    readonly_fields = ("renewal_id", "created_at", "updated_at")
    inlines = (RenewalReminderInline, RenewalProposalInline)


@admin.register(RenewalReminder)
class RenewalReminderAdmin(AuditedAdmin):
    list_display = (
        "renewal",
        "client",
        "days_before",
        "due_date",
        "status",
        "sent_at",
        "failed_at",
        "cancelled_at",
    )
    list_select_related = ("renewal", "renewal__client")
    list_filter = (
        "days_before",
        ("sent_at", admin.EmptyFieldListFilter),
        ("cancelled_at", admin.EmptyFieldListFilter),
        ("failed_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("renewal__renewal_id", "renewal__client__client_id", "renewal__client__client_name")
    date_hierarchy = "due_date"
    raw_id_fields = ("renewal",)
    readonly_fields = ("created_at",)

    @admin.display(description="client", ordering="renewal__client__client_name")
    def client(self, obj: RenewalReminder):
        return obj.renewal.client

    @admin.display(description="status")
    def status(self, obj: RenewalReminder) -> str:
        return obj.status_on(timezone.localdate())


@admin.register(RenewalProposal)
class RenewalProposalAdmin(AuditedAdmin):
    list_display = (
        "proposal_id",
        "renewal",
        "client",
        "strategy",
        "status",
        "base_arr",
        "proposed_arr",
        "discount",
        "term_months",
        "created_by",
        "created_at",
    )
    list_select_related = ("renewal", "renewal__client", "created_by")
    list_filter = ("status", "strategy")
    search_fields = (
        "proposal_id",
        "renewal__renewal_id",
        "renewal__client__client_id",
        "renewal__client__client_name",
    )
    date_hierarchy = "created_at"
    raw_id_fields = ("renewal", "created_by")
    readonly_fields = ("proposal_id", "updated_at")

    @admin.display(description="client", ordering="renewal__client__client_name")
    def client(self, obj: RenewalProposal):
        return obj.renewal.client
