"""Casebook PDF and the monitoring lists: figures, not assertions.

    python bench/casebook.py [--years 15] [--aes 50] [--cms 100] [--queries 30]
                             [--archive 50] [--sites-subjects 20,200]

1. One subject with follow-up to ``--years`` (every scheduled visit), ``--aes`` adverse events,
   ``--cms`` concomitant medications and ``--queries`` queries, entered through the save
   service: the casebook PDF's wall time, pages, and peak resident memory of this process and
   of its layout workers.
2. A site archive of ``--archive`` such subjects through the job (wall time, peak memory).
3. The query list and the SDV worklist of a site with each number of subjects in
   ``--sites-subjects``: SQL statements per page (constant is the goal) and time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._mem import TreeSampler  # noqa: E402


def _app(url: str, tmp: Path, tag: str):
    from edc import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "SESSION_COOKIE_SECURE": False, "EDC_JOBS_IMMEDIATE": True,
                       "EDC_AUDIT_KEY_FILE": str(tmp / f"k{tag}.pem"),
                       "EDC_AUDIT_CHECKPOINT_LOG": str(tmp / f"cp{tag}.jsonl"),
                       "EDC_JOB_DIR": str(tmp / "jobs"), "EDC_ARGON2_TIME_COST": 1,
                       "EDC_ARGON2_MEMORY_COST": 1024, "EDC_ARGON2_PARALLELISM": 1,
                       "EDC_PDF_WORKERS": int(os.environ.get("EDC_PDF_WORKERS", "2"))})


def _value(item, day: date, rank: int):
    from forms.study_build import BUILD

    if item.derived:
        return None
    if item.type == "date":
        return day.isoformat()
    if item.type == "time":
        return "10:00"
    if item.type in ("integer", "float"):
        rng = item.soft or item.hard
        if rng is None:
            return "1"
        low = float(rng.low) if rng.low is not None else 0.0
        high = float(rng.high) if rng.high is not None else low + 10
        mid = (low + high) / 2
        return str(int(mid)) if item.type == "integer" else f"{mid:.1f}"
    if item.type == "code":
        codes = BUILD.codelists[item.codelist].codes
        return codes[rank % len(codes)]
    return f"text {rank}"[: item.max_length]


def _save(subject, event, form_oid, day, *, repeat=1, event_repeat=1, rank=0):
    from edc.cli import cli_actor
    from edc.crf import services as crf
    from edc.uow import unit_of_work
    from forms.study_build import BUILD

    form = BUILD.form(form_oid)
    if form.oid in crf.SYSTEM_FORMS:
        return
    values = {i.name: _value(i, day, rank) for i in form.items if not i.derived}
    values = {k: v for k, v in values.items() if v is not None and not
              (form.item(k).unit_item)}
    for _ in range(4):
        try:
            with unit_of_work():
                crf.save_form(subject, event, form_oid, values, version=0, actor=cli_actor(),
                              form_repeat=repeat, event_repeat=event_repeat, today=day)
            return
        except crf.Invalid as exc:  # drop what a cross-check refuses; the rest is saved
            values = {k: v for k, v in values.items() if k not in exc.errors}
        except crf.FormProblem:
            return


def make_subject(app, site, user, *, years: int, aes: int, cms: int, n_queries: int):
    from edc.cli import cli_actor
    from edc.crf import services as crf
    from edc.extensions import db
    from edc.models import User
    from edc.queries import services as queries
    from edc.subjects.services import create_subject
    from edc.uow import unit_of_work
    from forms.study_build import BUILD
    from tests.conftest import mark_enrolled

    with unit_of_work():
        subject = create_subject(site, actor=cli_actor(), created_by_id=user.id)
    sid = subject.id
    infusion = date(2011, 3, 1)
    for event in BUILD.events:
        if event.oid in ("LOG", "UNSCHED", "ENROL"):
            continue
        if event.oid.startswith("Y") and int(event.oid[1:]) > years:
            continue
        if event.oid == "APHER":
            mark_enrolled(sid)
            subject = db.session.get(type(subject), sid)
        day = infusion + timedelta(days=event.day if event.day is not None else -20)
        for n, form_oid in enumerate(event.forms):
            _save(subject, event.oid, form_oid, day, rank=n)
    for n in range(1, aes + 1):
        _save(subject, "LOG", "AE", infusion + timedelta(days=n * 30), repeat=n, rank=n)
    for n in range(1, cms + 1):
        _save(subject, "LOG", "CM", infusion + timedelta(days=n * 20), repeat=n, rank=n)
    dm = db.session.scalar(db.select(User).where(User.username == "dm"))
    saved = list(crf.casebook(subject))
    with unit_of_work():
        for n in range(n_queries):
            event, er, form, fr = saved[n % len(saved)]
            queries.open_query(subject, queries.Place(event, form, None, er, fr),
                               f"Please check this form against the source ({n}).",
                               user=dm, actor=cli_actor())
    return sid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--aes", type=int, default=50)
    ap.add_argument("--cms", type=int, default=100)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--archive", type=int, default=50)
    ap.add_argument("--sites-subjects", default="20,200")
    args = ap.parse_args()

    from edc.admin.services import create_site, create_user
    from edc.cli import cli_actor, init_database
    from edc.extensions import db
    from edc.models import Job, Subject
    from edc.review import casebook
    from edc.security import Role
    from edc.uow import unit_of_work

    tmp = Path(tempfile.mkdtemp(prefix="edc-bench-casebook-"))
    app = _app(f"sqlite:///{tmp / 'bench.sqlite'}", tmp, "")
    with app.app_context():
        init_database()
        with unit_of_work():
            site = create_site(code="TJ", name="Tianjin", timezone="Asia/Shanghai",
                               actor=cli_actor())
            users = {r: create_user(username=r.value, full_name=f"Bench {r.label}", email="",
                                    role=r, site_codes=[] if r.all_sites else ["TJ"],
                                    password="bench-password-2026", actor=cli_actor())[0]
                     for r in Role}
        t0 = time.perf_counter()
        sid = make_subject(app, site, users[Role.CRC], years=args.years, aes=args.aes,
                           cms=args.cms, n_queries=args.queries)
        print(f"subject built in {time.perf_counter() - t0:.1f} s")
        subject = db.session.get(Subject, sid)
        out = tmp / "casebook.pdf"
        t0 = time.perf_counter()
        with unit_of_work():
            casebook.record(subject, actor=cli_actor(), purpose="bench")
        with TreeSampler() as mem:
            made = casebook.render(subject, out, show_pii=False, generated_by="bench")
        took = time.perf_counter() - t0
        print(f"casebook PDF: {made.pages} pages, {made.entries} audit entries, "
              f"{out.stat().st_size / 1e6:.1f} MB in {took:.1f} s; {mem.line()}")

        if args.archive:
            for _ in range(args.archive - 1):
                make_subject(app, site, users[Role.CRC], years=args.years, aes=args.aes,
                             cms=args.cms, n_queries=args.queries)
            from edc.jobs import queue, services

            dm = users[Role.DM]
            with unit_of_work():
                job_id = services.request_job("casebook_archive", user=dm,
                                              actor=cli_actor(), site=site).id
            db.session.close()
            t0 = time.perf_counter()
            with TreeSampler() as mem:
                queue().run_job(job_id)
            took = time.perf_counter() - t0
            job = db.session.get(Job, job_id)
            print(f"site archive of {args.archive} subjects: {job.state}, {took:.1f} s "
                  f"({took / args.archive:.1f} s a subject), "
                  f"{Path(job.result_path).stat().st_size / 1e6:.0f} MB; {mem.line()}")
    sizes = [int(x) for x in args.sites_subjects.split(",") if x]
    _lists(tmp, sizes)


def _lists(tmp: Path, sizes: list[int]) -> None:
    """Statements per page of the query list and the SDV worklist, by number of subjects."""
    from sqlalchemy import event

    from edc.admin.services import create_site, create_user
    from edc.cli import cli_actor, init_database
    from edc.crf.services import save_form
    from edc.extensions import db
    from edc.queries import services as queries
    from edc.security import Role
    from edc.subjects.services import create_subject
    from edc.uow import unit_of_work

    rows = []
    for n in sizes:
        app = _app(f"sqlite:///{tmp / f'lists{n}.sqlite'}", tmp, str(n))
        with app.app_context():
            init_database()
            with unit_of_work():
                site = create_site(code="TJ", name="Tianjin", timezone="Asia/Shanghai",
                                   actor=cli_actor())
                dm, _ = create_user(username="dm", full_name="Bench DM", email="",
                                    role=Role.DM, site_codes=[],
                                    password="bench-password-2026", actor=cli_actor())
            for _ in range(n):
                with unit_of_work():
                    s = create_subject(site, actor=cli_actor(), created_by_id=dm.id)
                    save_form(s, "SCREEN", "LB", {"LBDAT": "2026-11-20", "HGB": "100",
                                                  "PLT": "200"}, version=0, actor=cli_actor())
                    queries.open_query(s, queries.Place("SCREEN", "LB"), "check",
                                       user=dm, actor=cli_actor())
        from tests.conftest import login

        client = app.test_client()
        assert login(client, "dm", "bench-password-2026").status_code == 302
        with app.app_context():
            engine = db.engine
        for url in ("/queries", "/monitoring/sdv"):
            count = 0

            def bump(*_a, **_k):
                nonlocal count
                count += 1

            event.listen(engine, "before_cursor_execute", bump)
            t0 = time.perf_counter()
            assert client.get(url).status_code == 200
            took = time.perf_counter() - t0
            event.remove(engine, "before_cursor_execute", bump)
            rows.append((n, url, count, took))
    print("subjects  page              statements  time")
    for n, url, count, took in rows:
        print(f"{n:8d}  {url:16s}  {count:10d}  {took * 1000:6.0f} ms")


if __name__ == "__main__":
    os.environ.setdefault("EDC_PDF_WORKERS", "2")
    main()
