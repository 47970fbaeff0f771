"""The one dataset behind every sponsor export: the study as of one audit sequence number,
site-scoped and de-identified.

An export is a snapshot at ``as_of`` (the newest entry, or an earlier one). Each subject is
rebuilt from its own audit entries up to that sequence (the replay of ``audit.replay``, one
subject at a time, so memory stays bounded by the largest subject, not by the study). Because
the entries up to a sequence never change, the same snapshot gives the same rows however
much is saved later: that is what makes an export reproducible byte for byte.

Identifying items (the ``pii`` flag, through ``edc.deidentify``) never leave this module:
the birth date becomes the age at consent in whole years, initials and record numbers are
dropped with their audit facts. The writers (csv, odm, xpt, datasetjson) see only this.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import String, select, type_coerce

from audit.models import AuditEntry
from edc import deidentify
from edc.extensions import db
from edc.models import Site, Subject
from edc.security import ALL_SITES
from edc.study import sites_in
from forms import scores
from forms.metadata import CodeList, Form, Item
from forms.study_build import BUILD, BUILDS

FORMATS = {
    "csv": "CSV (one file per form, item-level file, data dictionary, queries, SDV)",
    "odm": "CDISC ODM 1.3.2 XML (metadata, clinical data, audit records, signatures)",
    "xpt": "SAS transport v5 SDTM-like datasets with a define-style description",
    "json": "CDISC Dataset-JSON 1.1 SDTM-like datasets with a define-style description",
}
#: formats whose files are whole-study tabulations: an incremental (--since) export of
#: them would not be a dataset a pipeline could load, so they take no --since
TABULATIONS = ("xpt", "json")

_ACTIONS = ("subject.create", "subject.update", "data.create", "data.update", "data.remove",
            "form.save", "query.open", "query.answer", "query.close", "query.reopen",
            "query.auto_close", "query.auto_reopen", "sdv.verify", "sdv.unverify",
            "signature.sign", "signature.invalidate")
_VALUES = frozenset(("data.create", "data.update"))
# the time as the driver gives it (``_ts`` parses SQLite's text), the rest as stored
_COLUMNS = (AuditEntry.seq, type_coerce(AuditEntry.ts, String), AuditEntry.action,
            AuditEntry.username, AuditEntry.role, AuditEntry.site_id, AuditEntry.site_code,
            AuditEntry.event_oid, AuditEntry.event_repeat, AuditEntry.form_oid,
            AuditEntry.item_oid, AuditEntry.repeat_key, AuditEntry.target_id,
            AuditEntry.new_value, AuditEntry.reason, AuditEntry.details)


class ExportProblem(Exception):
    """A request for an export that cannot be made as asked; ``field`` names the input."""

    status = 422

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Scope:
    """What one export covers: the snapshot (``as_of`` with its hash and time), the sites,
    and for an incremental export the sequence after which changes are taken."""

    format: str
    as_of: int
    head_hash: str
    as_of_time: datetime
    sites: tuple[str, ...]  # the site codes covered, sorted
    since: int | None = None
    chosen_sites: bool = False  # sites named by the requester (else: all they may see)

    def describe(self) -> dict:
        return {"format": self.format, "as_of_seq": self.as_of, "chain_head": self.head_hash,
                "sites": list(self.sites), "since_seq": self.since}


def head() -> int | None:
    """The sequence number of the newest audit entry (of any site)."""
    return db.session.execute(
        select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)
        .execution_options(all_sites=True)).scalar()


def resolve(fmt: str, *, sites=None, as_of=None, since=None, scope=ALL_SITES) -> Scope:
    """Check a request and fix its snapshot. ``scope`` is the requester's site scope;
    a site outside it answers like an unknown one (nothing is said about sites one may
    not see)."""
    if fmt not in FORMATS:
        raise ExportProblem("format", f"unknown format {fmt[:20]!r}: one of {', '.join(FORMATS)}")
    newest = head()
    if newest is None:
        raise ExportProblem("as_of", "the audit trail is empty: nothing to export")
    as_of = _sequence("as_of", as_of, newest)
    since = _sequence("since", since, newest)
    if as_of is None:
        as_of = newest
    if since is not None:
        if fmt in TABULATIONS:
            raise ExportProblem("since", f"the {fmt} datasets are whole-study tabulations: "
                                         "an incremental export is csv or odm")
        if since >= as_of:
            raise ExportProblem("since", f"must be before the snapshot's sequence {as_of}")
    row = db.session.execute(select(AuditEntry.hash, AuditEntry.ts).where(
        AuditEntry.seq == as_of).execution_options(all_sites=True)).one()
    codes = {s.code: s for s in sites_in(scope)}
    chosen = [str(c).strip().upper() for c in (sites or []) if str(c).strip()]
    for code in chosen:
        if code not in codes:
            raise ExportProblem("site", f"{code[:16]!r} is not one of your sites")
    covered = tuple(sorted(set(chosen) if chosen else codes))
    if not covered:
        raise ExportProblem("site", "you may see no site")
    return Scope(fmt, as_of, row.hash, row.ts, covered, since, bool(chosen))


def _sequence(name: str, raw, head: int) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        seq = int(str(raw).strip())
    except ValueError:
        raise ExportProblem(name, "must be an audit sequence number") from None
    if seq < 1:
        raise ExportProblem(name, "must be 1 or more")
    if seq > head:
        raise ExportProblem(name, f"is beyond the newest audit entry ({head})")
    return seq


# ---- the records one subject gives ------------------------------------------------------

class Fact(NamedTuple):
    """Who set a value, when and why: an ODM ``AuditRecord``."""

    seq: int
    ts: datetime
    action: str
    username: str | None
    role: str | None
    site_code: str | None
    reason: str | None

    @property
    def source_id(self) -> str:
        return f"audit-{self.seq}"


@dataclass
class FormRecord:
    event_oid: str
    event_repeat: int
    form_oid: str
    form_repeat: int
    metadata_version: str = BUILD.version
    version: int = 0
    status: str = "incomplete"
    items: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Fact] = field(default_factory=dict)
    last_seq: int = 0

    @property
    def key(self) -> tuple:
        return (self.event_oid, self.event_repeat, self.form_oid, self.form_repeat)

    @property
    def form(self) -> Form:
        return BUILDS.get(self.metadata_version, BUILD).form(self.form_oid)

    def item(self, name: str) -> Item | None:
        return item_def(self.form_oid, name, self.metadata_version)

    @property
    def date(self) -> str | None:
        name = BUILD.forms[self.form_oid].date_item
        return self.items.get(name) if name else None


@dataclass
class QueryRecord:
    id: int
    event_oid: str
    event_repeat: int
    form_oid: str
    form_repeat: int
    item_oid: str | None
    origin: str
    state: str
    opened_utc: datetime
    updated_utc: datetime
    messages: int = 1


@dataclass
class SignatureRecord:
    target: str
    meaning: str
    username: str | None
    role: str | None
    site_code: str | None
    ts: datetime
    seq: int


@dataclass
class SubjectRecord:
    id: int
    site_code: str
    screening_number: str
    subject_number: str | None
    status: str
    age: int | None = None
    forms: list[FormRecord] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)
    sdv: list[tuple[tuple, str, datetime]] = field(default_factory=list)
    signatures: list[SignatureRecord] = field(default_factory=list)
    removals: list[tuple[tuple, str, int]] = field(default_factory=list)
    last_seq: int = 0

    @property
    def label(self) -> str:
        return self.subject_number or self.screening_number

    def first(self, form_oid: str, event_oid: str = "SCREEN") -> FormRecord | None:
        return next((f for f in self.forms if f.form_oid == form_oid
                     and f.event_oid == event_oid), None)

    def value(self, form_oid: str, item: str, event_oid: str = "SCREEN") -> str | None:
        rec = self.first(form_oid, event_oid)
        return rec.items.get(item) if rec else None


_ORDER = {e.oid: n for n, e in enumerate(BUILD.events)}


def _form_order(rec: FormRecord) -> tuple:
    event = BUILD.event(rec.event_oid) if rec.event_oid in _ORDER else None
    form_rank = event.forms.index(rec.form_oid) if event and rec.form_oid in event.forms else 99
    return (_ORDER.get(rec.event_oid, 999), rec.event_repeat, form_rank, rec.form_repeat)


def _ts(value) -> datetime:
    """A time read without the ORM's type processing: SQLite gives its ISO text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def rebuild(subject_id: int, as_of: int, since: int | None, sites: dict[int, str]
            ) -> SubjectRecord | None:
    """One subject as of ``as_of``, from its audit entries alone (None if it did not exist
    then). Identifying items are taken out here, after the age at consent is worked out."""
    # the export's hot loop: a plain read of the subject's entries (tuples, no ORM loading
    # and no type processing: the time is parsed here, only where a record keeps it),
    # fetched at once (one subject's entries: a few thousand rows)
    rows = db.session.connection().execute(
        select(*_COLUMNS).where(AuditEntry.subject_id == subject_id,
                                AuditEntry.seq <= as_of, AuditEntry.action.in_(_ACTIONS))
        .order_by(AuditEntry.seq)).fetchall()
    subject: SubjectRecord | None = None
    forms: dict[tuple, FormRecord] = {}
    queries: dict[int, QueryRecord] = {}
    sdv: dict[tuple, tuple[str, datetime]] = {}
    signatures: dict[str, SignatureRecord | None] = {}
    removals = []
    for (seq, ts, action, username, role, site_id, site_code, event_oid, event_repeat,
         form_oid, item_oid, repeat_key, target_id, new_value, reason, details) in rows:
        if subject is None:
            if action == "subject.create":
                subject = SubjectRecord(subject_id, sites.get(site_id, site_code or ""),
                                        new_value, None, "screening")
                subject.last_seq = seq
            continue
        subject.last_seq = seq
        if action in _VALUES:  # most entries: a value entered or changed
            key = (event_oid, event_repeat or 1, form_oid, int(repeat_key or 1))
            rec = forms.get(key)
            if rec is None:
                rec = forms[key] = FormRecord(*key)
            rec.last_seq = seq
            rec.items[item_oid] = new_value
            rec.facts[item_oid] = Fact(seq, _ts(ts), action, username, role, site_code,
                                       reason)
            continue
        if action == "subject.update":
            if item_oid == "site_id":
                subject.site_code = sites.get(int(new_value), subject.site_code)
            elif item_oid in ("subject_number", "status", "screening_number"):
                setattr(subject, item_oid, new_value)
            continue
        if action == "signature.sign":
            _, _, meaning = (new_value or "").partition(": ")  # "signer: meaning"
            signatures[item_oid] = SignatureRecord(item_oid, meaning or new_value or "",
                                                   username, role, site_code, _ts(ts), seq)
            continue
        if action == "signature.invalidate":
            signatures[item_oid] = None
            continue
        if action == "subject.create":
            continue
        key = (event_oid, event_repeat or 1, form_oid, int(repeat_key or 1))
        if action.startswith("query."):
            qid = int(target_id)
            q = queries.get(qid)
            if q is None:
                origin = json.loads(details or "{}").get("origin", "manual")
                q = queries[qid] = QueryRecord(qid, *key, item_oid, origin, new_value,
                                               _ts(ts), _ts(ts), 0)
            q.state, q.updated_utc = new_value, _ts(ts)
            q.messages += 1
            continue
        if action.startswith("sdv."):
            sdv[(*key, item_oid)] = (new_value, _ts(ts))
            continue
        rec = forms.get(key)
        if rec is None:
            rec = forms[key] = FormRecord(*key)
        rec.last_seq = seq
        if action == "form.save":
            saved = json.loads(details or "{}")
            rec.version = int((new_value or "version 0").split()[-1])
            rec.status = saved.get("status", rec.status)
            rec.metadata_version = saved.get("metadata_version", rec.metadata_version)
        elif action == "data.remove":
            rec.items.pop(item_oid, None)
            rec.facts[item_oid] = Fact(seq, _ts(ts), action, username, role, site_code,
                                       reason)
            if since is not None and seq > since:
                removals.append(((*key, item_oid), _ts(ts), seq))
    if subject is None:
        return None
    subject.age = _age(forms)
    for rec in forms.values():
        rec.items = deidentify.without(rec.form_oid, rec.items)
        rec.facts = deidentify.without(rec.form_oid, rec.facts)
    subject.forms = sorted((f for f in forms.values() if f.version or f.items),
                           key=_form_order)
    subject.queries = sorted(queries.values(), key=lambda q: q.id)
    subject.sdv = sorted(((k, state, ts) for k, (state, ts) in sdv.items()),
                         key=lambda row: tuple(str(x) for x in row[0]))
    subject.signatures = sorted((s for s in signatures.values() if s is not None),
                                key=lambda s: s.seq)
    subject.removals = [r for r in removals if deidentify.without(r[0][2], {r[0][4]: r})]
    return subject


