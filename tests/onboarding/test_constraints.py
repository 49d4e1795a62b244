"""The database itself rejects onboarding rows that break the domain's invariants."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from onboarding.choices import CertificationStatus, MilestoneStatus, PlanStatus, TrainingSessionStatus
from onboarding.models import MilestoneTemplate, OnboardingAutomation
from tests.customers.factories import ClientFactory

from .factories import (
    CertificationFactory,
    CertificationTrackFactory,
    OnboardingAutomationFactory,
    OnboardingMilestoneFactory,
    OnboardingPlanFactory,
    OnboardingTaskFactory,
    PlanSuccessCriterionFactory,
    TrainingCompletionFactory,
    TrainingModuleFactory,
    TrainingSessionFactory,
)

pytestmark = pytest.mark.django_db


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


# Plans --------------------------------------------------------------------------------------------


def test_valid_plan_is_accepted():
    plan = OnboardingPlanFactory()
    assert plan.plan_id.startswith("onb_") and len(plan.plan_id) == 16
    assert plan.target_completion_date == dt.date(2026, 3, 29)


def test_plan_ending_before_or_on_its_start_rejected():
    start = dt.date(2026, 3, 2)
    _rejects(
        lambda: OnboardingPlanFactory(start_date=start, target_completion_date=start - dt.timedelta(days=1))
    )
    _rejects(lambda: OnboardingPlanFactory(start_date=start, target_completion_date=start))


@pytest.mark.parametrize("weeks", [0, 13])
def test_timeline_weeks_outside_1_12_rejected(weeks):
    _rejects(lambda: OnboardingPlanFactory(timeline_weeks=weeks, target_completion_date=dt.date(2026, 6, 1)))


def test_timeline_weeks_bounds_accepted():
    OnboardingPlanFactory(timeline_weeks=1)
    OnboardingPlanFactory(timeline_weeks=12)


@pytest.mark.parametrize("size", [0, 10001])
def test_team_size_outside_range_rejected(size):
    _rejects(lambda: OnboardingPlanFactory(team_size=size))


def test_completion_pct_above_100_rejected():
    _rejects(lambda: OnboardingPlanFactory(completion_pct=Decimal("100.01")))


def test_unknown_plan_status_rejected():
    _rejects(lambda: OnboardingPlanFactory(status="paused"))


def test_unknown_product_tier_rejected():
    _rejects(lambda: OnboardingPlanFactory(product_tier="platinum"))


def test_second_open_plan_for_a_client_rejected():
    client = ClientFactory()
    OnboardingPlanFactory(client=client, status=PlanStatus.IN_PROGRESS)
    _rejects(lambda: OnboardingPlanFactory(client=client, status=PlanStatus.DRAFT))


def test_closed_plans_do_not_block_a_new_one():
    client = ClientFactory()
    OnboardingPlanFactory(client=client, status=PlanStatus.COMPLETED, completed_at=timezone.now())
    OnboardingPlanFactory(client=client, status=PlanStatus.CANCELLED)
    OnboardingPlanFactory(client=client, status=PlanStatus.IN_PROGRESS)


def test_completed_plan_needs_completion_time():
    _rejects(lambda: OnboardingPlanFactory(status=PlanStatus.COMPLETED, completed_at=None))


# Milestones, tasks, criteria, automation ----------------------------------------------------------


def test_duplicate_milestone_key_in_plan_rejected():
    plan = OnboardingPlanFactory()
    OnboardingMilestoneFactory(plan=plan, key="M1")
    _rejects(lambda: OnboardingMilestoneFactory(plan=plan, key="M1"))
    OnboardingMilestoneFactory(key="M1")  # same key in another plan is fine


def test_completed_milestone_needs_completion_time():
    _rejects(lambda: OnboardingMilestoneFactory(status=MilestoneStatus.COMPLETED, completed_at=None))
    OnboardingMilestoneFactory(status=MilestoneStatus.COMPLETED, completed_at=timezone.now())


def test_unknown_milestone_status_rejected():
    _rejects(lambda: OnboardingMilestoneFactory(status="done"))


def test_done_task_needs_time():
    _rejects(lambda: OnboardingTaskFactory(done=True, done_at=None))


def test_duplicate_criterion_key_rejected():
    plan = OnboardingPlanFactory()
    PlanSuccessCriterionFactory(plan=plan, key="all_users_trained")
    _rejects(lambda: PlanSuccessCriterionFactory(plan=plan, key="all_users_trained"))


def test_unknown_criterion_status_rejected():
    _rejects(lambda: PlanSuccessCriterionFactory(status="maybe"))


def test_one_automation_per_plan():
    automation = OnboardingAutomationFactory()
    assert automation.automation_id.startswith("wf_")
    assert automation.notification_preferences["frequency"] == "immediate"
    assert len(automation.triggers) == 7
    _rejects(lambda: OnboardingAutomation.objects.create(plan=automation.plan))


# Milestone template -------------------------------------------------------------------------------


def test_template_needs_a_week_or_final():
    _rejects(
        lambda: MilestoneTemplate.objects.create(
            key="X1",
            name="x",
            template_week=None,
            is_final=False,
            estimated_hours=1,
            success_criteria="x",
            success_rule="x",
        )
    )
    _rejects(
        lambda: MilestoneTemplate.objects.create(
            key="X2",
            name="x",
            template_week=2,
            is_final=True,
            estimated_hours=1,
            success_criteria="x",
            success_rule="x",
        )
    )


# Training -----------------------------------------------------------------------------------------


def test_module_passing_score_defaults_to_0_75_and_stays_in_0_1():
    module = TrainingModuleFactory()
    module.refresh_from_db()
    assert module.passing_score == Decimal("0.75")
    assert module.module_id.startswith("train_")
    _rejects(lambda: TrainingModuleFactory(passing_score=Decimal("1.01")))


def test_training_score_above_1_rejected():
    _rejects(lambda: TrainingCompletionFactory(assessment_score=Decimal("1.5")))
    _rejects(lambda: TrainingCompletionFactory(assessment_score=Decimal("-0.1")))


@pytest.mark.parametrize("attempt", [0, 4])
def test_attempt_outside_1_3_rejected(attempt):
    _rejects(lambda: TrainingCompletionFactory(attempt=attempt))


def test_same_attempt_of_a_module_twice_rejected_case_insensitively():
    first = TrainingCompletionFactory(attendee_email="ann@example.com", attempt=1)
    other_session = TrainingSessionFactory(client=first.client, module=first.module)
    _rejects(
        lambda: TrainingCompletionFactory(session=other_session, attendee_email="ANN@example.com", attempt=1)
    )
    TrainingCompletionFactory(session=other_session, attendee_email="ann@example.com", attempt=2)


def test_one_completion_per_session_and_attendee():
    first = TrainingCompletionFactory(attendee_email="bob@example.com", attempt=1)
    _rejects(
        lambda: TrainingCompletionFactory(session=first.session, attendee_email="bob@example.com", attempt=2)
    )


def test_passed_without_attending_rejected():
    _rejects(lambda: TrainingCompletionFactory(attended=False, passed=True, assessment_score=None))


def test_session_duration_outside_15_480_rejected():
    _rejects(lambda: TrainingSessionFactory(duration_minutes=10))
    _rejects(lambda: TrainingSessionFactory(duration_minutes=481))


def test_scheduled_session_needs_a_date():
    _rejects(lambda: TrainingSessionFactory(status=TrainingSessionStatus.SCHEDULED, scheduled_at=None))
    session = TrainingSessionFactory(
        format="self_paced", status=TrainingSessionStatus.ASSIGNED, scheduled_at=None
    )
    assert session.session_id.startswith("sess_")


def test_unknown_training_format_rejected():
    _rejects(lambda: TrainingSessionFactory(format="podcast"))


# Certification ------------------------------------------------------------------------------------


def test_duplicate_active_certification_rejected():
    cert = CertificationFactory(holder_email="cat@example.com", level="basic")
    assert cert.certification_id.startswith("cert_")
    _rejects(lambda: CertificationFactory(client=cert.client, holder_email="Cat@example.com", level="basic"))
    # another level, or the same level at another client, is fine
    CertificationFactory(client=cert.client, holder_email="cat@example.com", level="intermediate")
    CertificationFactory(holder_email="cat@example.com", level="basic")


def test_revoked_certification_can_be_reissued():
    now = timezone.now()
    cert = CertificationFactory(holder_email="dan@example.com", issued_at=now)
    cert.status = CertificationStatus.REVOKED
    cert.revoked_at = now + dt.timedelta(hours=1)
    cert.save()
    CertificationFactory(
        client=cert.client, holder_email="dan@example.com", issued_at=now + dt.timedelta(days=1)
    )


def test_revocation_needs_time_and_active_needs_none():
    _rejects(lambda: CertificationFactory(status=CertificationStatus.REVOKED, revoked_at=None))
    _rejects(lambda: CertificationFactory(status=CertificationStatus.ACTIVE, revoked_at=timezone.now()))


def test_revoked_before_issue_rejected():
    now = timezone.now()
    _rejects(
        lambda: CertificationFactory(
            status=CertificationStatus.REVOKED, issued_at=now, revoked_at=now - dt.timedelta(days=1)
        )
    )


def test_unknown_certification_level_rejected():
    _rejects(lambda: CertificationFactory(level="master"))


def test_one_global_track_and_one_client_track_per_level():
    modules = TrainingModuleFactory.create_batch(2)
    track = CertificationTrackFactory(level="basic", modules=modules)
    assert track.modules.count() == 2
    _rejects(lambda: CertificationTrackFactory(level="basic"))
    client = ClientFactory()
    CertificationTrackFactory(level="basic", client=client)
    _rejects(lambda: CertificationTrackFactory(level="basic", client=client))
