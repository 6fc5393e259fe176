"""Measuring pages in this process (bench/history.py, bench/profile_page.py): the database set-up,
timing a page interleaved with its baseline, and the lines that report each figure as a ratio.

A figure on its own says how fast this machine was at that moment; the same figure divided by a
baseline measured in the same run, request for request (bare, page, bare, page, ...), says what
the page costs on top of the framework, and travels between machines and through the noise of
a shared one.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_admin_bench"


def configure(database_url: str) -> None:
    """The environment of a production process (DJANGO_DEBUG off) on the bench's database, with
    the project's settings plus the bare view (`bench.settings_load`, `/bench/bare`)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_load"
    os.environ["DJANGO_DEBUG"] = "false"  # no query log, production template caching
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["DJANGO_HTTPS"] = "false"
    os.environ.setdefault("CACHE_URL", "locmemcache://bench")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")


def plain_static_files() -> None:
    """No collectstatic in a bench: plain static storage instead of the manifest one."""
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def ensure_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            print(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


@dataclass
class Figure:
    median: float  # ms
    p95: float
    baseline: float  # the baseline's median over the same stretch of time, ms

    @property
    def ratio(self) -> float:
        return self.median / self.baseline


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def interleaved(fn, baseline, repeat: int, warmup: int = 3) -> Figure:
    """`fn` and `baseline` called alternately `repeat` times each (after a warm-up): the medians
    of both, so a burst of load elsewhere on the machine weighs on both alike."""
    for _ in range(warmup):
        fn()
        baseline()
    page, base = [], []
    for i in range(repeat):
        if i % 2:
            page.append(timed(fn))
            base.append(timed(baseline))
        else:
            base.append(timed(baseline))
            page.append(timed(fn))
    return Figure(statistics.median(page), p95(page), statistics.median(base))


@dataclass
class Results:
    """Every judged figure, for the summary and the exit status."""

    checks: list[tuple[str, bool]] = field(default_factory=list)

    def page(self, label: str, figure: Figure, limit: float | None) -> Figure:
        ok = limit is None or figure.ratio <= limit
        verdict = "" if limit is None else f"target <= {limit:g}x  {'ok' if ok else 'MISSED'}"
        if limit is not None:
            self.checks.append((label, ok))
        print(
            f"  {label:<46} {figure.median:7.1f} ms (p95 {figure.p95:6.1f})  "
            f"{figure.ratio:5.1f}x bare ({figure.baseline:4.1f} ms)  {verdict}"
        )
        return figure

    def check(self, label: str, ok: bool, text: str) -> None:
        self.checks.append((label, ok))
        print(f"  {label:<46} {text}   {'ok' if ok else 'MISSED'}")

    @property
    def missed(self) -> list[str]:
        return [label for label, ok in self.checks if not ok]
