"""Known-answer tests of the trained churn model (RULES §5.2): observations, labels, features, split, metrics,
minimum data, prediction arithmetic, promotion / rejection, and one end-to-end training on a synthetic history."""

import datetime as dt
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, NotFound
from customers.models import ArrMovement, AuditEvent, Client, Contract, LifecycleStageHistory
from health import churn_model as cm
from health.models import ChurnModel, HealthSnapshot
from tests.customers.factories import ClientFactory, ContractFactory
from tests.feedback.factories import SurveyResponseFactory
from tests.health.factories import at
from tests.support.factories import TicketFactory

pytestmark = pytest.mark.django_db

D = dt.timedelta
AS_OF = dt.date(2026, 6, 30)  # labelled month-ends: t ≤ 2026-04-01 → up to 2026-03-31
ACTOR = Actor.system("churn_model_training")


def snap(client, day, score, *, lookback=30, inputs=None, **components):
    """An official snapshot with the given overall score and component scores (others missing)."""
    return HealthSnapshot.objects.create(
        client=client,
        as_of=day,
        health_score=score,
        lookback_days=lookback,
        inputs=inputs or {},
        calculated_at=at(day),
        **{f"{c}_score": v for c, v in components.items()},
    )


def stage(client, to_stage, when, *, from_stage=""):
    """Append a lifecycle stage row (closing the open one), as ``customers.services`` does."""
    LifecycleStageHistory.objects.filter(client=client, exited_at__isnull=True).update(exited_at=when)
    LifecycleStageHistory.objects.create(
        client=client, from_stage=from_stage, to_stage=to_stage, actor="t", entered_at=when
    )


def stored_model(**overrides) -> ChurnModel:
    values = dict(
        version="churn-logreg-20260101",
        status="active",
        trained_at=dt.datetime(2026, 1, 1, 4, tzinfo=dt.UTC),
        feature_names=["health_score", "open_tickets", "tier_enterprise"],
        means=[70.0, 1.0, 0.25],
        stds=[10.0, 2.0, 0.5],
        coefficients=[-0.8, 0.5, 0.0],
        intercept=-1.0,
        calibration_a=0.9,
        calibration_b=-0.2,
        metrics={"roc_auc": 0.81, "brier_score": 0.07},
        heuristic_metrics={"roc_auc": 0.7, "brier_score": 0.09},
    )
    values.update(overrides)
    return ChurnModel.objects.create(**values)


# ---------------------------------------------------------------- the small hand-built history


@pytest.fixture
def history():
    """Three clients with snapshots around month-ends; churn, reactivation and tenure edge cases.

    A: snapshots 2025-12-28 (60), 2026-01-29 (70), 2026-01-31 (72), 2026-02-24 (outside Feb's window),
       2026-03-31 (50), 2026-04-30 (t > as_of − 90); churns 2026-05-01 (= 01-31 + 90 d).
    B: snapshots 2025-12-31, 2026-01-31 (churned then), 2026-02-27; churned 2026-01-15, reactivated 02-10.
    C: contract from 2026-01-05 (tenure 26 d at 01-31, 54 d at 02-28); snapshots 2025-12-27 (4 days before
       12-31: outside), 2026-01-31, 2026-02-28.
    D: an official snapshot without a health score at 03-31 (coverage < 0.5): not an observation.
    """
    a = ClientFactory(client_id="a", tier="standard", contract_start_date=None, contract_end_date=None)
    b = ClientFactory(client_id="b", contract_start_date=dt.date(2025, 1, 1))
    c = ClientFactory(client_id="c", contract_start_date=None, contract_end_date=None)
    d = ClientFactory(client_id="d", contract_start_date=dt.date(2025, 1, 1))
    ContractFactory(
        client=a,
        start_date=dt.date(2025, 6, 1),
        end_date=dt.date(2026, 6, 1),
        value=12000,
        tier="professional",
        included_users=10,
    )
    ContractFactory(client=c, start_date=dt.date(2026, 1, 5), end_date=dt.date(2027, 1, 5), tier="starter")
    snap(a, dt.date(2025, 12, 28), 60)
    snap(a, dt.date(2026, 1, 2), 99)  # not a month-end window and outside A's 30-day comparison window
    snap(a, dt.date(2026, 1, 29), 70)
    snap(
        a,
        dt.date(2026, 1, 31),
        72,
        usage=60.0,
        engagement=75.0,
        satisfaction=80.0,
        payment=100.0,
        inputs={"usage": {"aud_change": -0.25, "utilisation": 0.5, "mau": 5}},
    )
    snap(a, dt.date(2026, 2, 24), 65)
    snap(a, dt.date(2026, 3, 31), 50)
    snap(a, dt.date(2026, 4, 30), 40)
    stage(a, "onboarding", at(dt.date(2025, 6, 1)))
    stage(a, "churned", at(dt.date(2026, 5, 1), 12), from_stage="onboarding")

    snap(b, dt.date(2025, 12, 31), 45)
    snap(b, dt.date(2026, 1, 31), 40)
    snap(b, dt.date(2026, 2, 27), 66)
    stage(b, "active", at(dt.date(2025, 1, 1)))
    stage(b, "churned", at(dt.date(2026, 1, 15)), from_stage="active")
    stage(b, "onboarding", at(dt.date(2026, 2, 10)), from_stage="churned")

    snap(c, dt.date(2025, 12, 27), 90)
    snap(c, dt.date(2026, 1, 31), 80)
    snap(c, dt.date(2026, 2, 28), 81)

    snap(d, dt.date(2026, 3, 31), None, lookback=30)
    snap(d, dt.date(2026, 2, 28), 77, lookback=60)  # a non-official (preview) row: ignored
    return {"a": a, "b": b, "c": c, "d": d}


