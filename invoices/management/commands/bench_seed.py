"""Fill the database with a large, realistic invoice history, fast (for benchmarks).

    manage.py bench_seed --invoices 1000000 [--batch 10000] [--contracts N] [--seed S] [--force]

What it writes, spread over the last `--years` (default 3) years:
- ~20 users (12 clerks, 8 managers) and an auditor, `bench-*`, with unusable passwords;
- contracts (monthly, quarterly, half-yearly and yearly; in advance and in arrears; some ended)
  of customers, on the `embedded` and `zenskar` backends, in USD EUR GBP JPY KWD, and the cycle
  invoices of their cycles (computed by `billing_rules.cycles`, as the engine lists them, with
  the wire strings kept verbatim), with a few cycles left uninvoiced;
- ad-hoc invoices (`embedded` and `rebillia`) with the request JSON and snapshot lines the real
  services store (`invoices.adhoc`);
- 1–6 snapshot lines per invoice in the shape of `invoices.snapshots.snapshot_line`, totals equal
  to the sum of the lines, content hashes computed like the services do;
- statuses as time leaves them (recent ones pending, older ones approved, some withdrawn, some
  rejected, a few failed), rejected versions revised by newer versions of the same lineage;
- for every invoice, the audit events the services would have written (submitted,
  approval_started, approved, rejected, draft_deleted, withdrawn, approval_failed), appended to
  the existing hash chain (`manage.py verify_audit` still passes).

The model's constraints hold (one live invoice per cycle, four eyes, cycle invoices have a
bill-for date) because the database checks them on insert. PostgreSQL is filled with COPY
(psycopg's `cursor.copy`), SQLite with `bulk_create`, one transaction per batch that holds the
audit chain's head row. Refuses to run with DJANGO_DEBUG off unless --force: never point it at
a production database.

Without --contracts, it makes as many contracts as the cycle invoices need (about one per 40
invoices: over three years a monthly contract has at most ~36 cycles); with --contracts N the
cycle invoices those contracts can hold are made and the rest are ad-hoc.
"""

from __future__ import annotations

import calendar
import json
import random
import time as clock
import uuid
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from billing_rules.cycles import compute_cycles, to_wire
from invoices import money, roles
from invoices.adhoc import adhoc_snapshot_lines
from invoices.backends.base import AdhocInvoiceRequest, AdhocLine
from invoices.models import AuditChainHead, AuditEvent, Invoice, chain_hash
from invoices.snapshots import invoice_content_hash

S = Invoice.Status
DAY = 86400.0
HOUR = 3600.0
# Revisions take at most ~50 days (two rejections); slots newer than this have one version, so
# every planned version fits before "now" and the command writes exactly --invoices rows.
RECENT = 60 * DAY

