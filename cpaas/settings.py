"""Settings, read from the environment (README "Configuration" lists every variable).

Defaults are safe for production; `make run` supplies what development needs. With
``DATABASE_URL`` / ``REDIS_URL`` unset, embedded PostgreSQL and Redis start under ``.data/``.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from cpaas import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules or os.environ.get("CPAAS_TESTING") == "1"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true/false (1/0), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_int_list(name: str, default: str) -> list[int]:
    value = os.environ.get(name) or default
    try:
        return [int(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated integers, got {value!r}") from None


# --- Modes ----------------------------------------------------------------------------------

PRODUCTION = env_bool("PRODUCTION")
DEBUG = env_bool("DEBUG")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PRODUCTION is on")


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION is on")
    # Development: one random key per checkout, kept so sessions survive restarts.
    path = embedded.data_dir() / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Keys the HMAC stored for each API key; rotating it invalidates every key.
API_KEY_HMAC_KEY = os.environ.get("API_KEY_HMAC_KEY", SECRET_KEY)

# --- Hosts ----------------------------------------------------------------------------------

BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost").lower()
PORT = env_int("PORT", 8000)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", f"http://{BASE_DOMAIN}:{PORT}").rstrip("/")
# The tenant middleware answers 404 for any host that is not a known tenant domain, so the
# domain table is the real allow-list; ALLOWED_HOSTS only narrows it further when set.
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]

# --- Applications and tenancy ---------------------------------------------------------------

SHARED_APPS = [
    # Before django-tenants, whose admin templates would otherwise win: they colour apps
    # with inline styles that the Content-Security-Policy refuses.
    "django.contrib.admin",
    "django_tenants",
    "cpaas",  # management commands: run
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files (no CDN)
    "smpp",  # message parts sent over SMPP, found by SMSC id from any tenant
    "compat.public",  # Twilio-dialect Account SIDs and API keys, found before the tenant
    "console",  # the operator console's pages (no models)
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "messaging",
    "optout",
    "events",
    "campaigns",
    "compat",
    "compat.camara",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New tenants are cloned from this schema (kept migrated by migrate_schemas, see tenants.models).
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Issue `SET search_path` only when the schema changes, not before every query: one round
# trip less per request and per task. django-tenants forgets the cached path on rollback,
# savepoint rollback and close, where PostgreSQL reverts or loses it.
TENANT_LIMIT_SET_CALLS = True
TENANT_MIGRATION_EXECUTOR = os.environ.get("TENANT_MIGRATION_EXECUTOR", "multiprocessing")
GET_EXECUTOR_FUNCTION = "tenants.migration_executor.get_executor"
TENANT_MULTIPROCESSING_MAX_PROCESSES = env_int(
    "TENANT_MIGRATION_PROCESSES", max(2, os.cpu_count() or 2)
)
TENANT_MULTIPROCESSING_CHUNKS = 20
PUBLIC_SCHEMA_URLCONF = "cpaas.urls_public"
# A host that is no tenant's: JSON under /api/, a page elsewhere (not Django's bare 404).
DEFAULT_NOT_FOUND_TENANT_VIEW = "core.api_errors.unknown_host"
ROOT_URLCONF = "cpaas.urls_tenant"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "cpaas.health.HealthMiddleware",
    "messaging.webhooks.WebhookMiddleware",
    # Before the tenant: the headers, and the static files, are the same on every host, so
    # the page for an unknown host (``core.api_errors.unknown_host``) is styled too.
    "django.middleware.security.SecurityMiddleware",
    "cpaas.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    # The Twilio dialect's paths, on the public host and every tenant host.
    "compat.twilio.middleware.TwilioDialectMiddleware",
    "tenants.middleware.ClosedTenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "messaging.api.idempotency.IdempotencyMiddleware",
    "core.text.UnstorableTextMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.tenant",
                "messaging.context_processors.onboarding",
            ],
        },
    },
]

WSGI_APPLICATION = "cpaas.wsgi.application"

# --- Data stores ----------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL") or embedded.postgres_url()
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
# DATABASE_URL points at a transaction-mode pooler (PgBouncer): the schema is set inside
# every transaction rather than once per connection, and no server-side cursor outlives a
# statement (docs/ARCHITECTURE.md#pooled-connections).
DATABASE_POOLED = env_bool("DATABASE_POOLED")
DATABASES["default"]["ENGINE"] = (
    "cpaas.pooled_postgresql" if DATABASE_POOLED else "django_tenants.postgresql_backend")
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_POOLED
# A unix-socket URL (`?host=/path`) arrives as an option; Django's HOST is the usual place.
if socket_dir := DATABASES["default"].get("OPTIONS", {}).pop("host", None):
    DATABASES["default"]["HOST"] = socket_dir
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL") or embedded.redis_url()
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every cache key carries the schema name: nothing cached crosses tenants.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

# Outbound HTTP on a tenant's or the operator's behalf (docs/ARCHITECTURE.md#security-rules): public
# addresses only in production, loopback only otherwise.
OUTBOUND_HTTP_PUBLIC_ONLY = PRODUCTION

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "messaging.api.authentication.ApiKeyAuthentication",
        # The portal's own pages call the API with their session (CSRF enforced).
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["messaging.api.authentication.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["messaging.api.authentication.PerKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["core.api_renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api_parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "messaging.api.pagination.NewestFirst",
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "messaging.api.schema.AutoSchema",
    # OPTIONS answers 405: the schema at /api/schema/ describes every operation, and
    # DRF's metadata introspection fails on views without a queryset.
    "DEFAULT_METADATA_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SMS portal API",
    "DESCRIPTION": (
        "Two-way SMS for your business: send messages, read conversations, manage contacts, "
        "opt-outs, keyword rules, surveys and canned responses, and subscribe to signed "
        "event webhooks.\n\n"
        "Authenticate with `Authorization: Bearer <key>` (keys are created by tenant admins "
        "and shown once). Every error is `{\"code\", \"detail\", \"fields\"?}` with a "
        "stable `code`. Lists are `{\"results\", \"next\"}`, newest first, with a cursor "
        "that stays stable while messages arrive. `POST` accepts an `Idempotency-Key` "
        "header. Requests are limited per key; a 429 says when to retry in `Retry-After`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SenderKindEnum": "messaging.models.Sender.Kind",
        "QuestionKindEnum": "messaging.models.SurveyQuestion.Kind",
        "SubscriberStatusEnum": "campaigns.models.Subscription.Status",
        "SubscriberSourceEnum": "campaigns.models.Subscription.Source",
        "ListImportStatusEnum": "campaigns.models.ListImport.Status",
        "ListConsentActionEnum": "campaigns.models.ListConsentEvent.Action",
    },
    # Readable chapter titles for the operations, in reading order (cpaas/api_schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "cpaas.api_schema.tags_readable"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to swagger.io's online validator: the docs work offline.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True,
                            "validatorUrl": None},
}

# --- Celery ---------------------------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or embedded.broker_url(REDIS_URL)
BROKER_IS_AMQP = CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://"))
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One unacknowledged task per worker process: a bulk task already carries a whole batch of
# sends, so prefetching more would only park batches behind a busy process while another
# host's processes idle (docs/DEPLOY.md#queues-and-workers).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A web request that enqueues must not hang on a broker outage: one quick retry, then the caller
    # gives up and the sweep enqueues the committed row later (docs/ARCHITECTURE.md#the-sweeper).
    "max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2,
}
if BROKER_IS_AMQP:
    # RabbitMQ: Celery declares its queues durable and publishes persistent messages; with
    # publisher confirms a publish returns only once the broker has stored the task, so a
    # broker that dies right after loses nothing the caller was told was taken
    # (docs/DEPLOY.md#rabbitmq).
    CELERY_BROKER_TRANSPORT_OPTIONS["confirm_publish"] = True
else:
    # Redis redelivers an unacknowledged task after the visibility timeout: minutes, not the
    # default hour, so a killed worker's tasks come back soon (idempotency rests on the
    # database).
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env_int(
        "CELERY_VISIBILITY_TIMEOUT", 300)
    # A free worker process takes customers' texts and replies before batches of sends.
    CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] = (
        "cpaas.queue_order:InteractiveFirst")
CELERY_TASK_DEFAULT_QUEUE = "default"
# Celery's Django fixup closes every database connection before and after each task unless
# this is set: a new PostgreSQL backend per task, which also rebuilds its catalog caches on
# its first statement against each table, held a customer's text for 20 ms before its
# processing began. With it, the fixup closes them once per this many tasks, and
# cpaas/celery.py closes them as Django does after a request (CONN_MAX_AGE, errors).
CELERY_DB_REUSE_MAX = 10000
# Queues the worker consumes; tasks are routed to them by name as the pipelines land.
WORKER_QUEUES = ("default", "inbound", "outbound", "bulk", "retries", "webhooks")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# AMQP heartbeats, in seconds: how soon RabbitMQ notices a worker host that vanished without
# closing its connection (a cut link) and hands its unacknowledged tasks to the others.
CELERY_BROKER_HEARTBEAT = env_int("CELERY_BROKER_HEARTBEAT", 60)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# How long a stopping `make run` gives each process to finish what it holds (a worker's
# tasks in hand, gunicorn's requests) before its process group is stopped.
STOP_GRACE_SECONDS = env_int("STOP_GRACE_SECONDS", 30)
# A message left in `sending` this long belongs to a worker that died
# (docs/ARCHITECTURE.md#outbound-pipeline).
SEND_STUCK_AFTER_SECONDS = env_int("SEND_STUCK_AFTER_SECONDS", 60)
# Routes with failover (docs/ARCHITECTURE.md#routing): this many transient failures of a
# connection within the window open its breaker, and routes skip it for the cool-down; then
# one trial message decides whether it is back.
ROUTE_BREAKER_FAILURES = env_int("ROUTE_BREAKER_FAILURES", 5)
ROUTE_BREAKER_WINDOW_SECONDS = env_int("ROUTE_BREAKER_WINDOW_SECONDS", 60)
ROUTE_BREAKER_COOLDOWN_SECONDS = env_int("ROUTE_BREAKER_COOLDOWN_SECONDS", 30)
# With Redis away, a process recompiles its routes this often instead of on every change.
ROUTE_TABLE_TTL_SECONDS = 5
# How long a message may wait for its task before the sweep re-enqueues it.
SWEEP_GRACE_SECONDS = env_int("SWEEP_GRACE_SECONDS", 20)
# Loop protection: automatic replies (rules, help, out-of-office) per contact per hour.
AUTO_REPLY_LIMIT_PER_HOUR = env_int("AUTO_REPLY_LIMIT_PER_HOUR", 5)
# Secrets at rest (provider credentials, signing secrets): the first key encrypts, all
# decrypt, so rotating means putting a new key first (cpaas/secrets.py).
FIELD_ENCRYPTION_KEYS = [key.strip() for key in
                         (os.environ.get("FIELD_ENCRYPTION_KEYS") or SECRET_KEY).split(",")]
# A request body read whole (an API request's, a form's) may be this large: the largest
# upload the API takes (a list import's 20 MB file) with room for its other fields. Larger:
# the API answers 413 payload_too_large (core/api_errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 21 * 1024 * 1024
# Provider webhooks larger than this are refused (413) before their body is read.
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 64 * 1024)
# API requests per second per key (or signed-in user); a burst of as many is allowed.
API_THROTTLE_RATE = env_int("API_THROTTLE_RATE", 100)
# The public join forms of subscription lists: sign-ups per hour from one address, and
# for one phone number (each may text a confirmation).
JOIN_FORM_PER_IP_PER_HOUR = env_int("JOIN_FORM_PER_IP_PER_HOUR", 30)
JOIN_FORM_PER_PHONE_PER_HOUR = env_int("JOIN_FORM_PER_PHONE_PER_HOUR", 3)
# Event webhooks: seconds before each retry of a failed delivery. Standard Webhooks'
# schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): 8 attempts over about 27.6 hours.
EVENT_WEBHOOK_RETRY_DELAYS = env_int_list("EVENT_WEBHOOK_RETRY_DELAYS",
                                          "5,300,1800,7200,18000,36000,36000")
# Usage counters (docs/ARCHITECTURE.md#metering); off only to measure what they cost.
METERING_ENABLED = env_bool("METERING_ENABLED", True)
# `/metrics` answers only `Authorization: Bearer <this>`; unset, it answers nobody.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
CELERY_BEAT_SCHEDULE = {
    # Re-enqueue messages whose task was lost (broker outage, killed worker):
    # docs/ARCHITECTURE.md#the-sweeper.
    "messages-sweep": {"task": "messaging.tasks.messages_sweep",
                       "schedule": float(env_int("SWEEP_INTERVAL_SECONDS", 15))},
    # Mark survey sessions abandoned past their survey's expiry (answers never wait for it).
    "survey-sessions-expire": {"task": "messaging.tasks.sessions_expire",
                               "schedule": 60.0},
    # Forget old webhook deliveries and forwards, with their attempt logs.
    "delivery-logs-prune": {"task": "messaging.tasks.delivery_logs_prune",
                            "schedule": 3600.0},
}
# How long finished event-webhook deliveries and forwards (and their logs) are kept.
DELIVERY_LOG_RETENTION_DAYS = env_int("DELIVERY_LOG_RETENTION_DAYS", 30)

# --- Accounts -------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    # PBKDF2 costs ~1.5 s per hash on the target machines
    # (docs/ARCHITECTURE.md#measured-constraints).
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"  # a path: it must resolve on the public and tenant hosts alike
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = os.environ.get("MFA_TOTP_ISSUER", "SMS portal")
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7)
# Public signups per client IP per hour (0: no limit); each one clones a whole schema.
# allauth's own signup is closed, so its "signup" limit serves the public one.
SIGNUP_LIMIT_PER_HOUR = env_int("SIGNUP_LIMIT_PER_HOUR", 10)
ACCOUNT_RATE_LIMITS = {"signup": f"{SIGNUP_LIMIT_PER_HOUR}/h/ip" if SIGNUP_LIMIT_PER_HOUR else ""}

# --- Email ----------------------------------------------------------------------------------

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"no-reply@{BASE_DOMAIN}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- HTTP hardening (production mode only; `make run` serves plain HTTP) --------------------

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = PRODUCTION and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = [
    origin.strip() for origin in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = TESTING

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},
}

if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
