"""Admin of the health app: catalogue, roll-ups, scorecards, snapshots, churn, tiers, segments, milestones.

Extra pages (on the HealthSnapshot admin):
- ``/admin/health/healthsnapshot/client/<client pk>/`` — a client's health history (inline SVG line chart) and
  the latest explanation (components, contributions, drivers);
- ``/admin/health/healthsnapshot/portfolio/`` — band distribution of the latest official scores and the
  biggest movers over 7 / 30 days (set-based queries).
The customers Client change page shows ``health_history`` (the 90-day chart and the link to the history page):
customers cannot import this app, so the panel is registered here (``customers.admin_hooks``).
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cs_project.core.context import Actor
from cs_project.core.errors import ToolError
from customers.admin_audit import AuditedAdmin
from customers.admin_hooks import HEALTH_FIELDSET, register_client_panel
from customers.choices import AccountStatus, RiskLevel
from customers.models import Client

from .choices import COMPONENTS
from .models import (
    AdoptionFramework,
    ChurnModel,
    ChurnPrediction,
    ClientMilestone,
    ClientUsageDaily,
    ExpiredEventReceipt,
    Feature,
    FeatureUsageDaily,
    HealthScorecard,
    HealthSnapshot,
    Segment,
    SegmentMembership,
    UsageEvent,
    UsageRollupPending,
    UserActivityDaily,
    ValueTier,
)
from .scoring import snapshot_explanation

BAND_COLOURS = {
    "low": "#2e7d32",
    "medium": "#f9a825",
    "high": "#ef6c00",
    "critical": "#c62828",
    None: "#9e9e9e",
}


def client_health_url(client_pk: int) -> str:
    return reverse("admin:health_client_history", args=[client_pk])


def client_health_link(obj: Client) -> str:
    """For the Client admin's ``readonly_fields``/``list_display``: a link to the health history page."""
    if not obj or not obj.pk:
        return "–"
    return format_html(
        '<a href="{}">Health history ({})</a>', client_health_url(obj.pk), obj.health_score or "–"
    )


client_health_link.short_description = "Health"


@admin.display(description="Health history (90 days)")
def health_history(client: Client) -> str:
    """The Client change page's panel: the score over 90 days as a chart, with a link to the history page and
    the latest explanation."""
    if client is None or client.pk is None:
        return "–"
    since = timezone.localdate() - dt.timedelta(days=90)
    points = list(
        HealthSnapshot.objects.filter(client=client, as_of__gte=since)
        .order_by("as_of")
        .values("as_of", "health_score", "risk_level")
    )
    if not points:
        return "No health snapshot yet."
    return format_html("{}<br>{}", mark_safe(svg_line_chart(points)), client_health_link(client))


register_client_panel(health_history, fieldset=HEALTH_FIELDSET)


@admin.register(Feature)
class FeatureAdmin(AuditedAdmin):
    list_display = (
        "feature_key",
        "name",
        "category",
        "is_core",
        "min_tier",
        "counts_as_activity",
        "catalogued",
    )
    list_filter = (
        "category",
        "is_core",
        "min_tier",
        "counts_as_activity",
        "is_value_event",
        "catalogued",
        "active",
    )
    search_fields = ("feature_key", "name")
    list_editable = ("is_core", "counts_as_activity")


