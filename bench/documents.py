"""Benchmark of invoice documents: PDF rendering per invoice and the ZIP of 1,000 invoices.

    nice -n 10 .venv/bin/python bench/documents.py [--invoices 1000] [--sample 60] [--postgres]

Seeds its own database (a SQLite file in a temporary folder, or with --postgres the PostgreSQL
database `billing_admin_bench_documents` on 127.0.0.1, dropped and created) with a realistic
history (`bench/seed_history.py`), then:

1. Renders the original PDF of `--invoices` approved invoices through the real task path
   (`documents.services.document_render_original`: context from the snapshot and the audit
   trail, HTML, WeasyPrint, SHA-256, audit event, stored row). Baseline, same run, on a sample:
   the same documents' HTML alone (context + templates, no PDF), and the PDF alone (WeasyPrint
   on that HTML). Prints median / p95 per invoice and the ratios.
2. Streams the ZIP of those invoices (`documents.archive.stream_zip`, what the download view
   returns; manifest first, PDFs read from the database one chunk at a time). Baseline, same
   run: the same PDF bytes, already in memory, written into a ZIP in a plain loop. Prints
   documents/s and MB/s of each and the ratio; then the same through the view (Django's test
   client, middleware included).
3. Memory: the peak of Python allocations (tracemalloc) while streaming the ZIP of a tenth of
   the invoices and of all of them, against the archive's size: flat means the peak does not
   grow with the number of invoices.

Numbers depend on the machine and on what else runs on it; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from io import BytesIO, StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_DB = "billing_admin_bench_documents"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"


def configure(postgres: bool, folder: Path) -> None:
    if postgres:
        for sql in (f'DROP DATABASE IF EXISTS "{PG_DB}"', f'CREATE DATABASE "{PG_DB}"'):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql],
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
            )
        url = PG_URL
    else:
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    (folder / "static").mkdir(exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "billing_admin.settings",
            "DJANGO_DEBUG": "false",  # no query log growing in memory
            "DJANGO_SECRET_KEY": "bench-only-secret-key-documents-0123456789abcdefghijklmnop",
            "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
            "DJANGO_HTTPS": "false",
            "DATABASE_URL": url,
            "CACHE_URL": "locmemcache://bench-documents",
            "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_STATIC_ROOT": str(folder / "static"),
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def render_all(ids: list[int], sample: int) -> dict:
    from django.utils import timezone

    from documents import rendering, services
    from invoices.models import Invoice

    # Baseline on a sample: the HTML alone, then WeasyPrint alone on that HTML.
    html_times, pdf_times = [], []
    invoices = Invoice.objects.select_related("submitted_by", "decided_by")
    for invoice in invoices.filter(pk__in=ids[:sample]):
        started = time.perf_counter()
        html, css = rendering.render_html(
            services.document_context(invoice, rendered_at=timezone.now())
        )
        html_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        rendering.html_to_pdf(html, css)
        pdf_times.append(time.perf_counter() - started)
    # The real task path, every invoice.
    full_times = []
    started_all = time.perf_counter()
    for invoice_id in ids:
        started = time.perf_counter()
        assert services.document_render_original(invoice_id) == "rendered"
        full_times.append(time.perf_counter() - started)
    return {
        "html": ms(html_times),
        "pdf": ms(pdf_times),
        "full": ms(full_times),
        "total_s": time.perf_counter() - started_all,
    }


def zip_throughput(ids: list[int]) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from documents import archive
    from documents.models import InvoiceDocument
    from invoices.models import Invoice

    invoices = Invoice.objects.filter(pk__in=ids)
    contents = [bytes(c) for c in InvoiceDocument.objects.values_list("content", flat=True)]
    # Baseline: the same bytes, in memory, into a ZIP in a plain loop.
    started = time.perf_counter()
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as plain:
        for n, content in enumerate(contents):
            plain.writestr(f"{n}.pdf", content)
    plain_s = time.perf_counter() - started
    plain_bytes = buffer.getbuffer().nbytes
    del buffer
    # The streamed archive, from the database.
    started = time.perf_counter()
    streamed_bytes = sum(len(piece) for piece in archive.stream_zip(invoices, now=timezone.now()))
    stream_s = time.perf_counter() - started
    # Through the view, as an auditor downloads it (every filter off: all invoices).
    auditor = get_user_model().objects.create_user("bench-documents-auditor")
    auditor.groups.add(Group.objects.get(name="Auditors"))
    client = Client()
    client.force_login(auditor)
    started = time.perf_counter()
    response = client.get(reverse("documents:zip"))
    view_bytes = sum(len(piece) for piece in response.streaming_content)
    view_s = time.perf_counter() - started
    return {
        "docs": len(contents),
        "plain": (plain_s, plain_bytes),
        "stream": (stream_s, streamed_bytes),
        "view": (view_s, view_bytes),
        "view_docs": InvoiceDocument.objects.count(),
    }


def zip_memory(ids: list[int]) -> list[tuple[int, int, int]]:
    """(invoices, archive bytes, peak traced bytes) for a tenth of the invoices and for all."""
    from django.utils import timezone

    from documents import archive
    from invoices.models import Invoice

    rows = []
    for count in (max(1, len(ids) // 10), len(ids)):
        invoices = Invoice.objects.filter(pk__in=ids[:count])
        tracemalloc.start()
        size = sum(len(piece) for piece in archive.stream_zip(invoices, now=timezone.now()))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((count, size, peak))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000, help="PDFs to render and zip.")
    parser.add_argument("--sample", type=int, default=60, help="Invoices in the HTML baseline.")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite.")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="billing-bench-documents-") as folder:
        configure(args.postgres, Path(folder))
        from django.db import connection

        from bench.seed_history import seed_history
        from documents import rendering
        from invoices.models import Invoice

        if not rendering.available().ok:
            print(f"PDFs unavailable here: {rendering.available().reason}", file=sys.stderr)
            return 1
        started = time.perf_counter()
        seed_history(int(args.invoices * 1.6) + 50, seed=15, force=True, stdout=StringIO())
        ids = list(
            Invoice.objects.filter(status=Invoice.Status.APPROVED)
            .order_by("decided_at", "id")
            .values_list("pk", flat=True)[: args.invoices]
        )
        print(
            f"database: {connection.vendor}; {len(ids)} approved invoices seeded in "
            f"{time.perf_counter() - started:.1f} s; {rendering.renderer_version()}"
        )
        if len(ids) < args.invoices:
            print(f"only {len(ids)} approved invoices were seeded", file=sys.stderr)

        r = render_all(ids, args.sample)
        print(f"\nPDF rendering per invoice (ms; median / p95; HTML baseline on {args.sample})")
        print(f"  HTML alone (context + templates)     {r['html'][0]:7.1f} / {r['html'][1]:7.1f}")
        print(f"  WeasyPrint alone (HTML -> PDF)       {r['pdf'][0]:7.1f} / {r['pdf'][1]:7.1f}")
        full = f"{r['full'][0]:7.1f} / {r['full'][1]:7.1f}"
        print(f"  original, task path ({len(ids)} invoices)  {full}")
        print(
            f"  ratio original / HTML alone: {r['full'][0] / r['html'][0]:.1f}x (median); "
            f"{len(ids) / r['total_s']:.1f} invoices/s on one core, {r['total_s']:.1f} s in all"
        )

        z = zip_throughput(ids)
        print(f"\nZIP of {z['docs']} PDFs")
        for label, (seconds, size) in (
            ("plain loop, bytes in memory (baseline)", z["plain"]),
            ("streamed from the database", z["stream"]),
            ("through the view (test client)", z["view"]),
        ):
            print(
                f"  {label:<40} {seconds:6.2f} s  {z['docs'] / seconds:8.0f} PDFs/s  "
                f"{size / seconds / 1e6:7.1f} MB/s  ({size / 1e6:.1f} MB)"
            )
        print(
            f"  ratio streamed / baseline: {z['stream'][0] / z['plain'][0]:.1f}x the time; "
            f"view / baseline: {z['view'][0] / z['plain'][0]:.1f}x"
        )

        print("\nMemory while streaming (tracemalloc peak of Python allocations)")
        (few, few_size, few_peak), (all_, all_size, all_peak) = zip_memory(ids)
        for count, size, peak in ((few, few_size, few_peak), (all_, all_size, all_peak)):
            print(
                f"  {count:>5} invoices: archive {size / 1e6:6.1f} MB, peak {peak / 1e6:5.2f} MB "
                f"({peak / size:.1%} of the archive)"
            )
        per_invoice = (all_peak - few_peak) / max(1, all_ - few)
        per_pdf = (all_size - few_size) / max(1, all_ - few)
        print(
            f"  growth: {per_invoice:,.0f} bytes of peak per invoice added (zipfile keeps one "
            f"central-directory entry each), against {per_pdf:,.0f} bytes of PDF per invoice"
        )
        connection.close()
    if args.postgres:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'DROP DATABASE "{PG_DB}"'],
            check=False,
            stdout=subprocess.DEVNULL,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
