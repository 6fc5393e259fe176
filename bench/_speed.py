"""What every benchmark prints about the machine it ran on, so figures from two machines can be
compared: a fixed pure-Python loop's time (the "machine speed"), the core count, and the load
average (other work on a shared machine makes every figure noisier)."""

from __future__ import annotations

import os
import statistics
import sys
import time

LOOP_ITERATIONS = 1_000_000


def _loop() -> int:
    total = 0
    for i in range(LOOP_ITERATIONS):
        total += i % 7
    return total


def loop_ms(repeat: int = 7) -> float:
    """Median milliseconds of a fixed pure-Python loop (1,000,000 additions and modulos)."""
    _loop()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        _loop()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine_line() -> str:
    """One line: the loop's time, Python, cores and load average."""
    return (
        f"machine speed: fixed pure-Python loop ({LOOP_ITERATIONS:,} iterations) "
        f"{loop_ms():.1f} ms median (lower is faster); Python "
        f"{sys.version_info.major}.{sys.version_info.minor}; {os.cpu_count()} cores; "
        f"load average {load_average()}"
    )
