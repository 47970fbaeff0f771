"""Sponsor exports on a generated study: figures, not assertions.

    python bench/export.py [--subjects 200] [--small 50] [--years 15] [--aes 10] [--cms 20]
                           [--repeat 3]

One subject with follow-up to ``--years`` (every scheduled visit, AEs, medications, queries)
is entered through the save service; the others are copies of it (its rows and its audit
entries under a new subject, the hash chain recomputed), ``--small`` of them at site A and
the rest at site B. Then, each in a fresh process (peak resident memory is that
process's), the median of ``--repeat`` runs:

- a raw dump of the same tables to CSV (``item_data`` joined to ``subject``, one row per
  value, no de-identification) — the floor;
- a raw dump of the audit entries the export rebuilds its snapshot from (the same columns
  and actions, ``trail``) — the floor of reading the trail;
- every format for site A (``--small`` subjects) and for all sites (``--subjects``): wall
  time, peak memory (of the exporting process, and of it with the worker processes that
  rebuild the subjects, ``EDC_EXPORT_WORKERS``: resident sets summed, and proportional set
  sizes), the ratio to the raw dump of the same subjects; the CSV export also with no
  worker processes (``csv 1p``);
- a CSV export ``--as-of`` the middle of the trail.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.casebook import _app, make_subject  # noqa: E402


def _clone(app, template: int, n: int, site_id: int, first: int) -> None:
    """``n`` copies of subject ``template`` at ``site_id``: rows and chained audit entries."""
    from sqlalchemy import insert, select

    from audit.chain import entry_hash
    from audit.models import AuditEntry
    from edc.extensions import db
    from edc.models import FormData, ItemData, Site, Subject

    with app.app_context():
        src = db.session.get(Subject, template, execution_options={"all_sites": True})
        site = db.session.get(Site, site_id)
        items = [{c: getattr(r, c) for c in ("event_oid", "event_repeat", "form_oid",
                                            "form_repeat", "item_oid", "value", "removed",
                                            "rule_version", "updated_at")}
                 for r in db.session.scalars(select(ItemData).where(
                     ItemData.subject_id == template).execution_options(all_sites=True))]
        forms = [{c: getattr(r, c) for c in ("event_oid", "event_repeat", "form_oid",
                                            "form_repeat", "metadata_version", "version",
                                            "status", "first_saved_at", "updated_at")}
                 for r in db.session.scalars(select(FormData).where(
                     FormData.subject_id == template).execution_options(all_sites=True))]
        entries = [{c: getattr(e, c) for c in AuditEntry.CHAINED}
                   for e in db.session.scalars(select(AuditEntry).where(
                       AuditEntry.subject_id == template).order_by(AuditEntry.seq)
                       .execution_options(all_sites=True))]
        head = db.session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(
            AuditEntry.seq.desc()).limit(1).execution_options(all_sites=True)).one()
        seq, prev = head.seq, head.hash
        for k in range(first, first + n):
            screening = f"{site.code}-S{k:04d}"
            number = f"{site.code}-{k:04d}"
            # rows written directly, as a restore would (the audit entries come with them)
            new_id = db.session.execute(insert(Subject).values(
                study_id=src.study_id, site_id=site_id, screening_number=screening,
                subject_number=number, status=src.status, created_by_id=src.created_by_id,
                created_at=src.created_at).returning(Subject.id)).scalar_one()
            db.session.execute(insert(ItemData), [{**r, "subject_id": new_id,
                                                   "site_id": site_id} for r in items])
            db.session.execute(insert(FormData), [{**r, "subject_id": new_id,
                                                   "site_id": site_id} for r in forms])
            rows = []
            for e in entries:
                seq += 1
                row = {**e, "seq": seq, "subject_id": new_id, "site_id": site_id,
                       "site_code": site.code,
                       "subject_key": number if e["subject_key"] == src.subject_number
                       else screening}
                if e["action"] == "subject.create":
                    row["new_value"] = screening
                elif e["action"] == "subject.update" and e["item_oid"] == "subject_number":
                    row["new_value"] = number
                row["prev_hash"] = prev
                row["hash"] = prev = entry_hash(prev, row)
                rows.append(row)
            db.session.execute(insert(AuditEntry), rows)
            db.session.commit()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, tmp: Path, what: str, site: str | None, as_of: int | None,
          workers: int | None = None) -> None:
    """One measured run in this process; prints a JSON line."""
    from bench._mem import TreeSampler

    app = _app(url, tmp, "c")
    if workers is not None:
        app.config["EDC_EXPORT_WORKERS"] = workers
    start = time.perf_counter()
    with app.app_context(), TreeSampler() as tree:
        from edc.extensions import db

        out = tmp / f"out-{what}-{site or 'all'}-{as_of or 'head'}"
        if what == "raw":
            conn = db.engine.raw_connection()
            cur = conn.cursor()
            cur.execute("SELECT s.screening_number, s.subject_number, i.event_oid, "
                        "i.event_repeat, i.form_oid, i.form_repeat, i.item_oid, i.value "
                        "FROM item_data i JOIN subject s ON s.id = i.subject_id "
                        "WHERE i.removed = 0 AND (? IS NULL OR s.site_id = "
                        "(SELECT id FROM site WHERE code = ?)) ORDER BY i.id", (site, site))
            rows = 0
            with open(str(out) + ".csv", "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                while batch := cur.fetchmany(5000):
                    writer.writerows(batch)
                    rows += len(batch)
            size = os.path.getsize(str(out) + ".csv")
        elif what == "trail":
            # the entries the export rebuilds its snapshot from (edc/exports/dataset.py:
            # the same columns and actions), subject by subject in sequence order
            from sqlalchemy import select

            from audit.models import AuditEntry
            from edc.exports import dataset

            sites = select(AuditEntry.subject_id).where(
                AuditEntry.site_code == site) if site else None
            query = select(*dataset._COLUMNS).where(AuditEntry.action.in_(dataset._ACTIONS))
            if sites is not None:
                query = query.where(AuditEntry.subject_id.in_(sites))
            rows = 0
            with open(str(out) + ".csv", "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                result = db.session.connection().execute(
                    query.order_by(AuditEntry.subject_id, AuditEntry.seq))
                while batch := result.fetchmany(5000):
                    writer.writerows(batch)
                    rows += len(batch)
            size = os.path.getsize(str(out) + ".csv")
        else:
            from edc.exports import services
            from edc.uow import read_only

            scope = services.resolve(what, sites=[site] if site else None, as_of=as_of)
            with services.spool() as sp:
                with read_only():
                    files = services.prepare(scope, sp)
                with open(str(out) + ".zip", "wb") as fh:
                    services.pack(sp, services.manifest(scope, files, generated_by="bench"),
                                  fh, scope.as_of_time)
            rows = sum(f.get("rows", 0) for f in files)
            size = os.path.getsize(str(out) + ".zip")
    print(json.dumps({"what": what, "site": site, "as_of": as_of, "rows": rows,
                      "bytes": size, "seconds": round(time.perf_counter() - start, 2),
                      "peak_mib": round(_rss_mib(), 1),
                      "largest_worker_mib": round(tree.largest_worker, 1),
                      "all_rss_mib": round(max(tree.peak, _rss_mib()), 1),
                      "all_pss_mib": round(tree.pss, 1)}))


REPEAT = 3


def _run(url, tmp, what, site=None, as_of=None, workers=None) -> dict:
    """The run of median time among ``REPEAT`` (this machine's times vary by a third from
    one run to the next), each in a fresh process."""
    runs = sorted((_run_once(url, tmp, what, site, as_of, workers) for _ in range(REPEAT)),
                  key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def _run_once(url, tmp, what, site=None, as_of=None, workers=None) -> dict:
    args = [sys.executable, __file__, "--child", what, "--url", url, "--tmp", str(tmp)]
    if site:
        args += ["--site", site]
    if as_of:
        args += ["--as-of", str(as_of)]
    if workers is not None:
        args += ["--workers", str(workers)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    global REPEAT
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--aes", type=int, default=10)
    ap.add_argument("--cms", type=int, default=20)
    ap.add_argument("--child")
    ap.add_argument("--url")
    ap.add_argument("--tmp")
    ap.add_argument("--site")
    ap.add_argument("--as-of", type=int)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--repeat", type=int, default=REPEAT,
                    help="runs of each export; the median is shown")
    args = ap.parse_args()
    if args.child:
        child(args.url, Path(args.tmp), args.child, args.site, args.as_of, args.workers)
        return

    REPEAT = max(1, args.repeat)
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    url = f"sqlite:///{tmp / 'study.db'}"
    app = _app(url, tmp, "m")
    t0 = time.perf_counter()
    with app.app_context():
        from edc.admin.services import create_site, create_user
        from edc.cli import cli_actor, init_database
        from edc.extensions import db
        from edc.security import Role
        from edc.study import ensure_study

        init_database()
        ensure_study(cli_actor())
        a = create_site(code="SA", name="Site A", timezone="Asia/Shanghai", actor=cli_actor())
        b = create_site(code="SB", name="Site B", timezone="Asia/Shanghai", actor=cli_actor())
        user, _ = create_user(username="crc", full_name="Coordinator", email="",
                              role=Role.CRC, site_codes=["SA", "SB"], password="bench-export-2026",
                              actor=cli_actor())
        create_user(username="dm", full_name="Data Manager", email="", role=Role.DM,
                    site_codes=[], password="bench-export-2026", actor=cli_actor())
        db.session.commit()
        template = make_subject(app, a, user, years=args.years, aes=args.aes, cms=args.cms,
                                n_queries=5)
        a_id, b_id = a.id, b.id
    made = time.perf_counter() - t0
    _clone(app, template, args.small - 1, a_id, 2)
    _clone(app, template, args.subjects - args.small, b_id, 1)
    with app.app_context():
        from sqlalchemy import func, select

        from audit.models import AuditEntry
        from edc.models import ItemData

        head = db.session.scalar(select(func.max(AuditEntry.seq)))
        values = db.session.scalar(select(func.count()).select_from(ItemData)
                                   .execution_options(all_sites=True))
    print(f"study: {args.subjects} subjects (follow-up {args.years} years, {args.aes} AEs, "
          f"{args.cms} medications each), {values} values, {head} audit entries; "
          f"first subject entered in {made:.0f} s, the rest copied")
    print("peak memory: 'main' the exporting process's resident set; 'all' the resident sets "
          "of it and its worker processes summed (sampled every 50 ms); 'pss' the same with "
          "pages the processes share counted once")
    print(f"{'export':<8}{'subjects':>9}{'rows':>10}{'MiB out':>9}{'seconds':>9}"
          f"{'main MiB':>10}{'all MiB':>9}{'pss MiB':>9}{'× raw':>8}")

    def line(label, n, r, raw_s):
        print(f"{label:<8}{n:>9}{r['rows']:>10}{r['bytes'] / 2**20:>9.1f}{r['seconds']:>9.2f}"
              f"{r['peak_mib']:>10.0f}{r['all_rss_mib']:>9.0f}{r['all_pss_mib']:>9.0f}"
              f"{r['seconds'] / raw_s:>8.1f}")

    for site, n in (("SA", args.small), (None, args.subjects)):
        raw = _run(url, tmp, "raw", site)
        line("raw SQL", n, raw, raw["seconds"])
        line("trail", n, _run(url, tmp, "trail", site), raw["seconds"])
        line("csv 1p", n, _run(url, tmp, "csv", site, workers=0), raw["seconds"])
        for fmt in ("csv", "odm", "xpt", "json"):
            line(fmt, n, _run(url, tmp, fmt, site), raw["seconds"])
    r = _run(url, tmp, "csv", None, head // 2)
    print(f"csv --as-of {head // 2} (middle of the trail): {r['rows']} rows, "
          f"{r['seconds']:.2f} s, peak {r['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
