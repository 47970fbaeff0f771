"""Walk the hash chain and name the first entry that does not match; check it against every
signed checkpoint (audit/checkpoint.py) and report timestamps that go backwards."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import select

from audit.chain import GENESIS, entry_hash
from audit.checkpoint import contradictions
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
    # beyond the chain itself: checkpoints it contradicts, time going backwards, triggers
    problems: tuple[str, ...] = ()
    checkpoints: int = 0
    hashes: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def chain_ok(self) -> bool:
        return self.bad_seq is None

    def summary(self) -> str:
        if self.ok:
            return (f"audit trail intact: {self.count} entries, head {self.head_hash}, "
                    f"consistent with {self.checkpoints} signed checkpoint(s)")
        if not self.chain_ok:
            return (f"audit trail BROKEN at sequence {self.bad_seq}: {self.problem} "
                    f"({self.count} entries checked before it)")
        return f"audit trail NOT VERIFIED: {len(self.problems)} problem(s)"


MAX_REPORTED = 20


def verify_rows(rows, watch=frozenset()) -> Verification:
    """Check rows (mappings of the chained columns plus prev_hash and hash) in seq order.
    ``watch``: sequence numbers whose hashes to keep (those of the signed checkpoints)."""
    prev = GENESIS
    expected = 1
    count = 0
    last_ts = None
    backwards: list[str] = []
    kept: dict[int, str] = {}
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
        ts = row["ts"]
        if last_ts is not None and ts < last_ts and len(backwards) < MAX_REPORTED:
            backwards.append(f"time goes backwards at seq {seq}: {ts} is before the "
                             f"previous entry's {last_ts}")
        last_ts = ts if last_ts is None else max(ts, last_ts)
        if seq in watch:
            kept[seq] = row["hash"]
        prev = row["hash"]
        expected += 1
        count += 1
    return Verification(not backwards, count, prev, problems=tuple(backwards), hashes=kept)


def verify_chain(session, batch: int = 2000, anchor=None) -> Verification:
    """Stream the whole trail from the database (bounded memory) and verify it, against the
    signed checkpoints of ``anchor`` (an ``audit.checkpoint.Anchor``) when given."""
    checkpoints = anchor.checkpoints() if anchor is not None else []
    result = session.execute(
        select(*_COLUMNS).order_by(AuditEntry.seq).execution_options(
            yield_per=batch, all_sites=True, stream_results=True)
    )
    found = verify_rows((row._mapping for row in result),
                        watch=frozenset(c.seq for c in checkpoints))
    if not found.chain_ok or not checkpoints:
        return found
    contradicted = contradictions(checkpoints, anchor.public_key(), found.hashes, found.count)
    problems = found.problems + tuple(contradicted)
    return replace(found, ok=not problems, problems=problems, checkpoints=len(checkpoints))
