"""Training service of the churn model (RULES §5.2, §19 ``churn_model_training``): fit, validate, promote.

A model replaces the heuristic only when it beats it on the same validation rows (AUC + 0.02 and Brier).
scikit-learn is imported only here, inside the function that fits; numpy only inside functions (the nightly scorer
never loads either).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from cs_project.core.context import Actor
from cs_project.core.errors import Conflict, NotFound
from customers.audit import audit_record

from .choices import ChurnModelStatus
from .churn_data import snapshot_history, training_observations
from .churn_features import (
    FEATURE_NAMES,
    MIN_HISTORY_MONTHS,
    MIN_TRAINING_OBSERVATIONS,
    MIN_TRAINING_POSITIVES,
    MIN_VALIDATION_POSITIVES,
    model_version,
    sigmoid,
    whole_months,
)
from .churn_metrics import (
    calibration_split,
    evaluate,
    platt_fit,
    promotion_decision,
    split_observations,
    standardisation,
)
from .models import ChurnModel
from .rollups import local_date
from .scoring_formulas import heuristic_probability

# ----------------------------------------------------------------------------------------------------------
# Training job (RULES §5.2, §19 `churn_model_training`)
# ----------------------------------------------------------------------------------------------------------


def _matrix(observations: Iterable[dict]):
    """Observations → float matrix in :data:`FEATURE_NAMES` order (numpy: the training set can hold millions
    of rows)."""
    import numpy as np

    rows = [[o["features"][name] for name in FEATURE_NAMES] for o in observations]
    return np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


def _linear(observations: list[dict], means, stds, coefs, intercept: float) -> list[float]:
    """``intercept + Σ coef · (x − mean) / std`` per row — the same arithmetic :func:`predict` does one by one."""
    import numpy as np

    z = (_matrix(observations) - np.asarray(means)) / np.asarray(stds)
    return [float(v) for v in z @ np.asarray(coefs) + intercept]


def _counts(training, validation, fit, cal, history_months, observations) -> dict[str, Any]:
    return {
        "observations": len(observations),
        "training": len(training),
        "training_positives": sum(o["label"] for o in training),
        "validation": len(validation),
        "validation_positives": sum(o["label"] for o in validation),
        "fit": len(fit),
        "fit_positives": sum(o["label"] for o in fit),
        "calibration": len(cal),
        "calibration_positives": sum(o["label"] for o in cal),
        "snapshot_history_months": history_months,
        "clients": len({o["client_id"] for o in observations}),
    }


def minimum_data_shortfalls(counts: dict[str, Any]) -> list[str]:
    """Which RULES §5.2 minimum-data conditions fail (empty = enough data). The fit and calibration parts must
    also each hold both classes, or neither the regression nor the calibration can be fitted."""
    out = []
    if counts["training"] < MIN_TRAINING_OBSERVATIONS:
        out.append(f"training observations {counts['training']} < {MIN_TRAINING_OBSERVATIONS}")
    if counts["training_positives"] < MIN_TRAINING_POSITIVES:
        out.append(f"training positives {counts['training_positives']} < {MIN_TRAINING_POSITIVES}")
    if counts["validation_positives"] < MIN_VALIDATION_POSITIVES:
        out.append(f"validation positives {counts['validation_positives']} < {MIN_VALIDATION_POSITIVES}")
    if counts["snapshot_history_months"] < MIN_HISTORY_MONTHS:
        out.append(f"snapshot history {counts['snapshot_history_months']} months < {MIN_HISTORY_MONTHS}")
    if not out:
        for part in ("fit", "calibration"):
            if counts[f"{part}_positives"] in (0, counts[part]):
                out.append(f"{part} rows do not contain both classes")
    return out


def _fit_logistic(observations: list[dict], means, stds) -> tuple[list[float], float]:
    """RULES §5.2's regression on standardised rows. scikit-learn ≥ 1.8 spells ``penalty="l2"`` as
    ``l1_ratio=0.0`` (``penalty`` is deprecated there and warns); the fitted model is the same L2-penalised one."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    z = (_matrix(observations) - np.asarray(means)) / np.asarray(stds)
    y = np.asarray([o["label"] for o in observations], dtype=int)
    clf = LogisticRegression(l1_ratio=0.0, C=1.0, class_weight="balanced", max_iter=1000)
    clf.fit(z, y)
    return [float(c) for c in clf.coef_[0]], float(clf.intercept_[0])


