"""Shared by bench/load.py and bench/faults.py: a production-like set-up and simulated people.

The set-up is the README's "Running in production", on loopback:

- PostgreSQL: a database of the bench's own (`billing_admin_load`, `billing_admin_faults`), dropped,
  created, migrated and seeded by the script (users created directly, engine data from
  `billing_engine.demo.seed_engine_demo`, or the bench's own contracts if the demo is unusable);
- Redis: one database number of the bench's own, flushed first (shared cycle cache across workers);
- the Zenskar stand-in (`tests/fakes/zenskar_standin.py`) in this process, on a free port, with a
  configurable latency, speaking the Zenskar wire over the engine's tables in the same database;
- gunicorn `billing_admin.wsgi -c gunicorn.conf.py` with GUNICORN_WORKERS=2, DJANGO_DEBUG=false,
  JSON logs to a file (one line per request and per backend call, with the request id), static
  files collected into a temporary directory and served by whitenoise.

The people are threads, each with its own httpx client (cookie jar, CSRF token from the page,
redirects followed as a browser does). Every request is recorded with its step, latency, status
and request ids; expected business refusals (a cycle someone else just took, an invoice already
decided) are counted apart from errors (5xx, transport failures, anything unexpected).

Everything started is stopped on exit, including Ctrl-C, exceptions and the hard timeout (a
watchdog thread that tears down and exits if the main thread overruns).
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

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


# --- seeding --------------------------------------------------------------------------------
@dataclass
class Seed:
    users: dict[str, list[str]]  # role -> usernames
    search_terms: list[str]
    contracts: int
    engine_summary: str
    engine_invoices_before: set[str]
    history_pages: bool


def seed(*, clerks: int, managers: int, auditors: int, bare: int) -> Seed:
    """Migrate, collect static files, create the bench's users and the engine's contracts."""
    from django.core.management import call_command
    from django.urls import Resolver404, resolve

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    try:
        resolve("/history/")
        resolve("/history/export.csv")
        history = True
    except Resolver404:
        history = False
    users = _seed_users(clerks, managers, auditors, bare, history=history)
    summary, contracts = _seed_engine()
    from billing_engine.models import Contract, EngineInvoice

    terms = _search_terms(Contract.objects.values_list("name", flat=True))
    before = {str(pk) for pk in EngineInvoice.objects.values_list("pk", flat=True)}
    return Seed(users, terms, contracts, summary, before, history)


def _seed_users(clerks, managers, auditors, bare, *, history: bool) -> dict[str, list[str]]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from invoices import roles

    User = get_user_model()
    hashed = make_password(PASSWORD)  # one PBKDF2 run, shared by every bench user
    groups = {g.name: g for g in Group.objects.all()}
    plan = {
        "clerk": (clerks, [roles.CLERKS]),
        "manager": (managers, [roles.MANAGERS]),
        # Without the history pages, the auditors read the approvals and "my invoices" pages,
        # which need the clerk and manager roles (they never submit or decide anything).
        "auditor": (auditors, [roles.AUDITORS] if history else [roles.CLERKS, roles.MANAGERS]),
        "bare": (bare, []),
    }
    made: dict[str, list[str]] = {}
    for role, (count, group_names) in plan.items():
        made[role] = []
        for number in range(1, max(count, 1) + 1):
            username = f"{USER_PREFIX}{role}{number:02d}"
            user = User.objects.create(
                username=username,
                password=hashed,
                first_name=role.capitalize(),
                last_name=f"{number:02d}",
                email=f"{username}@bench.example.com",
            )
            user.groups.set([groups[name] for name in group_names])
            made[role].append(username)
    User.objects.create(username="bench_bare", password=hashed)
    return made


def _seed_engine() -> tuple[str, int]:
    from django.db import transaction

    from billing_engine.models import Contract

    summary = ""
    try:
        from billing_engine.demo import seed_engine_demo

        with transaction.atomic():
            summary = seed_engine_demo() or ""
    except Exception as exc:
        summary = f"seed_engine_demo failed ({type(exc).__name__}: {exc}); "
    count = Contract.objects.count()
    if count < 20:
        made = _bench_contracts(60)
        summary += f"demo has {count} contracts: created {made} bench contracts."
        count = Contract.objects.count()
    return summary.strip(), count


def _bench_contracts(count: int) -> int:
    """Contracts in the style of tests/engine/factories.py, if the demo data is unusable."""
    from datetime import date
    from decimal import Decimal

    from billing_engine.models import Contract, Customer, Phase, Pricing, Product

    rng = random.Random(9)
    seats, _ = Product.objects.get_or_create(
        sku="BENCH-SEAT", defaults={"name": "Seats", "description": "Named users"}
    )
    platform, _ = Product.objects.get_or_create(
        sku="BENCH-PLAT", defaults={"name": "Platform fee", "description": "Hosted platform"}
    )
    names = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware"]
    for i in range(count):
        customer = Customer.objects.create(
            account_number=900000 + i,
            name=f"{names[i % len(names)]} Bench {i:03d} Ltd",
            contact_name="Bench Contact",
            email=f"billing{i}@bench.example.com",
            street1="1 Bench Road",
            city="Bristol",
            zip="BS1 5TY",
            country="GB",
        )
        start = date(2025, 1 + i % 12, 1 + i % 28)
        contract = Contract.objects.create(
            customer=customer,
            name=f"{names[i % len(names)]} platform {i:03d}",
            status="active",
            currency=("USD", "EUR", "GBP")[i % 3],
            start_date=start,
            end_date=None,
            cadence="P1M",
            billing_cycle_start_day=(1, 15, 28, 31)[i % 4],
            in_advance=i % 2 == 0,
        )
        phase = Phase.objects.create(
            contract=contract, name="Active", phase_type="active", start_date=start
        )
        Pricing.objects.create(
            phase=phase,
            product=platform,
            pricing_type="flat_fee",
            unit_amount_minor=rng.randint(100, 900) * 100,
            quantity=Decimal(1),
            tiers=[],
            start_date=start,
        )
        Pricing.objects.create(
            phase=phase,
            product=seats,
            pricing_type="per_unit",
            unit_amount_minor=2500,
            quantity=Decimal(rng.randint(5, 80)),
            tiers=[],
            start_date=start,
            unit="seat",
        )
    return count


def _search_terms(names: Iterable[str]) -> list[str]:
    """Words people would type: the first word of customers' names and words of plan names."""
    terms: set[str] = set()
    for name in names:
        words = re.findall(r"[A-Za-z]{4,}", name)
        if words:
            terms.add(words[0].lower())
        if ":" in name:
            plan = re.findall(r"[A-Za-z]{4,}", name.split(":", 1)[1])
            if plan:
                terms.add(plan[0].lower())
    return sorted(terms) or [""]


