"""Admin of the customers app.

Client adds and changes go through ``client_register`` / ``client_update`` (same validation, audit and
timeline as the tools). Other models are edited directly, and every admin save or delete is audited with
channel ``admin``. Audit and timeline entries are read-only; integration secrets are write-only.
"""

import json

from django import forms
from django.contrib import admin, messages

from cs_project.core.admin import ReadOnlyAdmin
from cs_project.core.errors import ToolError

from . import services
from .admin_audit import AuditedAdmin, admin_actor
from .admin_hooks import HEALTH_FIELDSET, RECORD_FIELDSET, client_panels, with_panels
from .models import (
    Alert,
    ArrMovement,
    AuditEvent,
    Client,
    ClientExternalId,
    Contact,
    Contract,
    IntegrationCredential,
    Invoice,
    JobRun,
    LifecycleStageHistory,
    TimelineEvent,
)

# --- Client ----------------------------------------------------------------------------------------------


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "role", "title", "phone", "is_primary", "primary_since", "primary_until")
    readonly_fields = ("is_primary", "primary_since", "primary_until")
    show_change_link = True


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0
    fields = (
        "contract_type",
        "status",
        "tier",
        "value",
        "currency",
        "start_date",
        "end_date",
        "included_users",
        "auto_renew",
        "payment_status",
    )
    show_change_link = True


class ExternalIdInline(admin.TabularInline):
    model = ClientExternalId
    extra = 0
    fields = ("system", "external_id")


CLIENT_SERVICE_FIELDS = services.UPDATABLE_FIELDS


class ClientAdminForm(forms.ModelForm):
    """Validated by the same service checks as ``register_client`` / ``update_client_info``."""

    class Meta:
        model = Client
        fields = (
            "client_id",
            "client_name",
            "company_name",
            "industry",
            "tier",
            "status",
            "csm_assigned",
            "contract_value",
            "contract_start_date",
            "contract_end_date",
            "primary_contact_name",
            "primary_contact_email",
        )

    def _service_values(self) -> dict:
        data = {}
        for name in CLIENT_SERVICE_FIELDS:
            if name in self.cleaned_data:
                value = self.cleaned_data[name]
                if name == "csm_assigned":
                    value = value.get_username() if value else None
                data[name] = value
        return data

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if self.instance.pk is None:
                data = self._service_values()
                services.validate_registration(
                    client_name=data.get("client_name"),
                    company_name=data.get("company_name"),
                    industry=data.get("industry") or "Technology",
                    contract_value=data.get("contract_value") or 0,
                    contract_start_date=data.get("contract_start_date"),
                    contract_end_date=data.get("contract_end_date"),
                    primary_contact_email=data.get("primary_contact_email"),
                    primary_contact_name=data.get("primary_contact_name"),
                    tier=data.get("tier") or "standard",
                    client_id=cleaned.get("client_id"),
                )
            else:
                current = Client.objects.select_related("csm_assigned").get(pk=self.instance.pk)
                updates = {k: v for k, v in self._service_values().items() if k in self.changed_data}
                if updates:
                    services.validate_updates(current, updates)
        except ToolError as exc:
            name = (exc.field or "").removeprefix("updates.")
            if name in self.fields:
                self.add_error(name, exc.message)
            else:
                raise forms.ValidationError(exc.message) from None
        return cleaned


