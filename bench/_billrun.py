"""Shared by bench/bill_run.py and the bill-run drills of bench/faults.py: contracts with due
cycles seeded straight into the embedded engine, task workers (`manage.py db_worker`) and the
sweep as subprocesses, planning and launching a run as a clerk would, waiting for it, and the
checks every run must pass (every item accounted for, one live invoice per cycle, the audit chain
verifies).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from bench import _harness as h

ROOT = Path(__file__).resolve().parent.parent
THROUGH = date(2026, 4, 30)  # contracts start 2026-01-01, monthly in advance: 4 cycles due
CYCLES_PER_CONTRACT = 4


# --- seeding --------------------------------------------------------------------------------
def seed_due_contracts(*, currency: str, cycles: int, label: str, seed: int = 7) -> int:
    """Active monthly contracts in `currency` (in advance on the 1st, from 2026-01-01), each with
    a flat fee and a per-seat price: CYCLES_PER_CONTRACT cycles each due by THROUGH. Written with
    the engine's own models, in bulk. Returns how many cycles are due."""
    from billing_engine.models import Contract, Customer, Phase, Pricing, Product

    rng = random.Random(seed)
    start = date(2026, 1, 1)
    count = -(-cycles // CYCLES_PER_CONTRACT)
    platform, _ = Product.objects.get_or_create(
        sku="BRUN-PLAT", defaults={"name": "Platform fee", "description": "Hosted platform"}
    )
    seats, _ = Product.objects.get_or_create(
        sku="BRUN-SEAT", defaults={"name": "Seats", "description": "Named users"}
    )
    base = 800_000 + 10_000 * (sum(map(ord, label)) % 50)
    customers = Customer.objects.bulk_create(
        Customer(
            account_number=base + i,
            name=f"{label} customer {i:04d} Ltd",
            contact_name="Bench Contact",
            email=f"billing{i}@{label.lower()}.bench.example.com",
            street1="1 Bench Road",
            city="Bristol",
            zip="BS1 5TY",
            country="GB",
        )
        for i in range(count)
    )
    contracts = Contract.objects.bulk_create(
        Contract(
            customer=customer,
            name=f"{label} platform {i:04d}",
            status="active",
            currency=currency,
            start_date=start,
            end_date=None,
            cadence="P1M",
            billing_cycle_start_day=1,
            in_advance=True,
        )
        for i, customer in enumerate(customers)
    )
    phases = Phase.objects.bulk_create(
        Phase(contract=c, name="Active", phase_type="active", start_date=start) for c in contracts
    )
    Pricing.objects.bulk_create(
        [
            Pricing(
                phase=phase,
                product=platform,
                pricing_type="flat_fee",
                unit_amount_minor=rng.randint(100, 900) * 100,
                quantity=Decimal(1),
                tiers=[],
                start_date=start,
            )
            for phase in phases
        ]
        + [
            Pricing(
                phase=phase,
                product=seats,
                pricing_type="per_unit",
                unit_amount_minor=2500,
                quantity=Decimal(rng.randint(5, 80)),
                tiers=[],
                start_date=start,
                unit="seat",
            )
            for phase in phases
        ]
    )
    return count * CYCLES_PER_CONTRACT


# --- processes ------------------------------------------------------------------------------
class Processes:
    """`manage.py` subprocesses (task workers, the sweep), each in its own session; stopped on
    teardown (SIGTERM, then SIGKILL to the group)."""

    def __init__(self, workdir: Path, name: str):
        self.workdir = workdir
        self.name = name
        self.procs: list[subprocess.Popen] = []
        self.log_path = workdir / f"{name}.log"

    def start(self, env: dict[str, str], *args: str, nice: int = 0) -> subprocess.Popen:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def workers(self, env: dict[str, str], count: int, *, nice: int = 0) -> list[subprocess.Popen]:
        """`count` task workers for the billruns queue; `nice`: their CPU priority below the
        web server's (README: run bill-run workers as batch work)."""
        return [
            self.start(
                env,
                "db_worker",
                "--queue-name",
                "billruns",
                "--interval",
                "0.2",
                "--no-reload",
                "--no-startup-delay",
                nice=nice,
            )
            for _ in range(count)
        ]

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self, timeout: float = 15) -> None:
        for proc in self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs = []

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line for line in text[-lines:] if not line.startswith('{"time"'))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (threads included), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_env(env: dict[str, str], **overrides: str) -> dict[str, str]:
    """The app's environment for a worker (BENCH_WORKER_LOG_LEVEL=INFO logs each backend call)."""
    return {
        **env,
        "DJANGO_LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
        **overrides,
    }


# --- a run ----------------------------------------------------------------------------------
@dataclass
class Launched:
    run_id: int
    items: int
    planning_s: float


def use_backend(name: str, standin_url: str = "") -> None:
    """Point this process's Django at a contract-cycle backend (planning happens here)."""
    from django.conf import settings

    from invoices.backends import reset_backends

    settings.BILLING_BACKEND = name
    if standin_url:
        settings.ZENSKAR_BASE_URL = standin_url
    reset_backends()


