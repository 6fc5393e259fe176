"""bench/faults.py's drills during a month-end bill run (issue 12):

- run-worker: a run on the embedded engine worked by 2 task workers (`manage.py db_worker`); one
  is sent SIGKILL mid-run, then the other, and a fresh worker starts (what systemd's
  Restart=always does);
- run-backend: a run on the Zenskar stand-in (1 worker making 8 calls at once); the stand-in goes
  down for 12 s in the middle of it (connections refused, open ones cut), then comes back;
- run-postgres: a run on the embedded engine with 2 workers; PostgreSQL restarts in the middle of
  it (every connection terminated); workers that die of it are started again.

Each drill runs the sweep beside the workers (`manage.py sweep --every 2`), with short leases and
backoffs so that it completes within a minute or two. After each: the run finishes once things
recover, every item is accounted for (none waiting or in flight), exactly one live local invoice
and one upstream invoice per cycle, no cycle generated twice, and `manage.py verify_audit` passes.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter

from bench import _billrun as b
from bench import _harness as h

RUN_CYCLES = 240
SWEEP_ENV = {
    "BILLRUN_LEASE_SECONDS": "15",
    "BILLRUN_BACKOFF_SECONDS": "1",
    "BILLRUN_BACKOFF_MAX_SECONDS": "4",
    "BILLRUN_MAX_ATTEMPTS": "40",
    "SWEEP_OLDER_THAN_SECONDS": "15",
}
_seeded: set[str] = set()


def _setup(rig, currency: str, label: str, cycles: int = RUN_CYCLES) -> None:
    if currency not in _seeded:
        b.seed_due_contracts(currency=currency, cycles=cycles, label=label)
        _seeded.add(currency)


def _clerk(rig) -> str:
    return rig.seed.users["clerk"][0]


def _finish(rig, drill, check_cls, run_id: int, env, procs, *, timeout: float = 300) -> None:
    """Wait for the run to finish (workers and the sweep keep going), then check it."""
    run = b.wait_for(run_id, timeout=timeout)
    procs.stop()
    from django.db import connections

    connections.close_all()
    numbers = b.run_numbers(run_id)
    drill.notes.append(
        f"run #{run_id}: {numbers['counts']} in {numbers['wall_s'] or float('nan'):.0f} s"
        if run is not None and run.finished_at
        else f"run #{run_id} did NOT finish within {timeout:.0f} s: {numbers['counts']}"
    )
    drill.notes.append(_settled_by_reconcile(run_id))
    for note in drill.notes:
        print(f"  {note}")
    for name, passed, detail in b.check_run(run_id, env):
        drill.checks.append(check_cls(name, passed, detail))
    generated = _generated_twice(run_id)
    drill.checks.append(
        check_cls("no cycle of the run generated twice upstream", not generated, generated[:200])
    )
    print("  checks:")
    for check in drill.checks:
        mark = "ok  " if check.ok else ("WARN" if check.warning else "FAIL")
        print(f"    [{mark}] {check.name}" + (f" -- {check.detail}" if check.detail else ""))
    bad = [c for c in drill.checks if not c.ok and not c.warning]
    print(f"  VERDICT {drill.name}: {'PASS' if not bad else 'FAIL'}", flush=True)


def _settled_by_reconcile(run_id: int) -> str:
    from invoices.models import AuditEvent

    completed = AuditEvent.objects.filter(
        action="invoice.reconciled", data__run=run_id, to_status="pending_approval"
    ).count()
    dropped = AuditEvent.objects.filter(action="invoice.submit_failed", data__run=run_id).count()
    return (
        f"interrupted submissions: {completed} completed from their draft by reconcile, "
        f"{dropped} dropped (nothing generated, or the draft was taken back) and submitted again"
    )


def _generated_twice(run_id: int) -> str:
    """Upstream invoices for the run's cycles: more than one per cycle would be a double."""
    from billing_engine.models import EngineInvoice
    from billruns.models import BillRunItem

    keys = set(
        BillRunItem.objects.filter(run_id=run_id).values_list(
            "contract_id", "customer_id", "bill_for"
        )
    )
    upstream = Counter(
        (str(c), str(cu), bf)
        for c, cu, bf in EngineInvoice.objects.values_list("contract_id", "customer_id", "bill_for")
    )
    doubles = [k for k in keys if upstream.get(k, 0) > 1]
    return ", ".join(f"{k[0][:8]}/{k[2]:%Y-%m-%d}" for k in doubles)


