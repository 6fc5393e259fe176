"""The project's one settings module, loaded with the environment the test suite needs.

Only environment variables are set here (as an operator would); DATABASE_URL is left alone so the
same suite runs on SQLite (default) and on PostgreSQL (DATABASE_URL=postgres://...).
"""

import os

os.environ["DJANGO_DEBUG"] = "false"
os.environ["DJANGO_SECRET_KEY"] = "tests-only-secret-key-not-used-anywhere-else-0123456789abcdef"
os.environ["DJANGO_HTTPS"] = "false"
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
os.environ["BILLING_BACKEND"] = "embedded"
os.environ["ADHOC_BACKEND"] = "embedded"
os.environ["CACHE_URL"] = "locmemcache://tests"
os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run where they are enqueued (after commit), in the test's thread. Tests of workers and
# crashes use the database backend explicitly.
os.environ["TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

from billing_admin.settings import *  # noqa: F403

# Fast hashing for test users, and plain static storage (no collectstatic manifest in tests).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True  # serve static files from the finders; no collectstatic in tests