def test_observations_points_and_labels(history):
    a, b, c = history["a"].pk, history["b"].pk, history["c"].pk
    obs = cm.training_observations(as_of=AS_OF)
    got = [(o["t"], o["client_id"], o["snapshot_as_of"], o["health_score"], o["label"]) for o in obs]
    assert got == [
        (dt.date(2025, 12, 31), a, dt.date(2025, 12, 28), 60, 0),  # churn 05-01 is after 12-31 + 90 d
        (dt.date(2025, 12, 31), b, dt.date(2025, 12, 31), 45, 1),  # churned 01-15
        (dt.date(2026, 1, 31), a, dt.date(2026, 1, 31), 72, 1),  # churn on t + 90 d exactly
        # B at 01-31: churned at t → no point; C at 01-31: tenure 26 days → no point
        (dt.date(2026, 2, 28), b, dt.date(2026, 2, 27), 66, 0),  # reactivated 02-10: not churned at t
        (dt.date(2026, 2, 28), c, dt.date(2026, 2, 28), 81, 0),
        (dt.date(2026, 3, 31), a, dt.date(2026, 3, 31), 50, 1),
    ]


def test_observation_features_known_answer(history):
    a = history["a"]
    ArrMovement.objects.create(client=a, kind="new", amount=12000, movement_date=dt.date(2025, 6, 1))
    ArrMovement.objects.create(client=a, kind="expansion", amount=3000, movement_date=dt.date(2026, 1, 31))
    ArrMovement.objects.create(client=a, kind="expansion", amount=5000, movement_date=dt.date(2026, 2, 1))
    t_end = at(dt.date(2026, 2, 1), 0)
    TicketFactory(client=a, created_at=at(dt.date(2026, 1, 10)))  # open
    TicketFactory(  # resolved before t
        client=a, created_at=at(dt.date(2025, 12, 1)), resolved_at=at(dt.date(2026, 1, 20)), status="resolved"
    )
    TicketFactory(  # P1 in the last 90 days, resolved after t → open at t
        client=a, priority="P1", created_at=at(dt.date(2026, 1, 20)), resolved_at=t_end + D(days=4)
    )
    TicketFactory(  # P0 older than 90 days (window starts 2025-11-03), closed after t → open at t
        client=a,
        priority="P0",
        created_at=at(dt.date(2025, 10, 1)),
        closed_at=t_end + D(days=9),
        status="closed",
    )
    TicketFactory(  # reopened after an old resolution: its status says open, so it counts as open
        client=a, created_at=at(dt.date(2025, 9, 1)), resolved_at=at(dt.date(2025, 9, 2)), status="reopened"
    )
    TicketFactory(client=a, priority="P0", created_at=t_end + D(hours=1))  # after t
    SurveyResponseFactory(client=a, respondent_email="x@a.com", score=6, responded_at=at(dt.date(2025, 9, 1)))
    SurveyResponseFactory(
        client=a, respondent_email="X@a.com", score=8, responded_at=at(dt.date(2026, 1, 10))
    )
    SurveyResponseFactory(
        client=a, respondent_email="y@a.com", score=10, responded_at=at(dt.date(2025, 12, 1))
    )
    SurveyResponseFactory(client=a, respondent_email="z@a.com", score=0, responded_at=at(dt.date(2025, 8, 4)))
    SurveyResponseFactory(client=a, respondent_email="w@a.com", score=2, responded_at=t_end + D(hours=2))
    SurveyResponseFactory(  # CSAT does not count
        client=a,
        respondent_email="v@a.com",
        survey_type="csat",
        score=1,
        responded_at=at(dt.date(2026, 1, 5)),
    )

    obs = {(o["t"], o["client_id"]): o for o in cm.training_observations(as_of=AS_OF)}
    f = obs[(dt.date(2026, 1, 31), a.pk)]["features"]
    assert list(f) == list(cm.FEATURE_NAMES)
    assert f == {
        "usage_score": 60.0,
        "engagement_score": 75.0,
        "support_score": 0.0,
        "satisfaction_score": 80.0,
        "payment_score": 100.0,
        "usage_missing": 0.0,
        "engagement_missing": 0.0,
        "support_missing": 1.0,
        "satisfaction_missing": 0.0,
        "payment_missing": 0.0,
        "health_score": 72.0,
        "score_change_30d": 12.0,  # 72 − 60 (2025-12-28, the latest in [12-02, 01-01])
        "score_change_30d_missing": 0.0,
        "log_arr": math.log1p(15000),  # 12,000 + 3,000 on t; the 02-01 expansion is after t
        "arr_missing": 0.0,
        "tenure_months": 244 / (365.25 / 12),  # 2025-06-01 → 2026-01-31
        "days_to_contract_end": 121.0,  # 2026-06-01 − 2026-01-31
        "contract_end_missing": 0.0,
        "open_tickets": 4.0,
        "p0_p1_tickets_90d": 1.0,
        "tickets_missing": 0.0,
        "nps_mean_180d": 9.0,  # latest of x@ (8) and y@ (10); z@ is 180 days back, w@ after t
        "nps_missing": 0.0,
        "usage_change": -0.25,
        "usage_change_missing": 0.0,
        "seat_utilisation": 0.5,
        "seat_utilisation_missing": 0.0,
        "tier_starter": 0.0,
        "tier_standard": 0.0,
        "tier_professional": 1.0,  # the contract in force at t, not today's Client.tier
        "tier_enterprise": 0.0,
    }
    # B: no contract, no ARR movement, no NPS, no earlier snapshot: every missing-indicator set
    fb = obs[(dt.date(2025, 12, 31), history["b"].pk)]["features"]
    assert (fb["arr_missing"], fb["log_arr"]) == (1.0, 0.0)
    assert (fb["contract_end_missing"], fb["days_to_contract_end"]) == (1.0, 0.0)
    assert (fb["nps_missing"], fb["score_change_30d_missing"], fb["seat_utilisation_missing"]) == (
        1.0,
        1.0,
        1.0,
    )
    assert fb["tickets_missing"] == 0.0 and fb["open_tickets"] == 0.0  # tickets exist in the portfolio
    assert fb["tenure_months"] == (dt.date(2025, 12, 31) - dt.date(2025, 1, 1)).days / (365.25 / 12)
    assert fb["tier_standard"] == 1.0  # no contract: the client's tier
    # C at 02-28: contract value stands in for ARR before any movement; contract end capped at 365
    fc = obs[(dt.date(2026, 2, 28), history["c"].pk)]["features"]
    assert fc["log_arr"] == math.log1p(25000) and fc["arr_missing"] == 0.0
    assert fc["days_to_contract_end"] == 311.0 and fc["tier_starter"] == 1.0


