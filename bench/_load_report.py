"""What bench/load.py prints and judges (see its docstring for the targets)."""

from __future__ import annotations

import os
from collections import Counter

from bench import _harness as h

# Steps in the order a table reads best; "page" steps do not call the billing backend,
# "backend" steps do, with the sequential round trips the workflow needs.
STEPS = [
    ("login page", "page"),
    ("sign in", "sign-in"),
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
    ("bare view", "baseline"),
]
ROUND_TRIPS = {"search": 1, "open contract": 1, "submit": 2, "approve": 2, "reject": 1}
PAGE_RATIO = 10.0  # pages: p95 <= 10x the bare view's p95
SIGN_IN_MS = 500.0
CPU_SHARE = 0.60
BURST = {"login page": "login page (burst)", "sign in": "sign in (burst)"}


def _hasher() -> str:
    from django.contrib.auth.hashers import get_hasher

    hasher = get_hasher()
    strength = getattr(hasher, "iterations", None) or getattr(hasher, "time_cost", None)
    return f"{hasher.algorithm}" + (f" ({strength:,} iterations)" if strength else "")


def report(*, args, config, counts, seed, run, server, probe, standin_errors, gunicorn, speed):
    """Print the table and the verdicts; returns the steps that missed their target."""
    latency = args.backend_latency_ms
    warm = args.warmup
    measured = [s for s in run.samples if s.t >= warm]
    warming = [s for s in run.samples if s.t < warm and s.status is not None]
    stats = h.step_stats(measured, run.run_s - warm, server)
    burst = h.step_stats(run.sign_in, run.sign_in_s, server)
    bare_p95 = stats["bare view"].p95 if "bare view" in stats else float("nan")

    print()
    print("=" * 100)
    print("Billing Admin load benchmark")
    print("=" * 100)
    print(speed)
    print(
        f"gunicorn: {config.workers} worker(s) x {config.threads} thread(s), DJANGO_DEBUG=false; "
        f"PostgreSQL {config.db_name}; Redis db {config.redis_db}; "
        f"Zenskar stand-in latency {latency:.0f} ms per call; passwords: {_hasher()}"
    )
    print(
        f"people: {sum(counts.values())} ({counts['clerk']} clerks, {counts['manager']} managers, "
        f"{counts['auditor']} auditors) + {args.bare_people} on the bare view; think time "
        f"{args.think_ms:.0f} ms mean (0.5x-1.5x); burst sign-in {run.sign_in_s:.1f} s, then "
        f"{run.run_s:.1f} s of work, each person arriving once more (a fresh sign-in) between "
        f"{warm:.0f} s and {max(warm, args.duration - 3):.0f} s"
    )
    print(f"engine data: {seed.contracts} contracts. {seed.engine_summary}")
    print()

    headers = [
        "step", "kind", "n", "req/s", "p50", "p95", "p99", "refused", "errors", "app p95",
        "own p95", "calls", "trips", "p95/bare", "target", "verdict",
    ]  # fmt: skip
    rows, missed = [], []

    def add(step: str, kind: str, s: h.StepStats) -> None:
        if kind == "page":
            ratio = s.p95 / bare_p95 if bare_p95 == bare_p95 and bare_p95 else float("inf")
            target, ok = f"<={PAGE_RATIO:g}x bare", ratio <= PAGE_RATIO
        elif kind == "backend":
            floor = ROUND_TRIPS[step] * latency + 100
            target = f"<={ROUND_TRIPS[step]}x{latency:.0f}+100={floor:.0f}"
            ok = s.p95 <= floor
        elif kind == "sign-in":
            target, ok = f"<={SIGN_IN_MS:.0f}", s.p95 <= SIGN_IN_MS
        elif kind == "burst":
            expected = sum(counts.values())
            target, ok = f"all {expected} done", s.count - s.errors >= expected
        else:
            target, ok = "baseline", True
        ok = ok and s.errors == 0
        if not ok:
            missed.append(step)
        trips = (
            "-" if s.round_trips != s.round_trips else f"{s.round_trips:.1f}/{s.round_trips_max}"
        )
        rows.append(
            [
                step, kind, str(s.count), h.fmt(s.rate, 1), h.fmt(s.p50), h.fmt(s.p95),
                h.fmt(s.p99), str(s.refused), str(s.errors), h.fmt(s.server_p95),
                h.fmt(s.own_p95), h.fmt(s.backend_calls, 1), trips,
                h.fmt(s.p95 / bare_p95, 1) if bare_p95 == bare_p95 and bare_p95 else "-",
                target, "ok" if ok else "MISSED",
            ]
        )  # fmt: skip

    for step, label in BURST.items():
        if step in burst:
            add(label, "burst", burst[step])
    for step, kind in STEPS:
        if step in stats:
            add(step, kind, stats[step])
    print(h.table(headers, rows, right=range(2, 14)))
    print(
        f"\n(the first {warm:.0f} s of the run are left out: {len(warming)} requests, p95 "
        f"{h.fmt(h.percentile([x.ms for x in warming], 95))} ms while workers render their first "
        "pages; errors are counted over the whole run. Latencies in ms as the person waits, "
        "redirects included; 'app p95': the same requests in the app's own log, without waiting "
        "for a free worker; 'own p95': the app's time without its waits for the backend; 'calls': "
        "billing-backend calls per request; 'trips': of those, how many came one after the "
        "other (calls at the same time count once), mean/max)"
    )
    if "submit" in stats and stats["submit"].round_trips > ROUND_TRIPS["submit"] + 0.5:
        print(
            f"(submit: its floor counts {ROUND_TRIPS['submit']} round trips, what the workflow "
            f"needs once the cycle list is checked from the fresh cache; this build makes "
            f"{stats['submit'].round_trips:.1f} on average)"
        )

    gunicorn_s, postgres_s = probe.cpu_s("gunicorn"), probe.cpu_s("postgres")
    share = probe.share("gunicorn", "postgres")
    cpu_ok = share < CPU_SHARE
    print(
        f"\nCPU over {probe.seconds:.0f} s of work: gunicorn {gunicorn_s:.1f} CPU-s, PostgreSQL "
        f"({config.db_name} backends) {postgres_s:.1f} CPU-s = {share:.0%} of {os.cpu_count()} "
        f"cores (target < {CPU_SHARE:.0%}) {'ok' if cpu_ok else 'MISSED'}; the whole machine was "
        f"{run.machine_cpu:.0%} busy (other work included); this process (people + stand-in) "
        f"{run.own_cpu_s:.0f} CPU-s"
    )
    if not cpu_ok:
        missed.append("CPU")

    samples = run.sign_in + run.samples
    kinds = Counter(s.kind for s in samples if s.outcome == "error")
    refused = Counter(s.step for s in samples if s.outcome == "refused")
    print(
        f"\nrequests: {len(samples)}; expected refusals: {sum(refused.values())} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(refused.items())) or 'none'}); "
        f"ERRORS: {sum(kinds.values())} (5xx {kinds['5xx']}, transport {kinds['transport']}, "
        f"unexpected {kinds['unexpected']})"
    )
    reasons = Counter(
        (s.step, s.status, s.snippet[:120]) for s in samples if s.outcome in ("refused", "error")
    )
    if reasons:
        print("what people were told (refusals and errors, most frequent first):")
        for (step, status, text), n in reasons.most_common(12):
            print(f"  {n:5d} x {step} -> {status}: {text}")
    if run.crashed:
        print(f"simulated people that crashed: {run.crashed}")
    app_errors = h.server_errors(gunicorn.err_path)
    if app_errors:
        print(f"errors in the app's log ({len(app_errors)}), first ones:")
        for line in app_errors[:8]:
            print(f"  {line}")
    if standin_errors:
        print(f"stand-in handler errors: {len(standin_errors)}: {standin_errors[:3]}")
    print(
        f"\ntargets: pages without backend calls p95 <= {PAGE_RATIO:g}x the bare view's; backend "
        f"steps p95 <= round trips x {latency:.0f} + 100 ms; sign-in p95 <= {SIGN_IN_MS:.0f} ms; "
        f"the burst completes without errors; CPU < {CPU_SHARE:.0%} of the cores; zero errors."
    )
    print(f"  steps missing their target: {', '.join(missed) if missed else 'none'}")
    print(f"logs: {gunicorn.err_path} (app, JSON), {gunicorn.out_path} (e-mails)")
    return missed
