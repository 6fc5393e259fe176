"""`make run`'s command starts the web server, a task worker and the sweep together, a task
enqueued by the web side is run by that worker, and Ctrl-C or SIGTERM stops all three and
everything they started."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Children, theirs, and so on (runserver's autoreloader runs the server as its child)."""
    found = _children(pid)
    for child in list(found):
        found |= _descendants(child)
    return found


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    """From /proc/<pid>/stat (after the command's name in brackets); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _running(pid: int) -> bool:
    """Alive and not a zombie (exited, waiting for its parent to read its status)."""
    found = _state_and_parent(pid)
    return found is not None and found[0] != "Z"


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        stat = _state_and_parent(int(entry.name)) if entry.name.isdigit() else None
        if stat and stat[1] == pid:
            found.add(int(entry.name))
    return found


def _as_a_background_job() -> None:
    """What a script's `make run &` does to what it starts: SIGINT ignored, and inherited so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find the child processes")
@pytest.mark.parametrize(
    ("stop", "started"),
    [(signal.SIGINT, None), (signal.SIGTERM, _as_a_background_job)],
    ids=["ctrl-c", "sigterm-in-background"],
)
def test_make_run_seeds_serves_runs_tasks_and_stops_everything_on_ctrl_c(tmp_path, stop, started):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="billing_admin.settings",
        DJANGO_DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        TASKS_BACKEND="django_tasks_db.DatabaseBackend",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        SWEEP_SECONDS="2",
    )
    manage = [sys.executable, "manage.py"]
    # As `make run` does: migrate, seed the demo (in a fresh process: nothing imported yet), serve.
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    seeded = subprocess.run(
        [*manage, "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "Local invoice history" in seeded.stdout and "Demo users" in seeded.stdout
    port = _free_port()
    log = tmp_path / "run_local.log"
    # A file, as a terminal would be: a leftover process writing to a closed pipe would die of
    # it, and hide that it was left over.
    with log.open("w") as out:
        server = subprocess.Popen(
            [*manage, "run_local", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=started,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the web server never answered"
                assert server.poll() is None, log.read_text()
                time.sleep(0.5)
        assert len(_children(server.pid)) == 3  # web, worker, sweep
        everyone = _descendants(server.pid)  # the web server's reloader child among them
        # A task enqueued now (as the web side does after a commit) is run by the worker.
        enqueue = (
            "from invoices.tasks import send_notification\nprint(send_notification.enqueue(0).id)\n"
        )
        subprocess.run([*manage, "shell", "-c", enqueue], cwd=ROOT, env=env, check=True, timeout=60)
        done = (
            "from django_tasks_db.models import DBTaskResult\n"
            "print(DBTaskResult.objects.filter(status='SUCCESSFUL').count())\n"
        )
        deadline = time.monotonic() + 30
        while True:
            out = subprocess.run(
                [*manage, "shell", "-c", done],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout.strip()
            if out.splitlines()[-1:] == ["1"]:  # (the shell prints a banner first)
                break
            assert time.monotonic() < deadline, "the worker never ran the task"
            time.sleep(0.5)
    finally:
        server.send_signal(stop)  # to run_local alone, not to its children's groups
        server.wait(timeout=30)
        output = log.read_text()
    assert server.returncode is not None
    deadline = time.monotonic() + 5  # a killed grandchild is reaped by init, not at once
    while (alive := [pid for pid in everyone if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive == [], output
    assert "Stopping the web server, the worker and the sweep." in output