def plan_and_launch(clerk_username: str, *, currency: str) -> Launched:
    """What a clerk does on the page: a dry run of every cycle due by THROUGH in `currency`,
    then launch (which queues the run's tasks for the workers)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from billruns import services
    from billruns.planning import PlanFilters, build_plan

    clerk = get_user_model().objects.get(username=clerk_username)
    started = time.monotonic()
    plan = build_plan(PlanFilters(through=THROUGH, currency=currency))
    planning_s = time.monotonic() - started
    run = services.billrun_from_plan(actor=clerk, plan=plan)
    services.billrun_launch(actor=clerk, run_id=run.pk)
    connections.close_all()
    return Launched(run.pk, len(plan.cycles), planning_s)


def wait_for(run_id: int, *, timeout: float, tick=None, every: float = 0.5):
    """Until the run has finished (or `timeout`); returns the run. `tick(elapsed, counts)`."""
    from django.db import DatabaseError, close_old_connections

    from billruns.models import BillRun, BillRunItem

    started = time.monotonic()
    run = None
    while time.monotonic() - started < timeout:
        try:
            close_old_connections()
            run = BillRun.objects.get(pk=run_id)
            if tick is not None:
                counts = Counter(
                    BillRunItem.objects.filter(run_id=run_id).values_list("status", flat=True)
                )
                tick(time.monotonic() - started, counts)
            if run.finished_at is not None:
                return run
        except DatabaseError:
            pass  # PostgreSQL restarting: ask again
        time.sleep(every)
    return run


def run_numbers(run_id: int) -> dict:
    from billruns.models import BillRun, BillRunItem

    run = BillRun.objects.get(pk=run_id)
    counts = Counter(BillRunItem.objects.filter(run_id=run_id).values_list("status", flat=True))
    wall = (run.finished_at - run.launched_at).total_seconds() if run.finished_at else None
    submitted = counts.get("submitted", 0)
    return {
        "counts": dict(counts),
        "wall_s": wall,
        "per_s": submitted / wall if wall else float("nan"),
        "submitted": submitted,
    }


def check_run(run_id: int, env: dict[str, str]) -> list[tuple[str, bool, str]]:
    """(check, passed, detail): the run finished with every item settled and accounted for, one
    live local invoice per cycle (and one upstream draft per live invoice's cycle, on the
    embedded engine's tables), every submitted item linked to a live invoice of this run, and
    `manage.py verify_audit` passes."""
    from billing_engine.models import EngineInvoice
    from billruns.models import BillRun, BillRunItem
    from invoices.models import Invoice

    checks = []
    run = BillRun.objects.get(pk=run_id)
    items = list(BillRunItem.objects.filter(run_id=run_id).select_related("invoice"))
    counts = Counter(i.status for i in items)
    open_items = counts.get("pending", 0) + counts.get("claimed", 0)
    checks.append(("the run finished", run.finished_at is not None, run.status))
    checks.append(
        (
            "every item accounted for (none waiting or in flight)",
            open_items == 0,
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f" of {len(items)}",
        )
    )
    # (Managers may have approved or rejected them since: any status but an unfinished one.)
    unlinked = [
        i.pk
        for i in items
        if i.status == "submitted"
        and (i.invoice is None or i.invoice.run_id != run_id or i.invoice.status == "submitting")
    ]
    name = "every submitted item links a submitted invoice of the run"
    checks.append((name, not unlinked, str(unlinked[:5]) if unlinked else ""))
    live = Counter(
        Invoice.objects.filter(kind="cycle", status__in=Invoice.LIVE_STATUSES).values_list(
            "backend", "contract_id", "customer_id", "bill_for"
        )
    )
    doubles = [k for k, n in live.items() if n > 1]
    checks.append(("exactly one live invoice per cycle", not doubles, f"{len(live)} cycles"))
    upstream = Counter(
        EngineInvoice.objects.values_list("contract_id", "customer_id", "bill_for").filter(
            status__in=("draft", "approved")
        )
    )
    up_doubles = [k for k, n in upstream.items() if n > 1]
    checks.append(("one upstream invoice per cycle", not up_doubles, f"{len(upstream)} cycles"))
    code, output = h.run_manage(env, "verify_audit")
    checks.append(("manage.py verify_audit passes", code == 0, output.strip()[-120:]))
    return checks


def print_checks(checks) -> bool:
    ok = True
    for name, passed, detail in checks:
        ok &= passed
        print(f"    [{'ok  ' if passed else 'FAIL'}] {name}" + (f" -- {detail}" if detail else ""))
    return ok


# --- measuring a remote run ---------------------------------------------------------------
def client_call_ms(path: Path, offset: int) -> float:
    """Mean duration of a backend round trip as the workers logged it (their JSON log from
    `offset`): a draft read's two concurrent GETs count as one round trip (the slower one)."""
    plain, pairs = [], []
    with path.open(errors="replace") as log:
        log.seek(offset)
        for line in log:
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("logger") != "invoices.backends" or "duration_ms" not in record:
                continue
            if "line_items" in (record.get("http_path") or ""):
                pairs.append(float(record["duration_ms"]))
            else:
                plain.append(float(record["duration_ms"]))
    return statistics.fmean(plain) if plain else 0.0


def round_trips(calls: Counter, items: int, planning: Counter) -> dict:
    """Sequential round trips per submitted item: a contract read (when not cached), the cycle
    list, the generate call, and the draft read (its two GETs go out together: one round trip)."""

    def count(fragment: str, method: str = "GET") -> int:
        return sum(
            n - planning.get(k, 0)
            for k, n in calls.items()
            if k.startswith(method) and fragment in k
        )

    contract = count("/contract_v2/")
    cycles = count("billingCycles")
    generate = count("generate_invoice", "POST")
    draft = sum(
        n - planning.get(k, 0)
        for k, n in calls.items()
        if k.startswith("GET") and "/invoices/" in k and "line_items" not in k
    )
    per_item = (contract + cycles + generate + draft) / max(1, items)
    return {
        "round_trips": per_item,
        "per_item": {
            "contract": contract / max(1, items),
            "cycles": cycles / max(1, items),
            "generate": generate / max(1, items),
            "draft": draft / max(1, items),
        },
    }
