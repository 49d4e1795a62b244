"""Known-answer tests of the nightly adoption-milestone and lifecycle-automation step (RULES §7.2, §8, §16).

Worlds are built with factories relative to the real today (the nightly job scores today); the scoring results
passed in are plain dicts with the keys of ``health.scoring.score_chunk`` that the step reads (one test feeds
real ``score_chunk`` results end to end)."""

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cs_project.core.context import Actor
from customers.audit import audit_chain_verify as verify_chain
from customers.models import Alert, AuditEvent, Client, Invoice, LifecycleStageHistory, TimelineEvent
from customers.services import lifecycle_transition
from health import scoring
from health.common import today
from health.lifecycle_automation import adoption_and_lifecycle_chunk
from health.models import AdoptionFramework, ClientMilestone
from health.reads.lifecycle import lifecycle_history
from tests.conftest import audit_lock_queries, require_service
from tests.customers.factories import ClientFactory, ContractFactory
from tests.expansion.factories import ExpansionOpportunityFactory, RenewalFactory
from tests.health.factories import FeatureFactory, feature_day, user_day
from tests.health.tools.conftest import at, snapshot
from tests.onboarding.factories import OnboardingPlanFactory, TrainingCompletionFactory
from tests.retention.factories import EscalationFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("nightly_health_scoring")
D = dt.timedelta


@pytest.fixture
def T() -> dt.date:
    return today()


def client_(stage="active", *, start_ago=200, end_in=300, seats=20, **kw):
    """A client with one active contract started ``start_ago`` days ago, ending in ``end_in`` days."""
    t = today()
    c = ClientFactory(
        lifecycle_stage=stage,
        contract_start_date=t - D(days=start_ago),
        contract_end_date=t + D(days=end_in),
        **kw,
    )
    ContractFactory(
        client=c, start_date=t - D(days=start_ago), end_date=t + D(days=end_in), included_users=seats
    )
    return c


def result(client, health, *, payment="current", utilisation=None):
    """The keys of a ``score_chunk`` official result the step reads."""
    usage = {"mau": 0, "seats": 20}
    if utilisation is not None:
        usage["utilisation"] = utilisation
    return {
        "client_pk": client.pk,
        "client_id": client.client_id,
        "as_of": today(),
        "persisted": True,
        "health_score": health,
        "risk_level": scoring.risk_band(health),
        "components": {},
        "inputs": {"usage": usage, "payment": {"payment_status": payment}},
        "previous": {"health_score": None, "risk_level": None, "health_as_of": None},
    }


def run(*results, as_of=None, now=None):
    return adoption_and_lifecycle_chunk(results=list(results), as_of=as_of or today(), actor=ACTOR, now=now)


def stage(client) -> str:
    return Client.objects.get(pk=client.pk).lifecycle_stage


def live(client, prefix=""):
    return {
        a.reason: a
        for a in Alert.objects.filter(
            client=client, status__in=["open", "snoozed"], reason__startswith=prefix
        )
    }


# ---------------------------------------------------------------- LC-01 onboarding → active


def test_lc01_completed_plan(T):
    c = client_("onboarding", start_ago=20)
    OnboardingPlanFactory(
        client=c, status="completed", completed_at=timezone.now(), start_date=T - D(days=20)
    )
    out = run(result(c, 70))
    assert stage(c) == "active" and out["transitions"] == 1
    h = LifecycleStageHistory.objects.get(client=c, exited_at__isnull=True)
    assert (h.from_stage, h.to_stage, h.rule_id, h.actor) == (
        "onboarding",
        "active",
        "LC-01",
        "system:nightly_health_scoring",
    )
    assert h.reason == "LC-01: onboarding plan completed"


