"""What expansion and retention do when an account churns or its contract end moves (RULES §7.1, §12.3).

Customers announces these changes (``customers.signals``); expansion and retention act on their own rows and
report what they did, which ends up in the ``side_effects`` of the customers service. The audit entries are
checked field by field: moving the code behind a signal must not change what the audit trail says.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers import services
from customers.models import AuditEvent, Contract, TimelineEvent
from expansion.models import Renewal
from retention.models import RetentionCampaign
from tests.expansion.factories import RenewalFactory, RenewalReminderFactory
from tests.retention.factories import RetentionCampaignFactory

pytestmark = pytest.mark.django_db

SUBSCRIBER_EFFECTS = {"renewal_lost", "renewal_won", "retention_campaign_closed"}


@pytest.fixture
def acme(actor):
    today = timezone.localdate()
    return services.client_register(
        actor=actor,
        client_id="acme",
        client_name="Acme",
        company_name="Acme Inc",
        contract_value=50000,
        contract_start_date=today - dt.timedelta(days=100),
        contract_end_date=today + dt.timedelta(days=265),
        primary_contact_email="champion@acme.com",
        primary_contact_name="Champion",
    ).client


@pytest.fixture
def renewal(acme):
    contract = Contract.objects.get(client=acme)
    return RenewalFactory(contract=contract, client=acme, status="at_risk")


def _audit(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def test_churn_loses_the_open_renewal_cancels_unsent_reminders_and_closes_active_campaigns(
    actor, acme, renewal
):
    unsent = RenewalReminderFactory(renewal=renewal, days_before=30)
    already_sent = RenewalReminderFactory(renewal=renewal, days_before=90, sent_at=timezone.now())
    campaign = RetentionCampaignFactory(client=acme)
    finished = RetentionCampaignFactory(client=acme, campaign_type="renewal_save", status="completed")
    RetentionCampaign.objects.filter(pk=finished.pk).update(outcome="retained", ended_at=finished.started_at)
    timeline_before = TimelineEvent.objects.filter(client=acme).count()

    result = services.lifecycle_transition(actor=actor, client=acme, to_stage="churned", reason="Lost")

    now = result.history.entered_at
    renewal.refresh_from_db()
    assert (renewal.status, renewal.final_arr, renewal.closed_at) == ("lost", Decimal("0.00"), now)
    unsent.refresh_from_db()
    already_sent.refresh_from_db()
    assert (unsent.cancelled_at, already_sent.cancelled_at) == (now, None)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.outcome, campaign.ended_at) == ("completed", "churned", now)
    finished.refresh_from_db()
    assert (finished.status, finished.outcome, finished.ended_at) == (
        "completed",
        "retained",
        finished.started_at,
    )

    effects = [e for e in result.side_effects if e["type"] in SUBSCRIBER_EFFECTS]
    assert sorted(effects, key=lambda e: e["type"]) == [
        {"type": "renewal_lost", "id": renewal.renewal_id},
        {"type": "retention_campaign_closed", "id": campaign.campaign_id},
    ]
    lost = _audit("expansion.renewal.lost")
    assert (lost.object_type, lost.object_id, lost.client_id, lost.actor) == (
        "renewal",
        renewal.renewal_id,
        acme.pk,
        actor.label,
    )
    assert (lost.changes, lost.data) == ({"status": ["at_risk", "lost"]}, {"reason": "churned"})
    closed = _audit("retention.campaign.closed")
    assert (closed.object_type, closed.object_id, closed.client_id) == (
        "retention_campaign",
        campaign.campaign_id,
        acme.pk,
    )
    assert closed.changes == {"status": ["active", "completed"], "outcome": [None, "churned"]}
    assert closed.data == {"reason": "churned"}
    transition = _audit("customers.lifecycle.transitioned")
    assert {"type": "renewal_lost", "id": renewal.renewal_id} in transition.data["side_effects"]
    assert {"type": "retention_campaign_closed", "id": campaign.campaign_id} in transition.data[
        "side_effects"
    ]
    # the subscribers audit; the one timeline entry is the transition's own
    assert TimelineEvent.objects.filter(client=acme).count() == timeline_before + 1


def test_churn_without_renewals_or_campaigns_reports_nothing_of_theirs(actor, acme):
    result = services.lifecycle_transition(actor=actor, client=acme, to_stage="churned", reason="Lost")
    assert [e for e in result.side_effects if e["type"] in SUBSCRIBER_EFFECTS] == []
    assert not AuditEvent.objects.filter(action__in=["expansion.renewal.lost", "retention.campaign.closed"])


def test_end_date_moved_past_the_renewal_date_wins_it_at_the_current_arr(actor, acme, renewal):
    unsent = RenewalReminderFactory(renewal=renewal, days_before=30)
    new_end = renewal.renewal_date + dt.timedelta(days=365)

    result = services.client_update(actor=actor, client_id="acme", updates={"contract_end_date": new_end})

    renewal.refresh_from_db()
    assert (renewal.status, renewal.final_arr) == ("won", Decimal("50000.00"))
    assert renewal.closed_at is not None
    unsent.refresh_from_db()
    assert unsent.cancelled_at == renewal.closed_at
    assert [e for e in result.side_effects if e["type"] in SUBSCRIBER_EFFECTS] == [
        {"type": "renewal_won", "id": renewal.renewal_id}
    ]
    won = _audit("expansion.renewal.won")
    assert (won.object_type, won.object_id, won.client_id) == ("renewal", renewal.renewal_id, acme.pk)
    assert won.changes == {"status": ["at_risk", "won"]}
    assert won.data == {"new_contract_end_date": new_end.isoformat(), "final_arr": "50000.00"}


def test_end_date_moved_not_past_the_renewal_date_leaves_it_open(actor, acme, renewal):
    earlier = renewal.renewal_date - dt.timedelta(days=10)
    result = services.client_update(actor=actor, client_id="acme", updates={"contract_end_date": earlier})
    assert Renewal.objects.get(pk=renewal.pk).status == "at_risk"
    assert [e for e in result.side_effects if e["type"] in SUBSCRIBER_EFFECTS] == []


def test_closed_renewals_are_left_alone_on_churn(actor, acme, renewal):
    Renewal.objects.filter(pk=renewal.pk).update(
        status="won", final_arr=Decimal("50000"), closed_at=timezone.now()
    )
    services.lifecycle_transition(actor=actor, client=acme, to_stage="churned", reason="Lost")
    assert Renewal.objects.get(pk=renewal.pk).status == "won"
    assert RetentionCampaign.objects.filter(client=acme).count() == 0


def test_a_failing_subscriber_rolls_the_whole_churn_back(actor, acme, renewal):
    from customers.signals import client_churned

    def refuse(sender, **kwargs):
        raise RuntimeError("subscriber failed")

    client_churned.connect(refuse, dispatch_uid="tests.refuse")
    try:
        with pytest.raises(RuntimeError, match="subscriber failed"):
            services.lifecycle_transition(actor=actor, client=acme, to_stage="churned", reason="Lost")
    finally:
        client_churned.disconnect(dispatch_uid="tests.refuse")
    acme.refresh_from_db()
    assert (acme.status, acme.lifecycle_stage) == ("active", "onboarding")
    assert Renewal.objects.get(pk=renewal.pk).status == "at_risk"
    assert not AuditEvent.objects.filter(action="expansion.renewal.lost").exists()


def test_the_services_work_when_called_directly(actor, acme, renewal):
    from expansion.services import renewals_close_lost
    from retention.services import retention_campaigns_close_churned

    now = timezone.now()
    assert renewals_close_lost(client=acme, actor=actor, now=now) == [
        {"type": "renewal_lost", "id": renewal.renewal_id}
    ]
    assert retention_campaigns_close_churned(client=acme, actor=actor, now=now) == []
