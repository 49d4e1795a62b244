"""The one error contract (TOOLS §0.2): services raise these; every doorway maps them once."""

from django.db import models


class ErrorCode(models.TextChoices):
    INVALID_PARAMETER = "INVALID_PARAMETER", "Invalid parameter"
    NOT_FOUND = "NOT_FOUND", "Not found"
    CONFLICT = "CONFLICT", "Conflict"
    PERMISSION_DENIED = "PERMISSION_DENIED", "Permission denied"
    INTEGRATION_UNAVAILABLE = "INTEGRATION_UNAVAILABLE", "Integration unavailable"
    INTERNAL = "INTERNAL", "Internal error"


HTTP_STATUS = {
    ErrorCode.INVALID_PARAMETER: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.INTEGRATION_UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class ToolError(Exception):
    """A business error with a stable code, a human message and the argument at fault (dotted path)."""

    code: str = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[ErrorCode(self.code)]

    def as_dict(self) -> dict:
        error = {"code": str(self.code), "message": self.message}
        if self.field:
            error["field"] = self.field
        return error

    def envelope(self) -> dict:
        return {"status": "failed", "error": self.as_dict()}


class InvalidParameter(ToolError):
    code = ErrorCode.INVALID_PARAMETER


class NotFound(ToolError):
    code = ErrorCode.NOT_FOUND


class Conflict(ToolError):
    code = ErrorCode.CONFLICT


class PermissionDenied(ToolError):
    code = ErrorCode.PERMISSION_DENIED


class IntegrationUnavailable(ToolError):
    code = ErrorCode.INTEGRATION_UNAVAILABLE


class InternalError(ToolError):
    code = ErrorCode.INTERNAL
