"""Saving eCRF forms: versions, reasons, edit checks, derivations — on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

import audit
from audit import Actor
from audit.replay import differences, replay_from_database
from edc.clinical.store import snapshot
from edc.crf import services as crf
from edc.extensions import db
from edc.models import AuditEntry, FormData, Subject
from edc.uow import unit_of_work
from tests.conftest import mark_enrolled

TODAY = date(2026, 11, 24)


@pytest.fixture
def subject(app, world):
    """An enrolled subject: these tests save treatment and follow-up forms too."""
    with app.app_context():
        mark_enrolled(world.subject_tj)
        yield db.session.get(Subject, world.subject_tj)


@pytest.fixture
def crc(world):
    return audit.Actor(world.users["crc"], "crc", "crc", "web")


def save(subject, event, form, items, *, version, actor, reason=None, **kw):
    with unit_of_work():  # the test is the boundary
        return crf.save_form(subject, event, form, items, version=version, actor=actor,
                             reason=reason, today=TODAY, **kw)


def actions(**where):
    stmt = select(AuditEntry).order_by(AuditEntry.seq)
    for k, v in where.items():
        stmt = stmt.where(getattr(AuditEntry, k) == v)
    return db.session.scalars(stmt).all()


def test_first_save_then_change_needs_a_reason(subject, crc):
    state = save(subject, "SCREEN", "IC", {"RFICDAT": "2026-11-02", "ICFVER": "v2.1",
                                           "COMPLY": "Y", "CONTRAC": "Y"}, version=0, actor=crc)
    assert (state.version, state.status) == (1, "complete")
    with pytest.raises(crf.Invalid) as err:
        save(subject, "SCREEN", "IC", {"ICFVER": "v2.2"}, version=1, actor=crc)
    assert "reason for change" in err.value.errors["reason"]
    state = save(subject, "SCREEN", "IC", {"ICFVER": "v2.2"}, version=1, actor=crc,
                 reason="transcription error")
    assert state.version == 2 and state.items["ICFVER"] == "v2.2"
    change = actions(action="data.update", item_oid="ICFVER")[0]
    assert (change.old_value, change.new_value, change.reason) == (
        "v2.1", "v2.2", "transcription error")
    # saving the same values again changes nothing and needs no reason
    assert save(subject, "SCREEN", "IC", {"ICFVER": "v2.2"}, version=2, actor=crc).version == 3


def test_stale_version_is_refused_and_shows_the_current_values(subject, crc):
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0, actor=crc)
    with pytest.raises(crf.StaleVersion) as err:  # a second user still on version 0
        save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "0"}, version=0,
             actor=crc)
    assert err.value.status == 409
    assert err.value.current.items["ECOG"] == "1" and err.value.current.version == 1
    assert crf.read_form(subject, "SCREEN", "EC").items["ECOG"] == "1"


def test_hard_check_refuses_everything_and_is_audited(subject, crc):
    with pytest.raises(crf.Invalid) as err:
        save(subject, "SCREEN", "LB", {"LBDAT": "2026-11-20", "HGB": "300", "ANC": "1.2"},
             version=0, actor=crc)
    assert "plausible range 30–250 g/L" in err.value.errors["HGB"]
    assert crf.read_form(subject, "SCREEN", "LB").items == {}
    assert db.session.scalar(select(FormData)) is None
    fired = actions(action="check.hard")
    assert [(e.item_oid, e.new_value) for e in fired] == [("HGB", '"300"')]


def test_soft_check_saves_flags_and_is_audited(subject, crc):
    state = save(subject, "SCREEN", "LB", {"LBDAT": "2026-11-20", "HGB": "100",
                                           "CREAT": "1.1", "CREATU": "mg/dL"},
                 version=0, actor=crc)
    assert state.items["HGB"] == "100" and "normal range" in state.warnings["HGB"]
    fired = actions(action="check.soft")
    assert [e.item_oid for e in fired] == ["HGB"]


def test_procedure_before_consent_is_refused(subject, crc):
    save(subject, "SCREEN", "IC", {"RFICDAT": "2026-11-10", "ICFVER": "v2", "COMPLY": "Y",
                                   "CONTRAC": "Y"}, version=0, actor=crc)
    with pytest.raises(crf.Invalid) as err:
        save(subject, "SCREEN", "LB", {"LBDAT": "2026-11-09"}, version=0, actor=crc)
    assert "before informed consent (2026-11-10)" in err.value.errors["LBDAT"]


def test_crs_grade_is_derived_and_rederived_as_a_system_change(subject, crc):
    state = save(subject, "D1", "CRS", {"CRSDAT": "2026-11-20", "FEVER": "Y",
                                        "HYPOTEN": "one_vasopressor", "HYPOXIA": "low_flow"},
                 version=0, actor=crc)
    assert state.derived == {"CRSGR": "3"}
    assert state.rules == {"CRSGR": "crs astct-2019/1"}
    state = save(subject, "D1", "CRS", {"HYPOTEN": "multiple_vasopressors"}, version=1,
                 actor=crc, reason="updated source document")
    assert state.derived == {"CRSGR": "4"}
    rederived = actions(action="data.update", item_oid="CRSGR")[0]
    assert rederived.username == "system" and rederived.source == "system"
    assert (rederived.old_value, rederived.new_value) == ("3", "4")
    assert "crs astct-2019/1" in rederived.reason
    with pytest.raises(crf.Invalid) as err:
        save(subject, "D1", "CRS", {"CRSGR": "1"}, version=2, actor=crc, reason="x")
    assert "computed by the system" in err.value.errors["CRSGR"]


def test_lymphodepletion_bsa_and_crcl_from_screening_forms(subject, crc):
    save(subject, "SCREEN", "IC", {"RFICDAT": "2026-11-02", "ICFVER": "v2", "COMPLY": "Y",
                                   "CONTRAC": "Y"}, version=0, actor=crc)
    save(subject, "SCREEN", "DM", {"BRTHDAT": "1966-11-01", "SEX": "M", "HEIGHT": "175",
                                   "WEIGHT": "70"}, version=0, actor=crc)
    save(subject, "SCREEN", "LB", {"LBDAT": "2026-11-03", "CREAT": "1.0", "CREATU": "mg/dL"},
         version=0, actor=crc)
    state = save(subject, "LD", "LD", {"HEIGHT": "175", "WEIGHT": "70",
                                       "LDSTDAT": "2026-11-20"}, version=0, actor=crc)
    assert state.derived == {"BSA": "1.845", "CRCL": "77.8"}  # 60 y, 70 kg, 1.0 mg/dL


def test_locked_form_refuses_changes(subject, crc, world):
    from edc.models import User
    from edc.review import locks

    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0, actor=crc)
    dm = db.session.get(User, world.users["dm"])
    with unit_of_work():
        locks.apply("form", "lock", user=dm, actor=Actor.for_user(dm, source="web"),
                    subject=subject, event_oid="SCREEN", form_oid="EC")
    with pytest.raises(crf.Locked) as err:
        save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, actor=crc, reason="x")
    assert err.value.status == 409 and "locked" in str(err.value)
    assert crf.read_form(subject, "SCREEN", "EC").locked


def test_unknown_event_or_form(subject, crc):
    for event, form in (("SCREEN", "CRS"), ("NOPE", "LB"), ("SCREEN", "NOPE")):
        with pytest.raises(crf.UnknownForm):
            save(subject, event, form, {}, version=0, actor=crc)


def test_log_rows_and_replay_after_saves(subject, crc):
    for n in (1, 2):
        save(subject, "LOG", "AE", {"AETERM": f"Event {n}", "AESTDAT": "2026-11-20",
                                    "AETOXGR": "2", "AESER": "N", "AERELCT": "POSSIBLE"},
             version=0, actor=crc, form_repeat=crf.next_log_row(subject, "AE"))
    assert crf.next_log_row(subject, "AE") == 3
    assert crf.read_form(subject, "LOG", "AE", form_repeat=2).items["AETERM"] == "Event 2"
    assert differences(replay_from_database(db.session), snapshot(db.session)) == []


def test_inputs_outside_a_rules_domain_give_no_derived_value(subject, crc):
    save(subject, "SCREEN", "DM", {"BRTHDAT": "2026-11-20", "SEX": "M", "HEIGHT": "175",
                                   "WEIGHT": "70"}, version=0, actor=crc)
    save(subject, "SCREEN", "IC", {"RFICDAT": "2026-11-02", "ICFVER": "v2", "COMPLY": "Y",
                                   "CONTRAC": "Y"}, version=0, actor=crc)  # now born after it
    save(subject, "SCREEN", "LB", {"LBDAT": "2026-11-03", "CREAT": "1.0", "CREATU": "mg/dL"},
         version=0, actor=crc)
    state = save(subject, "LD", "LD", {"HEIGHT": "175", "WEIGHT": "70",
                                       "LDSTDAT": "2026-11-20"}, version=0, actor=crc)
    assert state.derived == {"BSA": "1.845", "CRCL": None}


def test_birth_date_must_precede_consent(subject, crc):
    save(subject, "SCREEN", "IC", {"RFICDAT": "2026-11-02", "ICFVER": "v2", "COMPLY": "Y",
                                   "CONTRAC": "Y"}, version=0, actor=crc)
    with pytest.raises(crf.Invalid) as err:
        save(subject, "SCREEN", "DM", {"BRTHDAT": "2026-11-02"}, version=0, actor=crc)
    assert err.value.errors == {"BRTHDAT": "is not before informed consent (2026-11-02)"}


def test_save_statement_count_does_not_grow_with_the_casebook(app, subject, crc):
    from sqlalchemy import event as sa_event

    def statements_for_one_save(day: int) -> int:
        count = 0

        def bump(*_a, **_k):
            nonlocal count
            count += 1

        db.session.commit()  # each save starts as a request's does: nothing loaded yet
        sa_event.listen(db.engine, "before_cursor_execute", bump)
        try:
            save(subject, f"D{day}", "ICANS", {"ICDAT": "2026-11-20", "ICEORI": "4",
                                               "ICENAME": "3", "ICECMD": "1", "ICEWRITE": "1",
                                               "ICECOUNT": "1"}, version=0, actor=crc)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", bump)
        return count

    first = statements_for_one_save(1)
    for d in range(2, 14):
        for form, items in (("VS", {"VSDAT": "2026-11-20", "TEMP": "37"}),
                            ("LB", {"LBDAT": "2026-11-20", "HGB": "120", "ANC": "2.0"}),
                            ("CRS", {"CRSDAT": "2026-11-20", "FEVER": "N",
                                     "HYPOTEN": "none", "HYPOXIA": "none"})):
            save(subject, f"D{d}", form, items, version=0, actor=crc)
    assert statements_for_one_save(14) == first


def test_a_save_reads_neither_the_threads_of_its_queries_nor_its_values_twice(subject, crc):
    """A value that keeps firing a soft check re-opens its system query on every save, and
    each re-opening adds to the thread: the save loads none of the thread's messages, and a
    correction reads the form's values with one statement."""
    from sqlalchemy import event as sa_event

    from edc.models import Query, QueryMessage

    version = 0

    def put(hgb: str):
        nonlocal version
        version = save(subject, "SCREEN", "LB", {"LBDAT": "2026-11-20", "HGB": hgb},
                       version=version, actor=crc,
                       reason="transcription error" if version else None).version

    put("100")  # below the normal range: a system query opens
    for n in range(5):
        put("120")  # closes itself
        put(str(101 + n))  # opens again
    loaded, reads = [], []

    def on_load(target, _context):
        loaded.append(target)

    def on_execute(_conn, _cursor, statement, params, _context, _many):
        values = params.values() if isinstance(params, dict) else params
        if "FROM item_data" in statement and "LB" in list(values or ()):
            reads.append(statement)

    db.session.commit()  # as a request starts: nothing loaded yet
    sa_event.listen(QueryMessage, "load", on_load)
    sa_event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        put("120")
        put("99")
    finally:
        sa_event.remove(QueryMessage, "load", on_load)
        sa_event.remove(db.engine, "before_cursor_execute", on_execute)
    assert loaded == []
    assert len(reads) == 2  # one a save
    query = db.session.scalars(select(Query).where(Query.subject_id == subject.id)).one()
    assert query.state == "open" and len(query.messages) == 13


