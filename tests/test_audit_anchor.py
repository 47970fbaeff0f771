"""A trail that cannot be rewritten quietly: the triggers close every write path but
appending at the head, and signed checkpoints kept outside the database expose a consistent
rewrite or a truncated tail (both databases; the PostgreSQL superuser paths too)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from audit import ddl
from audit.chain import entry_hash
from audit.checkpoint import Anchor
from audit.models import AuditEntry
from audit.verify import verify_chain
from edc import anchor as app_anchor
from edc.cli import cli_actor
from edc.extensions import db
from edc.subjects.services import create_subject
from tests.conftest import PASSWORD, login


def _verify(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _checkpoint(app):
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def _head(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEntry.seq)))


def _more_entries(app, world, n: int = 3) -> None:
    from edc.models import Site

    with app.app_context():
        site = db.session.get(Site, world.tj)
        for _ in range(n):
            create_subject(site, actor=cli_actor(), created_by_id=world.users["crc"])
        db.session.commit()


def _rewrite(app, from_seq: int, **changes) -> None:
    """What someone with the database's owner rights can do: drop the triggers, change an
    entry, and re-hash it and every later entry so that the chain links again."""
    with app.app_context(), db.engine.begin() as conn:
        ddl.drop(conn)
        rows = conn.execute(select(AuditEntry.__table__).where(
            AuditEntry.seq >= from_seq).order_by(AuditEntry.seq)).mappings().all()
        prev = conn.execute(select(AuditEntry.hash).where(
            AuditEntry.seq == from_seq - 1)).scalar()
        for row in rows:
            fields = {name: row[name] for name in AuditEntry.CHAINED}
            if row["seq"] == from_seq:
                fields.update(changes)
            new = entry_hash(prev, fields)
            conn.execute(AuditEntry.__table__.update().where(
                AuditEntry.seq == row["seq"]).values(prev_hash=prev, hash=new, **(
                    changes if row["seq"] == from_seq else {})))
            prev = new


def test_an_intact_trail_verifies_against_its_checkpoints(app, world):
    _checkpoint(app)
    _more_entries(app, world)
    _checkpoint(app)
    code, output = _verify(app)
    assert code == 0, output
    assert "consistent with 2 signed checkpoint(s)" in output


def test_a_consistent_rewrite_contradicts_the_checkpoint(app, world):
    _more_entries(app, world)
    _checkpoint(app)
    head = _head(app)
    _rewrite(app, 5, new_value="forged")
    code, output = _verify(app)
    assert code == 1
    assert f"(seq {head}" in output and "was rewritten" in output
    with app.app_context():
        assert verify_chain(db.session).chain_ok  # the chain alone would not tell


def test_a_truncated_tail_contradicts_the_checkpoint(app, world):
    _more_entries(app, world)
    _checkpoint(app)
    head = _head(app)
    with app.app_context(), db.engine.begin() as conn:
        ddl.drop(conn)
        conn.execute(text(f"DELETE FROM audit_entry WHERE seq > {head - 2}"))
    code, output = _verify(app)
    assert code == 1
    assert f"the chain ends at seq {head - 2}" in output and "truncated" in output


def test_a_forged_checkpoint_is_reported(app, world):
    _checkpoint(app)
    with app.app_context():
        log = Anchor.from_config(app.config).log_file
    line = json.loads(log.read_text())
    line["seq"] = 1
    log.write_text(json.dumps(line) + "\n")
    code, output = _verify(app)
    assert code == 1 and "signature does not verify" in output


def test_checkpoints_are_written_at_intervals_after_commit(app, world):
    app.config["EDC_AUDIT_CHECKPOINT_EVERY"] = 5
    before = _head(app)
    _more_entries(app, world, 6)
    with app.app_context():
        written = Anchor.from_config(app.config).checkpoints()
    assert written and all(c.seq > before for c in written)
    assert max(c.seq for c in written) <= _head(app)
    assert _verify(app)[0] == 0


def test_sqlite_replace_and_insertion_off_the_head_are_refused(app, world, backend):
    head = _head(app)
    with app.app_context(), db.engine.begin() as conn:
        row = dict(conn.execute(select(AuditEntry.__table__).where(
            AuditEntry.seq == 3)).mappings().one())
    columns = ", ".join(row)
    values = ", ".join(f":{k}" for k in row)
    statements = [f"INSERT INTO audit_entry ({columns}) VALUES ({values})"]
    if backend.name == "sqlite":
        statements.append(f"INSERT OR REPLACE INTO audit_entry ({columns}) VALUES ({values})")
        statements.append(f"REPLACE INTO audit_entry ({columns}) VALUES ({values})")
    for sql in statements:
        with pytest.raises(DatabaseError, match="append-only"), app.app_context(), \
                db.engine.begin() as conn:
            conn.execute(text(sql), {**row, "new_value": "forged"})
    far = {**row, "seq": head + 10}
    with pytest.raises(DatabaseError, match="append-only"), app.app_context(), \
            db.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO audit_entry ({columns}) VALUES ({values})"), far)
    assert _verify(app)[0] == 0


def test_postgresql_replica_mode_does_not_switch_the_triggers_off(app, world, backend):
    if backend.name != "postgresql":
        pytest.skip("session_replication_role is PostgreSQL's")
    with pytest.raises(DatabaseError, match="append-only"), app.app_context(), \
            db.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE audit_entry SET new_value = 'forged' WHERE seq = 3"))


def test_postgresql_superuser_rewrite_is_caught_by_the_checkpoint(app, world, backend):
    if backend.name != "postgresql":
        pytest.skip("a PostgreSQL superuser's path")
    _checkpoint(app)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER ALL"))
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    _rewrite(app, 4, new_value="forged")
    code, output = _verify(app)
    assert code == 1 and "was rewritten" in output
    # and `edc init` puts the triggers back, saying so
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "repaired audit triggers" in result.output


def test_init_repairs_missing_triggers_and_verify_reports_them(app, world):
    with app.app_context(), db.engine.begin() as conn:
        ddl.drop(conn)
    code, output = _verify(app)
    assert code == 1 and "audit triggers missing or disabled" in output
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "repaired audit triggers that were missing or disabled: " in result.output
    assert "audit_entry_append_at_head" in result.output
    assert _verify(app)[0] == 0
    again = app.test_cli_runner().invoke(args=["init"])
    assert "repaired" not in again.output


def test_verify_reports_time_going_backwards(app, world):
    with app.app_context():
        earlier = db.session.scalar(select(AuditEntry.ts).where(AuditEntry.seq == 2))
    _rewrite(app, 6, ts=earlier - timedelta(minutes=5))
    code, output = _verify(app)
    assert code == 1 and "time goes backwards at seq 6" in output


def test_audit_time_is_the_real_clock_even_when_the_business_day_is_simulated(app, world):
    from datetime import date

    from edc import clock
    from edc.models import Site

    with app.app_context():
        before = clock.utcnow()
        with clock.simulated_day(date(2019, 3, 1)):
            assert clock.local_today("Asia/Shanghai") == date(2019, 3, 1)
            create_subject(db.session.get(Site, world.tj), actor=cli_actor(),
                           created_by_id=world.users["crc"])
            db.session.commit()
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
        assert entry.ts >= before - timedelta(seconds=1)


def test_the_pdf_copy_prints_the_public_key_and_its_checkpoint(app, world, tmp_path):
    from pypdf import PdfReader

    out = tmp_path / "trail.pdf"
    result = app.test_cli_runner().invoke(args=["audit", "pdf", "--all", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        anchor = Anchor.from_config(app.config)
        latest = anchor.latest()
        key = app_anchor.printed(anchor).split("\n")[0]
    page = PdfReader(str(out)).pages[0].extract_text()
    assert latest is not None and f"latest signed checkpoint seq {latest.seq}" in page
    assert key.split()[-1][:20] in page.replace("\n", "")


def test_the_key_file_is_private(app, world):
    _checkpoint(app)
    with app.app_context():
        key_file = Anchor.from_config(app.config).key_file
    assert key_file.stat().st_mode & 0o077 == 0


def test_login_still_works_with_checkpoints_after_commit(app, world, client):
    app.config["EDC_AUDIT_CHECKPOINT_EVERY"] = 1
    assert login(client, "crc", PASSWORD).status_code == 302
    assert _verify(app)[0] == 0


def test_no_test_pins_or_moves_the_clock():
    """Audit time is the real clock, always: tests let time pass by ageing stored times."""
    from pathlib import Path

    for path in Path(__file__).parent.glob("test_*.py"):
        text = path.read_text(encoding="utf-8")
        for banned in ("time_machine", "freezegun", "clock.pinned"):
            assert f"import {banned}" not in text and f"{banned}." not in text, path.name


def test_the_printed_checklist_is_anchored_too(app, world, login_as, tmp_path):
    from pypdf import PdfReader

    from tests.conftest import enter_eligible

    with app.app_context():
        enter_eligible(world.subject_tj)
    pdf = login_as("pi").get(f"/subjects/{world.subject_tj}/eligibility.pdf")
    assert pdf.status_code == 200
    out = tmp_path / "checklist.pdf"
    out.write_bytes(pdf.data)
    text = " ".join(p.extract_text() for p in PdfReader(str(out)).pages)
    with app.app_context():
        latest = Anchor.from_config(app.config).latest()
    assert f"Audit trail up to seq {latest.seq}" in text
    assert "latest signed checkpoint" in text and "Audit key (Ed25519)" in text
