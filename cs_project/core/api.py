"""REST doorway: the API root (``/api/v1/``), the tool mirror (``/api/v1/tools/``), the JSON parser with a
size limit, strict list pagination and the DRF exception handler that gives every API error the contract's
shape (TOOLS §0.2)::

    {"status": "failed", "error": {"code": "...", "message": "...", "field": "..."}}

Unknown URLs under ``/api/`` get the same body (404 ``NOT_FOUND``) from :func:`api_not_found`, in development
too: Django's HTML debug page is for humans, the API's callers are programs.
"""

import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, URLPattern, path, resolve
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from .auth import BearerTokenAuthentication, TokenRateThrottle
from .errors import HTTP_STATUS, ErrorCode, NotFound, ToolError
from .permissions import token_scopes
from .registry import ToolSpec, all_tools, execute_tool, get_tool
from .types import JSONDocumentError, loads_json

logger = logging.getLogger("cs.api")

# Transport-level codes (not tool results): only the REST/MCP HTTP layer produces these.
UNAUTHENTICATED = "UNAUTHENTICATED"
TRANSPORT_CODES = {
    400: ErrorCode.INVALID_PARAMETER,
    401: UNAUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: ErrorCode.CONFLICT,
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: ErrorCode.INTEGRATION_UNAVAILABLE,
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def max_body_bytes() -> int:
    return int(getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or 2_621_440)


class LimitedJSONParser(JSONParser):
    """JSON only, and never more than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes read into memory (→ 413).

    Strict JSON (:func:`cs_project.core.types.loads_json`): no ``NaN``/``Infinity`` and at most
    ``MAX_JSON_DEPTH`` levels of nesting (a 5,000-deep document would otherwise exhaust the recursion
    limit of the decoder: a 500 instead of a 400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
        try:
            return loads_json(raw)
        except JSONDocumentError as exc:
            raise exceptions.ValidationError({"body": [f"JSON parse error - {exc}"]}) from None


# --- errors -------------------------------------------------------------------------------------------


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": str(code), "message": message}
    if field:
        error["field"] = field
    return {"status": "failed", "error": error}


def _first_validation_error(detail, path: str = "") -> tuple[str | None, str]:
    """The first leaf of a DRF ValidationError detail as (dotted field path, message)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if not value:
                continue
            if key in ("non_field_errors", "detail"):
                sub_path = path
            else:
                sub_path = f"{path}.{key}" if path else str(key)
            return _first_validation_error(value, sub_path)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict):
                if value:
                    return _first_validation_error(value, f"{path}[{index}]")
            elif isinstance(value, list):
                if value:
                    return _first_validation_error(value, path)
            else:
                return (path or None, str(value))
    else:
        return (path or None, str(detail))
    return (path or None, "Invalid input.")


def exception_handler(exc, context):
    """DRF errors, ToolErrors and unexpected exceptions → the error envelope with the right status."""
    if isinstance(exc, ToolError):
        set_rollback()
        return Response(exc.envelope(), status=_tool_error_status(exc.code))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*(exc.args or ("Not found.",)))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*(exc.args or ()))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        status_code = exc.status_code
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            code = UNAUTHENTICATED if status_code == 401 else ErrorCode.PERMISSION_DENIED
        else:
            code = TRANSPORT_CODES.get(status_code, f"HTTP_{status_code}")
        if isinstance(exc, exceptions.ValidationError):
            field, message = _first_validation_error(exc.detail)
        else:
            field, message = None, str(exc.detail)
        set_rollback()
        return Response(error_body(code, message, field), status=status_code, headers=headers)

    reference = uuid.uuid4().hex
    view = context.get("view")
    logger.error("unhandled error in %s (reference %s)", type(view).__name__, reference, exc_info=exc)
    set_rollback()
    return Response(
        error_body(
            ErrorCode.INTERNAL,
            f"An internal error occurred; reference {reference}. Details are in the server log.",
        ),
        status=500,
    )


def _tool_error_status(code: str) -> int:
    try:
        return HTTP_STATUS[ErrorCode(code)]
    except ValueError:
        return 500


def envelope_status(envelope: dict[str, Any]) -> int:
    """HTTP status for a tool envelope: 200 on success, the error code's status otherwise."""
    if envelope.get("status") != "failed":
        return 200
    return _tool_error_status(envelope.get("error", {}).get("code", ErrorCode.INTERNAL))


# --- routes ---------------------------------------------------------------------------------------------

_URL_ALIASES: set = set()


def slash_optional(route: str, view: type[APIView], name: str, **initkwargs) -> list[URLPattern]:
    """``route`` and its twin with (or without) the trailing slash, served by the same view.

    Django's ``APPEND_SLASH`` cannot redirect a POST without losing its body (and raises an HTML error page
    in development), so both spellings are served. The twin is left out of the OpenAPI document
    (:func:`hide_url_aliases`), which shows each endpoint once, as ``route`` spells it.
    """
    twin = route[:-1] if route.endswith("/") else f"{route}/"
    alias = view.as_view(**initkwargs)
    _URL_ALIASES.add(alias)
    return [path(route, view.as_view(**initkwargs), name=name), path(twin, alias)]


