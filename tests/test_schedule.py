"""Visit schedule from the infusion date, window edges, and the cross-form checks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import audit
from edc.crf import services as crf
from edc.extensions import db
from edc.models import AuditEntry, Deviation, Subject
from edc.uow import unit_of_work
from forms.schedule import schedule
from forms.study_build import BUILD
from tests.conftest import mark_enrolled

INF = date(2026, 6, 1)


def status(event: str, *, today: date, actual: dict | None = None, infusion=INF) -> str:
    visits = {v.event: v for v in schedule(BUILD.events, infusion, actual or {}, today)}
    return visits[event].status


def test_targets_and_windows_from_the_infusion_date():
    visits = {v.event: v for v in schedule(BUILD.events, INF, {}, INF)}
    assert (visits["D7"].target, visits["D7"].earliest, visits["D7"].latest) == (
        date(2026, 6, 8), date(2026, 6, 8), date(2026, 6, 8))
    assert (visits["D28"].earliest, visits["D28"].latest) == (date(2026, 6, 26),
                                                              date(2026, 7, 2))
    assert visits["M12"].target == INF + timedelta(days=365)
    assert visits["Y15"].target == INF + timedelta(days=365 * 15)
    assert visits["LD"].target == INF - timedelta(days=5)
    assert visits["SCREEN"].target is None


@pytest.mark.parametrize("today, expected", [
    (date(2026, 6, 25), "planned"),   # D28 window opens on 26 June
    (date(2026, 6, 26), "due"),
    (date(2026, 7, 2), "due"),        # last day of the window
    (date(2026, 7, 3), "overdue"),    # closed, M2 window (24 July) not open
    (date(2026, 7, 24), "missed"),    # M2 window open
])
def test_status_at_the_window_edges(today, expected):
    assert status("D28", today=today) == expected


@pytest.mark.parametrize("visit, expected", [
    (date(2026, 6, 26), "done"), (date(2026, 7, 2), "done"),
    (date(2026, 6, 25), "done out of window"), (date(2026, 7, 3), "done out of window"),
])
def test_done_inside_and_outside_the_window(visit, expected):
    assert status("D28", today=date(2026, 8, 1), actual={"D28": visit}) == expected


def test_without_an_infusion_date_everything_is_planned():
    assert status("D28", today=date(2030, 1, 1), infusion=None) == "planned"
    assert status("SCREEN", today=date(2030, 1, 1), infusion=None) == "not started"


@pytest.fixture
def subject(app, world):
    with app.app_context():
        mark_enrolled(world.subject_tj)
        yield db.session.get(Subject, world.subject_tj)


def save(subject, event, form, items, version=0, **kw):
    with unit_of_work():  # the test is the boundary
        return crf.save_form(subject, event, form, items, version=version,
                             actor=audit.Actor.system(), today=date(2026, 11, 24), **kw)


def test_infusion_lot_must_match_the_apheresis_lot(subject):
    save(subject, "APHER", "AP", {"APDAT": "2026-05-01", "LOTNO": "L-7781"})
    with pytest.raises(crf.Invalid) as err:
        save(subject, "INF", "IF", {"IFDAT": "2026-06-01", "IFTIM": "10:30", "LOTNO": "L-7782"})
    assert err.value.errors == {"LOTNO": "does not match the apheresis product lot (L-7781)"}


def test_infusion_date_against_the_lymphodepletion_plan(subject):
    save(subject, "LD", "LD", {"HEIGHT": "170", "WEIGHT": "60", "LDSTDAT": "2026-05-27"})
    with pytest.raises(crf.Invalid) as err:
        save(subject, "INF", "IF", {"IFDAT": "2026-05-29", "IFTIM": "10:30", "LOTNO": "L"})
    assert "before lymphodepletion ended" in err.value.errors["IFDAT"]
    state = save(subject, "INF", "IF", {"IFDAT": "2026-06-03", "IFTIM": "10:30", "LOTNO": "L"})
    assert "the plan is 5 ± 1" in state.warnings["IFDAT"]


def test_visit_outside_its_window_is_flagged_and_shown(app, world, subject):
    save(subject, "INF", "IF", {"IFDAT": "2026-06-01", "IFTIM": "10:30", "LOTNO": "L"})
    assert subject.status == "treated"  # the infusion moves an enrolled subject on
    state = save(subject, "D7", "VS", {"VSDAT": "2026-06-09", "TEMP": "37"})
    assert "protocol deviation" in state.warnings["VSDAT"]
    fired = db.session.scalar(db.select(AuditEntry).where(
        AuditEntry.action == "check.soft", AuditEntry.item_oid == "VSDAT"))
    assert fired.event_oid == "D7"
    deviation = db.session.scalar(db.select(Deviation))  # recorded for the data manager
    assert (deviation.kind, deviation.event_oid, deviation.form_oid) == ("visit_window", "D7",
                                                                         "VS")
    assert "Day 7" in deviation.description
    save(subject, "D7", "VS", {"TEMP": "37.5"}, version=1, reason="transcription error")
    save(subject, "D7", "CRS", {"CRSDAT": "2026-06-09", "FEVER": "N", "HYPOTEN": "none",
                                "HYPOXIA": "none"})
    assert len(db.session.scalars(db.select(Deviation)).all()) == 1  # one per visit
    save(subject, "D6", "VS", {"VSDAT": "2026-06-07", "TEMP": "37"})
    visits = {v.event: v for v in crf.visit_schedule(subject, today=date(2026, 6, 10))}
    assert visits["D7"].status == "done out of window" and visits["D7"].deviation
    assert visits["D6"].status == "done" and visits["D8"].status == "missed"
    assert visits["D28"].status == "planned" and visits["INF"].status == "done"