def test_missing_ticket_source_sets_the_indicator(history):
    obs = cm.training_observations(as_of=AS_OF)
    assert {o["features"]["tickets_missing"] for o in obs} == {1.0}  # no ticket in the portfolio at all
    assert {o["features"]["open_tickets"] for o in obs} == {0.0}
    assert {o["features"]["nps_missing"] for o in obs} == {1.0}


def test_feature_values_clamps_and_indicators():
    f = cm.feature_values(
        components={
            "usage": None,
            "engagement": 30.0,
            "support": 100.0,
            "satisfaction": None,
            "payment": 60.0,
        },
        health_score=55,
        score_change_30d=None,
        arr=-5,
        tenure_days=61,
        days_to_contract_end=-3,
        open_tickets=2,
        p0_p1_tickets_90d=1,
        tickets_available=False,
        nps_mean_180d=None,
        usage_change=None,
        seat_utilisation=1.25,
        tier="enterprise",
    )
    assert (f["usage_score"], f["usage_missing"], f["satisfaction_missing"]) == (0.0, 1.0, 1.0)
    assert (f["log_arr"], f["arr_missing"]) == (0.0, 0.0)  # ARR floored at 0
    assert f["days_to_contract_end"] == 0.0 and f["contract_end_missing"] == 0.0
    assert (f["open_tickets"], f["p0_p1_tickets_90d"], f["tickets_missing"]) == (0.0, 0.0, 1.0)
    assert f["seat_utilisation"] == 1.25 and f["tier_enterprise"] == 1.0
    assert cm.feature_values(**{**_fv_args(), "days_to_contract_end": 800})["days_to_contract_end"] == 365.0


def _fv_args():
    return dict(
        components=dict.fromkeys(("usage", "engagement", "support", "satisfaction", "payment"), 50.0),
        health_score=50,
        score_change_30d=0,
        arr=0,
        tenure_days=30,
        days_to_contract_end=0,
        open_tickets=0,
        p0_p1_tickets_90d=0,
        tickets_available=True,
        nps_mean_180d=None,
        usage_change=None,
        seat_utilisation=None,
        tier="starter",
    )


def test_observations_query_count_is_fixed():
    def world(n, offset):
        for i in range(n):
            client = ClientFactory(client_id=f"q{offset}_{i}", contract_start_date=dt.date(2025, 1, 1))
            ContractFactory(client=client, start_date=dt.date(2025, 1, 1), end_date=dt.date(2027, 1, 1))
            for month in (10, 11, 12):
                snap(client, cm.month_end(dt.date(2025, month, 1)), 70)
            TicketFactory(client=client, created_at=at(dt.date(2025, 11, 5)))
            SurveyResponseFactory(client=client, responded_at=at(dt.date(2025, 11, 6)))

    world(2, 0)
    with CaptureQueriesContext(connection) as small:
        assert len(cm.training_observations(as_of=AS_OF)) == 6
    world(5, 1)
    with CaptureQueriesContext(connection) as large:
        assert len(cm.training_observations(as_of=AS_OF)) == 21
    # history range, snapshots, clients, contracts, ARR, tickets (exists + rows), NPS (exists + rows), lifecycle
    assert len(large.captured_queries) == len(small.captured_queries) == 10


# ---------------------------------------------------------------- split, minimum data