@admin.register(UsageEvent)
class UsageEventAdmin(AuditedAdmin):
    list_display = ("occurred_at", "client", "user_id", "feature_key", "quantity", "source", "message_id")
    list_filter = ("source",)
    search_fields = ("client__client_id", "user_id", "feature_key", "message_id")
    list_select_related = ("client",)
    raw_id_fields = ("client",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False


class _RollupAdmin(AuditedAdmin):
    list_select_related = ("client",)
    raw_id_fields = ("client",)
    date_hierarchy = "date"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # derived data: rebuilt by usage_rollup


@admin.register(UserActivityDaily)
class UserActivityDailyAdmin(_RollupAdmin):
    list_display = ("date", "client", "user_id", "events", "counting_events", "features_used", "quantity")
    search_fields = ("client__client_id", "user_id")


@admin.register(FeatureUsageDaily)
class FeatureUsageDailyAdmin(_RollupAdmin):
    list_display = ("date", "client", "feature_key", "events", "active_users", "quantity")
    search_fields = ("client__client_id", "feature_key")


@admin.register(ClientUsageDaily)
class ClientUsageDailyAdmin(_RollupAdmin):
    list_display = ("date", "client", "events", "counting_events", "active_users", "quantity")
    search_fields = ("client__client_id", "client__client_name")


@admin.register(UsageRollupPending)
class UsageRollupPendingAdmin(AuditedAdmin):
    list_display = ("client", "date", "touched_at")
    list_select_related = ("client",)
    search_fields = ("client__client_id",)
    raw_id_fields = ("client",)


@admin.register(ExpiredEventReceipt)
class ExpiredEventReceiptAdmin(AuditedAdmin):
    list_display = ("source", "message_id", "received_at")
    search_fields = ("message_id",)


@admin.register(HealthScorecard)
class HealthScorecardAdmin(AuditedAdmin):
    """Saving runs ``clean()``: weights 0–1 summing to 1 ± 0.01, exactly one active default (RULES §4.4)."""

    list_display = (
        "name",
        "is_default",
        "is_active",
        "tier",
        "lifecycle_stage",
        "value_tier",
        "priority",
        *[f"{c}_weight" for c in COMPONENTS],
    )
    list_filter = ("is_active", "is_default", "tier", "lifecycle_stage", "value_tier")
    search_fields = ("name",)


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(AuditedAdmin):
    list_display = (
        "as_of",
        "client",
        "health_score",
        "risk_level",
        "trend",
        "score_change",
        "coverage",
        "low_confidence",
        "churn_probability",
        "history_link",
    )
    list_filter = ("risk_level", "trend", "low_confidence", "as_of", "formula_version")
    search_fields = ("client__client_id", "client__client_name")
    list_select_related = ("client", "scorecard")
    raw_id_fields = ("client", "scorecard")
    date_hierarchy = "as_of"
    readonly_fields = [f.name for f in HealthSnapshot._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # official snapshots are written by scoring only

    @admin.display(description="History")
    def history_link(self, obj):
        return format_html('<a href="{}">chart</a>', client_health_url(obj.client_id))

    def get_urls(self):
        extra = [
            path(
                "client/<int:client_pk>/",
                self.admin_site.admin_view(self.client_history_view),
                name="health_client_history",
            ),
            path("portfolio/", self.admin_site.admin_view(self.portfolio_view), name="health_portfolio"),
        ]
        return extra + super().get_urls()

    def client_history_view(self, request, client_pk: int):
        client = get_object_or_404(Client, pk=client_pk)
        since = timezone.now().date() - dt.timedelta(days=365)
        snaps = list(
            HealthSnapshot.objects.filter(client=client, as_of__gte=since)
            .order_by("as_of")
            .values("as_of", "health_score", "risk_level")
        )
        latest = HealthSnapshot.objects.filter(client=client).order_by("-as_of").first()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Health history — {client.client_name}",
            "client": client,
            "chart": svg_line_chart(snaps),
            "latest": latest,
            "explanation": snapshot_explanation(latest) if latest else None,
            "snapshots": list(reversed(snaps))[:60],
            "changelist_url": reverse("admin:health_healthsnapshot_changelist")
            + f"?client__id__exact={client.pk}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/health/client_history.html", context)

    def portfolio_view(self, request):
        context = {
            **self.admin_site.each_context(request),
            "title": "Health portfolio",
            **portfolio_summary(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/health/portfolio.html", context)


def svg_line_chart(points: list[dict], width: int = 760, height: int = 220) -> str:
    """Inline SVG: health score (0–100) over time with band guide lines at 80 / 65 / 50."""
    pad = 30
    scored = [p for p in points if p["health_score"] is not None]
    if not scored:
        return ""
    first, last = scored[0]["as_of"], scored[-1]["as_of"]
    span = max(1, (last - first).days)

    def xy(p):
        x = pad + (width - 2 * pad) * (p["as_of"] - first).days / span
        y = pad + (height - 2 * pad) * (1 - p["health_score"] / 100)
        return x, y

    coords = [xy(p) for p in scored]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    guides = "".join(
        f'<line x1="{pad}" x2="{width - pad}" y1="{pad + (height - 2 * pad) * (1 - v / 100):.1f}" '
        f'y2="{pad + (height - 2 * pad) * (1 - v / 100):.1f}" stroke="#ddd" stroke-dasharray="4"/>'
        f'<text x="4" y="{pad + (height - 2 * pad) * (1 - v / 100) + 4:.1f}" font-size="10">{v}</text>'
        for v in (80, 65, 50)
    )
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BAND_COLOURS.get(p["risk_level"], "#9e9e9e")}">'
        f"<title>{p['as_of']}: {p['health_score']}</title></circle>"
        for (x, y), p in zip(coords, scored, strict=True)
    )
    labels = (
        f'<text x="{pad}" y="{height - 6}" font-size="10">{first}</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="10" text-anchor="end">{last}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Health score history">{guides}<polyline fill="none" stroke="#1565c0" stroke-width="2" '
        f'points="{line}"/>{dots}{labels}</svg>'
    )


def portfolio_summary(movers: int = 10) -> dict:
    """Band distribution of active clients' cached scores and the biggest movers vs 7 and 30 days ago."""
    active = Client.objects.filter(status=AccountStatus.ACTIVE)
    dist = {
        r["risk_level"] or "not_scored": r["n"] for r in active.values("risk_level").annotate(n=Count("id"))
    }
    bands = [
        {"band": b, "count": dist.get(b, 0), "colour": BAND_COLOURS[b]}
        for b in (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL)
    ]
    bands.append({"band": "not_scored", "count": dist.get("not_scored", 0), "colour": BAND_COLOURS[None]})
    out = {"bands": bands, "total": sum(b["count"] for b in bands), "movers": {}}
    for days in (7, 30):
        past = HealthSnapshot.objects.filter(
            client=OuterRef("pk"),
            as_of__lte=F("client__health_as_of") - dt.timedelta(days=days),
            health_score__isnull=False,
        ).order_by("-as_of")
        qs = (
            active.filter(health_score__isnull=False)
            .annotate(past=Subquery(past.values("health_score")[:1]))
            .filter(past__isnull=False)
            .annotate(change=F("health_score") - F("past"))
            .values("id", "client_id", "client_name", "health_score", "past", "change", "risk_level")
        )
        out["movers"][days] = {
            "up": list(qs.filter(change__gt=0).order_by("-change")[:movers]),
            "down": list(qs.filter(change__lt=0).order_by("change")[:movers]),
        }
    return out


@admin.register(ChurnModel)
class ChurnModelAdmin(AuditedAdmin):
    list_display = ("version", "status", "trained_at", "training_window_start", "training_window_end")
    list_filter = ("status",)
    search_fields = ("version",)
    readonly_fields = (
        "feature_names",
        "means",
        "stds",
        "coefficients",
        "intercept",
        "metrics",
        "heuristic_metrics",
    )
    actions = ["deactivate_churn_models"]
    change_list_template = "admin/health/churnmodel/change_list.html"

    def has_add_permission(self, request):
        return False  # models come from training only

    def get_urls(self):
        train = path("train/", self.admin_site.admin_view(self.train_view), name="health_churnmodel_train")
        return [train, *super().get_urls()]

    def train_view(self, request):
        """POST: train now (the monthly job's work); the model is promoted only if it beats the heuristic."""
        from .churn_model import churn_model_train

        if request.method != "POST" or not request.user.has_perm("health.change_churnmodel"):
            raise PermissionDenied
        model = churn_model_train(actor=Actor.for_user(request.user, channel="admin"))
        self.message_user(request, f"{model.version}: {model.status}. {model.notes}".strip(), messages.INFO)
        return redirect("admin:health_churnmodel_changelist")

    @admin.action(description="Deactivate selected models (fall back to the heuristic)")
    def deactivate_churn_models(self, request, queryset):
        from .churn_model import churn_model_deactivate

        actor = Actor.for_user(request.user, channel="admin")
        done = 0
        for model in queryset.filter(status="active"):
            try:
                churn_model_deactivate(model_id=model.pk, actor=actor)
                done += 1
            except ToolError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, f"Deactivated {done} model(s).", messages.SUCCESS)