# --- the drills -----------------------------------------------------------------------------
def run_worker(rig, drill_cls, check_cls):
    drill = drill_cls("run-worker", "4. bill run: a task worker is killed (SIGKILL) mid-run")
    _banner(drill.title)
    _setup(rig, "SEK", "Nordic", cycles=1200)  # long enough to outlive two kills
    b.use_backend("embedded")
    env = b.worker_env(rig.env, BILLING_BACKEND="embedded", **SWEEP_ENV)
    procs = b.Processes(rig.config.workdir, "billrun-worker-drill")
    workers = procs.workers(env, 2)
    procs.start(env, "sweep", "--every", "2")
    time.sleep(3)
    launched = b.plan_and_launch(_clerk(rig), currency="SEK")
    h.log(f"run #{launched.run_id}: {launched.items} cycles, 2 workers")
    # Each worker is killed while a submission of the run is in flight (the second one then
    # certainly holds it: it is the only worker left).
    kills, since, mid_submission = 0, None, 0
    for victim, pause in ((workers[0], 2.0), (workers[1], 3.0)):
        time.sleep(pause)
        in_flight = _wait_submitting(launched.run_id, since=since)
        procs.kill(victim)
        since = timezone_now()
        kills += 1
        mid_submission += bool(in_flight)
        h.log(f"SIGKILL worker {victim.pid} ({in_flight} submission(s) of the run in flight)")
        drill.notes.append(f"worker {victim.pid} killed with {in_flight} submission(s) in flight")
    drill.checks.append(
        check_cls(
            "a worker was killed in the middle of a submission",
            mid_submission > 0,
            f"{mid_submission} of {kills} kills",
        )
    )
    procs.workers(env, 1)  # the service manager starts a fresh one
    h.log("a fresh worker started")
    drill.checks.append(check_cls("two workers were killed mid-run", kills == 2, ""))
    _finish(rig, drill, check_cls, launched.run_id, env, procs)
    return drill


def run_backend(rig, drill_cls, check_cls):
    drill = drill_cls("run-backend", "5. bill run: the billing backend is down for 12 s mid-run")
    _banner(drill.title)
    _setup(rig, "DKK", "Danish")
    b.use_backend("zenskar", rig.standin.url)
    env = b.worker_env(
        rig.env, BILLING_BACKEND="zenskar", BILLRUN_CONCURRENCY="zenskar=8", **SWEEP_ENV
    )
    procs = b.Processes(rig.config.workdir, "billrun-backend-drill")
    procs.workers(env, 1)
    procs.start(env, "sweep", "--every", "2")
    time.sleep(3)
    launched = b.plan_and_launch(_clerk(rig), currency="DKK")
    h.log(f"run #{launched.run_id}: {launched.items} cycles on the stand-in, K=8")
    time.sleep(4)
    rig.standin.down()
    h.log("stand-in DOWN")
    time.sleep(12)
    rig.standin.up()
    h.log("stand-in UP again")
    from billruns.models import BillRunItem

    items = BillRunItem.objects.filter(run_id=launched.run_id)
    retried = sum(items.values_list("attempts", flat=True))
    drill.notes.append(f"{retried} retried backend call(s) recorded on items so far")
    _finish(rig, drill, check_cls, launched.run_id, env, procs)
    failed = BillRunItem.objects.filter(run_id=launched.run_id, status="failed").count()
    drill.checks.append(
        check_cls("no item failed: they waited for the backend and retried", failed == 0, "")
    )
    return drill


def run_postgres(rig, drill_cls, check_cls):
    """NEVER run on a shared machine: it restarts the PostgreSQL cluster (bench/faults.py)."""
    drill = drill_cls("run-postgres", "6. bill run: PostgreSQL restarts mid-run")
    _banner(drill.title)
    _setup(rig, "NOK", "Fjord")
    b.use_backend("embedded")
    env = b.worker_env(rig.env, BILLING_BACKEND="embedded", **SWEEP_ENV)
    procs = b.Processes(rig.config.workdir, "billrun-postgres-drill")
    procs.workers(env, 2)
    procs.start(env, "sweep", "--every", "2")
    time.sleep(3)
    launched = b.plan_and_launch(_clerk(rig), currency="NOK")
    h.log(f"run #{launched.run_id}: {launched.items} cycles, 2 workers")
    stop = threading.Event()

    def supervise() -> None:  # Restart=always: a worker that died of the restart comes back
        while not stop.wait(1):
            alive = [p for p in procs.alive() if "db_worker" in " ".join(p.args)]
            if len(alive) < 2:
                procs.workers(env, 2 - len(alive))
            if not [p for p in procs.alive() if "sweep" in " ".join(p.args)]:
                procs.start(env, "sweep", "--every", "2")

    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    time.sleep(4)
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    h.log("PostgreSQL RESTART")
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    h.ensure_postgres()
    drill.notes.append(f"pg_ctlcluster {version} main restart: exit {done.returncode}")
    from django.db import connections

    connections.close_all()
    try:
        _finish(rig, drill, check_cls, launched.run_id, env, procs)
    finally:
        stop.set()
    return drill


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def _wait_submitting(run_id: int, *, since=None, timeout: float = 5.0) -> int:
    """Wait (a little) until a submission of the run is in flight; how many are."""
    from invoices.models import Invoice

    found = Invoice.objects.filter(run_id=run_id, status=Invoice.Status.SUBMITTING)
    if since is not None:
        found = found.filter(submitted_at__gt=since)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = found.count()
        if count:
            return count
        time.sleep(0.005)
    return 0


def _banner(title: str) -> None:
    print()
    print("=" * 100)
    print(title)
    print("=" * 100, flush=True)


DRILLS = {"run-worker": run_worker, "run-backend": run_backend, "run-postgres": run_postgres}