def test_lc01_without_plan_needs_m2_and_90_days(T):
    FeatureFactory(feature_key="value.report", is_value_event=True)
    old = client_("onboarding", start_ago=120)
    young = client_("onboarding", start_ago=60)
    planned = client_("onboarding", start_ago=120)
    no_value = client_("onboarding", start_ago=120)
    OnboardingPlanFactory(client=planned, status="in_progress", start_date=T - D(days=100))
    for c in (old, young, planned):
        feature_day(c, "value.report", T - D(days=50))
    out = run(*(result(c, 70) for c in (old, young, planned, no_value)))
    assert [stage(c) for c in (old, young, planned, no_value)] == [
        "active",
        "onboarding",
        "onboarding",
        "onboarding",
    ]
    assert out["transitions"] == 1
    h = LifecycleStageHistory.objects.get(client=old, exited_at__isnull=True)
    assert h.reason == (
        f"LC-01: no onboarding plan, first value (m2) on {T - D(days=50)}, contract start 120 days ago"
    )
    # m2 recorded on the day its criterion first held, 70 days after the contract start
    m2 = ClientMilestone.objects.get(client=old, milestone_id="m2")
    assert (m2.achieved_on, m2.days_to_achieve, m2.importance) == (T - D(days=50), 70, "critical")


# ---------------------------------------------------------------- LC-02 → at_risk


def test_lc02_health_payment_escalation(T):
    low = client_("active")
    overdue = client_("expansion")
    escalated = client_("renewal")
    unscored = client_("active")
    fine = client_("active")
    EscalationFactory(client=escalated, severity="critical", opened_at=timezone.now() - D(hours=2))
    EscalationFactory(client=fine, severity="high", opened_at=timezone.now() - D(hours=2))
    out = run(
        result(low, 59),
        result(overdue, 80, payment="overdue"),
        result(escalated, 75),
        result(unscored, None),
        result(fine, 60),
    )
    assert [stage(c) for c in (low, overdue, escalated, unscored, fine)] == [
        "at_risk",
        "at_risk",
        "at_risk",
        "active",
        "active",
    ]
    assert out["transitions"] == 3
    reasons = {
        h.client_id: h.reason
        for h in LifecycleStageHistory.objects.filter(rule_id="LC-02", exited_at__isnull=True)
    }
    assert reasons == {
        low.pk: "LC-02: health 59 < 60",
        overdue.pk: "LC-02: payment overdue",
        escalated.pk: "LC-02: open critical escalation",
    }


# ---------------------------------------------------------------- LC-03 at_risk → active / renewal


def test_lc03_recovery_on_two_snapshots(T):
    recovered = client_("at_risk")
    one_good = client_("at_risk")
    still_overdue = client_("at_risk")
    renewing = client_("at_risk", end_in=60)
    for c, prev in ((recovered, 66), (one_good, 64), (still_overdue, 80), (renewing, 65)):
        snapshot(c, T - D(days=1), prev)
        snapshot(c, T - D(days=2), 40)  # older snapshots do not count
    run(
        result(recovered, 65),
        result(one_good, 90),
        result(still_overdue, 90, payment="overdue"),
        result(renewing, 70),
    )
    assert [stage(c) for c in (recovered, one_good, still_overdue, renewing)] == [
        "active",
        "at_risk",
        "at_risk",
        "renewal",
    ]
    h = LifecycleStageHistory.objects.get(client=renewing, exited_at__isnull=True)
    assert (h.rule_id, h.from_stage, h.to_stage) == ("LC-03", "at_risk", "renewal")
    assert h.reason == (
        f"LC-03: health 70 and 65 (≥ 65) on the last 2 official snapshots, "
        f"contract end {T + D(days=60)} within 90 days"
    )


def test_lc03_needs_a_previous_snapshot(T):
    c = client_("at_risk")
    run(result(c, 95))
    assert stage(c) == "at_risk"


# ---------------------------------------------------------------- LC-04 → renewal, LC-05 renewal → active


def test_lc04_contract_end_within_90_days(T):
    active = client_("active", end_in=90)
    expansion = client_("expansion", end_in=45)
    far = client_("active", end_in=91)
    won = client_("active", end_in=60)
    contract = won.contracts.get()
    RenewalFactory(contract=contract, status="won", closed_at=timezone.now(), final_arr=contract.value)
    run(*(result(c, 75) for c in (active, expansion, far, won)))
    assert [stage(c) for c in (active, expansion, far, won)] == ["renewal", "renewal", "active", "active"]
    h = LifecycleStageHistory.objects.get(client=active, exited_at__isnull=True)
    assert h.reason == f"LC-04: contract end {T + D(days=90)} in 90 days, renewal not won"


