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
    "REDIS_URL": "redis://127.0.0.1:6379/1",
}


def _manage(*args, env_overrides, drop=()):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"SECRET_KEY", "CS_FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS", "DEBUG", "CS_PROFILE", "REDIS_URL"}
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


FERNET_HOW = (
    "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def _last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_missing_secret_says_how_to_make_one():
    result = _manage("check", env_overrides=GOOD_ENV, drop=["CS_FIELD_ENCRYPTION_KEY"])
    assert _last_line(result) == (
        "django.core.exceptions.ImproperlyConfigured: CS_FIELD_ENCRYPTION_KEY must be set in the environment "
        f"when CS_PROFILE=production; {FERNET_HOW}"
    )
    result = _manage("check", env_overrides=GOOD_ENV, drop=["SECRET_KEY"])
    assert _last_line(result).endswith(
        "SECRET_KEY must be set in the environment when CS_PROFILE=production; "
        "make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )


@pytest.mark.parametrize("profile", ["production", "development"])
def test_non_fernet_encryption_key_is_one_clear_line(profile):
    env = {**GOOD_ENV, "CS_PROFILE": profile, "CS_FIELD_ENCRYPTION_KEY": "not-a-fernet-key"}
    result = _manage("check", env_overrides=env)
    assert result.returncode != 0
    assert _last_line(result) == (
        "django.core.exceptions.ImproperlyConfigured: CS_FIELD_ENCRYPTION_KEY is not a valid Fernet key "
        f"(32 url-safe base64-encoded bytes); {FERNET_HOW}"
    )


def test_production_refuses_to_start_without_redis():
    result = _manage("check", env_overrides=GOOD_ENV, drop=["REDIS_URL"])
    assert result.returncode != 0
    assert _last_line(result) == (
        "django.core.exceptions.ImproperlyConfigured: REDIS_URL must be set when CS_PROFILE=production "
        "(nightly scoring runs on Celery); set it to the Celery broker's URL, e.g. redis://127.0.0.1:6379/0"
    )


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
