"""The study build's outputs that are records: the annotated CRF handed out."""

from __future__ import annotations

import audit
from audit import Actor
from edc.extensions import db
from forms.metadata import StudyBuild


def record_acrf(build: StudyBuild, *, actor: Actor) -> None:
    """Audit a blank annotated CRF before it is handed out. The caller commits."""
    audit.record(db.session, "build.acrf_pdf", actor=actor,
                 details={"metadata_version": build.version})
