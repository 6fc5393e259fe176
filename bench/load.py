"""Load benchmark: simulated people against gunicorn + PostgreSQL + Redis + a slow billing backend.

    .venv/bin/python bench/load.py [--people 20] [--duration 60] [--backend-latency-ms 100]
                                   [--think-ms 1000] [--bare-people 2] [--threads 4] [--strict]

Sets up what README "Running in production" describes, on loopback (see bench/_harness.py): its
own PostgreSQL database `billing_admin_load` (dropped, created, migrated and seeded on every run),
Redis database 13 (flushed), the Zenskar stand-in in this process with the given latency per
call, and `gunicorn billing_admin.wsgi -c gunicorn.conf.py` with GUNICORN_WORKERS=2 and
DJANGO_DEBUG=false. Passwords are hashed as in production (Django's default hasher and strength,
printed). Then:

1. the burst: every person signs in at once (reported apart: no errors, every sign-in completes);
2. for --duration seconds, half of the people are clerks (search, open a contract, preview a
   cycle, submit it), three in ten are managers (approvals inbox, invoice page, approve with the
   content hash from the page, or reject with a reason one time in five), the rest auditors
   (history pages and CSV export). Each pauses --think-ms on average (0.5x-1.5x) between steps.
   Each person also arrives once more at a random moment of the run (a fresh browser that signs
   in): sign-ins spread over the run, as people come to work. --bare-people more people request
   `/bench/bare` (one indexed query through the whole middleware stack) with the same pauses:
   the baseline, measured under the same load at the same time.

It prints the machine's speed, then one row per step: count, throughput, p50/p95/p99 latency
seen by the person (ms, redirects included), expected refusals (e.g. 409 "cycle already
invoiced"), errors (5xx, transport errors, unexpected statuses), the app's own p95 for the same
requests from its JSON log, the billing-backend calls per request and how many of them came one
after the other (round trips; calls made at the same time count once), the ratio of the step's p95
to the bare view's p95, and the step's target:

- pages that do not call the backend: p95 <= 10x the bare view's p95;
- steps that call it: p95 <= their sequential round trips x the backend latency + 100 ms, with
  the round trips the workflow needs: search 1, open contract 1, submit 2, approve 2, reject 1;
- sign-in (people arriving over the run): p95 <= 500 ms;
- the CPU that gunicorn and PostgreSQL's backends for this database used (from /proc): under 60 %
  of the machine's cores over the run; and zero errors.

It always stops by itself (hard timeout), and stops gunicorn and the stand-in on exit, Ctrl-C
included. Exit status: 0, or 1 if any request failed (5xx/transport/unexpected); with --strict,
also 2 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _harness as h
from bench import _load_report, _speed
from bench._cpu import CpuProbe, children, postgres_backends

WORKDIR = Path("/tmp/billing-bench/load")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60, help="seconds of work (main phase)")
    parser.add_argument("--backend-latency-ms", type=float, default=100)
    parser.add_argument("--think-ms", type=float, default=1000, help="mean pause between steps")
    parser.add_argument(
        "--bare-people", type=int, default=2, help="people requesting the bare view meanwhile"
    )
    parser.add_argument(
        "--warmup", type=float, default=5, help="first seconds of the run left out of the table"
    )
    parser.add_argument("--workers", type=int, default=2, help="GUNICORN_WORKERS")
    parser.add_argument("--threads", type=int, default=4, help="GUNICORN_THREADS")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--strict", action="store_true", help="exit 2 if a target is missed")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    teardown = h.Teardown()
    h.install_signal_handlers()
    watchdog = h.Watchdog(args.duration + 300, teardown)
    try:
        return run(args, teardown)
    except KeyboardInterrupt:
        h.log("interrupted: stopping everything")
        return 130
    finally:
        teardown.run()
        watchdog.cancel()


def run(args, teardown: h.Teardown) -> int:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    speed = _speed.machine_line()
    config = h.Config(
        db_name="billing_admin_load",
        redis_db=args.redis_db,
        workdir=WORKDIR,
        workers=args.workers,
        threads=args.threads,
    )
    counts = h.split_people(args.people)
    h.log(f"database {config.db_name}: recreating, migrating, seeding")
    h.ensure_postgres()
    h.recreate_database(config.db_name)
    h.flush_redis(config.redis_db)
    h.setup_django(config)
    seed = h.seed(
        clerks=counts["clerk"],
        managers=counts["manager"],
        auditors=counts["auditor"],
        bare=max(1, args.bare_people),
    )
    standin = h.Standin(args.backend_latency_ms / 1000)
    teardown.add("stand-in", standin.close)
    env = h.app_env(config, standin_url=standin.url)
    gunicorn = h.Gunicorn(config, env)
    teardown.add("gunicorn", gunicorn.stop)
    h.log(
        f"starting gunicorn ({args.workers} workers, {args.threads} thread(s)) on {config.base_url}"
    )
    gunicorn.start()

    plan = h.Plan(
        think_s=args.think_ms / 1000,
        search_terms=seed.search_terms,
        history=seed.history_pages,
        sign_in_from=args.warmup,
        sign_in_spread=max(0.0, args.duration - args.warmup - 3),
    )
    master = gunicorn.proc.pid
    probe = CpuProbe(
        {
            "gunicorn": lambda: [master, *children(master)],
            "postgres": lambda: postgres_backends(config.db_name),
        }
    )

    def tick(elapsed: float) -> None:
        if int(elapsed * 5) % 50 == 0:
            standin.trim_log()
        if not probe.started and elapsed >= args.warmup:
            probe.start()

    recorder = h.Recorder()
    people = h.cast(
        counts={**counts, "bare": args.bare_people},
        users=seed.users,
        base_url=config.base_url,
        recorder=recorder,
        plan=plan,
    )
    h.log(f"{len(people)} people sign in at once, then work for {args.duration:.0f} s")
    main_run = h.run_people(people, duration=args.duration, recorder=recorder, on_tick=tick)
    probe.stop()

    gunicorn.stop()  # flushes the app's log
    standin_errors = standin.handler_errors()
    standin.close()
    server = h.read_server_log(gunicorn.err_path)
    missed = _load_report.report(
        args=args,
        config=config,
        counts=counts,
        seed=seed,
        run=main_run,
        server=server,
        probe=probe,
        standin_errors=standin_errors,
        gunicorn=gunicorn,
        speed=speed,
    )
    print(_speed.machine_line())
    samples = main_run.sign_in + main_run.samples
    errors = sum(1 for s in samples if s.outcome == "error")
    if errors or main_run.crashed:
        return 1
    if args.strict and missed:
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
