"""Walk the hash chain and name the first entry that does not match; check it against every
signed checkpoint (audit/checkpoint.py) and report timestamps that go backwards."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select, text

from audit.chain import GENESIS, RowHasher
from audit.checkpoint import contradictions
from audit.models import AuditEntry
from edc.parallel import shared_url

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
PARALLEL_FROM = 50_000  # entries: below this, starting worker processes costs more than it saves


@dataclass
class Piece:
    """What a walk over the entries ``lo``–``hi`` found, for joining with its neighbours:
    the first entry's link (checked by whoever knows the entry before), the last hash, the
    first failure, time going backwards within, and the first entries that set a new latest
    time (they go backwards if an earlier piece ended later)."""

    lo: int
    hi: int
    count: int = 0
    first_prev: str | None = None
    last_hash: str | None = None
    bad_seq: int | None = None
    problem: str | None = None
    backwards: list = field(default_factory=list)  # (seq, ts, latest before it)
    records: list = field(default_factory=list)  # (seq, ts): new latest times, in order
    latest: object = None
    kept: dict = field(default_factory=dict)


_NAMES = (*AuditEntry.CHAINED, "prev_hash", "hash")
_SEQ, _TS = _NAMES.index("seq"), _NAMES.index("ts")
_PREV, _HASH = _NAMES.index("prev_hash"), _NAMES.index("hash")
_row_hash = RowHasher(_NAMES[:_PREV])
# the columns' raw values (no per-row type processing): what the walk reads
_RANGE = text(f"SELECT {', '.join(_NAMES)} FROM audit_entry "  # noqa: S608 - fixed names
              "WHERE seq BETWEEN :lo AND :hi ORDER BY seq")


def walk(rows, lo: int, hi: int, watch=frozenset(), prev: str | None = None) -> Piece:
    """Check rows (tuples of the chained columns, then prev_hash and hash: ``_NAMES``) of
    ``lo``–``hi`` in seq order. ``prev``: the hash the first entry must link to, or None
    when the caller checks that link. ``watch``: sequence numbers whose hashes to keep (the
    checkpoints')."""
    piece = Piece(lo, hi)
    expected = lo
    latest = None
    for row in rows:
        seq = row[_SEQ]
        if seq != expected:
            piece.bad_seq, piece.problem = expected, f"sequence {expected} is missing"
            return piece
        if seq == lo:
            piece.first_prev = row[_PREV]
        if prev is not None and row[_PREV] != prev:
            piece.bad_seq, piece.problem = seq, "link to the previous entry broken"
            return piece
        ts = row[_TS]
        if type(ts) is str:  # SQLite hands back the stored text; hash the time it means
            ts = datetime.fromisoformat(ts)
            row = (*row[:_TS], ts, *row[_TS + 1:])
        if _row_hash(row[_PREV], row) != row[_HASH]:
            piece.bad_seq, piece.problem = seq, "content does not match its hash"
            return piece
        if latest is not None and ts < latest:
            if len(piece.backwards) < MAX_REPORTED:
                piece.backwards.append((seq, ts, latest))
        else:
            if len(piece.records) <= MAX_REPORTED:
                piece.records.append((seq, ts))
            latest = ts
        if seq in watch:
            piece.kept[seq] = row[_HASH]
        prev = piece.last_hash = row[_HASH]
        expected += 1
        piece.count += 1
    if expected <= hi:
        piece.bad_seq, piece.problem = expected, f"sequence {expected} is missing"
    piece.latest = latest
    return piece


def join(pieces: list[Piece], prev: str = GENESIS) -> Verification:
    """Join pieces walked apart (in seq order) into one verification: the links between
    them, the first failure, and time going backwards across their borders."""
    count = 0
    latest = None
    backwards: list[tuple] = []
    kept: dict[int, str] = {}
    for piece in pieces:
        if piece.first_prev is not None and piece.first_prev != prev:
            return Verification(False, count, prev, piece.lo, "link to the previous entry broken")
        if piece.bad_seq is not None:
            return Verification(False, count + piece.count, piece.last_hash or prev,
                                piece.bad_seq, piece.problem)
        found = list(piece.backwards)
        if latest is not None:  # entries that set a new latest here, but not past the last
            found += [(seq, ts, latest) for seq, ts in piece.records if ts < latest]
        backwards += sorted(found, key=lambda b: b[0])
        if piece.latest is not None:
            latest = piece.latest if latest is None else max(latest, piece.latest)
        kept.update(piece.kept)
        count += piece.count
        prev = piece.last_hash or prev
    problems = tuple(f"time goes backwards at seq {seq}: {ts} is before the previous "
                     f"entry's {before}" for seq, ts, before in backwards[:MAX_REPORTED])
    return Verification(not problems, count, prev, problems=problems, hashes=kept)


def verify_rows(rows, watch=frozenset()) -> Verification:
    """Check rows (mappings of the chained columns plus prev_hash and hash) in seq order
    from the first entry."""
    return join([walk((tuple(r[n] for n in _NAMES) for r in rows), 1, 0, watch,
                      prev=GENESIS)])


def _read(bind, lo: int, hi: int, batch: int):
    return bind.execute(_RANGE.execution_options(yield_per=batch, stream_results=True),
                        {"lo": lo, "hi": hi})


def _walk_range(url: str, lo: int, hi: int, watch: frozenset, batch: int) -> Piece:
    """One worker's share: its own connection, entries ``lo``–``hi``."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect().execution_options(read_only=True) as conn:  # no write lock
            return walk(_read(conn, lo, hi, batch), lo, hi, watch)
    finally:
        engine.dispose()


def verify_chain(session, batch: int = 2000, anchor=None, workers: int = 1) -> Verification:
    """Verify the whole trail from the database (bounded memory), against the signed
    checkpoints of ``anchor`` (an ``audit.checkpoint.Anchor``) when given. With ``workers``
    > 1 a long trail is cut into pieces verified in parallel processes (each entry carries
    its previous hash, so a piece verifies alone), then the links between them are checked
    in order."""
    checkpoints = anchor.checkpoints() if anchor is not None else []
    return verify_with(session, checkpoints, anchor.public_key if checkpoints else None, batch,
                       workers)


def verify_with(bind, checkpoints, public_key, batch: int = 2000,
                workers: int = 1) -> Verification:
    """Verify the trail read through ``bind`` (a session or a connection) against
    ``checkpoints``, whose signatures ``public_key()`` checks."""
    watch = frozenset(c.seq for c in checkpoints)
    head = bind.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)
                        .execution_options(all_sites=True)).scalar() or 0
    url = shared_url(bind)
    if workers > 1 and head >= PARALLEL_FROM and url is not None:
        found = verify_parallel(url, head, workers, watch, batch)
    else:
        found = join([walk(_read(bind, 1, head, batch), 1, head, watch, prev=GENESIS)])
    if not found.chain_ok or not checkpoints:
        return found
    contradicted = contradictions(checkpoints, public_key(), found.hashes, found.count)
    problems = found.problems + tuple(contradicted)
    return replace(found, ok=not problems, problems=problems, checkpoints=len(checkpoints))


def verify_parallel(url: str, head: int, workers: int, watch=frozenset(),
                    batch: int = 2000, pieces: int | None = None) -> Verification:
    """Entries 1–``head`` of the database at ``url``, in ``pieces`` ranges (two per worker
    by default) verified by ``workers`` processes, joined in order. The trail only grows at
    its head, so pieces read apart see the same entries."""
    from concurrent.futures import ProcessPoolExecutor

    from edc.parallel import context

    pieces = max(1, min(pieces or workers * 2, head))
    size = -(-head // pieces)
    ranges = [(lo, min(lo + size - 1, head)) for lo in range(1, head + 1, size)]
    # forked workers (edc.parallel): each opens its own engine
    with ProcessPoolExecutor(workers, mp_context=context()) as pool:
        futures = [pool.submit(_walk_range, url, lo, hi,
                               frozenset(s for s in watch if lo <= s <= hi), batch)
                   for lo, hi in ranges]
        return join([f.result() for f in futures])
