"""Load: Locust (headless, as a library) against gunicorn + PostgreSQL + Redis as production
runs them (README, "Production deployment"), beside a bare Flask + SQLAlchemy endpoint that
inserts one row, in the same run and on the same machine.

Two measurements at 20, 50, 100 and 200 simulated users:

1. **The site's mix, with think time** (1-3 s between actions, as people work): coordinators
   saving and reading forms (70 %), monitors reading subjects, forms, queries and now and
   then asking for a subject's casebook PDF (30 %; made by ``edc worker`` beside gunicorn,
   as production runs it), one data manager taking a CSV export every 15 s.
   Throughput, p50/p95/p99 per request type, errors, casebook jobs done; then the same mix
   (people, weights, think times) against the bare endpoint, every request an insert, and
   the EDC's throughput as a share of it.
2. **Saturation, without think time**: every user saves a form as fast as answers come, and
   the same number of users insert into the bare endpoint: the EDC's saves per second as a
   share of the bare endpoint's.

Goal (issue 14): form-save p95 <= 100 ms at 50 users, >= 50 % of the bare endpoint's
throughput, 0 errors. Needs the PostgreSQL at 127.0.0.1:5432 (BENCH_PG_URL) and Redis at
127.0.0.1:6379 (BENCH_REDIS_URL); installs locust into the virtualenv if it is missing.

    .venv/bin/python bench/load.py [--seconds 20] [--users 20,50,100,200] [--workers 4]
"""

from __future__ import annotations

import subprocess
import sys

try:
    import locust  # noqa: F401 - gevent's monkey patching comes first
except ImportError:  # a benchmark's own dependency, not the app's
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "locust>=2.20"], check=True)
    import locust  # noqa: F401

import argparse
import os
import queue
import random
import re
import socket
import tempfile
import time
import urllib.request
from pathlib import Path

import gevent
from locust import HttpUser, between, constant, task
from locust.env import Environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._load_study import PASSWORD, drop_database, new_database, study  # noqa: E402

GUNICORN = Path(sys.executable).with_name("gunicorn")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SAVE = "form save (PUT SCREEN/LB)"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, target: str, env: dict, workers: int):
        self.port = _port()
        self.env = env
        self.proc = subprocess.Popen(  # noqa: S603
            [str(GUNICORN), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "180", "--backlog", "2048", target], cwd=ROOT,
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, path: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + path, timeout=2):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start ({path})")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


# Simulated people --------------------------------------------------------------------------

STUDY: dict = {}
SUBJECTS: queue.Queue = queue.Queue()


class _Api(HttpUser):
    abstract = True
    role = "crc"

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {STUDY['tokens'][self.role]}"


class Coordinator(_Api):
    """Saves the lab form of a subject of their own (no two people on one form)."""

    weight = 7
    wait_time = between(1, 3)

    def on_start(self):
        super().on_start()
        self.subject = SUBJECTS.get_nowait()
        SUBJECTS.put(self.subject)  # more people than subjects: shared, versions tell
        self.path = f"/api/v1/subjects/{self.subject}/forms/SCREEN/LB"
        self.version = self.client.get(self.path, name="form read").json()["version"]

    @task(4)
    def save(self):
        body = {"items": {"HGB": str(random.randint(80, 160))}, "version": self.version,
                "reason": "transcription error"}
        with self.client.put(self.path, json=body, name=SAVE, catch_response=True) as r:
            if r.status_code == 200:
                self.version = r.json()["version"]
            elif r.status_code == 409:  # someone else's save came first: read again
                self.version = self.client.get(self.path, name="form read").json()["version"]
                r.failure("409 stale version")
            else:
                r.failure(f"{r.status_code}")

    @task(1)
    def read(self):
        self.client.get(self.path, name="form read")