CURRENCIES = (("USD", 50), ("EUR", 25), ("GBP", 12), ("JPY", 8), ("KWD", 5))
# Rough value of one USD in each currency, to keep prices plausible.
FX = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0, "KWD": 0.31}
CADENCES = (("P1M", 72), ("P3M", 18), ("P6M", 4), ("P1Y", 6))
CADENCE_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P1Y": 12}
# name, description, unit, USD price range per unit (major), quantity range, metered
CATALOGUE = (
    ("Platform fee", "Platform access", "", (200, 5000), (1, 1), False),
    ("Seats", "Named user seats", "seat", (8, 60), (5, 400), False),
    ("API calls", "API requests, per thousand", "1k calls", (1, 5), (50, 5000), True),
    ("Storage", "Object storage", "TB", (20, 90), (1, 80), True),
    ("Support plan", "Premium support, business hours", "", (100, 3000), (1, 1), False),
    ("Data egress", "Outbound transfer", "GB", (1, 3), (100, 9000), True),
    ("Managed database", "Managed PostgreSQL cluster", "node", (150, 900), (1, 6), False),
)
ADHOC_ITEMS = (
    "Onboarding workshop",
    "Custom integration",
    "Hardware token",
    "Training day",
    "Data migration",
    "Consulting hours",
    "Replacement device",
    "Audit report",
)
NAMES_A = (
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Hooli",
    "Vandelay",
    "Aperture",
    "Soylent",
    "Wonka",
    "Sterling",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Acme",
    "Dunder",
    "Pied Piper",
    "Blue Sun",
    "Ollivander",
    "Zorg",
    "Nakatomi",
)
NAMES_B = (
    "Robotics",
    "Foods",
    "Logistics",
    "Health",
    "Energy",
    "Media",
    "Labs",
    "Systems",
    "Analytics",
    "Retail",
    "Capital",
    "Dynamics",
    "Works",
    "Networks",
    "Studios",
    "Pharma",
    "Motors",
    "Textiles",
    "Mining",
    "Travel",
)
NAMES_C = (
    "Ltd",
    "GmbH",
    "Inc.",
    "S.A.",
    "B.V.",
    "AB",
    "Oy",
    "K.K.",
    "LLC",
    "plc",
    "S.r.l.",
    "A/S",
    "Pty Ltd",
    "SAS",
)
PLANS = ("Starter", "Growth", "Business", "Enterprise", "Platform", "Support", "Data", "Scale")
REJECTIONS = (
    "Wrong seat count: the customer went down to 40 seats on the 3rd.",
    "PO number missing; the customer requires it on every invoice.",
    "-10% loyalty discount not applied.",
    "@finance please confirm the VAT treatment before this goes out.",
    "Storage usage looks doubled; check the meter.",
    "Customer asked to hold invoices until the contract amendment is signed.",
    "Wrong currency: this customer is billed in EUR since March.",
    "=Duplicate of last month's invoice?",
)
FAILURE = "The billing backend did not complete the approval: Timed out after 10 s."


@dataclass(slots=True)
class Customer:
    id: str
    name: str
    email: str


@dataclass(slots=True)
class Product:
    name: str
    description: str
    unit: str
    unit_minor: int
    unit_price: str  # canonical decimal text, as snapshot_line writes it
    quantity: int
    metered: bool


@dataclass(slots=True)
class ContractPlan:
    id: str
    name: str
    customer: Customer
    backend: str
    currency: str
    cadence: str
    anchor: int
    in_advance: bool
    start: date
    end: date | None
    clerk: int
    products: list[Product] = field(default_factory=list)


@dataclass(slots=True)
class Slot:
    """One thing that was invoiced: a contract cycle, or an ad-hoc request (with revisions)."""

    at: float  # first submission, UNIX seconds
    versions: int
    contract: ContractPlan | None = None
    start: date | None = None
    end: date | None = None
    customer: Customer | None = None


