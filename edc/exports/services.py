"""Making a sponsor export: the files of one format from the snapshot (a long read that holds
no write lock), the audit entry that names them with their SHA-256 (a short unit of work of
the caller's), and the zip with ``manifest.json``.

The boundary (CLI, API, job) calls, in this order::

    scope = resolve(...)                     # bad input: ExportProblem, nothing written
    with spool() as sp:
        files = prepare(scope, sp, ...)       # reads in a snapshot
        with unit_of_work(): record(...)      # who, scope, format, as-of, SHA-256 of each file
        pack(sp, manifest(...), out, ...)     # or stream(...) for a download
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

import audit
from audit import Actor
from audit.clock import utcnow
from edc.exports import csv, dataset, datasetjson, odm, xpt
from edc.exports.dataset import ExportProblem, Scope, resolve
from edc.exports.spool import Spool, pack, spool, stream
from edc.extensions import db
from edc.security import ALL_SITES
from edc.timefmt import utc_time
from forms.study_build import BUILD, BUILDS

WRITERS: dict[str, Callable] = {"csv": csv.write, "odm": odm.write, "xpt": xpt.write,
                                "json": datasetjson.write}
SUFFIX = {"csv": "csv", "odm": "odm", "xpt": "xpt", "json": "dataset-json"}

__all__ = ["ExportProblem", "Scope", "resolve", "prepare", "record", "manifest", "spool",
           "pack", "stream", "file_name"]


def prepare(scope: Scope, sp: Spool, *, scope_ids=ALL_SITES,
            progress: Callable[[int, int], None] | None = None,
            workers: int | None = None) -> list[dict]:
    """Write the format's files into ``sp`` and describe them (name, bytes, rows, SHA-256).
    Reads only: the caller holds no transaction open for writing while this runs. Subjects
    may be rebuilt in ``workers`` other processes while this one writes (by default
    ``EDC_EXPORT_WORKERS``)."""
    listed = dataset.roster(scope, scope_ids=scope_ids)
    report = progress or (lambda done, total: None)
    report(0, len(listed))
    if workers is None:
        workers = current_app.config.get("EDC_EXPORT_WORKERS", 0)
    WRITERS[scope.format](scope, dataset.Snapshot(scope, listed, workers=workers), sp,
                          lambda done: report(done, len(listed)))
    return sp.described()


def record(scope: Scope, files: list[dict], *, actor: Actor, via: str) -> None:
    """The export's audit entry (the caller's unit of work commits it)."""
    audit.record(db.session, "export.create", actor=actor, target_type="export",
                 target_id=f"{scope.format}@{scope.as_of}", new_value=scope.format,
                 details={**scope.describe(), "via": via,
                          "files": {f["file"]: f["sha256"] for f in files}})


def manifest(scope: Scope, files: list[dict], *, generated_by: str) -> dict:
    return {
        "export": dataset.FORMATS[scope.format],
        "format": scope.format,
        "as_of_seq": scope.as_of,
        "as_of_utc": utc_time(scope.as_of_time),
        "chain_head": scope.head_hash,
        "since_seq": scope.since,
        "sites": list(scope.sites),
        "metadata_versions": sorted(BUILDS),
        "active_metadata_version": BUILD.version,
        "identifying_data": "withheld (items flagged pii; birth date as age at consent)",
        "generated_at_utc": utc_time(utcnow()),
        "generated_by": generated_by,
        "files": files,
    }


def file_name(scope: Scope) -> str:
    since = f"-since{scope.since}" if scope.since is not None else ""
    sites = "-".join(scope.sites) if scope.chosen_sites else "all-sites"
    return f"export-{SUFFIX[scope.format]}-{sites}-seq{scope.as_of}{since}.zip"
