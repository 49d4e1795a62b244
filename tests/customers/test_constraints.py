"""The database itself rejects rows that break the domain's invariants."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from customers.models import ArrMovement, Client, Contact

from .factories import ClientFactory, ContractFactory

pytestmark = pytest.mark.django_db


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_negative_arr_rejected():
    _rejects(lambda: ClientFactory(contract_value=-1))


def test_duplicate_client_id_rejected():
    ClientFactory(client_id="acme")
    _rejects(lambda: ClientFactory(client_id="acme"))


def test_bad_client_id_pattern_rejected():
    _rejects(lambda: ClientFactory(client_id="has space"))


def test_health_score_above_100_rejected():
    _rejects(lambda: ClientFactory(health_score=101))


def test_contract_ending_before_it_starts_rejected():
    client = ClientFactory()
    _rejects(
        lambda: ContractFactory(client=client, start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 4, 1))
    )
    _rejects(
        lambda: ContractFactory(client=client, start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 5, 1))
    )


def test_contract_negative_value_rejected():
    _rejects(lambda: ContractFactory(value=-5))


def test_second_primary_contact_rejected():
    client = ClientFactory()
    Contact.objects.create(client=client, email="a@example.com", is_primary=True)
    _rejects(lambda: Contact.objects.create(client=client, email="b@example.com", is_primary=True))


def test_churn_movement_must_be_negative():
    client = ClientFactory()
    _rejects(
        lambda: ArrMovement.objects.create(
            client=client, kind="churn", amount=10, movement_date=dt.date(2026, 1, 1)
        )
    )
    ArrMovement.objects.create(client=client, kind="churn", amount=-10, movement_date=dt.date(2026, 1, 1))
    assert Client.objects.count() == 1


def test_one_live_alert_per_client_type_reason():
    from .factories import AlertFactory

    client = ClientFactory()
    AlertFactory(client=client, type="risk", reason="usage_drop", status="open")
    _rejects(lambda: AlertFactory(client=client, type="risk", reason="usage_drop", status="snoozed"))
    AlertFactory(client=client, type="risk", reason="usage_drop", status="closed")  # closed ones may repeat


def test_one_open_lifecycle_row_per_client():
    import datetime as _dt

    from customers.models import LifecycleStageHistory

    client = ClientFactory()
    at = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    LifecycleStageHistory.objects.create(client=client, to_stage="onboarding", actor="t", entered_at=at)
    _rejects(
        lambda: LifecycleStageHistory.objects.create(
            client=client, to_stage="active", actor="t", entered_at=at
        )
    )
