"""Bearer tokens: the 401 matrix on /mcp and /api, last-used bookkeeping, throttling, token issuance."""

import io
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from cs_project.core.auth import TokenRateThrottle
from cs_project.core.models import ApiToken, hash_token
from tests.core.helpers import MCP_ACCEPT, make_token, mcp_post, rest_call

pytestmark = pytest.mark.django_db

TOOLS_LIST = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})


def _mcp(client, headers):
    return client.post(
        "/mcp", data=TOOLS_LIST, content_type="application/json", HTTP_ACCEPT=MCP_ACCEPT, **headers
    )


def _api(client, headers):
    return client.get("/api/v1/tools/", **headers)


def _call(client, headers):
    return client.post(
        "/api/v1/tools/test_echo/", data='{"text": "x"}', content_type="application/json", **headers
    )


def _bad_tokens(api_user, django_user_model):
    inactive = django_user_model.objects.create_user("gone", "gone@example.com", "pw-123456789!")
    inactive_token = make_token(inactive)
    inactive.is_active = False
    inactive.save()
    return {
        "no-header": {},
        "unknown-token": {"HTTP_AUTHORIZATION": "Bearer cst_not-a-real-token"},
        "revoked": {"HTTP_AUTHORIZATION": f"Bearer {make_token(api_user, revoked=True)}"},
        "expired": {"HTTP_AUTHORIZATION": f"Bearer {make_token(api_user, expires_in=-1)}"},
        "inactive-user": {"HTTP_AUTHORIZATION": f"Bearer {inactive_token}"},
        "bearer-without-token": {"HTTP_AUTHORIZATION": "Bearer"},
        "bearer-with-spaces": {"HTTP_AUTHORIZATION": "Bearer a b"},
        "other-scheme": {"HTTP_AUTHORIZATION": f"Token {make_token(api_user)}"},
    }


@pytest.mark.parametrize("doorway", [_mcp, _api, _call], ids=["mcp", "api-list", "api-call"])
def test_401_matrix(client, api_user, django_user_model, doorway):
    for case, headers in _bad_tokens(api_user, django_user_model).items():
        response = doorway(client, headers)
        assert response.status_code == 401, case
        assert response["WWW-Authenticate"].startswith("Bearer"), case
        body = response.json()
        assert body["status"] == "failed", case
        assert body["error"]["code"] == "UNAUTHENTICATED", case
        assert "cst_" not in body["error"]["message"], case


def test_valid_token_is_accepted_everywhere(client, rw_token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {rw_token}"}
    assert _mcp(client, headers).status_code == 200
    assert _api(client, headers).status_code == 200
    assert _call(client, headers).status_code == 200
    lowercase = {"HTTP_AUTHORIZATION": f"bearer {rw_token}"}
    assert _api(client, lowercase).status_code == 200


def test_token_expiring_in_the_future_works(client, api_user):
    raw = make_token(api_user, expires_in=3600)
    assert rest_call(client, "test_echo", {"text": "x"}, token=raw).status_code == 200


def test_session_login_does_not_open_the_api(client, superuser):
    client.force_login(superuser)
    assert client.get("/api/v1/tools/").status_code == 401
    assert _mcp(client, {}).status_code == 401


def test_last_used_at_is_written_at_most_once_a_minute(client, api_user, django_assert_num_queries):
    raw = make_token(api_user)
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert token.last_used_at is None
    rest_call(client, "test_echo", {"text": "x"}, token=raw)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    rest_call(client, "test_echo", {"text": "x"}, token=raw)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    rest_call(client, "test_echo", {"text": "x"}, token=raw)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)


def test_throttle_is_per_token(client, api_user, monkeypatch):
    cache.clear()
    monkeypatch.setattr(TokenRateThrottle, "rate", "2/min", raising=False)
    first, second = make_token(api_user), make_token(api_user)
    for _ in range(2):
        assert rest_call(client, "test_echo", {"text": "x"}, token=first).status_code == 200
    limited = rest_call(client, "test_echo", {"text": "x"}, token=first)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited["Retry-After"]) > 0
    assert mcp_post(client, "tools/list", {}, token=first).status_code == 429  # MCP shares the budget
    assert rest_call(client, "test_echo", {"text": "x"}, token=second).status_code == 200
    cache.clear()


def test_create_api_token_command_prints_the_raw_token_once(client, api_user):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token",
        "--user",
        "agent",
        "--scopes",
        "read,write",
        "--expires-days",
        "30",
        "--name",
        "CLI",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    assert raw.startswith("cst_") and len(raw) > 30
    token = ApiToken.objects.get(name="CLI")
    assert token.key_hash == hash_token(raw) and raw not in (token.key_hash, token.key_prefix)
    assert raw.startswith(token.key_prefix)
    assert token.scopes == ["read", "write"]
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert raw not in err.getvalue()
    assert rest_call(client, "test_echo", {"text": "x"}, token=raw).status_code == 200


@pytest.mark.parametrize(
    "argv",
    [
        ["--user", "nobody"],
        ["--user", "agent", "--scopes", "read,superpowers"],
        ["--user", "agent", "--scopes", ""],
        ["--user", "agent", "--expires-days", "0"],
    ],
)
def test_create_api_token_command_rejects_bad_input(api_user, argv):
    with pytest.raises(CommandError):
        call_command("create_api_token", *argv, stdout=io.StringIO(), stderr=io.StringIO())
    assert not ApiToken.objects.exists()


def test_token_changes_are_audited_through_the_core_hook(api_user):
    """cs_project.core sends ``token_changed``; customers (subscribed in ready()) appends the chained event."""
    from cs_project.core.auth import token_create, token_revoke
    from cs_project.core.context import Actor
    from customers.audit import audit_chain_verify
    from customers.models import AuditEvent

    token, _ = token_create(user=api_user, scopes=["read"], name="laptop", actor=Actor.system("tests"))
    token_revoke(token=token, actor=Actor.system("tests"))
    events = list(AuditEvent.objects.filter(object_id=str(token.pk)).order_by("id"))
    assert [(e.action, e.object_type, e.actor, e.data["name"], e.data["scopes"]) for e in events] == [
        ("core.api_token.created", "core.ApiToken", "system:tests", "laptop", ["read"]),
        ("core.api_token.revoked", "core.ApiToken", "system:tests", "laptop", ["read"]),
    ]
    assert audit_chain_verify()[1] is None


def test_a_failing_audit_receiver_rolls_the_token_back(api_user):
    """The hook runs inside the token's transaction: no token exists without its audit event."""
    from cs_project.core.auth import token_create
    from cs_project.core.context import Actor
    from cs_project.core.hooks import token_changed

    def broken(**kwargs):
        raise RuntimeError("audit store unavailable")

    token_changed.connect(broken, dispatch_uid="tests.broken")
    try:
        with pytest.raises(RuntimeError):
            token_create(user=api_user, scopes=["read"], actor=Actor.system("tests"))
    finally:
        token_changed.disconnect(dispatch_uid="tests.broken")
    assert not ApiToken.objects.filter(user=api_user).exists()
