"""REST doorway: the tool mirror (``/api/v1/tools/``), the JSON parser with a size limit and the DRF
exception handler that gives every API error the contract's shape (TOOLS §0.2)::

    {"status": "failed", "error": {"code": "...", "message": "...", "field": "..."}}
"""

import logging
import uuid
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from .auth import BearerTokenAuthentication, TokenRateThrottle, token_scopes
from .errors import HTTP_STATUS, ErrorCode, ToolError
from .registry import ToolSpec, all_tools, execute_tool, get_tool

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
    """JSON only, and never more than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes read into memory (→ 413)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes.")
        return super().parse(BytesIO(raw), media_type, parser_context)


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


# --- the tool mirror -----------------------------------------------------------------------------------


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
        return Response({"tools": [tool_description(spec) for spec in all_tools()]})


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
            return Response(error_body(ErrorCode.NOT_FOUND, f"Unknown tool '{name}'.", "name"), status=404)
        envelope = execute_tool(
            name, request.data, user=request.user, channel="api", scopes=token_scopes(request)
        )
        return Response(envelope, status=envelope_status(envelope))
