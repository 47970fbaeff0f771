"""A job whose worker dies does not stay "running" for ever (both databases): its lease
expires, it goes back to the queue (audited as ``job.retry``) and runs again, or fails with
the reason after its last attempt; a worker whose lease was taken drops its work. The last
test kills a real ``edc worker`` with SIGKILL in the middle of an archive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.clock import utcnow
from audit.models import AuditEntry
from audit.verify import verify_chain
from edc import jobs
from edc.cli import cli_actor
from edc.extensions import db
from edc.jobs import services, tasks
from edc.models import Job, Site, User
from edc.security import ALL_SITES, site_scope
from edc.subjects.services import create_subject
from edc.uow import unit_of_work
from tests.conftest import base_config

ROOT = Path(__file__).resolve().parent.parent
EDC = Path(sys.executable).with_name("edc")


def _request(app, world, kind="audit_pdf", role="dm") -> int:
    with app.app_context(), unit_of_work():
        user = db.session.get(User, world.users[role])
        return services.request_job(kind, user=user, actor=cli_actor()).id


def _as_if_a_worker_died(app, job_id: int, attempts: int, quiet_for: int) -> None:
    """The row a killed worker leaves: running, its last heartbeat ``quiet_for`` s ago."""
    with app.app_context(), site_scope(ALL_SITES), unit_of_work():
        job = db.session.get(Job, job_id)
        then = utcnow() - timedelta(seconds=quiet_for)
        job.state, job.attempts, job.worker = "running", attempts, "gone:1"
        job.started_at = job.heartbeat_at = then
    (jobs_dir(app) / str(job_id) / str(attempts)).mkdir(parents=True)


def jobs_dir(app) -> Path:
    with app.app_context():
        return jobs.result_dir()


def _job_actions(app, job_id: int) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(
            AuditEntry.target_type == "job", AuditEntry.target_id == str(job_id))
            .order_by(AuditEntry.seq)))


@pytest.fixture
def job_app(app, tmp_path):
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    return app


def test_a_job_whose_worker_died_runs_again_then_fails_after_its_last_attempt(job_app, world):
    app = job_app
    lease = app.config["EDC_JOB_LEASE_SECONDS"]
    alive = _request(app, world)
    _as_if_a_worker_died(app, alive, attempts=1, quiet_for=lease // 2)  # still has its lease
    died = _request(app, world)
    _as_if_a_worker_died(app, died, attempts=1, quiet_for=lease + 5)
    with app.app_context():
        assert jobs.recover() == [died]  # the test queue runs it at once
        rows = {j.id: j for j in db.session.scalars(select(Job).execution_options(
            all_sites=True))}
        assert rows[alive].state == "running"
        assert (rows[died].state, rows[died].attempts) == ("done", 2), rows[died].message
        assert Path(rows[died].result_path).is_file()
    assert not (jobs_dir(app) / str(died) / "1").exists()  # the dead attempt's files
    trail = _job_actions(app, died)
    assert [e.action for e in trail] == ["job.create", "job.retry", "job.done"]
    retry = json.loads(trail[1].details)
    assert retry["attempt"] == 1 and retry["worker"] == "gone:1"
    assert trail[1].username == "system" and json.loads(trail[2].details)["attempt"] == 2

    # after its last attempt the job fails, with the reason, and is not queued again
    last = _request(app, world)
    _as_if_a_worker_died(app, last, attempts=app.config["EDC_JOB_ATTEMPTS"],
                         quiet_for=lease + 5)
    with app.app_context():
        assert jobs.recover() == []
        job = db.session.get(Job, last, execution_options={"all_sites": True})
        assert job.state == "failed" and job.message == services.WORKER_STOPPED
        assert job.finished_at is not None
    assert [e.action for e in _job_actions(app, last)][-1] == "job.failed"
    assert _job_actions(app, last)[-1].new_value == "WorkerStopped"
    with app.app_context():
        assert verify_chain(db.session).ok


def test_the_jobs_page_says_why_a_job_failed_in_the_readers_language(job_app, world):
    from tests.conftest import csrf_token, login

    app = job_app
    job_id = _request(app, world)
    _as_if_a_worker_died(app, job_id, attempts=app.config["EDC_JOB_ATTEMPTS"], quiet_for=999)
    with app.app_context():
        jobs.recover()
    client = app.test_client()
    login(client, "dm")
    page = client.get("/jobs/").get_data(as_text=True)
    assert "The worker stopped while it ran this job" in page
    client.post("/language", data={"csrf_token": csrf_token(client, "/jobs/"), "lang": "zh",
                                   "next": "/jobs/"})
    page = client.get("/jobs/").get_data(as_text=True)
    assert "The worker stopped while it ran this job" not in page
    assert "后台进程在运行此任务时多次停止" in page


def test_a_job_is_run_by_one_worker_and_a_worker_whose_lease_was_taken_drops_its_work(
        job_app, world, monkeypatch):
    app = job_app
    job_id = _request(app, world)
    with app.app_context():
        tasks.run(job_id)
        done = db.session.get(Job, job_id, execution_options={"all_sites": True})
        assert done.state == "done" and done.attempts == 1
        tasks.run(job_id)  # a second delivery of the same job: nothing happens
        db.session.expire_all()
        assert db.session.get(Job, job_id, execution_options={"all_sites": True}).attempts == 1

    # a worker that stalled past its lease: the job was taken back while it rendered
    stalled = _request(app, world)
    real = tasks._audit_pdf

    def taken_back_meanwhile(job_id, params, out_dir, attempt):
        path = real(job_id, params, out_dir, attempt)
        with site_scope(ALL_SITES), unit_of_work():
            db.session.get(Job, job_id).attempts += 1  # another worker's claim
        return path

    monkeypatch.setattr(tasks, "_audit_pdf", taken_back_meanwhile)
    with app.app_context():
        tasks.run(stalled)
        job = db.session.get(Job, stalled, execution_options={"all_sites": True})
        assert job.state == "running" and job.result_path is None
    assert not (jobs_dir(app) / str(stalled) / "1").exists()
    assert [e.action for e in _job_actions(app, stalled)] == ["job.create"]


def _parent(stat: Path) -> int | None:
    try:  # pid (name) state ppid ...: the name may hold spaces, so read after its ")"
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # ended meanwhile


def _worker(app, env: dict) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [str(EDC), "worker", "--workers", "1"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(app, job_id: int, ready, seconds: float = 180) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.get(Job, job_id, execution_options={"all_sites": True})
            db.session.expunge(job)
            db.session.remove()
        if ready(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: {job.state} {job.done}/{job.total} {job.message}")


@pytest.mark.skipif(not EDC.exists(), reason="the edc command is installed with the app")
def test_kill_9_of_the_worker_mid_archive_and_the_next_worker_finishes_it(app, world,
                                                                           tmp_path):
    with app.app_context():
        site = db.session.get(Site, world.tj)
        for _ in range(4):  # an archive long enough to be cut off part way
            create_subject(site, actor=cli_actor(), created_by_id=world.users["crc"])
        db.session.commit()
    queue_file = tmp_path / "queue.sqlite"
    # the pages' side of the queue: the same application, as production runs it (no test
    # queue that runs jobs at once)
    web = jobs_app(app, queue_file)
    with web.app_context(), unit_of_work():
        user = db.session.get(User, world.users["dm"])
        job_id = services.request_job("casebook_archive", user=user, actor=cli_actor(),
                                      site=db.session.get(Site, world.tj)).id
    with web.app_context():
        jobs.queue().run_job(job_id)
    env = {**os.environ,
           "EDC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "EDC_SECRET_KEY": "job-test-" + "k" * 32,
           "EDC_AUDIT_KEY_FILE": app.config["EDC_AUDIT_KEY_FILE"],
           "EDC_AUDIT_CHECKPOINT_LOG": app.config["EDC_AUDIT_CHECKPOINT_LOG"],
           "EDC_JOB_QUEUE_FILE": str(queue_file), "EDC_JOB_DIR": str(tmp_path / "jobs"),
           "EDC_JOB_LEASE_SECONDS": "3", "EDC_PDF_WORKERS": "1"}
    env.pop("EDC_REDIS_URL", None)
    first = _worker(app, env)
    try:
        _wait_for(app, job_id, lambda j: j.state == "running" and j.done >= 1)
        # below the web tier's CPU priority, its PDF layout processes too
        assert os.getpriority(os.PRIO_PROCESS, first.pid) == os.nice(0) + 10
        layout = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                  if _parent(p) == first.pid]
        assert all(os.getpriority(os.PRIO_PROCESS, p) == os.nice(0) + 10 for p in layout)
        os.killpg(first.pid, signal.SIGKILL)  # mid-archive: the next casebooks not made
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    cut = _wait_for(app, job_id, lambda j: True)
    assert cut.state == "running" and cut.done < cut.total  # what the dead worker left
    time.sleep(3.5)  # the lease runs out
    second = _worker(app, env)
    try:
        done = _wait_for(app, job_id, lambda j: j.state in ("done", "failed"))
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(10)
    assert (done.state, done.attempts, done.done, done.total) == ("done", 2, 5, 5), \
        done.message
    assert Path(done.result_path).is_file()
    assert not (tmp_path / "jobs" / str(job_id) / "1").exists()
    assert [e.action for e in _job_actions(app, job_id)] == ["job.create", "job.retry",
                                                            "job.done"]
    with app.app_context():
        assert verify_chain(db.session).ok


def jobs_app(app, queue_file: Path):
    from edc import create_app

    config = {**base_config(app.config["SQLALCHEMY_DATABASE_URI"]),
              "EDC_AUDIT_KEY_FILE": app.config["EDC_AUDIT_KEY_FILE"],
              "EDC_AUDIT_CHECKPOINT_LOG": app.config["EDC_AUDIT_CHECKPOINT_LOG"],
              "TESTING": False, "EDC_JOB_QUEUE_FILE": str(queue_file)}
    return create_app(config)
