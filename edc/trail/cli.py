"""`edc audit …`: verify, checkpoint, replay check, database privileges, copies."""

from __future__ import annotations

import os

import click
from flask.cli import with_appcontext
from sqlalchemy import text

from audit import Actor, ddl
from audit.ddl import app_role_grants
from audit.replay import differences, replay_from_database
from audit.verify import verify_chain
from edc import anchor
from edc.clinical.store import snapshot
from edc.extensions import db
from edc.trail.services import TrailFilter, count, csv_lines, export_pdf, record_export, write_copy
from edc.uow import read_only


@click.group("audit")
def audit_group():
    """The audit trail: verify, replay, copies."""


@audit_group.command("verify")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes verifying pieces of a long trail in parallel (default: one per "
                   "core).")
@with_appcontext
def verify_command(workers: int | None):
    """Walk the hash chain and check it against every signed checkpoint; exit 1 naming the
    first bad sequence number, each checkpoint the trail contradicts, time going backwards,
    or a missing trigger."""
    with read_only():  # a long walk holds no write lock: others keep saving
        result = verify_chain(db.session, anchor=anchor.current(),
                              workers=workers or os.cpu_count() or 1)
        absent = sorted(ddl.missing(db.session.connection()))
    click.echo(result.summary())
    if result.chain_ok:
        click.echo(f"head {result.head_hash}")
        click.echo(f"count {result.count}")
    else:
        click.echo(f"first bad sequence number: {result.bad_seq}")
    for problem in result.problems:
        click.echo(f"problem: {problem}")
    if absent:
        click.echo("problem: audit triggers missing or disabled: " + ", ".join(absent)
                   + " (run `edc init` to repair them)")
    raise SystemExit(0 if result.ok and not absent else 1)


@audit_group.command("checkpoint")
@with_appcontext
def checkpoint_command():
    """Sign the head of the chain and append it to the checkpoint log (outside the
    database)."""
    cp = anchor.checkpoint_now(db.session)
    click.echo(f"checkpoint seq {cp.seq} head {cp.hash} at {cp.ts} (key {cp.key_id}) "
               f"appended to {anchor.current().log_file}")


@audit_group.command("replay")
@with_appcontext
def replay_command():
    """Rebuild the clinical data from the trail alone and compare with the tables."""
    replayed = replay_from_database(db.session)
    diff = differences(replayed, snapshot(db.session))
    if diff:
        click.echo("replay DIFFERS from the current data:")
        for line in diff:
            click.echo(f"  {line}")
        raise SystemExit(1)
    click.echo(f"replay equals the current data: {len(replayed['subjects'])} subjects, "
               f"{len(replayed['items'])} item values")


@audit_group.command("grant-app-role")
@click.argument("role")
@click.option("--print-only", is_flag=True, help="Print the SQL instead of running it.")
@with_appcontext
def grant_app_role_command(role, print_only):
    """PostgreSQL: give ROLE what the app needs, but only SELECT and INSERT on the trail."""
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("database privileges apply to PostgreSQL only")
    try:
        statements = app_role_grants(role)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ROLE") from None
    if print_only:
        click.echo(";\n".join(statements) + ";")
        return
    with db.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    click.echo(f"granted: {role} may read and append to audit_entry, never change it")


def _checked(f: TrailFilter) -> TrailFilter:
    """The filter, or a usage error naming the option it came from (nothing written)."""
    if problems := f.problems():
        raise click.UsageError("; ".join(f"--{name}: {problem}"
                                         for name, problem in problems.items()))
    return f


@audit_group.command("pdf")
@click.option("--subject", "subject", default=None, help="Screening or subject number.")
@click.option("--all", "everything", is_flag=True, help="The whole study's trail.")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--include-identifying", is_flag=True,
              help="Show identifying values (initials, birth date); withheld by default.")
@with_appcontext
def pdf_command(subject, everything, output, include_identifying):
    """Write the audit-trail PDF (PDF/A-2b) of one subject or of the whole study."""
    if bool(subject) == everything:
        raise click.UsageError("give exactly one of --subject NUMBER or --all")
    f = _checked(TrailFilter(subject=subject) if subject else TrailFilter())
    actor = Actor.cli()
    result = export_pdf(f, output, actor=actor, show_pii=include_identifying,
                        generated_by=actor.username)
    click.echo(f"wrote {output}: {result['entries']} entries, {result['pages']} pages, "
               f"chain head {result['head_hash']} (seq {result['head_seq']}), "
               f"verification {'intact' if result['verified'] else 'FAILED'}")


@audit_group.command("csv")
@click.option("--subject", "subject", default=None)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--include-identifying", is_flag=True)
@with_appcontext
def csv_command(subject, output, include_identifying):
    """Write the audit trail (one subject, or all) as CSV."""
    f = _checked(TrailFilter(subject=subject))
    record_export("csv", f, actor=Actor.cli(), count=count(f))
    with open(output, "w", encoding="utf-8", newline="") as fh:
        for line in csv_lines(f, include_identifying):
            fh.write(line)
    click.echo(f"wrote {output}")


@audit_group.command("copy")
@click.option("--subject", "subject", default=None, help="Screening or subject number.")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--include-identifying", is_flag=True,
              help="Include identifying values; without it their entries are marked withheld.")
@with_appcontext
def copy_command(subject, output, include_identifying):
    """Write the electronic copy (JSON Lines) that `python -m audit.verify_copy` checks."""
    f = _checked(TrailFilter(subject=subject))  # before the file is opened
    with open(output, "w", encoding="utf-8") as fh:
        result = write_copy(f, fh, actor=Actor.cli(),
                            show_pii=include_identifying)
    click.echo(f"wrote {output}: {result['entries']} entries up to seq {result['head_seq']}, "
               f"chain head {result['head_hash']}")
