"""The study record this installation runs."""

from __future__ import annotations

from sqlalchemy import select

from edc.extensions import db
from edc.models import Study

STUDY_OID = "NCT06941129"
STUDY_NAME = "CD19/BCMA CAR-T in relapsed/refractory autoimmune disease"


def current_study() -> Study:
    study = db.session.scalar(select(Study).order_by(Study.id).limit(1))
    if study is None:
        raise LookupError("No study is loaded: run `edc init`.")
    return study


def ensure_study() -> Study:
    study = db.session.scalar(select(Study).order_by(Study.id).limit(1))
    if study is None:
        study = Study(oid=STUDY_OID, name=STUDY_NAME, is_demo=False)
        db.session.add(study)
        db.session.flush()
    return study
