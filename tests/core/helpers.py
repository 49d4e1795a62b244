"""Helpers shared by tests/core and tests/e2e: users with tool permissions, tokens, JSON-RPC over /mcp."""

import json
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from cs_project.core.auth import token_create
from cs_project.core.context import Actor

MCP_ACCEPT = "application/json, text/event-stream"


def user_with_perms(django_user_model, username: str, codenames=("mcp_read", "mcp_write"), app="customers"):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw-123456789!")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label=app, codename__in=codenames))
    return django_user_model.objects.get(pk=user.pk)  # fresh instance: no stale permission cache


def make_token(user, scopes=("read", "write"), *, expires_in=None, revoked=False) -> str:
    token, raw = token_create(user=user, scopes=list(scopes), actor=Actor.system("tests"))
    changed = []
    if expires_in is not None:
        token.expires_at = timezone.now() + timedelta(seconds=expires_in)
        changed.append("expires_at")
    if revoked:
        token.revoked_at = timezone.now()
        changed.append("revoked_at")
    if changed:
        token.save(update_fields=changed)
    return raw


def auth(raw: str | None) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw else {}


def mcp_post(client, method: str, params: dict | None = None, *, token: str | None, request_id: int = 1):
    body = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    return client.post(
        "/mcp", data=json.dumps(body), content_type="application/json", HTTP_ACCEPT=MCP_ACCEPT, **auth(token)
    )


def mcp_result(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    payload = response.json()
    assert "error" not in payload, payload
    return payload["result"]


def mcp_call(client, name: str, arguments: dict, *, token: str) -> dict:
    return mcp_result(mcp_post(client, "tools/call", {"name": name, "arguments": arguments}, token=token))


def rest_call(client, name: str, arguments, *, token: str | None):
    return client.post(
        f"/api/v1/tools/{name}/", data=json.dumps(arguments), content_type="application/json", **auth(token)
    )
