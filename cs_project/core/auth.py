"""Bearer-token authentication and per-token throttling for /api and /mcp.

Tokens are ``cst_<random>`` strings; only their SHA-256 is stored (``ApiToken.key_hash``). A request
authenticates with ``Authorization: Bearer <token>``; DRF then sees ``request.user`` (the token's user) and
``request.auth`` (the :class:`~cs_project.core.models.ApiToken`, whose ``scopes`` limit what the call may do).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from .context import Actor
from .errors import InvalidParameter
from .hooks import token_changed
from .models import ApiToken, TokenScope, hash_token

KEYWORD = "Bearer"
LAST_USED_GRANULARITY = timedelta(minutes=1)


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` → ``(user, ApiToken)``; anything else that claims Bearer → 401.

    No header (or another scheme) returns ``None`` so that DRF answers 401 through ``NotAuthenticated``
    with ``WWW-Authenticate: Bearer``. The raw token never reaches the log or an error message.
    """

    keyword = KEYWORD

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return self.authenticate_credentials(raw)

    def authenticate_credentials(self, raw: str):
        token = ApiToken.objects.usable().select_related("user").filter(key_hash=hash_token(raw)).first()
        if token is None:
            # Unknown, revoked, expired or belonging to an inactive user: one message for all.
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        self._touch(token)
        return token.user, token

    @staticmethod
    def _touch(token: ApiToken) -> None:
        """Record use, writing at most once a minute per token (one UPDATE, no read-modify-write)."""
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def token_create(
    *,
    user,
    scopes: list[str],
    name: str = "",
    expires_at=None,
    actor: Actor,
) -> tuple[ApiToken, str]:
    """Issue a token; returns ``(token, raw)``. The raw value exists only in this return value."""
    wanted = sorted(set(scopes))
    allowed = set(TokenScope.values)
    if not wanted or not set(wanted) <= allowed:
        raise InvalidParameter(
            f"Scopes must be a non-empty subset of {', '.join(TokenScope.values)}.", field="scopes"
        )
    if not user.is_active:
        raise InvalidParameter("Cannot issue a token for an inactive user.", field="user")
    raw = ApiToken.generate_raw()
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            user=user,
            key_prefix=raw[:12],
            key_hash=hash_token(raw),
            scopes=wanted,
            expires_at=expires_at,
        )
        _audit_token(actor, "core.api_token.created", token)
    return token, raw


def token_revoke(*, token: ApiToken, actor: Actor) -> bool:
    """Revoke a token (idempotent); returns False when it was already revoked."""
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            token.refresh_from_db(fields=["revoked_at"])
            _audit_token(actor, "core.api_token.revoked", token)
    return bool(updated)


def _audit_token(actor: Actor, action: str, token: ApiToken) -> None:
    """Tell the audit log's owner (``customers``, subscribed in its ``ready()``) inside this transaction."""
    token_changed.send(
        sender=ApiToken,
        token=token,
        action=action,
        actor=actor,
        data={
            "user": token.user.get_username(),
            "name": token.name,
            "key_prefix": token.key_prefix,
            "scopes": token.scopes,
            "expires_at": token.expires_at,
        },
    )


class TokenRateThrottle(SimpleRateThrottle):
    """Rate limit per API token (scope ``token``, rate from ``DEFAULT_THROTTLE_RATES['token']``).

    Requests not authenticated by a token (admin sessions) are not throttled here.
    """

    scope = "token"

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


try:  # Lets Swagger UI's "Authorize" button send the Bearer header.
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class BearerTokenScheme(OpenApiAuthenticationExtension):
        target_class = "cs_project.core.auth.BearerTokenAuthentication"
        name = "bearerAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "http",
                "scheme": "bearer",
                "description": "API token created with `manage.py create_api_token` (prefix `cst_`).",
            }

except ImportError:  # pragma: no cover - drf-spectacular is a hard dependency in requirements.txt
    pass
