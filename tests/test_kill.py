"""`kill -9` in the middle of a burst of saves, against gunicorn as production runs it: a
worker, then the whole server. Every save the client saw acknowledged is in the database with
its audit entry, nothing beyond the saves whose answer the kill cut off, and the audit trail
verifies."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from audit.verify import verify_chain
from edc.extensions import db

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, app, port: int):
        self.port = port
        self.env = {**os.environ,
                    "EDC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                    "EDC_SECRET_KEY": "kill-test-" + "k" * 32,
                    "EDC_AUDIT_KEY_FILE": app.config["EDC_AUDIT_KEY_FILE"],
                    "EDC_AUDIT_CHECKPOINT_LOG": app.config["EDC_AUDIT_CHECKPOINT_LOG"],
                    "EDC_COOKIE_SECURE": "0"}
        self.env.pop("EDC_REDIS_URL", None)
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [str(GUNICORN), "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "30", "wsgi:app"], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",  # noqa: S310
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start")

    def workers(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def kill_all(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


# a connection refused or reset, or an answer cut off part way through its body
CUT_OFF = (OSError, http.client.HTTPException, ValueError)


def _call(port, method, path, headers, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     method=method,
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def assert_burst_kept(records: dict) -> None:
    """Every acknowledged value in the trail, in order; besides them only saves whose answer
    was cut off (committed, or not); the cuts met requests; the trail verifies. Inside an
    app context."""
    for subject_id, record in records.items():
        trail = [e.new_value for e in db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.item_oid == "HGB", AuditEntry.subject_id == subject_id,
                AuditEntry.action.in_(("data.create", "data.update")))
            .order_by(AuditEntry.seq))]
        acknowledged = record["acknowledged"]
        it = iter(trail)
        assert all(value in it for value in acknowledged), (acknowledged, trail)
        assert len(trail) <= len(acknowledged) + record["cut_off"]
    assert sum(r["cut_off"] for r in records.values()) > 0
    assert verify_chain(db.session).ok


def four_subjects(world) -> list[int]:
    """Four subjects at TJ, one for each client (no two clients on one form). Inside an app
    context; commits."""
    from edc.cli import cli_actor
    from edc.models import Site
    from edc.subjects.services import create_subject

    site = db.session.get(Site, world.tj)
    subjects = [world.subject_tj] + [
        create_subject(site, actor=cli_actor(), created_by_id=world.users["crc"]).id
        for _ in range(3)]
    db.session.commit()
    return subjects


@contextmanager
def bursts(port_of, headers: dict, subjects: list[int]) -> Iterator[dict]:
    """One client per subject saving its lab form over and over while the block runs; yields
    each subject's record: the values acknowledged (and when), the answers cut off."""
    records = {s: {"acknowledged": [], "at": [], "cut_off": 0} for s in subjects}
    done = threading.Event()
    clients = [threading.Thread(target=_burst, args=(
        port_of, headers, f"/api/v1/subjects/{s}/forms/SCREEN/LB", done.is_set, records[s]))
        for s in subjects]
    for c in clients:
        c.start()
    try:
        yield records
    finally:
        done.set()
        for c in clients:
            c.join(30)


def _burst(port_of, headers, path, stop, record) -> None:
    """One client saving one form over and over, recording what was acknowledged and how
    many answers were cut off; after a cut it reads where the form stands and goes on."""
    version, i = 0, 0
    while not stop():
        i += 1
        value = str(60 + i % 180)
        body = {"items": {"LBDAT": "2026-11-20", "HGB": value}, "version": version}
        if version:
            body["reason"] = "transcription error"
        try:
            status, answer = _call(port_of(), "PUT", path, headers, body)
        except CUT_OFF:
            status = None
        if status == 200:
            record["acknowledged"].append(value)
            record["at"].append(time.monotonic())
            version = answer["version"]
            continue
        record["cut_off"] += 1
        while not stop():
            try:
                status, answer = _call(port_of(), "GET", path, headers)
            except CUT_OFF:
                status = None
            if status == 200:
                version = answer["version"]
                break
            time.sleep(0.05)


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is installed with the app")
def test_kill_9_of_a_worker_and_of_the_server_mid_burst(app, world, token):
    with app.app_context():
        subjects = four_subjects(world)
    server = Server(app, _free_port())
    server.start()
    try:
        with bursts(lambda: server.port, token("crc"), subjects) as records:
            time.sleep(1.5)
            os.kill(server.workers()[0], signal.SIGKILL)  # a worker, mid-burst
            time.sleep(1.5)
            server.kill_all()  # the whole server, mid-burst
            server.start()
            time.sleep(1.5)
    finally:
        if server.proc.poll() is None:
            server.kill_all()
    with app.app_context():
        assert_burst_kept(records)
        assert all(len(r["acknowledged"]) >= 5 for r in records.values()), records