def _age(forms: dict[tuple, FormRecord]) -> int | None:
    """Whole years from birth to consent; None when either is missing or not a full date."""
    dm = forms.get(("SCREEN", 1, "DM", 1))
    ic = forms.get(("SCREEN", 1, "IC", 1))
    try:
        birth = date.fromisoformat(dm.items["BRTHDAT"])
        consent = date.fromisoformat(ic.items["RFICDAT"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    age = scores.age_years(birth, consent)
    return age if 0 <= age < 150 else None


def subjects(scope: Scope, listed: list[tuple]) -> Iterator[SubjectRecord]:
    """The subjects of ``listed`` (the snapshot's ``roster``) as of the snapshot; for an
    incremental export only those with a change after ``since`` (and of them only the
    changed form instances)."""
    sites = site_codes()
    for site_code, _, subject_id in listed:
        rec = rebuild(subject_id, scope.as_of, scope.since, sites)
        if rec is None or rec.site_code != site_code:
            continue
        if scope.since is not None:
            rec.forms = [f for f in rec.forms if f.last_seq > scope.since]
            if not rec.forms and not rec.removals and rec.last_seq <= scope.since:
                continue
        yield rec


def site_codes() -> dict[int, str]:
    return {s.id: s.code for s in db.session.scalars(select(Site))}


def roster(scope: Scope, *, scope_ids=ALL_SITES) -> list[tuple]:
    """(site code, screening number, subject id) of the subjects at the scope's sites as
    of the snapshot, sorted: registration and site moves read from the trail."""
    sites = site_codes()
    visible = select(Subject.id)
    if scope_ids is ALL_SITES:
        visible = visible.execution_options(all_sites=True)
    allowed = set(db.session.scalars(visible))
    where: dict[int, list] = {}
    for e in db.session.execute(
            select(AuditEntry.subject_id, AuditEntry.action, AuditEntry.item_oid,
                   AuditEntry.new_value, AuditEntry.site_id)
            .where(AuditEntry.action.in_(("subject.create", "subject.update")),
                   AuditEntry.seq <= scope.as_of)
            .order_by(AuditEntry.seq).execution_options(all_sites=True)):
        if e.subject_id not in allowed:
            continue
        if e.action == "subject.create":
            where[e.subject_id] = [sites.get(e.site_id, ""), e.new_value]
        elif e.item_oid == "site_id" and e.subject_id in where:
            where[e.subject_id][0] = sites.get(int(e.new_value), "")
    return sorted((code, number, sid) for sid, (code, number) in where.items()
                  if code in scope.sites)


# ---- the metadata the writers share --------------------------------------------------------

@cache
def item_def(form_oid: str, name: str, version: str | None = None) -> Item | None:
    """The item's definition under ``version`` (else the newest version that has it)."""
    builds = [BUILDS[version]] if version in BUILDS else []
    builds += sorted(BUILDS.values(), key=lambda b: b.version, reverse=True)
    for build in builds:
        form = build.forms.get(form_oid)
        if form is not None and name in form.item_names:
            return form.item(name)
    return None


def columns(form_oid: str) -> list[Item]:
    """A form's exportable items across every metadata version: the active version's in
    form order, then items only older versions have. Identifying items are not among them."""
    seen: dict[str, Item] = {}
    for build in sorted(BUILDS.values(), key=lambda b: b.version, reverse=True):
        form = build.forms.get(form_oid)
        for item in form.items if form else ():
            if item.name not in seen and not deidentify.identifying(form_oid, item.name):
                seen[item.name] = item
    return list(seen.values())


def decode(item: Item | None, value: str | None, version: str | None = None) -> str:
    """The English label of a coded value ("" for other items)."""
    if item is None or not item.codelist or value is None:
        return ""
    codelist = codelist_of(item.codelist, version)
    return codelist.label(value) if codelist else ""


@cache
def codelist_of(name: str | None, version: str | None = None) -> CodeList | None:
    """The code list ``name`` (an item's) under ``version``, else the active version's."""
    if not name:
        return None
    return BUILDS.get(version or "", BUILD).codelists.get(name) or BUILD.codelists.get(name)
