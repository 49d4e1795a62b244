"""Every change made in the admin is audited (TOOLS §0.5): the base class all our ModelAdmins share.

Admin saves of apps without services yet write the row directly, so this base records each add, change and
delete (including inline rows) as ``<app>.<model>.<created|updated|deleted>`` with channel ``admin``.
"""

from django.contrib import admin
from django.db import transaction

from cs_project.core.context import Actor

from .audit import audit_record
from .models import Client


def admin_actor(request) -> Actor:
    return Actor.for_user(request.user, channel="admin")


def _jsonable(value):
    if hasattr(value, "pk"):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def form_changes(form, secret_fields=()) -> dict:
    changes = {}
    for name in form.changed_data:
        old, new = form.initial.get(name), form.cleaned_data.get(name)
        changes[name] = ["***", "***"] if name in secret_fields else [_jsonable(old), _jsonable(new)]
    return changes


def client_of(obj) -> Client | None:
    if isinstance(obj, Client):
        return obj
    client = getattr(obj, "client", None)
    return client if isinstance(client, Client) else None


def admin_audit(request, obj, verb: str, changes: dict | None = None, client: Client | None = None) -> None:
    audit_record(
        actor=admin_actor(request),
        action=f"{obj._meta.app_label}.{obj._meta.model_name}.{verb}",
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        client=client or client_of(obj),
        changes=changes or {},
    )


class AuditedAdmin(admin.ModelAdmin):
    """ModelAdmin whose saves and deletes (own rows and inline rows) append audit events atomically."""

    audit_secret_fields: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            admin_audit(
                request, obj, "updated" if change else "created", form_changes(form, self.audit_secret_fields)
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            admin_audit(request, obj, "deleted")
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                admin_audit(request, obj, "deleted")
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        with transaction.atomic():
            instances = formset.save(commit=False)
            parent_client = client_of(form.instance)
            for obj in formset.deleted_objects:
                admin_audit(request, obj, "deleted", client=parent_client)
                obj.delete()
            changed = {id(f.instance): f for f in formset.forms if f.has_changed()}
            for obj in instances:
                verb = "updated" if obj.pk else "created"
                obj.save()
                sub = changed.get(id(obj))
                admin_audit(
                    request, obj, verb, form_changes(sub) if sub is not None else {}, client=parent_client
                )
            formset.save_m2m()
