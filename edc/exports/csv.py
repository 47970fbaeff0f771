"""The CSV export: one file per form (one row per form instance, coded values with their
labels beside them), a long item-level file, the subjects, the data dictionary of every
metadata version, queries, SDV and signatures, and for an incremental export the removed
values. UTF-8, comma-separated, CRLF line ends (RFC 4180), a header row in each file.

Values are written as stored (ISO dates, codes, numbers as entered): these files are read by
programs, so nothing is prefixed; the data dictionary says each column's type.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

from edc import deidentify
from edc.exports import dataset
from edc.exports.dataset import Scope, SubjectRecord
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

    def close(self, sp: Spool) -> None:
        self.fh.close()
        sp.count(self.name, self.rows)


def write(scope: Scope, subjects: Iterable[SubjectRecord], sp: Spool, progress) -> None:
    wide: dict[str, tuple[_Table, list]] = {}
    for form in BUILD.forms.values():
        cols = dataset.columns(form.oid)
        header = list(KEYS)
        for item in cols:
            header.append(item.name)
            if item.codelist:
                header.append(f"{item.name}_DECODE")
        wide[form.oid] = (_Table(sp, f"forms/{form.oid}.csv", header), cols)
    subjects_t = _Table(sp, "subjects.csv", ["SITE", "SUBJECT", "SCREENING", "STATUS",
                                             "AGE_AT_CONSENT", "COHORT"])
    items_t = _Table(sp, "items.csv", ["SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT",
                                       "FORM", "FORM_REPEAT", "ITEM", "VALUE", "DECODE", "UNIT",
                                       "LAST_CHANGE_SEQ", "LAST_CHANGE_UTC", "LAST_CHANGE_BY"])
    queries_t = _Table(sp, "queries.csv", ["QUERY_ID", "SITE", "SUBJECT", "SCREENING", "EVENT",
                                           "EVENT_REPEAT", "FORM", "FORM_REPEAT", "ITEM",
                                           "ORIGIN", "STATE", "OPENED_UTC", "UPDATED_UTC",
                                           "MESSAGES"])
    sdv_t = _Table(sp, "sdv.csv", ["SITE", "SUBJECT", "SCREENING", "EVENT", "EVENT_REPEAT",
                                   "FORM", "FORM_REPEAT", "ITEM", "SDV_STATE", "CHANGED_UTC"])
    sign_t = _Table(sp, "signatures.csv", ["SITE", "SUBJECT", "SCREENING", "SIGNED_SCOPE",
                                           "MEANING", "SIGNER", "ROLE", "SIGNED_UTC", "SEQ"])
    removed_t = _Table(sp, "removals.csv", ["SITE", "SUBJECT", "SCREENING", "EVENT",
                                            "EVENT_REPEAT", "FORM", "FORM_REPEAT", "ITEM",
                                            "REMOVED_UTC", "SEQ"]) \
        if scope.since is not None else None
    for n, s in enumerate(subjects, 1):
        ident = [s.site_code, s.subject_number or "", s.screening_number]
        subjects_t.add([*ident, s.status, "" if s.age is None else s.age,
                        s.value("DX", "COHORT") or ""])
        for f in s.forms:
            table, cols = wide[f.form_oid]
            key = _key(s, f)
            version = f.metadata_version
            row = [*key, version, f.version, f.status]
            items = f.items
            for item in cols:
                value = items.get(item.name)
                row.append(value or "")
                if item.codelist:
                    row.append(dataset.decode(item, value, version))
            table.add(row)
            where = [*key[:5], f.form_oid, f.form_repeat]
            facts = f.facts
            for name, value in items.items():
                item = f.item(name)
                fact = facts.get(name)
                items_t.add([*where, name, value, dataset.decode(item, value, version),
                             (item.unit if item else None) or "",
                             fact.seq if fact else "", utc_time(fact.ts) if fact else "",
                             (fact.username or "") if fact else ""])
        for q in s.queries:
            queries_t.add([q.id, *ident, q.event_oid, q.event_repeat, q.form_oid,
                           q.form_repeat, q.item_oid or "", q.origin, q.state,
                           utc_time(q.opened_utc), utc_time(q.updated_utc), q.messages])
        for key, state, ts in s.sdv:
            sdv_t.add([*ident, *key, state, utc_time(ts)])
        for sig in s.signatures:
            sign_t.add([*ident, sig.target, sig.meaning, sig.username or "", sig.role or "",
                        utc_time(sig.ts), sig.seq])
        if removed_t is not None:
            for key, ts, seq in s.removals:
                removed_t.add([*ident, *key, utc_time(ts), seq])
        progress(n)
    for table, _ in wide.values():
        table.close(sp)
    for t in (subjects_t, items_t, queries_t, sdv_t, sign_t, removed_t):
        if t is not None:
            t.close(sp)
    _dictionary(sp)


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
