"""Admin for API tokens: list, create (the raw token is shown once, on the page after saving), revoke.

The raw token is rendered directly in the response to the add form; it is never stored, never put in a
message (messages can live in cookies or the session) and cannot be displayed again — only its prefix.
Tokens are immutable apart from their name: to change scopes or expiry, issue a new token and revoke the
old one. Non-superusers can issue tokens only for themselves.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.template import engines

from .auth import token_create, token_revoke
from .context import Actor
from .errors import ToolError
from .models import AccessLogEntry, ApiToken, TokenScope

_SHOW_ONCE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<h1>API token created</h1>
<p>Copy this token now. It is shown <strong>once</strong>; only its SHA-256 hash is stored.</p>
<p><code style="font-size:1.2em;user-select:all">{{ raw }}</code></p>
<p>User: {{ token.user }} · scopes: {{ token.scopes|join:", " }}
 · expires: {{ token.expires_at|default:"never" }}</p>
<p>Send it as <code>Authorization: Bearer &lt;token&gt;</code>
 to <code>/mcp</code> and <code>/api/</code>.</p>
<p><a href="{{ changelist_url }}">Back to API tokens</a></p>
{% endblock %}"""
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """System records (audit, access log, history) are written by services only: no add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApiTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple, initial=[TokenScope.READ]
    )

    class Meta:
        model = ApiToken
        fields = ["name", "user", "scopes", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "key_prefix",
        "name",
        "user",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "usable",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at", "expires_at"]
    search_fields = ["name", "key_prefix", "user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = [
        "key_prefix",
        "user",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    fields = [
        "name",
        "key_prefix",
        "user",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke_tokens"]
    ordering = ["-created_at"]

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes or [])

    @admin.display(boolean=True, description="usable")
    def usable(self, obj: ApiToken) -> bool:
        return obj.is_usable

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(user=request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
            kwargs["fields"] = ApiTokenCreateForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ApiTokenCreateForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model.objects.filter(pk=request.user.pk)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        token, raw = token_create(
            user=form.cleaned_data["user"],
            scopes=form.cleaned_data["scopes"],
            name=form.cleaned_data.get("name") or "",
            expires_at=form.cleaned_data.get("expires_at"),
            actor=Actor.for_user(request.user, channel="admin"),
        )
        obj.pk = token.pk
        obj.key_prefix = token.key_prefix
        obj.key_hash = token.key_hash
        request._cs_raw_token = raw

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_cs_raw_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        token = ApiToken.objects.select_related("user").get(pk=obj.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "raw": raw,
            "token": token,
            "changelist_url": "../",
        }
        response = HttpResponse(_SHOW_ONCE.render(context, request))
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        actor = Actor.for_user(request.user, channel="admin")
        revoked = 0
        for token in queryset.select_related("user"):
            try:
                revoked += token_revoke(token=token, actor=actor)
            except ToolError as exc:  # pragma: no cover - revoke raises nothing today
                self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    """Read-only: entries are written by the tool doorway only and removed by the retention prune."""

    list_display = ["occurred_at", "actor", "channel", "tool", "client_id", "outcome", "duration_ms"]
    # No filters over distinct column values and no full count: the table holds every call of 90 days.
    list_filter = ["occurred_at"]
    search_fields = ["=actor", "=tool", "=client_id", "=request_id"]
    show_full_result_count = False
