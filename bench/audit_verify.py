"""`edc audit verify` speed on a large trail, beside plain SHA-256 of the same bytes.

    python bench/audit_verify.py [--entries 100000] [--database-url URL]

- verify:   audit.verify.verify_chain in one process, streaming from the database;
- parallel: the same with --workers processes, each verifying a piece (what `edc audit verify`
            runs, one worker per core);
- in-memory: the same check over rows already in memory (no database reads);
- hashlib:  hashlib.sha256(prev + canonical bytes) over pre-computed canonical bytes: the
            floor, what the hashing alone costs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes of the parallel run (default: one per core)")
    args = parser.parse_args()

    from audit.chain import canonical_bytes
    from audit.models import AuditEntry
    from audit.verify import _COLUMNS, verify_chain, verify_rows
    from bench._data import fill, make_app
    from edc.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        app = make_app(url)
        t = time.perf_counter()
        fill(app, args.entries)
        build = time.perf_counter() - t
        with app.app_context():
            t = time.perf_counter()
            result = verify_chain(db.session)
            verify_s = time.perf_counter() - t
            assert result.ok, result.summary()
            db.session.rollback()
            t = time.perf_counter()
            parallel = verify_chain(db.session, workers=args.workers)
            parallel_s = time.perf_counter() - t
            assert parallel == result, parallel.summary()
            rows = [dict(r._mapping) for r in db.session.execute(
                db.select(*_COLUMNS).order_by(AuditEntry.seq))]
            t = time.perf_counter()
            assert verify_rows(rows).ok
            memory_s = time.perf_counter() - t
            payloads = [(r["prev_hash"].encode(), canonical_bytes(
                {k: r[k] for k in AuditEntry.CHAINED})) for r in rows]
            t = time.perf_counter()
            for prev, body in payloads:
                hashlib.sha256(prev + body).hexdigest()
            hash_s = time.perf_counter() - t
            t = time.perf_counter()
            for r in rows:
                canonical_bytes({k: r[k] for k in AuditEntry.CHAINED})
            canon_s = time.perf_counter() - t
            db.session.remove()
    n = result.count
    print(f"Audit chain verification, {n} entries ({url.split(':')[0]}; built in {build:.1f} s)")
    for name, secs in (("verify (DB)", verify_s),
                       (f"parallel x{args.workers}", parallel_s), ("in-memory", memory_s),
                       ("canonical form", canon_s), ("hashlib only", hash_s)):
        print(f"{name:14} {secs:7.2f} s  {n / secs:>12,.0f} entries/s")
    print(f"verify is {verify_s / hash_s:.0f}x slower than bare SHA-256; canonical JSON takes "
          f"{canon_s / memory_s:.0%} of the in-memory check")


if __name__ == "__main__":
    main()
