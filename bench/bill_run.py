"""Bill-run benchmark: month-end runs of 1,000+ cycles through real task workers on PostgreSQL.

    nice -n 10 .venv/bin/python bench/bill_run.py [--cycles 1040] [--latency-ms 100] [--k 8]
                                                  [--people 7] [--people-seconds 40]

Sets up what README "Running in production" describes, on loopback (bench/_harness.py): its own
PostgreSQL database `billing_admin_billrun_load` (dropped, created, migrated and seeded), Redis
database 12 (flushed; the cycle cache every worker shares), `manage.py db_worker` processes for
the "billruns" queue, the Zenskar stand-in in this process (part 2) and gunicorn (part 3). Four
sets of due cycles (one currency each, monthly contracts from January 2026, billed through
2026-04-30; --cycles each, three times that for part 3) are seeded straight into the engine, so
each part has fresh cycles. Then:

1. embedded backend: a run of --cycles cycles with 1 worker, then another with 2 workers (one
   thread each: the engine is in-process, CPU-bound): wall time (launch to finish) and invoices
   per second, and the 2-worker speed-up;
2. the Zenskar stand-in at --latency-ms per call, 1 worker making --k backend calls at once:
   invoices per second against the physical limit K / (sequential round trips per item x
   latency), the round trips counted at the stand-in (target: at least 0.75 of the limit);
3. gunicorn (2 workers x 4 threads) on the embedded engine and --people simulated people
   (clerks, managers, an auditor; bench/_harness.py) for --people-seconds without a run (the
   baseline), then for as long again while a run of three times --cycles works (1 worker, at a
   lower CPU priority as README recommends): p50/p95 of the pages that do not call the backend
   (target: p95 at most 150 ms during the run) and of those that do. (On the embedded engine the
   run's whole work competes with the pages for this machine's cores; with the stand-in, the fake
   vendor's own work would be measured instead.)

Every run is checked afterwards: every item settled and accounted for, one live invoice per cycle
locally and upstream, `manage.py verify_audit` passes. Prints the numbers and exits non-zero if a
check fails (with --strict, also if a target is missed). The machine may be shared: run it with
`nice`, and read the numbers as noisy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _billrun as b
from bench import _harness as h

WORKDIR = Path("/tmp/billing-bench/billrun")
PAGE_TARGET_MS = 150.0
THROUGHPUT_TARGET = 0.75
# The harness's steps that do not call the billing backend (bench/load.py's "page" steps).
PAGE_STEPS = {
    "preview",
    "approvals inbox",
    "invoice page",
    "history",
    "history next page",
    "approvals (read)",
    "invoice page (read)",
    "my invoices (read)",
}
BACKEND_STEPS = {"search", "open contract", "submit", "approve", "reject"}
CLERK = "bench_clerk01"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1040, help="due cycles per run")
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--k", type=int, default=8, help="backend calls at once (part 2)")
    parser.add_argument("--people", type=int, default=7)
    parser.add_argument("--people-seconds", type=float, default=40)
    parser.add_argument("--think-ms", type=float, default=1000)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--only", default="embedded,remote,people")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=5,
        help="the bill-run worker's CPU priority below gunicorn's in part 3 (README: Nice=)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 2 if a target is missed")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    teardown = h.Teardown()
    h.install_signal_handlers()
    watchdog = h.Watchdog(3600, teardown)
    try:
        return run(args, teardown)
    except KeyboardInterrupt:
        h.log("interrupted: stopping everything")
        return 130
    finally:
        teardown.run()
        watchdog.cancel()


class Rig:
    def __init__(self, args, teardown: h.Teardown):
        shutil.rmtree(WORKDIR, ignore_errors=True)
        WORKDIR.mkdir(parents=True)
        self.args = args
        self.config = h.Config(
            db_name="billing_admin_billrun_load", redis_db=args.redis_db, workdir=WORKDIR
        )
        h.log(f"database {self.config.db_name}: recreating, migrating, seeding")
        h.ensure_postgres()
        h.recreate_database(self.config.db_name)
        h.flush_redis(self.config.redis_db)
        h.setup_django(self.config)
        self.seed = h.seed(clerks=4, managers=3, auditors=1, bare=1)
        started = time.monotonic()
        self.sets = {}
        # Part 3's run must outlast the people's window: three times the cycles.
        for currency, label, times in (("CHF", "Alpine", 1), ("CAD", "Maple", 1),
                                       ("AUD", "Koala", 1), ("NZD", "Kiwi", 3)):  # fmt: skip
            self.sets[currency] = b.seed_due_contracts(
                currency=currency, cycles=args.cycles * times, label=label
            )
        h.log(
            f"seeded {sum(self.sets.values())} due cycles in {len(self.sets)} currencies in "
            f"{time.monotonic() - started:.1f} s ({self.seed.contracts} demo contracts beside)"
        )
        self.standin = h.Standin(args.latency_ms / 1000)
        teardown.add("stand-in", self.standin.close)
        self.calls: Counter = Counter()
        self._count_calls()
        self.env = h.app_env(self.config, standin_url=self.standin.url)
        self.processes = b.Processes(WORKDIR, "workers")
        teardown.add("workers", self.processes.stop)

    def _count_calls(self) -> None:
        """Count the stand-in's requests by what they ask (for round trips per item), and time
        them (its own service time: the latency plus its work on the engine's tables)."""
        lock = threading.Lock()
        self.service_s: list[float] = []
        self.service_by: dict[str, list[float]] = defaultdict(list)
        for handler in list(self.standin.server.handlers):
            pattern = getattr(handler.matcher.uri, "pattern", "")
            key = f"{handler.matcher.method} {pattern}"
            respond = handler.request_handler

            def counted(request, _respond=respond, _key=key):
                started = time.perf_counter()
                try:
                    return _respond(request)
                finally:
                    with lock:
                        self.calls[_key] += 1
                        self.service_s.append(time.perf_counter() - started)
                        self.service_by[_key].append(time.perf_counter() - started)

            handler.request_handler = counted

    def env_for(self, backend: str, **extra: str) -> dict[str, str]:
        return b.worker_env(self.env, BILLING_BACKEND=backend, **extra)


def run(args, teardown) -> int:
    rig = Rig(args, teardown)
    wanted = {part.strip() for part in args.only.split(",")}
    results: dict = {}
    ok = True
    if "embedded" in wanted:
        ok &= part_embedded(rig, results)
    if "remote" in wanted:
        ok &= part_remote(rig, results)
    if "people" in wanted:
        ok &= part_people(rig, results, teardown)
    summary(args, results)
    if h.STANDIN_ERRORS.lines:
        print(f"\nthe stand-in failed {len(h.STANDIN_ERRORS.lines)} call(s) (answered 500):")
        for line, n in Counter(h.STANDIN_ERRORS.lines).most_common(3):
            print(f"  {n} x {line}")
    missed = not targets_met(results)
    if not ok:
        return 1
    return 2 if args.strict and missed else 0


# --- 1. the embedded engine ------------------------------------------------------------------
def one_run(rig: Rig, *, currency: str, workers: int, env: dict[str, str], label: str) -> dict:
    procs = rig.processes.workers(env, workers)  # idle and waiting, as in production
    time.sleep(3)
    launched = b.plan_and_launch(CLERK, currency=currency)
    planning_calls = Counter(rig.calls)  # what the dry run asked of the stand-in
    h.log(
        f"{label}: planned {launched.items} cycles in {launched.planning_s:.1f} s; "
        f"run #{launched.run_id} launched to {workers} worker(s)"
    )
    cpu_before = sum(b.cpu_seconds(p.pid) for p in procs)
    last = [0.0]

    def tick(elapsed, counts):
        if elapsed - last[0] >= 10:
            last[0] = elapsed
            h.log(f"  {elapsed:.0f} s: {dict(counts)}")

    run = b.wait_for(launched.run_id, timeout=1800, tick=tick)
    cpu_s = sum(b.cpu_seconds(p.pid) for p in procs) - cpu_before
    rig.processes.stop()
    numbers = b.run_numbers(launched.run_id)
    numbers.update(
        planning_s=launched.planning_s,
        items=launched.items,
        run_id=launched.run_id,
        planning_calls=planning_calls,
        worker_cpu_ms=1000 * cpu_s / max(1, numbers["submitted"]),
    )
    h.log(
        f"{label}: {numbers['submitted']} invoices in {numbers['wall_s'] or float('nan'):.1f} s "
        f"= {numbers['per_s']:.1f} invoices/s ({numbers['counts']})"
    )
    if run is None or run.finished_at is None:
        h.log(f"  the run did not finish; worker log:\n{rig.processes.tail()}")
    numbers["checks"] = b.check_run(launched.run_id, rig.env)
    return numbers


def part_embedded(rig: Rig, results: dict) -> bool:
    b.use_backend("embedded")
    env = rig.env_for("embedded", BILLRUN_CONCURRENCY="embedded=1")
    ok = True
    for currency, workers in (("CHF", 1), ("CAD", 2)):
        numbers = one_run(
            rig, currency=currency, workers=workers, env=env, label=f"embedded, {workers} worker"
        )
        results[f"embedded_{workers}"] = numbers
        print("  checks:")
        ok &= b.print_checks(numbers["checks"])
    return ok


# --- 2. the Zenskar stand-in -----------------------------------------------------------------
def part_remote(rig: Rig, results: dict) -> bool:
    args = rig.args
    b.use_backend("zenskar", rig.standin.url)
    # The worker logs each backend call with its duration (as the client saw it).
    env = rig.env_for("zenskar", BILLRUN_CONCURRENCY=f"zenskar={args.k}", DJANGO_LOG_LEVEL="INFO")
    rig.calls.clear()
    rig.service_s.clear()
    rig.service_by.clear()
    log_from = rig.processes.log_path.stat().st_size if rig.processes.log_path.exists() else 0
    cpu_before = time.process_time()  # this process: the stand-in (and a poll now and then)
    numbers = one_run(
        rig, currency="AUD", workers=1, env=env, label=f"Zenskar stand-in, K={args.k}"
    )
    seen = b.client_call_ms(rig.processes.log_path, log_from)
    standin_cpu = time.process_time() - cpu_before
    calls = sum(rig.calls.values())
    h.log(
        f"  the stand-in used {standin_cpu:.1f} s of CPU for {calls} calls "
        f"({1000 * standin_cpu / max(1, calls):.1f} ms a call, one Python process)"
    )
    # Count what the run itself asked (planning's reads happened before the workers started,
    # but after clearing: take them out by kind).
    numbers["calls"] = dict(rig.calls)
    numbers.update(b.round_trips(rig.calls, numbers["submitted"], numbers["planning_calls"]))
    limit = args.k / (numbers["round_trips"] * args.latency_ms / 1000)
    numbers["limit_per_s"] = limit
    numbers["ratio"] = numbers["per_s"] / limit
    numbers["service_ms"] = statistics.fmean(rig.service_s) * 1000 if rig.service_s else 0.0
    # What each round trip took as the worker saw it, and the limit that sets: the share of it
    # reached is the worker's own efficiency (its database work, claims and bookkeeping).
    numbers["client_ms"] = seen
    numbers["client_limit_per_s"] = args.k / (numbers["round_trips"] * seen / 1000) if seen else 0
    numbers["client_ratio"] = (
        numbers["per_s"] / numbers["client_limit_per_s"] if numbers["client_limit_per_s"] else 0
    )
    for key, times in sorted(rig.service_by.items()):
        what = key.split(" ", 1)[1].replace("(?P<id>[0-9A-Za-z_-]+)", "{id}").strip("^$")
        h.log(
            f"  stand-in {key.split()[0]} {what}: {len(times)} calls, mean "
            f"{statistics.fmean(times) * 1000:.0f} ms, p95 {h.percentile(times, 95) * 1000:.0f} ms"
        )
    h.log(
        f"remote: {numbers['round_trips']:.2f} sequential round trips per item; physical limit "
        f"{limit:.1f} invoices/s; measured {numbers['per_s']:.1f} = {numbers['ratio']:.2f} of it"
    )
    results["remote"] = numbers
    print("  checks:")
    return b.print_checks(numbers["checks"])


# --- 3. people during a run ------------------------------------------------------------------
def part_people(rig: Rig, results: dict, teardown: h.Teardown) -> bool:
    args = rig.args
    # The embedded engine, the default set-up: the run's work is all on this machine, competing
    # with the pages for its two cores. (With the stand-in, the fake vendor's own work -- the
    # engine behind it, in this process -- would take most of the CPU and be measured instead.)
    b.use_backend("embedded")
    gunicorn = h.Gunicorn(rig.config, rig.env_for("embedded"))
    teardown.add("gunicorn", gunicorn.stop)
    h.log(f"gunicorn on {rig.config.base_url} (2 workers x 4 threads), embedded engine")
    gunicorn.start()
    plan = h.Plan(
        think_s=args.think_ms / 1000,
        search_terms=rig.seed.search_terms,
        history=rig.seed.history_pages,
    )
    counts = h.split_people(args.people)

    def people_for(seconds: float, seed: int, on_tick=None) -> h.RunResult:
        recorder = h.Recorder()
        people = h.cast(
            counts=counts,
            users=rig.seed.users,
            base_url=rig.config.base_url,
            recorder=recorder,
            plan=plan,
            seed=seed,
        )
        return h.run_people(people, duration=seconds, recorder=recorder, on_tick=on_tick)

    h.log(f"people, no run: {counts} for {args.people_seconds:.0f} s")
    baseline = people_for(args.people_seconds, 31)
    env = rig.env_for("embedded", BILLRUN_CONCURRENCY="embedded=1")
    launched = b.plan_and_launch(CLERK, currency="NZD")
    h.log(f"people during run #{launched.run_id} ({launched.items} cycles, 1 worker)")
    rig.processes.workers(env, 1, nice=args.worker_nice)
    during = people_for(args.people_seconds, 32)
    run_state = b.run_numbers(launched.run_id)
    h.log(f"run #{launched.run_id} when the people stopped: {run_state['counts']}")
    b.wait_for(launched.run_id, timeout=1800)
    rig.processes.stop()
    gunicorn.stop()
    numbers = b.run_numbers(launched.run_id)
    results["people"] = {
        "baseline": page_stats(baseline.samples),
        "during": page_stats(during.samples),
        "errors": sum(1 for s in baseline.samples + during.samples if s.outcome == "error"),
        "run": numbers,
        "run_id": launched.run_id,
        "run_open_at_end": run_state["counts"].get("pending", 0)
        + run_state["counts"].get("claimed", 0),
        "machine_cpu": during.machine_cpu,
    }
    checks = b.check_run(launched.run_id, rig.env)
    print("  checks:")
    return b.print_checks(checks) and results["people"]["errors"] == 0


def page_stats(samples: list[h.Sample]) -> dict:
    def of(steps: set[str]) -> dict:
        ms = [s.ms for s in samples if s.step in steps and s.outcome != "error" and s.status]
        return {
            "n": len(ms),
            "p50": h.percentile(ms, 50),
            "p95": h.percentile(ms, 95),
            "mean": statistics.fmean(ms) if ms else float("nan"),
        }

    by_step = {
        step: of({step}) for step in sorted({s.step for s in samples}) if step not in ("sign in",)
    }
    return {"pages": of(PAGE_STEPS), "backend": of(BACKEND_STEPS), "steps": by_step}


# --- report ----------------------------------------------------------------------------------
def targets_met(results: dict) -> bool:
    met = True
    if "remote" in results:
        met &= results["remote"]["ratio"] >= THROUGHPUT_TARGET
    if "people" in results:
        met &= results["people"]["during"]["pages"]["p95"] <= PAGE_TARGET_MS
    return met


def summary(args, results: dict) -> None:
    print()
    print("=" * 100)
    print("Bill runs (PostgreSQL, loopback; a shared 2-core machine: numbers are noisy)")
    print("=" * 100)
    rows = []
    labels = (
        ("embedded_1", "embedded, 1 worker"),
        ("embedded_2", "embedded, 2 workers"),
        ("remote", f"Zenskar stand-in {args.latency_ms:.0f} ms, K={args.k}"),
    )
    for key, label in labels:
        if key in results:
            r = results[key]
            rows.append(
                [
                    label,
                    str(r["submitted"]),
                    h.fmt(r["planning_s"], 1),
                    h.fmt(r["wall_s"] or float("nan"), 1),
                    h.fmt(r["per_s"], 1),
                    h.fmt(r["worker_cpu_ms"]),
                ]
            )
    if rows:
        print(
            h.table(
                ["run", "invoices", "dry run s", "run wall s", "invoices/s", "worker CPU ms/inv"],
                rows,
                right=(1, 2, 3, 4, 5),
            )
        )
    if "embedded_1" in results and "embedded_2" in results:
        speedup = results["embedded_2"]["per_s"] / results["embedded_1"]["per_s"]
        print(f"\n2 workers vs 1 on the embedded engine: {speedup:.2f}x")
    if "remote" in results:
        r = results["remote"]
        per = ", ".join(f"{k} {v:.2f}" for k, v in r["per_item"].items())
        print(
            f"\nremote: {r['round_trips']:.2f} sequential round trips per item ({per}); physical "
            f"limit K / (round trips x latency) = {r['limit_per_s']:.1f} invoices/s; measured "
            f"{r['per_s']:.1f} = {r['ratio']:.2f} of the limit (target >= {THROUGHPUT_TARGET}); "
            f"the stand-in's mean service time per call was {r['service_ms']:.0f} ms "
            f"({r['worker_cpu_ms']:.0f} ms of worker CPU per invoice)"
        )
        if r.get("client_ms"):
            print(
                f"a round trip took {r['client_ms']:.0f} ms on average as the worker saw it; "
                f"against K / (round trips x that) = {r['client_limit_per_s']:.1f} invoices/s "
                f"the run reached {r['client_ratio']:.2f} (the rest is the worker's own work: "
                "claims, the invoice records, the audit chain)"
            )
    if "people" in results:
        p = results["people"]
        print(
            f"\npeople ({args.people}, think {args.think_ms:.0f} ms) without and during a run "
            f"(run #{p['run_id']}: "
            f"{p['run']['submitted']} invoices at {p['run']['per_s']:.1f}/s; "
            f"{p['run_open_at_end']} items still open when the people stopped; machine CPU "
            f"{p['machine_cpu'] * 100:.0f}% busy during it):"
        )
        rows = []
        for what in ("pages", "backend"):
            base, during = p["baseline"][what], p["during"][what]
            rows.append(
                [
                    "pages without backend calls" if what == "pages" else "steps calling it",
                    str(base["n"]),
                    h.fmt(base["p50"]),
                    h.fmt(base["p95"]),
                    str(during["n"]),
                    h.fmt(during["p50"]),
                    h.fmt(during["p95"]),
                ]
            )
        print(
            h.table(
                ["requests", "n", "p50 ms", "p95 ms", "n (run)", "p50 ms (run)", "p95 ms (run)"],
                rows,
                right=(1, 2, 3, 4, 5, 6),
            )
        )
        rows = []
        for step, during in p["during"]["steps"].items():
            base = p["baseline"]["steps"].get(step, {"p95": float("nan")})
            rows.append([step, str(during["n"]), h.fmt(base["p95"]), h.fmt(during["p95"])])
        print(h.table(["step", "n (run)", "p95 ms", "p95 ms (run)"], rows, right=(1, 2, 3)))
        print(
            f"target: pages p95 during the run <= {PAGE_TARGET_MS:.0f} ms: "
            f"{'met' if p['during']['pages']['p95'] <= PAGE_TARGET_MS else 'MISSED'}; "
            f"errors seen by people: {p['errors']}"
        )


if __name__ == "__main__":
    sys.exit(main())
