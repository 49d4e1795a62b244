"""The registry against ../shared/spec/TOOLS.md: parameter names, types, defaults, enums, ranges, required flags
and top-level result keys of every registered tool; the tools the spec has and the registry lacks are PENDING.

Adding a tool means removing it from PENDING (the test fails otherwise), and a tool whose schema drifts from its
table fails here before a client notices. KNOWN_DEVIATIONS lists the differences that are deliberate or awaiting a
behavioural fix; each entry must still be needed (a fixed deviation fails the test until it is removed).
"""

import pytest

from cs_project.core.registry import all_tools
from customers.choices import LifecycleStage, Tier
from tests.conftest import require_service

from .toolspec import COMPUTED, NO_DEFAULT, parse, spec_path

NAMED_ENUMS = {
    "product tier": set(Tier.values),
    "the six lifecycle stages": set(LifecycleStage.values),
    "lifecycle stage": set(LifecycleStage.values),
}

# The 41 tools of the three tool issues still to come (TOOLS §2 and §4–§8). Remove a name when its tool lands.
PENDING = {
    # onboarding (TOOLS §2)
    "create_onboarding_plan",
    "activate_onboarding_automation",
    "deliver_training_session",
    "manage_certification_program",
    "optimize_onboarding_process",
    "map_customer_journey",
    "optimize_time_to_value",
    "track_onboarding_progress",
    # retention (TOOLS §4)
    "identify_churn_risk",
    "execute_retention_campaign",
    "monitor_satisfaction",
    "manage_escalations",
    "analyze_churn_postmortem",
    "score_risk_factors",
    "automate_retention_campaigns",
    # communication (TOOLS §5)
    "send_personalized_email",
    "automate_communications",
    "manage_community",
    "manage_advocacy_program",
    "conduct_executive_review",
    "automate_newsletters",
    # support (TOOLS §6)
    "handle_support_ticket",
    "route_tickets",
    "manage_knowledge_base",
    "update_knowledge_base",
    "manage_customer_portal",
    "analyze_support_performance",
    # expansion (TOOLS §7)
    "identify_upsell_opportunities",
    "identify_crosssell_opportunities",
    "identify_expansion_opportunities",
    "track_renewals",
    "forecast_renewals",
    "negotiate_renewals",
    "track_revenue_expansion",
    "optimize_customer_lifetime_value",
    # feedback (TOOLS §8)
    "collect_feedback",
    "analyze_feedback_sentiment",
    "share_product_insights",
    "track_cs_metrics",
    "analyze_product_usage",
    "manage_voice_of_customer",
}

# (tool, kind, detail): a difference between the registry and TOOLS.md that is known and reported.
KNOWN_DEVIATIONS: set[tuple[str, str, str]] = {
    # get_client_timeline also returns the resolved date range; TOOLS §1.5 does not list it.
    ("get_client_timeline", "extra result key", "period"),
}

SCHEMA_TYPES = {
    "str": {"string"},
    "int": {"integer"},
    "float": {"number"},
    "bool": {"boolean"},
    "date": {"string"},
    "datetime": {"string"},
    "dict": {"object"},
}
ENVELOPE_KEYS = {"status", "message"}


@pytest.fixture(scope="module")
def spec():
    path = spec_path()
    if path is None:
        require_service(False, "../shared/spec/TOOLS.md")
    return parse(path.read_text(encoding="utf-8"), NAMED_ENUMS)


def registered():
    return {s.name: s for s in all_tools() if not s.fn.__module__.startswith("tests.")}


def _variants(prop: dict) -> list[dict]:
    return prop.get("anyOf") or [prop]


def _schema_types(prop: dict) -> set[str]:
    types = set()
    for variant in _variants(prop):
        if "type" in variant:
            types.add(variant["type"])
        elif "enum" in variant or "const" in variant:
            types.add("string")
    return types - {"null"}


def _first(prop: dict, key: str):
    for variant in _variants(prop):
        if key in variant:
            return variant[key]
    return None


