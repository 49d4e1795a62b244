"""docs/database-schema.md is generated from the models and must match a fresh rendering."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Q

from cs_project.core.schema_docs import condition_text, project_apps, render_schema_docs


def test_committed_schema_doc_is_up_to_date():
    call_command("generate_schema_docs", "--check")  # raises CommandError naming the command when stale


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    from cs_project.core import schema_docs

    stale = tmp_path / "database-schema.md"
    stale.write_text("old\n", encoding="utf-8")
    assert schema_docs.is_stale(stale)
    schema_docs.write_schema_docs(stale)
    assert not schema_docs.is_stale(stale)
    stale.write_text("old\n", encoding="utf-8")
    from cs_project.core.management.commands import generate_schema_docs

    monkeypatch.setattr(generate_schema_docs, "is_stale", lambda: schema_docs.is_stale(stale))
    with pytest.raises(CommandError, match="generate_schema_docs"):
        call_command("generate_schema_docs", "--check")


def test_generation_is_deterministic():
    assert render_schema_docs() == render_schema_docs()


def test_only_this_projects_apps_are_documented():
    labels = [config.label for config in project_apps()]
    assert labels[:2] == ["core", "customers"] and "auth" not in labels and "django_celery_beat" not in labels


def test_a_table_section_has_purpose_columns_constraints_indexes_and_relations():
    doc = render_schema_docs()
    section = doc[doc.index("### `core_accesslogentry`") :]
    section = section[: section.index("\n## ")]
    assert "One tool call, read-only ones included, for security review" in section
    assert "| `id` | BigAutoField | no | — | primary key |" in section
    assert '| `client_id` | CharField(128) | no | `""` |' in section
    assert "- `core_access_occurred_idx`: (`occurred_at`)" in section
    client = doc[doc.index("### `customers_client`") :]
    client = client[: client.index("\n### ")]
    assert "- `client_arr_non_negative`: check `contract_value >= 0`" in client
    assert "- referenced by `customers.Contract`.`client`" in client
    assert "core_apitoken }o--|| auth_user : user" in doc  # the mermaid diagram of the core app


def test_conditions_read_like_sql():
    condition = Q(status="active") | (Q(ended_at__isnull=True) & Q(amount__gte=F("floor")))
    assert condition_text(condition) == "(status = 'active' OR (ended_at IS NULL AND amount >= floor))"
    assert condition_text(~Q(kind__in=["a", "b"])) == "NOT kind IN ('a', 'b')"