def is_url_alias(callback) -> bool:
    """True for the twin route :func:`slash_optional` adds (listed nowhere, served all the same)."""
    return callback in _URL_ALIASES


def hide_url_aliases(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: drop the twins added by :func:`slash_optional`."""
    return [endpoint for endpoint in endpoints if not is_url_alias(endpoint[3])]


def api_not_found(request, *args, **kwargs) -> HttpResponse:
    """Every URL under ``/api/`` that names no endpoint (any method, with or without a token).

    A GET that only lacks its trailing slash (``/api/docs``) is redirected, as ``APPEND_SLASH`` would have
    done before this catch-all made every ``/api/`` path resolve."""
    if request.method in ("GET", "HEAD") and not request.path.endswith("/"):
        try:
            match = resolve(f"{request.path}/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return HttpResponseRedirect(request.get_full_path(force_append_slash=True))
    body = error_body(
        ErrorCode.NOT_FOUND, f"No API endpoint at {request.path}; the API root /api/v1/ lists them."
    )
    return JsonResponse(body, status=404)


# --- the API root --------------------------------------------------------------------------------------


class ApiRootView(APIView):
    """``GET /api/v1/``: where everything is. Open to anyone: it lists URLs, never data, so that a newcomer
    following the address ``make run`` prints learns where to go and how to authenticate."""

    authentication_classes = []
    permission_classes = [AllowAny]
    resources: dict[str, str] = {}  # name → path, given by cs_project.core.urls (``as_view(resources=…)``)

    @extend_schema(
        operation_id="api_root",
        tags=["meta"],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Links to every endpoint.")},
    )
    def get(self, request):
        def url(path: str) -> str:
            return request.build_absolute_uri(path)

        return Response(
            {
                "resources": {name: url(path) for name, path in sorted(self.resources.items())},
                "tools": url("/api/v1/tools/"),
                "tool_call": url("/api/v1/tools/") + "{name}/",
                "mcp": url("/mcp"),
                "schema": url("/api/schema/"),
                "docs": url("/api/docs/"),
                "rules": RULES_REFERENCE,
                "authentication": "Send 'Authorization: Bearer <token>' (manage.py create_api_token, or the "
                "token printed by 'make run').",
            }
        )


# --- the tool mirror -----------------------------------------------------------------------------------


RULES_REFERENCE = "Rule ids in tool descriptions (RULES §n, PAT-04, ADP-04…) refer to docs/rules.md."


def unknown_tool(name: str) -> NotFound:
    """The answer to a tool name the registry does not hold, over REST and MCP alike."""
    return NotFound(f"Unknown tool '{name}'.", field="name")


def tool_description(spec: ToolSpec) -> dict[str, Any]:
    """The published description of a tool: what MCP ``tools/list`` shows, plus category and permission."""
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "category": spec.category,
        "annotations": spec.annotations(),
        "input_schema": spec.input_schema(),
        "output_schema": spec.output_schema(),
        "permission": spec.permission,
        "scope": spec.scope,
    }


class ToolAPIView(APIView):
    """Bearer token only (no session → no CSRF surface), throttled per token."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [TokenRateThrottle]
    parser_classes = [LimitedJSONParser]


_ENVELOPE = inline_serializer(
    "ToolEnvelope",
    fields={
        "status": serializers.CharField(help_text="`success` or `failed`"),
        "data_gaps": serializers.ListField(child=serializers.DictField(), required=False),
        "error": serializers.DictField(required=False),
    },
)


class ToolListView(ToolAPIView):
    """Every registered tool with its schemas, annotations and the permission/scope it needs."""

    @extend_schema(
        operation_id="tools_list",
        tags=["tools"],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{'tools': [...]}")},
    )
    def get(self, request):
        return Response({"tools": [tool_description(spec) for spec in all_tools()], "rules": RULES_REFERENCE})


class ToolCallView(ToolAPIView):
    """Call one tool: body = arguments (JSON object), response = the envelope (TOOLS §0.2)."""

    @extend_schema(
        operation_id="tools_call",
        tags=["tools"],
        request=OpenApiTypes.OBJECT,
        responses={
            200: _ENVELOPE,
            400: _ENVELOPE,
            403: _ENVELOPE,
            404: _ENVELOPE,
            409: _ENVELOPE,
            500: _ENVELOPE,
            503: _ENVELOPE,
        },
    )
    def post(self, request, name: str):
        if get_tool(name) is None:
            return Response(unknown_tool(name).envelope(), status=404)
        envelope = execute_tool(
            name, request.data, user=request.user, channel="api", scopes=token_scopes(request)
        )
        return Response(envelope, status=envelope_status(envelope))