def test_lc05_renewal_won(T):
    renewed = client_("renewal", end_in=300)
    not_moved = client_("renewal", end_in=60)
    still_open = client_("renewal", end_in=300)
    for c, status in ((renewed, "won"), (not_moved, "won"), (still_open, "on_track")):
        old = ContractFactory(client=c, start_date=T - D(days=500), end_date=T - D(days=65), status="ended")
        closed = {"closed_at": timezone.now(), "final_arr": old.value} if status == "won" else {}
        RenewalFactory(contract=old, status=status, **closed)
    run(*(result(c, 75) for c in (renewed, not_moved, still_open)))
    assert [stage(c) for c in (renewed, not_moved, still_open)] == ["active", "renewal", "renewal"]
    h = LifecycleStageHistory.objects.get(client=renewed, exited_at__isnull=True)
    assert h.rule_id == "LC-05" and h.reason.startswith("LC-05: renewal rnw_")


# ---------------------------------------------------------------- LC-06 active → expansion


def test_lc06_expansion(T):
    seats = client_("active")
    opp = client_("active")
    only_identified = client_("active")
    not_healthy = client_("active")
    ExpansionOpportunityFactory(client=opp, stage="qualified")
    ExpansionOpportunityFactory(client=only_identified, stage="identified")
    out = run(
        result(seats, 85, utilisation=0.9),
        result(opp, 88, utilisation=0.5),
        result(only_identified, 95, utilisation=0.89),
        result(not_healthy, 84, utilisation=1.0),
    )
    assert [stage(c) for c in (seats, opp, only_identified, not_healthy)] == [
        "expansion",
        "expansion",
        "active",
        "active",
    ]
    assert out["transitions"] == 2
    reasons = {h.client_id: h.reason for h in LifecycleStageHistory.objects.filter(rule_id="LC-06")}
    assert reasons == {
        seats.pk: "LC-06: health 85 ≥ 85 and seat utilisation 0.90",
        opp.pk: "LC-06: health 88 ≥ 85 and 1 qualified expansion opportunity",
    }


# ---------------------------------------------------------------- LC-07 renewal_overdue (alert only)


def test_lc07_renewal_overdue_alert(T):
    late = client_("renewal", end_in=-31)
    grace = client_("renewal", end_in=-30)
    for c in (late, grace):
        RenewalFactory(contract=c.contracts.get())
    run(result(late, 75), result(grace, 75))
    alert = live(late, "renewal_overdue")["renewal_overdue"]
    assert (alert.type, alert.priority, alert.rule_id, alert.evidence["days_overdue"]) == (
        "risk",
        "critical",
        "LC-07",
        31,
    )
    assert not live(grace, "renewal_overdue")
    assert stage(late) == "renewal" and stage(grace) == "renewal"  # a person decides on churn
    # the renewal date passed but LC-07 no longer holds (RNW-04 still does): not cleared by this job
    run(result(late, 75), as_of=T - D(days=1))
    run(result(late, 75), as_of=T - D(days=1))
    assert live(late, "renewal_overdue")["renewal_overdue"].consecutive_clear_runs == 0


# ---------------------------------------------------------------- precedence, guard, never churned


def test_precedence_at_risk_over_renewal_over_expansion(T):
    all_three = client_("active", end_in=30)
    renewal_vs_expansion = client_("active", end_in=30)
    run(result(all_three, 50, utilisation=1.0), result(renewal_vs_expansion, 90, utilisation=1.0))
    assert stage(all_three) == "at_risk"
    assert stage(renewal_vs_expansion) == "renewal"
    assert LifecycleStageHistory.objects.filter(client=all_three).count() == 1  # one transition per run


