"""manage_lifecycle_stages (analyze / transition / get_history) and segment_by_value_tier."""

import datetime as dt

import pytest
from django.utils import timezone

from customers.models import ArrMovement, AuditEvent, Client, LifecycleStageHistory
from tests.customers.factories import ClientFactory, ContractFactory

from .conftest import days_ago

pytestmark = pytest.mark.django_db


def _stage(client, frm, to, days_ago_entered, exited_days_ago=None):
    now = timezone.now()
    return LifecycleStageHistory.objects.create(
        client=client,
        from_stage=frm,
        to_stage=to,
        actor="root",
        entered_at=now - dt.timedelta(days=days_ago_entered),
        exited_at=now - dt.timedelta(days=exited_days_ago) if exited_days_ago is not None else None,
    )


@pytest.fixture
def lifecycle_world():
    a = ClientFactory(client_id="a", lifecycle_stage="active", health_score=55, contract_value=30000)
    b = ClientFactory(client_id="b", lifecycle_stage="active", health_score=90, contract_value=60000)
    c = ClientFactory(client_id="c", lifecycle_stage="at_risk", health_score=50, contract_value=10000)
    ContractFactory(client=b, included_users=1, start_date=days_ago(100), end_date=days_ago(-300))
    _stage(a, "", "onboarding", 100, 40)
    _stage(a, "onboarding", "active", 40)
    _stage(b, "", "active", 20)
    _stage(c, "active", "at_risk", 10)
    from health.models import UserActivityDaily

    UserActivityDaily.objects.create(client=b, user_id="u1", date=days_ago(1), events=1, counting_events=1)
    return a, b, c


def test_analyze(lifecycle_world, call):
    out = call("manage_lifecycle_stages")
    assert out["status"] == "success", out
    assert out["total_customers"] == 3
    assert out["stage_distribution"]["active"] == {"count": 2, "arr": 90000.0}
    assert out["stage_characteristics"]["active"]["avg_health_score"] == 72.5
    assert out["stage_characteristics"]["active"]["median_arr"] == 45000.0
    assert out["stage_characteristics"]["active"]["avg_days_in_stage"] == 30.0  # (40 + 20) / 2
    assert out["stage_transitions"] == {"active->at_risk": 1, "onboarding->active": 1}
    assert out["average_stage_duration"]["onboarding"] == 60.0
    assert out["stage_success_metrics"]["onboarding"] == {
        "exits": 1,
        "to_active_or_expansion_share": 1.0,
        "to_churned_share": 0.0,
    }
    assert [x["client_id"] for x in out["at_risk_transitions"]] == ["a"]
    assert out["at_risk_transitions"][0]["reasons"] == ["health_below_threshold"]
    assert [(x["client_id"], x["seat_utilisation"]) for x in out["expansion_opportunities"]] == [("b", 1.0)]
    assert [f["rule_id"] for f in out["recommended_actions"]] == ["LC-02", "LC-06"]
    assert out["intervention_playbooks"]["at_risk"]["campaign_type"] == "proactive_outreach"
    assert out["automated_workflows"]["mode"] == "apply"
    filtered = call(
        "manage_lifecycle_stages",
        current_stage="at_risk",
        include_transitions=False,
        intervention_planning=False,
        automation_rules=False,
    )
    assert filtered["total_customers"] == 1
    assert filtered["stage_transitions"] is None and filtered["intervention_playbooks"] is None


def test_transition_and_history(lifecycle_world, call):
    out = call(
        "manage_lifecycle_stages",
        action="transition",
        client_id="c",
        new_stage="churned",
        reason="Lost budget",
    )
    assert out["status"] == "success", out
    assert (out["previous_stage"], out["new_stage"], out["reason"]) == ("at_risk", "churned", "Lost budget")
    assert {"type": "arr_movement_churn", "id": ArrMovement.objects.get(client__client_id="c").pk} in out[
        "side_effects"
    ]
    assert AuditEvent.objects.get(event_id=out["audit_event_id"]).action == "customers.lifecycle.transitioned"
    assert Client.objects.get(client_id="c").status == "churned"
    hist = call("manage_lifecycle_stages", action="get_history", client_id="c")
    assert hist["current_stage"] == "churned" and hist["days_in_current_stage"] == 0
    assert [(h["from_stage"], h["to_stage"], h["days_in_stage"]) for h in hist["history"]] == [
        ("at_risk", "churned", 0),
        ("active", "at_risk", 10),
    ]


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        ({"action": "transition", "new_stage": "active", "reason": "x"}, "INVALID_PARAMETER", "client_id"),
        ({"action": "transition", "client_id": "a", "reason": "x"}, "INVALID_PARAMETER", "new_stage"),
        ({"action": "transition", "client_id": "a", "new_stage": "at_risk"}, "INVALID_PARAMETER", "reason"),
        ({"action": "get_history"}, "INVALID_PARAMETER", "client_id"),
        ({"action": "delete"}, "INVALID_PARAMETER", "action"),
        ({"current_stage": "trial"}, "INVALID_PARAMETER", "current_stage"),
        (
            {"action": "transition", "client_id": "a", "new_stage": "active", "reason": "x"},
            "CONFLICT",
            "new_stage",
        ),
        (
            {"action": "transition", "client_id": "a", "new_stage": "onboarding", "reason": "x"},
            "CONFLICT",
            "new_stage",
        ),
        ({"action": "get_history", "client_id": "zz"}, "NOT_FOUND", "client_id"),
    ],
)
def test_lifecycle_errors(lifecycle_world, call, args, code, field):
    out = call("manage_lifecycle_stages", **args)
    assert (out["status"], out["error"]["code"], out["error"]["field"]) == ("failed", code, field)
    if code == "CONFLICT":
        assert "allowed targets: at_risk, churned, expansion, renewal" in out["error"]["message"]