def test_split_out_of_time_and_calibration_dates():
    def o(t, label=0):
        return {"t": t, "label": label, "client_id": 1}

    obs = [o(dt.date(2025, m, 28)) for m in range(1, 13)] + [o(dt.date(2026, 1, 31)), o(dt.date(2026, 3, 31))]
    obs = [{**x, "t": cm.month_end(x["t"])} for x in obs]
    split = cm.split_observations(obs, as_of=AS_OF)
    assert split["validation_dates"] == [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)]
    assert [x["t"] for x in split["validation"]] == [dt.date(2026, 1, 31), dt.date(2026, 3, 31)]
    assert len(split["training"]) == 12 and split["training"][-1]["t"] == dt.date(2025, 12, 31)
    fit, cal, cal_dates = cm.calibration_split(split["training"])
    assert cal_dates == [dt.date(2025, 10, 31), dt.date(2025, 11, 30), dt.date(2025, 12, 31)]  # ceil(12/4)
    assert len(fit) == 9 and fit[-1]["t"] == dt.date(2025, 9, 30)
    # as-of 2026-06-29: as_of − 90 = 03-31 is itself a month-end; as-of 2026-06-28 → last labelled is 02-28
    assert cm.split_observations([], as_of=dt.date(2026, 6, 29))["validation_dates"][-1] == dt.date(
        2026, 3, 31
    )
    assert cm.split_observations([], as_of=dt.date(2026, 6, 28))["validation_dates"][-1] == dt.date(
        2026, 2, 28
    )


def test_whole_months_and_month_ends():
    assert cm.whole_months(dt.date(2025, 1, 15), dt.date(2026, 1, 14)) == 11
    assert cm.whole_months(dt.date(2025, 1, 15), dt.date(2026, 1, 15)) == 12
    assert cm.whole_months(dt.date(2025, 1, 31), dt.date(2026, 2, 28)) == 13  # month-end to month-end
    assert cm.month_ends(dt.date(2025, 11, 30), dt.date(2026, 2, 27)) == [
        dt.date(2025, 11, 30),
        dt.date(2025, 12, 31),
        dt.date(2026, 1, 31),
    ]


def test_minimum_data_skip_writes_counts_and_changes_nothing_else(history):
    previous = stored_model()
    model = cm.churn_model_train(as_of=AS_OF, actor=ACTOR)
    assert model.status == "skipped" and model.version == "churn-logreg-20260630"
    assert model.counts == {
        "observations": 6,
        "training": 2,
        "training_positives": 1,
        "validation": 4,
        "validation_positives": 2,
        "fit": 0,
        "fit_positives": 0,
        "calibration": 2,
        "calibration_positives": 1,
        "snapshot_history_months": 4,  # 2025-12-27 → 2026-04-30
        "clients": 3,
        "validation_window": ["2026-01-31", "2026-02-28", "2026-03-31"],
        "calibration_window": ["2025-12-31"],
    }
    assert model.notes == (
        "Not enough data: training observations 2 < 500; training positives 1 < 40; "
        "validation positives 2 < 10; snapshot history 4 months < 12."
    )
    assert (model.training_window_start, model.training_window_end) == (dt.date(2025, 12, 31),) * 2
    assert model.coefficients == [] and model.intercept is None and model.metrics == {}
    previous.refresh_from_db()
    assert previous.status == "active" and cm.active_churn_model() == previous
    event = AuditEvent.objects.get(action="health.churn_model.trained")
    assert event.object_id == "churn-logreg-20260630" and event.data["status"] == "skipped"
    assert event.actor == "system:churn_model_training" and event.client is None
    # same-day re-run: the skipped row is replaced, not duplicated
    again = cm.churn_model_train(as_of=AS_OF, actor=ACTOR)
    assert again.pk == model.pk and ChurnModel.objects.filter(status="skipped").count() == 1


def test_minimum_data_rules():
    ok = {
        "training": 500,
        "training_positives": 40,
        "validation_positives": 10,
        "snapshot_history_months": 12,
        "fit": 400,
        "fit_positives": 30,
        "calibration": 100,
        "calibration_positives": 10,
    }
    assert cm.minimum_data_shortfalls(ok) == []
    assert cm.minimum_data_shortfalls({**ok, "training": 499}) == ["training observations 499 < 500"]
    assert cm.minimum_data_shortfalls({**ok, "calibration_positives": 0}) == [
        "calibration rows do not contain both classes"
    ]


# ---------------------------------------------------------------- metrics on a hand-computed example

P = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2, 0.1, 0.05]
Y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]


def test_metrics_known_answer():
    m = cm.evaluate(P, Y)
    assert m["roc_auc"] == pytest.approx(20 / 24)  # pairs (pos > neg): 6 + 6 + 5 + 3 of 4 × 6
    assert m["pr_auc"] == pytest.approx(0.25 * 1 + 0.25 * 1 + 0.25 * 0.75 + 0.25 * 4 / 7)
    assert m["brier_score"] == pytest.approx(1.705 / 10)
    expected_ll = -sum(math.log(x) for x in (0.9, 0.8, 0.3, 0.6, 0.45, 0.6, 0.3, 0.8, 0.9, 0.95)) / 10
    assert m["log_loss"] == pytest.approx(expected_ll)
    assert m["ece"] == pytest.approx(3.4 / 10)  # one row per bin: mean |p − y|
    assert (m["precision_at_0_5"], m["recall_at_0_5"]) == (pytest.approx(3 / 5), pytest.approx(3 / 4))
    assert m["top_decile_lift"] == pytest.approx(1 / (4 / 10))  # top row is a positive
    assert (m["rows"], m["positives"]) == (10, 4)


