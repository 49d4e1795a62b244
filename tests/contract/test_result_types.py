"""Typed results: every tool publishes a precise outputSchema generated from its result type, results are checked
against it (development: logged; tests: raised), and the churn drivers admit exactly the two shapes of RULES §5."""

import logging

import pytest
from jsonschema import Draft202012Validator

from cs_project.core.registry import all_tools, check_result, get_tool
from cs_project.core.results import (
    ERROR_SCHEMA,
    GENERIC_ENVELOPE,
    ResultSchemaError,
    ToolResult,
    envelope_schema,
    result_errors,
)
from health.results import ChurnPrediction

HEURISTIC = {
    "probability": 0.62,
    "risk_level": "high",
    "method": "churn-heuristic-v1",
    "calibrated": False,
    "horizon_days": None,
    "drivers": [
        {"component": "usage", "risk_contribution": 21.5},
        {"component": "support", "risk_contribution": 3.0},
    ],
    "predicted_churn_date": "2027-03-31",
    "data_coverage": 1.0,
    "model_metrics": None,
}
TRAINED = {
    **HEURISTIC,
    "method": "churn-logreg-20261101",
    "calibrated": True,
    "horizon_days": 90,
    "drivers": [
        {
            "feature": "usage_score",
            "value": 31.0,
            "standardised_value": -1.8,
            "contribution": 0.92,
            "direction": "increases_risk",
        }
    ],
    "model_metrics": {"roc_auc": 0.81, "brier_score": 0.12},
}


class ChurnProbe(ToolResult):
    churn_prediction: ChurnPrediction | None


def envelope(churn):
    return {"status": "success", "churn_prediction": churn, "data_gaps": []}


def _objects(node):
    if isinstance(node, dict):
        if "properties" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def domain_tools():
    return [spec for spec in all_tools() if not spec.fn.__module__.startswith("tests.")]


@pytest.mark.parametrize("spec", domain_tools(), ids=lambda spec: spec.name)
def test_every_tool_publishes_a_closed_schema_of_its_declared_result(spec):
    schema = spec.output_schema()
    assert spec.result_type is not None
    assert schema["type"] == "object"
    assert schema["anyOf"][-1] == ERROR_SCHEMA
    Draft202012Validator.check_schema(schema)
    for variant in schema["anyOf"][:-1]:
        assert variant["properties"]["status"] == {"const": "success"}
        assert {"status", "data_gaps"} <= set(variant["required"])
        assert ("audit_event_id" in variant["required"]) is (not spec.read_only)
    assert all(node["additionalProperties"] is False for node in _objects(schema))


def test_a_failure_envelope_matches_every_schema():
    failed = {
        "status": "failed",
        "error": {"code": "NOT_FOUND", "message": "No client 'x'.", "field": "client_id"},
    }
    for spec in domain_tools():
        assert result_errors(spec.result_type, failed) == []
        assert list(Draft202012Validator(spec.output_schema()).iter_errors(failed)) == []


def test_churn_drivers_admit_the_heuristic_and_the_trained_model_shapes():
    assert result_errors(ChurnProbe, envelope(HEURISTIC)) == []
    assert result_errors(ChurnProbe, envelope(TRAINED)) == []
    assert result_errors(ChurnProbe, envelope(None)) == []


@pytest.mark.parametrize(
    "drivers",
    [
        [None],  # what the at_risk report showed after the KeyError on d["component"]
        [{"component": "usage", "contribution_change": -2.9}],  # an explanation driver, not a churn driver
        [{"feature": "usage_score", "value": 31.0, "contribution": 0.9, "direction": "increases_risk"}],
        [{**TRAINED["drivers"][0], "direction": "up"}],
        [{**TRAINED["drivers"][0], "component": "usage"}],
    ],
)
def test_a_driver_of_neither_shape_is_refused(drivers):
    assert result_errors(ChurnProbe, envelope({**TRAINED, "drivers": drivers})) != []


