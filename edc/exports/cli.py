"""`edc export`: a de-identified sponsor export from the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from audit import Actor
from edc.exports import dataset, sdtm, services
from edc.uow import read_only, unit_of_work


@click.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(list(dataset.FORMATS)),
              help="csv, odm (CDISC ODM 1.3.2), xpt (SAS transport v5) or json "
                   "(CDISC Dataset-JSON 1.1).")
@click.option("--site", "sites", multiple=True, help="Site code (repeat for several); "
              "every site when absent.")
@click.option("--as-of", "as_of", type=int, help="Audit sequence number of the snapshot "
              "(default: the newest entry).")
@click.option("--since", type=int, help="Incremental (csv, odm): only form instances "
              "changed after this audit sequence, and the values removed since.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The zip to write.")
@with_appcontext
def export_command(fmt, sites, as_of, since, output):
    """Write a de-identified sponsor export (a zip with manifest.json). The same snapshot
    (--as-of) gives the same data files, byte for byte."""
    try:
        scope = services.resolve(fmt, sites=sites, as_of=as_of, since=since)
    except services.ExportProblem as exc:
        raise click.UsageError(f"--{exc.field.replace('_', '-')}: {exc.message}") from None
    out = Path(output)
    if not out.parent.is_dir():
        raise click.UsageError(f"-o: no folder {out.parent}")
    actor = Actor.cli()
    bar = _Bar() if sys.stderr.isatty() else None
    partial = out.with_name(f".{out.name}.partial")
    try:
        with services.spool() as sp:
            with read_only():
                files = services.prepare(scope, sp, progress=bar)
            with unit_of_work():
                services.record(scope, files, actor=actor, via="cli")
            with open(partial, "wb") as fh:
                services.pack(sp, services.manifest(scope, files, generated_by=actor.username),
                              fh, scope.as_of_time)
            os.replace(partial, out)
    except sdtm.TooLong as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot be written as {fmt}: {exc}") from None
    except dataset.WorkerStopped as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(str(exc)) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if bar:
            bar.done()
    rows = sum(f.get("rows", 0) for f in files)
    click.echo(f"wrote {out}: {len(files)} files, {rows} rows, {scope.format} as of audit "
               f"sequence {scope.as_of} (chain head {scope.head_hash})")


class _Bar:
    """A progress line on a terminal: subjects done of the total."""

    def __init__(self):
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        click.echo(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} subjects",
                   nl=False, err=True)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            click.echo("", err=True)