# --- the stand-in ---------------------------------------------------------------------------
class Standin:
    """The Zenskar stand-in in this process. Its latency can be changed; approvals can be held
    (an extra pause before the stand-in handles `PATCH .../approve`, with the caller's port
    known, so a drill can find the gunicorn worker waiting for it); and it can go down -- the
    listening socket and every open connection closed, so calls are refused or cut off -- and
    come back on the same port."""

    def __init__(self, latency_s: float):
        from pytest_httpserver import HTTPServer

        from tests.fakes.zenskar_standin import register_zenskar

        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.access = register_zenskar(self.server, latency_s=latency_s)
        self.approval_hold_s = 0.0
        self.held: dict[int, tuple[int, str]] = {}  # id -> (caller's port, path)
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet = weakref.WeakSet()
        for handler in list(self.server.handlers):
            if handler.matcher.method == "PATCH":
                handler.request_handler = self._held(handler.request_handler)
        self.up()
        self.port = self.server.port

    def _held(self, respond):
        def handle(request):
            hold = self.approval_hold_s
            if hold:
                key = id(request)
                port = int(request.environ.get("REMOTE_PORT") or 0)
                with self._lock:
                    self.held[key] = (port, request.path)
                try:
                    time.sleep(hold)
                finally:
                    with self._lock:
                        self.held.pop(key, None)
            return respond(request)

        return handle

    def held_now(self) -> list[tuple[int, str]]:
        with self._lock:
            return list(self.held.values())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.server.is_running()

    def set_latency(self, seconds: float) -> None:
        self.access.latency_s = seconds

    def up(self) -> None:
        if self.server.is_running():
            return
        self.server.start()
        listening = self.server.server
        accept = listening.process_request

        def process_request(connection, client_address):
            self._connections.add(connection)
            return accept(connection, client_address)

        listening.process_request = process_request

    def down(self) -> None:
        if not self.server.is_running():
            return
        listening = self.server.server
        self.server.stop()
        listening.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handler_errors(self) -> list[str]:
        return [f"{type(e).__name__}: {e}" for e in getattr(self.server, "handler_errors", [])]

    def trim_log(self) -> None:
        """pytest-httpserver keeps every exchange; drop them now and then."""
        with contextlib.suppress(Exception):
            self.server.clear_log()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.down()