@transaction.atomic
def churn_model_train(*, as_of: dt.date | None = None, actor: Actor) -> ChurnModel:
    """Train, validate and (maybe) promote ``churn-logreg-<as_of>`` (RULES §5.2). Atomic and audited.

    - Not enough data → a ``skipped`` row with the counts, nothing else changes.
    - Otherwise the regression is fitted on the training months except the latest 25 % of their dates, Platt
      calibration on those latest dates, both scorers evaluated on the validation months; the model becomes
      ``active`` (retiring the previous active one) if it beats the heuristic, else ``rejected``.
    - Idempotent per as-of day: a same-day re-run replaces a ``skipped``/``rejected`` row of that version and
      returns an ``active``/``retired``/``deactivated`` one unchanged (its predictions may reference it)."""
    as_of = as_of or local_date(timezone.now())
    version = model_version(as_of)
    existing = ChurnModel.objects.select_for_update().filter(version=version).first()
    if existing is not None and existing.status not in (ChurnModelStatus.SKIPPED, ChurnModelStatus.REJECTED):
        return existing

    observations = training_observations(as_of=as_of)
    first, last = snapshot_history(as_of=as_of)
    history_months = whole_months(first, last) if first and last else 0
    split = split_observations(observations, as_of=as_of)
    training, validation = split["training"], split["validation"]
    fit, cal, cal_dates = calibration_split(training)
    counts = _counts(training, validation, fit, cal, history_months, observations)
    counts["validation_window"] = [d.isoformat() for d in split["validation_dates"]]
    counts["calibration_window"] = [d.isoformat() for d in cal_dates]
    model = existing or ChurnModel(version=version)
    model.trained_at = timezone.now()
    model.counts = counts
    model.training_window_start = training[0]["t"] if training else None
    model.training_window_end = training[-1]["t"] if training else None
    model.feature_names = list(FEATURE_NAMES)

    shortfalls = minimum_data_shortfalls(counts)
    if shortfalls:
        model.status = ChurnModelStatus.SKIPPED
        model.means = model.stds = model.coefficients = []
        model.intercept = model.calibration_a = model.calibration_b = None
        model.metrics = model.heuristic_metrics = {}
        model.notes = "Not enough data: " + "; ".join(shortfalls) + "."
        model.save()
        _audit_trained(model, actor)
        return model

    means, stds = standardisation(_matrix(training))
    coefs, intercept = _fit_logistic(fit, means, stds)
    a, b = platt_fit(_linear(cal, means, stds, coefs, intercept), [o["label"] for o in cal])
    val_scores = _linear(validation, means, stds, coefs, intercept)
    labels = [o["label"] for o in validation]
    model_p = [sigmoid(a * s + b) for s in val_scores]
    heuristic_p = [heuristic_probability(o["health_score"]) for o in validation]

    model.means, model.stds, model.coefficients = means, stds, coefs
    model.intercept, model.calibration_a, model.calibration_b = intercept, a, b
    model.metrics = evaluate(model_p, labels)
    model.heuristic_metrics = evaluate(heuristic_p, labels)
    promote, detail = promotion_decision(model.metrics, model.heuristic_metrics)
    previous = None
    if promote:
        previous = (
            ChurnModel.objects.select_for_update()
            .filter(status=ChurnModelStatus.ACTIVE)
            .exclude(pk=model.pk)
            .first()
        )
        if previous is not None:
            previous.status = ChurnModelStatus.RETIRED
            previous.save(update_fields=["status"])
        model.status = ChurnModelStatus.ACTIVE
        model.notes = "Promoted: " + detail
    else:
        model.status = ChurnModelStatus.REJECTED
        model.notes = "Rejected (not better than the heuristic): " + detail
    model.save()
    _audit_trained(model, actor)
    if previous is not None:
        audit_record(
            actor=actor,
            action="health.churn_model.retired",
            object_type="churn_model",
            object_id=previous.version,
            changes={"status": [ChurnModelStatus.ACTIVE, ChurnModelStatus.RETIRED]},
            data={"replaced_by": model.version},
        )
    if promote:
        audit_record(
            actor=actor,
            action="health.churn_model.promoted",
            object_type="churn_model",
            object_id=model.version,
            changes={"status": [None, ChurnModelStatus.ACTIVE]},
            data={
                "previous_active": previous.version if previous else None,
                "roc_auc": model.metrics["roc_auc"],
                "heuristic_roc_auc": model.heuristic_metrics["roc_auc"],
                "brier_score": model.metrics["brier_score"],
                "heuristic_brier_score": model.heuristic_metrics["brier_score"],
            },
        )
    return model


def _audit_trained(model: ChurnModel, actor: Actor) -> None:
    audit_record(
        actor=actor,
        action="health.churn_model.trained",
        object_type="churn_model",
        object_id=model.version,
        data={
            "status": model.status,
            "counts": model.counts,
            "metrics": model.metrics,
            "heuristic_metrics": model.heuristic_metrics,
            "notes": model.notes,
        },
    )


@transaction.atomic
def churn_model_deactivate(*, model_id: int, actor: Actor) -> ChurnModel:
    """Admin switch-off of the active model (RULES §5.2): scoring falls back to the heuristic. Audited."""
    model = ChurnModel.objects.select_for_update().filter(pk=model_id).first()
    if model is None:
        raise NotFound(f"Churn model {model_id} does not exist.", field="model_id")
    if model.status != ChurnModelStatus.ACTIVE:
        raise Conflict(f"Churn model {model.version} is {model.status}, not active.", field="model_id")
    model.status = ChurnModelStatus.DEACTIVATED
    model.notes = (model.notes + "\n" if model.notes else "") + f"Deactivated by {actor.label}."
    model.save(update_fields=["status", "notes"])
    audit_record(
        actor=actor,
        action="health.churn_model.deactivated",
        object_type="churn_model",
        object_id=model.version,
        changes={"status": [ChurnModelStatus.ACTIVE, ChurnModelStatus.DEACTIVATED]},
    )
    return model
