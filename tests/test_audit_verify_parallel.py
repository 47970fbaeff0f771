"""`edc audit verify` on every core: pieces of the trail verified in separate processes, then
joined, find exactly what the one-pass walk finds (first bad sequence, its problem, the
count before it, time going backwards, the checkpoints' hashes), wherever the cuts fall."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from audit import ddl
from audit.chain import entry_hash
from audit.models import AuditEntry
from audit.verify import verify_chain, verify_parallel
from edc.extensions import db
from tests.conftest import enter_eligible


def _tamper(app, *statements) -> None:
    with app.app_context(), db.engine.begin() as conn:
        ddl.drop(conn)
        for sql, params in statements:
            conn.execute(text(sql), params)


def _rewrite(seq: int, value: str):
    """A value changed with its own hash recomputed (the next entry's link breaks)."""
    row = db.session.get(AuditEntry, seq)
    fields = {name: getattr(row, name) for name in AuditEntry.CHAINED}
    fields["new_value"] = value
    return ("UPDATE audit_entry SET new_value = :v, hash = :h WHERE seq = :s",
            {"v": value, "h": entry_hash(row.prev_hash, fields), "s": seq})


def _both(app):
    """The one-pass result, and the parallel one for several ways of cutting the trail."""
    with app.app_context():
        serial = verify_chain(db.session)
        url = db.engine.url.render_as_string(hide_password=False)
        head = db.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()))
        watch = frozenset({5, head // 2, head})
        from audit.verify import _COLUMNS, join, walk

        rows = list(db.session.execute(select(*_COLUMNS).order_by(AuditEntry.seq)))
        watched_serial = join([walk(rows, 1, head, watch, prev="0" * 64)])
    results = [verify_parallel(url, head, 2, watch, batch=11, pieces=n)
               for n in (2, 3, 7, 40)]
    return serial, watched_serial, results


@pytest.fixture
def trail(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj)
        return db.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()))


def _same(serial, watched, results):
    for found in results:
        assert found == serial
        assert found.hashes == watched.hashes


def test_an_intact_trail(app, trail):
    serial, watched, results = _both(app)
    assert serial.ok and serial.count == trail
    _same(serial, watched, results)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_changed_value(app, trail, where):
    seq = {"first": 1, "middle": trail // 2, "last": trail}[where]
    _tamper(app, ("UPDATE audit_entry SET new_value = 'forged' WHERE seq = :s", {"s": seq}))
    serial, watched, results = _both(app)
    assert serial.bad_seq == seq
    _same(serial, watched, results)


def test_a_value_rewritten_with_its_hash_breaks_the_next_link(app, trail):
    with app.app_context():
        statement = _rewrite(trail // 3, "forged")
    _tamper(app, statement)
    serial, watched, results = _both(app)
    assert (serial.bad_seq, serial.problem) == (trail // 3 + 1,
                                                "link to the previous entry broken")
    _same(serial, watched, results)


@pytest.mark.parametrize("gone", [2, 40])
def test_a_removed_entry(app, trail, gone):
    _tamper(app, ("DELETE FROM audit_entry WHERE seq = :s", {"s": gone}))
    serial, watched, results = _both(app)
    assert serial.bad_seq == gone and "missing" in serial.problem
    _same(serial, watched, results)


def test_time_going_backwards_across_and_within_pieces(app, trail):
    with app.app_context():
        at = {seq: db.session.get(AuditEntry, seq).ts for seq in (3, 30, 31, trail - 1)}
    # a clock stepped back: entries 30 and 31 earlier than entry 3; the one before the last
    # a day early. The hashes are recomputed so only the time is wrong.
    moves = {30: at[3] - timedelta(hours=1), 31: at[3] - timedelta(minutes=30),
             trail - 1: at[trail - 1] - timedelta(days=1)}
    statements = []
    with app.app_context():
        prev = None
        for seq in range(1, trail + 1):
            row = db.session.get(AuditEntry, seq)
            fields = {name: getattr(row, name) for name in AuditEntry.CHAINED}
            fields["ts"] = moves.get(seq, row.ts)
            prev = prev or row.prev_hash
            digest = entry_hash(prev, fields)
            statements.append(("UPDATE audit_entry SET ts = :t, prev_hash = :p, hash = :h "
                               "WHERE seq = :s", {"t": fields["ts"], "p": prev, "h": digest,
                                                  "s": seq}))
            prev = digest
    _tamper(app, *statements)
    serial, watched, results = _both(app)
    assert serial.chain_ok and not serial.ok
    assert [p.split(":")[0] for p in serial.problems] == [
        "time goes backwards at seq 30", "time goes backwards at seq 31",
        f"time goes backwards at seq {trail - 1}"]
    _same(serial, watched, results)


def test_the_command_runs_the_pieces_in_worker_processes(app, trail, monkeypatch):
    import audit.verify

    monkeypatch.setattr(audit.verify, "PARALLEL_FROM", 1)
    ran = []
    real = audit.verify.verify_parallel
    monkeypatch.setattr(audit.verify, "verify_parallel",
                        lambda *a, **k: ran.append(a) or real(*a, **k))
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert ran and f"count {trail}" in result.output
    _tamper(app, ("UPDATE audit_entry SET new_value = 'x' WHERE seq = :s", {"s": 9}))
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--workers", "2"])
    assert result.exit_code == 1 and "first bad sequence number: 9" in result.output
