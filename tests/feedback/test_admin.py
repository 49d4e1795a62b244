"""Every feedback admin page renders for a superuser with a query count that does not grow with rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from feedback.choices import SurveyType
from feedback.models import (
    Feedback,
    ProductInsight,
    SurveyInvitation,
    SurveyResponse,
    SurveyTemplate,
    Theme,
    VocReport,
)
from tests.customers.factories import ClientFactory, ContactFactory
from tests.support.factories import TicketFactory

from .factories import (
    FeedbackFactory,
    ProductInsightFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    SurveyTemplateFactory,
    ThemeFactory,
    VocReportFactory,
    theme,
)

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 14
MAX_CHANGE_PAGE_QUERIES = 20


def _user(django_user_model, n):
    return django_user_model.objects.create_user(f"pm{n}", f"pm{n}@example.com", "x", is_staff=True)


def make_theme(n, users):
    item = FeedbackFactory()
    new = ThemeFactory()
    item.themes.add(new, theme("pricing"))
    return new


def make_feedback(n, users):
    contact = ContactFactory()
    item = FeedbackFactory(client=contact.client, contact=contact)
    item.themes.add(theme("performance"), theme("support"))
    return item


def make_response(n, users):
    ticket = TicketFactory()
    contact = ContactFactory(client=ticket.client)
    feedback = FeedbackFactory(client=ticket.client)
    return SurveyResponseFactory(
        client=ticket.client,
        contact=contact,
        ticket=ticket,
        feedback=feedback,
        survey_type=SurveyType.CSAT,
        score=2,
        source="ticket",
    )


def make_template(n, users):
    return SurveyTemplateFactory()


def make_invitation(n, users):
    ticket = TicketFactory()
    contact = ContactFactory(client=ticket.client)
    response = SurveyResponseFactory(client=ticket.client, survey_type=SurveyType.CES, score=6)
    return SurveyInvitationFactory(
        client=ticket.client,
        contact=contact,
        ticket=ticket,
        survey_type=SurveyType.CES,
        template=SurveyTemplateFactory(survey_type=SurveyType.CES),
        response=response,
        responded=True,
    )


def make_insight(n, users):
    items = [FeedbackFactory(), FeedbackFactory()]
    return ProductInsightFactory(
        feedback=items, affected_clients=[i.client for i in items], created_by=users[n % len(users)]
    )


def make_report(n, users):
    return VocReportFactory(client=ClientFactory() if n % 2 else None, generated_by=users[n % len(users)])


CASES = [
    (Theme, make_theme),
    (Feedback, make_feedback),
    (SurveyResponse, make_response),
    (SurveyTemplate, make_template),
    (SurveyInvitation, make_invitation),
    (ProductInsight, make_insight),
    (VocReport, make_report),
]


def _get(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize(("model", "make"), CASES, ids=[m.__name__ for m, _ in CASES])
def test_changelist_and_change_page_render_with_bounded_queries(admin_client, django_user_model, model, make):
    users = [_user(django_user_model, i) for i in range(3)]
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    first = make(0, users)

    _get(admin_client, changelist)  # warm caches (content types, session)
    one_row = _get(admin_client, changelist)
    for n in range(1, 6):
        make(n, users)
    many_rows = _get(admin_client, changelist)
    assert many_rows == one_row, f"{meta.model_name} changelist queries grow with rows"
    assert many_rows <= MAX_CHANGELIST_QUERIES

    change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
    assert _get(admin_client, change) <= MAX_CHANGE_PAGE_QUERIES
    _get(admin_client, reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))


@pytest.mark.parametrize("survey_type", ["nps", "csat", "ces"])
def test_search_survey_responses_by_public_id(admin_client, survey_type):
    response = SurveyResponseFactory(survey_type=survey_type, score=5)
    SurveyResponseFactory(survey_type=survey_type, score=5)
    url = reverse("admin:feedback_surveyresponse_changelist")
    found = admin_client.get(url, {"q": response.response_id}).context["cl"].result_list
    assert list(found) == [response]
    other_prefix = "CES" if survey_type != "ces" else "NPS"
    assert list(admin_client.get(url, {"q": f"{other_prefix}-{response.pk}"}).context["cl"].result_list) == []


def test_search_feedback_by_public_id_and_themes_column(admin_client):
    item = make_feedback(0, [])
    FeedbackFactory()
    response = admin_client.get(reverse("admin:feedback_feedback_changelist"), {"q": item.feedback_id})
    assert list(response.context["cl"].result_list) == [item]
    assert "performance, support" in response.content.decode()
