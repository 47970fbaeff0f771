"""`edc audit …`: verify, replay check, database privileges."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import text

from edc.extensions import db


@click.group("audit")
def audit_group():
    """The audit trail: verify, replay, copies."""


@audit_group.command("verify")
@with_appcontext
def verify_command():
    """Walk the hash chain; exit 1 naming the first bad sequence number."""
    from audit.verify import verify_chain

    result = verify_chain(db.session)
    click.echo(result.summary())
    if result.ok:
        click.echo(f"head {result.head_hash}")
        click.echo(f"count {result.count}")
    else:
        click.echo(f"first bad sequence number: {result.bad_seq}")
    raise SystemExit(0 if result.ok else 1)


@audit_group.command("replay")
@with_appcontext
def replay_command():
    """Rebuild the clinical data from the trail alone and compare with the tables."""
    from audit.replay import differences, replay_from_database, snapshot

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
    from audit.ddl import app_role_grants

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
