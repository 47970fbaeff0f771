"""The whole state of a test database, to show that a refused request changed nothing but the
record of the refusal (``audit.actions.REFUSALS``)."""

from __future__ import annotations

from sqlalchemy import select

from audit.actions import REFUSALS
from audit.models import AuditEntry
from audit.verify import verify_chain
from edc.extensions import db

# bookkeeping that any request may move, refused or not: who is signed in, what was read,
# when a token was last used, and the counters of wrong secrets and the lockout they lead to
BOOKKEEPING = {"access_log": None, "auth_session": None,
               "api_token": {"last_used_at"},
               "user_account": {"failed_login_count", "locked", "locked_at", "totp_last_step"}}


def snapshot(app) -> dict:
    """Every row of every table (bookkeeping aside), and the audit trail's length."""
    with app.app_context():
        rows = {}
        for table in db.metadata.sorted_tables:
            if table.name == "audit_entry" or (
                    table.name in BOOKKEEPING and BOOKKEEPING[table.name] is None):
                continue
            skip = BOOKKEEPING.get(table.name) or set()
            columns = [c for c in table.columns if c.name not in skip]
            rows[table.name] = [tuple(r) for r in db.session.execute(
                select(*columns).order_by(*table.primary_key.columns))]
        rows["audit_seq"] = db.session.scalar(
            select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
        db.session.remove()
    return rows


# a refused enrollment keeps the evaluation it was refused on, as evidence (added, never
# changed)
EVIDENCE = {"eligibility_evaluation"}
EVIDENCE_ACTIONS = {"eligibility.evaluate"}


def assert_unchanged_but_refusals(app, before: dict, what: str) -> None:
    after = snapshot(app)
    changed = [name for name in before if name != "audit_seq" and before[name] != after[name]
               and not (name in EVIDENCE
                        and after[name][:len(before[name])] == before[name])]
    assert not changed, f"{what}: refused, yet changed {changed}"
    with app.app_context():
        added = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.seq > (before["audit_seq"] or 0))).all()
        assert set(added) <= REFUSALS | EVIDENCE_ACTIONS, f"{what}: refused, yet audited {added}"
        if added:
            assert verify_chain(db.session).ok
        db.session.remove()
