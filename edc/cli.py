"""The ``edc`` command: a Flask CLI group (``flask --app wsgi …`` works the same)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

import audit
from audit import Actor, ddl, set_operator
from edc import anchor, backup, create_app
from edc.admin import services as admin
from edc.auth import twofactor
from edc.auth.passwords import PasswordPolicyError, check_policy
from edc.auth.services import find_user
from edc.auth.tokens import issue, listing, revoke
from edc.clock import local_today, utcnow
from edc.demo import DEMO_PI_TOTP_SECRET, fill_subject
from edc.eligibility.settings import ensure_settings
from edc.extensions import db, migrations
from edc.models import ApiToken, Site, Subject, User
from edc.security import Role
from edc.study import current_study, ensure_study, mark_demo
from edc.trail.cli import audit_group
from edc.uow import unit_of_work


def _operator(_ctx, _param, value):
    set_operator(value)


OPERATOR = click.Option(
    ["--operator"], envvar="EDC_OPERATOR", expose_value=False, is_eager=True,
    callback=_operator, help="Your name, recorded in the audit trail beside the operating-"
                             "system user and host (for a shared service account).")


def main() -> None:
    FlaskGroup(create_app=create_app, help="CAR-T EDC administration.",
               params=[OPERATOR])(prog_name="edc")


def cli_actor() -> Actor:
    """The actor of a command: the operating-system user and host (``Actor.cli``)."""
    return Actor.cli()


def init_database() -> None:
    """Migrate to head, (re)install the audit triggers, make sure the study record exists.
    Idempotent."""
    from flask_migrate import upgrade

    migrations(current_app._get_current_object())
    upgrade()
    with db.engine.begin() as conn:
        try:
            repaired = ddl.repair(conn)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    if repaired:
        click.echo("repaired audit triggers that were missing or disabled: "
                   + ", ".join(repaired), err=True)
    actor = cli_actor()
    ensure_settings(ensure_study(actor), actor)
    db.session.commit()


@click.command("init")
@with_appcontext
def init_command():
    """Create or upgrade the schema and install the audit triggers (idempotent)."""
    init_database()
    click.echo("Database is at the newest schema.")
    _lay_out_documents()


def _lay_out_documents() -> None:
    """The study build's documents are laid out here, at deploy, not at a first download. A
    layout that fails (fonts missing on this machine) does not fail the upgrade that is
    already done: it says so, and the first download tries again."""
    from edc.build.services import acrf_file
    from forms.study_build import BUILD

    try:
        click.echo(f"Blank annotated CRF: {acrf_file(BUILD)}")
    except Exception as exc:  # noqa: BLE001 - reported, and retried at the first download
        click.echo(f"The blank annotated CRF could not be laid out now ({type(exc).__name__}: "
                   f"{exc}); its first download lays it out.", err=True)


DEMO_USERS = [
    ("crc", "Li Na", "crc", "TJ"),
    ("pi", "Dr. Wang Jian", "pi", "TJ"),
    ("cra", "Zhang Wei", "cra", "TJ"),
    ("dm", "Chen Jing", "dm", None),
    ("sponsor", "Sponsor Reviewer", "sponsor", None),
    ("admin", "System Administrator", "admin", None),
]


@click.command("demo")
@click.option("--password", prompt=True, hide_input=True,
              help="Password for every demo user (at least 12 characters).")
@click.option("--subjects", default=16, show_default=True, type=click.IntRange(0, 500),
              help="Number of synthetic subjects.")
@with_appcontext
def demo_command(password: str, subjects: int):
    """Load the demo study: site TJ, one user per role, synthetic subjects."""
    init_database()
    study = current_study()
    if study.is_demo:
        click.echo("The demo study is already loaded; nothing to do.")
        return
    held = [db.session.scalar(select(func.count()).select_from(m)) for m in (User, Site, Subject)]
    if any(held):
        raise click.ClickException(
            "This database holds study data that is not the demo's; `edc demo` refuses to "
            "write into it. Point EDC_DATABASE_URL at an empty database."
        )
    try:  # refuse before anything is written
        for username, *_ in DEMO_USERS:
            check_policy(User(username=username), password)
    except PasswordPolicyError as exc:
        raise click.ClickException(str(exc)) from None
    actor = cli_actor()
    mark_demo(study, actor)
    db.session.commit()
    site = admin.create_site(code="TJ", name="Institute of Hematology & Blood Diseases "
                             "Hospital, Tianjin", timezone="Asia/Shanghai", actor=actor)
    users = {}
    for username, full_name, role, site_code in DEMO_USERS:
        users[username], _ = admin.create_user(
            username=username, full_name=full_name, email=f"{username}@demo.invalid",
            role=Role(role), site_codes=[site_code] if site_code else [],
            password=password, actor=actor)
    twofactor.install(users["pi"], DEMO_PI_TOTP_SECRET, actor=actor)
    db.session.commit()

    stages = []
    try:
        for rank in range(subjects):
            with unit_of_work():  # one subject, one unit of work
                stages.append(fill_subject(site, rank, crc=users["crc"], pi=users["pi"],
                                           pi_password=password,
                                           today=local_today(site.timezone)))
    except Exception as exc:
        db.session.rollback()
        raise click.ClickException(
            f"the demo subjects could not be loaded ({exc}); the demo database is "
            "incomplete: delete it and run `edc demo` again") from exc
    _lay_out_documents()
    spread = ", ".join(dict.fromkeys(stages))
    click.echo(f"Demo study loaded: site TJ, users {', '.join(users)}, {subjects} subjects"
               + (f" ({spread})." if stages else "."))
    click.echo(f"The investigator `pi` signs with a second factor: add the key "
               f"{DEMO_PI_TOTP_SECRET} to an authenticator app (TOTP, 6 digits, 30 s). "
               "`admin` sets up its own at first sign-in.")


@click.group("user")
def user_group():
    """Manage user accounts."""


@user_group.command("create")
@click.option("--username", required=True)
@click.option("--role", "role_name", required=True,
              help="crc, pi, cra, dm, sponsor or admin (coordinator, investigator, monitor, "
                   "data_manager are accepted too).")
@click.option("--site", "sites", multiple=True,
              help="Site code; repeat for several. Ignored for dm, sponsor and admin.")
@click.option("--full-name", default=None, help="Full printed name (shown on signatures).")
@click.option("--email", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_create_command(username, role_name, sites, full_name, email, password_stdin):
    """Create a user; asks for the password."""
    try:
        role = Role.parse(role_name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from None
    if role.all_sites and sites:
        click.echo(f"Note: a {role.label} sees all sites; --site is ignored.", err=True)
        sites = ()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work():
            user, _ = admin.create_user(username=username, full_name=full_name or username,
                                        email=email, role=role, site_codes=sites,
                                        password=password, actor=cli_actor())
    except (admin.AdminError, PasswordPolicyError) as exc:
        raise click.ClickException(str(exc)) from None
    where = "all sites" if role.all_sites else ", ".join(s.code for s in user.sites)
    click.echo(f"Created user {user.username} (id {user.id}): {role.label}, {where}.")


@click.group("token")
def token_group():
    """API bearer tokens."""


@token_group.command("create")
@click.option("--username", required=True)
@click.option("--label", default="", help="What the token is for (shown in the audit trail).")
@click.option("--days", type=int, default=None,
              help="Days until it expires (default EDC_API_TOKEN_DAYS, 90).")
@with_appcontext
def token_create_command(username, label, days):
    """Print a new API token for USERNAME (shown once; audited; revocable)."""
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    try:
        with unit_of_work():
            row, token = issue(user, label=label, actor=cli_actor(), days=days)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(f"token {row.id} for {user.username}, expires {row.expires_at:%Y-%m-%d %H:%M} "
               "UTC; store it now, it is not shown again", err=True)


@token_group.command("list")
@click.option("--username", default=None)
@with_appcontext
def token_list_command(username):
    """The API tokens: user, label, created, expires, last used, revoked (UTC)."""
    def when(t):
        return t.strftime("%Y-%m-%d %H:%M") if t else "—"

    now = utcnow()
    for row in listing(username):
        state = ("revoked" if row.revoked_at else
                 "expired" if not row.expires_at or row.expires_at <= now else "valid")
        click.echo(f"{row.id}\t{row.user.username}\t{row.label or '—'}\tcreated "
                   f"{when(row.created_at)}\texpires {when(row.expires_at)}\tlast used "
                   f"{when(row.last_used_at)}\t{state}")


@token_group.command("revoke")
@click.option("--id", "token_id", required=True, type=int)
@click.option("--reason", required=True)
@with_appcontext
def token_revoke_command(token_id, reason):
    """Revoke an API token."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise click.ClickException(f"no token {token_id}")
    try:
        with unit_of_work():
            revoke(row, actor=cli_actor(), reason=reason)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {token_id} revoked")