def param_differences(spec_tool, tool) -> list[tuple[str, str, str]]:
    schema = tool.input_schema()
    props, required = schema["properties"], set(schema.get("required", []))
    out = []
    name = tool.name
    for missing in sorted(set(spec_tool.params) - set(props)):
        out.append((name, "missing parameter", missing))
    for extra in sorted(set(props) - set(spec_tool.params)):
        out.append((name, "extra parameter", extra))
    for pname, param in spec_tool.params.items():
        prop = props.get(pname)
        if prop is None:
            continue
        base = param.type.split("[")[0]
        expected = {"array"} if base == "list" else SCHEMA_TYPES.get(base)
        if expected and _schema_types(prop) != expected:
            out.append((name, "type", f"{pname}: spec {param.type}, schema {sorted(_schema_types(prop))}"))
        if param.required != (pname in required):
            out.append((name, "required", f"{pname}: spec {param.required}"))
        if param.default is NO_DEFAULT:
            if "default" in prop:
                out.append((name, "default", f"{pname}: spec none, schema {prop['default']!r}"))
        else:
            want = None if param.default is COMPUTED else param.default
            if prop.get("default", "<absent>") != want:
                out.append(
                    (name, "default", f"{pname}: spec {want!r}, schema {prop.get('default', '<absent>')!r}")
                )
        if param.enum is not None:
            enum = set(_first(prop, "enum") or [])
            if enum != param.enum:
                out.append((name, "enum", f"{pname}: spec {sorted(param.enum)}, schema {sorted(enum)}"))
        if param.item_enum is not None:
            items = _first(prop, "items") or {}
            enum = set(_first(items, "enum") or [])
            if enum != param.item_enum:
                out.append(
                    (name, "item enum", f"{pname}: spec {sorted(param.item_enum)}, schema {sorted(enum)}")
                )
        if param.minimum is not None or param.maximum is not None:
            if base == "str":
                low, high = _first(prop, "minLength"), _first(prop, "maxLength")
            elif base == "list":
                low, high = _first(prop, "minItems"), _first(prop, "maxItems")
            else:
                low, high = _first(prop, "minimum"), _first(prop, "maximum")
            if param.minimum is not None and low != param.minimum:
                out.append((name, "minimum", f"{pname}: spec {param.minimum}, schema {low}"))
            if param.maximum is not None and high != param.maximum:
                out.append((name, "maximum", f"{pname}: spec {param.maximum}, schema {high}"))
    return out


def result_differences(spec_tool, tool) -> list[tuple[str, str, str]]:
    schema = tool.output_schema()
    if tool.result_type is None:
        return [(tool.name, "result type", "none declared")]
    declared = [set(v["properties"]) - ENVELOPE_KEYS for v in schema["anyOf"][:-1]]
    specified = [keys - ENVELOPE_KEYS for keys in spec_tool.returns]
    if not tool.read_only:  # TOOLS §0.2: every mutating tool's envelope names its audit event
        specified = [keys | {"audit_event_id"} for keys in specified]
    out = []
    if len(declared) != len(specified):
        return [(tool.name, "result variants", f"spec {len(specified)}, declared {len(declared)}")]
    for spec_keys in specified:
        best = min(declared, key=lambda keys: len(keys ^ spec_keys))
        out.extend((tool.name, "missing result key", key) for key in sorted(spec_keys - best))
        out.extend((tool.name, "extra result key", key) for key in sorted(best - spec_keys))
    return out


def test_the_spec_is_parsed_completely(spec):
    assert len(spec) == 56
    assert all(tool.returns for tool in spec.values()), [n for n, t in spec.items() if not t.returns]
    assert sum(len(tool.params) for tool in spec.values()) > 300


def test_every_registered_tool_is_in_the_spec(spec):
    assert set(registered()) - set(spec) == set()


def test_pending_is_exactly_the_spec_tools_not_yet_registered(spec):
    missing = set(spec) - set(registered())
    assert missing == PENDING, {
        "registered but still PENDING (remove them)": sorted(PENDING - missing),
        "missing but not PENDING": sorted(missing - PENDING),
    }


def test_pending_tools(spec):
    """Reported, not silently passed: the list must be empty when the three tool issues are done."""
    if PENDING:
        pytest.xfail(
            f"{len(PENDING)} tools of TOOLS.md are not implemented yet: {', '.join(sorted(PENDING))}"
        )


def test_access_matches_the_index(spec):
    wrong = [n for n, t in registered().items() if t.read_only != spec[n].read_only]
    assert wrong == []


@pytest.mark.parametrize("name", sorted(registered()))
def test_parameters_equal_the_spec_table(spec, name):
    differences = set(param_differences(spec[name], registered()[name]))
    assert differences - KNOWN_DEVIATIONS == set()


@pytest.mark.parametrize("name", sorted(registered()))
def test_result_keys_equal_the_spec_returns(spec, name):
    differences = set(result_differences(spec[name], registered()[name]))
    assert differences - KNOWN_DEVIATIONS == set()


def test_known_deviations_are_still_needed(spec):
    tools = registered()
    found = set()
    for name, tool in tools.items():
        found |= set(param_differences(spec[name], tool)) | set(result_differences(spec[name], tool))
    assert KNOWN_DEVIATIONS - found == set(), "fixed: remove these entries from KNOWN_DEVIATIONS"


def test_a_drifted_declaration_is_caught(spec):
    """The comparison is not vacuous: a changed default, enum, range, requirement or result key is reported."""
    import copy

    drifted = copy.deepcopy(spec["list_clients"])
    drifted.params["limit"].default = 51
    drifted.params["limit"].maximum = 500
    drifted.params["tier_filter"].enum = {"starter", "standard"}
    drifted.params["offset"].required = True
    drifted.params["page"] = copy.deepcopy(drifted.params["offset"])
    drifted.returns = [drifted.returns[0] - {"summary"} | {"totals"}]
    tool = registered()["list_clients"]
    kinds = {(kind, detail.split(":")[0]) for _, kind, detail in param_differences(drifted, tool)}
    assert kinds == {
        ("default", "limit"),
        ("maximum", "limit"),
        ("enum", "tier_filter"),
        ("required", "offset"),
        ("missing parameter", "page"),
    }
    assert set(result_differences(drifted, tool)) == {
        ("list_clients", "missing result key", "totals"),
        ("list_clients", "extra result key", "summary"),
    }
