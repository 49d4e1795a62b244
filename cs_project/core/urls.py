"""Platform routes: /mcp, the API root, the tool mirror, the OpenAPI schema and docs, each app's REST resources,
and a JSON 404 for every other URL under /api/.

- ``/mcp`` — MCP streamable HTTP (POST only; Bearer token).
- ``/api/v1/`` — the API root: links to every resource, the tools, the schema and the docs (open to anyone).
- ``/api/v1/tools/`` and ``/api/v1/tools/<name>/`` — the REST mirror of the tool registry (Bearer token);
  the trailing slash is optional, so a POST without it is served rather than redirected (which loses the body).
- ``/api/schema/`` — OpenAPI 3 document; Bearer token or an admin session.
- ``/api/docs/`` — Swagger UI for staff, served from this server (drf-spectacular-sidecar, works offline):
  anonymous visitors are sent to the admin login.
- ``/api/v1/…`` — ``<app>.api.urls`` of every domain app that has one (apps choose their own sub-paths).
- anything else under ``/api/`` — 404 ``NOT_FOUND`` in the error envelope, in development too.
"""

import importlib.util

from django.contrib.admin.views.decorators import staff_member_required
from django.urls import URLPattern, include, path, re_path
from django.urls.resolvers import RegexPattern
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated

from .api import ApiRootView, ToolCallView, ToolListView, api_not_found, is_url_alias, slash_optional
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


def list_routes(patterns) -> dict[str, str]:
    """``{name: path}`` of the parameterless routes of the mounted app modules (their list endpoints)."""
    routes: dict[str, str] = {}
    for resolver in patterns:
        for pattern in resolver.url_patterns:
            if not isinstance(pattern, URLPattern) or is_url_alias(pattern.callback):
                continue
            raw = str(pattern.pattern)
            if isinstance(pattern.pattern, RegexPattern):
                if "(" in raw:
                    continue
                raw = raw.lstrip("^").rstrip("$").replace("/?", "/").replace("\\", "")
            elif "<" in raw:
                continue
            routes[raw.strip("/")] = f"/api/v1/{raw}"
    return routes


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: for token holders and for staff signed in to the admin."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI from the assets bundled by drf-spectacular-sidecar (``SWAGGER_UI_DIST = "SIDECAR"``): no CDN."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


_app_patterns = app_api_patterns()

urlpatterns = [
    path("mcp", MCPView.as_view(), name="mcp"),
    *slash_optional("api/v1/", ApiRootView, "api-root", resources=list_routes(_app_patterns)),
    *slash_optional("api/v1/tools/", ToolListView, "tool-list"),
    *slash_optional("api/v1/tools/<str:name>/", ToolCallView, "tool-call"),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        staff_member_required(SwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    *_app_patterns,
    re_path(r"^api(?:/.*)?$", api_not_found, name="api-not-found"),
]