@click.command("backup")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The backup file to write (a zip).")
@with_appcontext
def backup_command(output: str):
    """Back up the whole database, verified, with a checkpoint signed at its head."""
    actor = cli_actor()
    engine = db.engine
    db.session.remove()  # hold no transaction while the copy runs
    try:
        done = backup.backup(engine, anchor.current(), Path(output),
                             operator=actor.username or "cli")
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    with unit_of_work():
        audit.record(db.session, "system.backup", actor=actor, target_type="backup",
                     target_id=done.sha256[:16], new_value=done.path.name,
                     details={"chain_seq": done.seq, "chain_head": done.head,
                              "database_sha256": done.sha256, "bytes": done.bytes})
    click.echo(f"backup written to {done.path}: chain head seq {done.seq} {done.head}, "
               f"checkpoint signed at that head, database SHA-256 "
               f"{done.sha256}")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", default=None,
              help="The audit public key to verify against (as printed on the audit PDFs); "
                   "default: this installation's audit key.")
@with_appcontext
def restore_command(archive: str, public_key: str | None):
    """Restore a backup into the empty database of EDC_DATABASE_URL, verifying the chain
    and its signed checkpoints before reporting success."""
    trusted = anchor.current()
    try:
        if public_key:
            key = backup.public_key_from_text(public_key)

            def trust():
                return key
        elif trusted.key_command or trusted.key_file.exists():
            trust = trusted.public_key
        else:
            raise backup.BackupError(
                "no audit key to verify the backup with: give --public-key (printed on the "
                "audit PDFs and in the backup's origin) or install the audit key "
                "(EDC_AUDIT_KEY_FILE / EDC_AUDIT_KEY_COMMAND)")
        engine = db.engine
        db.session.remove()
        done = backup.restore(engine, Path(archive), public_key=trust)
    except backup.BackupError as exc:
        raise click.ClickException(f"restore refused: {exc}") from None
    db.engine.dispose()
    existing = trusted.checkpoints()
    beyond = [c.seq for c in existing if c.seq > done.seq]
    if beyond:
        click.echo(f"warning: the checkpoint log {trusted.log_file} covers entries up to seq "
                   f"{max(beyond)}, past the backup's {done.seq}: those entries are lost, and "
                   "`edc audit verify` will say so until the log is moved aside (keep it as "
                   "evidence)", err=True)
    known = {(c.seq, c.hash, c.signature) for c in existing}
    for cp in done.checkpoints:  # later verifications check against them too
        if (cp.seq, cp.hash, cp.signature) not in known:
            trusted.append(cp)
    init_database()  # the newest schema and the audit triggers, if the backup is older
    with unit_of_work():
        audit.record(db.session, "system.restore", actor=cli_actor(), target_type="backup",
                     new_value=Path(archive).name,
                     details={"chain_seq": done.seq, "chain_head": done.head,
                              "checkpoints_checked": len(done.checkpoints),
                              "schema_revision": done.revision})
    click.echo(f"restored and verified: {done.seq} audit entries, head {done.head}, "
               f"consistent with {len(done.checkpoints)} signed checkpoint(s)")


def register_commands(app) -> None:
    if OPERATOR not in app.cli.params:  # `flask --app wsgi --operator NAME …` too
        app.cli.params.append(OPERATOR)
    app.cli.add_command(token_group)

    app.cli.add_command(audit_group)
    from edc.exports.cli import export_command
    from edc.jobs.cli import worker_command
    from edc.review.cli import casebook_group

    app.cli.add_command(casebook_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(export_command)
    app.cli.add_command(init_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(user_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
