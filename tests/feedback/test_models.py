"""Public ids and derived values of feedback models."""

import re

import pytest

from cs_project.core.ids import parse_seq_id
from feedback.choices import NpsCategory, SurveyType
from feedback.models import Feedback, SurveyResponse

from .factories import (
    FeedbackFactory,
    ProductInsightFactory,
    SurveyResponseFactory,
    VocReportFactory,
    theme,
)

pytestmark = pytest.mark.django_db


def test_feedback_public_id():
    item = FeedbackFactory()
    assert item.feedback_id == f"FB-{item.pk}"
    assert Feedback.objects.get(pk=parse_seq_id("FB", item.feedback_id)) == item


@pytest.mark.parametrize(
    ("survey_type", "score", "prefix"), [("nps", 3, "NPS"), ("csat", 4, "CSAT"), ("ces", 5, "CES")]
)
def test_survey_response_id_prefix_follows_type(survey_type, score, prefix):
    response = SurveyResponseFactory(survey_type=survey_type, score=score)
    assert response.response_id == f"{prefix}-{response.pk}"


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0, NpsCategory.DETRACTOR),
        (6, NpsCategory.DETRACTOR),
        (7, NpsCategory.PASSIVE),
        (8, NpsCategory.PASSIVE),
        (9, NpsCategory.PROMOTER),
        (10, NpsCategory.PROMOTER),
    ],
)
def test_nps_category(score, category):
    assert SurveyResponse(survey_type=SurveyType.NPS, score=score).nps_category == category


def test_nps_category_only_for_nps():
    assert SurveyResponse(survey_type=SurveyType.CSAT, score=5).nps_category is None


def test_feedback_can_carry_several_themes():
    item = FeedbackFactory(title="Slow API sync", content="The API sync is slow and times out.")
    item.themes.set([theme("performance"), theme("integration")])
    assert sorted(item.themes.values_list("key", flat=True)) == ["integration", "performance"]
    assert list(theme("performance").feedback_items.all()) == [item]


def test_insight_links_feedback_and_clients_and_random_ids():
    item = FeedbackFactory()
    insight = ProductInsightFactory(feedback=[item], affected_clients=[item.client])
    assert re.fullmatch(r"ins_[a-z2-7]{12}", insight.insight_id)
    assert list(item.insights.all()) == [insight]
    assert list(item.client.product_insights.all()) == [insight]
    assert re.fullmatch(r"voc_[a-z2-7]{12}", VocReportFactory().report_id)


def test_mcp_permissions_declared_on_the_main_model():
    assert {c for c, _ in Feedback._meta.permissions} == {"mcp_read", "mcp_write"}
