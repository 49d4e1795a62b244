"""App REST modules are mounted when present; a broken module is an error, a missing one is skipped."""

import sys

import pytest

from cs_project.core import urls


@pytest.fixture
def fake_apps(tmp_path, monkeypatch):
    (tmp_path / "fakeapp_ok" / "api").mkdir(parents=True)
    (tmp_path / "fakeapp_ok" / "__init__.py").write_text("")
    (tmp_path / "fakeapp_ok" / "api" / "__init__.py").write_text("")
    (tmp_path / "fakeapp_ok" / "api" / "urls.py").write_text("urlpatterns = []\n")
    (tmp_path / "fakeapp_noapi").mkdir()
    (tmp_path / "fakeapp_noapi" / "__init__.py").write_text("")
    (tmp_path / "fakeapp_broken" / "api").mkdir(parents=True)
    (tmp_path / "fakeapp_broken" / "__init__.py").write_text("")
    (tmp_path / "fakeapp_broken" / "api" / "__init__.py").write_text("import fakeapp_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in list(sys.modules):
        if name.startswith("fakeapp_"):
            del sys.modules[name]


def test_missing_modules_are_skipped(fake_apps, monkeypatch):
    monkeypatch.setattr(urls, "DOMAIN_APPS", ["fakeapp_ok", "fakeapp_noapi", "fakeapp_absent"])
    patterns = urls.app_api_patterns()
    assert len(patterns) == 1
    assert patterns[0].urlconf_name.__name__ == "fakeapp_ok.api.urls"


def test_import_error_inside_an_existing_module_is_raised(fake_apps, monkeypatch):
    monkeypatch.setattr(urls, "DOMAIN_APPS", ["fakeapp_broken"])
    with pytest.raises(ModuleNotFoundError, match="fakeapp_missing_dependency"):
        urls.app_api_patterns()


def test_core_routes_resolve():
    from django.urls import resolve

    assert resolve("/mcp").url_name == "mcp"
    assert resolve("/api/v1/tools/").url_name == "tool-list"
    assert resolve("/api/v1/tools/list_clients/").url_name == "tool-call"
    assert resolve("/api/schema/").url_name == "api-schema"
    assert resolve("/api/docs/").url_name == "api-docs"