@admin.register(ChurnPrediction)
class ChurnPredictionAdmin(AuditedAdmin):
    list_display = ("as_of", "client", "probability", "risk_level", "method", "predicted_churn_date")
    list_filter = ("risk_level", "method", "as_of")
    search_fields = ("client__client_id", "client__client_name")
    list_select_related = ("client", "model")
    raw_id_fields = ("client", "model")
    date_hierarchy = "as_of"


@admin.register(ValueTier)
class ValueTierAdmin(AuditedAdmin):
    list_display = (
        "name",
        "min_arr",
        "max_arr",
        "colour",
        "priority",
        "touch_cadence",
        "ebr_cadence",
        "target_health",
        "target_nps",
        "target_grr",
        "accounts_per_csm",
    )
    list_filter = ("touch_cadence", "ebr_cadence")
    search_fields = ("name",)
    ordering = ("priority",)


class SegmentMembershipInline(admin.TabularInline):
    model = SegmentMembership
    fields = ("client", "entered_at", "exited_at")
    raw_id_fields = ("client",)
    extra = 0


@admin.register(Segment)
class SegmentAdmin(AuditedAdmin):
    list_display = ("segment_id", "segmentation_type", "key", "name", "is_active", "members")
    list_filter = ("segmentation_type", "is_active")
    search_fields = ("segment_id", "key", "name")
    inlines = [SegmentMembershipInline]

    def get_queryset(self, request):
        from django.db.models import Q

        return (
            super()
            .get_queryset(request)
            .annotate(n=Count("memberships", filter=Q(memberships__exited_at__isnull=True)))
        )

    @admin.display(description="Current members", ordering="n")
    def members(self, obj):
        return obj.n


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(AuditedAdmin):
    list_display = ("segment", "client", "entered_at", "exited_at")
    list_filter = ("segment__segmentation_type",)
    search_fields = ("client__client_id", "segment__key", "segment__segment_id")
    list_select_related = ("segment", "client")
    raw_id_fields = ("segment", "client")


@admin.register(AdoptionFramework)
class AdoptionFrameworkAdmin(AuditedAdmin):
    list_display = ("key", "name", "industry", "is_active")
    list_filter = ("is_active",)
    search_fields = ("key", "name", "industry")


@admin.register(ClientMilestone)
class ClientMilestoneAdmin(AuditedAdmin):
    list_display = ("client", "framework", "milestone_id", "achieved_on", "days_to_achieve", "importance")
    list_filter = ("framework", "milestone_id", "importance", "category")
    search_fields = ("client__client_id", "client__client_name", "milestone_id")
    list_select_related = ("client", "framework")
    raw_id_fields = ("client",)