class Monitor(_Api):
    weight = 3
    role = "cra"
    wait_time = between(1, 3)

    def on_start(self):
        super().on_start()
        # the monitors share one signed-in session: sign-in is rate-limited per address,
        # and every simulated person comes from 127.0.0.1
        self.client.cookies.update(STUDY["monitor_cookies"])

    def _subject(self) -> int:
        return random.choice(STUDY["subjects"])

    @task(5)
    def subject(self):
        self.client.get(f"/api/v1/subjects/{self._subject()}", name="monitor: subject")

    @task(5)
    def form(self):
        self.client.get(f"/api/v1/subjects/{self._subject()}/forms/SCREEN/LB",
                        name="monitor: form")

    @task(2)
    def queries(self):
        self.client.get("/api/v1/queries", name="monitor: queries")

    @task(1)
    def casebook(self):
        with self.client.post(f"/subjects/{self._subject()}/casebook", catch_response=True,
                              data={"csrf_token": STUDY["monitor_csrf"]},
                              name="monitor: casebook PDF asked", allow_redirects=False) as r:
            if r.status_code != 302 or "/jobs/" not in r.headers.get("Location", ""):
                r.failure(f"{r.status_code}")


class DataManager(_Api):
    fixed_count = 1
    role = "dm"
    wait_time = constant(15)

    @task
    def export(self):
        self.client.get("/api/v1/exports/csv", name="data manager: CSV export")


class Saver(Coordinator):
    """Saturation: saves without a pause."""

    weight = 1
    wait_time = constant(0)
    tasks = [Coordinator.save]


class _BareMix(HttpUser):
    """The same mix against the bare endpoint: the same people, weights and think times,
    each request a bare insert."""

    abstract = True

    @task
    def insert(self):
        self.client.put("/bare", name="bare insert")


class BareCoordinator(_BareMix):
    weight = Coordinator.weight
    wait_time = between(1, 3)


class BareMonitor(_BareMix):
    weight = Monitor.weight
    wait_time = between(1, 3)


class BareDataManager(_BareMix):
    fixed_count = 1
    wait_time = constant(15)


class Bare(HttpUser):
    wait_time = constant(0)

    @task
    def insert(self):
        self.client.put("/bare", name="bare insert")


# Running -----------------------------------------------------------------------------------

def _signed_in(url: str, username: str) -> dict:
    import requests

    with requests.Session() as web:
        html = web.get(url + "/login").text
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        r = web.post(url + "/login", allow_redirects=False,
                     data={"username": username, "password": PASSWORD, "csrf_token": csrf})
        assert r.status_code == 302, r.status_code
        page = web.get(url + "/jobs/").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return web.cookies.get_dict(), token


