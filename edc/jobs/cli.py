"""`edc worker`: run the background job queue (beside gunicorn)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from edc import jobs


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at the same time.")
@with_appcontext
def worker_command(workers):
    """Consume the job queue (Redis with EDC_REDIS_URL, else the SQLite queue file)."""
    queue = jobs.queue()
    click.echo(f"edc worker: {workers} thread(s) on {type(queue.huey).__name__}")
    current_app.logger.info("job worker started")
    again = jobs.recover()  # jobs a killed worker left running
    if again:
        click.echo(f"edc worker: queued again {len(again)} job(s) of a stopped worker")
    queue.huey.create_consumer(workers=workers, worker_type="thread").run()
