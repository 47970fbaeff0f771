"""`edc casebook pdf`: one subject's casebook from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import or_, select

from audit import Actor
from edc.extensions import db
from edc.models import Subject
from edc.review import casebook
from edc.uow import unit_of_work


@click.group("casebook")
def casebook_group():
    """Subject casebooks (PDF/A)."""


def find_subject(number: str) -> Subject:
    number = number.strip().upper()
    subject = db.session.scalar(select(Subject).where(or_(
        Subject.subject_number == number, Subject.screening_number == number)))
    if subject is None:
        raise click.UsageError(f"no subject {number}")
    return subject


@casebook_group.command("pdf")
@click.option("--subject", "number", required=True, help="Screening or subject number.")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--include-identifying", is_flag=True,
              help="Show identifying values (initials, birth date); withheld by default.")
@with_appcontext
def pdf_command(number, output, include_identifying):
    """Write the subject's casebook PDF: every form, query, SDV mark, signature and the
    subject's audit trail."""
    subject = find_subject(number)
    actor = Actor.cli()
    with unit_of_work():
        casebook.record(subject, actor=actor, purpose="command line")
    made = casebook.render(subject, output, show_pii=include_identifying,
                           generated_by=actor.username)
    click.echo(f"wrote {output}: {made.pages} pages, {made.entries} audit entries, chain head "
               f"{made.head_hash} (seq {made.head_seq})")
