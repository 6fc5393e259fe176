"""The bench's environment (see bench/_harness.py): its constants, the app's environment as an
operator sets it, Django in this process, and the bench's PostgreSQL database and Redis database.

`STANDIN_ERRORS` is the one collector of the stand-in's server errors; `setup_django` installs it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = Path(sys.executable).parent
GUNICORN = VENV_BIN / "gunicorn"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PASSWORD = "bench-only-password-4b1d9"
SECRET_KEY = "bench-only-secret-key-not-for-production-6a3f0c9e2b7d41f8a5c0e1d2b3a4f5e6"
SETTINGS_MODULE = "bench.settings_load"
BENCH_DB_PREFIX = "billing_admin_"
USER_PREFIX = "bench_"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- environment ----------------------------------------------------------------------------
@dataclass
class Config:
    db_name: str
    redis_db: int
    workdir: Path
    port: int = field(default_factory=free_port)
    workers: int = 2
    threads: int = 4

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.db_name}"


_OWN_PREFIXES = (
    "DJANGO_",
    "DATABASE_",
    "GUNICORN_",
    "ZENSKAR_",
    "REBILLIA_",
    "BACKEND_",
    "BILLING_",
    "ADHOC_",
    "CACHE_",
    "EMAIL_",
    "NOTIFICATION_",
    "TASKS_",
    "SWEEP_",
    "SITE_URL",
    "LOGIN_",
)


def app_env(config: Config, *, standin_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """The environment an operator would set (README "Running in production"), on loopback."""
    from tests.fakes.zenskar_standin import STANDIN_API_KEY, STANDIN_ORGANISATION

    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_HTTPS": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_STATIC_ROOT": str(config.workdir / "static"),
            "DJANGO_LOG_FORMAT": "json",
            "DJANGO_LOG_LEVEL": "INFO",
            "DATABASE_URL": config.database_url,
            "CACHE_URL": f"redis://127.0.0.1:6379/{config.redis_db}",
            "BILLING_BACKEND": "zenskar",
            "ADHOC_BACKEND": "embedded",
            "ZENSKAR_BASE_URL": standin_url,
            "ZENSKAR_API_KEY": STANDIN_API_KEY,
            "ZENSKAR_ORGANISATION": STANDIN_ORGANISATION,
            "SITE_URL": config.base_url,
            "GUNICORN_WORKERS": str(config.workers),
            "GUNICORN_THREADS": str(config.threads),
            "GUNICORN_BIND": f"127.0.0.1:{config.port}",
            "GUNICORN_LOGLEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


class _Collector(logging.Handler):
    """Keeps the last line of each error the stand-in's server logs, instead of printing it."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip().splitlines()
        self.lines.append(text[-1][:200] if text else "")


STANDIN_ERRORS = _Collector()


def setup_django(config: Config) -> None:
    """Configure Django in this process (for seeding, the stand-in and the database checks)."""
    os.environ.update(app_env(config))
    import django

    django.setup()
    # This process's own logs (the stand-in's werkzeug lines, Django's) stay quiet.
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("django", "invoices", "billing_admin", "billing_engine"):
        logging.getLogger(name).setLevel(logging.WARNING)
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.handlers = [STANDIN_ERRORS]
    werkzeug.propagate = False
    werkzeug.setLevel(logging.ERROR)


def recreate_database(name: str) -> None:
    if not name.startswith(BENCH_DB_PREFIX) or not name.endswith(("_load", "_faults")):
        raise SystemExit(f"refusing to drop {name!r}: not a bench database")
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def flush_redis(db: int) -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


def ensure_postgres() -> None:
    """Start the local cluster if a previous run (or a drill) left it stopped."""
    for _ in range(30):
        try:
            with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
                return
        except OSError:
            pass
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            capture_output=True,
        )
        time.sleep(1)
    raise SystemExit("PostgreSQL does not answer on 127.0.0.1:5432")