class Command(BaseCommand):
    help = "Fill the database with a large, realistic invoice history (benchmarks only)."

    def add_arguments(self, parser):
        parser.add_argument("--invoices", type=int, required=True, help="How many invoices.")
        parser.add_argument(
            "--batch", type=int, default=10_000, help="Invoices per transaction (default 10000)."
        )
        parser.add_argument(
            "--contracts", type=int, default=None, help="Contracts (default: as many as needed)."
        )
        parser.add_argument(
            "--adhoc-share", type=float, default=0.22, help="Share of ad-hoc invoices (0.22)."
        )
        parser.add_argument("--years", type=float, default=3.0, help="History length (3).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DJANGO_DEBUG off (never on a production database).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "bench_seed writes a large made-up history. It refuses to run with DJANGO_DEBUG "
                "off; pass --force if this really is a benchmark database."
            )
        total = options["invoices"]
        if total < 1:
            raise CommandError("--invoices must be at least 1.")
        started = clock.perf_counter()
        self.verbosity = options["verbosity"]
        seed = options["seed"] if options["seed"] is not None else random.randrange(2**32)
        self.rng = random.Random(seed)
        self.now = timezone.now()
        self.vendor = connection.vendor
        self.counter = 0

        users = self._users()
        planned = self._plan(total, options)
        slots = planned["slots"]
        plan_seconds = clock.perf_counter() - started
        self.stdout.write(
            f"seed {seed}: {len(users['clerks'])} clerks, {len(users['managers'])} managers, "
            f"{planned['contracts']} contracts, {planned['customers']} customers, "
            f"{len(slots)} slots planned in {plan_seconds:.1f} s"
        )

        written = events = 0
        batch: list[Slot] = []
        size = 0
        for slot in slots:
            batch.append(slot)
            size += slot.versions
            if size >= options["batch"]:
                w, e = self._write_batch(batch, users)
                written, events = written + w, events + e
                self._progress(written, events, started)
                batch, size = [], 0
        if batch:
            w, e = self._write_batch(batch, users)
            written, events = written + w, events + e
            self._progress(written, events, started)
        load_seconds = clock.perf_counter() - started
        self._analyze()
        elapsed = clock.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"bench_seed: {written} invoices and {events} audit events in {elapsed:.1f} s "
                f"(load {load_seconds:.1f} s, {written / max(load_seconds, 1e-9):,.0f} "
                f"invoices/s; analyze {elapsed - load_seconds:.1f} s) on {self.vendor}"
            )
        )

    def _progress(self, written: int, events: int, started: float) -> None:
        if self.verbosity >= 1:
            seconds = clock.perf_counter() - started
            self.stdout.write(f"  {written:>9} invoices, {events:>9} events, {seconds:7.1f} s")

    # --- people ---------------------------------------------------------------------------
    def _users(self) -> dict:
        User = get_user_model()
        groups = {
            name: Group.objects.get(name=name)
            for name in (roles.CLERKS, roles.MANAGERS, roles.AUDITORS)
        }
        made: dict[str, list] = {"clerks": [], "managers": []}
        wanted = [(f"bench-clerk-{i:02}", roles.CLERKS, "clerks") for i in range(1, 13)]
        wanted += [(f"bench-manager-{i:02}", roles.MANAGERS, "managers") for i in range(1, 9)]
        wanted += [("bench-auditor", roles.AUDITORS, None)]
        for username, group, bucket in wanted:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@example.com", "first_name": username.title()},
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(groups[group])
            if bucket:
                n = len(made[bucket]) + 1
                ip = f"10.{20 if bucket == 'clerks' else 30}.{n}.{self.rng.randrange(2, 250)}"
                made[bucket].append((user.pk, user.get_username(), ip))
        return made

    # --- the plan: what gets invoiced when --------------------------------------------------
    def _plan(self, total: int, options) -> dict:
        rng = self.rng
        years = options["years"]
        now_ts = self.now.timestamp()
        window_start = now_ts - years * 365.25 * DAY
        adhoc_target = round(total * options["adhoc_share"])
        cycle_target = total - adhoc_target
        customers: list[Customer] = []
        used_names: set[str] = set()

        def new_customer() -> Customer:
            name = f"{rng.choice(NAMES_A)} {rng.choice(NAMES_B)} {rng.choice(NAMES_C)}"
            if name in used_names:
                name = f"{name} ({len(used_names) + 1})"
            used_names.add(name)
            slug = name.split()[0].lower()
            customer = Customer(str(uuid.uuid4()), name, f"billing@{slug}.example.com")
            customers.append(customer)
            return customer

        slots: list[Slot] = []
        contracts = 0
        cycle_invoices = 0
        limit = options["contracts"]
        while (limit is None and cycle_invoices < cycle_target) or (
            limit is not None and contracts < limit
        ):
            customer = (
                rng.choice(customers) if customers and rng.random() < 0.35 else new_customer()
            )
            plan = self._contract(customer, window_start, years)
            contracts += 1
            for start, end in self._cycles(plan):
                bill_for = start if plan.in_advance else end
                at = _ts(bill_for) + rng.uniform(-2 * DAY, 8 * DAY) + rng.uniform(8, 18) * HOUR
                if at < window_start or at > now_ts or rng.random() < 0.03:
                    continue  # before the window, not yet invoiced, or a gap
                versions = 1 if at > now_ts - RECENT else _versions(rng)
                slots.append(Slot(at, versions, contract=plan, start=start, end=end))
                cycle_invoices += versions
        if cycle_invoices > cycle_target:
            rng.shuffle(slots)
            kept, count = [], 0
            for slot in slots:
                if count + slot.versions <= cycle_target:
                    kept.append(slot)
                    count += slot.versions
            slots, cycle_invoices = kept, count
        adhoc_target = total - cycle_invoices
        extra_customers = max(1, adhoc_target // 60)
        pool = customers + [new_customer() for _ in range(extra_customers)]
        made = 0
        while made < adhoc_target:
            # Business grows: more invoices recently (density rises by about half over the span).
            at = window_start + (now_ts - window_start) * rng.random() ** 0.8
            versions = 1 if at > now_ts - RECENT else min(_versions(rng), adhoc_target - made)
            slots.append(Slot(at, versions, customer=rng.choice(pool)))
            made += versions
        slots.sort(key=lambda s: s.at)
        return {"slots": slots, "contracts": contracts, "customers": len(customers)}

    def _contract(self, customer: Customer, window_start: float, years: float) -> ContractPlan:
        rng = self.rng
        earliest = datetime.fromtimestamp(window_start, UTC).date() - timedelta(days=365)
        span = (self.now.date() - timedelta(days=30) - earliest).days
        start = earliest + timedelta(days=rng.randrange(max(span, 1)))
        anchor = start.day if rng.random() < 0.8 else rng.choice((1, 15, 28, 29, 30, 31))
        cadence = _weighted(rng, CADENCES)
        end = None
        if rng.random() < 0.25:
            months = rng.randrange(12, 37)
            year, month = divmod(start.month - 1 + months, 12)
            end_year = start.year + year
            end = date(
                end_year, month + 1, min(start.day, calendar.monthrange(end_year, month + 1)[1])
            )
        currency = _weighted(rng, CURRENCIES)
        plan = ContractPlan(
            id=str(uuid.uuid4()),
            name=f"{customer.name.split()[0]} – {rng.choice(PLANS)} {cadence_label(cadence)}",
            customer=customer,
            backend="zenskar" if rng.random() < 0.65 else "embedded",
            currency=currency,
            cadence=cadence,
            anchor=anchor,
            in_advance=rng.random() < 0.7,
            start=start,
            end=end,
            clerk=rng.randrange(12),
        )
        months = CADENCE_MONTHS[cadence]
        for name, description, unit, (low, high), (qlow, qhigh), metered in rng.sample(
            CATALOGUE, rng.randint(1, 6)
        ):
            per_period = 1 if metered or unit else months
            unit_minor = self._price(rng.uniform(low, high) * per_period, currency)
            plan.products.append(
                Product(
                    name=name,
                    description=description,
                    unit=unit,
                    unit_minor=unit_minor,
                    unit_price=_decimal_text(unit_minor, currency),
                    quantity=rng.randint(qlow, qhigh),
                    metered=metered,
                )
            )
        return plan

    def _price(self, usd: float, currency: str) -> int:
        e = money.exponent(currency)
        minor = int(usd * FX[currency] * 10**e)
        if e >= 2:
            minor -= minor % 10 ** (e - 1)  # prices end in a round decimal
        return max(minor, 1)

    def _cycles(self, plan: ContractPlan) -> list[tuple[date, date]]:
        cycles = compute_cycles(
            start=plan.start,
            end=plan.end,
            cadence=plan.cadence,
            anchor_day=plan.anchor,
            in_advance=plan.in_advance,
            horizon=self.now.date() + timedelta(days=1),
        )
        return [(c.start.date(), c.end.date()) for c in cycles]

    # --- one batch: rows and their audit events, in one transaction ------------------------
    def _write_batch(self, batch: list[Slot], users: dict) -> tuple[int, int]:
        count = sum(slot.versions for slot in batch)
        with transaction.atomic():
            if self.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit = off")
            ids = iter(self._reserve_ids(count))
            head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
            chain = _Chain(head.seq, head.hash, self.rng)
            invoices: list[dict] = []
            for slot in batch:
                self._slot_rows(slot, ids, users, invoices, chain)
            self._insert(invoices, chain.events)
            head.seq, head.hash = chain.seq, chain.hash
            head.save(update_fields=["seq", "hash"])
        return len(invoices), len(chain.events)

    def _reserve_ids(self, count: int) -> list[int]:
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('invoices_invoice', 'id')) "
                    "FROM generate_series(1, %s)",
                    [count],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM invoices_invoice")
            first = cursor.fetchone()[0] + 1
            return list(range(first, first + count))

    def _slot_rows(self, slot: Slot, ids, users, out: list[dict], chain: _Chain) -> None:
        rng = self.rng
        now_ts = self.now.timestamp()
        clerks, managers = users["clerks"], users["managers"]
        if slot.contract is not None and rng.random() < 0.8:
            clerk = clerks[slot.contract.clerk]
        else:
            clerk = rng.choice(clerks)
        lineage = uuid.UUID(int=rng.getrandbits(128), version=4)
        at = slot.at
        previous = None
        base = self._cycle_base(slot) if slot.contract is not None else None
        for version in range(1, slot.versions + 1):
            last = version == slot.versions
            submitter = clerk if rng.random() < 0.85 else rng.choice(clerks)
            row = (
                self._cycle_invoice(slot, base, version)
                if base is not None
                else self._adhoc_invoice(slot, at, version)
            )
            row.update(
                id=next(ids),
                lineage=lineage,
                version=version,
                previous_id=previous["id"] if previous else None,
                submitted_by_id=submitter[0],
                submitted_at=_dt(at),
            )
            row["content_hash"] = invoice_content_hash(SimpleNamespace(**row))
            manager = rng.choice(managers)
            decide_at = at + _decision_delay(rng)
            if decide_at > now_ts:
                outcome = "pending"
            elif not last:
                outcome = "rejected"
            else:
                outcome = _weighted(
                    rng, (("approved", 920), ("withdrawn", 30), ("rejected", 45), ("failed", 5))
                )
            self._events(row, outcome, submitter, manager, at, decide_at, chain)
            out.append(row)
            previous = row
            if outcome != "rejected" or last:
                break
            at = decide_at + rng.uniform(0.5 * HOUR, 4 * DAY)

    def _cycle_base(self, slot: Slot) -> dict:
        plan = slot.contract
        start = datetime(slot.start.year, slot.start.month, slot.start.day, tzinfo=UTC)
        end = datetime(slot.end.year, slot.end.month, slot.end.day, tzinfo=UTC)
        bill_for = start if plan.in_advance else end
        last_day = slot.end - timedelta(days=1)
        return {
            "kind": Invoice.Kind.CYCLE,
            "backend": plan.backend,
            "contract_id": plan.id,
            "contract_name": plan.name,
            "customer_id": plan.customer.id,
            "customer_name": plan.customer.name,
            "cycle_name": f"{slot.start.isoformat()} – {last_day.isoformat()}",
            "cycle_start_date": to_wire(start),
            "cycle_end_date": to_wire(end),
            "cycle_bill_for_date": to_wire(bill_for),
            "cycle_start_day": plan.anchor,
            "bill_for": bill_for,
            "period_start": start,
            "period_end": end,
            "currency": plan.currency,
            "preview_exact": plan.backend == "embedded",
            "adhoc_request": None,
            "_service": (start.isoformat(), end.isoformat()),
        }

    def _cycle_invoice(self, slot: Slot, base: dict, version: int) -> dict:
        rng = self.rng
        plan = slot.contract
        currency = plan.currency
        service_start, service_end = base["_service"]
        lines = []
        for product in plan.products:
            quantity = product.quantity
            if product.metered:
                quantity = max(1, int(quantity * rng.uniform(0.6, 1.4)))
            amount_minor = product.unit_minor * quantity
            lines.append(
                {
                    "name": product.name,
                    "description": product.description,
                    "quantity": str(quantity),
                    "unit": product.unit,
                    "unit_price": product.unit_price,
                    "amount": money.format_amount(amount_minor, currency),
                    "amount_minor": amount_minor,
                    "service_start": service_start,
                    "service_end": service_end,
                    "prorated": False,
                    "note": "",
                }
            )
        total = sum(line["amount_minor"] for line in lines)
        preview = total
        if not base["preview_exact"] and rng.random() < 0.05:
            preview = max(0, total + rng.choice((-1, 1)) * max(1, total // 50))
        self.counter += 1
        draft_id = str(uuid.uuid4()) if plan.backend == "zenskar" else f"inv-{self.counter}"
        row = {k: v for k, v in base.items() if not k.startswith("_")}
        row.update(
            lines=lines,
            total_minor=total,
            preview_total_minor=preview,
            upstream_id=draft_id,
            upstream_number=f"INV-{slot.start.year}-{self.counter:07d}",
        )
        return row

    def _adhoc_invoice(self, slot: Slot, at: float, version: int) -> dict:
        rng = self.rng
        customer = slot.customer
        currency = _weighted(rng, CURRENCIES)
        day = datetime.fromtimestamp(at, UTC).date()
        date_from = day - timedelta(days=rng.randrange(0, 30))
        date_to = date_from + timedelta(days=rng.randrange(0, 31))
        lines = tuple(
            AdhocLine(
                description=rng.choice(ADHOC_ITEMS),
                quantity=rng.randint(1, 12),
                unit_amount_minor=self._price(rng.uniform(40, 2500), currency),
            )
            for _ in range(rng.randint(1, 5))
        )
        request = AdhocInvoiceRequest(
            customer_id=customer.id,
            currency_id=str(1 + [c for c, _w in CURRENCIES].index(currency)),
            currency_code=currency,
            gateway_id="1",
            payment_method_id=str(rng.randrange(1000, 9999)),
            date_from=date_from,
            date_to=date_to,
            date_due=date_to + timedelta(days=30),
            lines=lines,
            shipping_minor=self._price(rng.uniform(10, 60), currency) if rng.random() < 0.2 else 0,
            payment_type="offlinePaymentProvider",
            customer_email=customer.email,
            customer_name=customer.name,
        )
        return {
            "kind": Invoice.Kind.ADHOC,
            "backend": "rebillia" if rng.random() < 0.7 else "embedded",
            "contract_id": "",
            "contract_name": "",
            "customer_id": customer.id,
            "customer_name": customer.name,
            "cycle_name": "",
            "cycle_start_date": "",
            "cycle_end_date": "",
            "cycle_bill_for_date": "",
            "cycle_start_day": None,
            "bill_for": None,
            "period_start": datetime(date_from.year, date_from.month, date_from.day, tzinfo=UTC),
            "period_end": datetime(date_to.year, date_to.month, date_to.day, tzinfo=UTC),
            "currency": currency,
            "total_minor": request.total_minor,
            "preview_total_minor": request.total_minor,
            "preview_exact": True,
            "lines": adhoc_snapshot_lines(request),
            "adhoc_request": request_json(request),
            "upstream_id": "",
            "upstream_number": "",
        }

    def _events(self, row, outcome, submitter, manager, at, decide_at, chain: _Chain) -> None:
        """The invoice's final fields and the audit events the services would have written."""
        rng = self.rng
        cycle = row["kind"] == Invoice.Kind.CYCLE
        submitted = {
            "total_minor": row["total_minor"],
            "lines": len(row["lines"]) if cycle else len(row["adhoc_request"]["lines"]),
            "content_hash": row["content_hash"],
            "previous_id": row["previous_id"],
        }
        if cycle:
            submitted = {
                "upstream_id": row["upstream_id"],
                **submitted,
                "preview_total_minor": row["preview_total_minor"],
            }
        chain.add(
            at + rng.uniform(0.3, 2.5),
            submitter,
            "invoice.submitted",
            row,
            "submitting" if cycle else "",
            S.PENDING,
            data=submitted,
        )
        row.update(
            status=S.PENDING,
            decided_by_id=None,
            decided_at=None,
            decision_reason="",
            failure_code="",
            failure_message="",
            upstream_cleanup_pending=False,
        )
        last_change = at
        if outcome == "approved":
            if not cycle:
                self.counter += 1
                row["upstream_id"] = str(100_000 + self.counter)
                row["upstream_number"] = f"R-{self.counter:07d}"
            row.update(status=S.APPROVED, decided_by_id=manager[0], decided_at=_dt(decide_at))
            chain.add(decide_at, manager, "invoice.approval_started", row, S.PENDING, S.APPROVING)
            last_change = decide_at + rng.uniform(0.4, 3.0)
            chain.add(
                last_change,
                manager,
                "invoice.approved",
                row,
                S.APPROVING,
                S.APPROVED,
                data={
                    "upstream_id": row["upstream_id"],
                    "upstream_number": row["upstream_number"],
                    "upstream_status": "approved",
                    "recovered": False,
                },
            )
        elif outcome == "rejected":
            reason = rng.choice(REJECTIONS)
            row.update(
                status=S.REJECTED,
                decided_by_id=manager[0],
                decided_at=_dt(decide_at),
                decision_reason=reason,
            )
            chain.add(
                decide_at, manager, "invoice.rejected", row, S.PENDING, S.REJECTED, reason=reason
            )
            last_change = decide_at
            if cycle:
                last_change = decide_at + rng.uniform(0.2, 2.0)
                chain.add(
                    last_change,
                    None,
                    "invoice.draft_deleted",
                    row,
                    data={"upstream_id": row["upstream_id"], "superseded": False},
                )
        elif outcome == "withdrawn":
            row.update(status=S.WITHDRAWN, decided_at=_dt(decide_at))
            chain.add(decide_at, submitter, "invoice.withdrawn", row, S.PENDING, S.WITHDRAWN)
            last_change = decide_at
            if cycle:
                last_change = decide_at + rng.uniform(0.2, 2.0)
                chain.add(
                    last_change,
                    None,
                    "invoice.draft_deleted",
                    row,
                    data={"upstream_id": row["upstream_id"], "superseded": False},
                )
        elif outcome == "failed":
            row.update(
                status=S.FAILED,
                decided_by_id=manager[0],
                decided_at=_dt(decide_at),
                failure_code="backend_error",
                failure_message=FAILURE,
            )
            chain.add(decide_at, manager, "invoice.approval_started", row, S.PENDING, S.APPROVING)
            last_change = decide_at + 10.0
            chain.add(
                last_change,
                manager,
                "invoice.approval_failed",
                row,
                S.APPROVING,
                S.FAILED,
                reason=FAILURE,
                data={"code": "backend_error"},
            )
        row["updated_at"] = _dt(last_change)

    # --- writing -----------------------------------------------------------------------------
    def _insert(self, invoices: list[dict], events: list[dict]) -> None:
        invoice_columns = _columns(Invoice, invoices[0], skip=())
        event_columns = _columns(AuditEvent, events[0], skip=("id",)) if events else []
        if self.vendor == "postgresql":
            self._copy(Invoice, invoice_columns, invoices)
            if events:
                self._copy(AuditEvent, event_columns, events)
            return
        Invoice.objects.bulk_create(
            [
                Invoice(**{name: row.get(name, default) for name, default, _j in invoice_columns})
                for row in invoices
            ],
            batch_size=500,
        )
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(**{name: e.get(name, default) for name, default, _j in event_columns})
                for e in events
            ],
            batch_size=500,
        )

    def _copy(self, model, columns, rows: list[dict]) -> None:
        table = model._meta.db_table
        names = ", ".join(
            connection.ops.quote_name(model._meta.get_field(n).column) for n, _d, _j in columns
        )
        dumps = json.dumps
        with connection.cursor() as cursor:
            raw = getattr(cursor, "cursor", cursor)
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    values = []
                    for name, default, is_json in columns:
                        value = row.get(name, default)
                        if is_json and value is not None:
                            value = dumps(value)
                        values.append(value)
                    copy.write_row(values)

    def _analyze(self) -> None:
        if self.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE invoices_invoice")
                cursor.execute("ANALYZE invoices_auditevent")
        elif self.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")


