"""Settings read from the environment.

Two profiles: ``development`` (default; generates its own secrets into a git-ignored file so that
``make run`` needs nothing) and ``production`` (``CS_PROFILE=production``; refuses to start without real
secrets and enables every ``check --deploy`` protection).
"""

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
PROFILE = os.environ.get("CS_PROFILE", "development").strip().lower()
if PROFILE not in {"development", "production"}:
    raise ImproperlyConfigured(f"CS_PROFILE must be 'development' or 'production', not {PROFILE!r}")
PRODUCTION = PROFILE == "production"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secrets() -> dict:
    """Development secrets live in .local/dev-secrets.json (git-ignored), created on first use."""
    path = Path(os.environ.get("CS_DEV_SECRETS_FILE", BASE_DIR / ".local" / "dev-secrets.json"))
    if path.exists():
        return json.loads(path.read_text())
    data = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CS_FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return data


# How to make a valid value: the second half of the one-line error when a variable is missing or invalid.
HOW_TO_MAKE = {
    "SECRET_KEY": """make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'""",
    "CS_FIELD_ENCRYPTION_KEY": "make one with: python -c "
    """'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'""",
    "ALLOWED_HOSTS": "set it to the comma-separated host names the site is served under, e.g. cs.example.com",
    "REDIS_URL": "set it to the Celery broker's URL, e.g. redis://127.0.0.1:6379/0",
}


def _missing(name: str, why: str = "must be set in the environment when CS_PROFILE=production") -> str:
    """One line: the variable, what is wrong, and how to make a valid value."""
    return f"{name} {why}; {HOW_TO_MAKE[name]}"


def _secret(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(_missing(name))
    return _dev_secrets()[name]


def _fernet_key(name: str) -> str:
    """Field encryption needs a Fernet key; anything else would fail later, on the first encrypted write."""
    value = _secret(name)
    try:
        Fernet(value)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            _missing(name, "is not a valid Fernet key (32 url-safe base64-encoded bytes)")
        ) from None
    return value


SECRET_KEY = _secret("SECRET_KEY")
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(_missing("SECRET_KEY", "must be at least 50 random characters in production"))
FIELD_ENCRYPTION_KEY = _fernet_key("CS_FIELD_ENCRYPTION_KEY")

DEBUG = _env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when CS_PROFILE=production")

_hosts = os.environ.get("ALLOWED_HOSTS", "")
ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()]
if not ALLOWED_HOSTS:
    if PRODUCTION:
        raise ImproperlyConfigured(_missing("ALLOWED_HOSTS"))
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served locally: /api/docs/ works offline
    "django_celery_beat",
    "encrypted_model_fields",
    "mcp_server",
    "cs_project.core",
    "customers",
    "health",
    "onboarding",
    "retention",
    "communication",
    "support",
    "expansion",
    "feedback",
    "cs_project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # Static files served by the app itself behind a proxy; runserver serves them in development.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "cs_project.urls"
WSGI_APPLICATION = "cs_project.wsgi.application"
ASGI_APPLICATION = "cs_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cs_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (Index(include=…)) serve PostgreSQL; SQLite, the embedded default, builds them without the
# non-key columns, which is all it needs — its warning about that is expected.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# --- Security: the production profile passes `manage.py check --deploy` with zero warnings -------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    CSRF_TRUSTED_ORIGINS = [
        o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
    ]

# --- REST framework -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cs_project.core.auth.BearerTokenAuthentication"],
    # The tools' rule for every resource: token scope + <app>.mcp_read / mcp_write (fails closed when a view
    # names no app). The tool mirror, the schema and the API root set IsAuthenticated themselves.
    "DEFAULT_PERMISSION_CLASSES": ["cs_project.core.permissions.AppScopePermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "cs_project.core.types.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cs_project.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["cs_project.core.auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("CS_API_THROTTLE_RATE", "1200/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Customer Success Platform API",
    "DESCRIPTION": "REST API and tool mirror of the customer-success platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["cs_project.core.api.hide_url_aliases"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a field called `status` with different choices: name each enum after its class.
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "customers.choices.AccountStatus",
        "ContractStatusEnum": "customers.choices.ContractStatus",
        "InvoiceStatusEnum": "customers.choices.InvoiceStatus",
        "AlertStatusEnum": "customers.choices.AlertStatus",
    },
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- MCP -----------------------------------------------------------------------------------------------
DJANGO_MCP_GLOBAL_SERVER_CONFIG = {
    "name": "customer-success",
    "instructions": "Customer-success platform tools. Every number is computed from stored rows; "
    "missing data is null with a data_gaps entry. Rule ids in tool descriptions (RULES §4.5, PAT-04…) refer "
    "to docs/rules.md in the project's repository.",
    "stateless": True,
}
DJANGO_MCP_GET_SERVER_INSTRUCTIONS_TOOL = False

# --- Celery --------------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if PRODUCTION and not REDIS_URL:
    # Without a broker tasks would run eagerly inside requests and beat's nightly scoring would never run.
    raise ImproperlyConfigured(
        _missing("REDIS_URL", "must be set when CS_PROFILE=production (nightly scoring runs on Celery)")
    )
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 30
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 25
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# RULES §19. Installed into django-celery-beat idempotently (`manage.py migrate` signal), editable in the admin.
CELERY_BEAT_SCHEDULE = {
    "usage_rollup": {"task": "health.tasks.usage_rollup", "schedule": crontab(minute=5)},
    "churn_model_training": {
        "task": "health.tasks.churn_model_training",
        "schedule": crontab(day_of_month=1, hour=4, minute=0),
    },
    "nightly_health_scoring": {
        "task": "health.tasks.nightly_health_scoring",
        "schedule": crontab(hour=2, minute=0),
    },
    "usage_drop_alerts": {
        "task": "health.tasks.usage_drop_alerts",
        "schedule": crontab(hour="1,7,13,19", minute=15),
    },
    "access_log_prune": {"task": "core.tasks.access_log_prune", "schedule": crontab(hour=3, minute=30)},
}
# Days an access-log entry (every tool call, TOOLS §0.5) is kept before the daily prune deletes it.
CS_ACCESS_LOG_RETENTION_DAYS = int(os.environ.get("CS_ACCESS_LOG_RETENTION_DAYS", "90"))

# --- Business rules [S] (RULES §1) ---------------------------------------------------------------------
CS_RULES = {
    "reporting_time_zone": os.environ.get("CS_REPORTING_TIME_ZONE", "UTC"),
    "usage_raw_retention_days": 180,
    "login_feature_keys": ["login"],
    "usage_full_utilisation": 0.80,
    "usage_full_core_breadth": 0.70,
    "usage_full_stickiness": 0.20,
    "health_min_coverage": 0.50,
    "health_low_confidence_coverage": 0.75,
    "health_trend_days": 7,
    "at_risk_threshold": 60,
    "lifecycle_automation": os.environ.get("CS_LIFECYCLE_AUTOMATION", "apply"),
    "onboarding_stuck_days": 7,
    "ttv_target_days": 30,
    "benchmark_min_peers": 5,
    "gross_margin": float(os.environ["CS_GROSS_MARGIN"]) if os.environ.get("CS_GROSS_MARGIN") else None,
    "cac": float(os.environ["CS_CAC"]) if os.environ.get("CS_CAC") else None,
    "email_frequency_cap": 3,
    "email_review_automated": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # One JSON line per tool call (the access log, TOOLS §0.5); CS_ACCESS_LOG_LEVEL=WARNING silences it.
    "loggers": {"cs.access": {"level": os.environ.get("CS_ACCESS_LOG_LEVEL", "INFO")}},
}
