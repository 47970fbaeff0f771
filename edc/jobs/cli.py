"""`edc worker`: run the background job queue (beside gunicorn)."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import with_appcontext

from edc import jobs


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at the same time.")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=10, show_default=True,
              envvar="EDC_WORKER_NICE",
              help="Lower the worker's CPU priority by this much (0: as the web tier).")
@with_appcontext
def worker_command(workers, niceness):
    """Consume the job queue (Redis with EDC_REDIS_URL, else the SQLite queue file).

    The worker runs below the web tier's CPU priority (``--nice``, 10 by default): a
    casebook or an export takes seconds of layout, and on cores it shares with gunicorn it
    must not slow down the saves people are waiting for. Its threads and its PDF layout
    processes inherit the priority; its heartbeats are short and still run."""
    lowered = os.nice(niceness)  # 0 leaves it, and answers the current value
    queue = jobs.queue()
    click.echo(f"edc worker: {workers} thread(s) on {type(queue.huey).__name__}, "
               f"nice {lowered}")
    current_app.logger.info("job worker started")
    again = jobs.recover()  # jobs a killed worker left running
    if again:
        click.echo(f"edc worker: queued again {len(again)} job(s) of a stopped worker")
    queue.huey.create_consumer(workers=workers, worker_type="thread").run()
