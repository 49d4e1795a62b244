"""docs/api is generated from the registry and must match a fresh generation."""

import pytest

from cs_project.core.docs import DOCS_DIR, documented_tools, render_docs, stale_files, tool_section
from cs_project.core.registry import get_tool


def test_committed_docs_are_up_to_date():
    stale = stale_files()
    assert not stale, f"docs/api is out of date ({stale}); run `manage.py generate_tool_docs`"


def test_generation_is_deterministic():
    assert render_docs() == render_docs()


def test_test_tools_are_not_documented():
    assert all(not spec.name.startswith("test_") for spec in documented_tools())
    assert "test_echo" not in "".join(render_docs().values())


def test_every_documented_category_has_a_page():
    files = render_docs()
    assert "index.md" in files
    for spec in documented_tools():
        assert f"`{spec.name}`" in files[f"{spec.category}.md"]
        assert f"({spec.category}.md#{spec.name})" in files["index.md"]


def test_parameter_table_renders_types_defaults_ranges_and_nesting():
    section = tool_section(get_tool("test_echo"))
    assert "| `text` | string | yes | — | length ≥ 1; length ≤ 50 | Text to echo |" in section
    assert "| `count` | integer | no | `1` | ≥ 1; ≤ 10 | Repetitions |" in section
    assert "| `mode` | string \\| null | no | `null` | one of `upper`, `lower` | Case |" in section
    assert "| `options.level` | integer | no | `0` | ≥ 0; ≤ 5 | Nested level |" in section
    assert "`customers.mcp_read`" in section and "read-only" in section
    assert "No parameters." in tool_section(get_tool("test_boom"))


@pytest.mark.parametrize("name", ["index.md"])
def test_docs_directory_exists(name):
    assert (DOCS_DIR / name).exists()


def test_every_page_says_where_rule_ids_are_defined():
    for name, text in render_docs().items():
        assert "[docs/rules.md](../rules.md)" in text, name
