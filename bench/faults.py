"""Fault drills: the billing backend goes away, PostgreSQL restarts, a gunicorn worker is killed;
and the same during a month-end bill run (see the bill-run section below).

    .venv/bin/python bench/faults.py [--only backend,postgres,worker] [--latency-ms 100]
    .venv/bin/python bench/faults.py --only run-worker,run-backend   # without the restart

The same set-up as bench/load.py (see bench/_harness.py) with its own database
`billing_admin_faults` and Redis database 14, and a smaller load: 4 clerks, 2 managers and one
auditor working with short pauses. Three scripted, bounded drills run one after the other:

1. backend: 10 s into the run the Zenskar stand-in goes down (its listening socket and every open
   connection are closed: calls are refused or cut off mid-request) and comes back 12 s later;
2. postgres: 10 s into the run `pg_ctlcluster --skip-systemctl-redirect <version> main restart`
   (every connection is terminated mid-transaction);
3. worker: clerks build a backlog of pending invoices, then managers approve them while the
   stand-in holds each approval call for 1.5 s; a gunicorn worker caught waiting for an approval
   call is sent SIGKILL (found through its socket to the stand-in), twice, 5 s apart.

After each drill the load stops, `manage.py reconcile --older-than 0` runs, and the script checks
the database: nothing left `submitting`/`approving`; no two live local invoices for one cycle;
every live local invoice's upstream draft exists upstream, exactly once for its (contract,
customer, bill-for date); every approved local invoice is approved upstream and every pending one
is still a draft; no invoice approved upstream during the run without a local approved record;
no rejected invoice's draft left to delete; every submission and approval a person saw succeed is
in the database as they saw it; `manage.py verify_audit` passes. It also prints what people saw:
status codes, 5xx responses inside and outside the fault's window with a snippet of each kind
(a clear message, or the generic 500 page), transport errors. Upstream drafts with no live local
invoice (left by an interrupted submission; the next submission of that cycle reuses them) and
invoices left `failed` for a person are printed as warnings.

Then three drills during a bill run (run-worker, run-backend, run-postgres: see the bill-run
section at the end and bench/_billrun_drills.py).

It prints a verdict per drill and exits non-zero if any check fails. It always stops gunicorn and
the stand-in, and leaves PostgreSQL running. Runs in about 2 minutes (6 with the bill-run drills).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _harness as h

WORKDIR = Path("/tmp/billing-bench/faults")
PEOPLE = {"clerk": 4, "manager": 2, "auditor": 1}
THINK_S = 0.3
GRACE_S = 3.0  # after a fault ends, requests may still fail while things reconnect


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    warning: bool = False  # reported, but does not fail the drill


@dataclass
class Drill:
    name: str
    title: str
    windows: list[tuple[float, float]] = field(default_factory=list)
    # 5xx inside the window: "friendly" -> must be clear messages (backend outage);
    # "allowed" -> counted separately (PostgreSQL restart: the database is really gone).
    window_policy: str = "friendly"
    transport_allowed: int = 0
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default="backend,postgres,worker,run-worker,run-backend,run-postgres"
    )
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--redis-db", type=int, default=14)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    teardown = h.Teardown()
    teardown.add("postgres running", h.ensure_postgres)
    h.install_signal_handlers()
    watchdog = h.Watchdog(1500, teardown)
    try:
        return run(args, teardown)
    except KeyboardInterrupt:
        h.log("interrupted: stopping everything")
        return 130
    finally:
        teardown.run()
        watchdog.cancel()


class Rig:
    """The running set-up shared by the drills."""

    def __init__(self, args, teardown: h.Teardown):
        shutil.rmtree(WORKDIR, ignore_errors=True)
        WORKDIR.mkdir(parents=True)
        self.config = h.Config(
            db_name="billing_admin_faults", redis_db=args.redis_db, workdir=WORKDIR
        )
        h.log(f"database {self.config.db_name}: recreating, migrating, seeding")
        h.ensure_postgres()
        h.recreate_database(self.config.db_name)
        h.flush_redis(self.config.redis_db)
        h.setup_django(self.config)
        self.seed = h.seed(clerks=4, managers=4, auditors=1, bare=1)
        self.standin = h.Standin(args.latency_ms / 1000)
        self.latency_s = args.latency_ms / 1000
        self.standin_errors_seen = 0
        teardown.add("stand-in", self.standin.close)
        self.env = h.app_env(self.config, standin_url=self.standin.url)
        self.gunicorn = h.Gunicorn(self.config, self.env)
        teardown.add("gunicorn", self.gunicorn.stop)
        h.log(f"gunicorn: 2 workers on {self.config.base_url}; stand-in on {self.standin.url}")
        self.gunicorn.start()

    def people(self, counts, recorder, *, think_s=THINK_S, reject_share=0.2, seed=1):
        plan = h.Plan(
            think_s=think_s,
            reject_share=reject_share,
            search_terms=self.seed.search_terms,
            history=self.seed.history_pages,
        )
        return h.cast(
            counts=counts,
            users=self.seed.users,
            base_url=self.config.base_url,
            recorder=recorder,
            plan=plan,
            seed=seed,
        )


def run(args, teardown) -> int:
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    rig = Rig(args, teardown)
    drills = {"backend": drill_backend, "postgres": drill_postgres, "worker": drill_worker}
    drills.update(billrun_drills())
    results: list[Drill] = []
    for name in wanted:
        started = time.monotonic()
        drill = drills[name](rig)
        h.log(f"drill {name} ran in {time.monotonic() - started:.0f} s")
        results.append(drill)
    rig.gunicorn.stop()
    rig.standin.close()
    h.ensure_postgres()

    print()
    print("=" * 100)
    print("Summary")
    print("=" * 100)
    failed = False
    for drill in results:
        bad = [c for c in drill.checks if not c.ok and not c.warning]
        warnings = [c for c in drill.checks if not c.ok and c.warning]
        failed |= bool(bad)
        verdict = "PASS" if not bad else "FAIL"
        extra = f" ({len(warnings)} warning(s))" if warnings else ""
        print(f"  {drill.title}: {verdict}{extra}")
        for check in bad:
            print(f"      failed: {check.name}: {check.detail}")
    app_errors = h.server_errors(rig.gunicorn.err_path)
    print(f"\nERROR lines in the app's log over all drills: {len(app_errors)}")
    for line in Counter(app_errors).most_common(8):
        print(f"  {line[1]} x {line[0]}")
    print(f"logs: {rig.gunicorn.err_path} (app, JSON)")
    return 1 if failed else 0


# --- drills ---------------------------------------------------------------------------------
def banner(title: str) -> None:
    print()
    print("=" * 100)
    print(title)
    print("=" * 100, flush=True)


def drill_backend(rig: Rig) -> Drill:
    drill = Drill("backend", "1. billing backend down for 12 s, then back")
    banner(drill.title)
    recorder = h.Recorder()
    people = rig.people(PEOPLE, recorder, seed=11)
    events: dict[str, float] = {}

    def tick(elapsed: float) -> None:
        if "down" not in events and elapsed >= 10:
            rig.standin.down()
            events["down"] = recorder.now()
            h.log("stand-in DOWN (connections refused, open ones cut)")
        elif "down" in events and "up" not in events and elapsed >= 22:
            rig.standin.up()
            events["up"] = recorder.now()
            h.log("stand-in UP again")

    result = h.run_people(people, duration=36, recorder=recorder, on_tick=tick)
    rig.standin.up()
    drill.windows = [(events.get("down", 0.0), events.get("up", result.run_s) + GRACE_S)]
    finish(rig, drill, recorder, result.samples + result.sign_in)
    return drill


def drill_postgres(rig: Rig) -> Drill:
    drill = Drill("postgres", "2. PostgreSQL restarts in the middle of the run")
    drill.window_policy = "allowed"
    banner(drill.title)
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    recorder = h.Recorder()
    people = rig.people(PEOPLE, recorder, seed=22)
    events: dict[str, float] = {}

    def restart() -> None:
        events["restart"] = recorder.now()
        done = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        events["restarted"] = recorder.now()
        drill.notes.append(
            f"pg_ctlcluster {version} main restart: exit {done.returncode} "
            f"in {events['restarted'] - events['restart']:.1f} s"
            + (f" ({(done.stderr or done.stdout).strip()[:200]})" if done.returncode else "")
        )
        h.ensure_postgres()
        events["accepting"] = recorder.now()

    runner = threading.Thread(target=restart, name="pg-restart", daemon=True)

    def tick(elapsed: float) -> None:
        if not runner.is_alive() and "restart" not in events and elapsed >= 10:
            h.log("PostgreSQL RESTART")
            runner.start()

    result = h.run_people(people, duration=36, recorder=recorder, on_tick=tick)
    if runner.ident:
        runner.join(120)
    h.ensure_postgres()
    from django.db import connections

    connections.close_all()
    start = events.get("restart", 0.0)
    end = events.get("accepting", events.get("restarted", result.run_s))
    drill.windows = [(start, end + GRACE_S)]
    drill.notes.append(
        f"restart window: {start:.1f} s - {end:.1f} s (+{GRACE_S:.0f} s grace) into the run"
    )
    finish(rig, drill, recorder, result.samples + result.sign_in)
    return drill


def drill_worker(rig: Rig) -> Drill:
    drill = Drill("worker", "3. a gunicorn worker is killed (SIGKILL) during approvals")
    banner(drill.title)
    recorder = h.Recorder()
    h.log("building a backlog: clerks submit for 15 s")
    backlog = h.run_people(
        rig.people({"clerk": 4}, recorder, think_s=0.1, seed=33), duration=15, recorder=recorder
    )
    samples = backlog.sign_in + backlog.samples
    from invoices.models import Invoice

    pending = Invoice.objects.filter(status=Invoice.Status.PENDING).count()
    drill.notes.append(f"backlog: {pending} invoice(s) pending approval")

    hold_s = 1.5
    rig.standin.approval_hold_s = hold_s
    recorder2 = h.Recorder()
    managers = rig.people({"manager": 4, "auditor": 1}, recorder2, think_s=0.1, reject_share=0.0)
    kills: list[dict] = []
    lock = threading.Lock()

    def killer() -> None:
        deadline = time.monotonic() + 40
        while len(kills) < 2 and time.monotonic() < deadline:
            if kills and time.monotonic() - kills[-1]["mono"] < 5:
                time.sleep(0.1)
                continue
            for port, path in rig.standin.held_now():
                workers = rig.gunicorn.worker_pids()
                pid = h.pid_with_local_port(port, workers)
                if pid is None:
                    continue
                os.kill(pid, signal.SIGKILL)
                with lock:
                    kills.append(
                        {"pid": pid, "path": path, "t": recorder2.now(), "mono": time.monotonic()}
                    )
                h.log(f"SIGKILL worker {pid} while it waits for {path}")
                break
            time.sleep(0.05)

    thread = threading.Thread(target=killer, name="killer", daemon=True)

    def tick(elapsed: float) -> None:
        if not thread.ident and elapsed >= 1:
            thread.start()

    approvals = h.run_people(managers, duration=20, recorder=recorder2, on_tick=tick)
    if thread.ident:
        thread.join(45)
    rig.standin.approval_hold_s = 0.0
    # One time line for both phases: the approval phase's times shifted after the backlog's.
    offset = recorder2.t0 - recorder.t0
    samples2 = [
        dataclasses.replace(s, t=s.t + offset) for s in approvals.sign_in + approvals.samples
    ]
    # A killed worker takes every request its threads were serving down with it.
    drill.transport_allowed = len(kills) * rig.config.threads
    drill.windows = [(offset + k["t"] - hold_s - 1, offset + k["t"] + GRACE_S) for k in kills]
    drill.checks.append(
        Check(
            "a worker was killed while waiting for an approval call",
            len(kills) > 0,
            f"{len(kills)} kill(s)",
        )
    )
    killed_invoices = []
    for kill in kills:
        upstream = kill["path"].split("/")[2]
        local = Invoice.objects.filter(upstream_id=upstream).first()
        if local is not None:
            killed_invoices.append(local.pk)
            drill.notes.append(
                f"worker {kill['pid']} killed during PATCH {kill['path']}: local invoice "
                f"#{local.pk} is '{local.status}' before reconcile"
            )
    drill.notes.append(
        f"approval phase: {len(recorder2.approved)} approval(s) seen to succeed; workers now "
        f"{rig.gunicorn.worker_pids()} (gunicorn replaced the killed ones)"
    )
    merged = h.Recorder()
    merged.submitted = recorder.submitted
    merged.approved = recorder2.approved
    merged.rejected = recorder2.rejected
    finish(rig, drill, merged, samples, extra_samples=samples2, follow=killed_invoices)
    return drill


# --- after a drill --------------------------------------------------------------------------
def finish(rig, drill, recorder, samples, *, extra_samples=(), follow=()) -> None:
    """Reconcile, check the database and the audit chain, and judge what people saw."""
    from django.db import connections

    connections.close_all()
    for note in drill.notes:
        print(f"  {note}")
    failures = h.STANDIN_ERRORS.lines[rig.standin_errors_seen :]
    rig.standin_errors_seen += len(failures)
    if failures:
        print(
            f"  the stand-in answered 500 to {len(failures)} call(s) it could not handle: "
            + "; ".join(f"{n} x {text}" for text, n in Counter(failures).most_common(2))
        )
    h.log("load stopped; manage.py reconcile --older-than 0")
    code, output = h.run_manage(rig.env, "reconcile", "--older-than", "0")
    lines = output.splitlines()
    summary = next((line for line in reversed(lines) if line.startswith("reconcile:")), "")
    moves = Counter(
        line.split(": ", 1)[1].split(" (")[0] for line in lines if line.startswith("invoice ")
    )
    print(f"  reconcile (exit {code}): {summary or '(no summary line)'}")
    for move, n in moves.most_common():
        print(f"      {n} x {move}")
    drill.checks.append(Check("manage.py reconcile exits 0", code == 0, summary))
    if follow:
        from invoices.models import Invoice

        for invoice in Invoice.objects.filter(pk__in=follow):
            print(
                f"  invoice #{invoice.pk} (the killed approval) after reconcile: {invoice.status}"
            )
            drill.checks.append(
                Check(
                    f"killed approval #{invoice.pk} settled by reconcile",
                    invoice.status == Invoice.Status.APPROVED,
                    invoice.status,
                )
            )

    drill.checks.extend(check_database(rig.seed.engine_invoices_before, recorder))
    code, output = h.run_manage(rig.env, "verify_audit")
    drill.checks.append(Check("manage.py verify_audit passes", code == 0, output.strip()[-200:]))
    drill.checks.extend(check_http(drill, list(samples) + list(extra_samples)))

    print("  checks:")
    for check in drill.checks:
        mark = "ok  " if check.ok else ("WARN" if check.warning else "FAIL")
        detail = f" -- {check.detail}" if check.detail else ""
        print(f"    [{mark}] {check.name}{detail}")
    bad = [c for c in drill.checks if not c.ok and not c.warning]
    print(f"  VERDICT {drill.name}: {'PASS' if not bad else 'FAIL'}", flush=True)


def _key(contract_id, customer_id, bill_for) -> tuple[str, str, str]:
    from datetime import UTC

    return (str(contract_id), str(customer_id), bill_for.astimezone(UTC).isoformat())


def check_database(before: set[str], recorder: h.Recorder) -> list[Check]:
    from billing_engine.models import EngineInvoice
    from invoices.models import Invoice

    S = Invoice.Status
    checks: list[Check] = []
    local = list(
        Invoice.objects.filter(kind=Invoice.Kind.CYCLE).values(
            "pk",
            "status",
            "backend",
            "contract_id",
            "customer_id",
            "bill_for",
            "upstream_id",
            "failure_code",
            "upstream_cleanup_pending",
        )
    )
    engine = {
        str(row["id"]): row
        for row in EngineInvoice.objects.values(
            "id", "status", "contract_id", "customer_id", "bill_for"
        )
    }
    engine_by_cycle: dict[tuple, list[str]] = defaultdict(list)
    for pk, row in engine.items():
        engine_by_cycle[_key(row["contract_id"], row["customer_id"], row["bill_for"])].append(pk)

    def report(name: str, problems: list[str], *, warning: bool = False, total: int | None = None):
        detail = f"{len(problems)} problem(s): {'; '.join(problems[:4])}" if problems else ""
        if not problems and total is not None:
            detail = f"{total} checked"
        checks.append(Check(name, not problems, detail, warning))

    in_flight = [
        f"#{i['pk']} {i['status']}" for i in local if i["status"] in (S.SUBMITTING, S.APPROVING)
    ]
    report("nothing left submitting/approving after reconcile", in_flight, total=len(local))

    live_by_cycle: dict[tuple, list[int]] = defaultdict(list)
    for i in local:
        if i["status"] in Invoice.LIVE_STATUSES:
            live_by_cycle[
                (i["backend"], *_key(i["contract_id"], i["customer_id"], i["bill_for"]))
            ].append(i["pk"])
    doubles = [
        f"cycle {k[1][:8]}…/{k[3][:10]}: {v}" for k, v in live_by_cycle.items() if len(v) > 1
    ]
    report("no two live local invoices for one cycle", doubles, total=len(live_by_cycle))

    lost, duplicated, mismatched, gone = [], [], [], []
    live = [i for i in local if i["status"] in (S.PENDING, S.APPROVED, S.FAILED)]
    for i in live:
        key = _key(i["contract_id"], i["customer_id"], i["bill_for"])
        row = engine.get(i["upstream_id"])
        if row is None:
            (gone if i["status"] == S.FAILED else lost).append(f"#{i['pk']} ({i['status']})")
            continue
        if _key(row["contract_id"], row["customer_id"], row["bill_for"]) != key:
            mismatched.append(f"#{i['pk']}")
        if len(engine_by_cycle[key]) != 1:
            duplicated.append(f"#{i['pk']}: {len(engine_by_cycle[key])} upstream")
    report("every live local invoice's upstream draft exists upstream", lost, total=len(live))
    report("... for the same contract, customer and bill-for date", mismatched, total=len(live))
    report("... exactly once per (contract, customer, bill_for)", duplicated, total=len(live))
    if gone:
        report("failed invoices whose draft is gone upstream (need a person)", gone, warning=True)

    approved = [i for i in local if i["status"] == S.APPROVED]
    not_approved = [
        f"#{i['pk']} upstream {engine.get(i['upstream_id'], {}).get('status')}"
        for i in approved
        if engine.get(i["upstream_id"], {}).get("status") != "approved"
    ]
    report("every approved local invoice is approved upstream", not_approved, total=len(approved))

    pending = [i for i in local if i["status"] == S.PENDING]
    behind = [
        f"#{i['pk']}"
        for i in pending
        if engine.get(i["upstream_id"], {}).get("status") not in (None, "draft")
    ]
    report("every pending local invoice is still a draft upstream", behind, total=len(pending))

    approved_upstream_ids = {i["upstream_id"] for i in approved}
    new_approved = [
        pk for pk, row in engine.items() if row["status"] == "approved" and pk not in before
    ]
    unknown = [pk[:8] for pk in new_approved if pk not in approved_upstream_ids]
    report(
        "no invoice approved upstream without a local approved record",
        unknown,
        total=len(new_approved),
    )

    cleanup = [f"#{i['pk']}" for i in local if i["upstream_cleanup_pending"]]
    report("no rejected/withdrawn invoice's draft left to delete", cleanup)

    live_keys = {k[1:] for k in live_by_cycle}
    orphans = [
        pk[:8]
        for pk, row in engine.items()
        if row["status"] == "draft"
        and pk not in before
        and _key(row["contract_id"], row["customer_id"], row["bill_for"]) not in live_keys
    ]
    report(
        "no upstream draft without a live local invoice (orphans are reused by the next "
        "submission of that cycle)",
        orphans,
        warning=True,
    )

    failed = Counter(i["failure_code"] for i in local if i["status"] == S.FAILED)
    if failed:
        checks.append(
            Check("invoices left failed for a person", False, dict(failed).__repr__(), warning=True)
        )

    ids = {i["pk"]: i["status"] for i in Invoice.objects.values("pk", "status")}
    missing = [f"#{pk}" for pk in recorder.submitted if pk not in ids]
    report(
        "every submission a clerk saw succeed is in the database",
        missing,
        total=len(recorder.submitted),
    )
    unapproved = [f"#{pk} {ids.get(pk)}" for pk in recorder.approved if ids.get(pk) != S.APPROVED]
    report(
        "every approval a manager saw succeed is approved locally",
        unapproved,
        total=len(recorder.approved),
    )
    return checks


def check_http(drill: Drill, samples: list[h.Sample]) -> list[Check]:
    def in_window(s: h.Sample) -> bool:
        end = s.t + s.ms / 1000
        return any(s.t <= w_end and end >= w_start for w_start, w_end in drill.windows)

    windows = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in drill.windows) or "none"
    print(f"  fault window(s), seconds into the run: {windows}")
    statuses = Counter(str(s.status) if s.status is not None else "transport" for s in samples)
    print(
        f"  requests: {len(samples)}; statuses: "
        + ", ".join(f"{k} x {v}" for k, v in sorted(statuses.items()))
    )
    refused = Counter(
        (s.step, s.status, s.snippet[:110]) for s in samples if s.outcome == "refused"
    )
    if refused:
        print("  expected refusals (business rules), most frequent:")
        for (step, status, text), n in refused.most_common(5):
            print(f"      {n:4d} x {step} -> {status}: {text}")
    errors = [s for s in samples if s.outcome == "error"]
    inside = [s for s in errors if in_window(s)]
    outside = [s for s in errors if not in_window(s)]
    for label, group in (
        ("inside the fault window", inside),
        ("outside the fault window", outside),
    ):
        if not group:
            print(f"  errors {label}: none")
            continue
        print(f"  errors {label}: {len(group)}")
        for (step, status, friendly, text), n in Counter(
            (s.step, s.status, s.friendly, s.snippet[:150]) for s in group
        ).most_common(8):
            kind = "clear message" if friendly else "NOT a clear message"
            print(f"      {n:4d} x {step} -> {status or 'transport'} ({kind}): {text}")
    checks = []
    generic = [s for s in errors if s.status is not None and s.status >= 500 and not s.friendly]
    if drill.window_policy == "friendly":
        checks.append(
            Check(
                "every 5xx people saw was a clear message (no generic 500 page)",
                not generic,
                f"{len(generic)} generic 500 page(s)"
                if generic
                else f"{sum(1 for s in inside if s.status)} clear 5xx in the window",
            )
        )
    else:
        inside_5xx = [s for s in inside if s.status is not None and s.status >= 500]
        generic_inside = [s for s in inside_5xx if not s.friendly]
        checks.append(
            Check(
                "5xx inside the PostgreSQL restart window (counted separately)",
                True,
                f"{len(inside_5xx)} ({len(generic_inside)} generic 500 page(s), "
                f"{len(inside_5xx) - len(generic_inside)} clear message(s))",
            )
        )
    outside_5xx = [s for s in outside if s.status is not None and s.status >= 500]
    checks.append(
        Check("zero 5xx outside the fault window", not outside_5xx, f"{len(outside_5xx)}")
    )
    transport = [s for s in errors if s.status is None]
    checks.append(
        Check(
            f"transport errors: at most {drill.transport_allowed} "
            "(requests in flight on a killed worker's threads)",
            len(transport) <= drill.transport_allowed
            or (
                drill.window_policy == "allowed" and not [s for s in transport if not in_window(s)]
            ),
            f"{len(transport)}",
        )
    )
    unexpected = [s for s in errors if s.kind == "unexpected"]
    checks.append(
        Check(
            "no unexpected statuses (4xx that are not business refusals)",
            not unexpected,
            f"{len(unexpected)}",
        )
    )
    return checks


# --- bill-run drills (issue 12) -----------------------------------------------------------------
# During a month-end bill run worked by real task workers: a worker SIGKILLed (run-worker), the
# billing backend down (run-backend), PostgreSQL restarted (run-postgres). The drills live in
# bench/_billrun_drills.py; each checks that the run completes once things recover, that every
# item is accounted for, exactly one live invoice per cycle, and that the audit chain verifies.
def billrun_drills() -> dict:
    from bench import _billrun_drills as drills

    return {
        name: (lambda rig, _drill=drill: _drill(rig, Drill, Check))
        for name, drill in drills.DRILLS.items()
    }


if __name__ == "__main__":
    sys.exit(main())
