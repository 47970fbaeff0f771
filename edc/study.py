"""The study record this installation runs."""

from __future__ import annotations

from sqlalchemy import select

import audit
from edc.extensions import db
from edc.models import Site, Study
from edc.security import ALL_SITES

STUDY_OID = "NCT06941129"
STUDY_NAME = "CD19/BCMA CAR-T in relapsed/refractory autoimmune disease"


def current_study() -> Study:
    study = db.session.scalar(select(Study).order_by(Study.id).limit(1))
    if study is None:
        raise LookupError("No study is loaded: run `edc init`.")
    return study


def ensure_study(actor) -> Study:
    study = db.session.scalar(select(Study).order_by(Study.id).limit(1))
    if study is None:
        study = Study(oid=STUDY_OID, name=STUDY_NAME, is_demo=False)
        db.session.add(study)
        db.session.flush()
        audit.record(db.session, "study.create", actor=actor, target_type="study",
                     target_id=str(study.id), new_value=f"{STUDY_OID} {STUDY_NAME}")
    return study


def mark_demo(study: Study, actor) -> None:
    study.is_demo = True
    audit.record(db.session, "study.update", actor=actor, target_type="study",
                 target_id=str(study.id), item_oid="is_demo", old_value="False",
                 new_value="True", reason="synthetic demo study loaded by `edc demo`")


def sites_in(scope) -> list[Site]:
    """The sites of a site scope (a user's ``site_scope``: ALL_SITES or site ids), by code."""
    stmt = select(Site).order_by(Site.code)
    if scope is not ALL_SITES:
        stmt = stmt.where(Site.id.in_(sorted(scope)))
    return list(db.session.scalars(stmt))