def test_manual_change_in_last_7_days_is_left_alone(T):
    recent = client_("active")
    older = client_("active")
    now = timezone.now()
    for c, ago in ((recent, 6), (older, 8)):
        LifecycleStageHistory.objects.create(
            client=c,
            from_stage="at_risk",
            to_stage="active",
            reason="CSM call",
            actor="csm",
            entered_at=now - D(days=ago),
        )
    out = run(result(recent, 40), result(older, 40), now=now)
    assert (stage(recent), stage(older)) == ("active", "at_risk")
    assert out["guarded"] == 1 and out["transitions"] == 1
    # the registration row (no from-stage) is not a manual change
    new = client_("active")
    LifecycleStageHistory.objects.create(
        client=new, to_stage="active", actor="csm", entered_at=now - D(days=1)
    )
    run(result(new, 40), now=now)
    assert stage(new) == "at_risk"


def test_never_churned_and_churned_untouched(T):
    c = client_("churned", start_ago=600, end_in=-200)
    RenewalFactory(contract=c.contracts.get())
    run(result(c, 10, payment="overdue"))
    assert stage(c) == "churned"
    assert not LifecycleStageHistory.objects.filter(to_stage="churned").exists()


# ---------------------------------------------------------------- history, audit, timeline like a manual change


def test_transition_rows_match_a_manual_transition(T):
    auto = client_("active")
    manual = client_("active")
    LifecycleStageHistory.objects.create(
        client=auto, to_stage="active", actor="seed", entered_at=timezone.now() - D(days=30)
    )
    LifecycleStageHistory.objects.create(
        client=manual, to_stage="active", actor="seed", entered_at=timezone.now() - D(days=30)
    )
    lifecycle_transition(
        actor=ACTOR, client=manual, to_stage="at_risk", reason="LC-02: health 40 < 60", rule_id="LC-02"
    )
    now = timezone.now()
    run(result(auto, 40), now=now)

    def rows(client):
        opened = LifecycleStageHistory.objects.get(client=client, exited_at__isnull=True)
        event = AuditEvent.objects.get(client=client, action="customers.lifecycle.transitioned")
        tl = TimelineEvent.objects.get(audit_event=event)
        return opened, event, tl

    (ha, ea, ta), (hm, em, tm) = rows(auto), rows(manual)
    assert LifecycleStageHistory.objects.get(client=auto, to_stage="active").exited_at == now
    for field in ("from_stage", "to_stage", "reason", "rule_id", "actor"):
        assert getattr(ha, field) == getattr(hm, field), field
    for field in ("actor", "channel", "action", "object_type", "changes"):
        assert getattr(ea, field) == getattr(em, field), field
    assert ea.object_id == str(ha.pk)
    assert {k: ea.data[k] for k in em.data} == em.data  # + the rule's evidence
    assert ea.data["evidence"]["conditions"] == ["health_below_threshold"]
    for field in ("event_type", "title", "description", "impact", "severity", "source_type", "actor"):
        assert getattr(ta, field) == getattr(tm, field), field
    assert verify_chain()[1] is None
    history = lifecycle_history(client_id=auto.client_id)
    assert history["current_stage"] == "at_risk"
    assert history["history"][0] | {"entered_at": None, "days_in_stage": None} == {
        "from_stage": "active",
        "to_stage": "at_risk",
        "entered_at": None,
        "exited_at": None,
        "days_in_stage": None,
        "reason": "LC-02: health 40 < 60",
        "rule_id": "LC-02",
        "actor": "system:nightly_health_scoring",
    }


# ---------------------------------------------------------------- suggest mode


def test_suggest_mode_raises_alert_instead(T):
    c = client_("active")
    with override_settings(CS_RULES={**settings.CS_RULES, "lifecycle_automation": "suggest"}):
        out = run(result(c, 45))
        assert stage(c) == "active" and out["transitions"] == 0 and out["suggestions"] == 1
        assert not LifecycleStageHistory.objects.filter(client=c).exists()
        alert = live(c, "lifecycle_")["lifecycle_suggestion:at_risk"]
        assert (alert.type, alert.priority, alert.rule_id, alert.occurrence_count) == (
            "lifecycle",
            "medium",
            "LC-02",
            1,
        )
        assert alert.evidence["to_stage"] == "at_risk" and alert.evidence["reason"] == "LC-02: health 45 < 60"
        raised = AuditEvent.objects.get(client=c, action="customers.alert.raised", object_id=alert.alert_id)
        assert TimelineEvent.objects.get(audit_event=raised).event_type == "lifecycle"
        run(result(c, 45))  # same day again: the same alert, re-triggered (RULES §16)
        alert.refresh_from_db()
        assert alert.occurrence_count == 2 and len(live(c, "lifecycle_")) == 1
        run(result(c, 70))  # rule no longer holds: first clear run, then auto-closed
        alert.refresh_from_db()
        assert (alert.status, alert.consecutive_clear_runs) == ("open", 1)
        run(result(c, 70))
        alert.refresh_from_db()
        assert (alert.status, alert.close_reason) == ("closed", "auto_resolved")
    assert stage(c) == "active"


