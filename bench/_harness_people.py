"""The simulated people (see bench/_harness.py): clerks, managers, auditors and bare viewers as
threads with their own browser, who they are (`cast`, `split_people`) and a run of them
(`run_people`, with the machine's CPU during it)."""

from __future__ import annotations

import html
import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._harness_browser import Browser, Recorder, Sample, form_fields, inbox_rows, link_params
from bench._harness_env import PASSWORD, log


# --- the people -----------------------------------------------------------------------------
@dataclass
class Plan:
    think_s: float = 1.0  # mean pause between steps (uniform 0.5x-1.5x)
    reject_share: float = 0.2
    search_terms: list[str] = field(default_factory=lambda: [""])
    history: bool = True
    # > 0: each person signs in again once, at a random moment `sign_in_from` to
    # `sign_in_from + sign_in_spread` seconds into the work (a fresh browser: someone
    # arriving), so sign-ins arrive spread over the run instead of all at once.
    sign_in_spread: float = 0.0
    sign_in_from: float = 0.0


class Person(threading.Thread):
    role = "person"

    def __init__(self, number, base_url, recorder, username, plan: Plan, go, stop, seed):
        super().__init__(name=f"{self.role}-{number}", daemon=True)
        self.browser = Browser(base_url, recorder, self.role)
        self.recorder = recorder
        self.username = username
        self.plan = plan
        self.go = go
        self.stop = stop
        self.rng = random.Random(seed)
        self.signed_in = threading.Event()
        self.crashed = ""

    def think(self, factor: float = 1.0) -> None:
        if self.plan.think_s > 0:
            self.stop.wait(self.plan.think_s * factor * self.rng.uniform(0.5, 1.5))

    def sign_in(self) -> bool:
        b = self.browser
        page = b.get("login page", "/accounts/login/")
        fields = form_fields(page.text, "/accounts/login/") if page is not None else None
        if fields is None:
            return False
        fields.update(username=self.username, password=PASSWORD, next="/")
        reply = b.post("sign in", "/accounts/login/", fields)
        return reply is not None and reply.status_code == 200 and reply.url.path == "/"

    def run(self) -> None:
        try:
            if self.role != "bare":
                for _ in range(3):
                    if self.sign_in() or self.stop.is_set():
                        break
                    self.stop.wait(1)
            self.signed_in.set()
            self.go.wait()
            began = time.monotonic()
            plan = self.plan
            arrive_at = plan.sign_in_from + self.rng.uniform(0, plan.sign_in_spread)
            arrived = self.role == "bare" or not self.plan.sign_in_spread
            # People do not all click at the same instant: start somewhere in the first pauses.
            self.stop.wait(self.rng.uniform(0, 2 * self.plan.think_s))
            while not self.stop.is_set():
                if not arrived and time.monotonic() - began >= arrive_at:
                    arrived = True
                    self.browser.client.cookies.clear()  # a fresh browser
                    self.sign_in()
                    self.think()
                    continue
                self.iteration()
        except Exception as exc:  # a bench bug must show, not hang the run
            self.crashed = f"{type(exc).__name__}: {exc}"
        finally:
            self.signed_in.set()
            self.browser.close()

    def iteration(self) -> None:
        raise NotImplementedError


class Clerk(Person):
    """Search, open a contract, preview a cycle, submit it."""

    role = "clerk"

    def iteration(self) -> None:
        b = self.browser
        q = self.rng.choice(self.plan.search_terms)
        page = b.get("search", "/invoices/new/", params={"q": q})
        if page is None or page.status_code != 200:
            return self.think()
        contracts = sorted({p["contract"] for p in link_params(page.text, "contract")})
        self.think()
        if not contracts or self.stop.is_set():
            return None
        contract = self.rng.choice(contracts)
        page = b.get("open contract", "/invoices/new/", params={"contract": contract})
        if page is None or page.status_code != 200:
            return self.think()
        cycles = [p["cycle"] for p in link_params(page.text, "contract", "cycle")]
        self.think()
        if not cycles or self.stop.is_set():
            return None
        cycle = self.rng.choice(cycles)
        page = b.get("preview", "/invoices/new/", params={"contract": contract, "cycle": cycle})
        fields = form_fields(page.text, "/invoices/new/submit") if page is not None else None
        self.think()
        if not fields or self.stop.is_set():
            return None
        if fields.pop("checkbox:confirm_empty", None):
            fields["confirm_empty"] = "on"  # the clerk checked the zero total and confirms
        reply = b.post("submit", "/invoices/new/submit", fields, refused=(409, 422))
        if reply is not None and reply.status_code == 200:
            found = re.match(r"^/invoices/(\d+)/$", reply.url.path)
            if found:
                self.recorder.note("submitted", int(found.group(1)))
        self.think()
        return None


