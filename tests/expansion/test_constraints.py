"""The database itself rejects expansion rows that break RULES §12 invariants."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from customers.choices import Tier
from customers.models import Client
from expansion.choices import ExpansionStage, ExpansionType, NegotiationStrategy, RenewalStatus
from expansion.models import ExpansionOpportunity, Renewal, RenewalReminder
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


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


# --- Product -------------------------------------------------------------------------------------------


def test_product_negative_price_rejected():
    _rejects(lambda: ProductFactory(annual_list_price=Decimal("-1")))


def test_product_key_unique():
    ProductFactory.create(product_key="analytics-pro")
    _rejects(
        lambda: ProductFactory._meta.model.objects.create(
            product_key="analytics-pro", name="x", family="a", annual_list_price=1
        )
    )


def test_product_unknown_tier_or_pricing_rejected():
    _rejects(lambda: ProductFactory(min_tier="platinum"))
    _rejects(lambda: ProductFactory(pricing="per_minute"))


def test_product_may_be_free():
    assert ProductFactory(annual_list_price=0).annual_list_price == 0


# --- ExpansionOpportunity ------------------------------------------------------------------------------


@pytest.mark.parametrize("probability", [1.5, -0.01])
def test_opportunity_probability_outside_0_1_rejected(probability):
    _rejects(lambda: ExpansionOpportunityFactory(probability=probability))


def test_opportunity_probability_bounds_and_null_accepted():
    for p in (0, 1, None):
        ExpansionOpportunityFactory(probability=p, target_tier=Tier.STANDARD, client=ClientFactory())


def test_opportunity_negative_amount_rejected():
    _rejects(lambda: ExpansionOpportunityFactory(amount=Decimal("-0.01")))


def test_opportunity_without_value_accepted():
    assert ExpansionOpportunityFactory(amount=None).amount is None


def test_opportunity_unknown_type_or_stage_rejected():
    _rejects(lambda: ExpansionOpportunityFactory(opportunity_type="resell"))
    _rejects(lambda: ExpansionOpportunityFactory(stage="won"))


def test_one_open_opportunity_per_client_type_and_tier():
    opp = ExpansionOpportunityFactory()
    _rejects(lambda: ExpansionOpportunityFactory(client=opp.client))
    # another target tier is another opportunity
    ExpansionOpportunityFactory(client=opp.client, target_tier=Tier.PROFESSIONAL)
    # once closed, a new open one for the same target is allowed
    opp.stage, opp.closed_at = ExpansionStage.CLOSED_LOST, BASE_TIME
    opp.save()
    ExpansionOpportunityFactory(client=opp.client)
    assert ExpansionOpportunity.objects.filter(client=opp.client).count() == 3


def test_one_open_cross_sell_per_product():
    client = ClientFactory()
    first, second = ProductFactory(), ProductFactory()
    kwargs = {"client": client, "opportunity_type": ExpansionType.CROSS_SELL, "target_tier": ""}
    ExpansionOpportunityFactory(target_product=first, **kwargs)
    _rejects(lambda: ExpansionOpportunityFactory(target_product=first, **kwargs))
    ExpansionOpportunityFactory(target_product=second, **kwargs)
    # the same product for another client is fine
    ExpansionOpportunityFactory(target_product=first, **{**kwargs, "client": ClientFactory()})


def test_one_open_user_expansion_per_client_whatever_the_seat_count():
    client = ClientFactory()
    kwargs = {"client": client, "opportunity_type": ExpansionType.USER_EXPANSION, "target_tier": ""}
    ExpansionOpportunityFactory(target_seats=5, **kwargs)
    _rejects(lambda: ExpansionOpportunityFactory(target_seats=8, **kwargs))


def test_target_must_match_type():
    _rejects(lambda: ExpansionOpportunityFactory(opportunity_type=ExpansionType.TIER_UPGRADE, target_tier=""))
    _rejects(lambda: ExpansionOpportunityFactory(opportunity_type=ExpansionType.CROSS_SELL, target_tier=""))
    _rejects(lambda: ExpansionOpportunityFactory(target_tier="gold"))
    _rejects(
        lambda: ExpansionOpportunityFactory(
            opportunity_type=ExpansionType.USER_EXPANSION, target_tier="", target_seats=0
        )
    )


def test_closed_at_set_exactly_when_closed():
    _rejects(lambda: ExpansionOpportunityFactory(stage=ExpansionStage.CLOSED_WON, closed_at=None))
    _rejects(lambda: ExpansionOpportunityFactory(stage=ExpansionStage.QUALIFIED, closed_at=BASE_TIME))
    _rejects(
        lambda: ExpansionOpportunityFactory(
            stage=ExpansionStage.CLOSED_WON, closed_at=BASE_TIME - dt.timedelta(days=1)
        )
    )
    won = ExpansionOpportunityFactory(
        stage=ExpansionStage.CLOSED_WON, closed_at=BASE_TIME + dt.timedelta(days=3)
    )
    assert not won.is_open


def test_product_in_pipeline_cannot_be_deleted():
    product = ProductFactory()
    ExpansionOpportunityFactory(
        opportunity_type=ExpansionType.CROSS_SELL, target_tier="", target_product=product
    )
    with pytest.raises(ProtectedError):
        product.delete()


# --- Renewal -------------------------------------------------------------------------------------------


def test_renewal_negative_amounts_rejected():
    _rejects(lambda: RenewalFactory(target_arr=Decimal("-1")))
    _rejects(lambda: RenewalFactory(status=RenewalStatus.WON, closed_at=BASE_TIME, final_arr=Decimal("-1")))


@pytest.mark.parametrize("probability", [1.5, -0.1])
def test_renewal_probability_outside_0_1_rejected(probability):
    _rejects(lambda: RenewalFactory(probability=probability))


def test_renewal_unknown_status_rejected():
    _rejects(lambda: RenewalFactory(status="pending"))


def test_two_open_renewals_for_one_contract_rejected():
    renewal = RenewalFactory()
    _rejects(
        lambda: RenewalFactory(
            contract=renewal.contract, renewal_date=renewal.renewal_date + dt.timedelta(days=365)
        )
    )
    _rejects(
        lambda: RenewalFactory(
            contract=renewal.contract, status=RenewalStatus.HIGH_RISK, renewal_date=dt.date(2028, 1, 1)
        )
    )


def test_closed_renewal_then_a_new_open_one_for_the_next_date():
    won = RenewalFactory(status=RenewalStatus.WON, closed_at=BASE_TIME, final_arr=Decimal("30000"))
    RenewalFactory(contract=won.contract, renewal_date=won.renewal_date + dt.timedelta(days=365))
    assert Renewal.objects.filter(contract=won.contract).count() == 2


def test_one_renewal_per_contract_and_date():
    won = RenewalFactory(status=RenewalStatus.WON, closed_at=BASE_TIME, final_arr=Decimal("30000"))
    _rejects(lambda: RenewalFactory(contract=won.contract))


def test_outcome_fields_match_status():
    # closed needs closed_at, open must not have it
    _rejects(lambda: RenewalFactory(status=RenewalStatus.WON, final_arr=Decimal("1"), closed_at=None))
    _rejects(lambda: RenewalFactory(status=RenewalStatus.AT_RISK, closed_at=BASE_TIME))
    # won needs final ARR; open has none; lost is 0 or empty
    _rejects(lambda: RenewalFactory(status=RenewalStatus.WON, closed_at=BASE_TIME, final_arr=None))
    _rejects(lambda: RenewalFactory(status=RenewalStatus.ON_TRACK, final_arr=Decimal("10")))
    _rejects(lambda: RenewalFactory(status=RenewalStatus.LOST, closed_at=BASE_TIME, final_arr=Decimal("10")))
    RenewalFactory(status=RenewalStatus.LOST, closed_at=BASE_TIME, final_arr=Decimal("0"))
    RenewalFactory(status=RenewalStatus.LOST, closed_at=BASE_TIME, final_arr=None)


def test_contract_with_renewals_cannot_be_deleted_alone_but_client_can():
    renewal = RenewalFactory()
    RenewalReminderFactory(renewal=renewal)
    with pytest.raises(RestrictedError):
        renewal.contract.delete()
    renewal.client.delete()
    assert not Client.objects.exists()
    assert not Renewal.objects.exists()
    assert not RenewalReminder.objects.exists()


# --- RenewalReminder -----------------------------------------------------------------------------------


def test_duplicate_reminder_rejected():
    reminder = RenewalReminderFactory(days_before=30)
    _rejects(lambda: RenewalReminderFactory(renewal=reminder.renewal, days_before=30))
    RenewalReminderFactory(renewal=reminder.renewal, days_before=14)


@pytest.mark.parametrize("days", [0, 45, 120])
def test_reminder_offset_outside_schedule_rejected(days):
    _rejects(lambda: RenewalReminderFactory(days_before=days))


def test_reminder_cannot_be_sent_and_cancelled():
    now = timezone.now()
    _rejects(lambda: RenewalReminderFactory(sent_at=now, cancelled_at=now))


# --- RenewalProposal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("discount", [Decimal("1.5"), Decimal("-0.05")])
def test_proposal_discount_outside_0_1_rejected(discount):
    _rejects(lambda: RenewalProposalFactory(discount=discount))


def test_proposal_amounts_and_term_rejected():
    _rejects(lambda: RenewalProposalFactory(proposed_arr=Decimal("-1")))
    _rejects(lambda: RenewalProposalFactory(base_arr=Decimal("-1")))
    _rejects(lambda: RenewalProposalFactory(term_months=0))
    _rejects(lambda: RenewalProposalFactory(status="signed"))
    _rejects(lambda: RenewalProposalFactory(strategy="hardball"))


def test_one_proposal_per_renewal_and_strategy():
    proposal = RenewalProposalFactory()
    _rejects(lambda: RenewalProposalFactory(renewal=proposal.renewal))
    RenewalProposalFactory(renewal=proposal.renewal, strategy=NegotiationStrategy.EXPANSION_BUNDLE)


def test_open_renewal_for_other_clients_contract_fails_validation():
    from django.core.exceptions import ValidationError

    renewal = RenewalFactory.build(contract=ContractFactory(), client=ClientFactory())
    with pytest.raises(ValidationError):
        renewal.full_clean()
