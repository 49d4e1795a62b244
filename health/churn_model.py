"""The trained churn model of RULES §5.2 — the public names, re-exported from the modules that implement them.

The model used to live in this one module (1,200 lines, importing the scorer while the scorer imported it). It is
now split by concern, and nothing here is implemented:

- :mod:`health.churn_features` — constants, the feature vector, point-in-time helpers and :func:`predict` (pure);
- :mod:`health.churn_metrics` — validation metrics, out-of-time split, standardisation, Platt scaling (pure);
- :mod:`health.churn_data` — observations from history and the features of a scoring chunk (set-based reads);
- :mod:`health.churn_training` — the training / promotion / deactivation services (writes, audited).

Callers may import from here (``health.churn_model.churn_model_train``) or from the implementing module.
"""

from __future__ import annotations

from .churn_data import (
    active_churn_model,
    apply_active_model,
    chunk_features,
    labelled_month_ends,
    snapshot_history,
    training_observations,
)
from .churn_features import (
    FEATURE_NAMES,
    HORIZON_DAYS,
    feature_values,
    model_version,
    month_end,
    month_ends,
    predict,
    sigmoid,
    whole_months,
)
from .churn_metrics import (
    brier_score,
    calibration_split,
    evaluate,
    expected_calibration_error,
    log_loss,
    platt_fit,
    pr_auc,
    precision_recall_at,
    promotion_decision,
    roc_auc,
    split_observations,
    standardisation,
    top_decile_lift,
)
from .churn_training import churn_model_deactivate, churn_model_train, minimum_data_shortfalls
from .scoring_formulas import heuristic_probability

__all__ = [
    "FEATURE_NAMES",
    "HORIZON_DAYS",
    "active_churn_model",
    "apply_active_model",
    "brier_score",
    "calibration_split",
    "chunk_features",
    "churn_model_deactivate",
    "churn_model_train",
    "evaluate",
    "expected_calibration_error",
    "feature_values",
    "heuristic_probability",
    "labelled_month_ends",
    "log_loss",
    "minimum_data_shortfalls",
    "model_version",
    "month_end",
    "month_ends",
    "platt_fit",
    "pr_auc",
    "precision_recall_at",
    "predict",
    "promotion_decision",
    "roc_auc",
    "sigmoid",
    "snapshot_history",
    "split_observations",
    "standardisation",
    "top_decile_lift",
    "training_observations",
    "whole_months",
]
