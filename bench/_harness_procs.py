"""What the bench starts and stops (see bench/_harness.py): the Zenskar stand-in in this process,
gunicorn, `manage.py` runs; and their life cycle: the teardown, the watchdog, the signal
handlers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx

from bench._harness_env import GUNICORN, ROOT, Config


# --- the stand-in ---------------------------------------------------------------------------
class Standin:
    """The Zenskar stand-in in this process. Its latency can be changed; approvals can be held
    (an extra pause before the stand-in handles `PATCH .../approve`, with the caller's port
    known, so a drill can find the gunicorn worker waiting for it); and it can go down -- the
    listening socket and every open connection closed, so calls are refused or cut off -- and
    come back on the same port."""

    def __init__(self, latency_s: float):
        from pytest_httpserver import HTTPServer

        from tests.fakes.zenskar_standin import register_zenskar

        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.access = register_zenskar(self.server, latency_s=latency_s)
        self.approval_hold_s = 0.0
        self.held: dict[int, tuple[int, str]] = {}  # id -> (caller's port, path)
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet = weakref.WeakSet()
        for handler in list(self.server.handlers):
            if handler.matcher.method == "PATCH":
                handler.request_handler = self._held(handler.request_handler)
        self.up()
        self.port = self.server.port

    def _held(self, respond):
        def handle(request):
            hold = self.approval_hold_s
            if hold:
                key = id(request)
                port = int(request.environ.get("REMOTE_PORT") or 0)
                with self._lock:
                    self.held[key] = (port, request.path)
                try:
                    time.sleep(hold)
                finally:
                    with self._lock:
                        self.held.pop(key, None)
            return respond(request)

        return handle

    def held_now(self) -> list[tuple[int, str]]:
        with self._lock:
            return list(self.held.values())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.server.is_running()

    def set_latency(self, seconds: float) -> None:
        self.access.latency_s = seconds

    def up(self) -> None:
        if self.server.is_running():
            return
        self.server.start()
        listening = self.server.server
        accept = listening.process_request

        def process_request(connection, client_address):
            self._connections.add(connection)
            return accept(connection, client_address)

        listening.process_request = process_request

    def down(self) -> None:
        if not self.server.is_running():
            return
        listening = self.server.server
        self.server.stop()
        listening.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handler_errors(self) -> list[str]:
        return [f"{type(e).__name__}: {e}" for e in getattr(self.server, "handler_errors", [])]

    def trim_log(self) -> None:
        """pytest-httpserver keeps every exchange; drop them now and then."""
        with contextlib.suppress(Exception):
            self.server.clear_log()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.down()


def pid_with_local_port(port: int, pids: Iterable[int]) -> int | None:
    """Which of `pids` owns the loopback TCP socket whose local port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{parts[9]}]")
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return pid
    return None


# --- gunicorn -------------------------------------------------------------------------------
class Gunicorn:
    def __init__(self, config: Config, env: dict[str, str]):
        self.config = config
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.err_path = config.workdir / "gunicorn.log"
        self.out_path = config.workdir / "gunicorn.stdout"

    def start(self, timeout: float = 60) -> None:
        err = open(self.err_path, "ab")  # noqa: SIM115 - the child keeps it
        out = open(self.out_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(GUNICORN), "billing_admin.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        err.close()
        out.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.get(f"{self.config.base_url}/healthz", timeout=2)
                if reply.status_code == 200 and len(self.worker_pids()) >= self.config.workers:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout:.0f} s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.err_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the master (graceful), SIGKILL to its whole process group if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def run_manage(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    """`manage.py <args>` as the operator runs it (the same environment as the app)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    # The app logs JSON lines on stderr; keep what a person would read.
    kept = [line for line in output.splitlines() if not line.startswith('{"time"')]
    return done.returncode, "\n".join(kept)


# --- life cycle -----------------------------------------------------------------------------
class Teardown:
    """Stops what was started, in reverse order, once; also from signals and the watchdog."""

    def __init__(self):
        self._steps: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._done = False

    def add(self, name: str, step: Callable[[], None]) -> None:
        self._steps.append((name, step))

    def run(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            for name, step in reversed(self._steps):
                try:
                    step()
                except Exception as exc:
                    print(f"teardown: {name} failed: {exc}", file=sys.stderr, flush=True)


class Watchdog:
    """Tears everything down and exits if the whole run takes longer than `seconds`."""

    def __init__(self, seconds: float, teardown: Teardown):
        self.seconds = seconds
        self._cancelled = threading.Event()
        self._teardown = teardown
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def _watch(self) -> None:
        if self._cancelled.wait(self.seconds):
            return
        print(
            f"\nHARD TIMEOUT: the run exceeded {self.seconds:.0f} s; stopping everything.",
            file=sys.stderr,
            flush=True,
        )
        self._teardown.run()
        os._exit(3)

    def cancel(self) -> None:
        self._cancelled.set()


def install_signal_handlers() -> None:
    """Ctrl-C, SIGTERM and SIGHUP (even if inherited as ignored): the main thread unwinds
    through its `finally`, which stops everything."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
