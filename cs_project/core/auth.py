"""Bearer-token authentication for /api and /mcp (placeholder until the tool-layer issue lands)."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.throttling import SimpleRateThrottle


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        return None
