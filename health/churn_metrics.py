"""Validation metrics, split and calibration of the trained churn model (RULES §5.2): pure functions, no query.

Why a module of its own: the model and the §5.1 heuristic are scored by the same functions on the same validation
rows, and each metric is checked against scikit-learn's in the tests. numpy is imported only inside the functions
that need it (training), so the nightly scorer never loads it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .churn_features import (
    CALIBRATION_SHARE,
    DECISION_THRESHOLD,
    ECE_BINS,
    EPS_LOG_LOSS,
    FEATURE_NAMES,
    HORIZON_DAYS,
    MIN_STD,
    PROMOTION_AUC_MARGIN,
    TOP_DECILE,
    VALIDATION_MONTHS,
    month_end,
)

# ----------------------------------------------------------------------------------------------------------
# Validation metrics (RULES §5.2) — pure functions, computed for the model and the heuristic on the same rows
# ----------------------------------------------------------------------------------------------------------


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann–Whitney AUC with mid-ranks for ties; None without both classes."""
    n = len(scores)
    pos = sum(labels)
    neg = n - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(n), key=lambda i: scores[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def pr_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Average precision ``Σ (R_k − R_{k−1}) · P_k`` over the distinct score thresholds (no interpolation, as
    ``sklearn.metrics.average_precision_score``); None without positives."""
    pos = sum(labels)
    if pos == 0:
        return None
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    tp = fp = 0
    ap = prev_recall = 0.0
    i = 0
    while i < len(pairs):
        threshold = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == threshold:
            tp += pairs[i][1]
            fp += 1 - pairs[i][1]
            i += 1
        recall = tp / pos
        ap += (recall - prev_recall) * (tp / (tp + fp))
        prev_recall = recall
    return ap


def brier_score(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    if not labels:
        return None
    return sum((p - y) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(labels)


def log_loss(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15]."""
    if not labels:
        return None
    total = 0.0
    for p, y in zip(probabilities, labels, strict=True):
        p = min(1 - EPS_LOG_LOSS, max(EPS_LOG_LOSS, p))
        total -= math.log(p) if y else math.log(1 - p)
    return total / len(labels)


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    """ECE over 10 equal-width bins [0, 0.1), …, [0.9, 1.0]: Σ_b (n_b / N) · |mean p_b − mean y_b|."""
    n = len(labels)
    if not n:
        return None
    sums: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for p, y in zip(probabilities, labels, strict=True):
        b = min(int(p * ECE_BINS), ECE_BINS - 1)
        sums[b][0] += 1
        sums[b][1] += p
        sums[b][2] += y
    return sum(abs(sp - sy) / n for _, sp, sy in sums.values())


def precision_recall_at(
    probabilities: Sequence[float], labels: Sequence[int], threshold: float = DECISION_THRESHOLD
) -> tuple[float | None, float | None]:
    """Precision and recall of ``p ≥ threshold``; None where the denominator is 0."""
    predicted = [p >= threshold for p in probabilities]
    tp = sum(1 for hit, y in zip(predicted, labels, strict=True) if hit and y)
    n_pred = sum(predicted)
    pos = sum(labels)
    return (tp / n_pred if n_pred else None), (tp / pos if pos else None)


def top_decile_lift(probabilities: Sequence[float], labels: Sequence[int]) -> float | None:
    """Positive rate in the top 10 % by probability ÷ overall positive rate.

    The top decile is exactly N/10 rows; a group of tied probabilities straddling the cut (and a fractional
    last row) counts with its mean label, so the result does not depend on row order — the heuristic's
    probabilities are coarse (steps of 0.01) and ties are common."""
    n = len(labels)
    pos = sum(labels)
    if not n or not pos:
        return None
    k = n * TOP_DECILE
    groups: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    for p, y in zip(probabilities, labels, strict=True):
        groups[p][0] += 1
        groups[p][1] += y
    taken = hits = 0.0
    for p in sorted(groups, reverse=True):
        size, group_pos = groups[p]
        if taken + size <= k:
            taken += size
            hits += group_pos
        else:
            hits += (k - taken) * group_pos / size
            taken = k
        if taken >= k:
            break
    return (hits / k) / (pos / n)


def evaluate(probabilities: Sequence[float], labels: Sequence[int]) -> dict[str, Any]:
    """All validation metrics of RULES §5.2 for one scorer on one set of rows."""
    precision, recall = precision_recall_at(probabilities, labels)
    return {
        "roc_auc": roc_auc(probabilities, labels),
        "pr_auc": pr_auc(probabilities, labels),
        "brier_score": brier_score(probabilities, labels),
        "log_loss": log_loss(probabilities, labels),
        "ece": expected_calibration_error(probabilities, labels),
        "precision_at_0_5": precision,
        "recall_at_0_5": recall,
        "top_decile_lift": top_decile_lift(probabilities, labels),
        "rows": len(labels),
        "positives": int(sum(labels)),
    }


def promotion_decision(model_metrics: dict[str, Any], heuristic_metrics: dict[str, Any]) -> tuple[bool, str]:
    """RULES §5.2: active only if AUC ≥ heuristic AUC + 0.02 **and** Brier ≤ heuristic Brier.

    A 1e-12 tolerance absorbs float noise in the sum (0.70 + 0.02 is 0.7199999…)."""
    m_auc, h_auc = model_metrics.get("roc_auc"), heuristic_metrics.get("roc_auc")
    m_brier, h_brier = model_metrics.get("brier_score"), heuristic_metrics.get("brier_score")
    if None in (m_auc, h_auc, m_brier, h_brier):
        return False, "Metrics could not be computed on the validation rows."
    auc_ok = m_auc >= h_auc + PROMOTION_AUC_MARGIN - 1e-12
    brier_ok = m_brier <= h_brier + 1e-12
    detail = (
        f"ROC AUC {m_auc:.4f} vs heuristic {h_auc:.4f} (needs ≥ +{PROMOTION_AUC_MARGIN}); "
        f"Brier {m_brier:.4f} vs heuristic {h_brier:.4f} (needs ≤)."
    )
    return auc_ok and brier_ok, detail


# ----------------------------------------------------------------------------------------------------------
# Split, standardisation, calibration
# ----------------------------------------------------------------------------------------------------------


def split_observations(observations: list[dict], *, as_of: dt.date) -> dict[str, Any]:
    """Out-of-time split: validation = the last 3 labelled month-ends (``t ≤ as_of − 90 d``, calendar months,
    whether or not they have observations); training = every earlier one. No random split."""
    last = month_end(as_of - dt.timedelta(days=HORIZON_DAYS))
    if last > as_of - dt.timedelta(days=HORIZON_DAYS):
        last = last.replace(day=1) - dt.timedelta(days=1)
    validation_dates = [last]
    while len(validation_dates) < VALIDATION_MONTHS:
        validation_dates.insert(0, validation_dates[0].replace(day=1) - dt.timedelta(days=1))
    first_validation = validation_dates[0]
    return {
        "validation_dates": validation_dates,
        "training": [o for o in observations if o["t"] < first_validation],
        "validation": [o for o in observations if first_validation <= o["t"] <= last],
    }


def calibration_split(training: list[dict]) -> tuple[list[dict], list[dict], list[dt.date]]:
    """(fit rows, calibration rows, calibration dates): calibration = the latest 25 % of the distinct training
    dates (at least one), fit = the earlier ones — disjoint, so Platt scaling sees scores of unseen rows."""
    dates = sorted({o["t"] for o in training})
    n_cal = max(1, math.ceil(len(dates) * CALIBRATION_SHARE)) if dates else 0
    cal_dates = dates[len(dates) - n_cal :] if n_cal else []
    first_cal = cal_dates[0] if cal_dates else None
    fit = [o for o in training if first_cal is None or o["t"] < first_cal]
    cal = [o for o in training if first_cal is not None and o["t"] >= first_cal]
    return fit, cal, cal_dates


def standardisation(rows) -> tuple[list[float], list[float]]:
    """Per-column mean and population standard deviation of the training rows (RULES §5.2 "standardised with
    training means and standard deviations"); a constant column gets std 1.0, so its z is 0 everywhere."""
    import numpy as np

    x = np.asarray(rows, dtype=float).reshape(len(rows), -1)
    if not len(x):
        return [0.0] * len(FEATURE_NAMES), [1.0] * len(FEATURE_NAMES)
    means = x.mean(axis=0)
    stds = x.std(axis=0)
    stds = np.where(stds > MIN_STD, stds, 1.0)
    return [float(m) for m in means], [float(sd) for sd in stds]


def platt_fit(
    scores: Sequence[float], labels: Sequence[int], *, iterations: int = 100
) -> tuple[float, float]:
    """Platt scaling ``p = σ(a · s + b)`` fitted by Newton's method (with step halving) on Platt's smoothed
    targets — (N₊ + 1)/(N₊ + 2) for positives, 1/(N₋ + 2) for negatives — as in Platt (1999) and scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``, which writes it ``1 / (1 + exp(A s + B))``, i.e. a = −A,
    b = −B. The smoothing keeps the optimum finite even when the scores separate the classes."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    pos = int(y.sum())
    neg = len(y) - pos
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))

    def objective(a: float, b: float) -> float:
        x = a * s + b  # −[t·log σ(x) + (1 − t)·log(1 − σ(x))] = log(1 + eˣ) − t·x, without overflow
        return float(np.sum(np.logaddexp(0.0, x) - t * x))

    a, b = 0.0, math.log((pos + 1) / (neg + 1))
    current = objective(a, b)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * s + b)))
        d, w = p - t, p * (1 - p)
        g_a, g_b = float(d @ s), float(d.sum())
        h_aa, h_ab, h_bb = float(w @ (s * s)) + 1e-12, float(w @ s), float(w.sum()) + 1e-12
        det = h_aa * h_bb - h_ab * h_ab
        if det <= 0:
            break
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        scale = 1.0
        while scale > 1e-10:
            trial = objective(a - scale * step_a, b - scale * step_b)
            if trial <= current + 1e-15:
                break
            scale /= 2
        else:
            break
        a, b = a - scale * step_a, b - scale * step_b
        improvement, current = current - trial, trial
        if max(abs(scale * step_a), abs(scale * step_b)) < 1e-12 or improvement < 1e-14:
            break
    return float(a), float(b)
