"""Public ids and derived values of expansion models."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cs_project.core.ids import parse_seq_id
from expansion.choices import ReminderStatus
from expansion.models import ExpansionOpportunity

from .factories import ExpansionOpportunityFactory, ProductFactory, RenewalFactory, RenewalReminderFactory

pytestmark = pytest.mark.django_db


def test_opportunity_public_id_is_exp_sequence():
    opp = ExpansionOpportunityFactory()
    assert opp.opportunity_id == f"EXP-{opp.pk}"
    assert ExpansionOpportunity.objects.get(pk=parse_seq_id("EXP", opp.opportunity_id)) == opp
    assert ExpansionOpportunity(pk=None).opportunity_id is None


def test_weighted_amount():
    opp = ExpansionOpportunityFactory(amount=Decimal("20000"), probability=0.6)
    assert opp.weighted_amount == Decimal("12000.0")
    assert (
        ExpansionOpportunityFactory(amount=None, client=opp.client, target_tier="enterprise").weighted_amount
        is None
    )


def test_renewal_and_proposal_ids_are_random_prefixed():
    renewal = RenewalFactory()
    assert re.fullmatch(r"rnw_[a-z2-7]{12}", renewal.renewal_id)
    proposal = renewal.proposals.create(base_arr=1, proposed_arr=1)
    assert re.fullmatch(r"prop_[a-z2-7]{12}", proposal.proposal_id)


def test_forecast_arr_is_target_times_probability():
    renewal = RenewalFactory(target_arr=Decimal("50000"), probability=0.8)
    assert renewal.forecast_arr == Decimal("40000.0")
    renewal.probability = None
    assert renewal.forecast_arr is None


def test_reminder_status_from_time_stamps():
    reminder = RenewalReminderFactory(days_before=30, due_date=dt.date(2026, 12, 2))
    assert reminder.reminder_type == "30_day_notice"
    assert reminder.status_on(dt.date(2026, 11, 1)) == ReminderStatus.SCHEDULED
    assert reminder.status_on(dt.date(2026, 11, 25)) == ReminderStatus.PENDING
    assert reminder.status_on(dt.date(2026, 12, 5)) == ReminderStatus.PENDING  # overdue, not yet sent
    reminder.failed_at = timezone.now()
    assert reminder.status_on(dt.date(2026, 11, 1)) == ReminderStatus.FAILED
    reminder.sent_at = timezone.now()
    assert reminder.status_on(dt.date(2026, 11, 1)) == ReminderStatus.SENT
    reminder.sent_at, reminder.cancelled_at = None, timezone.now()
    assert reminder.status_on(dt.date(2026, 11, 1)) == ReminderStatus.CANCELLED


def test_product_signal_keys_must_be_a_list_of_strings():
    product = ProductFactory.build(signal_feature_keys={"reports": 1})
    with pytest.raises(ValidationError):
        product.clean()


def test_mcp_permissions_declared_on_the_main_model():
    codenames = {codename for codename, _ in ExpansionOpportunity._meta.permissions}
    assert codenames == {"mcp_read", "mcp_write"}
