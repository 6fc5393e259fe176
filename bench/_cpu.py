"""CPU time of the processes that serve a benchmark (Linux /proc): gunicorn's master and workers,
and the PostgreSQL backends connected to the bench's database, sampled while a run lasts.

The machine may be shared: its own CPU figure (/proc/stat) counts everyone's work, so the bench
judges the CPU its own server processes used, as a share of all the machine's cores.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of `pid` so far (None once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL server processes serving `database` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres:") and f" {database} " in f"{title} ":
                found.append(int(entry.name))
    return found


class CpuProbe:
    """Samples the CPU time of each group of processes every `every` seconds from start() to
    stop(): a process already running at start counts from its value then, one that appears
    later from zero; one that ends between two samples loses at most one interval."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]], every: float = 0.5):
        self.groups = groups
        self.every = every
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-probe", daemon=True)
        self.started = False
        self.seconds = 0.0

    def _sample(self, initial: bool) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                used = process_cpu_s(pid)
                if used is None:
                    continue
                key = (name, pid)
                if key not in self._first:
                    self._first[key] = used if initial else 0.0
                self._last[key] = used

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample(initial=False)

    def start(self) -> None:
        self._sample(initial=True)
        self._started = time.monotonic()
        self.started = True
        self._thread.start()

    def stop(self) -> None:
        if not self.started:
            return
        self._stop.set()
        self._thread.join(5)
        self._sample(initial=False)
        self.seconds = time.monotonic() - self._started

    def cpu_s(self, name: str) -> float:
        return sum(self._last[key] - self._first[key] for key in self._last if key[0] == name)

    def share(self, *names: str) -> float:
        """CPU seconds of the named groups over the probe's duration times the core count."""
        used = sum(self.cpu_s(name) for name in names)
        return used / max(1e-9, self.seconds * (os.cpu_count() or 1))
