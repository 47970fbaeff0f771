"""The study build's outputs that are records: the annotated CRF handed out."""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

from flask import current_app

import audit
from audit import Actor
from edc.config import REPO_ROOT
from edc.extensions import db
from forms.acrf import acrf_html, render_acrf
from forms.metadata import StudyBuild


def acrf_file(build: StudyBuild) -> Path:
    """The blank annotated CRF of ``build`` as a file, laid out once and kept.

    The layout takes 2–3 s of CPU and gives the same bytes every time for the same HTML
    and renderer, so the file is named by both (a new build or a new WeasyPrint makes a
    new file) and a download is a file read, not layout in a web worker. `edc init` and
    `edc demo` make it ahead of the first download. It is written under a temporary name
    and renamed, so two first downloads at once never read half a file."""
    text = acrf_html(build)
    key = hashlib.sha256(f"{version('weasyprint')}\n{text}".encode()).hexdigest()[:24]
    folder = Path(current_app.config.get("EDC_CACHE_DIR") or REPO_ROOT / "instance" / "cache")
    path = folder / f"acrf-{build.version}-{key}.pdf"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, part = tempfile.mkstemp(dir=folder, prefix=path.stem, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            render_acrf(build, fh, text)
        os.replace(part, path)
    finally:
        if os.path.exists(part):  # the render failed or was interrupted
            os.unlink(part)
    return path


def record_acrf(build: StudyBuild, *, actor: Actor) -> None:
    """Audit a blank annotated CRF before it is handed out. The caller commits."""
    audit.record(db.session, "build.acrf_pdf", actor=actor,
                 details={"metadata_version": build.version})
