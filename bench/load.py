"""Load benchmark: simulated people against gunicorn + PostgreSQL + Redis + a slow billing backend.

    .venv/bin/python bench/load.py [--people 20] [--duration 60] [--backend-latency-ms 100]
                                   [--think-ms 1000] [--bare-duration 20] [--threads 4]

Sets up what README "Running in production" describes, on loopback (see bench/_harness.py): its
own PostgreSQL database `billing_admin_load` (dropped, created, migrated and seeded on every run),
Redis database 13 (flushed), the Zenskar stand-in in this process with the given latency per
call, and `gunicorn billing_admin.wsgi -c gunicorn.conf.py` with GUNICORN_WORKERS=2 and
DJANGO_DEBUG=false. Then:

1. every person signs in (PBKDF2, as in production), concurrently;
2. for --duration seconds, half of the people are clerks (search, open a contract, preview a
   cycle, submit it), three in ten are managers (approvals inbox, invoice page, approve with the
   content hash from the page, or reject with a reason one time in five), the rest auditors
   (history pages and CSV export; without history pages yet, the approvals and "my invoices"
   pages). Each pauses --think-ms on average (uniformly 0.5x-1.5x) between steps;
3. for --bare-duration seconds, the same number of people request `/bench/bare` (one indexed
   query through the whole middleware stack) with the same pauses.

It prints one row per step: count, throughput, p50/p95/p99 latency seen by the person (ms,
redirects included, as a browser waits for them), expected refusals (e.g. 409 "cycle already
invoiced"), errors (5xx, transport errors, unexpected statuses), the app's own p95 for the same
requests from its JSON log, the mean number and time of billing-backend calls per request, the
ratio of the step's p95 to the bare view's p95, and the target: p95 <= 150 ms for pages that do
not call the backend, <= one backend latency + 100 ms for steps that do, and zero errors.

It always stops by itself (hard timeout), and stops gunicorn and the stand-in on exit, Ctrl-C
included. Exit status: 0, or 1 if any request failed (5xx/transport/unexpected); with --strict,
also 2 if a latency target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _harness as h

# Steps in the order a table reads best, with what they are: "page" steps should not call the
# billing backend (target 150 ms); "backend" steps call it (target one latency + 100 ms).
STEPS = [
    ("login page", "page"),
    ("sign in", "page"),
    ("search", "backend"),
    ("open contract", "backend"),
    ("preview", "page"),
    ("submit", "backend"),
    ("approvals inbox", "page"),
    ("invoice page", "page"),
    ("approve", "backend"),
    ("reject", "backend"),
    ("history", "page"),
    ("history next page", "page"),
    ("history export", "page"),
    ("approvals (read)", "page"),
    ("invoice page (read)", "page"),
    ("my invoices (read)", "page"),
    ("bare view", "page"),
]
PAGE_TARGET_MS = 150.0
WORKDIR = Path("/tmp/billing-bench/load")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60, help="seconds of work (main phase)")
    parser.add_argument("--backend-latency-ms", type=float, default=100)
    parser.add_argument("--think-ms", type=float, default=1000, help="mean pause between steps")
    parser.add_argument("--bare-duration", type=float, default=20)
    parser.add_argument(
        "--warmup", type=float, default=5, help="first seconds of each phase left out of the table"
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
    watchdog = h.Watchdog(args.duration + args.bare_duration + 300, teardown)
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
        bare=args.people,
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
        think_s=args.think_ms / 1000, search_terms=seed.search_terms, history=seed.history_pages
    )

    def tick(elapsed: float) -> None:
        if int(elapsed * 5) % 50 == 0:
            standin.trim_log()

    recorder = h.Recorder()
    people = h.cast(
        counts=counts, users=seed.users, base_url=config.base_url, recorder=recorder, plan=plan
    )
    h.log(f"{len(people)} people sign in, then work for {args.duration:.0f} s")
    main_run = h.run_people(people, duration=args.duration, recorder=recorder, on_tick=tick)

    bare_recorder = h.Recorder()
    bare_people = h.cast(
        counts={"bare": args.people},
        users=seed.users,
        base_url=config.base_url,
        recorder=bare_recorder,
        plan=plan,
        seed=2,
    )
    h.log(f"{len(bare_people)} people request the bare view for {args.bare_duration:.0f} s")
    bare_run = h.run_people(bare_people, duration=args.bare_duration, recorder=bare_recorder)

    gunicorn.stop()  # flushes the app's log
    standin_errors = standin.handler_errors()
    standin.close()
    server = h.read_server_log(gunicorn.err_path)
    report(args, config, counts, seed, main_run, bare_run, server, standin_errors, gunicorn)
    samples = main_run.sign_in + main_run.samples + bare_run.samples
    errors = sum(1 for s in samples if s.outcome == "error")
    if errors or main_run.crashed or bare_run.crashed:
        return 1
    if args.strict and report.missed:  # type: ignore[attr-defined]
        return 2
    return 0


def report(args, config, counts, seed, main_run, bare_run, server, standin_errors, gunicorn):
    latency = args.backend_latency_ms
    backend_target = latency + 100
    warm = args.warmup
    measured = [s for s in main_run.samples if s.t >= warm]
    measured_bare = [s for s in bare_run.samples if s.t >= warm]
    warming = [s for s in main_run.samples if s.t < warm and s.status is not None]
    stats = h.step_stats(measured, main_run.run_s - warm, server)
    stats.update(h.step_stats(main_run.sign_in, main_run.sign_in_s, server))
    stats.update(h.step_stats(measured_bare, bare_run.run_s - warm, server))
    bare_p95 = stats["bare view"].p95 if "bare view" in stats else float("nan")

    print()
    print("=" * 100)
    print("Billing Admin load benchmark")
    print("=" * 100)
    print(
        f"gunicorn: {config.workers} worker(s) x {config.threads} thread(s), DJANGO_DEBUG=false; "
        f"PostgreSQL {config.db_name}; Redis db {config.redis_db}; "
        f"Zenskar stand-in latency {latency:.0f} ms per call"
    )
    print(
        f"people: {sum(counts.values())} ({counts['clerk']} clerks, {counts['manager']} managers, "
        f"{counts['auditor']} auditors); think time {args.think_ms:.0f} ms mean (0.5x-1.5x); "
        f"sign-in phase {main_run.sign_in_s:.1f} s, main phase {main_run.run_s:.1f} s, "
        f"bare phase {bare_run.run_s:.1f} s with {args.people} people"
    )
    print(f"engine data: {seed.contracts} contracts. {seed.engine_summary}")
    if not seed.history_pages:
        print(
            "history pages: /history/ and /history/export.csv do not exist yet "
            "(invoices/urls_history.py is empty): auditors read /approvals/, invoice pages and "
            "/invoices/mine/ instead (steps marked '(read)')."
        )
    print()
    headers = [
        "step", "kind", "n", "req/s", "p50", "p95", "p99", "refused", "errors",
        "app p95", "calls", "backend ms", "p95/bare", "target", "verdict",
    ]  # fmt: skip
    rows = []
    missed = []
    for step, kind in STEPS:
        s = stats.get(step)
        if s is None:
            continue
        target = PAGE_TARGET_MS if kind == "page" else backend_target
        ok = s.p95 <= target and s.errors == 0
        if not ok:
            missed.append(step)
        rows.append(
            [
                step,
                kind,
                str(s.count),
                h.fmt(s.rate, 1),
                h.fmt(s.p50),
                h.fmt(s.p95),
                h.fmt(s.p99),
                str(s.refused),
                str(s.errors),
                h.fmt(s.server_p95),
                h.fmt(s.backend_calls, 1),
                h.fmt(s.backend_ms),
                h.fmt(s.p95 / bare_p95, 1) if bare_p95 == bare_p95 and bare_p95 else "-",
                f"<={target:.0f}",
                "ok" if ok else "MISSED",
            ]
        )
    print(h.table(headers, rows, right=range(2, 14)))
    print(
        f"\n(the first {warm:.0f} s of the main and bare phases are left out: "
        f"{len(warming)} requests, p95 {h.fmt(h.percentile([x.ms for x in warming], 95))} ms "
        "while workers render their first pages; errors are counted over the whole run)"
    )
    print(
        "(latencies in ms as the person waits, redirects included; 'app p95': the same "
        "requests' duration in the app's own log, i.e. without waiting for a free worker; "
        "'calls'/'backend ms': billing-backend calls per request and their time, from the log)"
    )

    busy_ms = backend_ms = 0.0
    for sample in measured:
        for rid in sample.rids:
            if rid in server:
                busy_ms += server[rid].ms
                backend_ms += server[rid].backend_ms
    slots = config.workers * config.threads
    print(
        f"\ncapacity (main phase): requests kept the app busy {busy_ms / 1000:.0f} s out of "
        f"{slots} slot(s) x {main_run.run_s - warm:.0f} s = {slots * (main_run.run_s - warm):.0f} "
        f"slot-seconds ({busy_ms / 1000 / max(1e-9, slots * (main_run.run_s - warm)):.0%}); "
        f"{backend_ms / max(1e-9, busy_ms):.0%} of that time was spent waiting for the billing "
        f"backend. Machine CPU busy {main_run.machine_cpu:.0%} of {os.cpu_count()} cores "
        f"(this process, people + stand-in: {main_run.own_cpu_s:.0f} CPU-s)."
    )

    samples = main_run.sign_in + main_run.samples + bare_run.samples
    kinds = Counter(s.kind for s in samples if s.outcome == "error")
    refused = Counter(s.step for s in samples if s.outcome == "refused")
    total_errors = sum(kinds.values())
    print(
        f"\nrequests: {len(samples)}; expected refusals: {sum(refused.values())} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(refused.items())) or 'none'}); "
        f"ERRORS: {total_errors} (5xx {kinds['5xx']}, transport {kinds['transport']}, "
        f"unexpected {kinds['unexpected']})"
    )
    reasons = Counter(
        (s.step, s.status, s.snippet[:120]) for s in samples if s.outcome in ("refused", "error")
    )
    if reasons:
        print("what people were told (refusals and errors, most frequent first):")
        for (step, status, text), n in reasons.most_common(12):
            print(f"  {n:5d} x {step} -> {status}: {text}")
    if main_run.crashed or bare_run.crashed:
        print(f"simulated people that crashed: {main_run.crashed + bare_run.crashed}")
    app_errors = h.server_errors(gunicorn.err_path)
    if app_errors:
        print(f"errors in the app's log ({len(app_errors)}), first ones:")
        for line in app_errors[:8]:
            print(f"  {line}")
    if standin_errors:
        print(f"stand-in handler errors: {len(standin_errors)}: {standin_errors[:3]}")

    page_p95 = [stats[s].p95 for s, k in STEPS if k == "page" and s in stats and s != "bare view"]
    print()
    print(
        f"targets: pages without backend calls p95 <= {PAGE_TARGET_MS:.0f} ms; backend-calling "
        f"steps p95 <= {backend_target:.0f} ms; zero 5xx."
    )
    print(f"  5xx: {kinds['5xx']} -> {'ok' if kinds['5xx'] == 0 else 'MISSED'}")
    if page_p95:
        print(f"  worst page p95: {max(page_p95):.0f} ms")
    print(
        f"  steps missing their target: {', '.join(missed) if missed else 'none'}"
        f"{'' if not missed else '  (see the analysis in bench/README.md)'}"
    )
    print(f"logs: {gunicorn.err_path} (app, JSON), {gunicorn.out_path} (e-mails)")
    report.missed = missed  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
