"""The database itself rejects communication rows that break the domain's invariants."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from communication.choices import (
    ActionItemStatus,
    EbrStatus,
    EmailStatus,
    EnrollmentStatus,
    NewsletterStatus,
    PostStatus,
    WorkflowKind,
)
from tests.customers.factories import ClientFactory

from .factories import (
    NOW,
    AdvocateContributionFactory,
    AdvocateFactory,
    CommunityFactory,
    CommunityMemberFactory,
    CommunityPostFactory,
    EmailCampaignFactory,
    EmailMessageFactory,
    EmailSuppressionFactory,
    ExecutiveReviewActionItemFactory,
    ExecutiveReviewFactory,
    NewsletterFactory,
    NewsletterSubscriptionFactory,
    WorkflowEnrollmentFactory,
    WorkflowFactory,
    WorkflowRunFactory,
)

pytestmark = pytest.mark.django_db


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


# E-mail ---------------------------------------------------------------------------------------------


def test_public_ids_have_their_prefixes():
    message = EmailMessageFactory()
    assert message.message_id.startswith("msg_") and len(message.message_id) == 16
    assert message.campaign.campaign_id.startswith("camp_")
    assert WorkflowFactory().workflow_id.startswith("wf_")
    assert CommunityPostFactory().post_id.startswith("post_")
    assert CommunityMemberFactory().member_id.startswith("mem_")
    assert CommunityFactory().community_id.startswith("com_")
    assert AdvocateFactory().advocate_id.startswith("adv_")
    assert ExecutiveReviewFactory().ebr_id.startswith("ebr_")
    assert NewsletterFactory().newsletter_id.startswith("nl_")


def test_unknown_message_status_rejected():
    _rejects(lambda: EmailMessageFactory(status="delivered"))


def test_sent_message_needs_sent_at():
    _rejects(lambda: EmailMessageFactory(status=EmailStatus.SENT, sent_at=None))


def test_suppressed_message_needs_a_reason():
    _rejects(lambda: EmailMessageFactory(status=EmailStatus.SUPPRESSED, sent_at=None, reason=""))
    EmailMessageFactory(status=EmailStatus.SUPPRESSED, sent_at=None, reason="frequency_cap")


def test_pending_review_and_failed_are_valid_statuses():
    EmailMessageFactory(status=EmailStatus.PENDING_REVIEW, sent_at=None)
    EmailMessageFactory(status=EmailStatus.FAILED, sent_at=None, error="SMTP 550")
    EmailMessageFactory(status=EmailStatus.QUEUED, sent_at=None, campaign=None)


def test_open_or_click_without_send_rejected():
    _rejects(lambda: EmailMessageFactory(status=EmailStatus.QUEUED, sent_at=None, opened_at=NOW))
    _rejects(lambda: EmailMessageFactory(status=EmailStatus.QUEUED, sent_at=None, clicked_at=NOW))


def test_customer_mail_needs_a_client_internal_mail_does_not():
    _rejects(lambda: EmailMessageFactory(client=None, is_internal=False))
    EmailMessageFactory(client=None, is_internal=True, kind="internal")


def test_deleting_a_campaign_keeps_its_messages():
    message = EmailMessageFactory()
    message.campaign.delete()
    message.refresh_from_db()
    assert message.campaign is None


def test_scheduled_campaign_needs_a_time():
    _rejects(lambda: EmailCampaignFactory(status="scheduled", scheduled_send_time=None))


def test_duplicate_suppression_rejected_case_insensitively():
    EmailSuppressionFactory(email="gone@example.com")
    _rejects(lambda: EmailSuppressionFactory(email="Gone@Example.com"))


# Workflows ----------------------------------------------------------------------------------------


def test_communication_workflow_names_unique_case_insensitively():
    WorkflowFactory(name="Renewal nudge")
    _rejects(lambda: WorkflowFactory(name="renewal NUDGE"))
    WorkflowFactory(name="Renewal nudge", kind=WorkflowKind.RETENTION)


def test_one_onboarding_workflow_per_plan_and_trigger():
    WorkflowFactory(kind=WorkflowKind.ONBOARDING, source_object_id="onb_x", trigger_type="task_overdue")
    _rejects(
        lambda: WorkflowFactory(
            kind=WorkflowKind.ONBOARDING, source_object_id="onb_x", trigger_type="task_overdue"
        )
    )


def test_workflow_delay_out_of_range_rejected():
    _rejects(lambda: WorkflowFactory(delay_minutes=43201))


def test_unknown_workflow_kind_or_trigger_rejected():
    _rejects(lambda: WorkflowFactory(kind="marketing"))
    _rejects(lambda: WorkflowFactory(trigger_type="moon_phase"))


def test_one_active_enrollment_per_workflow_and_client():
    enrollment = WorkflowEnrollmentFactory()
    _rejects(lambda: WorkflowEnrollmentFactory(workflow=enrollment.workflow, client=enrollment.client))
    enrollment.status = EnrollmentStatus.EXITED
    enrollment.exited_at = NOW
    enrollment.save()
    WorkflowEnrollmentFactory(workflow=enrollment.workflow, client=enrollment.client)


def test_run_finishing_before_it_starts_rejected():
    _rejects(lambda: WorkflowRunFactory(started_at=NOW, finished_at=NOW - dt.timedelta(seconds=1)))


# Community ----------------------------------------------------------------------------------------


def test_community_name_unique_case_insensitively():
    CommunityFactory(name="Admins")
    _rejects(lambda: CommunityFactory(name="ADMINS"))


def test_member_once_per_community():
    member = CommunityMemberFactory(email="eve@example.com")
    _rejects(lambda: CommunityMemberFactory(community=member.community, email="EVE@example.com"))
    CommunityMemberFactory(email="eve@example.com")


def test_published_post_needs_published_at():
    _rejects(lambda: CommunityPostFactory(status=PostStatus.PUBLISHED, published_at=None))
    CommunityPostFactory(status=PostStatus.PENDING, published_at=None)


# Advocacy -----------------------------------------------------------------------------------------


def test_negative_advocate_points_rejected():
    _rejects(lambda: AdvocateFactory(lifetime_points=-1))


def test_negative_contribution_points_rejected():
    _rejects(lambda: AdvocateContributionFactory(points=-5))


def test_duplicate_advocate_for_client_and_email_rejected():
    advocate = AdvocateFactory(contact_email="fay@example.com")
    _rejects(lambda: AdvocateFactory(client=advocate.client, contact_email="FAY@example.com"))
    AdvocateFactory(contact_email="fay@example.com")  # another client


def test_unknown_advocate_tier_and_contribution_type_rejected():
    _rejects(lambda: AdvocateFactory(tier="diamond"))
    _rejects(lambda: AdvocateContributionFactory(contribution_type="tweet"))


# Executive reviews --------------------------------------------------------------------------------


@pytest.mark.parametrize("rating", [0, 6])
def test_ebr_rating_outside_1_5_rejected(rating):
    _rejects(lambda: ExecutiveReviewFactory(satisfaction_rating=rating))


def test_ebr_rating_bounds_and_null_accepted():
    ExecutiveReviewFactory(satisfaction_rating=None)
    ExecutiveReviewFactory(satisfaction_rating=1)
    ExecutiveReviewFactory(satisfaction_rating=5, status=EbrStatus.COMPLETED, completed_at=NOW)


def test_completed_ebr_needs_completion_time():
    _rejects(lambda: ExecutiveReviewFactory(status=EbrStatus.COMPLETED, completed_at=None))


def test_prepared_ebr_needs_preparation_time():
    _rejects(lambda: ExecutiveReviewFactory(prepared=True, prepared_at=None))


def test_ebr_duration_out_of_range_rejected():
    _rejects(lambda: ExecutiveReviewFactory(duration_minutes=10))


def test_done_action_item_needs_time():
    _rejects(lambda: ExecutiveReviewActionItemFactory(status=ActionItemStatus.DONE, completed_at=None))


# Newsletters --------------------------------------------------------------------------------------


def test_edition_number_must_be_positive():
    _rejects(lambda: NewsletterFactory(edition_number=0))


def test_duplicate_edition_in_a_series_rejected():
    NewsletterFactory(name="Product News", edition_number=3)
    _rejects(lambda: NewsletterFactory(name="product news", edition_number=3))
    NewsletterFactory(name="Product News", edition_number=4)


def test_recurring_newsletter_needs_a_pattern():
    _rejects(lambda: NewsletterFactory(is_recurring=True, recurrence_pattern=""))
    _rejects(lambda: NewsletterFactory(is_recurring=False, recurrence_pattern="weekly"))
    _rejects(lambda: NewsletterFactory(is_recurring=True, recurrence_pattern="daily"))
    NewsletterFactory(is_recurring=True, recurrence_pattern="quarterly")


def test_scheduled_newsletter_needs_a_time():
    _rejects(lambda: NewsletterFactory(status=NewsletterStatus.SCHEDULED, scheduled_at=None))


def test_duplicate_subscription_rejected():
    sub = NewsletterSubscriptionFactory(series="Product News", email="gil@example.com")
    _rejects(
        lambda: NewsletterSubscriptionFactory(
            client=sub.client, series="product news", email="GIL@example.com"
        )
    )
    NewsletterSubscriptionFactory(client=sub.client, series="Release Notes", email="gil@example.com")


def test_client_wide_subscription_unique_too():
    client = ClientFactory()
    NewsletterSubscriptionFactory(client=client, series="", email="")
    _rejects(lambda: NewsletterSubscriptionFactory(client=client, series="", email=""))


def test_unsubscribe_before_subscribe_rejected():
    sub = NewsletterSubscriptionFactory()
    sub.unsubscribed_at = sub.subscribed_at - dt.timedelta(days=1)
    _rejects(sub.save)