class _Chain:
    """The audit events of one batch, each linked to the one before by its hash."""

    def __init__(self, seq: int, hash_: str, rng: random.Random):
        self.seq, self.hash, self.rng = seq, hash_, rng
        self.events: list[dict] = []

    def add(
        self,
        at: float,
        actor,
        action: str,
        invoice: dict,
        from_status: str = "",
        to_status: str = "",
        *,
        reason: str = "",
        data: dict | None = None,
    ) -> None:
        self.seq += 1
        moment = _dt(at)
        actor_id, actor_username, ip = actor if actor else (None, "", None)
        request_id = f"{self.rng.getrandbits(128):032x}" if actor else ""
        event = {
            "seq": self.seq,
            "at": moment,
            "actor_id": actor_id,
            "actor_username": actor_username,
            "action": action,
            "invoice_id": invoice["id"],
            "from_status": from_status,
            "to_status": to_status,
            "reason": reason,
            "request_id": request_id,
            "ip": ip,
            "data": data or {},
        }
        payload = dict(event, at=moment.isoformat())
        event["prev_hash"] = self.hash
        event["hash"] = self.hash = chain_hash(self.hash, payload)
        self.events.append(event)


# --- small helpers ----------------------------------------------------------------------------
_REQUEST_FIELDS = tuple(f.name for f in dataclass_fields(AdhocInvoiceRequest))
_LINE_FIELDS = tuple(f.name for f in dataclass_fields(AdhocLine))