# ---------------------------------------------------------------- idempotency of a same-day re-run


def test_second_run_same_day_changes_nothing(T):
    c = client_("onboarding", end_in=60)  # LC-01 today; LC-04 would follow, but not on the same day
    OnboardingPlanFactory(
        client=c, status="completed", completed_at=timezone.now(), start_date=T - D(days=40)
    )
    first = run(result(c, 70))
    assert first["transitions"] == 1 and stage(c) == "active"
    history = list(LifecycleStageHistory.objects.values_list("id", "exited_at"))
    milestones = ClientMilestone.objects.count()
    events = AuditEvent.objects.filter(action="customers.lifecycle.transitioned").count()
    second = run(result(c, 70))
    assert second["transitions"] == 0 and second["guarded"] == 1 and stage(c) == "active"
    assert list(LifecycleStageHistory.objects.values_list("id", "exited_at")) == history
    assert ClientMilestone.objects.count() == milestones
    assert AuditEvent.objects.filter(action="customers.lifecycle.transitioned").count() == events
    # next day: LC-04 applies
    run(result(c, 70), now=timezone.now() + D(days=1), as_of=T + D(days=1))
    assert stage(c) == "renewal"


# ---------------------------------------------------------------- adoption milestones (§8) and adoption_overdue


@pytest.fixture
def adoption_world(T):
    FeatureFactory(feature_key="value.report", is_value_event=True)
    FeatureFactory(feature_key="crm.sync", category="integration")
    c = client_("active", start_ago=100)
    user_day(c, "u1", T - D(days=95))
    feature_day(c, "value.report", T - D(days=80))
    feature_day(c, "crm.sync", T - D(days=50))
    return c


def test_milestones_recorded_once_with_audit(adoption_world, T):
    c = adoption_world
    out = run(result(c, 75))
    rows = {m.milestone_id: m for m in ClientMilestone.objects.filter(client=c)}
    assert {k: (m.achieved_on, m.days_to_achieve) for k, m in rows.items()} == {
        "m1": (T - D(days=95), 5),
        "m2": (T - D(days=80), 20),
        "m5": (T - D(days=50), 50),
    }
    fw = AdoptionFramework.objects.get(key="standard")
    assert all(m.framework == fw for m in rows.values())
    assert (rows["m2"].importance, rows["m2"].category) == ("critical", "value_realization")
    assert out["milestones_recorded"] == 3
    events = AuditEvent.objects.filter(client=c, action="health.milestone.achieved").order_by("id")
    assert [e.data["milestone_id"] for e in events] == ["m1", "m2", "m5"]
    assert TimelineEvent.objects.get(audit_event=events[1]).title == (
        f"Adoption milestone achieved: m2 First Value Achieved ({T - D(days=80)})"
    )
    # idempotent: a second run records nothing, even with the criterion still holding
    again = run(result(c, 75))
    assert again["milestones_recorded"] == 0 and ClientMilestone.objects.filter(client=c).count() == 3
    assert AuditEvent.objects.filter(action="health.milestone.achieved").count() == 3
    # a stored milestone stays achieved even when the data behind it is gone
    ClientMilestone.objects.filter(client=c, milestone_id="m5").update(achieved_on=T - D(days=60))
    run(result(c, 75))
    assert ClientMilestone.objects.get(client=c, milestone_id="m5").achieved_on == T - D(days=60)
    assert verify_chain()[1] is None


