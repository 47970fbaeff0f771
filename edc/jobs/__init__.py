"""Background jobs: long outputs (a site's casebook archive, the study-wide audit PDF) run in
a huey queue, never inside a web request and never holding a write lock.

The queue is made per application in ``init_app``: Redis when ``EDC_REDIS_URL`` is set (as
production runs), else a SQLite file beside the database (``make demo`` needs nothing more);
tests run jobs at once (``EDC_JOBS_IMMEDIATE`` or ``TESTING``). ``edc worker`` consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from edc.config import REPO_ROOT


@dataclass
class Queue:
    huey: object
    run_job: object  # the huey task: run_job(job_id)


def init_app(app: Flask) -> None:
    from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab

    if app.config.get("TESTING") or app.config.get("EDC_JOBS_IMMEDIATE"):
        huey = MemoryHuey("edc-jobs", immediate=True)
    elif app.config.get("EDC_REDIS_URL"):
        huey = RedisHuey("edc-jobs", url=app.config["EDC_REDIS_URL"])
    else:
        path = app.config.get("EDC_JOB_QUEUE_FILE") or str(REPO_ROOT / "instance" / "jobs.sqlite")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey("edc-jobs", filename=path)

    @huey.task(name="edc.run_job")
    def run_job(job_id: int) -> None:
        from edc.jobs import tasks

        with app.app_context():
            tasks.run(job_id)

    @huey.periodic_task(crontab(minute="*"), name="edc.recover_jobs")
    def recover_jobs() -> None:
        with app.app_context():
            recover()

    app.extensions["edc_jobs"] = Queue(huey, run_job)


def submit(kind: str, **request) -> int:
    """Ask for a job at a boundary (a page, the API): ``services.request_job(kind,
    **request)`` in its own unit of work, then the job queued — after the commit, so the
    worker finds the row — with the request holding no transaction while it runs. Raises
    ``JobProblem`` with nothing written."""
    from edc.extensions import db
    from edc.jobs import services
    from edc.uow import unit_of_work

    with unit_of_work():
        job_id = services.request_job(kind, **request).id
    db.session.close()
    queue().run_job(job_id)
    return job_id


def recover() -> list[int]:
    """Put the jobs of killed workers back in the queue (or fail them after their last
    attempt): one unit of work, then the enqueueing. Runs when a worker starts and every
    minute in each worker."""
    from edc.jobs import services
    from edc.security import ALL_SITES, site_scope
    from edc.uow import unit_of_work

    with site_scope(ALL_SITES), unit_of_work():
        again = services.recover_stale()
    for job_id in again:
        queue().run_job(job_id)
    return again


def queue() -> Queue:
    return current_app.extensions["edc_jobs"]


def result_dir() -> Path:
    path = Path(current_app.config.get("EDC_JOB_DIR") or REPO_ROOT / "instance" / "jobs")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def attempt_dir(job_id: int, attempt: int) -> Path:
    """Where one attempt of a job writes (an attempt cut off by a killed worker leaves its
    partial files apart; the recovery removes them)."""
    return result_dir() / str(job_id) / str(attempt)
