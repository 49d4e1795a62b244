"""Under CI=true the suite must run against the real PostgreSQL and Redis, never silently without them."""

import os

import pytest
from django.db import connection

from tests.conftest import IN_CI, require_service


@pytest.mark.django_db
def test_database_backend_matches_ci_requirement():
    if IN_CI:
        assert connection.vendor == "postgresql", "CI must run on PostgreSQL (DATABASE_URL)"
    else:
        assert connection.vendor in {"sqlite", "postgresql"}


def test_redis_reachable_when_configured():
    url = os.environ.get("REDIS_URL", "")
    available = False
    if url:
        import redis

        try:
            available = bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
        except redis.RedisError:
            available = False
    require_service(available, "Redis (REDIS_URL)")
    assert available