def test_adoption_overdue_alerts(adoption_world, T):
    c = adoption_world
    run(result(c, 75))
    alerts = live(c, "adoption_overdue:")
    # 100 days since start: m3 (30 d) and m4 (60 d) stuck (> 1.5 ×), m6 (90 d) overdue; m7, m8 on track
    assert {r: (a.type, a.priority, a.rule_id, a.evidence["status"]) for r, a in alerts.items()} == {
        "adoption_overdue:m3": ("lifecycle", "high", "ADP-01", "stuck"),
        "adoption_overdue:m4": ("lifecycle", "high", "ADP-01", "stuck"),
        "adoption_overdue:m6": ("lifecycle", "medium", "ADP-01", "overdue"),
    }
    assert alerts["adoption_overdue:m3"].due_at - alerts["adoption_overdue:m3"].first_triggered_at == D(
        days=2
    )
    raised = AuditEvent.objects.get(
        action="customers.alert.raised", object_id=alerts["adoption_overdue:m6"].alert_id
    )
    assert TimelineEvent.objects.get(audit_event=raised).event_type == "health"
    # m3 achieved (5 users in 30 days and a passed training): cleared on 2 consecutive runs, then closed
    for n in range(5):
        user_day(c, f"t{n}", T - D(days=3))
    TrainingCompletionFactory(session__client=c, completed_at=at(T - D(days=2)))
    out = run(result(c, 75))
    assert ClientMilestone.objects.get(client=c, milestone_id="m3").achieved_on == T - D(days=2)
    assert out["alerts_clear_runs"] == 1 and out["alerts_retriggered"] == 2
    run(result(c, 75))
    m3 = Alert.objects.get(pk=alerts["adoption_overdue:m3"].pk)
    assert (m3.status, m3.close_reason) == ("closed", "auto_resolved")
    assert set(live(c, "adoption_overdue:")) == {"adoption_overdue:m4", "adoption_overdue:m6"}
    assert Alert.objects.get(pk=alerts["adoption_overdue:m6"].pk).occurrence_count == 3


def test_critical_milestone_overdue_is_high(T):
    c = client_("active", start_ago=10)  # m1 (3 days): 10 > 4.5 → stuck → high
    young = client_("active", start_ago=4)  # m1: 4 > 3 and ≤ 4.5 → overdue; critical importance → high
    run(result(c, 75), result(young, 75))
    assert live(young, "adoption_overdue:")["adoption_overdue:m1"].priority == "high"
    assert live(young, "adoption_overdue:")["adoption_overdue:m1"].evidence["status"] == "overdue"
    assert set(live(c, "adoption_overdue:")) == {"adoption_overdue:m1"}  # m2 (14 days) still on track


# ---------------------------------------------------------------- end to end with score_chunk


def test_real_score_chunk_results(T):
    c = client_("active")
    Invoice.objects.create(client=c, amount=1000, issued_on=T - D(days=70), due_date=T - D(days=40))
    results = list(scoring.score_chunk([c.pk], T, explain_inputs=False).values())
    assert results[0]["inputs"]["payment"]["payment_status"] == "overdue"
    out = run(*results)
    assert stage(c) == "at_risk" and out["transitions"] == 1
    h = LifecycleStageHistory.objects.get(client=c, exited_at__isnull=True)
    assert "payment overdue" in h.reason


def test_previews_are_ignored(T):
    c = client_("active")
    r = result(c, 10) | {"persisted": False}
    assert run(r)["clients"] == 0 and stage(c) == "active"


# ---------------------------------------------------------------- set-based: queries do not grow with the chunk


