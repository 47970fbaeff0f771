"""Walk the hash chain and name the first entry that does not match."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from audit.chain import GENESIS, entry_hash
from audit.models import AuditEntry

_COLUMNS = [AuditEntry.__table__.c[name] for name in AuditEntry.CHAINED] + [
    AuditEntry.__table__.c.prev_hash,
    AuditEntry.__table__.c.hash,
]


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None

    def summary(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.count} entries, head {self.head_hash}"
        return (f"audit trail BROKEN at sequence {self.bad_seq}: {self.problem} "
                f"({self.count} entries checked before it)")


def verify_rows(rows) -> Verification:
    """Check rows (mappings of the chained columns plus prev_hash and hash) in seq order."""
    prev = GENESIS
    expected = 1
    count = 0
    for row in rows:
        seq = row["seq"]
        if seq != expected:
            return Verification(False, count, prev, expected,
                                f"sequence {expected} is missing (next is {seq})")
        if row["prev_hash"] != prev:
            return Verification(False, count, prev, seq, "link to the previous entry broken")
        fields = {name: row[name] for name in AuditEntry.CHAINED}
        if entry_hash(prev, fields) != row["hash"]:
            return Verification(False, count, prev, seq, "content does not match its hash")
        prev = row["hash"]
        expected += 1
        count += 1
    return Verification(True, count, prev)


def verify_chain(session, batch: int = 2000) -> Verification:
    """Stream the whole trail from the database (bounded memory) and verify it."""
    result = session.execute(
        select(*_COLUMNS).order_by(AuditEntry.seq).execution_options(
            yield_per=batch, all_sites=True, stream_results=True)
    )
    return verify_rows(row._mapping for row in result)