@admin.register(Client)
class ClientAdmin(AuditedAdmin):
    form = ClientAdminForm
    list_display = (
        "client_id",
        "client_name",
        "tier",
        "value_tier",
        "status",
        "lifecycle_stage",
        "contract_value",
        "health_score",
        "risk_level",
        "renewal_date",
        "csm_assigned",
    )
    list_filter = (
        "tier",
        "value_tier",
        "status",
        "lifecycle_stage",
        "risk_level",
        "health_trend",
        "industry",
    )
    search_fields = ("client_id", "client_name", "company_name", "primary_contact_email")
    list_select_related = ("csm_assigned",)
    date_hierarchy = "created_at"
    ordering = ("client_name", "client_id")
    autocomplete_fields = ()
    raw_id_fields = ("csm_assigned",)
    inlines = (ContactInline, ContractInline, ExternalIdInline)
    readonly_fields = (
        "currency",
        "value_tier",
        "lifecycle_stage",
        "renewal_date",
        "health_score",
        "health_trend",
        "risk_level",
        "health_as_of",
        "last_engagement_date",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("client_id", "client_name", "company_name", "industry", "tier", "value_tier")}),
        ("Status", {"fields": ("status", "lifecycle_stage", "csm_assigned")}),
        (
            "Contract",
            {
                "fields": (
                    "contract_value",
                    "currency",
                    "contract_start_date",
                    "contract_end_date",
                    "renewal_date",
                )
            },
        ),
        ("Primary contact", {"fields": ("primary_contact_name", "primary_contact_email")}),
        (
            HEALTH_FIELDSET,
            {
                "fields": (
                    "health_score",
                    "health_trend",
                    "risk_level",
                    "health_as_of",
                    "last_engagement_date",
                )
            },
        ),
        (RECORD_FIELDSET, {"fields": ("created_at", "updated_at")}),
    )

    def get_fieldsets(self, request, obj=None):
        """Ours plus the panels other apps register (health's score chart): ``customers.admin_hooks``."""
        return with_panels(super().get_fieldsets(request, obj), client_panels())

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), *(panel.render for panel in client_panels())]
        if obj is not None:
            fields.append("client_id")
        return fields

    def save_model(self, request, obj, form, change):
        """Adds → ``client_register``; changes → ``client_update`` with the changed whitelisted fields."""
        actor = admin_actor(request)
        values = form._service_values()
        if not change:
            result = services.client_register(
                actor=actor,
                client_name=values["client_name"],
                company_name=values["company_name"],
                industry=values.get("industry") or "Technology",
                contract_value=values.get("contract_value") or 0,
                contract_start_date=values.get("contract_start_date"),
                contract_end_date=values.get("contract_end_date"),
                primary_contact_email=values.get("primary_contact_email"),
                primary_contact_name=values.get("primary_contact_name"),
                tier=values.get("tier") or "standard",
                client_id=form.cleaned_data.get("client_id") or None,
            )
            created = result.client
            if values.get("csm_assigned"):
                services.client_update(
                    actor=actor, client_id=created.client_id, updates={"csm_assigned": values["csm_assigned"]}
                )
            for field in Client._meta.concrete_fields:
                setattr(obj, field.attname, getattr(Client.objects.get(pk=created.pk), field.attname))
            obj._state.adding = False
            obj._state.db = "default"
            return
        updates = {k: v for k, v in values.items() if k in form.changed_data}
        if updates:
            result = services.client_update(actor=actor, client_id=obj.client_id, updates=updates)
            if result.side_effects:
                messages.info(request, f"Side effects: {result.side_effects}")

    def has_delete_permission(self, request, obj=None):
        # Clients carry a protected audit trail: deleting one is not an admin operation.
        return False


@admin.register(Contact)
class ContactAdmin(AuditedAdmin):
    list_display = ("name", "email", "client", "role", "is_primary", "primary_since", "primary_until")
    list_filter = ("role", "is_primary")
    search_fields = ("name", "email", "client__client_id", "client__client_name")
    list_select_related = ("client",)
    raw_id_fields = ("client",)
    readonly_fields = ("is_primary", "primary_since", "primary_until", "created_at")


@admin.register(ClientExternalId)
class ClientExternalIdAdmin(AuditedAdmin):
    list_display = ("external_id", "system", "client")
    list_filter = ("system",)
    search_fields = ("external_id", "client__client_id", "client__client_name")
    list_select_related = ("client",)
    raw_id_fields = ("client",)


@admin.register(Contract)
class ContractAdmin(AuditedAdmin):
    list_display = (
        "contract_code",
        "client",
        "contract_type",
        "status",
        "tier",
        "value",
        "currency",
        "start_date",
        "end_date",
        "included_users",
        "auto_renew",
        "payment_status",
    )
    list_filter = ("status", "contract_type", "tier", "payment_status", "auto_renew")
    search_fields = ("client__client_id", "client__client_name")
    list_select_related = ("client",)
    raw_id_fields = ("client",)
    date_hierarchy = "end_date"

    @admin.display(description="Contract", ordering="pk")
    def contract_code(self, obj: Contract) -> str | None:
        return obj.contract_id


@admin.register(Invoice)
class InvoiceAdmin(AuditedAdmin):
    list_display = (
        "invoice_code",
        "client",
        "amount",
        "currency",
        "issued_on",
        "due_date",
        "paid_on",
        "status",
    )
    list_filter = ("status", "currency")
    search_fields = ("client__client_id", "client__client_name")
    list_select_related = ("client",)
    raw_id_fields = ("client", "contract")
    date_hierarchy = "issued_on"

    @admin.display(description="Invoice", ordering="pk")
    def invoice_code(self, obj: Invoice) -> str | None:
        return obj.invoice_id


