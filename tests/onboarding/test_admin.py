"""Every onboarding admin changelist and change page renders for a superuser with a bounded query count.

Changelists must run the same number of queries for 1 and for 4 rows (no N+1).
"""

import itertools

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from onboarding import models
from onboarding.choices import MilestoneStatus

from .factories import (
    CertificationFactory,
    CertificationTrackFactory,
    OnboardingAutomationFactory,
    OnboardingMilestoneFactory,
    OnboardingPlanFactory,
    OnboardingTaskFactory,
    PlanSuccessCriterionFactory,
    TrainingAttendeeFactory,
    TrainingCompletionFactory,
    TrainingModuleFactory,
)

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 12
MAX_CHANGE_PAGE_QUERIES = 30
_counter = itertools.count(1)


def populate():
    """One full, independent graph of onboarding rows."""
    n = next(_counter)
    models.MilestoneTemplate.objects.create(
        key=f"T{n}",
        name=f"Extra {n}",
        template_week=1,
        estimated_hours=2,
        success_criteria="marked complete",
        success_rule="marked_complete",
    )
    plan = OnboardingPlanFactory()
    for key in ("M1", "M2"):
        milestone = OnboardingMilestoneFactory(
            plan=plan, key=key, status=MilestoneStatus.COMPLETED, completed_at=timezone.now()
        )
        OnboardingTaskFactory.create_batch(2, milestone=milestone)
    PlanSuccessCriterionFactory(plan=plan)
    OnboardingAutomationFactory(plan=plan)
    completion = TrainingCompletionFactory(client=plan.client)
    TrainingAttendeeFactory(session=completion.session, email=completion.attendee_email)
    CertificationTrackFactory(
        level=["basic", "intermediate", "advanced", "expert"][n % 4],
        client=plan.client,
        modules=[completion.module, TrainingModuleFactory()],
    )
    CertificationFactory(client=plan.client)


APP_MODELS = sorted(
    (m for m in admin.site._registry if m._meta.app_label == "onboarding"), key=lambda m: m._meta.model_name
)


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _get(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_every_onboarding_model_is_registered():
    expected = {
        "MilestoneTemplate",
        "OnboardingPlan",
        "OnboardingMilestone",
        "OnboardingTask",
        "PlanSuccessCriterion",
        "OnboardingAutomation",
        "TrainingModule",
        "TrainingSession",
        "TrainingAttendee",
        "TrainingCompletion",
        "CertificationTrack",
        "Certification",
    }
    assert {m.__name__ for m in APP_MODELS} == expected


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m.__name__)
def test_changelist_query_count_is_constant(admin_client, model):
    populate()
    url = _url(model, "changelist")
    one = _get(admin_client, url)
    for _ in range(3):
        populate()
    four = _get(admin_client, url)
    assert four == one, f"{model.__name__} changelist: {one} queries for 1 set, {four} for 4"
    assert four <= MAX_CHANGELIST_QUERIES


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m.__name__)
def test_change_and_add_pages_render(admin_client, model):
    populate()
    obj = model.objects.order_by("-pk").first()
    assert _get(admin_client, _url(model, "change", obj.pk)) <= MAX_CHANGE_PAGE_QUERIES
    assert _get(admin_client, _url(model, "add")) <= MAX_CHANGE_PAGE_QUERIES


def test_changelist_search_and_date_drilldown(admin_client):
    populate()
    plan = models.OnboardingPlan.objects.select_related("client").first()
    response = admin_client.get(_url(models.OnboardingPlan, "changelist"), {"q": plan.client.client_id})
    assert response.status_code == 200
    assert plan.plan_id in response.content.decode()
    response = admin_client.get(_url(models.OnboardingPlan, "changelist"), {"start_date__year": "2026"})
    assert response.status_code == 200


def test_plan_change_page_shows_milestones_and_tasks(admin_client):
    populate()
    plan = models.OnboardingPlan.objects.order_by("-pk").first()
    body = admin_client.get(_url(models.OnboardingPlan, "change", plan.pk)).content.decode()
    task = models.OnboardingTask.objects.filter(milestone__plan=plan).first()
    assert "milestones-TOTAL_FORMS" in body
    assert task.title in body


def test_session_inline_completion_takes_module_and_client_from_session(admin_client):
    populate()
    session = models.TrainingSession.objects.order_by("-pk").first()
    url = _url(models.TrainingSession, "change", session.pk)
    existing = list(session.completions.all())
    data = {
        "client": session.client_id,
        "module": session.module_id,
        "format": session.format,
        "status": session.status,
        "scheduled_at_0": "2026-03-02",
        "scheduled_at_1": "10:00:00",
        "duration_minutes": session.duration_minutes,
        "recording_enabled": "on",
        "attendees-TOTAL_FORMS": "0",
        "attendees-INITIAL_FORMS": "0",
        "completions-TOTAL_FORMS": str(len(existing) + 1),
        "completions-INITIAL_FORMS": str(len(existing)),
    }
    for i, row in enumerate(existing):
        data.update(
            {
                f"completions-{i}-id": row.pk,
                f"completions-{i}-session": session.pk,
                f"completions-{i}-attendee_email": row.attendee_email,
                f"completions-{i}-attended": "on",
                f"completions-{i}-assessment_score": str(row.assessment_score),
                f"completions-{i}-passed": "on",
                f"completions-{i}-attempt": row.attempt,
                f"completions-{i}-completed_at_0": "2026-03-02",
                f"completions-{i}-completed_at_1": "11:00:00",
            }
        )
    i = len(existing)
    data.update(
        {
            f"completions-{i}-session": session.pk,
            f"completions-{i}-attendee_email": "new@example.com",
            f"completions-{i}-attended": "on",
            f"completions-{i}-assessment_score": "0.9",
            f"completions-{i}-passed": "on",
            f"completions-{i}-attempt": "1",
            f"completions-{i}-completed_at_0": "2026-03-02",
            f"completions-{i}-completed_at_1": "11:00:00",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else response
    )
    created = models.TrainingCompletion.objects.get(attendee_email="new@example.com")
    assert (created.module_id, created.client_id) == (session.module_id, session.client_id)
