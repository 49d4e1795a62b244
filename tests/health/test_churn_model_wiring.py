"""The trained churn model wired into the nightly job, the monthly task and the admin (RULES §5.2, §19)."""

import datetime as dt

import pytest

from cs_project.core.context import Actor
from customers.models import Invoice, JobRun
from health import churn_model as cm
from health import services, tasks
from health.models import ChurnModel, ChurnPrediction, HealthSnapshot
from tests.customers.factories import ClientFactory, ContractFactory, TimelineEventFactory
from tests.health.factories import at

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 31)


def _scorable_client():
    client = ClientFactory(client_id="wired", tier="standard")
    ContractFactory(
        client=client, start_date=dt.date(2025, 6, 1), end_date=dt.date(2026, 5, 1), tier="standard"
    )
    TimelineEventFactory(
        client=client, occurred_at=at(TODAY - dt.timedelta(days=2)), counts_as_engagement=True
    )
    Invoice.objects.create(
        client=client,
        amount=100,
        issued_on=dt.date(2026, 1, 1),
        due_date=dt.date(2026, 1, 31),
        paid_on=dt.date(2026, 1, 20),
    )
    return client


def _neutral_model(**overrides):
    n = len(cm.FEATURE_NAMES)
    values = dict(
        version="churn-logreg-20260101",
        status="active",
        trained_at=dt.datetime(2026, 1, 1, 4, tzinfo=dt.UTC),
        feature_names=list(cm.FEATURE_NAMES),
        means=[0.0] * n,
        stds=[1.0] * n,
        coefficients=[0.0] * n,
        intercept=0.0,
        calibration_a=1.0,
        calibration_b=0.0,
        metrics={"roc_auc": 0.81, "brier_score": 0.07},
        heuristic_metrics={"roc_auc": 0.7, "brier_score": 0.09},
    )
    values.update(overrides)
    return ChurnModel.objects.create(**values)


def test_nightly_scoring_uses_the_heuristic_without_an_active_model():
    client = _scorable_client()
    services.health_chunk_score(client_ids=[client.pk], as_of=TODAY, actor=Actor.system("test"))
    prediction = ChurnPrediction.objects.get(client=client, as_of=TODAY)
    assert prediction.method == "churn-heuristic-v1" and prediction.model_id is None


def test_nightly_scoring_uses_the_active_model():
    client = _scorable_client()
    model = _neutral_model()
    _neutral_model(version="churn-logreg-20251201", status="rejected", intercept=5.0)
    outcome = services.health_chunk_score(client_ids=[client.pk], as_of=TODAY, actor=Actor.system("test"))
    assert outcome == {"processed": 1, "failed": 0, "errors": []}
    prediction = ChurnPrediction.objects.get(client=client, as_of=TODAY)
    # all coefficients 0, intercept 0, calibration (1, 0): p = 1 / (1 + e^0) = 0.5 → level "high"
    assert (prediction.method, prediction.probability, prediction.risk_level) == (model.version, 0.5, "high")
    assert prediction.calibrated is True and prediction.horizon_days == 90 and prediction.model_id == model.pk
    snapshot = HealthSnapshot.objects.get(client=client, as_of=TODAY)
    assert (snapshot.churn_method, snapshot.churn_probability) == (model.version, 0.5)


def test_training_task_records_a_job_run_and_a_skipped_model():
    out = tasks.churn_model_training.delay(TODAY.isoformat()).get()
    model = ChurnModel.objects.get(pk=out["model_id"])
    assert out["status"] == model.status == "skipped"
    run = JobRun.objects.get(pk=out["job_run_id"])
    assert (run.job, run.processed, run.failed) == ("churn_model_training", 1, 0)


def test_admin_train_button_is_post_only(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/health/churnmodel/")
    assert page.status_code == 200 and b"Train churn model" in page.content
    assert client.get("/admin/health/churnmodel/train/").status_code == 403
    response = client.post("/admin/health/churnmodel/train/")
    assert response.status_code == 302
    assert ChurnModel.objects.get().status == "skipped"


def test_admin_deactivate_action(client, superuser):
    client.force_login(superuser)
    model = _neutral_model()
    response = client.post(
        "/admin/health/churnmodel/",
        {"action": "deactivate_churn_models", "_selected_action": [model.pk]},
    )
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.status != "active"
