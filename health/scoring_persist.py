"""The health engine's writes (RULES §4.6): a chunk's official snapshots, churn predictions and Client cache.

Why a module of its own: the write path is database-specific and tuned (issue 4): on PostgreSQL each table gets
one statement whose single parameter is the whole batch serialised once by the C JSON encoder; elsewhere (SQLite)
the same rows go through the ORM. The row mappings (:func:`_snapshot_row`, :func:`_prediction_row`,
:func:`_cache_rows`) are the single translation result → stored columns.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from cs_project.core.bulk import bound_cursor, rows_update
from customers.models import Client

from .choices import COMPONENTS, FORMULA_VERSION
from .models import ChurnPrediction, HealthSnapshot
from .scoring_formulas import OFFICIAL_LOOKBACK_DAYS, stored_explanation

SNAPSHOT_UPDATE_FIELDS = [
    "health_score",
    "raw_score",
    *[f"{c}_score" for c in COMPONENTS],
    "weights",
    "effective_weights",
    "scorecard",
    "missing_components",
    "coverage",
    "low_confidence",
    "inputs",
    "explanation",
    "data_gaps",
    "risk_level",
    "trend",
    "score_change",
    "comparison_as_of",
    "churn_probability",
    "churn_method",
    "lookback_days",
    "formula_version",
    "calculated_at",
]
PREDICTION_UPDATE_FIELDS = [
    "probability",
    "risk_level",
    "method",
    "calibrated",
    "horizon_days",
    "drivers",
    "predicted_churn_date",
    "data_coverage",
    "model",
    "created_at",
]
CACHE_FIELDS = ("health_score", "health_trend", "risk_level", "health_as_of", "last_engagement_date")


def _snapshot_row(r: dict[str, Any]) -> dict[str, Any]:
    """The stored columns of one official result (the single mapping result → HealthSnapshot)."""
    return {
        "client_id": r["client_pk"],
        "as_of": r["as_of"],
        "health_score": r["health_score"],
        "raw_score": r["raw_score"],
        **{f"{c}_score": r["components"][c] for c in COMPONENTS},
        "weights": r["weights"],
        "effective_weights": r["effective_weights"],
        "scorecard_id": r["scorecard_id"],
        "missing_components": r["missing_components"],
        "coverage": min(1.0, r["coverage"]),
        "low_confidence": r["low_confidence"],
        "inputs": r["inputs"],
        "explanation": stored_explanation(r["explanation"]),
        "data_gaps": r["data_gaps"],
        "risk_level": r["risk_level"],
        "trend": r["trend"],
        "score_change": r["score_change"],
        "comparison_as_of": r["comparison"]["as_of"] if r["comparison"] else None,
        "churn_probability": r["churn"]["probability"],
        "churn_method": r["churn"]["method"],
        "lookback_days": OFFICIAL_LOOKBACK_DAYS,
        "formula_version": FORMULA_VERSION,
    }


def _prediction_row(r: dict[str, Any]) -> dict[str, Any]:
    churn = r["churn"]
    return {
        "client_id": r["client_pk"],
        "as_of": r["as_of"],
        "probability": churn["probability"],
        "risk_level": churn["risk_level"],
        "method": churn["method"],
        "calibrated": churn["calibrated"],
        "horizon_days": churn["horizon_days"],
        "drivers": churn["drivers"],
        "predicted_churn_date": churn["predicted_churn_date"],
        "data_coverage": churn["data_coverage"],
        "model_id": churn.get("model_id"),
    }


def _cache_rows(results: list[dict], clients: list[dict]) -> list[dict[str, Any]]:
    """Client cache values of the results that are not older than the cached day."""
    by_pk = {c["id"]: c for c in clients}
    rows = []
    for r in results:
        current = by_pk[r["client_pk"]]
        if current["health_as_of"] and current["health_as_of"] > r["as_of"]:
            continue  # a back-filled day never overwrites a newer cache
        led = r["last_engagement_date"]
        led = dt.date.fromisoformat(led) if led else None
        cached = current["last_engagement_date"]
        rows.append(
            {
                "id": r["client_pk"],
                "health_score": r["health_score"],
                "health_trend": r["trend"] or "",
                "risk_level": r["risk_level"] or "",
                "health_as_of": r["as_of"],
                "last_engagement_date": max(d for d in (led, cached) if d) if (led or cached) else None,
            }
        )
    return rows


def persist_results(results: list[dict], clients: list[dict], calculated_at: dt.datetime) -> None:
    """Upsert snapshots + churn predictions and update the Client cache: 3 statements for any chunk size.

    PostgreSQL: each table gets one ``INSERT … SELECT … FROM jsonb_to_recordset(%s) ON CONFLICT (client_id,
    as_of) DO UPDATE`` (resp. ``UPDATE … FROM jsonb_to_recordset``) whose single parameter is the whole batch
    serialised once by the C JSON encoder — no per-value adaptation, no ORM objects. Other databases:
    ``bulk_create(update_conflicts=True)`` / ``bulk_update`` with the same row mapping."""
    if not results:
        return
    snapshots = [_snapshot_row(r) for r in results]
    predictions = [_prediction_row(r) for r in results]
    cache = _cache_rows(results, clients)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _pg_upsert(HealthSnapshot, snapshots, SNAPSHOT_UPDATE_FIELDS, calculated_at, "calculated_at")
            _pg_upsert(ChurnPrediction, predictions, PREDICTION_UPDATE_FIELDS, calculated_at, "created_at")
            rows_update(Client, cache, list(CACHE_FIELDS))
        else:
            _orm_persist(snapshots, predictions, cache, calculated_at)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    """JSON text of a batch: the C encoder; non-finite floats (never expected) become null as in _jsonable."""
    try:
        return json.dumps(value, default=_json_default, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_jsonable(value), default=_json_default, separators=(",", ":"))


def _pg_columns(model, names: list[str]) -> list[tuple[str, str]]:
    """(column, PostgreSQL type) of model fields, for a ``jsonb_to_recordset`` column definition list."""
    out = []
    for name in names:
        f = model._meta.get_field(name)
        out.append((f.column, f.db_type(connection)))
    return out


def _pg_upsert(model, rows: list[dict], update_fields: list[str], stamp: dt.datetime, stamp_field: str):
    """One INSERT … SELECT FROM jsonb_to_recordset(batch) ON CONFLICT (client_id, as_of) DO UPDATE."""
    table = model._meta.db_table
    cols = _pg_columns(model, list(rows[0]))  # get_field accepts attnames (client_id, scorecard_id)
    stamp_col = model._meta.get_field(stamp_field).column
    updates = [model._meta.get_field(f).column for f in update_fields]
    select = ", ".join(f"r.{c}" for c, _ in cols)
    sql = (
        f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}, {stamp_col}) "
        f"SELECT {select}, %s FROM jsonb_to_recordset(%s::jsonb) "
        f"AS r({', '.join(f'{c} {t}' for c, t in cols)}) "
        f"ON CONFLICT (client_id, as_of) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
    )
    with bound_cursor() as cur:
        cur.execute(sql, [stamp, _dumps(rows)])


def _orm_persist(snapshots, predictions, cache, calculated_at) -> None:
    """Portable fallback (SQLite): the same rows through the ORM."""
    HealthSnapshot.objects.bulk_create(
        [
            HealthSnapshot(
                **{
                    **s,
                    "inputs": _jsonable(s["inputs"]),
                    "explanation": _jsonable(s["explanation"]),
                },
                calculated_at=calculated_at,
            )
            for s in snapshots
        ],
        update_conflicts=True,
        unique_fields=["client", "as_of"],
        update_fields=SNAPSHOT_UPDATE_FIELDS,
        batch_size=1000,
    )
    ChurnPrediction.objects.bulk_create(
        [
            ChurnPrediction(**{**p, "drivers": _jsonable(p["drivers"])}, created_at=calculated_at)
            for p in predictions
        ],
        update_conflicts=True,
        unique_fields=["client", "as_of"],
        update_fields=PREDICTION_UPDATE_FIELDS,
        batch_size=1000,
    )
    if cache:
        Client.objects.bulk_update([Client(**row) for row in cache], list(CACHE_FIELDS), batch_size=1000)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