@pytest.fixture
def tier_world():
    values = [250000, 190000, 95000, 60000, 30000, 12000, 9500, 8000, 3000, 1000]
    for i, arr in enumerate(values):
        ClientFactory(
            client_id=f"t{i}",
            contract_value=arr,
            health_score=50 + 5 * i,
            risk_level="high" if i == 2 else "",
        )


def test_value_tiers(tier_world, call):
    out = call("segment_by_value_tier", segmentation_criteria={})
    assert out["status"] == "success", out
    assert out["total_customers"] == 10
    assert out["tier_distribution"]["starter"] == {"count": 4, "share": 0.4}
    assert out["tier_distribution"]["strategic"] == {"count": 1, "share": 0.1}
    assert out["tier_metrics"]["professional"]["total_arr"] == 155000.0
    assert out["tier_metrics"]["professional"]["avg_health"] == 62.5
    total = 658500
    assert out["value_concentration"]["top_10pct_arr_share"] == round(250000 / total, 4)
    assert out["value_concentration"]["top_20pct_arr_share"] == round(440000 / total, 4)
    assert [v["client_id"] for v in out["vip_accounts"]] == ["t0"]
    assert [(u["client_id"], u["next_tier"]) for u in out["upgrade_candidates"]] == [
        ("t1", "strategic"),
        ("t2", "enterprise"),
        ("t6", "standard"),
    ]
    assert out["downgrade_risks"] == [
        {"client_id": "t2", "value_tier": "professional", "reasons": ["risk_level_high"]}
    ]
    assert out["service_level_recommendations"]["enterprise"]["touch_cadence"] == "weekly"
    assert out["csm_allocation"]["strategic"]["accounts_without_csm"] == 1
    # SEG-01 strategic (50) and enterprise (55) and professional (62.5) below 65; SEG-02 for weekly/every-2-weeks tiers
    assert sorted({(f["rule_id"], f["evidence"]["value_tier"]) for f in out["recommended_actions"]}) == [
        ("SEG-01", "enterprise"),
        ("SEG-01", "professional"),
        ("SEG-01", "strategic"),
        ("SEG-02", "enterprise"),
        ("SEG-02", "professional"),
        ("SEG-02", "strategic"),
    ]


def test_custom_tier_definitions(tier_world, call):
    tiers = [{"name": "big", "min": 50000}, {"name": "small", "min": 0, "max": 50000}]
    out = call(
        "segment_by_value_tier",
        segmentation_criteria={"primary_dimension": "arr"},
        tier_definitions=tiers,
        service_level_mapping=False,
        vip_identification=False,
        resource_planning=False,
    )
    assert out["status"] == "success", out
    assert out["tier_distribution"] == {
        "big": {"count": 4, "share": 0.4},
        "small": {"count": 6, "share": 0.6},
    }
    assert (
        out["vip_accounts"] is None
        and out["csm_allocation"] is None
        and out["service_level_recommendations"] is None
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (
            {"tier_definitions": [{"name": "a", "min": 0, "max": 100}, {"name": "b", "min": 50}]},
            "tier_definitions[1]",
        ),
        (
            {"tier_definitions": [{"name": "a", "min": 0, "max": 100}, {"name": "b", "min": 150}]},
            "tier_definitions[1]",
        ),
        ({"tier_definitions": [{"name": "a", "min": 10}]}, "tier_definitions"),
        (
            {"segmentation_criteria": {"secondary_dimensions": ["shoe_size"]}},
            "segmentation_criteria.secondary_dimensions",
        ),
        ({"segmentation_criteria": {"primary_dimension": "logo"}}, "segmentation_criteria.primary_dimension"),
    ],
)
def test_value_tier_errors(tier_world, call, kwargs, field):
    args = {"segmentation_criteria": {}, **kwargs}
    out = call("segment_by_value_tier", **args)
    assert (out["status"], out["error"]["code"], out["error"]["field"]) == (
        "failed",
        "INVALID_PARAMETER",
        field,
    )


def test_clv_without_gross_margin(tier_world, call):
    out = call(
        "segment_by_value_tier", segmentation_criteria={"secondary_dimensions": ["clv", "health_score"]}
    )
    assert any(g["reason"] == "gross_margin_not_configured" for g in out["data_gaps"])
    assert out["tier_performance"]["starter"] == {"clv": None, "health_score": 87.5}  # t6–t9: 80, 85, 90, 95


def test_seg_predicates_one_home_known_answers():
    """SEG-01 / SEG-02 are decided by health.rules for both segment_customers and segment_by_value_tier."""
    from health.rules import seg01_holds, seg02_holds

    assert [seg01_holds(h) for h in (None, 64.9, 65, 80)] == [False, True, False, False]
    assert seg02_holds(touch_cadence="weekly", without_csm=3, members=10)
    assert seg02_holds(touch_cadence="every_2_weeks", without_csm=1, members=4)
    assert not seg02_holds(touch_cadence="weekly", without_csm=2, members=10)  # exactly 20 %
    assert not seg02_holds(touch_cadence="monthly", without_csm=10, members=10)
    assert not seg02_holds(touch_cadence=None, without_csm=1, members=1)
    assert not seg02_holds(touch_cadence="weekly", without_csm=0, members=0)
