"""What bench/history.py measures, page by page (see its docstring)."""

from __future__ import annotations

import csv
import os
import statistics
import time
import tracemalloc
from datetime import timedelta
from types import SimpleNamespace

from bench._inprocess import Figure, Results, interleaved

DEEP_PAGES = 5000
PAGE_LIMIT = 5.0
DEEP_LIMIT = 1.2  # the deep page's median within 20 % of the first page's, interleaved
OFFSET_FACTOR = 10.0
CSV_LIMIT = 0.5  # the export's rows per second >= half the plain cursor loop's


class Pages:
    def __init__(self, args, results: Results, month_range, year_before):
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.args = args
        self.results = results
        self.month_range = month_range
        self.year_before = year_before
        self.repeat = args.repeat
        self.client = Client()
        self.client.force_login(get_user_model().objects.get(username="bench-auditor"))
        self.bare = self.get("/bench/bare")

    def login_again(self) -> None:
        """After switching databases: the session lives in the database."""
        from django.contrib.auth import get_user_model

        self.client.force_login(get_user_model().objects.get(username="bench-auditor"))

    def get(self, path: str):
        client = self.client

        def fetch():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        return fetch

    def page(self, label: str, path: str, limit: float | None = PAGE_LIMIT) -> Figure:
        figure = interleaved(self.get(path), self.bare, self.repeat)
        self.results.page(label, figure, limit)
        self.explain(label, path)
        return figure

    def explain(self, label: str, path: str) -> None:
        if not self.args.explain:
            return
        from django.db import connection

        captured = []

        def capture(execute, sql, params, many, context):
            captured.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            self.get(path)()
        sql, params = [q for q in captured if "LIMIT" in q[0]][-1]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join("      " + row[0] for row in cursor.fetchall())
        print(f"    EXPLAIN {label}:\n{plan}")

    # --- the runs ---------------------------------------------------------------------------
    def first_page_only(self, label: str) -> Figure:
        from django.urls import reverse

        self.login_again()
        return self.page(f"history, first page, {label}", reverse("invoices:history"), None)

    def run(self) -> float:
        from django.urls import reverse
        from django.utils.http import urlencode

        from invoices import keyset
        from invoices.models import Invoice

        url = reverse("invoices:history")
        print(
            f"\npages: median of {self.repeat} requests each, interleaved request for request "
            "with the bare view (its median over the same stretch in brackets)"
        )
        first = self.page("history, first page", url)
        ordered = Invoice.objects.order_by("-submitted_at", "-id")
        position = DEEP_PAGES * 50
        moment, pk = ordered.values_list("submitted_at", "id")[position - 1]
        deep_url = url + "?" + urlencode({"after": keyset.encode_cursor(moment, pk)})
        expected_first = ordered.values_list("id", flat=True)[position]
        assert f'href="/invoices/{expected_first}/"' in self.get(deep_url)().content.decode()
        self.page(f"history, page {DEEP_PAGES + 1:,} (keyset)", deep_url)
        # Against the first page itself, request for request: the two ratios above come from
        # different stretches of time, each with its own bare median.
        pair = interleaved(self.get(deep_url), self.get(url), self.repeat)
        self.results.check(
            "deep page within 20 % of the first",
            pair.ratio <= DEEP_LIMIT,
            f"{pair.median:.1f} ms vs {pair.baseline:.1f} ms, interleaved ({pair.ratio:.2f})",
        )
        self.offset_against_keyset(url, deep_url)
        self.filters(url)
        self.other_pages()
        self.export()
        return first.ratio

    def offset_against_keyset(self, url: str, deep_url: str) -> None:
        """The same deep page through a plain offset-paginated ListView, and the keyset view,
        both called directly (no middleware), same template and rows."""
        from django.contrib.auth import get_user_model
        from django.test import RequestFactory
        from django.views.generic import ListView
        from django_htmx.middleware import HtmxDetails

        from invoices import selectors
        from invoices.forms import HistoryFilterForm
        from invoices.views import history as views_history

        auditor = get_user_model().objects.get(username="bench-auditor")
        users = selectors.user_choices()

        class OffsetHistory(ListView):
            paginate_by = 50
            template_name = "invoices/history.html"

            def get_queryset(self):
                return selectors.history_queryset().order_by("-submitted_at", "-id")

            def get_context_data(self, **kwargs):
                context = super().get_context_data(**kwargs)
                rows = selectors.history_rows(context["object_list"], user=auditor)
                page = SimpleNamespace(
                    rows=rows, next_cursor=None, previous_cursor=None, is_first=False
                )
                form = HistoryFilterForm({}, users=users)
                form.is_valid()
                spec = views_history.HISTORY_LIST
                return {
                    **context,
                    **{"page": page, "form": form, "query": "", "export_url": "", "list": spec},
                }

        factory = RequestFactory()

        def direct(view, path):
            def call():
                request = factory.get(path)
                request.user = auditor
                request.htmx = HtmxDetails(request)
                response = view(request)
                if hasattr(response, "render"):
                    response.render()
                assert response.status_code == 200
                return response

            return call

        keyset_view = direct(views_history.history_list, deep_url)
        offset_view = direct(OffsetHistory.as_view(), f"{url}?page={DEEP_PAGES + 1}")
        repeat = max(5, self.repeat // 3)
        both = interleaved(offset_view, keyset_view, repeat, warmup=1)
        print(
            f"  page {DEEP_PAGES + 1:,} called directly: keyset view {both.baseline:.1f} ms, "
            f"offset ListView (paginate_by=50) {both.median:.1f} ms"
        )
        self.results.check(
            "keyset >= 10x faster than offset there",
            both.ratio >= OFFSET_FACTOR,
            f"{both.ratio:.1f}x",
        )

    def filters(self, url: str) -> None:
        from django.utils import timezone
        from django.utils.http import urlencode

        from invoices import keyset
        from invoices.models import Invoice

        print("\nhistory filters (first page of each)")
        sample = (
            Invoice.objects.filter(kind="cycle", version=1)
            .order_by("-id")
            .values(
                "customer_id",
                "customer_name",
                "submitted_at",
                "submitted_by__username",
                "upstream_number",
            )[1000]
        )
        year_end = sample["submitted_at"].date()
        year_start = self.year_before(year_end)
        month_start, month_end = self.month_range(year_start)
        recent = (timezone.now() - timedelta(days=30)).date()
        approved = Invoice.objects.filter(status="approved")
        approver = approved.values_list("decided_by__username", flat=True)[0]
        filters = [
            ("status=pending_approval", {"status": "pending_approval"}),
            (
                "customer + submitted date range (1 year)",
                {
                    "customer": sample["customer_id"],
                    "submitted_from": year_start.isoformat(),
                    "submitted_to": year_end.isoformat(),
                },
            ),
            (
                "currency + total range (EUR 1,000-5,000)",
                {"currency": "EUR", "total_min": "1,000", "total_max": "5,000"},
            ),
            (
                "customer name (part) + status",
                {"customer": sample["customer_name"].split()[1], "status": "rejected"},
            ),
            ("search: invoice number", {"q": sample["upstream_number"]}),
            ("search: customer name", {"q": " ".join(sample["customer_name"].split()[:2])}),
            (
                f"billing date in one month ({month_start:%Y-%m})",
                {"billed_from": month_start.isoformat(), "billed_to": month_end.isoformat()},
            ),
            ("billing date in the last 30 days", {"billed_from": recent.isoformat()}),
            ("submitter", {"submitter": sample["submitted_by__username"]}),
            ("approver", {"approver": approver}),
            (
                "kind=adhoc + backend=rebillia + currency=KWD",
                {"kind": "adhoc", "backend": "rebillia", "currency": "KWD"},
            ),
        ]
        for label, params in filters:
            self.page(label, url + "?" + urlencode(params))
        ordered = approved.order_by("-submitted_at", "-id")
        moment, pk = ordered.values_list("submitted_at", "id")[2000 * 50 - 1]
        cursor = keyset.encode_cursor(moment, pk)
        deep = url + "?" + urlencode({"status": "approved", "after": cursor})
        self.page("status=approved, page 2,001 (keyset)", deep)

    def other_pages(self) -> None:
        from django.urls import reverse
        from django.utils.http import urlencode

        from invoices import keyset
        from invoices.models import AuditEvent, Invoice

        print("\naudit log and invoice page")
        audit_url = reverse("invoices:audit")
        self.page("audit log, first page", audit_url)
        ordered = AuditEvent.objects.order_by("-at", "-seq")
        moment, seq = ordered.values_list("at", "seq")[DEEP_PAGES * 50 - 1]
        deep = audit_url + "?" + urlencode({"after": keyset.encode_cursor(moment, seq)})
        self.page(f"audit log, page {DEEP_PAGES + 1:,}", deep)
        self.page("audit log, action=invoice.rejected", audit_url + "?action=invoice.rejected")
        revised = Invoice.objects.filter(version=3).order_by("-id").values_list("id", flat=True)
        pk = revised[0]
        self.page(f"invoice page (#{pk}, 3 versions)", reverse("invoices:detail", args=[pk]))

    # --- CSV export -------------------------------------------------------------------------
    def export(self) -> None:
        from django.urls import reverse

        rows = self.args.csv_rows
        print(f"\nCSV export of the whole history, first {rows:,} rows (streamed)")
        export_url = reverse("invoices:history_export")
        self.stream(export_url, 5000)  # warm-up
        app, loop = [], []
        for _ in range(3):
            app.append(self.stream(export_url, rows)["rate"])
            loop.append(cursor_loop(rows))
        app_rate, loop_rate = statistics.median(app), statistics.median(loop)
        print(
            f"  plain cursor loop + csv.writer (the driver's limit): {loop_rate:,.0f} rows/s; "
            f"the export: {app_rate:,.0f} rows/s (medians of 3, alternating)"
        )
        self.results.check(
            "export >= 0.5x the plain cursor loop",
            app_rate >= loop_rate * CSV_LIMIT,
            f"{app_rate / loop_rate:.2f}x",
        )
        small = self.stream(export_url, rows // 4, trace=True)
        large = self.stream(export_url, rows, trace=True)
        for result in (small, large):
            print(
                f"  {result['rows']:>7,} rows: Python peak {result['peak'] / 2**20:6.2f} MiB "
                f"(tracemalloc), resident set +{result['rss'] / 2**20:5.1f} MiB"
            )
        self.results.check(
            f"memory flat ({rows:,} rows vs {rows // 4:,})",
            large["peak"] <= small["peak"] * 1.5 + 2**20,
            f"{large['peak'] / max(small['peak'], 1):.2f}x the smaller export's peak",
        )

    def stream(self, export_url: str, rows: int, *, trace: bool = False) -> dict:
        """Read the first `rows` CSV rows of the export, then hang up (as a client would)."""
        if trace:
            tracemalloc.start()
        rss_start = rss_peak = _rss()
        started = time.perf_counter()
        response = self.client.get(export_url)
        assert response.streaming
        seen = 0
        for chunk in response.streaming_content:
            seen += chunk.count(b"\n")
            if seen % 20_000 < 250:
                rss_peak = max(rss_peak, _rss())
            if seen > rows:
                break
        response.close()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        return {
            "rows": seen - 1,
            "rate": (seen - 1) / elapsed,
            "peak": peak,
            "rss": max(rss_peak, _rss()) - rss_start,
        }


def cursor_loop(rows: int) -> float:
    """Rows per second of a plain server-side cursor over the export's own query, each row
    written with csv.writer: what the database and its driver can deliver."""
    from django.db import connection, transaction

    from invoices import exports
    from invoices.models import Invoice

    queryset = Invoice.objects.order_by("-submitted_at", "-id").values_list(
        *exports._HISTORY_CSV_FIELDS
    )
    sql, params = queryset.query.sql_with_params()

    class Sink:
        def write(self, text):
            return text

    writer = csv.writer(Sink())
    started = time.perf_counter()
    seen = 0
    with transaction.atomic():
        cursor = connection.chunked_cursor()
        cursor.execute(sql, params)
        while seen < rows:
            batch = cursor.fetchmany(2000)
            if not batch:
                break
            chunk = []
            for row in batch:
                chunk.append(writer.writerow(row))
            "".join(chunk)
            seen += len(batch)
        cursor.close()
    return seen / (time.perf_counter() - started)


def _rss() -> int:
    """Resident set size of this process, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
