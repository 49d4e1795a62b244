import pytest

from tests.core import tools_for_tests  # noqa: F401  (registers the test_ tools)
from tests.core.helpers import make_token, user_with_perms


@pytest.fixture
def api_user(django_user_model):
    return user_with_perms(django_user_model, "agent")


@pytest.fixture
def rw_token(api_user):
    return make_token(api_user, ("read", "write"))


@pytest.fixture
def read_token(api_user):
    return make_token(api_user, ("read",))
