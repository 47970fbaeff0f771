"""The CSV export: one file per form (one row per form instance, coded values with their
labels beside them), a long item-level file, the subjects, the data dictionary of every
metadata version, queries, SDV and signatures, and for an incremental export the removed
values. UTF-8, comma-separated, CRLF line ends (RFC 4180), a header row in each file.

Values are written as stored (ISO dates, codes, numbers as entered): these files are read by
programs, so nothing is prefixed; the data dictionary says each column's type.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache

from edc import deidentify
from edc.exports import dataset
from edc.exports.dataset import Scope, Snapshot, SubjectRecord, utc_text
from edc.exports.spool import Spool
from edc.timefmt import utc_time
from forms.study_build import BUILD, BUILDS

KEYS = ["SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT", "FORM_REPEAT",
        "METADATA_VERSION", "FORM_VERSION", "STATUS"]


def _key(s: SubjectRecord, f) -> list:
    return [s.site_code, s.subject_number or "", s.screening_number, f.event_oid,
            f.event_repeat, f.form_repeat]


class _Table:
    def __init__(self, sp: Spool, name: str, header: list[str]):
        self.name = name
        self.fh = sp.open(name)
        self.writer = csv.writer(self.fh)
        self.writer.writerow(header)
        self.rows = 0

    def add(self, row: list) -> None:
        self.writer.writerow(row)
        self.rows += 1

    def append(self, text: str, rows: int) -> None:
        """Rows already written as CSV text (``render``)."""
        self.fh.write(text)
        self.rows += rows

    def close(self, sp: Spool) -> None:
        self.fh.close()
        sp.count(self.name, self.rows)


class _Blank(dict):
    """The labels of a code list the metadata does not have: every decode is empty."""

    def get(self, key, default=None):
        return ""


_NONE = (None, "")
_NO_FACT = ("", "", "")


@lru_cache(maxsize=1024)
def _plan(form_oid: str, version: str, builds: tuple) -> tuple[list, dict]:
    """How a form instance entered under ``version`` is written, worked out once per form
    and version (``dataset.decode`` and ``item_def`` per value, without the lookups):
    the wide file's columns as (item, labels or None when the column has no decode), and
    the item-level file's (labels or None, unit) by item. ``builds`` names the metadata
    versions the plan was made under (a new version makes new plans)."""
    def labels(codelist_name: str | None):
        codelist = dataset.codelist_of(codelist_name, version)
        return {code: codelist.label(code) for code in codelist.codes} if codelist \
            else _Blank()

    wide_cols = [(item.name, labels(item.codelist) if item.codelist else None)
                 for item in dataset.columns(form_oid)]
    long_cols = {}
    for item in dataset.columns(form_oid):
        own = dataset.item_def(form_oid, item.name, version)
        long_cols[item.name] = (labels(own.codelist) if own and own.codelist else None,
                                (own.unit if own else None) or "")
    return wide_cols, long_cols


HEADERS = {
    "subjects.csv": ["SITE", "SUBJECT", "SCREENING", "STATUS", "AGE_AT_CONSENT", "COHORT"],
    "items.csv": ["SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT", "FORM",
                  "FORM_REPEAT", "ITEM", "VALUE", "DECODE", "UNIT", "LAST_CHANGE_SEQ",
                  "LAST_CHANGE_UTC", "LAST_CHANGE_BY"],
    "queries.csv": ["QUERY_ID", "SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT",
                    "FORM", "FORM_REPEAT", "ITEM", "ORIGIN", "STATE", "OPENED_UTC",
                    "UPDATED_UTC", "MESSAGES"],
    "sdv.csv": ["SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT", "FORM",
                "FORM_REPEAT", "ITEM", "SDV_STATE", "CHANGED_UTC"],
    "signatures.csv": ["SITE", "SUBJECT", "SCREENING", "SIGNED_SCOPE", "MEANING", "SIGNER",
                       "ROLE", "SIGNED_UTC", "SEQ"],
}
REMOVALS = ("removals.csv", ["SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT", "FORM",
                             "FORM_REPEAT", "ITEM", "REMOVED_UTC", "SEQ"])


def write(scope: Scope, subjects: Snapshot, sp: Spool, progress) -> None:
    tables: dict[str, _Table] = {}
    for form in BUILD.forms.values():
        header = list(KEYS)
        for item in dataset.columns(form.oid):
            header.append(item.name)
            if item.codelist:
                header.append(f"{item.name}_DECODE")
        tables[f"forms/{form.oid}.csv"] = _Table(sp, f"forms/{form.oid}.csv", header)
    headers = dict(HEADERS)
    if scope.since is not None:
        headers[REMOVALS[0]] = REMOVALS[1]
    for name, header in headers.items():
        tables[name] = _Table(sp, name, header)
    for n, pieces in enumerate(subjects.rendered(render), 1):
        for name, text, rows in pieces:
            tables[name].append(text, rows)
        progress(n)
    for table in tables.values():
        table.close(sp)
    _dictionary(sp)


def render(s: SubjectRecord) -> list[tuple[str, str, int]]:
    """A subject's rows of every file it has rows in: (file, CSV text, rows). Run where
    the subject is rebuilt (``Snapshot.rendered``): it returns plain text."""
    builds = tuple(map(id, BUILDS.values()))
    files: dict[str, list] = {}

    def rows_of(name: str) -> list:
        got = files.get(name)
        if got is None:
            got = files[name] = []
        return got

    ident = [s.site_code, s.subject_number or "", s.screening_number]
    rows_of("subjects.csv").append([*ident, s.status, "" if s.age is None else s.age,
                                    s.value("DX", "COHORT") or ""])
    long_rows = rows_of("items.csv")
    for f in s.forms:
        wide_cols, long_cols = _plan(f.form_oid, f.metadata_version, builds)
        key = _key(s, f)
        row = [*key, f.metadata_version, f.version, f.status]
        items = f.items
        for name, labels in wide_cols:
            value = items.get(name)
            row.append(value or "")
            if labels is not None:
                row.append("" if value is None else labels.get(value, value))
        rows_of(f"forms/{f.form_oid}.csv").append(row)
        where = [*key[:5], f.form_oid, f.form_repeat]
        facts = f.facts
        for name, value in items.items():
            labels, unit = long_cols.get(name, _NONE)
            fact = facts.get(name)
            long_rows.append([*where, name, value,
                              "" if labels is None else labels.get(value, value), unit,
                              *((fact.seq, utc_text(fact.stamp), fact.username or "") if fact
                                else _NO_FACT)])
    for q in s.queries:
        rows_of("queries.csv").append([
            q.id, *ident, q.event_oid, q.event_repeat, q.form_oid, q.form_repeat,
            q.item_oid or "", q.origin, q.state, utc_time(q.opened_utc),
            utc_time(q.updated_utc), q.messages])
    for key, state, ts in s.sdv:
        rows_of("sdv.csv").append([*ident, *key, state, utc_time(ts)])
    for sig in s.signatures:
        rows_of("signatures.csv").append([*ident, sig.target, sig.meaning, sig.username or "",
                                          sig.role or "", utc_time(sig.ts), sig.seq])
    for key, ts, seq in s.removals:
        rows_of(REMOVALS[0]).append([*ident, *key, utc_time(ts), seq])
    out = []
    for name, rows in files.items():
        if rows:
            buf = io.StringIO()
            csv.writer(buf).writerows(rows)
            out.append((name, buf.getvalue(), len(rows)))
    return out


def _dictionary(sp: Spool) -> None:
    t = _Table(sp, "dictionary.csv", [
        "METADATA_VERSION", "EVENTS", "FORM", "FORM_NAME", "ITEM_GROUP", "ITEM", "ITEM_OID",
        "LABEL", "TYPE", "UNIT", "CODELIST", "CODES", "REQUIRED", "CDASH", "SDTM", "DERIVED",
        "IN_EXPORT"])
    for build in sorted(BUILDS.values(), key=lambda b: b.version):
        for form in build.forms.values():
            events = " ".join(e.oid for e in build.events if form.oid in e.forms)
            for item in form.items:
                codes = ""
                if item.codelist:
                    codes = "; ".join(f"{c}={en}" for c, en, _ in
                                      build.codelists[item.codelist].terms)
                t.add([build.version, events, form.oid, form.name, item.group_oid(form.oid),
                       item.name, item.oid(form.oid), item.label, item.type, item.unit or "",
                       item.codelist or "", codes, "Y" if item.required else "N",
                       item.cdash or "", item.sdtm or "", item.derived or "",
                       "N (identifying)" if deidentify.identifying(form.oid, item.name)
                       else "Y"])
    t.close(sp)