def request_json(request: AdhocInvoiceRequest) -> dict:
    """`invoices.adhoc.adhoc_request_to_json` without `asdict`'s deep copies (7x faster here;
    a test checks both give the same JSON). Addresses stay None: the seed has none."""
    data = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    for key in ("date_from", "date_to", "date_due"):
        data[key] = data[key].isoformat()
    data["lines"] = [{name: getattr(line, name) for name in _LINE_FIELDS} for line in request.lines]
    return data


def _columns(model, sample: dict, *, skip) -> list[tuple[str, object, bool]]:
    """(attname, default, is_json) for every concrete column; fields this command does not set
    (added later by someone else) get their model default, so the command keeps working."""
    from django.db.models import JSONField

    columns = []
    for f in model._meta.concrete_fields:
        if f.attname in skip or f.name in skip:
            continue
        if f.attname in sample:
            default = None
        elif f.has_default():
            default = f.get_default()
        elif f.null:
            default = None
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            default = timezone.now()
        else:
            raise CommandError(f"bench_seed does not know how to fill {model.__name__}.{f.name}")
        columns.append((f.attname, default, isinstance(f, JSONField)))
    return columns


def _weighted(rng: random.Random, choices):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _versions(rng: random.Random) -> int:
    roll = rng.random()
    return 1 if roll < 0.88 else 2 if roll < 0.98 else 3


def _decision_delay(rng: random.Random) -> float:
    """Managers decide within hours, mostly; some invoices wait for days."""
    roll = rng.random()
    if roll < 0.7:
        return rng.uniform(0.5 * HOUR, 30 * HOUR)
    if roll < 0.95:
        return rng.uniform(1 * DAY, 5 * DAY)
    return rng.uniform(5 * DAY, 20 * DAY)


def _ts(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts, 6), UTC)


def _decimal_text(minor: int, currency: str) -> str:
    return format(money.to_major(minor, currency).normalize(), "f")


def cadence_label(cadence: str) -> str:
    return {"P1M": "monthly", "P3M": "quarterly", "P6M": "half-yearly", "P1Y": "yearly"}[cadence]
