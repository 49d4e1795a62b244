"""The database itself rejects feedback rows that break RULES §13 invariants."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.choices import Priority
from feedback.choices import FollowUpStatus, SurveyType, VocLoopStatus
from feedback.models import SurveyResponse
from tests.customers.factories import ClientFactory, ContactFactory
from tests.support.factories import TicketFactory

from .factories import (
    BASE_TIME,
    FeedbackFactory,
    ProductInsightFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    SurveyTemplateFactory,
    ThemeFactory,
    VocReportFactory,
)

pytestmark = pytest.mark.django_db


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


# --- SurveyResponse ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("survey_type", "score"),
    [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6), ("ces", 0), ("ces", 8)],
)
def test_score_outside_type_range_rejected(survey_type, score):
    _rejects(lambda: SurveyResponseFactory(survey_type=survey_type, score=score))


@pytest.mark.parametrize(
    ("survey_type", "score"),
    [("nps", 0), ("nps", 10), ("csat", 1), ("csat", 5), ("ces", 1), ("ces", 7)],
)
def test_score_range_bounds_accepted(survey_type, score):
    assert SurveyResponseFactory(survey_type=survey_type, score=score).pk


def test_unknown_survey_type_rejected():
    _rejects(lambda: SurveyResponseFactory(survey_type="csi", score=3))


def test_ticket_rating_must_be_csat():
    ticket = TicketFactory()
    _rejects(lambda: SurveyResponseFactory(client=ticket.client, ticket=ticket, survey_type=SurveyType.NPS))
    rating = SurveyResponseFactory(
        client=ticket.client, ticket=ticket, survey_type=SurveyType.CSAT, score=2, source="ticket"
    )
    assert list(ticket.survey_responses.all()) == [rating]


def test_contacted_follow_up_needs_timestamp():
    _rejects(lambda: SurveyResponseFactory(score=3, follow_up_status=FollowUpStatus.CONTACTED))
    SurveyResponseFactory(score=3, follow_up_status=FollowUpStatus.CONTACTED, contacted_at=BASE_TIME)
    _rejects(lambda: SurveyResponseFactory(score=3, follow_up_status="maybe"))


def test_model_validation_explains_score_range():
    response = SurveyResponseFactory.build(client=ClientFactory(), survey_type=SurveyType.CES, score=9)
    with pytest.raises(ValidationError) as excinfo:
        response.full_clean()
    assert "score" in excinfo.value.message_dict or "__all__" in excinfo.value.message_dict


def test_contact_of_another_client_fails_validation():
    response = SurveyResponseFactory.build(client=ClientFactory(), contact=ContactFactory())
    with pytest.raises(ValidationError):
        response.full_clean()


# --- Feedback ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", [1.5, -1.01])
def test_sentiment_score_outside_range_rejected(score):
    _rejects(lambda: FeedbackFactory(sentiment_score=score))


def test_sentiment_label_and_score_go_together():
    _rejects(lambda: FeedbackFactory(sentiment="", sentiment_score=0.2))
    _rejects(lambda: FeedbackFactory(sentiment="positive", sentiment_score=None))
    FeedbackFactory(sentiment="", sentiment_score=None)


def test_feedback_enums_enforced():
    _rejects(lambda: FeedbackFactory(feedback_type="complaint"))
    _rejects(lambda: FeedbackFactory(status="open"))
    _rejects(lambda: FeedbackFactory(voc_status="done"))
    _rejects(lambda: FeedbackFactory(priority="urgent"))
    _rejects(lambda: FeedbackFactory(sentiment="angry", sentiment_score=-0.9))
    _rejects(lambda: FeedbackFactory(assigned_team="sales"))


def test_feedback_content_longer_than_20000_rejected():
    FeedbackFactory(content="x" * 20_000)
    _rejects(lambda: FeedbackFactory(content="x" * 20_001))


def test_voc_loop_steps_are_time_stamped():
    _rejects(lambda: FeedbackFactory(voc_status=VocLoopStatus.ACKNOWLEDGED))
    _rejects(lambda: FeedbackFactory(voc_status=VocLoopStatus.ACTIONED, acknowledged_at=BASE_TIME))
    _rejects(
        lambda: FeedbackFactory(
            voc_status=VocLoopStatus.CLOSED_LOOP, acknowledged_at=BASE_TIME, actioned_at=BASE_TIME
        )
    )
    # closed_loop_at only on closed_loop items
    _rejects(lambda: FeedbackFactory(closed_loop_at=BASE_TIME))
    later = BASE_TIME + dt.timedelta(days=2)
    _rejects(
        lambda: FeedbackFactory(
            voc_status=VocLoopStatus.CLOSED_LOOP,
            acknowledged_at=BASE_TIME,
            actioned_at=later,
            closed_loop_at=BASE_TIME,
        )
    )
    item = FeedbackFactory(
        voc_status=VocLoopStatus.CLOSED_LOOP,
        acknowledged_at=BASE_TIME,
        actioned_at=BASE_TIME,
        closed_loop_at=later,
    )
    assert item.voc_status == VocLoopStatus.CLOSED_LOOP


# --- Themes, templates, invitations --------------------------------------------------------------------


def test_uncategorized_is_reserved():
    _rejects(lambda: ThemeFactory(key="uncategorized"))


def test_one_default_template_per_type():
    SurveyTemplateFactory(is_default=True)
    _rejects(lambda: SurveyTemplateFactory(is_default=True))
    SurveyTemplateFactory(is_default=True, survey_type=SurveyType.CES)
    SurveyTemplateFactory(is_default=False)


def test_invitation_with_response_is_responded():
    response = SurveyResponseFactory()
    _rejects(lambda: SurveyInvitationFactory(client=response.client, response=response, responded=False))
    SurveyInvitationFactory(client=response.client, response=response, responded=True)


def test_one_invitation_per_ticket_and_survey_type():
    ticket = TicketFactory()
    SurveyInvitationFactory(client=ticket.client, ticket=ticket, survey_type=SurveyType.CES, source="ces_job")
    _rejects(
        lambda: SurveyInvitationFactory(
            client=ticket.client, ticket=ticket, survey_type=SurveyType.CES, source="ces_job"
        )
    )
    # invitations without a ticket are not limited
    SurveyInvitationFactory(client=ticket.client)
    SurveyInvitationFactory(client=ticket.client)


def test_invitation_enums_enforced():
    _rejects(lambda: SurveyInvitationFactory(survey_type="csi"))
    _rejects(lambda: SurveyInvitationFactory(source="carrier_pigeon"))


# --- ProductInsight, VocReport -------------------------------------------------------------------------


def test_insight_enums_enforced():
    _rejects(lambda: ProductInsightFactory(status="done"))
    _rejects(lambda: ProductInsightFactory(insight_type="idea"))
    _rejects(lambda: ProductInsightFactory(priority="p1"))
    _rejects(lambda: ProductInsightFactory(description="x" * 20_001))


def test_voc_report_period_ending_before_start_rejected():
    _rejects(lambda: VocReportFactory(period_start=dt.date(2026, 3, 2), period_end=dt.date(2026, 3, 1)))
    VocReportFactory(period_start=dt.date(2026, 3, 2), period_end=dt.date(2026, 3, 2))


def test_voc_report_enums_enforced():
    _rejects(lambda: VocReportFactory(report_type="daily"))
    _rejects(lambda: VocReportFactory(target_audience="board"))


def test_deleting_a_client_removes_its_feedback_and_responses():
    client = ClientFactory()
    FeedbackFactory(client=client, priority=Priority.HIGH)
    SurveyResponseFactory(client=client)
    client.delete()
    assert not SurveyResponse.objects.exists()