def test_metrics_agree_with_sklearn_including_ties():
    from sklearn import metrics as skm

    p = [0.5, 0.5, 0.5, 0.5] + [0.1] * 8 + [0.3, 0.3, 0.7, 0.7, 0.05, 0.05, 0.05, 0.95]
    y = [1, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0] + [0, 1, 1, 0, 0, 0, 0, 1]
    m = cm.evaluate(p, y)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["brier_score"] == pytest.approx(skm.brier_score_loss(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p))
    # lift: N = 20, 5 positives → top 2 rows = 0.95 (pos) + one slot of the 0.7 pair (1 pos of 2) → 1.5 hits
    assert m["top_decile_lift"] == pytest.approx((1.5 / 2) / (5 / 20))


def test_lift_tie_group_straddling_the_cut():
    p = [0.5] * 4 + [0.1] * 16
    y = [1, 0, 0, 0] + [1] + [0] * 15
    # top 2 rows fall inside the tied group of 4 with 1 positive → 0.5 expected hits
    assert cm.top_decile_lift(p, y) == pytest.approx((0.5 / 2) / (2 / 20))


def test_metrics_without_both_classes():
    m = cm.evaluate([0.2, 0.3], [0, 0])
    assert m["roc_auc"] is None and m["pr_auc"] is None and m["recall_at_0_5"] is None
    assert m["top_decile_lift"] is None and m["precision_at_0_5"] is None
    assert m["brier_score"] == pytest.approx((0.04 + 0.09) / 2)


def test_platt_fit_known_answer():
    # two score groups: smoothed targets 5/6 (pos) and 1/6 (neg); group means 2/3 at s = 1, 1/3 at s = −1
    a, b = cm.platt_fit([1, 1, 1, 1, -1, -1, -1, -1], [1, 1, 1, 0, 1, 0, 0, 0])
    assert a == pytest.approx(math.log(2), abs=1e-9) and b == pytest.approx(0.0, abs=1e-9)


def test_platt_fit_stays_finite_on_separable_scores():
    a, b = cm.platt_fit([-3, -2, -1, 1, 2, 3], [0, 0, 0, 1, 1, 1])
    assert math.isfinite(a) and math.isfinite(b) and a > 0


def test_standardisation_constant_column_gets_unit_std():
    means, stds = cm.standardisation([[1.0, 5.0], [3.0, 5.0]])
    assert means == [2.0, 5.0] and stds == [1.0, 1.0]  # population std of (1, 3) is 1; constant → 1.0


# ---------------------------------------------------------------- promotion and deactivation


@pytest.mark.parametrize(
    ("model", "heuristic", "promote"),
    [
        (
            {"roc_auc": 0.72, "brier_score": 0.08},
            {"roc_auc": 0.70, "brier_score": 0.08},
            True,
        ),  # exactly +0.02
        ({"roc_auc": 0.7199, "brier_score": 0.07}, {"roc_auc": 0.70, "brier_score": 0.08}, False),
        ({"roc_auc": 0.90, "brier_score": 0.0801}, {"roc_auc": 0.70, "brier_score": 0.08}, False),
        ({"roc_auc": None, "brier_score": 0.01}, {"roc_auc": 0.70, "brier_score": 0.08}, False),
    ],
)
def test_promotion_rule(model, heuristic, promote):
    assert cm.promotion_decision(model, heuristic)[0] is promote


def test_active_model_lookup_and_deactivation():
    assert cm.active_churn_model() is None
    model = stored_model()
    with CaptureQueriesContext(connection) as ctx:
        assert cm.active_churn_model() == model
    assert len(ctx.captured_queries) == 1
    staff = Actor(label="csm", channel="admin")
    out = cm.churn_model_deactivate(model_id=model.pk, actor=staff)
    assert out.status == "deactivated" and cm.active_churn_model() is None
    event = AuditEvent.objects.get(action="health.churn_model.deactivated")
    assert event.changes == {"status": ["active", "deactivated"]} and event.actor == "csm"
    with pytest.raises(Conflict):
        cm.churn_model_deactivate(model_id=model.pk, actor=staff)
    with pytest.raises(NotFound):
        cm.churn_model_deactivate(model_id=model.pk + 99, actor=staff)


# ---------------------------------------------------------------- prediction arithmetic


def test_predict_on_a_hand_made_model():
    model = stored_model()
    features = {
        "values": {"health_score": 55.0, "open_tickets": 4.0, "tier_enterprise": 1.0, "unused": 3.0},
        "health_score": 55,
        "contract_end_date": dt.date(2026, 9, 30),
        "data_coverage": 0.85,
    }
    out = cm.predict(model=model, features=features)
    # z = (−1.5, 1.5, 1.5); parts = (1.2, 0.75, 0); logit = −1 + 1.95 = 0.95; calibrated 0.9·0.95 − 0.2 = 0.655
    assert out["probability"] == pytest.approx(1 / (1 + math.exp(-0.655)), rel=1e-12)
    assert out["risk_level"] == "high"
    assert (
        out["method"] == "churn-logreg-20260101" and out["calibrated"] is True and out["horizon_days"] == 90
    )
    assert out["predicted_churn_date"] == dt.date(2026, 9, 30)
    assert (
        out["data_coverage"] == 0.85 and out["model_metrics"] == model.metrics and out["model_id"] == model.pk
    )
    assert out["drivers"] == [
        {
            "feature": "health_score",
            "value": 55.0,
            "standardised_value": -1.5,
            "contribution": pytest.approx(1.2),
            "direction": "increases_risk",
        },
        {
            "feature": "open_tickets",
            "value": 4.0,
            "standardised_value": 1.5,
            "contribution": pytest.approx(0.75),
            "direction": "increases_risk",
        },
    ]
    low = cm.predict(
        model=model, features={**features, "values": {**features["values"], "health_score": 95.0}}
    )
    # logit = −1 + (−0.8 · 2.5) + 0.75 = −2.25 → σ(0.9 · −2.25 − 0.2) = σ(−2.225)
    assert low["probability"] == pytest.approx(1 / (1 + math.exp(2.225)))
    assert low["risk_level"] == "low" and low["predicted_churn_date"] is None
    assert low["drivers"][0]["direction"] == "decreases_risk"
    # same keys as the heuristic's output (plus model_id)
    from health.scoring import churn_heuristic

    heuristic = churn_heuristic(55, {}, {}, 0.85, None)
    assert set(out) == set(heuristic) | {"model_id"}


