"""Queries, SDV, locks and sign-off as services (both databases): system queries from soft
checks, auto-unverify, signature invalidation, lock refusals, study-lock blockers, and the
replay of a trail that holds all of them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from audit import Actor
from audit.replay import differences, replay_from_database
from edc import signatures
from edc.clinical.store import snapshot
from edc.crf import services as crf
from edc.extensions import db
from edc.models import AuditEntry, Query, RoleGrant, SdvMark, Subject, User
from edc.queries import services as queries
from edc.review import locks, sdv, signoff
from edc.security import Role
from edc.uow import unit_of_work
from tests.conftest import PASSWORD, mark_enrolled, pi_code

TODAY = date(2026, 11, 24)
LB = {"LBDAT": "2026-11-20", "HGB": "100", "CREAT": "1.1", "CREATU": "mg/dL"}


@pytest.fixture
def subject(app, world):
    with app.app_context():
        mark_enrolled(world.subject_tj)
        yield db.session.get(Subject, world.subject_tj)


@pytest.fixture
def users(world):
    def get(role: str) -> tuple[User, Actor]:
        user = db.session.get(User, world.users[role])
        return user, Actor.for_user(user, source="web")

    return get


def save(subject, event, form, items, *, version, reason=None, actor=None, **kw):
    actor = actor or Actor.system("cli")
    with unit_of_work():
        return crf.save_form(subject, event, form, items, version=version, actor=actor,
                             reason=reason, today=TODAY, **kw)


def actions(name: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == name)
                                   .order_by(AuditEntry.seq)))


def system_queries(subject) -> list[Query]:
    return list(db.session.scalars(select(Query).where(Query.subject_id == subject.id,
                                                       Query.origin == "system")))


def test_a_soft_check_opens_one_system_query_per_item_and_closes_it_when_it_passes(subject):
    save(subject, "SCREEN", "LB", LB, version=0)
    [q] = system_queries(subject)
    assert (q.item_oid, q.state, q.origin) == ("HGB", "open", "system")
    assert "normal range" in q.messages[0].text
    # saved again with the value still outside: the same query, not a second one
    save(subject, "SCREEN", "LB", {**LB, "HGB": "101"}, version=1, reason="transcription")
    assert len(system_queries(subject)) == 1
    # another item saved alone: HGB's check did not run, its query stays open
    save(subject, "SCREEN", "LB", {"PLT": "200"}, version=2)
    assert system_queries(subject)[0].state == "open"
    save(subject, "SCREEN", "LB", {"HGB": "130"}, version=3, reason="transcription error")
    [q] = system_queries(subject)
    assert q.state == "closed" and q.messages[-1].author_name == "system"
    [closed] = actions("query.auto_close")
    assert closed.source == "system" and closed.target_id == str(q.id)


def test_a_monitor_closes_a_system_query_and_it_stays_closed_while_the_value_stays(
        subject, users):
    cra, cra_actor = users("cra")
    save(subject, "SCREEN", "LB", LB, version=0)
    [q] = system_queries(subject)
    with unit_of_work():
        queries.close(q, "confirmed as correct in the source", user=cra, actor=cra_actor)
    assert q.state == "closed" and q.closed_value == "100"
    save(subject, "SCREEN", "LB", {**LB, "PLT": "210"}, version=1)  # HGB re-sent unchanged
    assert system_queries(subject)[0].state == "closed"
    save(subject, "SCREEN", "LB", {"HGB": "90"}, version=2, reason="transcription error")
    q = system_queries(subject)[0]
    assert q.state == "open" and actions("query.auto_reopen")


def test_query_thread_open_answer_close_reopen_and_the_role_matrix(subject, users):
    crc, crc_actor = users("crc")
    cra, cra_actor = users("cra")
    dm, dm_actor = users("dm")
    pi, pi_actor = users("pi")
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0)
    place = queries.Place("SCREEN", "EC", "ECOG")
    for who, actor in ((crc, crc_actor), (pi, pi_actor)):
        with pytest.raises(queries.QueryNotAllowed):
            queries.open_query(subject, place, "please check", user=who, actor=actor)
    with unit_of_work():
        q = queries.open_query(subject, place, "ECOG 1 but source says 0?", user=cra,
                               actor=cra_actor)
    for who, actor in ((cra, cra_actor), (dm, dm_actor)):
        with pytest.raises(queries.QueryNotAllowed):
            queries.answer(q, "me", user=who, actor=actor)
    with unit_of_work():
        queries.answer(q, "Source says 1: the value is right.", user=crc, actor=crc_actor)
    assert (q.state, q.ball) == ("answered", "monitor")
    for who, actor in ((crc, crc_actor), (pi, pi_actor)):
        with pytest.raises(queries.QueryNotAllowed):
            queries.close(q, "done", user=who, actor=actor)
    with unit_of_work():
        queries.close(q, "Agreed.", user=dm, actor=dm_actor)
    with pytest.raises(queries.QueryConflict):
        queries.answer(q, "more", user=crc, actor=crc_actor)
    with unit_of_work():
        queries.reopen(q, "One more look, please.", user=cra, actor=cra_actor)
    assert [m.kind for m in q.messages] == ["open", "answer", "close", "reopen"]
    assert [e.new_value for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.target_type == "query")
        .order_by(AuditEntry.seq))] == ["open", "answered", "closed", "open"]
    for bad in ("", "x" * 2001, "bell\x07"):
        with pytest.raises(queries.QueryProblem):
            queries.answer(q, bad, user=crc, actor=crc_actor)
    with pytest.raises(queries.QueryProblem):
        queries.open_query(subject, queries.Place("SCREEN", "EC", "NOPE"), "x", user=cra,
                           actor=cra_actor)


def test_nobody_closes_a_query_they_answered(subject, users, world):
    """A coordinator who answered and later became a monitor still may not close it."""
    crc, crc_actor = users("crc")
    cra, cra_actor = users("cra")
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0)
    with unit_of_work():
        q = queries.open_query(subject, queries.Place("SCREEN", "EC"), "form query",
                               user=cra, actor=cra_actor)
        queries.answer(q, "answered", user=crc, actor=crc_actor)
    grant = db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == crc.id))
    grant.role = Role.CRA.value
    db.session.flush()
    db.session.expire_all()
    crc = db.session.get(User, world.users["crc"])
    q = db.session.get(Query, q.id)
    with pytest.raises(queries.QueryNotAllowed, match="answered"):
        queries.close(q, "self-approval", user=crc, actor=Actor.for_user(crc, source="web"))
    db.session.rollback()


def test_sdv_verify_and_automatic_unverify_on_change(subject, users):
    cra, cra_actor = users("cra")
    crc, _ = users("crc")
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0)
    with pytest.raises(sdv.SdvNotAllowed):
        sdv.verify(subject, "SCREEN", "EC", None, user=crc, actor=cra_actor)
    with unit_of_work():
        assert sdv.verify(subject, "SCREEN", "EC", ["ECOG"], user=cra, actor=cra_actor) == 1
    inst = sdv.for_instance(subject, "SCREEN", "EC")
    assert inst.required == "critical" and inst.verified == 1 and inst.pending == 1
    with unit_of_work():
        assert sdv.verify(subject, "SCREEN", "EC", None, user=cra, actor=cra_actor) == 1
    assert sdv.for_instance(subject, "SCREEN", "EC").state == "verified"
    save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, reason="transcription error")
    mark = db.session.scalar(select(SdvMark).where(SdvMark.item_oid == "ECOG"))
    assert (mark.state, mark.verified_value) == ("changed", "1")
    inst = sdv.for_instance(subject, "SCREEN", "EC")
    assert inst.state == "changed since verified"
    [entry] = actions("sdv.unverify")
    assert entry.item_oid == "ECOG" and entry.source == "system"
    # the date was not changed: it stays verified
    assert db.session.scalar(select(SdvMark).where(SdvMark.item_oid == "ECDAT")).state == \
        "verified"
    with pytest.raises(sdv.SdvProblem):
        sdv.verify(subject, "SCREEN", "EC", ["ECDAT", "NOPE"], user=cra, actor=cra_actor)


def test_the_sdv_plan_requires_critical_forms_early_subjects_and_a_stable_sample(app, world):
    from forms.sdv import PLAN

    assert PLAN.required(rank=9, screening_number="TJ-S009", event_oid="SCREEN",
                         event_repeat=1, form_oid="LB", form_repeat=1) == "critical"
    assert PLAN.required(rank=9, screening_number="TJ-S009", event_oid="LOG",
                         event_repeat=1, form_oid="AE", form_repeat=3) == "critical"
    assert PLAN.required(rank=2, screening_number="TJ-S002", event_oid="M3",
                         event_repeat=1, form_oid="PK", form_repeat=1) == "early subject"
    sampled = sum(bool(PLAN.required(rank=10, screening_number=f"TJ-S{n:03d}",
                                     event_oid="M3", event_repeat=1, form_oid="PK",
                                     form_repeat=1)) for n in range(400))
    assert 70 <= sampled <= 130  # about 25 % of 400


def test_locks_and_freezes_refuse_what_they_should(subject, users):
    dm, dm_actor = users("dm")
    cra, cra_actor = users("cra")
    crc, crc_actor = users("crc")
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0)
    with pytest.raises(locks.LockNotAllowed):
        locks.apply("subject", "lock", user=cra, actor=cra_actor, subject=subject)
    with unit_of_work():
        freeze = locks.apply("subject", "freeze", user=dm, actor=dm_actor, subject=subject,
                             reason="interim analysis")
    with pytest.raises(crf.Locked, match="frozen"):
        save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, reason="x")
    with unit_of_work():  # a freeze lets queries and SDV go on
        q = queries.open_query(subject, queries.Place("SCREEN", "EC", "ECOG"), "check",
                               user=cra, actor=cra_actor)
        sdv.verify(subject, "SCREEN", "EC", None, user=cra, actor=cra_actor)
    with pytest.raises(locks.LockProblem):
        locks.release(freeze, user=dm, actor=dm_actor, reason="")
    with unit_of_work():
        locks.release(freeze, user=dm, actor=dm_actor, reason="analysis done")
        lock = locks.apply("form", "lock", user=dm, actor=dm_actor, subject=subject,
                           event_oid="SCREEN", form_oid="EC")
    with pytest.raises(crf.Locked, match="locked this form"):
        save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, reason="x")
    with pytest.raises(crf.Locked):
        queries.answer(q, "answer", user=crc, actor=crc_actor)
    with pytest.raises(crf.Locked):
        sdv.verify(subject, "SCREEN", "EC", None, user=cra, actor=cra_actor)
    pi, pi_actor = users("pi")
    with pytest.raises(crf.Locked, match="nothing can be signed"):  # nor signed
        signatures.sign(subject, signoff.form_target("SCREEN", "EC"), user=pi, username="pi",
                        password=PASSWORD, code=pi_code(), actor=pi_actor)
    save(subject, "SCREEN", "DM", {"SEX": "F"}, version=0)  # another form is not locked
    with pytest.raises(locks.LockConflict):
        locks.apply("form", "lock", user=dm, actor=dm_actor, subject=subject,
                    event_oid="SCREEN", form_oid="EC")
    with unit_of_work():
        locks.release(lock, user=dm, actor=dm_actor, reason="correction needed")
    save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, reason="query response")
    assert [e.new_value for e in actions("lock.apply")] == ["freeze", "lock"]
    assert [e.reason for e in actions("lock.release")] == ["analysis done",
                                                           "correction needed"]


def test_the_study_lock_lists_what_blocks_it_then_locks_everything(subject, users, world):
    dm, dm_actor = users("dm")
    cra, cra_actor = users("cra")
    save(subject, "SCREEN", "LB", LB, version=0)  # opens a system query on HGB
    with pytest.raises(locks.LockConflict) as err:
        locks.apply("study", "lock", user=dm, actor=dm_actor)
    assert any("query" in b and "HGB" in b for b in err.value.blockers)
    assert any("not verified" in b for b in err.value.blockers)
    [q] = system_queries(subject)
    with unit_of_work():
        queries.close(q, "confirmed as correct", user=cra, actor=cra_actor)
        for fd in crf.casebook(subject).values():
            sdv.verify(subject, fd.event_oid, fd.form_oid, None, user=cra, actor=cra_actor,
                       event_repeat=fd.event_repeat, form_repeat=fd.form_repeat)
    assert locks.study_lock_blockers() == []
    with unit_of_work():
        locks.apply("study", "lock", user=dm, actor=dm_actor, reason="database lock")
    with pytest.raises(crf.Locked, match="whole study"):
        save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20"}, version=0)
    with pytest.raises(crf.Locked):
        queries.reopen(q, "again", user=cra, actor=cra_actor)
    from edc.subjects.services import create_subject

    with pytest.raises(crf.Locked, match="no subject can be registered"):
        create_subject(subject.site, actor=dm_actor, created_by_id=dm.id)


def test_form_visit_and_casebook_sign_off_blockers_and_invalidation(subject, users):
    pi, pi_actor = users("pi")
    cra, cra_actor = users("cra")
    save(subject, "LOG", "CM", {"CMTRT": "PREDNISONE"}, version=0)  # start date missing
    target = signoff.form_target("LOG", "CM")
    with pytest.raises(signatures.SignatureRefused) as err:
        signatures.sign(subject, target, user=pi, username="pi", password=PASSWORD, code=pi_code(),
                        actor=pi_actor)
    assert any("required items missing" in b for b in err.value.blockers)
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0)
    with unit_of_work():
        q = queries.open_query(subject, queries.Place("SCREEN", "EC", "ECOG"), "check",
                               user=cra, actor=cra_actor)
    ec = signoff.form_target("SCREEN", "EC")
    with pytest.raises(signatures.SignatureRefused) as err:
        signatures.sign(subject, ec, user=pi, username="pi", password=PASSWORD, code=pi_code(),
                        actor=pi_actor)
    assert err.value.blockers == [f"query #{q.id} is open: SCREEN/EC/ECOG"]
    with unit_of_work():
        queries.close(q, "withdrawn", user=cra, actor=cra_actor)
    save(subject, "INF", "VS", {"VSDAT": "2026-11-20", "TEMP": "36.8"}, version=0)
    with unit_of_work():
        signatures.sign(subject, ec, user=pi, username="pi", password=PASSWORD, code=pi_code(),
                        actor=pi_actor)
        signatures.sign(subject, signoff.visit_target("INF"), user=pi, username="pi",
                        password=PASSWORD, code=pi_code(), actor=pi_actor)
    assert signatures.valid_signature(subject, ec) is not None
    # a change of the infusion visit's vital signs invalidates the visit signature only
    save(subject, "INF", "VS", {"TEMP": "37.2"}, version=1, reason="transcription error")
    assert signatures.valid_signature(subject, signoff.visit_target("INF")) is None
    assert signatures.valid_signature(subject, ec) is not None
    [shown] = signatures.shown(subject, signoff.visit_target("INF"))
    assert shown.status == "invalidated by change"
    assert actions("signature.invalidate")


def test_replay_equals_the_data_with_queries_sdv_and_locks_in_the_trail(subject, users):
    dm, dm_actor = users("dm")
    cra, cra_actor = users("cra")
    crc, crc_actor = users("crc")
    save(subject, "SCREEN", "LB", LB, version=0)
    with unit_of_work():
        q = queries.open_query(subject, queries.Place("SCREEN", "LB", "CREAT"), "unit?",
                               user=cra, actor=cra_actor)
        queries.answer(q, "mg/dL is right", user=crc, actor=crc_actor)
        sdv.verify(subject, "SCREEN", "LB", None, user=cra, actor=cra_actor)
        lock = locks.apply("subject", "freeze", user=dm, actor=dm_actor, subject=subject)
        locks.release(lock, user=dm, actor=dm_actor, reason="done")
    save(subject, "SCREEN", "LB", {"HGB": "125"}, version=1, reason="query response")
    replayed, current = replay_from_database(db.session), snapshot(db.session)
    assert differences(replayed, current) == []
    assert current["queries"] and current["sdv"] and current["locks"]
