"""The study bench/load.py runs against: a fresh PostgreSQL database with site TJ, a
coordinator, a monitor and a data manager (API tokens), and screened subjects whose lab form
is entered once."""

from __future__ import annotations

import os
from pathlib import Path

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Load-bench-2026!"  # noqa: S105 - a throwaway database's accounts


def new_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def study(url: str, anchor: Path, subjects: int) -> dict:
    """Migrate; site TJ; a coordinator, a monitor and a data manager with API tokens;
    ``subjects`` screened subjects, each with its lab form entered once."""
    from edc import create_app
    from edc.admin import services as admin
    from edc.auth.tokens import issue
    from edc.cli import cli_actor, init_database
    from edc.crf.services import save_form
    from edc.extensions import db
    from edc.security import Role
    from edc.subjects.services import create_subject

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load-bench",
                      "EDC_AUDIT_KEY_FILE": str(anchor / "key.pem"),
                      "EDC_AUDIT_CHECKPOINT_LOG": str(anchor / "checkpoints.jsonl")})
    with app.app_context():
        init_database()
        actor = cli_actor()
        site = admin.create_site(code="TJ", name="Tianjin", timezone="Asia/Shanghai",
                                 actor=actor)
        users = {role: admin.create_user(username=role.value, full_name=f"Load {role.label}",
                                         email="", role=role, site_codes=["TJ"],
                                         password=PASSWORD, actor=actor)[0]
                 for role in (Role.CRC, Role.CRA, Role.DM)}
        ids = []
        for _ in range(subjects):
            subject = create_subject(site, actor=actor, created_by_id=users[Role.CRC].id)
            save_form(subject, "SCREEN", "LB", {"LBDAT": "2026-11-20", "HGB": "120"},
                      version=0, actor=actor)
            ids.append(subject.id)
        tokens = {role.value: issue(user, label="load", actor=actor)[1]
                  for role, user in users.items()}
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"subjects": ids, "tokens": tokens}
