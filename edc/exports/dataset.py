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

import gc
import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, lru_cache, partial
from itertools import islice
from typing import NamedTuple, TypeVar

from sqlalchemy import (
    String,
    bindparam,
    create_engine,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.pool import NullPool

from audit.models import AuditEntry
from edc import deidentify, parallel
from edc.extensions import db
from edc.models import Site, Subject
from edc.security import ALL_SITES
from edc.study import sites_in
from edc.timefmt import utc_time
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
T = TypeVar("T")
# the time as the driver gives it (``_ts`` parses SQLite's text), the rest as stored
_COLUMNS = (AuditEntry.seq, type_coerce(AuditEntry.ts, String), AuditEntry.action,
            AuditEntry.username, AuditEntry.role, AuditEntry.site_id, AuditEntry.site_code,
            AuditEntry.event_oid, AuditEntry.event_repeat, AuditEntry.form_oid,
            AuditEntry.item_oid, AuditEntry.repeat_key, AuditEntry.target_id,
            AuditEntry.new_value, AuditEntry.reason, AuditEntry.details)


class WorkerStopped(RuntimeError):
    """A worker process of the export ended before it finished (killed, or out of memory):
    the export fails whole."""


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
    """Who set a value, when and why: an ODM ``AuditRecord``. The time is kept as the
    driver gave it (``stamp``) and parsed only when asked for: most facts are superseded
    by a later change before anything reads them."""

    seq: int
    stamp: datetime | str
    action: str
    username: str | None
    role: str | None
    site_code: str | None
    reason: str | None

    @property
    def source_id(self) -> str:
        return f"audit-{self.seq}"

    @property
    def ts(self) -> datetime:
        return _ts(self.stamp)


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


def utc_text(value) -> str:
    """``utc_time`` of a time read without type processing. SQLite's stored text
    (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC) already begins with what ``utc_time``
    writes, so it is cut rather than parsed (the export writes one per value)."""
    if isinstance(value, str) and len(value) >= 19 and value[10] == " ":
        return value[:19] + " UTC"
    return utc_time(_ts(value))


@lru_cache(maxsize=512)
def _saved(details: str | None) -> dict:
    """The details of a ``form.save`` entry (few distinct texts: read each once). The
    dict is shared: read it, do not change it."""
    return json.loads(details or "{}")


# the actions are written into the statement (fixed names of ours), so that it is compiled
# once per dialect with two parameters
_ENTRIES = select(*_COLUMNS).where(
    AuditEntry.subject_id == bindparam("subject_id"), AuditEntry.seq <= bindparam("as_of"),
    AuditEntry.action.in_([literal_column(f"'{a}'") for a in _ACTIONS])
).order_by(AuditEntry.seq)


_COMPILED: dict[tuple, object] = {}


def _entries(conn, subject_id: int, as_of: int) -> list[tuple]:
    """A subject's entries up to ``as_of`` that the rebuild reads, in sequence order, as
    the driver's plain tuples: no result rows are made (the export's hot read)."""
    dialect = conn.dialect
    compiled = _COMPILED.get((dialect.name, dialect.paramstyle))
    if compiled is None:
        compiled = _COMPILED[(dialect.name, dialect.paramstyle)] = _ENTRIES.compile(
            dialect=dialect)
    params = compiled.construct_params({"subject_id": subject_id, "as_of": as_of})
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def rebuild(subject_id: int, as_of: int, since: int | None, sites: dict[int, str],
            conn=None) -> SubjectRecord | None:
    """One subject as of ``as_of``, from its audit entries alone (None if it did not exist
    then), read through ``conn`` (the session's connection by default). Identifying items
    are taken out here, after the age at consent is worked out."""
    # the export's hot loop: a plain read of the subject's entries (tuples, no ORM loading
    # and no type processing: the time is parsed only where a record needs it), fetched at
    # once (one subject's entries: a few thousand rows)
    rows = _entries(conn or db.session.connection(), subject_id, as_of)
    subject: SubjectRecord | None = None
    forms: dict[tuple, FormRecord] = {}
    by_raw: dict[tuple, FormRecord] = {}  # the form of an entry's key columns as read
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
            rec = by_raw.get((event_oid, event_repeat, form_oid, repeat_key))
            if rec is None:
                key = (event_oid, event_repeat or 1, form_oid, int(repeat_key or 1))
                rec = forms.get(key)
                if rec is None:
                    rec = forms[key] = FormRecord(*key)
                by_raw[(event_oid, event_repeat, form_oid, repeat_key)] = rec
            rec.last_seq = seq
            rec.items[item_oid] = new_value
            rec.facts[item_oid] = Fact(seq, ts, action, username, role, site_code, reason)
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
            saved = _saved(details)
            rec.version = int((new_value or "version 0").split()[-1])
            rec.status = saved.get("status", rec.status)
            rec.metadata_version = saved.get("metadata_version", rec.metadata_version)
        elif action == "data.remove":
            rec.items.pop(item_oid, None)
            rec.facts[item_oid] = Fact(seq, ts, action, username, role, site_code, reason)
            if since is not None and seq > since:
                removals.append(((*key, item_oid), _ts(ts), seq))
    if subject is None:
        return None
    subject.age = _age(forms)
    withheld = deidentify.identifying_by_form()
    for rec in forms.values():
        if rec.form_oid in withheld:
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


class Snapshot:
    """The subjects of one export (``roster``) as of its snapshot, in roster order; for an
    incremental export only those with a change after ``since`` (and of them only the
    changed form instances). Iterating gives the records (``records``); a writer that
    turns each subject into text of its own can have that done where the subject is
    rebuilt (``rendered``), in ``workers`` other processes while it writes."""

    def __init__(self, scope: Scope, listed: list[tuple], *, workers: int = 0):
        self.scope = scope
        self.listed = listed
        self.workers = workers

    def __iter__(self) -> Iterator[SubjectRecord]:
        return self.records()

    def records(self) -> Iterator[SubjectRecord]:
        """Each subject's record, rebuilt in this process."""
        return self._in_process(None)

    def rendered(self, render: Callable[[SubjectRecord], T]) -> Iterator[T]:
        """``render(record)`` of each subject, in order. Rebuilding reads only entries up
        to the snapshot's sequence, which never change, so other processes with
        connections of their own rebuild the same records: with ``workers`` (and a
        database another process can open) chunks of subjects are rebuilt and rendered in
        worker processes, a bounded number of chunks ahead of the one being written, and
        the writer only appends what they give. ``render`` is a module-level function
        (it is sent to the workers by name) returning plain data."""
        scope = self.scope
        url = parallel.shared_url(db.session) \
            if self.workers > 0 and len(self.listed) >= PARALLEL_FROM else None
        if url is None:
            yield from self._in_process(render)
            return
        task = partial(_render_chunk, url, scope.as_of, scope.since, site_codes(), render)
        chunks = iter([[(sid, code) for code, _, sid in self.listed[i:i + CHUNK]]
                       for i in range(0, len(self.listed), CHUNK)])
        pool = ProcessPoolExecutor(self.workers, mp_context=parallel.context())
        try:
            pending = deque(pool.submit(task, c) for c in islice(chunks, self.workers * AHEAD))
            while pending:
                try:
                    done = pending.popleft().result()
                except BrokenProcessPool:
                    raise WorkerStopped(
                        "a worker process of the export stopped before it finished (it was "
                        "killed, or ran out of memory): nothing was exported") from None
                chunk = next(chunks, None)
                if chunk is not None:
                    pending.append(pool.submit(task, chunk))
                yield from (out for out in done if out is not None)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _in_process(self, render) -> Iterator:
        sites = site_codes()
        conn = db.session.connection()
        for site_code, _, sid in self.listed:
            with _acyclic():
                rec = _kept(rebuild(sid, self.scope.as_of, self.scope.since, sites, conn),
                            site_code, self.scope.since)
                out = rec if render is None or rec is None else render(rec)
            if out is not None:
                yield out


#: subjects below which working in other processes costs more than it saves
PARALLEL_FROM = 16
#: subjects per worker task, and tasks in flight per worker: what is held in memory at once
#: (finished subjects wait to be written in order)
CHUNK = 4
AHEAD = 2


def _kept(rec: SubjectRecord | None, site_code: str, since: int | None
          ) -> SubjectRecord | None:
    """The record as the export takes it: None for a subject not at ``site_code`` at the
    snapshot, or (incremental) with no change after ``since``."""
    if rec is None or rec.site_code != site_code:
        return None
    if since is not None:
        rec.forms = [f for f in rec.forms if f.last_seq > since]
        if not rec.forms and not rec.removals and rec.last_seq <= since:
            return None
    return rec


def _render_chunk(url: str, as_of: int, since: int | None, sites: dict[int, str], render,
                  chunk: list[tuple[int, str]]) -> list:
    """One worker's task: its own connection (a reader: no write lock), the chunk's
    subjects rebuilt and rendered (None for a subject the export does not take)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(read_only=True) as conn, conn.begin(), \
                _acyclic():
            out = []
            for sid, site_code in chunk:
                rec = _kept(rebuild(sid, as_of, since, sites, conn), site_code, since)
                out.append(None if rec is None else render(rec))
            return out
    finally:
        engine.dispose()


@contextmanager
def _acyclic() -> Iterator[None]:
    """No cyclic garbage collection while a subject is rebuilt: its records hold no
    reference cycles (reference counting frees them), and the collector would otherwise
    walk every object of the process again and again for the thousands it allocates."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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