def test_query_count_does_not_grow_with_chunk_size(T):
    """Every path runs for each client: 2 milestones recorded, LC-02 transition (over LC-04), LC-07 alert,
    adoption alerts created (m5) and re-triggered (m3), a stale suggestion's clear run. Six audit + timeline
    entries per client keep the 12-client chunk within one SQLite bulk INSERT (999 parameters = 76 audit rows;
    SQLite splits larger ones, PostgreSQL sends any size as one statement)."""
    FeatureFactory(feature_key="value.report", is_value_event=True)
    clients = []
    for _ in range(15):
        c = client_("active", start_ago=50, end_in=-40)  # LC-02 and LC-04 hold; contract ended 40 days ago
        RenewalFactory(contract=c.contracts.get())  # LC-07
        snapshot(c, T - D(days=1), 70)
        user_day(c, "u1", T - D(days=45))  # m1 new
        feature_day(c, "value.report", T - D(days=40))  # m2 new
        EscalationFactory(client=c, severity="critical", opened_at=timezone.now() - D(hours=1))
        ExpansionOpportunityFactory(client=c, stage="qualified")
        OnboardingPlanFactory(client=c, status="completed", completed_at=timezone.now())
        Alert.objects.create(  # a live suggestion to clear and an adoption alert to re-trigger
            client=c,
            type="lifecycle",
            reason="lifecycle_suggestion:expansion",
            priority="medium",
            due_at=timezone.now(),
            first_triggered_at=timezone.now(),
            last_triggered_at=timezone.now(),
        )
        Alert.objects.create(
            client=c,
            type="lifecycle",
            reason="adoption_overdue:m3",
            priority="high",
            due_at=timezone.now(),
            first_triggered_at=timezone.now(),
            last_triggered_at=timezone.now(),
        )
        clients.append(c)
    small, large = clients[:3], clients[3:]
    with CaptureQueriesContext(connection) as q_small:
        out_small = run(*(result(c, 50, payment="overdue") for c in small))
    with CaptureQueriesContext(connection) as q_large:
        out_large = run(*(result(c, 50, payment="overdue") for c in large))
    assert out_small["transitions"] == 3 and out_large["transitions"] == 12
    assert out_large["milestones_recorded"] == 24
    assert out_large["alerts_created"] == 12 * 2  # adoption_overdue:m5, renewal_overdue
    assert out_large["alerts_retriggered"] == 12 and out_large["alerts_clear_runs"] == 12
    assert len(q_large.captured_queries) == len(q_small.captured_queries)
    assert len(q_large.captured_queries) <= 40 + audit_lock_queries(1)
    assert all(stage(c) == "at_risk" for c in clients)
    assert verify_chain()[1] is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_client_locked_by_a_person_is_left_for_the_next_run():
    """``SKIP LOCKED`` (PostgreSQL): a client row another transaction holds (a manual transition in progress) is
    skipped, not waited for; the rest of the chunk is processed."""
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    busy, free = client_("active"), client_("active")
    other = connection.copy()
    try:
        other.set_autocommit(False)
        with other.cursor() as cur:
            cur.execute("SELECT id FROM customers_client WHERE id = %s FOR UPDATE", [busy.pk])
        out = run(result(busy, 40), result(free, 40))
    finally:
        other.rollback()
        other.close()
    assert (out["clients"], out["skipped_locked"], out["transitions"]) == (1, 1, 1)
    assert (stage(busy), stage(free)) == ("active", "at_risk")


def test_sliding_window_criteria_known_answers(T):
    """The SQL pre-filters of the sliding-window criteria only drop clients that cannot qualify."""
    from health.milestones import criterion_dates

    FeatureFactory(feature_key="a", is_core=True)
    FeatureFactory(feature_key="b", is_core=True)
    apart, together, spread, team = (client_("active") for _ in range(4))
    feature_day(apart, "a", T - D(days=100))  # both core features, never within 30 days
    feature_day(apart, "b", T - D(days=10))
    feature_day(together, "a", T - D(days=20))
    feature_day(together, "b", T - D(days=10))
    for n in range(5):
        user_day(spread, f"s{n}", T - D(days=15 * n))  # 5 users over 60 days, at most 2 within 30
        user_day(team, f"t{n}", T - D(days=5 + n))
    ids = [apart.pk, together.pk, spread.pk, team.pk]
    tiers = dict.fromkeys(ids, "standard")
    breadth = {"type": "core_breadth_at_least", "ratio": 0.7, "window_days": 30}
    assert criterion_dates(breadth, ids, T, tiers) == {together.pk: T - D(days=10)}
    users = {"type": "active_users_at_least", "n": 5, "window_days": 30}
    assert criterion_dates(users, ids, T, tiers) == {team.pk: T - D(days=5)}
    both = {"all": [users, {"type": "training_passed_at_least", "n": 1}]}
    assert criterion_dates(both, ids, T, tiers) == {}
    TrainingCompletionFactory(session__client=team, completed_at=at(T - D(days=30)))
    assert criterion_dates(both, ids, T, tiers) == {team.pk: T - D(days=5)}


