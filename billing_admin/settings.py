"""Billing Admin settings: one module, every knob from the environment (django-environ).

Every variable read here is documented in `.env.example` and in the README. Defaults are the safe,
production ones; `make run` and `manage.py seed_demo` turn on what the local demo needs.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; real environment variables always win over it.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# --- Core -----------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Commands that only read the code: they never serve, sign anything or need a host name, so a bare
# checkout (CI, a pre-commit hook) can ask `makemigrations --check` without production settings.
# Everything else, from runserver and migrate to gunicorn, still refuses to start without them.
CODE_ONLY_COMMAND = sys.argv[1:2] == ["makemigrations"]

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and not CODE_ONLY_COMMAND:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. It is required when DJANGO_DEBUG is off: set it to a "
            "long random string (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or set "
            "DJANGO_DEBUG=true for local development."
        )
    SECRET_KEY = "django-insecure-local-development-only-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS and not CODE_ONLY_COMMAND:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is empty. With DJANGO_DEBUG off, list the host names this site is "
        "served under, comma-separated (for example billing.example.com)."
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "billing_admin.apps.BillingAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "billing_engine",
    "invoices",
    "documents",
    "policies",
    "billruns",
]

MIDDLEWARE = [
    "billing_admin.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "billing_admin.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "billing_admin.urls"
# Where the Django admin (the auditors' read-only window) is mounted.
ADMIN_URL_PREFIX = env.str("DJANGO_ADMIN_URL", default="admin/")
WSGI_APPLICATION = "billing_admin.wsgi.application"

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
                "billing_admin.context_processors.navigation",
            ],
            "string_if_invalid": "",
        },
    }
]

# --- Database -------------------------------------------------------------------------------
# SQLite file by default (the embedded setup); PostgreSQL in production through DATABASE_URL,
# e.g. postgres://user:password@db.internal:5432/billing_admin
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so two concurrent writers queue
    # behind the busy timeout instead of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
# Per-process memory by default. In production use Redis (redis://127.0.0.1:6379/0) so every
# worker and every app server shares the billing-cycle cache and the country look-ups.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="locmemcache://billing-admin"),
    # Rendered template fragments ({% cache %}: the list pages' filter forms), kept in each
    # process's memory: never stale across a deploy (a new process starts empty), no round trip.
    "template_fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "template-fragments",
        "OPTIONS": {"MAX_ENTRIES": 500},
    },
    # Small look-ups each process keeps for seconds (the filter forms' list of accounts):
    # no round trip; see invoices.selectors.lists.ACCOUNTS_SECONDS.
    "process": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "process",
        "OPTIONS": {"MAX_ENTRIES": 100},
    },
}

# --- Authentication -------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Permissions and roles in one query a request (billing_admin/auth.py), before Django's own
    # ModelBackend, which signs people in and keeps their sessions (and answers permission
    # questions from the same per-request caches).
    "billing_admin.auth.RolesBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A delegate stands in for an absent manager (approval policies).
    "policies.delegation.DelegationBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=60 * 60 * 9)

# Failed sign-ins are throttled per (username, client IP) by django-axes; the state lives in
# the database, so every worker and app server shares it.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_HTTP_RESPONSE_CODE = 429

# --- HTTPS and proxies ----------------------------------------------------------------------
# DJANGO_HTTPS: the site is served over HTTPS (default: on unless debug). Turns on the redirect
# to HTTPS, secure cookies and HSTS. Behind a TLS-terminating proxy, also set
# DJANGO_SECURE_PROXY_SSL_HEADER=true so X-Forwarded-Proto is trusted.
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Joining the browsers' HSTS preload list is a domain-wide, hard-to-undo decision for the
# operator (DJANGO_HSTS_PRELOAD); not making it is not a warning for this site.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
# How many trusted proxies stand in front of the app (for the client IP in audit and throttle).
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if TRUSTED_PROXY_COUNT else ["REMOTE_ADDR"]
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Locale used to format money and dates for people (Babel).
BILLING_LOCALE = env.str("BILLING_LOCALE", default="en_US")

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="billing-admin@localhost")
# Notification e-mails are sent by a background task (queue "email"), never by the web process.
NOTIFICATION_RETRY_MINUTES = env.int("NOTIFICATION_RETRY_MINUTES", default=5)
# Links in notification e-mails point here.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Approval policies ----------------------------------------------------------------------
# An invoice pending longer than this reminds whoever may approve it; longer still, it is
# escalated to the members of this group. Both appear on the home page ("waiting on me").
APPROVAL_REMIND_AFTER_HOURS = env.int("APPROVAL_REMIND_AFTER_HOURS", default=24)
APPROVAL_ESCALATE_AFTER_HOURS = env.int("APPROVAL_ESCALATE_AFTER_HOURS", default=72)
APPROVAL_ESCALATION_GROUP = env.str("APPROVAL_ESCALATION_GROUP", default="Billing escalations")
# What the manager is told is unusual about a cycle invoice (invoices.flags): a total that moved
# by at least this many percent against the last approved one, a quantity that grew or shrank by
# at least this factor.
FLAG_TOTAL_CHANGE_PERCENT = env.int("FLAG_TOTAL_CHANGE_PERCENT", default=25)
FLAG_QUANTITY_JUMP_FACTOR = env.float("FLAG_QUANTITY_JUMP_FACTOR", default=2.0)

# --- Background tasks -----------------------------------------------------------------------
# Django's Tasks API. The default keeps tasks in the database (django-tasks-db): `manage.py
# db_worker` runs them, any number of workers on any number of machines. Another backend (an RQ
# backend, say) is a settings change: task code takes primary keys and reads our own tables.
TASK_QUEUES = ["default", "email", "billruns", "documents"]
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": TASK_QUEUES,
    }
}
# How often `manage.py sweep --every` settles what a crash or a lost task left behind, and how old
# an in-flight record must be before the sweep touches it (a live request may still own it).
SWEEP_SECONDS = env.int("SWEEP_SECONDS", default=60)
SWEEP_OLDER_THAN_SECONDS = env.int("SWEEP_OLDER_THAN_SECONDS", default=60)

# --- Billing backends -----------------------------------------------------------------------
BILLING_BACKEND = env.str("BILLING_BACKEND", default="embedded")
ADHOC_BACKEND = env.str("ADHOC_BACKEND", default="embedded")
ZENSKAR_BASE_URL = env.str("ZENSKAR_BASE_URL", default="https://api.zenskar.com")
ZENSKAR_API_KEY = env.str("ZENSKAR_API_KEY", default="")
ZENSKAR_ORGANISATION = env.str("ZENSKAR_ORGANISATION", default="")
REBILLIA_BASE_URL = env.str("REBILLIA_BASE_URL", default="https://api.rebillia.com/v1")
REBILLIA_API_KEY = env.str("REBILLIA_API_KEY", default="")
BACKEND_CONNECT_TIMEOUT = env.float("BACKEND_CONNECT_TIMEOUT", default=3.0)
BACKEND_READ_TIMEOUT = env.float("BACKEND_READ_TIMEOUT", default=10.0)
BACKEND_READ_RETRIES = env.int("BACKEND_READ_RETRIES", default=2)
# How long a contract's billing-cycle list is reused before it is fetched again (at most 60 s).
BILLING_CYCLE_CACHE_SECONDS = min(env.int("BILLING_CYCLE_CACHE_SECONDS", default=60), 60)


# --- Bill runs ------------------------------------------------------------------------------
# Backend calls one worker makes at once for a run (and for planning), per contract-cycle
# backend: "embedded=1,zenskar=8", or one number for every backend. A run is worked by up to
# BILLRUN_WORKERS_PER_RUN workers at once (tasks enqueued on the "billruns" queue), so a remote
# backend sees at most workers x concurrency calls from one run.
def _per_backend(name: str, default: str) -> dict[str, int]:
    text = env.str(name, default=default).strip()
    try:
        if text.isdigit():
            return {"*": int(text)}
        pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
        found = {key.strip(): int(value) for key, value in pairs}
    except ValueError:
        found = {}
    if not found or min(found.values()) < 1:
        raise ImproperlyConfigured(
            f"{name}={text!r}: write backend=number pairs such as 'embedded=1,zenskar=8' "
            "(each at least 1), or one number."
        )
    return found


BILLRUN_CONCURRENCY = _per_backend("BILLRUN_CONCURRENCY", "embedded=1,zenskar=8")
BILLRUN_WORKERS_PER_RUN = max(1, env.int("BILLRUN_WORKERS_PER_RUN", default=2))
# A worker's hold on an item: once expired (the worker died), another worker or the sweep takes
# the item back. Keep it above the longest submission (four backend calls with their timeouts).
BILLRUN_LEASE_SECONDS = env.int("BILLRUN_LEASE_SECONDS", default=120)
# A backend outage (or a 429) makes items wait and retry: BILLRUN_BACKOFF_SECONDS doubling up to
# BILLRUN_BACKOFF_MAX_SECONDS (or the Retry-After asked for), at most BILLRUN_MAX_ATTEMPTS times,
# then the item fails with the backend's message ("Retry failed items" starts again).
BILLRUN_MAX_ATTEMPTS = env.int("BILLRUN_MAX_ATTEMPTS", default=6)
BILLRUN_BACKOFF_SECONDS = env.float("BILLRUN_BACKOFF_SECONDS", default=2.0)
BILLRUN_BACKOFF_MAX_SECONDS = env.float("BILLRUN_BACKOFF_MAX_SECONDS", default=60.0)

# --- Demo -----------------------------------------------------------------------------------
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="billing-demo")

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "billing_admin.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "billing_admin.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": env.str("DJANGO_LOG_FORMAT", default="plain"),
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
