"""ApiToken admin: the raw token is shown once on creation, lists show the prefix only, revoke action."""

import re

import pytest

from cs_project.core.models import ApiToken, hash_token
from customers.models import AuditEvent
from tests.core.helpers import make_token, rest_call

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/core/apitoken/add/"
LIST_URL = "/admin/core/apitoken/"


def test_admin_creates_a_token_and_shows_it_once(client, superuser, api_user):
    client.force_login(superuser)
    response = client.post(
        ADD_URL,
        {
            "name": "laptop",
            "user": api_user.pk,
            "scopes": ["read", "write"],
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 200, response.content[:2000]
    assert "no-store" in response["Cache-Control"]
    raw = re.search(rb"cst_[A-Za-z0-9_-]{20,}", response.content).group().decode()
    token = ApiToken.objects.get(name="laptop")
    assert token.key_hash == hash_token(raw)
    assert token.user == api_user and token.scopes == ["read", "write"]
    assert rest_call(client, "test_write", {"note": "x"}, token=raw).status_code == 200
    assert AuditEvent.objects.filter(action="core.api_token.created", object_id=str(token.pk)).exists()
    # Afterwards only the prefix is visible.
    listing = client.get(LIST_URL)
    assert token.key_prefix.encode() in listing.content and raw.encode() not in listing.content
    change = client.get(f"/admin/core/apitoken/{token.pk}/change/")
    assert change.status_code == 200 and raw.encode() not in change.content


def test_admin_revoke_action(client, superuser, api_user):
    raw = make_token(api_user)
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    client.force_login(superuser)
    response = client.post(LIST_URL, {"action": "revoke_tokens", "_selected_action": [token.pk]}, follow=True)
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert rest_call(client, "test_echo", {"text": "x"}, token=raw).status_code == 401
    assert AuditEvent.objects.filter(action="core.api_token.revoked", object_id=str(token.pk)).count() == 1
    client.post(LIST_URL, {"action": "revoke_tokens", "_selected_action": [token.pk]})  # idempotent
    assert AuditEvent.objects.filter(action="core.api_token.revoked").count() == 1


def test_staff_without_superuser_sees_and_issues_only_their_own_tokens(client, staff_user, api_user):
    other = ApiToken.objects.get(key_hash=hash_token(make_token(api_user)))
    client.force_login(staff_user)
    assert other.key_prefix.encode() not in client.get(LIST_URL).content
    response = client.post(ADD_URL, {"name": "mine", "user": api_user.pk, "scopes": ["read"]})
    assert response.status_code == 200 and b"cst_" not in response.content  # form error: not a valid choice
    assert not ApiToken.objects.filter(name="mine").exists()
    response = client.post(ADD_URL, {"name": "mine", "user": staff_user.pk, "scopes": ["read"]})
    assert b"cst_" in response.content
    assert ApiToken.objects.get(name="mine").user == staff_user
