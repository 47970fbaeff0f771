"""The audit trail cannot be changed, and what cannot be prevented is detected."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from audit import ddl
from audit.guard import UnauditedChange
from audit.verify import verify_chain
from edc.extensions import db
from edc.models import AuditEntry, Site, Subject


def test_triggers_exist_after_upgrade_head(app):
    with app.app_context(), db.engine.connect() as conn:
        assert ddl.installed(conn) >= ddl.expected_triggers(conn.dialect.name)


@pytest.mark.parametrize("sql", [
    "UPDATE audit_entry SET reason = 'edited' WHERE seq = 2",
    "UPDATE audit_entry SET hash = prev_hash",
    "DELETE FROM audit_entry WHERE seq = 3",
    "DELETE FROM audit_entry",
])
def test_raw_sql_changes_are_refused(app, world, sql):
    with app.app_context():
        before = db.session.execute(select(AuditEntry.seq, AuditEntry.hash)
                                    .order_by(AuditEntry.seq)).all()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(sql))
        db.session.rollback()
        after = db.session.execute(select(AuditEntry.seq, AuditEntry.hash)
                                   .order_by(AuditEntry.seq)).all()
        assert after == before


def test_truncate_is_refused_on_postgresql(app, world):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no TRUNCATE (DELETE FROM is refused above)")
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("TRUNCATE audit_entry"))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) > 0


def test_orm_change_of_an_entry_is_refused(app, world):
    with app.app_context():
        entry = db.session.get(AuditEntry, 2)
        entry.reason = "rewritten"
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(UnauditedChange, match="bulk UPDATE"):
            db.session.execute(db.update(AuditEntry).values(reason="x"))


def _tamper(app, sql: str) -> None:
    with app.app_context(), db.engine.begin() as conn:
        ddl.drop(conn)
        conn.execute(text(sql))


def test_verify_names_the_tampered_entry(app, world):
    with app.app_context():
        assert verify_chain(db.session).ok
        total = db.session.scalar(select(func.count()).select_from(AuditEntry))
    _tamper(app, "UPDATE audit_entry SET new_value = 'TJ-S999' WHERE seq = 7")
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "first bad sequence number: 7" in result.output
    with app.app_context():
        check = verify_chain(db.session)
    assert (check.ok, check.bad_seq, check.count) == (False, 7, 6)
    assert total > 7


def test_verify_detects_a_removed_entry_and_a_rehashed_one(app, world):
    _tamper(app, "DELETE FROM audit_entry WHERE seq = 5")
    with app.app_context():
        check = verify_chain(db.session)
    assert (check.ok, check.bad_seq) == (False, 5)
    assert "missing" in check.problem


def test_verify_detects_a_consistently_rewritten_entry(app, world):
    """Rewriting a value *and* its hash breaks the link of the next entry."""
    from audit.chain import entry_hash

    with app.app_context():
        row = db.session.get(AuditEntry, 4)
        fields = {name: getattr(row, name) for name in AuditEntry.CHAINED}
        fields["new_value"] = "forged"
        forged = entry_hash(row.prev_hash, fields)
    _tamper(app, f"UPDATE audit_entry SET new_value = 'forged', hash = '{forged}' WHERE seq = 4")
    with app.app_context():
        check = verify_chain(db.session)
    assert (check.ok, check.bad_seq) == (False, 5)


def test_verify_command_on_an_intact_trail(app, world):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(AuditEntry))
        head = db.session.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()))
    assert f"count {count}" in result.output and f"head {head}" in result.output


def test_a_change_without_its_audit_entry_cannot_be_committed(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        subject.status = "enrolled"
        with pytest.raises(UnauditedChange, match=f"subject {world.subject_tj}"):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(Subject, world.subject_tj).status == "screening"
        site = db.session.get(Site, world.tj)
        db.session.add(Subject(study_id=site.study_id, site_id=site.id,
                               screening_number="TJ-S777", created_by_id=1))
        with pytest.raises(UnauditedChange):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(UnauditedChange, match="bulk UPDATE"):
            db.session.execute(db.update(Subject).values(status="withdrawn"))


def test_postgresql_app_role_may_only_read_and_append(app, world):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("database privileges are a PostgreSQL feature")
        role = f"edc_app_{world.tj}_{threading.get_ident() % 100000}"
        db.session.execute(text(f"DROP ROLE IF EXISTS {role}"))
        db.session.execute(text(f"CREATE ROLE {role}"))
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["audit", "grant-app-role", role])
        assert result.exit_code == 0, result.output
        url = db.engine.url
        try:
            with db.engine.begin() as conn:  # with the triggers gone, privileges still hold
                ddl.drop(conn)
            engine = create_engine(url)
            with engine.connect() as conn:
                conn.execute(text(f"SET ROLE {role}"))
                assert conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() > 0
                conn.execute(text("SELECT count(*) FROM subject"))
                for sql in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry",
                            "TRUNCATE audit_entry"):
                    with pytest.raises(ProgrammingError, match="permission denied"):
                        conn.execute(text(sql))
                    conn.rollback()
                    conn.execute(text(f"SET ROLE {role}"))
            engine.dispose()
        finally:
            with db.engine.begin() as conn:
                conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
                conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"))
                conn.execute(text(f"REVOKE ALL ON SCHEMA public FROM {role}"))
                conn.execute(text(f"DROP ROLE {role}"))


def test_concurrent_writers_never_fork_the_chain(app, world):
    """Threads registering subjects at one site at once: one chain, no gaps, unique numbers."""
    from edc.cli import cli_actor
    from edc.subjects.services import create_subject

    threads, per_thread = 6, 5
    errors = []

    def work():
        try:
            with app.app_context():
                for _ in range(per_thread):
                    site = db.session.get(Site, world.tj)
                    create_subject(site, actor=cli_actor(), created_by_id=world.users["crc"])
                    db.session.commit()  # one subject, one unit of work
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    with app.app_context():
        check = verify_chain(db.session)
        seqs = db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        numbers = db.session.scalars(select(Subject.screening_number)
                                     .where(Subject.site_id == world.tj)).all()
    assert check.ok, check.summary()
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(numbers) == len(set(numbers)) == 1 + threads * per_thread
