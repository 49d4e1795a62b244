"""Known answers for the harness's null walker: which nulls a data gap or an allow-list pattern explains."""

from tests.harness import null_paths, unexplained_nulls

ENVELOPE = {
    "status": "success",
    "message": None,
    "clients": [
        {"client_id": "a", "active_users": None, "csm": None},
        {"client_id": "b", "active_users": 3, "csm": None},
        {"client_id": "c", "active_users": None, "csm": "x"},
    ],
    "summary": {"average": None, "inner": {"deep": None}},
    "forecast": None,
    "recommendations": [{"rule_id": "CORE-02", "evidence": {"csm_assigned": None}}],
    "data_gaps": [
        {"field": "clients[0].active_users", "reason": "no_usage_events", "detail": "-"},
        {"field": "summary", "reason": "not_enough_data", "detail": "-"},
    ],
}


def test_null_paths_are_dotted_with_indices():
    assert null_paths({"a": [None, {"b": None}], "c": {"d": None}, "e": 0}) == ["a[0]", "a[1].b", "c.d"]


def test_a_gap_explains_its_path_and_everything_under_it():
    assert unexplained_nulls(ENVELOPE) == [
        "clients[0].csm",
        "clients[1].csm",
        "clients[2].active_users",  # the gap names item 0 only
        "forecast",
    ]


def test_a_gap_with_empty_brackets_explains_every_item():
    envelope = {
        **ENVELOPE,
        "data_gaps": [*ENVELOPE["data_gaps"], {"field": "clients[].csm", "reason": "no_csm", "detail": "-"}],
    }
    assert unexplained_nulls(envelope) == ["clients[2].active_users", "forecast"]


def test_allow_list_patterns_use_star_for_a_key_and_brackets_for_any_index():
    assert unexplained_nulls(ENVELOPE, ("clients[].csm", "forecast", "clients[].active_users")) == []
    assert (
        unexplained_nulls(
            {"status": "success", "m": {"x": {"at": None}, "y": {"at": None}}, "data_gaps": []}, ("m.*.at",)
        )
        == []
    )
    assert unexplained_nulls({"status": "success", "m": {"x": {"at": None}}, "data_gaps": []}, ("m.*",)) == []
    assert unexplained_nulls({"status": "success", "mx": None, "data_gaps": []}, ("m",)) == ["mx"]
