"""Shared fixtures. Test data comes from factories (tests/<app>/factories.py), never from mocks of our DB."""

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, what: str) -> None:
    """Skip locally when a real service is missing; under CI=true a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available (set it up or run .ci/run)")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-123!")


@pytest.fixture
def staff_user(django_user_model):
    """A staff user with every permission of our apps (what a CS manager has)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("csm", "csm@example.com", "csm-pass-123!", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=[
                "customers",
                "health",
                "onboarding",
                "retention",
                "communication",
                "support",
                "expansion",
                "feedback",
                "core",
            ]
        )
    )
    return user


@pytest.fixture(autouse=True)
def _tool_results_checked(settings):
    """Every tool result in every test must match the tool's declared result type (cs_project.core.results)."""
    settings.CS_TOOL_RESULT_CHECK = "raise"


@pytest.fixture(autouse=True)
def _celery_eager_by_default():
    """Tasks run in-process unless a test drives a real worker (which switches this off itself).

    With REDIS_URL set (CI) the settings turn eager mode off for real deployments; tests that only exercise
    task logic must not depend on a worker being up.
    """
    from cs_project.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


def audit_lock_queries(audit_events: int) -> int:
    """Extra queries per audit append on PostgreSQL: the advisory lock that serialises the hash chain."""
    from django.db import connection

    return audit_events if connection.vendor == "postgresql" else 0
