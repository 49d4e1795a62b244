"""`make run` (dev_bootstrap) reuses its development token instead of minting one more each run."""

import io
import re

import pytest
from django.core.management import call_command

from cs_project.core.auth import token_create
from cs_project.core.context import Actor
from cs_project.core.models import ApiToken
from tests.core.helpers import auth
from tests.customers.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_dir(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # .local/ of a throwaway checkout, never the developer's own
    ClientFactory()  # a non-empty database: no demo seeding
    return tmp_path / ".local"


def _bootstrap() -> str:
    out = io.StringIO()
    call_command("dev_bootstrap", stdout=out)
    return re.search(r"API token:\s+(\S+)", out.getvalue()).group(1)


def _live_tokens():
    return ApiToken.objects.usable().filter(user__username="admin")


def test_second_run_reuses_the_token(client, local_dir):
    first = _bootstrap()
    second = _bootstrap()
    assert second == first
    assert _live_tokens().count() == 1
    assert ApiToken.objects.filter(user__username="admin").count() == 1
    assert (local_dir / "dev-api-token").read_text() == first
    assert oct((local_dir / "dev-api-token").stat().st_mode & 0o777) == "0o600"
    assert client.get("/api/v1/accounts/", **auth(first)).status_code == 200


def test_unusable_kept_token_is_replaced_and_old_ones_revoked(client, local_dir, django_user_model):
    first = _bootstrap()
    admin = django_user_model.objects.get(username="admin")
    # a token minted by the earlier version of the command, one per run
    token_create(user=admin, scopes=["read"], name="make run 2026-11-01 10:00", actor=Actor.system("tests"))
    ApiToken.objects.filter(user=admin, name="make run").update(revoked_at="2026-11-02T00:00:00Z")

    second = _bootstrap()
    assert second != first
    assert list(_live_tokens().values_list("name", flat=True)) == ["make run"]
    assert client.get("/api/v1/accounts/", **auth(second)).status_code == 200
    assert client.get("/api/v1/accounts/", **auth(first)).status_code == 401
    assert _bootstrap() == second


def test_other_tokens_of_the_admin_are_left_alone(local_dir, django_user_model):
    _bootstrap()
    admin = django_user_model.objects.get(username="admin")
    token_create(user=admin, scopes=["read"], name="ci reader", actor=Actor.system("tests"))
    (local_dir / "dev-api-token").unlink()
    _bootstrap()
    assert sorted(_live_tokens().values_list("name", flat=True)) == ["ci reader", "make run"]
