"""Bounded concurrency inside one task: a few threads, each with its own database connection,
which it closes when it is done (Django opens one per thread; a thread that ends must not leave
it open). With one thread, the work runs inline in the caller's thread (and connection)."""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import connections

_DONE = object()


def _own_connection(body: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            body()
        finally:
            connections.close_all()

    return run


def run_in_threads(count: int, body: Callable[[], None]) -> None:
    """Run `body` in `count` threads at once and wait for all of them. The first exception a
    thread raised is raised here once every thread has stopped."""
    if count <= 1:
        body()
        return
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            body()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(_own_connection(guarded),),
            name=f"billrun-{i}",
            daemon=True,
        )
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def bounded_map(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int
) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """(item, result, error) for each of `items`, as they complete, with at most `workers`
    calls of `fn` at once. The caller's thread consumes the results (so it may write progress to
    the database between them)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            try:
                yield item, fn(item), None
            except Exception as exc:
                yield item, None, exc
        return
    todo: queue.Queue = queue.Queue()
    for item in items:
        todo.put(item)
    done: queue.Queue = queue.Queue()

    def work() -> None:
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                break
            try:
                done.put((item, fn(item), None))
            except Exception as exc:
                done.put((item, None, exc))
        done.put(_DONE)

    count = min(workers, len(items))
    for i in range(count):
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(_own_connection(work),),
            name=f"billrun-plan-{i}",
            daemon=True,
        ).start()
    finished = 0
    while finished < count:
        got = done.get()
        if got is _DONE:
            finished += 1
            continue
        yield got