# ---------------------------------------------------------------- LC-02 / LC-06: one home for both lifecycle paths


def _analysis():
    from health.reads.lifecycle import lifecycle_analyze

    out = lifecycle_analyze(intervention_planning=False, automation_rules=False)
    return out["at_risk_transitions"], out["expansion_opportunities"], out["transition_triggers"]


def test_lc02_threshold_setting_moves_both_the_analysis_and_the_automation(T):
    """Regression: the analysis hard-coded ``health < 60`` while the automation read the setting."""
    c = client_("active", health_score=65)
    at_risk, _, triggers = _analysis()
    assert at_risk == []
    assert triggers[1]["condition"] == "health < 60 or payment overdue or open critical escalation"
    with override_settings(CS_RULES={**settings.CS_RULES, "at_risk_threshold": 70}):
        at_risk, _, triggers = _analysis()
        assert at_risk == [
            {
                "client_id": c.client_id,
                "current_stage": "active",
                "health_score": 65,
                "reasons": ["health_below_threshold"],
            }
        ]
        assert triggers[1]["condition"] == "health < 70 or payment overdue or open critical escalation"
        out = run(result(c, 65))
    assert out["transitions"] == 1 and stage(c) == "at_risk"
    h = LifecycleStageHistory.objects.get(client=c, exited_at__isnull=True)
    assert (h.rule_id, h.reason) == ("LC-02", "LC-02: health 65 < 70")


def test_lc02_default_threshold_leaves_65_alone_in_the_automation(T):
    c = client_("active", health_score=65)
    assert run(result(c, 65))["transitions"] == 0 and stage(c) == "active"


def test_lc06_constant_has_one_home_read_by_both_paths(T, monkeypatch):
    """LC-06's 85 / 0.90 live in health.rules only: changing them there changes the analysis and the
    automation alike."""
    from health import rules

    c = client_("active", health_score=88)
    ExpansionOpportunityFactory(client=c, stage="qualified")
    _, expansion, triggers = _analysis()
    assert [x["client_id"] for x in expansion] == [c.client_id]
    assert "health ≥ 85" in triggers[5]["condition"] and "≥ 0.90" in triggers[5]["condition"]
    monkeypatch.setattr(rules, "EXPANSION_HEALTH", 90)
    _, expansion, triggers = _analysis()
    assert expansion == [] and "health ≥ 90" in triggers[5]["condition"]
    assert run(result(c, 88))["transitions"] == 0 and stage(c) == "active"
    monkeypatch.setattr(rules, "EXPANSION_HEALTH", 85)
    assert run(result(c, 88))["transitions"] == 1 and stage(c) == "expansion"


def test_lc_predicates_known_answers():
    from health.rules import lc02_reasons, lc06_holds

    assert lc02_reasons(health=59, payment_overdue=True, critical_escalation=True, threshold=60) == [
        "health_below_threshold",
        "payment_overdue",
        "critical_escalation",
    ]
    assert lc02_reasons(health=60, payment_overdue=False, critical_escalation=False, threshold=60) == []
    assert lc02_reasons(health=None, payment_overdue=False, critical_escalation=False, threshold=60) == []
    assert lc06_holds(health=85, qualified_opportunities=0, seat_utilisation=0.9)
    assert lc06_holds(health=85, qualified_opportunities=1, seat_utilisation=None)
    assert not lc06_holds(health=84, qualified_opportunities=3, seat_utilisation=1.0)
    assert not lc06_holds(health=95, qualified_opportunities=0, seat_utilisation=0.8999)
    assert not lc06_holds(health=None, qualified_opportunities=1, seat_utilisation=1.0)
