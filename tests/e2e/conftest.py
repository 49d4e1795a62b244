from tests.core import tools_for_tests  # noqa: F401  (registers the test_ tools)
