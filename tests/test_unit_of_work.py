"""Services change state and never commit; the boundary's unit of work commits or rolls back,
and records refusals after its rollback."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from audit import Actor
from edc.crf.services import Invalid, save_form
from edc.extensions import db
from edc.models import AuditEntry, ItemData, Subject, User
from edc.uow import unit_of_work
from tests.conftest import enter_eligible

TODAY = date(2026, 11, 24)


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_service_does_not_commit(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        before = _count(AuditEntry)
        save_form(subject, "SCREEN", "EC", {"ECDAT": "2026-11-01", "ECOG": "1"}, version=0,
                  actor=Actor.cli(), today=TODAY)
        db.session.rollback()  # the boundary decided otherwise: nothing stays
        assert _count(ItemData) == 0 and _count(AuditEntry) == before


def test_a_refused_save_keeps_only_the_record_of_its_refusal(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        before = _count(AuditEntry)
        with pytest.raises(Invalid), unit_of_work():
            save_form(subject, "SCREEN", "LB", {"LBDAT": "2026-11-01", "HGB": "999",
                                                "ANC": "2.0"}, version=0, actor=Actor.cli(),
                      today=TODAY)
        assert _count(ItemData) == 0
        added = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.seq > before)).all()
        assert added == ["check.hard"]


def test_an_exception_in_the_block_rolls_back_the_whole_unit(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        before = _count(AuditEntry)
        with pytest.raises(RuntimeError), unit_of_work():
            save_form(subject, "SCREEN", "EC", {"ECDAT": "2026-11-01", "ECOG": "1"},
                      version=0, actor=Actor.cli(), today=TODAY)
            raise RuntimeError("the boundary failed after the save")
        assert _count(ItemData) == 0 and _count(AuditEntry) == before


def test_a_wrong_signature_password_is_counted_after_the_rollback(app, world):
    from edc.eligibility.services import TARGET
    from edc.signatures import WrongCredentials, sign

    with app.app_context():
        enter_eligible(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        pi = db.session.get(User, world.users["pi"])
        with pytest.raises(WrongCredentials), unit_of_work():
            sign(subject, TARGET, user=pi, username="pi", password="not-the-password",
                 actor=Actor.for_user(pi, source="web"))
        db.session.expire_all()
        assert db.session.get(User, world.users["pi"]).failed_login_count == 1
        last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
        assert last.action == "signature.failed"
