"""Every expansion admin page renders for a superuser with a query count that does not grow with rows."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from expansion.choices import ExpansionType, NegotiationStrategy, RenewalStatus
from expansion.models import ExpansionOpportunity, Product, Renewal, RenewalProposal, RenewalReminder
from tests.customers.factories import ClientFactory, ContractFactory

from .factories import (
    BASE_TIME,
    ExpansionOpportunityFactory,
    ProductFactory,
    RenewalFactory,
    RenewalProposalFactory,
    RenewalReminderFactory,
)

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 12
MAX_CHANGE_PAGE_QUERIES = 20


def _user(django_user_model, n):
    return django_user_model.objects.create_user(f"csm{n}", f"csm{n}@example.com", "x", is_staff=True)


def make_product(n, users):
    product = ProductFactory()
    if n:
        product.prerequisites.add(ProductFactory())
    return product


def make_opportunity(n, users):
    return ExpansionOpportunityFactory(
        client=ClientFactory(),
        opportunity_type=ExpansionType.CROSS_SELL,
        target_tier="",
        target_product=ProductFactory(),
        owner=users[n % len(users)],
    )


def make_renewal(n, users):
    renewal = RenewalFactory()
    for days in (90, 60, 30):
        RenewalReminderFactory(renewal=renewal, days_before=days)
    for strategy in (NegotiationStrategy.VALUE_REINFORCEMENT, NegotiationStrategy.EXPANSION_BUNDLE):
        RenewalProposalFactory(renewal=renewal, strategy=strategy, created_by=users[n % len(users)])
    return renewal


def make_reminder(n, users):
    return RenewalReminderFactory(sent_at=BASE_TIME if n % 2 else None)


def make_proposal(n, users):
    return RenewalProposalFactory(created_by=users[n % len(users)])


CASES = [
    (Product, make_product),
    (ExpansionOpportunity, make_opportunity),
    (Renewal, make_renewal),
    (RenewalReminder, make_reminder),
    (RenewalProposal, make_proposal),
]


def _get(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
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


def test_renewal_change_page_queries_do_not_grow_with_inlines(admin_client, django_user_model):
    users = [_user(django_user_model, i) for i in range(2)]
    small = RenewalFactory()
    big = make_renewal(1, users)
    RenewalReminderFactory(renewal=big, days_before=14)
    RenewalReminderFactory(renewal=big, days_before=7)
    RenewalProposalFactory(renewal=big, strategy=NegotiationStrategy.COMPETITIVE_DEFENSE, created_by=users[0])
    url = lambda r: reverse("admin:expansion_renewal_change", args=[r.pk])  # noqa: E731
    _get(admin_client, url(small))
    assert _get(admin_client, url(small)) == _get(admin_client, url(big))
    body = admin_client.get(url(big)).content.decode()
    assert 'name="reminders-TOTAL_FORMS" value="5"' in body
    assert 'name="proposals-TOTAL_FORMS" value="3"' in body
    assert big.renewal_id in body


def test_search_by_public_id(admin_client):
    opp = ExpansionOpportunityFactory()
    other = ExpansionOpportunityFactory(client=ClientFactory())
    response = admin_client.get(
        reverse("admin:expansion_expansionopportunity_changelist"), {"q": opp.opportunity_id}
    )
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [opp]
    assert other not in response.context["cl"].result_list


def test_won_renewal_can_be_filtered(admin_client):
    RenewalFactory(status=RenewalStatus.WON, closed_at=BASE_TIME, final_arr=30000)
    RenewalFactory(contract=ContractFactory(end_date=dt.date(2027, 2, 1)))
    response = admin_client.get(reverse("admin:expansion_renewal_changelist"), {"status__exact": "won"})
    assert [r.status for r in response.context["cl"].result_list] == ["won"]
