"""The production profile refuses to start without real secrets and passes `check --deploy` cleanly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_ENV = {
    "CS_PROFILE": "production",
    "SECRET_KEY": "p" * 20 + "r0duct10n-s3cr3t-k3y-th4t-1s-l0ng-3n0ugh-xyz",
    "CS_FIELD_ENCRYPTION_KEY": "uG3Ixq7Kk3mGfqWcFQm0K9E6o7J0aQH4bXo4wJ9nC2Y=",
    "ALLOWED_HOSTS": "cs.example.com",
    "DEBUG": "false",
}


def _manage(*args, env_overrides, drop=()):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "CS_FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS", "DEBUG", "CS_PROFILE"}
    }
    env.update(env_overrides)
    for key in drop:
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CS_FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secret(missing):
    result = _manage("check", env_overrides=GOOD_ENV, drop=[missing])
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_refuses_debug():
    result = _manage("check", env_overrides={**GOOD_ENV, "DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_refuses_short_secret_key():
    result = _manage("check", env_overrides={**GOOD_ENV, "SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "at least 50" in result.stderr


def test_production_check_deploy_has_zero_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=GOOD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
