"""Platform routes: /mcp, the tool mirror, the OpenAPI schema and docs, and each app's REST resources.

- ``/mcp`` — MCP streamable HTTP (POST only; Bearer token).
- ``/api/v1/tools/`` and ``/api/v1/tools/<name>/`` — the REST mirror of the tool registry (Bearer token).
- ``/api/schema/`` — OpenAPI 3 document; Bearer token or an admin session.
- ``/api/docs/`` — Swagger UI for staff: anonymous visitors are sent to the admin login.
- ``/api/v1/…`` — ``<app>.api.urls`` of every domain app that has one (apps choose their own sub-paths).
"""

import importlib.util

from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from .api import ToolCallView, ToolListView
from .auth import BearerTokenAuthentication
from .mcp import MCPView

DOMAIN_APPS = [
    "customers",
    "health",
    "onboarding",
    "retention",
    "communication",
    "support",
    "expansion",
    "feedback",
]


def _module_exists(dotted: str) -> bool:
    """True when ``dotted`` can be imported; a missing package or module is False (never an error)."""
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError as exc:
        if exc.name and (
            dotted == exc.name or dotted.startswith(exc.name + ".")
        ):  # a parent package (e.g. ``<app>.api``) is missing
            return False
        raise  # something imported *inside* an existing package is missing: report it


def app_api_patterns() -> list:
    """``include()`` of each existing ``<app>.api.urls``; an error inside an existing module propagates."""
    patterns = []
    for app in DOMAIN_APPS:
        module = f"{app}.api.urls"
        if _module_exists(module):
            patterns.append(path("api/v1/", include(module)))
    return patterns


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: for token holders and for staff signed in to the admin."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]


class SwaggerView(SpectacularSwaggerView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


urlpatterns = [
    path("mcp", MCPView.as_view(), name="mcp"),
    path("api/v1/tools/", ToolListView.as_view(), name="tool-list"),
    path("api/v1/tools/<str:name>/", ToolCallView.as_view(), name="tool-call"),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        staff_member_required(SwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    *app_api_patterns(),
]