def test_the_generic_envelope_would_have_accepted_it():
    """Why the drivers crash went unnoticed: the envelope every tool published before admitted anything."""
    broken = envelope({**TRAINED, "drivers": [None]})
    assert list(Draft202012Validator(GENERIC_ENVELOPE).iter_errors(broken)) == []
    assert result_errors(None, broken) == []
    assert result_errors(ChurnProbe, broken) != []


def test_unknown_renamed_and_missing_keys_are_named():
    renamed = {**HEURISTIC, "churn_probability": HEURISTIC["probability"]}
    del renamed["probability"]
    errors = result_errors(ChurnProbe, envelope(renamed))
    assert any("'probability' is a required property" in e for e in errors)
    assert any("'churn_probability' was unexpected" in e for e in errors)
    assert result_errors(ChurnProbe, {"status": "success", "churn_prediction": None}) == [
        "(root): 'data_gaps' is a required property"
    ]


def test_schemas_are_built_once():
    assert envelope_schema(ChurnProbe) is envelope_schema(ChurnProbe)


BAD_LIST = {"status": "success", "clients": "none", "data_gaps": []}


def test_check_result_is_off_without_debug(settings, caplog):
    settings.DEBUG, settings.CS_TOOL_RESULT_CHECK = False, None
    check_result(get_tool("list_clients"), BAD_LIST)
    assert caplog.records == []


def test_check_result_logs_loudly_with_debug(settings, caplog):
    settings.DEBUG, settings.CS_TOOL_RESULT_CHECK = True, None
    with caplog.at_level(logging.ERROR, logger="cs.tools"):
        check_result(get_tool("list_clients"), BAD_LIST)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "list_clients returned a result that breaks its declared schema" in record.getMessage()
    assert "clients: 'none' is not of type 'array'" in record.getMessage()


def test_check_result_raises_in_tests(settings):
    settings.CS_TOOL_RESULT_CHECK = "raise"
    with pytest.raises(ResultSchemaError, match="'pagination' is a required property"):
        check_result(get_tool("list_clients"), BAD_LIST)
    check_result(
        get_tool("list_clients"), {"status": "failed", "error": {"code": "INTERNAL", "message": "x"}}
    )


AT_RISK_ROW = {
    "client_id": "c1",
    "client_name": "C1",
    "health_score": 41,
    "risk_level": "critical",
    "start_score": 55,
    "change": -14,
    "arr": 50000.0,
    "churn_probability": 0.81,
    "churn_level": "critical",
    "renewal_date": "2027-01-31",
    "days_to_renewal": 60,
    "open_alerts": 2,
    "active_campaign": None,
    "top_drivers": ["usage", "support"],
    "alert_reasons": ["churn_risk_high"],
    "exposure": 40500.0,
}


def at_risk_report(row):
    summary = {"clients_at_risk": 1, "arr_listed": 50000.0, "exposure_listed": 40500.0}
    return {
        "status": "success",
        "report_id": "rpt_1",
        "report_type": "at_risk",
        "period": {"start": "2026-10-31", "end": "2026-11-29", "label": "30d"},
        "generated_at": "2026-11-29T08:00:00+00:00",
        "format": "json",
        "content": {"summary": summary, "clients": [row]},
        "summary": summary,
        "row_count": 1,
        "truncated": False,
        "data_gaps": [],
    }


def test_the_at_risk_report_refuses_top_drivers_of_none():
    """The symptom of the drivers crash in the at_risk report (issue 8 defect 1) now breaks its schema."""
    result_type = get_tool("generate_health_reports").result_type
    assert result_errors(result_type, at_risk_report(AT_RISK_ROW)) == []
    assert result_errors(result_type, at_risk_report({**AT_RISK_ROW, "top_drivers": [None, None]})) != []
    assert result_errors(result_type, {**at_risk_report(AT_RISK_ROW), "content": "# At-risk accounts"}) == []
