"""`make run`'s server: the web server, a task worker and the periodic sweep, in one command.

Ctrl-C (or SIGTERM) stops all three; if one of them dies, the others are stopped too, so nothing
is left running in the background. Each runs in its own process group, and the signals go to
the group: runserver's autoreloader serves from a child of its own. Started as a background job
(SIGINT ignored, as a script's `make run &` leaves it), the reloader used to be killed after 10 s
and its server left running, holding the port; now the whole group is.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve on 127.0.0.1:PORT with a task worker and the sweep beside it (development)."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    def handle(self, *args, port: str, **options):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
            "worker": [*manage, "db_worker", "--queue-name", "*", "--no-reload"],
            "sweep": [*manage, "sweep", "--every", str(settings.SWEEP_SECONDS)],
            "web": [*manage, "runserver", f"127.0.0.1:{port}"],
        }
        children: dict[str, subprocess.Popen] = {}
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            for name, command in commands.items():
                children[name] = subprocess.Popen(command, process_group=0)  # noqa: S603
            self.stdout.write(
                f"Billing Admin on http://127.0.0.1:{port} with a task worker and the sweep "
                "(Ctrl-C stops all three)."
            )
            while True:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} stopped (exit {child.returncode}); stopping.")
                        return
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the web server, the worker and the sweep.")
        finally:
            for child in children.values():
                _signal_group(child, signal.SIGINT)  # as Ctrl-C in a terminal would
            deadline = time.monotonic() + 10
            for child in children.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                # Whatever of its group is still running (the reloader's server, say).
                _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(child.pid, signum)


def _interrupt(*_):
    raise KeyboardInterrupt