def test_predict_without_health_score_is_null_like_the_heuristic():
    out = cm.predict(
        model=stored_model(),
        features={"values": None, "health_score": None, "contract_end_date": None, "data_coverage": 0.3},
    )
    assert out["probability"] is None and out["risk_level"] is None and out["drivers"] == []


def test_predict_rejects_incomplete_features():
    with pytest.raises(ValueError, match="open_tickets"):
        cm.predict(model=stored_model(), features={"values": {"health_score": 1.0, "tier_enterprise": 0.0}})


# ---------------------------------------------------------------- features for today's chunk


def _result(health, *, usage_inputs=None, coverage=0.85):
    return {
        "components": {
            "usage": 50.0,
            "engagement": 60.0,
            "support": 100.0,
            "satisfaction": None,
            "payment": 90.0,
        },
        "health_score": health,
        "score_change": None,
        "coverage": coverage,
        "inputs": {"usage": usage_inputs or {}},
    }


def test_chunk_features_known_answer():
    today = dt.date(2026, 3, 31)
    client = ClientFactory(client_id="today", tier="starter", contract_end_date=dt.date(2026, 12, 1))
    ContractFactory(
        client=client,
        start_date=dt.date(2025, 6, 1),
        end_date=dt.date(2026, 6, 1),
        value=9000,
        tier="enterprise",
    )
    ArrMovement.objects.create(client=client, kind="new", amount=9000, movement_date=dt.date(2025, 6, 1))
    snap(client, today - D(days=45), 60)
    snap(client, today - D(days=31), 66)  # latest in [as_of − 60, as_of − 30]
    snap(client, today - D(days=20), 10)  # too recent
    TicketFactory(client=client, priority="P1", created_at=at(today - D(days=10)))
    TicketFactory(
        client=client,
        created_at=at(today - D(days=100)),
        resolved_at=at(today - D(days=1)),
        status="resolved",
    )
    SurveyResponseFactory(
        client=client, respondent_email="a@x.com", score=7, responded_at=at(today - D(days=3))
    )
    results = {client.pk: _result(70, usage_inputs={"aud_change": 0.1, "utilisation": 0.9})}
    out = cm.chunk_features(client_ids=[client.pk], as_of=today, results=results)[client.pk]
    v = out["values"]
    assert v["score_change_30d"] == 4.0 and v["score_change_30d_missing"] == 0.0
    assert v["satisfaction_missing"] == 1.0 and v["support_score"] == 100.0 and v["health_score"] == 70.0
    assert v["log_arr"] == math.log1p(9000)
    assert v["tenure_months"] == (today - dt.date(2025, 6, 1)).days / (365.25 / 12)
    assert v["days_to_contract_end"] == 62.0
    assert (v["open_tickets"], v["p0_p1_tickets_90d"], v["tickets_missing"]) == (1.0, 1.0, 0.0)
    assert (v["nps_mean_180d"], v["nps_missing"]) == (7.0, 0.0)
    assert (v["usage_change"], v["seat_utilisation"]) == (0.1, 0.9)
    assert v["tier_enterprise"] == 1.0 and v["tier_starter"] == 0.0
    assert out["contract_end_date"] == dt.date(2026, 6, 1)  # the active contract, as the heuristic reads it
    assert out["data_coverage"] == 0.85 and out["health_score"] == 70


def test_chunk_features_query_count_does_not_grow():
    today = dt.date(2026, 3, 31)

    def chunk(n, prefix):
        ids = []
        for i in range(n):
            client = ClientFactory(client_id=f"{prefix}{i}")
            ContractFactory(client=client)
            TicketFactory(client=client, created_at=at(today - D(days=3)))
            SurveyResponseFactory(client=client, responded_at=at(today - D(days=3)))
            snap(client, today - D(days=35), 50)
            ids.append(client.pk)
        return ids

    small, large = chunk(2, "s"), chunk(7, "l")
    with CaptureQueriesContext(connection) as q_small:
        cm.chunk_features(client_ids=small, as_of=today, results={pk: _result(60) for pk in small})
    with CaptureQueriesContext(connection) as q_large:
        out = cm.chunk_features(client_ids=large, as_of=today, results={pk: _result(60) for pk in large})
    # clients, contracts, ARR, tickets (exists + GROUP BY), NPS (exists + rows), 30-day comparison snapshots
    assert len(q_large.captured_queries) == len(q_small.captured_queries) == 8
    assert {v["values"]["score_change_30d"] for v in out.values()} == {10.0}