@admin.register(ArrMovement)
class ArrMovementAdmin(AuditedAdmin):
    list_display = ("client", "kind", "amount", "movement_date", "note", "created_at")
    list_filter = ("kind",)
    search_fields = ("client__client_id", "client__client_name", "note")
    list_select_related = ("client",)
    raw_id_fields = ("client", "contract")
    date_hierarchy = "movement_date"


@admin.register(LifecycleStageHistory)
class LifecycleStageHistoryAdmin(ReadOnlyAdmin):
    """Written by ``lifecycle_transition`` only: read-only here."""

    list_display = ("client", "from_stage", "to_stage", "rule_id", "actor", "entered_at", "exited_at")
    list_filter = ("to_stage", "from_stage", "rule_id")
    search_fields = ("client__client_id", "client__client_name", "reason", "actor")
    list_select_related = ("client",)
    date_hierarchy = "entered_at"


@admin.action(description="Close selected alerts (resolved)")
def close_alerts(modeladmin, request, queryset):
    closed = 0
    for alert in queryset.filter(status__in=["open", "snoozed"]):
        services.alert_close(actor=admin_actor(request), alert=alert, reason="resolved")
        closed += 1
    modeladmin.message_user(request, f"Closed {closed} alert(s).")


@admin.register(Alert)
class AlertAdmin(AuditedAdmin):
    list_display = (
        "alert_id",
        "client",
        "type",
        "reason",
        "priority",
        "status",
        "owner",
        "due_at",
        "occurrence_count",
        "last_triggered_at",
    )
    list_filter = ("status", "type", "priority", "rule_id")
    search_fields = ("alert_id", "reason", "client__client_id", "client__client_name")
    list_select_related = ("client", "owner")
    raw_id_fields = ("client", "owner")
    date_hierarchy = "last_triggered_at"
    actions = (close_alerts,)
    readonly_fields = (
        "alert_id",
        "occurrence_count",
        "first_triggered_at",
        "last_triggered_at",
        "consecutive_clear_runs",
        "closed_at",
        "close_reason",
    )

    def has_add_permission(self, request):
        return False  # alerts are raised by rules (customers.services.alert_raise)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only, hash-chained: never added, changed or deleted through the admin."""

    list_display = ("occurred_at", "actor", "channel", "tool", "action", "object_type", "object_id", "client")
    list_filter = ("channel", "action", "object_type")
    search_fields = ("actor", "action", "object_id", "tool", "client__client_id")
    list_select_related = ("client",)
    date_hierarchy = "occurred_at"

    def get_actions(self, request):
        return {}


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "client", "event_type", "title", "impact", "severity", "actor")
    list_filter = ("event_type", "impact", "severity", "counts_as_engagement")
    search_fields = ("title", "description", "client__client_id", "client__client_name")
    list_select_related = ("client",)
    date_hierarchy = "occurred_at"

    def get_actions(self, request):
        return {}


class IntegrationCredentialForm(forms.ModelForm):
    """``secrets`` is write-only: the stored value is never rendered; blank keeps it."""

    new_secrets = forms.CharField(
        label="Secrets (JSON object)",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 80}),
        help_text="Leave blank to keep the stored secrets. The stored value is never shown.",
    )

    class Meta:
        model = IntegrationCredential
        fields = ("provider", "enabled", "config")

    def clean_new_secrets(self):
        text = self.cleaned_data.get("new_secrets") or ""
        if not text.strip():
            return ""
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise forms.ValidationError('Enter a JSON object, e.g. {"api_token": "…"}.') from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object.")
        return json.dumps(value)

    def save(self, commit=True):
        obj = super().save(commit=False)
        if self.cleaned_data.get("new_secrets"):
            obj.secrets = self.cleaned_data["new_secrets"]
        if commit:
            obj.save()
        return obj


@admin.register(IntegrationCredential)
class IntegrationCredentialAdmin(AuditedAdmin):
    form = IntegrationCredentialForm
    audit_secret_fields = ("new_secrets",)
    list_display = ("provider", "enabled", "last_success_at", "consecutive_failures", "circuit_open_until")
    list_filter = ("enabled", "provider")
    readonly_fields = (
        "last_success_at",
        "last_error",
        "consecutive_failures",
        "circuit_open_until",
        "updated_at",
    )
    fields = (
        "provider",
        "enabled",
        "new_secrets",
        "config",
        "last_success_at",
        "last_error",
        "consecutive_failures",
        "circuit_open_until",
        "updated_at",
    )


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("job", "status", "started_at", "finished_at", "processed", "failed")
    list_filter = ("job", "status")
    search_fields = ("job", "error_sample")
    date_hierarchy = "started_at"
