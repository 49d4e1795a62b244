"""The database itself rejects retention rows that break the domain's invariants."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from customers.choices import Severity
from retention.choices import CampaignOutcome, CampaignStatus, CampaignTrigger, EscalationStatus
from retention.models import CampaignTemplate, RetentionCampaign
from tests.customers.factories import ClientFactory
from tests.support.factories import BASE_TIME, TicketFactory

from .factories import (
    ChurnPostmortemFactory,
    EscalationFactory,
    RetentionActionFactory,
    RetentionCampaignFactory,
)

pytestmark = pytest.mark.django_db


def _rejects(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_valid_rows_are_accepted():
    campaign = RetentionCampaignFactory()
    RetentionActionFactory(campaign=campaign, sequence=1)
    RetentionActionFactory(campaign=campaign, sequence=2, action_type="health_review", offset_days=5)
    ticket = TicketFactory(client=campaign.client)
    escalation = EscalationFactory(client=campaign.client, ticket=ticket, campaign=campaign)
    ChurnPostmortemFactory(client=campaign.client)
    assert campaign.campaign_id.startswith("ret_") and len(campaign.campaign_id) == 16
    assert escalation.escalation_id.startswith("esc_") and len(escalation.escalation_id) == 16
    assert campaign.template.campaign_type == campaign.campaign_type
    assert ticket.escalations.get() == escalation


def test_one_active_campaign_per_client_and_type():
    campaign = RetentionCampaignFactory()
    _rejects(lambda: RetentionCampaignFactory(client=campaign.client))
    RetentionCampaignFactory(client=campaign.client, campaign_type="renewal_save")
    RetentionCampaignFactory(
        client=campaign.client, status=CampaignStatus.CANCELLED, ended_at=BASE_TIME + dt.timedelta(days=1)
    )


def test_campaign_enums_and_health_ranges():
    _rejects(lambda: RetentionCampaignFactory(campaign_type="discount_blast", template=None))
    _rejects(lambda: RetentionCampaignFactory(intervention_level="nuclear"))
    _rejects(lambda: RetentionCampaignFactory(status="paused"))
    _rejects(lambda: RetentionCampaignFactory(baseline_health=101))
    _rejects(lambda: RetentionCampaignFactory(target_health=120))


def test_campaign_end_and_outcome_consistency():
    _rejects(
        lambda: RetentionCampaignFactory(
            status=CampaignStatus.COMPLETED, ended_at=BASE_TIME - dt.timedelta(days=1)
        )
    )
    _rejects(lambda: RetentionCampaignFactory(ended_at=BASE_TIME + dt.timedelta(days=1)))
    _rejects(lambda: RetentionCampaignFactory(outcome=CampaignOutcome.RETAINED))
    _rejects(
        lambda: RetentionCampaignFactory(
            status=CampaignStatus.COMPLETED, ended_at=BASE_TIME + dt.timedelta(days=60), outcome="saved"
        )
    )
    RetentionCampaignFactory(
        status=CampaignStatus.COMPLETED,
        ended_at=BASE_TIME + dt.timedelta(days=60),
        outcome=CampaignOutcome.RETAINED,
    )
    _rejects(lambda: RetentionCampaignFactory(automation_id="wf_abc"))
    RetentionCampaignFactory(trigger=CampaignTrigger.AUTOMATION, automation_id="wf_abcdefghijkl")


def test_action_sequence_unique_and_status_consistency():
    action = RetentionActionFactory(sequence=1)
    _rejects(lambda: RetentionActionFactory(campaign=action.campaign, sequence=1))
    _rejects(lambda: RetentionActionFactory(sequence=0))
    _rejects(lambda: RetentionActionFactory(action_type="send_gift"))
    _rejects(lambda: RetentionActionFactory(completed_at=BASE_TIME))


def test_escalation_severity_excludes_info():
    _rejects(lambda: EscalationFactory(severity=Severity.INFO))
    _rejects(lambda: EscalationFactory(severity="urgent"))


def test_escalation_times():
    _rejects(lambda: EscalationFactory(due_at=BASE_TIME))
    _rejects(
        lambda: EscalationFactory(
            status=EscalationStatus.RESOLVED, resolved_at=BASE_TIME - dt.timedelta(hours=1)
        )
    )
    _rejects(
        lambda: EscalationFactory(
            status=EscalationStatus.CLOSED,
            resolved_at=BASE_TIME + dt.timedelta(hours=1),
            closed_at=BASE_TIME - dt.timedelta(hours=1),
        )
    )


def test_escalation_status_consistency():
    _rejects(lambda: EscalationFactory(status=EscalationStatus.RESOLVED, resolved_at=None))
    _rejects(lambda: EscalationFactory(status=EscalationStatus.CLOSED, closed_at=None))
    _rejects(
        lambda: EscalationFactory(status=EscalationStatus.OPEN, resolved_at=BASE_TIME + dt.timedelta(hours=1))
    )
    _rejects(lambda: EscalationFactory(status="snoozed"))
    _rejects(lambda: EscalationFactory(title=""))


def test_ticket_deletion_keeps_escalation():
    ticket = TicketFactory()
    escalation = EscalationFactory(client=ticket.client, ticket=ticket)
    ticket.delete()
    escalation.refresh_from_db()
    assert escalation.ticket is None


def test_postmortem_unique_per_client_and_date_and_money_non_negative():
    client = ClientFactory()
    ChurnPostmortemFactory(client=client)
    _rejects(lambda: ChurnPostmortemFactory(client=client))
    ChurnPostmortemFactory(client=client, churn_date=dt.date(2026, 7, 1))
    _rejects(lambda: ChurnPostmortemFactory(lost_arr=-1))
    _rejects(lambda: ChurnPostmortemFactory(ltv_amount=-0.01))


def test_template_constraints():
    _rejects(lambda: CampaignTemplate.objects.create(campaign_type="proactive_outreach", name="dup"))
    CampaignTemplate.objects.all().delete()
    _rejects(lambda: CampaignTemplate.objects.create(campaign_type="nope", name="x"))
    _rejects(
        lambda: CampaignTemplate.objects.create(
            campaign_type="renewal_save", name="x", evaluation_window_days=0
        )
    )
    _rejects(
        lambda: CampaignTemplate.objects.create(
            campaign_type="renewal_save", name="x", target_health_floor=101
        )
    )
    assert RetentionCampaign._meta.get_field("evaluation_date").null is False