def test_classification_score_is_stored_with_the_cohorts_rule(subject, crc):
    state = save(subject, "SCREEN", "DX", {"COHORT": "SSC", "DXDAT": "2025-01-01",
                                           "SSC01": "Y"}, version=0, actor=crc)
    assert state.derived == {"CLSCORE": "9", "CLRESULT": "classified"}
    assert state.rules == {"CLSCORE": "ssc2013 acr-eular-2013/1",
                           "CLRESULT": "ssc2013 acr-eular-2013/1"}


def test_side_effects_of_a_save_are_subscribers_of_form_saved(app, world):
    """The save imports no area that acts on it: eligibility, deviations and the subject's
    status subscribe to ``form_saved``, which carries what changed."""
    import inspect

    from edc.crf import services as crf_services
    from edc.crf.signals import form_saved

    source = inspect.getsource(crf_services)
    for area in ("edc.eligibility", "edc.deviations", "edc.subjects", "edc import deviations"):
        assert area not in source
    modules = {r.__module__ for r in form_saved.receivers_for(object())}
    assert {"edc.deviations", "edc.eligibility.services", "edc.subjects.services"} <= modules

    seen = []

    def listener(subject, *, saved):
        seen.append((subject.id, saved.event_oid, saved.form_oid, saved.version,
                     [(c.item_oid, c.action, c.new) for c in saved.changes]))

    form_saved.connect(listener)
    try:
        with app.app_context():
            subject = db.session.get(Subject, world.subject_tj,
                                     execution_options={"all_sites": True})
            crf.save_form(subject, "SCREEN", "EC", {"ECDAT": "2026-11-01", "ECOG": "1"},
                          version=0, actor=Actor.cli(), today=date(2026, 11, 20))
            db.session.commit()
    finally:
        form_saved.disconnect(listener)
    assert seen == [(world.subject_tj, "SCREEN", "EC", 1,
                     [("ECDAT", "data.create", "2026-11-01"), ("ECOG", "data.create", "1")])]


def test_a_reason_is_bounded_and_plain_text(subject, crc):
    save(subject, "SCREEN", "EC", {"ECDAT": "2026-11-01", "ECOG": "1"}, version=0, actor=crc)
    for reason, message in (("x" * 2001, "at most 2000 characters"),
                            ("transcription\x00error", "control or invalid characters")):
        with pytest.raises(crf.Invalid) as err:
            save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, actor=crc, reason=reason)
        assert message in err.value.errors["reason"]
    assert crf.read_form(subject, "SCREEN", "EC").items["ECOG"] == "1"
