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

The code lives in modules along what it serves; this module gathers the names the scripts use,
so they keep reading `h.<name>` (`from bench import _harness as h`):

- `_harness_env.py`: constants, `log`, `Config`, `app_env`, Django in this process (and the one
  `STANDIN_ERRORS` collector), the bench's PostgreSQL and Redis databases;
- `_harness_seed.py`: migrations, static files, the bench's users and contracts (`seed`);
- `_harness_procs.py`: the stand-in (`Standin`), `Gunicorn`, `run_manage`, `Teardown`, `Watchdog`,
  the signal handlers;
- `_harness_browser.py`: `Sample`, `Recorder`, `Browser`, the reading of pages;
- `_harness_people.py`: `Plan`, the people (`Clerk`, `Manager`, `Auditor`, `Bare`), `cast`,
  `split_people`, `run_people` and its `RunResult`;
- `_harness_results.py`: the app's JSON log (`read_server_log`, `server_errors`), `step_stats`,
  `percentile`, `table`, `fmt`.
"""

from bench._harness_browser import (
    Recorder,
    Sample,
)
from bench._harness_env import (
    STANDIN_ERRORS,
    Config,
    app_env,
    ensure_postgres,
    flush_redis,
    log,
    recreate_database,
    setup_django,
)
from bench._harness_people import (
    Plan,
    RunResult,
    cast,
    run_people,
    split_people,
)
from bench._harness_procs import (
    Gunicorn,
    Standin,
    Teardown,
    Watchdog,
    install_signal_handlers,
    pid_with_local_port,
    run_manage,
)
from bench._harness_results import (
    StepStats,
    fmt,
    percentile,
    read_server_log,
    server_errors,
    step_stats,
    table,
)
from bench._harness_seed import (
    seed,
)

__all__ = [
    "STANDIN_ERRORS",
    "Config",
    "Gunicorn",
    "Plan",
    "Recorder",
    "RunResult",
    "Sample",
    "Standin",
    "StepStats",
    "Teardown",
    "Watchdog",
    "app_env",
    "cast",
    "ensure_postgres",
    "flush_redis",
    "fmt",
    "install_signal_handlers",
    "log",
    "percentile",
    "pid_with_local_port",
    "read_server_log",
    "recreate_database",
    "run_manage",
    "run_people",
    "seed",
    "server_errors",
    "setup_django",
    "split_people",
    "step_stats",
    "table",
]
