"""Permission classes of the health REST endpoints."""

from rest_framework.permissions import BasePermission


class CanIngestUsage(BasePermission):
    """Ingestion needs ``health.ingest_usage`` (superusers pass)."""

    message = "The token's user lacks the permission health.ingest_usage."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("health.ingest_usage"))
