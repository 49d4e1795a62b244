"""Who may do what: the one rule shared by the tool doorway and every REST resource (TOOLS §0.1).

A call needs two things:

- a token **scope** that allows it: ``read`` for reads, ``write`` for writes; ``admin`` allows everything.
  A call that did not come with a token (an in-process call, a test client without a token) has no scopes
  to check: ``scopes=None``;
- the user's per-app **permission**: ``<app>.mcp_read`` for reads, ``<app>.mcp_write`` for writes
  (superusers pass; an inactive user never does).

:func:`authorise` is that rule. The registry calls it for every tool; :class:`AppScopePermission` calls it
for every REST resource, so a ``read`` token can no more create an account over ``/api/v1/accounts/`` than
over ``register_client``.
"""

import logging

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .errors import PermissionDenied
from .models import ApiToken

logger = logging.getLogger("cs.api")

READ_SCOPE = "read"
WRITE_SCOPE = "write"
ADMIN_SCOPE = "admin"


def token_scopes(request) -> frozenset[str] | None:
    """The scopes of the token that authenticated ``request``; ``None`` when it was not a token (session)."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return frozenset(token.scopes or [])
    return None


def app_permission(app_label: str, *, write: bool) -> str:
    """The per-app permission a read or a write needs (declared in each app's main model ``Meta``)."""
    return f"{app_label}.{'mcp_write' if write else 'mcp_read'}"


def authorise(*, user, scopes: frozenset[str] | None, scope: str, permission: str, subject: str) -> None:
    """Raise :class:`PermissionDenied` unless the token's scopes and the user's permissions allow the call.

    The scope is checked first so that a read token gets the same answer whoever its user is.
    """
    if scopes is not None and scope not in scopes and ADMIN_SCOPE not in scopes:
        raise PermissionDenied(f"This token lacks the '{scope}' scope needed by {subject}.")
    if user is None or not user.is_active or not user.has_perm(permission):
        raise PermissionDenied(f"Permission '{permission}' is required for {subject}.")


class AppScopePermission(BasePermission):
    """DRF permission for REST resources: :func:`authorise` with the request's method and token.

    Safe methods (GET, HEAD, OPTIONS) are reads, everything else is a write. The app is the view's
    ``permission_app`` or, failing that, the app of its queryset's model; a view may name a dedicated
    write permission with ``write_permission`` (ingestion uses ``health.ingest_usage``). A view with no
    app at all is refused (fail closed) rather than left open. Unauthenticated requests return ``False``
    so that DRF answers 401 with ``WWW-Authenticate``; refusals are 403 ``PERMISSION_DENIED`` with the
    reason in the message.
    """

    message = "Permission denied."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        write = request.method not in SAFE_METHODS
        app_label = _view_app(view)
        if app_label is None:
            logger.error("%s declares no permission_app: refused", type(view).__name__)
            self.message = "This endpoint declares no permission."
            return False
        permission = getattr(view, "write_permission", None) if write else None
        try:
            authorise(
                user=user,
                scopes=token_scopes(request),
                scope=WRITE_SCOPE if write else READ_SCOPE,
                permission=permission or app_permission(app_label, write=write),
                subject=f"{request.method} {request.path}",
            )
        except PermissionDenied as exc:
            self.message = exc.message
            return False
        return True


def _view_app(view) -> str | None:
    app_label = getattr(view, "permission_app", None)
    if app_label:
        return app_label
    queryset = getattr(view, "queryset", None)
    model = getattr(queryset, "model", None)
    return model._meta.app_label if model is not None else None
