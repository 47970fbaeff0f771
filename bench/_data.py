"""Synthetic audit trails for the benchmarks: a real migrated database, a valid hash chain."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert

from audit.chain import GENESIS, entry_hash
from audit.models import AuditEntry
from edc.clock import utcnow

ITEMS = [("LB", "HGB"), ("LB", "ANC"), ("LB", "ALT"), ("VS", "TEMP"), ("AE", "AETERM"),
         ("CRS", "CRSGR"), ("PK", "CARCOPY"), ("DM", "WEIGHT")]
REASONS = [None, "transcription error", "updated source document", "query response: lab "
           "re-run after haemolysed sample, value confirmed by the site laboratory"]


def make_app(url: str):
    from edc import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "SESSION_COOKIE_SECURE": False})


def fill(app, n: int, seed: int = 7) -> None:
    """Migrate, add site TJ, and append ``n`` chained clinical entries in bulk."""
    from edc.admin.services import create_site
    from edc.cli import cli_actor, init_database
    from edc.extensions import db

    rnd = random.Random(seed)
    with app.app_context():
        init_database()
        site = create_site(code="TJ", name="Tianjin", timezone="Asia/Shanghai",
                           actor=cli_actor())
        head = db.session.execute(db.select(AuditEntry.seq, AuditEntry.hash)
                                  .order_by(AuditEntry.seq.desc()).limit(1)).one()
        seq, prev = head.seq, head.hash or GENESIS
        start = utcnow()  # after the entries init_database wrote: time never goes backwards
        rows = []
        for i in range(n):
            seq += 1
            form, item = rnd.choice(ITEMS)
            old = None if i % 3 == 0 else f"{rnd.uniform(1, 200):.1f}"
            row = {
                "seq": seq, "ts": start + timedelta(seconds=37 * i), "action":
                "data.create" if old is None else "data.update", "user_id": 1 + i % 3,
                "username": ("crc", "pi", "cra")[i % 3], "role": ("crc", "pi", "crc")[i % 3],
                "site_id": site.id, "site_code": "TJ", "subject_id": 1 + i % 40,
                "subject_key": f"TJ-S{1 + i % 40:03d}", "event_oid": rnd.choice(
                    ["SCREEN", "D1", "D7", "D14", "D28", "M3", "M6", "M12"]),
                "event_repeat": None, "form_oid": form, "item_oid": item, "repeat_key": "1",
                "target_type": "item_data", "target_id": str(i + 1), "old_value": old,
                "new_value": f"{rnd.uniform(1, 200):.1f}",
                "reason": None if old is None else rnd.choice(REASONS[1:]),
                "details": None, "source": "web", "request_id": None, "ip": "10.1.2.3",
            }
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(prev, {k: row[k] for k in AuditEntry.CHAINED})
            rows.append(row)
            if len(rows) == 5000:
                db.session.execute(insert(AuditEntry), rows)
                rows = []
        if rows:
            db.session.execute(insert(AuditEntry), rows)
        db.session.commit()