def pid_with_local_port(port: int, pids: Iterable[int]) -> int | None:
    """Which of `pids` owns the loopback TCP socket whose local port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{parts[9]}]")
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return pid
    return None


# --- gunicorn -------------------------------------------------------------------------------
class Gunicorn:
    def __init__(self, config: Config, env: dict[str, str]):
        self.config = config
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.err_path = config.workdir / "gunicorn.log"
        self.out_path = config.workdir / "gunicorn.stdout"

    def start(self, timeout: float = 60) -> None:
        err = open(self.err_path, "ab")  # noqa: SIM115 - the child keeps it
        out = open(self.out_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(GUNICORN), "billing_admin.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        err.close()
        out.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.get(f"{self.config.base_url}/healthz", timeout=2)
                if reply.status_code == 200 and len(self.worker_pids()) >= self.config.workers:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout:.0f} s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.err_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the master (graceful), SIGKILL to its whole process group if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def run_manage(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    """`manage.py <args>` as the operator runs it (the same environment as the app)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    # The app logs JSON lines on stderr; keep what a person would read.
    kept = [line for line in output.splitlines() if not line.startswith('{"time"')]
    return done.returncode, "\n".join(kept)


# --- life cycle -----------------------------------------------------------------------------
class Teardown:
    """Stops what was started, in reverse order, once; also from signals and the watchdog."""

    def __init__(self):
        self._steps: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._done = False

    def add(self, name: str, step: Callable[[], None]) -> None:
        self._steps.append((name, step))

    def run(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            for name, step in reversed(self._steps):
                try:
                    step()
                except Exception as exc:
                    print(f"teardown: {name} failed: {exc}", file=sys.stderr, flush=True)


class Watchdog:
    """Tears everything down and exits if the whole run takes longer than `seconds`."""

    def __init__(self, seconds: float, teardown: Teardown):
        self.seconds = seconds
        self._cancelled = threading.Event()
        self._teardown = teardown
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def _watch(self) -> None:
        if self._cancelled.wait(self.seconds):
            return
        print(
            f"\nHARD TIMEOUT: the run exceeded {self.seconds:.0f} s; stopping everything.",
            file=sys.stderr,
            flush=True,
        )
        self._teardown.run()
        os._exit(3)

    def cancel(self) -> None:
        self._cancelled.set()


def install_signal_handlers() -> None:
    """Ctrl-C, SIGTERM and SIGHUP (even if inherited as ignored): the main thread unwinds
    through its `finally`, which stops everything."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


# --- recording ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    step: str
    role: str
    t: float  # seconds since the recorder's start, when the request started
    ms: float
    status: int | None  # None: transport error
    outcome: str  # ok | refused | error
    kind: str = ""  # for errors: 5xx | transport | unexpected
    friendly: bool = True  # a 5xx that shows a clear message (not the generic 500 page)
    snippet: str = ""
    rids: tuple[str, ...] = ()


class Recorder:
    def __init__(self):
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self.samples: list[Sample] = []
        self.submitted: list[int] = []  # invoice ids whose submission the clerk saw succeed
        self.approved: list[int] = []  # invoice ids whose approval the manager saw succeed
        self.rejected: list[int] = []

    def restart(self) -> None:
        with self._lock:
            self.t0 = time.monotonic()
            self.samples = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def note(self, kind: str, invoice_id: int) -> None:
        with self._lock:
            getattr(self, kind).append(invoice_id)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)


_TAG = re.compile(r"<[^>]+>")
_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</div>', re.S)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def snippet_of(response: httpx.Response) -> tuple[str, bool]:
    """(a short text of what the person saw, whether it was a clear message)."""
    body = response.text
    if "Something went wrong on our side" in body:
        return "generic 500 page: Something went wrong on our side", False
    alert = _ALERT.search(body)
    if alert:
        return _text(alert.group(1))[:220], True
    preview = re.search(r'<section id="preview".*?</h2>(.*?)</p>', body, re.S)
    if preview:
        return _text(preview.group(1))[:220], True
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    if title:
        return _text(title.group(1))[:220], response.status_code < 500
    return _text(body)[:220] or f"(empty {response.status_code} body)", False


class Browser:
    """One person's browser: a cookie jar, redirects followed, every request recorded."""

    def __init__(self, base_url: str, recorder: Recorder, role: str, timeout: float = 30):
        self.recorder = recorder
        self.role = role
        self.client = httpx.Client(
            base_url=base_url,
            follow_redirects=True,
            timeout=httpx.Timeout(timeout, connect=5),
            headers={"User-Agent": "billing-admin-bench/1"},
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        step: str,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        ok: tuple[int, ...] = (200,),
        refused: tuple[int, ...] = (),
    ) -> httpx.Response | None:
        started = self.recorder.now()
        t = time.perf_counter()
        try:
            response = self.client.request(method, url, params=params, data=data)
        except httpx.HTTPError as exc:
            self.recorder.add(
                Sample(
                    step,
                    self.role,
                    started,
                    (time.perf_counter() - t) * 1000,
                    None,
                    "error",
                    "transport",
                    False,
                    f"{type(exc).__name__}: {exc}"[:220],
                )
            )
            return None
        ms = (time.perf_counter() - t) * 1000
        status = response.status_code
        rids = tuple(r.headers.get("x-request-id", "") for r in (*response.history, response))
        signed_out = step not in ("sign in", "login page") and response.url.path.startswith(
            "/accounts/login"
        )
        if status in ok and not signed_out:
            outcome, kind, friendly, text = "ok", "", True, ""
        elif status in refused:
            text, friendly = snippet_of(response)
            outcome, kind = "refused", ""
        else:
            text, friendly = snippet_of(response)
            if signed_out:
                text = "sent to the sign-in page (session lost): " + text
            outcome, kind = "error", ("5xx" if status >= 500 else "unexpected")
        self.recorder.add(
            Sample(step, self.role, started, ms, status, outcome, kind, friendly, text, rids)
        )
        return response

    def get(self, step: str, url: str, **kw) -> httpx.Response | None:
        return self.request(step, "GET", url, **kw)

    def post(self, step: str, url: str, data: dict, **kw) -> httpx.Response | None:
        return self.request(step, "POST", url, data=data, **kw)


# --- reading pages --------------------------------------------------------------------------
_INPUT = re.compile(r"<input\b[^>]*>", re.S)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def form_fields(page: str, action: str) -> dict[str, str] | None:
    """The hidden fields (and CSRF token) of the form posting to `action`, or None."""
    match = re.search(
        r'<form\b[^>]*\baction="' + re.escape(action) + r'"[^>]*>(.*?)</form>', page, re.S
    )
    if not match:
        return None
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(match.group(1)):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
        elif attrs.get("type") == "checkbox" and "name" in attrs:
            fields[f"checkbox:{attrs['name']}"] = "on"
    return fields


def link_params(page: str, *required: str) -> list[dict[str, str]]:
    """Query parameters of every `href="?..."` link that has all of `required`."""
    found = []
    for href in re.findall(r'href="(\?[^"]*)"', page):
        query = parse_qs(urlsplit(html.unescape(href)).query)
        params = {k: v[0] for k, v in query.items()}
        if all(name in params for name in required):
            found.append(params)
    return found


def inbox_rows(page: str) -> list[tuple[int, str]]:
    """(invoice id, status) of each row of the approvals inbox."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        link = re.search(r'href="/invoices/(\d+)/"', row)
        status = re.search(r'class="badge status-([a-z_]+)"', row)
        if link and status:
            rows.append((int(link.group(1)), status.group(1)))
    return rows


# --- the people -----------------------------------------------------------------------------
@dataclass
class Plan:
    think_s: float = 1.0  # mean pause between steps (uniform 0.5x-1.5x)
    reject_share: float = 0.2
    search_terms: list[str] = field(default_factory=lambda: [""])
    history: bool = True
    # > 0: each person signs in again once, at a random moment `sign_in_from` to
    # `sign_in_from + sign_in_spread` seconds into the work (a fresh browser: someone
    # arriving), so sign-ins arrive spread over the run instead of all at once.
    sign_in_spread: float = 0.0
    sign_in_from: float = 0.0


class Person(threading.Thread):
    role = "person"

    def __init__(self, number, base_url, recorder, username, plan: Plan, go, stop, seed):
        super().__init__(name=f"{self.role}-{number}", daemon=True)
        self.browser = Browser(base_url, recorder, self.role)
        self.recorder = recorder
        self.username = username
        self.plan = plan
        self.go = go
        self.stop = stop
        self.rng = random.Random(seed)
        self.signed_in = threading.Event()
        self.crashed = ""

    def think(self, factor: float = 1.0) -> None:
        if self.plan.think_s > 0:
            self.stop.wait(self.plan.think_s * factor * self.rng.uniform(0.5, 1.5))

    def sign_in(self) -> bool:
        b = self.browser
        page = b.get("login page", "/accounts/login/")
        fields = form_fields(page.text, "/accounts/login/") if page is not None else None
        if fields is None:
            return False
        fields.update(username=self.username, password=PASSWORD, next="/")
        reply = b.post("sign in", "/accounts/login/", fields)
        return reply is not None and reply.status_code == 200 and reply.url.path == "/"

    def run(self) -> None:
        try:
            if self.role != "bare":
                for _ in range(3):
                    if self.sign_in() or self.stop.is_set():
                        break
                    self.stop.wait(1)
            self.signed_in.set()
            self.go.wait()
            began = time.monotonic()
            plan = self.plan
            arrive_at = plan.sign_in_from + self.rng.uniform(0, plan.sign_in_spread)
            arrived = self.role == "bare" or not self.plan.sign_in_spread
            # People do not all click at the same instant: start somewhere in the first pauses.
            self.stop.wait(self.rng.uniform(0, 2 * self.plan.think_s))
            while not self.stop.is_set():
                if not arrived and time.monotonic() - began >= arrive_at:
                    arrived = True
                    self.browser.client.cookies.clear()  # a fresh browser
                    self.sign_in()
                    self.think()
                    continue
                self.iteration()
        except Exception as exc:  # a bench bug must show, not hang the run
            self.crashed = f"{type(exc).__name__}: {exc}"
        finally:
            self.signed_in.set()
            self.browser.close()

    def iteration(self) -> None:
        raise NotImplementedError


class Clerk(Person):
    """Search, open a contract, preview a cycle, submit it."""

    role = "clerk"

    def iteration(self) -> None:
        b = self.browser
        q = self.rng.choice(self.plan.search_terms)
        page = b.get("search", "/invoices/new/", params={"q": q})
        if page is None or page.status_code != 200:
            return self.think()
        contracts = sorted({p["contract"] for p in link_params(page.text, "contract")})
        self.think()
        if not contracts or self.stop.is_set():
            return None
        contract = self.rng.choice(contracts)
        page = b.get("open contract", "/invoices/new/", params={"contract": contract})
        if page is None or page.status_code != 200:
            return self.think()
        cycles = [p["cycle"] for p in link_params(page.text, "contract", "cycle")]
        self.think()
        if not cycles or self.stop.is_set():
            return None
        cycle = self.rng.choice(cycles)
        page = b.get("preview", "/invoices/new/", params={"contract": contract, "cycle": cycle})
        fields = form_fields(page.text, "/invoices/new/submit") if page is not None else None
        self.think()
        if not fields or self.stop.is_set():
            return None
        if fields.pop("checkbox:confirm_empty", None):
            fields["confirm_empty"] = "on"  # the clerk checked the zero total and confirms
        reply = b.post("submit", "/invoices/new/submit", fields, refused=(409, 422))
        if reply is not None and reply.status_code == 200:
            found = re.match(r"^/invoices/(\d+)/$", reply.url.path)
            if found:
                self.recorder.note("submitted", int(found.group(1)))
        self.think()
        return None


class Manager(Person):
    """Open the approvals inbox, open a pending invoice, approve it (or reject with a reason)."""

    role = "manager"

    def iteration(self) -> None:
        b = self.browser
        page = b.get("approvals inbox", "/approvals/")
        if page is None or page.status_code != 200:
            return self.think()
        pending = [pk for pk, status in inbox_rows(page.text) if status == "pending_approval"]
        self.think(0.5)
        if not pending or self.stop.is_set():
            return self.think()
        pk = self.rng.choice(pending[:8])
        page = b.get("invoice page", f"/invoices/{pk}/")
        if page is None or page.status_code != 200:
            return self.think()
        approve = form_fields(page.text, f"/invoices/{pk}/approve")
        reject = form_fields(page.text, f"/invoices/{pk}/reject")
        self.think()
        if approve is None or self.stop.is_set():
            return None  # someone else decided it meanwhile; back to the inbox
        if reject is not None and self.rng.random() < self.plan.reject_share:
            reject["reason"] = "Seat count does not match the signed order form; please check."
            reply = b.post("reject", f"/invoices/{pk}/reject", reject, refused=(409,))
            if reply is not None and reply.status_code == 200:
                self.recorder.note("rejected", pk)
        else:
            reply = b.post("approve", f"/invoices/{pk}/approve", approve, refused=(409,))
            if reply is not None and reply.status_code == 200:
                self.recorder.note("approved", pk)
        self.think()
        return None


class Auditor(Person):
    """Page through history and export CSV (or, without history pages, read the lists)."""

    role = "auditor"

    def iteration(self) -> None:
        b = self.browser
        if not self.plan.history:
            page = b.get("approvals (read)", "/approvals/")
            self.think()
            ids = [pk for pk, _ in inbox_rows(page.text)] if page is not None else []
            if ids and not self.stop.is_set():
                b.get("invoice page (read)", f"/invoices/{self.rng.choice(ids)}/")
                self.think()
            if not self.stop.is_set():
                b.get("my invoices (read)", "/invoices/mine/")
                self.think()
            return
        page = b.get("history", "/history/")
        self.think()
        for _ in range(2):  # the next two (older) pages, as the pager links them
            if page is None or page.status_code != 200 or self.stop.is_set():
                break
            older = _NEXT.search(page.text)
            if older is None:
                break
            page = b.get("history next page", html.unescape(older.group(1)))
            self.think()
        if not self.stop.is_set() and self.rng.random() < 0.34:
            b.get("history export", "/history/export.csv")
            self.think()


_NEXT = re.compile(r'<a href="(/history/[^"]*)"[^>]*rel="next"')


class Bare(Person):
    role = "bare"

    def iteration(self) -> None:
        self.browser.get("bare view", "/bench/bare")
        self.think()


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


@dataclass
class RunResult:
    sign_in: list[Sample]
    samples: list[Sample]
    sign_in_s: float
    run_s: float
    crashed: list[str]
    machine_cpu: float = float("nan")  # share of all cores busy during the main phase
    own_cpu_s: float = float("nan")  # CPU seconds of this process (people + stand-in) in it


def run_people(
    people: list[Person], *, duration: float, recorder: Recorder, on_tick=None
) -> RunResult:
    """Sign everyone in (concurrently), then let them work for `duration` seconds."""
    go, stop = people[0].go, people[0].stop
    started = time.monotonic()
    try:
        for person in people:
            person.start()
            time.sleep(0.05)
        for person in people:
            person.signed_in.wait(120)
        signed_in_s = time.monotonic() - started
        sign_in = recorder.snapshot()
        recorder.restart()
        cpu_before = cpu_times()
        own_before = time.process_time()
        go.set()
        began = time.monotonic()
        while time.monotonic() - began < duration:
            time.sleep(min(0.2, max(0.0, duration - (time.monotonic() - began))))
            if on_tick is not None:
                on_tick(time.monotonic() - began)
    finally:
        stop.set()
        go.set()
        deadline = time.monotonic() + 40  # the longest request timeout, once for everyone
        for person in people:
            person.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - began
    cpu_after = cpu_times()
    own = time.process_time() - own_before
    busy = (cpu_after[0] - cpu_before[0]) / max(1.0, cpu_after[1] - cpu_before[1])
    crashed = [f"{p.name}: {p.crashed}" for p in people if p.crashed]
    for line in crashed:
        log(f"PERSON CRASHED {line}")
    return RunResult(sign_in, recorder.snapshot(), signed_in_s, elapsed, crashed, busy, own)


def cast(
    *,
    counts: dict[str, int],
    users: dict[str, list[str]],
    base_url: str,
    recorder: Recorder,
    plan: Plan,
    seed: int = 1,
) -> list[Person]:
    kinds = {"clerk": Clerk, "manager": Manager, "auditor": Auditor, "bare": Bare}
    go, stop = threading.Event(), threading.Event()
    people: list[Person] = []
    for role, count in counts.items():
        for i in range(count):
            username = users[role][i % len(users[role])]
            people.append(
                kinds[role](
                    i + 1, base_url, recorder, username, plan, go, stop, seed * 1000 + len(people)
                )
            )
    return people


def split_people(total: int) -> dict[str, int]:
    """Half clerks, three in ten managers, the rest auditors (at least one of each)."""
    total = max(total, 3)
    clerks = max(1, round(total * 0.5))
    managers = max(1, round(total * 0.3))
    auditors = max(1, total - clerks - managers)
    while clerks + managers + auditors > total:
        clerks -= 1
    return {"clerk": clerks, "manager": managers, "auditor": auditors}


# --- the server's side: the app's JSON request log ------------------------------------------
@dataclass
class ServerSide:
    ms: float = 0.0
    backend_calls: int = 0
    backend_ms: float = 0.0
    status: int | None = None
    calls: list[tuple[float, float]] = field(default_factory=list)  # (start, end), epoch s

    @property
    def backend_wall_ms(self) -> float:
        """Time spent waiting for the backend (calls at the same time counted once)."""
        total, current = 0.0, None
        for start, end in sorted(self.calls):
            if current is None or start > current[1]:
                if current is not None:
                    total += current[1] - current[0]
                current = [start, end]
            else:
                current[1] = max(current[1], end)
        if current is not None:
            total += current[1] - current[0]
        return total * 1000

    @property
    def round_trips(self) -> int:
        """Backend calls one after the other: calls whose times overlap count once."""
        trips, busy_until = 0, float("-inf")
        for start, end in sorted(self.calls):
            if start >= busy_until:
                trips += 1
                busy_until = end
            else:
                busy_until = max(busy_until, end)
        return trips


def _log_time(text: str) -> float | None:
    """Epoch seconds of a JSON log line's time (to the millisecond)."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        with contextlib.suppress(ValueError, TypeError):
            return datetime.strptime(text, pattern).timestamp()
    return None


def read_server_log(path: Path) -> dict[str, ServerSide]:
    """Per request id: the app's own duration and its backend calls (count and time)."""
    found: dict[str, ServerSide] = defaultdict(ServerSide)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        rid = record.get("request_id")
        if not rid or rid == "-":
            continue
        if record.get("logger") == "billing_admin.request":
            found[rid].ms = float(record.get("duration_ms") or 0)
            found[rid].status = record.get("status")
        elif record.get("logger") == "invoices.backends":
            ms = float(record.get("duration_ms") or 0)
            found[rid].backend_calls += 1
            found[rid].backend_ms += ms
            end = _log_time(record.get("time"))  # logged when the call returned
            if end is not None:
                found[rid].calls.append((end - ms / 1000, end))
    return dict(found)


def server_errors(path: Path) -> list[str]:
    """ERROR lines (tracebacks' first lines) the app or gunicorn logged."""
    out = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("level") in ("ERROR", "CRITICAL"):
                    exc = (record.get("exc") or "").strip().splitlines()
                    out.append(
                        f"{record.get('message', '')[:160]} | {exc[-1][:200] if exc else ''}"
                    )
        elif "[ERROR]" in line or "[CRITICAL]" in line:
            out.append(line.strip()[:240])
    return out


# --- statistics and tables ------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class StepStats:
    step: str
    count: int
    rate: float
    p50: float
    p95: float
    p99: float
    refused: int
    errors: int
    server_p95: float
    backend_calls: float
    backend_ms: float
    round_trips: float = float("nan")  # mean backend round trips one after the other
    round_trips_max: int = 0
    own_p95: float = float("nan")  # the app's own time: its duration minus backend waits


def step_stats(
    samples: list[Sample], seconds: float, server: dict[str, ServerSide]
) -> dict[str, StepStats]:
    by_step: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_step[sample.step].append(sample)
    result = {}
    for step, group in by_step.items():
        latencies = [s.ms for s in group if s.status is not None]
        srv, calls, bms, trips, own = [], [], [], [], []
        for s in group:
            sides = [server[r] for r in s.rids if r in server]
            if sides:
                srv.append(sum(x.ms for x in sides))
                calls.append(sum(x.backend_calls for x in sides))
                bms.append(sum(x.backend_ms for x in sides))
                trips.append(sum(x.round_trips for x in sides))
                own.append(sum(x.ms - x.backend_wall_ms for x in sides))
        result[step] = StepStats(
            step=step,
            count=len(group),
            rate=len(group) / seconds if seconds else 0.0,
            p50=percentile(latencies, 50),
            p95=percentile(latencies, 95),
            p99=percentile(latencies, 99),
            refused=sum(1 for s in group if s.outcome == "refused"),
            errors=sum(1 for s in group if s.outcome == "error"),
            server_p95=percentile(srv, 95),
            backend_calls=statistics.fmean(calls) if calls else float("nan"),
            backend_ms=statistics.fmean(bms) if bms else float("nan"),
            round_trips=statistics.fmean(trips) if trips else float("nan"),
            round_trips_max=max(trips, default=0),
            own_p95=percentile(own, 95),
        )
    return result


def table(headers: list[str], rows: list[list[str]], right: Iterable[int] = ()) -> str:
    right = set(right)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.{digits}f}"
