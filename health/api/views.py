"""Usage ingestion endpoints (RULES §3.2): ``POST /api/v1/events/batch`` and ``POST /api/v1/events/track``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cs_project.core.permissions import AppScopePermission
from cs_project.core.types import JSONDocumentError, loads_json
from health.choices import EventSource
from health.ingestion import MAX_EVENTS_PER_REQUEST, ingest_events, max_request_bytes


class RawJSONParser(BaseParser):
    """Leave the body to the view, which enforces the size limit before decoding it."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


def _failed(status: int, message: str, field: str | None = None) -> Response:
    error = {"code": "INVALID_PARAMETER", "message": message}
    if field:
        error["field"] = field
    return Response({"status": "failed", "error": error}, status=status)


INGEST_RESPONSE = inline_serializer(
    name="UsageIngestResult",
    fields={
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)
INGEST_SCHEMA = extend_schema(
    tags=["health"],
    request=OpenApiTypes.OBJECT,
    responses={200: INGEST_RESPONSE, 400: OpenApiTypes.OBJECT, 413: OpenApiTypes.OBJECT},
)


class _IngestView(APIView):
    """Ingestion is a write: the ``write`` scope and ``health.ingest_usage`` (a permission of its own, so
    that a pipeline's user can send events without being able to call the health tools)."""

    permission_classes = [AppScopePermission]
    permission_app = "health"
    write_permission = "health.ingest_usage"
    parser_classes = [RawJSONParser]

    def _body(self, request):
        raw = request.body
        if len(raw) > max_request_bytes():
            return None, _failed(413, f"Request body exceeds {max_request_bytes()} bytes.", "body")
        try:  # NaN/Infinity parse here and are rejected per event by the ingestion
            return loads_json(raw or b"null", allow_nan=True), None
        except JSONDocumentError as exc:
            return None, _failed(400, str(exc), "body")

    @staticmethod
    def _ok(result: dict) -> Response:
        return Response({"status": "success", **result}, status=200)


class EventBatchView(_IngestView):
    """A batch: ``{"batch": [...], "sentAt": ...}`` (Segment), or ``{"events": [...]}`` / a list (plain)."""

    @INGEST_SCHEMA
    def post(self, request):
        body, error = self._body(request)
        if error:
            return error
        sent_at = None
        if isinstance(body, dict) and "batch" in body:
            messages, source, sent_at, field = body["batch"], EventSource.SEGMENT, body.get("sentAt"), "batch"
        elif isinstance(body, dict) and "events" in body:
            messages, source, sent_at, field = body["events"], EventSource.API, body.get("sent_at"), "events"
        elif isinstance(body, list):
            messages, source, field = body, EventSource.API, "body"
        else:
            return _failed(
                400, "Expected an object with 'batch' (or 'events') holding a list of events.", "batch"
            )
        if not isinstance(messages, list):
            return _failed(400, "The events must be a list.", field)
        if len(messages) > MAX_EVENTS_PER_REQUEST:
            return _failed(413, f"At most {MAX_EVENTS_PER_REQUEST} events per request.", field)
        return self._ok(ingest_events(messages=messages, source=source, sent_at=sent_at))


class EventTrackView(_IngestView):
    """One message with the same schema as a batch element."""

    @INGEST_SCHEMA
    def post(self, request):
        body, error = self._body(request)
        if error:
            return error
        if not isinstance(body, dict):
            return _failed(400, "Expected one event object.", "body")
        source = EventSource.SEGMENT if ("context" in body or "messageId" in body) else EventSource.API
        return self._ok(ingest_events(messages=[body], source=source, sent_at=body.get("sentAt")))