def test_chunk_features_from_real_score_chunk_results():
    """The integration path: ``score_chunk`` results → ``chunk_features`` → ``predict``."""
    from customers.models import Invoice
    from health import scoring
    from tests.customers.factories import TimelineEventFactory

    today = dt.date(2026, 3, 31)
    client = ClientFactory(client_id="wired", tier="standard")
    ContractFactory(
        client=client, start_date=dt.date(2025, 6, 1), end_date=dt.date(2026, 5, 1), tier="standard"
    )
    TimelineEventFactory(client=client, occurred_at=at(today - D(days=2)), counts_as_engagement=True)
    Invoice.objects.create(
        client=client,
        amount=100,
        issued_on=dt.date(2026, 1, 1),
        due_date=dt.date(2026, 1, 31),
        paid_on=dt.date(2026, 1, 20),
    )
    snap(client, today - D(days=40), 80)
    results = scoring.score_chunk([client.pk], today, persist=False)
    assert results[client.pk]["health_score"] is not None
    record = cm.chunk_features(client_ids=[client.pk], as_of=today, results=results)[client.pk]
    v = record["values"]
    assert list(v) == list(cm.FEATURE_NAMES)
    assert v["usage_missing"] == 1.0 and v["engagement_score"] == 85.0 and v["payment_score"] == 100.0
    assert v["score_change_30d"] == results[client.pk]["health_score"] - 80
    assert v["tier_standard"] == 1.0 and v["days_to_contract_end"] == 31.0
    assert record["data_coverage"] == pytest.approx(results[client.pk]["coverage"])
    n = len(cm.FEATURE_NAMES)
    neutral = stored_model(
        feature_names=list(cm.FEATURE_NAMES),
        means=[0.0] * n,
        stds=[1.0] * n,
        coefficients=[0.0] * n,
        intercept=0.0,
        calibration_a=1.0,
        calibration_b=0.0,
    )
    out = cm.predict(model=neutral, features=record)
    assert out["probability"] == 0.5 and out["risk_level"] == "high" and out["drivers"] == []
    assert out["predicted_churn_date"] == dt.date(2026, 5, 1)  # p ≥ 0.5 → the current contract end
    assert set(out) == set(results[client.pk]["churn"]) | {"model_id"}


# ---------------------------------------------------------------- end-to-end training on a synthetic history

