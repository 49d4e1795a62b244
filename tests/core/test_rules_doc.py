"""docs/rules.md ships the rules the tools cite and stays equal to a fresh rendering of the spec's RULES.md."""

import pytest
from django.core.management import CommandError, call_command

from cs_project.core.rules_doc import HEADER, RULES_DOC, is_stale, render_rules, spec_path
from tests.conftest import require_service

SMALL_SPEC = """# RULES

## 4. Health score

### 4.5 Risk bands

| Id | Condition | Action | Priority |
|---|---|---|---|
| HLT-03 | health < risk threshold | open risk alert | high |
"""


def test_committed_rules_doc_is_fresh():
    spec = spec_path()
    require_service(spec.exists(), f"the spec {spec} (../shared/spec/RULES.md beside the repository)")
    assert not is_stale(spec), "docs/rules.md is out of date; run `manage.py generate_rules_doc`"


def test_rendering_adds_section_and_rule_id_anchors():
    assert render_rules(SMALL_SPEC) == HEADER + (
        "# RULES\n\n"
        '<a id="s4"></a>\n\n## 4. Health score\n\n'
        '<a id="s4.5"></a>\n\n### 4.5 Risk bands\n\n'
        "| Id | Condition | Action | Priority |\n|---|---|---|---|\n"
        '| <a id="HLT-03"></a>HLT-03 | health < risk threshold | open risk alert | high |\n'
    )
    assert render_rules(SMALL_SPEC) == render_rules(SMALL_SPEC)


def test_check_fails_when_the_spec_changed(tmp_path):
    spec = tmp_path / "RULES.md"
    spec.write_text(SMALL_SPEC)
    with pytest.raises(CommandError, match="out of date"):
        call_command("generate_rules_doc", "--check", "--spec", str(spec))


def test_check_names_a_missing_spec(tmp_path):
    with pytest.raises(CommandError, match="not found"):
        call_command("generate_rules_doc", "--check", "--spec", str(tmp_path / "absent.md"))


def test_rule_ids_cited_by_tools_are_anchors_of_the_doc():
    import json
    import re

    from cs_project.core.registry import all_tools

    text = RULES_DOC.read_text()
    published = " ".join(spec.description + json.dumps(spec.input_schema()) for spec in all_tools())
    cited = set(re.findall(r"\b[A-Z]{3}-\d{2}\b", published))
    assert cited, "tool descriptions cite rule ids"
    assert {rule for rule in cited if f'<a id="{rule}"></a>' not in text} == set()