class Manager(Person):
    """Open the approvals inbox, open a pending invoice, approve it (or reject with a reason)."""

    role = "manager"

    def iteration(self) -> None:
        b = self.browser
        page = b.get("approvals inbox", "/approvals/")
        if page is None or page.status_code != 200:
            return self.think()
        pending = [pk for pk, status in inbox_rows(page.text) if status == "pending_approval"]
        self.think(0.5)
        if not pending or self.stop.is_set():
            return self.think()
        pk = self.rng.choice(pending[:8])
        page = b.get("invoice page", f"/invoices/{pk}/")
        if page is None or page.status_code != 200:
            return self.think()
        approve = form_fields(page.text, f"/invoices/{pk}/approve")
        reject = form_fields(page.text, f"/invoices/{pk}/reject")
        self.think()
        if approve is None or self.stop.is_set():
            return None  # someone else decided it meanwhile; back to the inbox
        if reject is not None and self.rng.random() < self.plan.reject_share:
            reject["reason"] = "Seat count does not match the signed order form; please check."
            reply = b.post("reject", f"/invoices/{pk}/reject", reject, refused=(409,))
            if reply is not None and reply.status_code == 200:
                self.recorder.note("rejected", pk)
        else:
            reply = b.post("approve", f"/invoices/{pk}/approve", approve, refused=(409,))
            if reply is not None and reply.status_code == 200:
                self.recorder.note("approved", pk)
        self.think()
        return None


class Auditor(Person):
    """Page through history and export CSV (or, without history pages, read the lists)."""

    role = "auditor"

    def iteration(self) -> None:
        b = self.browser
        if not self.plan.history:
            page = b.get("approvals (read)", "/approvals/")
            self.think()
            ids = [pk for pk, _ in inbox_rows(page.text)] if page is not None else []
            if ids and not self.stop.is_set():
                b.get("invoice page (read)", f"/invoices/{self.rng.choice(ids)}/")
                self.think()
            if not self.stop.is_set():
                b.get("my invoices (read)", "/invoices/mine/")
                self.think()
            return
        page = b.get("history", "/history/")
        self.think()
        for _ in range(2):  # the next two (older) pages, as the pager links them
            if page is None or page.status_code != 200 or self.stop.is_set():
                break
            older = _NEXT.search(page.text)
            if older is None:
                break
            page = b.get("history next page", html.unescape(older.group(1)))
            self.think()
        if not self.stop.is_set() and self.rng.random() < 0.34:
            b.get("history export", "/history/export.csv")
            self.think()


_NEXT = re.compile(r'<a href="(/history/[^"]*)"[^>]*rel="next"')


class Bare(Person):
    role = "bare"

    def iteration(self) -> None:
        self.browser.get("bare view", "/bench/bare")
        self.think()


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


@dataclass
class RunResult:
    sign_in: list[Sample]
    samples: list[Sample]
    sign_in_s: float
    run_s: float
    crashed: list[str]
    machine_cpu: float = float("nan")  # share of all cores busy during the main phase
    own_cpu_s: float = float("nan")  # CPU seconds of this process (people + stand-in) in it


def run_people(
    people: list[Person], *, duration: float, recorder: Recorder, on_tick=None
) -> RunResult:
    """Sign everyone in (concurrently), then let them work for `duration` seconds."""
    go, stop = people[0].go, people[0].stop
    started = time.monotonic()
    try:
        for person in people:
            person.start()
            time.sleep(0.05)
        for person in people:
            person.signed_in.wait(120)
        signed_in_s = time.monotonic() - started
        sign_in = recorder.snapshot()
        recorder.restart()
        cpu_before = cpu_times()
        own_before = time.process_time()
        go.set()
        began = time.monotonic()
        while time.monotonic() - began < duration:
            time.sleep(min(0.2, max(0.0, duration - (time.monotonic() - began))))
            if on_tick is not None:
                on_tick(time.monotonic() - began)
    finally:
        stop.set()
        go.set()
        deadline = time.monotonic() + 40  # the longest request timeout, once for everyone
        for person in people:
            person.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - began
    cpu_after = cpu_times()
    own = time.process_time() - own_before
    busy = (cpu_after[0] - cpu_before[0]) / max(1.0, cpu_after[1] - cpu_before[1])
    crashed = [f"{p.name}: {p.crashed}" for p in people if p.crashed]
    for line in crashed:
        log(f"PERSON CRASHED {line}")
    return RunResult(sign_in, recorder.snapshot(), signed_in_s, elapsed, crashed, busy, own)


def cast(
    *,
    counts: dict[str, int],
    users: dict[str, list[str]],
    base_url: str,
    recorder: Recorder,
    plan: Plan,
    seed: int = 1,
) -> list[Person]:
    kinds = {"clerk": Clerk, "manager": Manager, "auditor": Auditor, "bare": Bare}
    go, stop = threading.Event(), threading.Event()
    people: list[Person] = []
    for role, count in counts.items():
        for i in range(count):
            username = users[role][i % len(users[role])]
            people.append(
                kinds[role](
                    i + 1, base_url, recorder, username, plan, go, stop, seed * 1000 + len(people)
                )
            )
    return people


def split_people(total: int) -> dict[str, int]:
    """Half clerks, three in ten managers, the rest auditors (at least one of each)."""
    total = max(total, 3)
    clerks = max(1, round(total * 0.5))
    managers = max(1, round(total * 0.3))
    auditors = max(1, total - clerks - managers)
    while clerks + managers + auditors > total:
        clerks -= 1
    return {"clerk": clerks, "manager": managers, "auditor": auditors}