def _jobs(url: str) -> str:
    """Casebook jobs by state (the worker makes them while the stages run)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state, count(*) FROM job WHERE kind = 'casebook' "
                                 "GROUP BY state ORDER BY state")).all()
    engine.dispose()
    return ", ".join(f"{n} {state}" for state, n in rows) or "none"


def run(user_classes, host: str, users: int, seconds: float) -> dict:
    env = Environment(user_classes=user_classes, host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(users / 5, 10))
    gevent.sleep(users / max(users / 5, 10) + 2)  # everyone started, then measure
    env.stats.reset_all()
    started = time.monotonic()
    gevent.sleep(seconds)
    elapsed = time.monotonic() - started
    rows = {}
    for (name, _method), entry in env.stats.entries.items():
        if entry.num_requests == 0 or name == "sign in":
            continue
        rows[name] = {"n": entry.num_requests, "rps": entry.num_requests / elapsed,
                      "errors": entry.num_failures,
                      **{f"p{int(q * 100)}": entry.get_response_time_percentile(q)
                         for q in (0.5, 0.95, 0.99)}}
    errors = {f"{e.name}: {e.error}"[:120]: e.occurrences for e in env.stats.errors.values()}
    runner.quit()
    runner.greenlet.join(timeout=30)
    return {"rows": rows, "rps": sum(r["rps"] for r in rows.values()), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--users", default="20,50,100,200")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    stages = [int(u) for u in args.users.split(",")]

    anchor = Path(tempfile.mkdtemp(prefix="edc-load-"))
    url, bare_url = new_database("edc_load"), new_database("edc_load_bare")
    STUDY.update(study(url, anchor, subjects=max(stages)))
    for s in STUDY["subjects"]:
        SUBJECTS.put(s)
    os.environ["BARE_DATABASE_URL"] = bare_url
    from bench._bare import engine as bare_engine
    from bench._bare import rows as bare_rows
    bare_rows.metadata.create_all(bare_engine)
    bare_engine.dispose()

    edc = Server("wsgi:app", {"EDC_DATABASE_URL": url, "EDC_SECRET_KEY": "load-" + "k" * 32,
                              "EDC_REDIS_URL": REDIS, "EDC_COOKIE_SECURE": "0",
                              "EDC_AUDIT_KEY_FILE": str(anchor / "key.pem"),
                              "EDC_AUDIT_CHECKPOINT_LOG": str(anchor / "checkpoints.jsonl")},
                 args.workers)
    jobs = subprocess.Popen(  # noqa: S603 - the job worker, as production runs it
        [str(GUNICORN.with_name("edc")), "worker"], cwd=ROOT, env={**os.environ, **edc.env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = Server("bench._bare:app", {"BARE_DATABASE_URL": bare_url}, args.workers)
    try:
        edc.wait("/healthz")
        bare.wait("/bare")
        STUDY["monitor_cookies"], STUDY["monitor_csrf"] = _signed_in(edc.url, "cra")
        print(f"load: gunicorn --workers {args.workers} (sync), PostgreSQL, Redis; "
              f"{os.cpu_count()} cores shared by Locust, gunicorn, PostgreSQL and the job "
              f"worker (nice {os.environ.get('EDC_WORKER_NICE', '10')}, "
              f"EDC_WORKER_NICE); {args.seconds:g} s per stage after ramp-up")
        print("\n1. The site's mix, think time 1-3 s")
        mix_p95, mix_share = {}, {}
        for users in stages:
            result = run([Coordinator, Monitor, DataManager], edc.url, users, args.seconds)
            print(f"\n  {users} users: {result['rps']:.1f} requests/s, "
                  f"errors {sum(result['errors'].values())} {result['errors'] or ''}")
            print(f"    {'request':32} {'n':>6} {'req/s':>7} {'p50':>6} {'p95':>6} "
                  f"{'p99':>6} {'err':>4}  (ms)")
            for name, r in sorted(result["rows"].items()):
                print(f"    {name:32} {r['n']:6d} {r['rps']:7.1f} {r['p50']:6.0f} "
                      f"{r['p95']:6.0f} {r['p99']:6.0f} {r['errors']:4d}")
            mix_p95[users] = result["rows"].get(SAVE, {}).get("p95")
            print(f"    casebook jobs so far: {_jobs(url)}")
            bare_mix = run([BareCoordinator, BareMonitor, BareDataManager], bare.url, users,
                           args.seconds)
            row = bare_mix["rows"].get("bare insert", {})
            mix_share[users] = result["rps"] / bare_mix["rps"] if bare_mix["rps"] else 0
            print(f"    the same mix against the bare insert: {bare_mix['rps']:.1f} "
                  f"requests/s, p95 {row.get('p95', 0):.0f} ms, errors "
                  f"{sum(bare_mix['errors'].values())}: the EDC's throughput is "
                  f"{mix_share[users]:.0%} of it")
        print("\n2. Saturation, no think time: EDC form saves against the bare insert")
        print(f"    {'users':>5} {'EDC saves/s':>12} {'p95':>6} {'bare inserts/s':>15} "
              f"{'p95':>6} {'share':>6} {'errors':>6}")
        for users in stages:
            saves = run([Saver], edc.url, users, args.seconds)
            plain = run([Bare], bare.url, users, args.seconds)
            s_row, b_row = saves["rows"].get(SAVE, {}), plain["rows"].get("bare insert", {})
            errors = sum(saves["errors"].values()) + sum(plain["errors"].values())
            share = s_row.get("rps", 0) / b_row["rps"] if b_row.get("rps") else float("nan")
            print(f"    {users:5d} {s_row.get('rps', 0):12.1f} {s_row.get('p95', 0):6.0f} "
                  f"{b_row.get('rps', 0):15.1f} {b_row.get('p95', 0):6.0f} {share:6.0%} "
                  f"{errors:6d}")
        if 50 in mix_p95:
            print(f"\n  goal: form-save p95 at 50 users {mix_p95[50]:.0f} ms (<= 100 ms)")
        print("  goal: >= 50 % of the bare endpoint's throughput in the same mix: "
              + ", ".join(f"{u} users {v:.0%}" for u, v in mix_share.items())
              + "; without think time (saturation) see 2.")
    finally:
        jobs.terminate()
        jobs.wait(30)
        edc.stop()
        bare.stop()
        drop_database("edc_load")
        drop_database("edc_load_bare")


if __name__ == "__main__":
    main()
