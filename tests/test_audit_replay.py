"""Replaying the audit trail from empty reproduces the current clinical data exactly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.replay import differences, replay_from_database
from edc.cli import cli_actor
from edc.clinical.store import InvalidValue, ReasonRequired, read_items, snapshot, write_items
from edc.extensions import db
from edc.models import Site, Subject
from edc.subjects.services import create_subject

ITEMS = ["HGB", "ANC", "ALT", "LBDAT"]
FORMS = [("SCREEN", "LB"), ("D1", "LB"), ("SCREEN", "DM")]

operation = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(["TJ", "BJ"])),
    st.tuples(st.just("write"), st.integers(0, 9), st.sampled_from(FORMS),
              st.dictionaries(st.sampled_from(ITEMS),
                              st.one_of(st.none(), st.text(
                                  st.characters(blacklist_categories=("Cc", "Cs")),
                                  min_size=1, max_size=12)),
                              min_size=1, max_size=4)),
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_replay_equals_state_after_random_changes(app, world, ops):
    actor = cli_actor()
    with app.app_context():
        sites = {s.code: s for s in db.session.scalars(db.select(Site))}
        for op in ops:
            subjects = db.session.scalars(db.select(Subject).order_by(Subject.id)).all()
            if op[0] == "create":
                create_subject(sites[op[1]], actor=actor, created_by_id=world.users["crc"])
                continue
            _, index, (event, form), values = op
            subject = subjects[index % len(subjects)]
            write_items(subject, event, form, values, actor=actor, reason="data correction")
            db.session.commit()
        replayed = replay_from_database(db.session)
        current = snapshot(db.session)
        assert differences(replayed, current) == []
        assert replayed == current
        db.session.remove()


def test_replay_command_reports_equality_and_differences(app, world):
    runner = app.test_cli_runner()
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        write_items(subject, "SCREEN", "LB", {"HGB": "112"}, actor=cli_actor())
        db.session.commit()
    ok = runner.invoke(args=["audit", "replay"])
    assert ok.exit_code == 0 and "replay equals" in ok.output
    with app.app_context(), db.engine.begin() as conn:  # a change behind the app's back
        conn.execute(db.text("UPDATE item_data SET value = '99' WHERE item_oid = 'HGB'"))
    bad = runner.invoke(args=["audit", "replay"])
    assert bad.exit_code == 1
    assert "trail says '112', tables say '99'" in bad.output


def test_changing_or_removing_a_saved_value_needs_a_reason(app, world):
    actor = cli_actor()
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        write_items(subject, "SCREEN", "LB", {"HGB": "112", "ANC": "1.5"}, actor=actor)
        db.session.commit()
        with pytest.raises(ReasonRequired) as err:
            write_items(subject, "SCREEN", "LB", {"HGB": "113", "ANC": None, "ALT": "30"},
                        actor=actor)
        assert err.value.items == ["HGB", "ANC"]
        db.session.rollback()
        assert read_items(subject, "SCREEN", "LB") == {"HGB": "112", "ANC": "1.5"}
        changes = write_items(subject, "SCREEN", "LB", {"HGB": "113", "ANC": None},
                              actor=actor, reason="transcription error")
        db.session.commit()
        assert [(c.action, c.old, c.new) for c in changes] == [
            ("data.update", "112", "113"), ("data.remove", "1.5", None)]
        assert read_items(subject, "SCREEN", "LB") == {"HGB": "113"}
        # the removed value stays in the trail
        trail = db.session.scalars(db.select(db.text("old_value")).select_from(
            db.text("audit_entry")).where(db.text("action = 'data.remove'"))).all()
        assert trail == ["1.5"]


def test_values_that_cannot_be_stored_are_refused_by_name(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        with pytest.raises(InvalidValue) as err:
            write_items(subject, "SCREEN", "LB", {"HGB": "1\x002", "ANC": "1.2",
                                                  "ALT": "x" * 4001}, actor=cli_actor())
        assert set(err.value.errors) == {"HGB", "ALT"}
        db.session.rollback()
        assert read_items(subject, "SCREEN", "LB") == {}
        write_items(subject, "SCREEN", "LB", {"ALT": "line one\nline two\tok"},
                    actor=cli_actor())
        db.session.commit()
