"""Reading a run's results (see bench/_harness.py): the app's JSON request log (its own time and
its backend calls per request id, its errors), per-step statistics, and plain-text tables."""

from __future__ import annotations

import contextlib
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench._harness_browser import Sample


# --- the server's side: the app's JSON request log ------------------------------------------
@dataclass
class ServerSide:
    ms: float = 0.0
    backend_calls: int = 0
    backend_ms: float = 0.0
    status: int | None = None
    calls: list[tuple[float, float]] = field(default_factory=list)  # (start, end), epoch s

    @property
    def backend_wall_ms(self) -> float:
        """Time spent waiting for the backend (calls at the same time counted once)."""
        total, current = 0.0, None
        for start, end in sorted(self.calls):
            if current is None or start > current[1]:
                if current is not None:
                    total += current[1] - current[0]
                current = [start, end]
            else:
                current[1] = max(current[1], end)
        if current is not None:
            total += current[1] - current[0]
        return total * 1000

    @property
    def round_trips(self) -> int:
        """Backend calls one after the other: calls whose times overlap count once."""
        trips, busy_until = 0, float("-inf")
        for start, end in sorted(self.calls):
            if start >= busy_until:
                trips += 1
                busy_until = end
            else:
                busy_until = max(busy_until, end)
        return trips


def _log_time(text: str) -> float | None:
    """Epoch seconds of a JSON log line's time (to the millisecond)."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        with contextlib.suppress(ValueError, TypeError):
            return datetime.strptime(text, pattern).timestamp()
    return None


def read_server_log(path: Path) -> dict[str, ServerSide]:
    """Per request id: the app's own duration and its backend calls (count and time)."""
    found: dict[str, ServerSide] = defaultdict(ServerSide)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        rid = record.get("request_id")
        if not rid or rid == "-":
            continue
        if record.get("logger") == "billing_admin.request":
            found[rid].ms = float(record.get("duration_ms") or 0)
            found[rid].status = record.get("status")
        elif record.get("logger") == "invoices.backends":
            ms = float(record.get("duration_ms") or 0)
            found[rid].backend_calls += 1
            found[rid].backend_ms += ms
            end = _log_time(record.get("time"))  # logged when the call returned
            if end is not None:
                found[rid].calls.append((end - ms / 1000, end))
    return dict(found)


def server_errors(path: Path) -> list[str]:
    """ERROR lines (tracebacks' first lines) the app or gunicorn logged."""
    out = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("level") in ("ERROR", "CRITICAL"):
                    exc = (record.get("exc") or "").strip().splitlines()
                    out.append(
                        f"{record.get('message', '')[:160]} | {exc[-1][:200] if exc else ''}"
                    )
        elif "[ERROR]" in line or "[CRITICAL]" in line:
            out.append(line.strip()[:240])
    return out


# --- statistics and tables ------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class StepStats:
    step: str
    count: int
    rate: float
    p50: float
    p95: float
    p99: float
    refused: int
    errors: int
    server_p95: float
    backend_calls: float
    backend_ms: float
    round_trips: float = float("nan")  # mean backend round trips one after the other
    round_trips_max: int = 0
    own_p95: float = float("nan")  # the app's own time: its duration minus backend waits


def step_stats(
    samples: list[Sample], seconds: float, server: dict[str, ServerSide]
) -> dict[str, StepStats]:
    by_step: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_step[sample.step].append(sample)
    result = {}
    for step, group in by_step.items():
        latencies = [s.ms for s in group if s.status is not None]
        srv, calls, bms, trips, own = [], [], [], [], []
        for s in group:
            sides = [server[r] for r in s.rids if r in server]
            if sides:
                srv.append(sum(x.ms for x in sides))
                calls.append(sum(x.backend_calls for x in sides))
                bms.append(sum(x.backend_ms for x in sides))
                trips.append(sum(x.round_trips for x in sides))
                own.append(sum(x.ms - x.backend_wall_ms for x in sides))
        result[step] = StepStats(
            step=step,
            count=len(group),
            rate=len(group) / seconds if seconds else 0.0,
            p50=percentile(latencies, 50),
            p95=percentile(latencies, 95),
            p99=percentile(latencies, 99),
            refused=sum(1 for s in group if s.outcome == "refused"),
            errors=sum(1 for s in group if s.outcome == "error"),
            server_p95=percentile(srv, 95),
            backend_calls=statistics.fmean(calls) if calls else float("nan"),
            backend_ms=statistics.fmean(bms) if bms else float("nan"),
            round_trips=statistics.fmean(trips) if trips else float("nan"),
            round_trips_max=max(trips, default=0),
            own_p95=percentile(own, 95),
        )
    return result


def table(headers: list[str], rows: list[list[str]], right: Iterable[int] = ()) -> str:
    right = set(right)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.{digits}f}"