E2E_CLIENTS = 160
HISTORY = [cm.month_end(dt.date(2025 + (m // 12), m % 12 + 1, 1)) for m in range(18)]  # 2025-01 … 2026-06


def _churn_day(i):
    """Every 4th client churns, on the 15th of one of 16 months from 2025-03 (deterministic, no randomness)."""
    if i % 4:
        return None
    m = 2 + (i // 4) % 16
    return dt.date(2025 + m // 12, m % 12 + 1, 15)


def _build_history(signal: str):
    """160 clients, month-end snapshots 2025-01 … 2026-06 (until churn), contracts, stage history.

    ``signal="usage"``: churners' seat utilisation collapses in the 90 days before churn while the health score
    is unrelated to churn → the model beats the heuristic. ``signal="health"``: the health score alone separates
    churners perfectly → the heuristic's AUC is 1 and no model can beat it by 0.02."""
    clients = Client.objects.bulk_create(
        [
            Client(
                client_id=f"e2e_{i}",
                client_name=f"E2E {i}",
                company_name=f"E2E {i} Inc",
                tier=("starter", "standard", "professional", "enterprise")[(i // 4) % 4],
                contract_start_date=dt.date(2024, 6, 1),
                contract_end_date=dt.date(2026, 12, 31),
            )
            for i in range(E2E_CLIENTS)
        ]
    )
    Contract.objects.bulk_create(
        [
            Contract(
                client=c,
                start_date=dt.date(2024, 6, 1),
                end_date=dt.date(2026, 12, 31),
                value=10000 + 500 * (i % 7),
                tier=c.tier,
                included_users=20,
            )
            for i, c in enumerate(clients)
        ]
    )
    snapshots, stages = [], []
    for i, c in enumerate(clients):
        churn = _churn_day(i)
        stages.append(
            LifecycleStageHistory(
                client=c,
                to_stage="active",
                actor="t",
                entered_at=at(dt.date(2024, 6, 1)),
                exited_at=at(churn) if churn else None,
            )
        )
        if churn:
            stages.append(
                LifecycleStageHistory(
                    client=c, from_stage="active", to_stage="churned", actor="t", entered_at=at(churn)
                )
            )
        for m, day in enumerate(HISTORY):
            if churn and day >= churn:
                break
            pre_churn = bool(churn and churn - day <= D(days=90))
            noise = (i * 37 + m * 11) % 40
            if signal == "usage":
                score = 55 + noise
                utilisation = (
                    (0.10 + ((i * 7 + m) % 10) / 100) if pre_churn else (0.60 + ((i * 13 + m * 7) % 30) / 100)
                )
            else:
                score = (20 + noise // 4) if pre_churn else (70 + noise // 2)
                utilisation = 0.6 + ((i * 13 + m * 7) % 30) / 100
            snapshots.append(
                HealthSnapshot(
                    client=c,
                    as_of=day,
                    health_score=score,
                    usage_score=float(min(100, score + 5)),
                    engagement_score=float(40 + (i * 3 + m) % 50),
                    support_score=100.0,
                    satisfaction_score=None if i % 3 else 70.0,
                    payment_score=100.0,
                    coverage=0.85,
                    inputs={"usage": {"utilisation": utilisation, "aud_change": ((i + m) % 9 - 4) / 10}},
                    calculated_at=at(day),
                )
            )
    HealthSnapshot.objects.bulk_create(snapshots, batch_size=1000)
    LifecycleStageHistory.objects.bulk_create(stages, batch_size=1000)
    return clients


def _expected_counts():
    """Counts from the generator's own rules (independent of the module's SQL)."""
    training = training_pos = validation = validation_pos = 0
    for i in range(E2E_CLIENTS):
        churn = _churn_day(i)
        for t in HISTORY:
            if t > AS_OF - D(days=90) or (churn and t >= churn):
                continue
            label = int(bool(churn and t < churn <= t + D(days=90)))
            if t < dt.date(2026, 1, 31):
                training, training_pos = training + 1, training_pos + label
            else:
                validation, validation_pos = validation + 1, validation_pos + label
    return training, training_pos, validation, validation_pos


def test_end_to_end_training_promotes_a_better_model_and_retires_the_previous_one():
    previous = stored_model()
    _build_history("usage")
    model = cm.churn_model_train(as_of=AS_OF, actor=ACTOR)
    counts = model.counts
    assert (
        counts["training"],
        counts["training_positives"],
        counts["validation"],
        counts["validation_positives"],
    ) == _expected_counts()
    assert (
        counts["training"] >= 500
        and counts["training_positives"] >= 40
        and counts["validation_positives"] >= 10
    )
    assert counts["snapshot_history_months"] == 17 and counts["calibration_window"] == [
        "2025-10-31",
        "2025-11-30",
        "2025-12-31",
    ]
    assert model.status == "active", model.notes
    assert model.metrics["roc_auc"] >= model.heuristic_metrics["roc_auc"] + 0.02
    assert model.metrics["brier_score"] <= model.heuristic_metrics["brier_score"]
    assert model.metrics["rows"] == model.heuristic_metrics["rows"] == counts["validation"]
    assert set(model.metrics) == {
        "roc_auc",
        "pr_auc",
        "brier_score",
        "log_loss",
        "ece",
        "precision_at_0_5",
        "recall_at_0_5",
        "top_decile_lift",
        "rows",
        "positives",
    }
    # stored as plain JSON numbers, one per feature
    stored = ChurnModel.objects.get(pk=model.pk)
    assert stored.feature_names == list(cm.FEATURE_NAMES)
    for vector in (stored.means, stored.stds, stored.coefficients):
        assert len(vector) == len(cm.FEATURE_NAMES) and all(type(x) is float for x in vector)
    assert stored.coefficients[cm.FEATURE_NAMES.index("tickets_missing")] == 0.0  # constant column
    assert stored.coefficients[cm.FEATURE_NAMES.index("seat_utilisation")] < 0  # low utilisation → churn
    assert (stored.training_window_start, stored.training_window_end) == (
        dt.date(2025, 1, 31),
        dt.date(2025, 12, 31),
    )
    previous.refresh_from_db()
    assert previous.status == "retired" and cm.active_churn_model() == stored
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "object_id"))
    assert actions == [
        ("health.churn_model.trained", "churn-logreg-20260630"),
        ("health.churn_model.retired", "churn-logreg-20260101"),
        ("health.churn_model.promoted", "churn-logreg-20260630"),
    ]

    # the stored numbers reproduce the validation probabilities through predict()'s plain arithmetic
    obs = [o for o in cm.training_observations(as_of=AS_OF) if o["t"] >= dt.date(2026, 1, 31)]
    probs = [
        cm.predict(model=stored, features={"values": o["features"], "health_score": o["health_score"]})[
            "probability"
        ]
        for o in obs
    ]
    again = cm.evaluate(probs, [o["label"] for o in obs])
    assert again["brier_score"] == pytest.approx(stored.metrics["brier_score"], rel=1e-9)
    assert again["roc_auc"] == pytest.approx(stored.metrics["roc_auc"], rel=1e-9)

    # a same-day re-run returns the active model unchanged
    assert cm.churn_model_train(as_of=AS_OF, actor=ACTOR).pk == stored.pk
    assert ChurnModel.objects.count() == 2


def test_end_to_end_training_rejects_a_model_that_cannot_beat_a_perfect_heuristic():
    previous = stored_model()
    _build_history("health")
    model = cm.churn_model_train(as_of=AS_OF, actor=ACTOR)
    assert model.status == "rejected"
    assert model.heuristic_metrics["roc_auc"] == 1.0
    assert model.notes.startswith("Rejected (not better than the heuristic): ROC AUC ")
    assert len(model.coefficients) == len(cm.FEATURE_NAMES) and model.calibration_a is not None
    previous.refresh_from_db()
    assert previous.status == "active"
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["health.churn_model.trained"]


def test_churn_modules_do_not_import_the_scorer():
    """Issue 8: the scoring ↔ churn_model cycle stays broken. The churn modules may use the pure formulas
    (``health.scoring_formulas``) but never the chunk scorer, its reads or its writes — function-local imports
    included; the scorer reaches the model only through ``churn_data.apply_active_model``."""
    import ast
    from pathlib import Path

    import health

    root = Path(health.__file__).parent
    forbidden = {"scoring", "scoring_inputs", "scoring_persist"}
    for name in ("churn_features", "churn_metrics", "churn_data", "churn_training", "churn_model"):
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:  # from . import scoring / from .scoring import x
                    imported |= {module} if module else {a.name for a in node.names}
                elif module.startswith("health."):
                    imported.add(module.split(".", 1)[1])
            elif isinstance(node, ast.Import):
                imported |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("health.")}
        assert not (imported & forbidden), (name, imported & forbidden)
