"""The subject casebook as a PDF/A document, through the one PDF pipeline (audit/pdf.py).

Every event and form instance with its values (code lists decoded in English and Chinese,
units, derived values with their rule version), its SDV state, its queries with their
threads, the signatures with their manifestation (printed name, UTC and site time, meaning,
status), then the subject's whole audit trail (screening and subject numbers alike).
Bookmarks by event and form; every page headed with study, site, subject, who generated it,
when, and the chain head it covers; "Page n of m". Identifying values only for roles that
may see them (edc/deidentify.py). Generation is audited and anchored by a signed checkpoint
before the document is made.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

import audit
from audit import Actor
from audit.clock import utcnow
from audit.pdf import CHUNK_ENTRIES, Header, _chunks, _prewrap, chunk_html, page_css
from edc import anchor, deidentify, scratch, signatures
from edc.crf.casebook import build_of
from edc.extensions import db
from edc.i18n import both
from edc.models import AuditEntry, FormData, ItemData, Query, Signature, Subject
from edc.review import sdv
from edc.study import current_study
from edc.timefmt import local_time, utc_time
from edc.trail.services import TrailFilter, iter_presented, pdf_legend
from edc.uow import read_only
from edc_pdf import LayoutPool, render_documents
from forms.study_build import BUILD
from forms.text import N_

EXTRA_CSS = """
body { font-size: 8pt; }
h1 { font-size: 12pt; margin: 0 0 4pt; bookmark-level: 1; }
h2 { font-size: 10pt; margin: 8pt 0 3pt; bookmark-level: 2; }
h3 { font-size: 8.5pt; margin: 4pt 0 2pt; bookmark-level: none; }
col.l { width: 38%; } col.v { width: 37%; } col.s { width: 25%; }
.zh { color: #333; }
.meta { color: #333; margin: 0 0 3pt; }
.thread { margin: 2pt 0 4pt 8pt; white-space: pre-wrap; overflow-wrap: anywhere; }
"""
WIDTH = 70  # characters a value cell takes before it is wrapped ahead of layout


@dataclass(frozen=True)
class Data:
    """Everything the document reads, loaded in a fixed number of statements."""

    forms: list[FormData]
    values: dict[tuple, dict[str, str]]
    rules: dict[tuple, dict[str, str]]
    queries: dict[tuple, list[Query]]
    sdv: dict[tuple, sdv.InstanceSdv]
    signatures: list[signatures.Shown]


def _load(subject: Subject) -> Data:
    forms = sorted(db.session.scalars(select(FormData).where(FormData.subject_id == subject.id)),
                   key=lambda f: (_event_order(f.event_oid), f.event_repeat, f.form_oid,
                                  f.form_repeat))
    values: dict[tuple, dict] = defaultdict(dict)
    rules: dict[tuple, dict] = defaultdict(dict)
    for r in db.session.scalars(select(ItemData).where(ItemData.subject_id == subject.id,
                                                       ItemData.removed.is_(False))):
        key = (r.event_oid, r.event_repeat, r.form_oid, r.form_repeat)
        values[key][r.item_oid] = r.value
        if r.rule_version:
            rules[key][r.item_oid] = r.rule_version
    queries: dict[tuple, list] = defaultdict(list)
    for q in db.session.scalars(select(Query).where(Query.subject_id == subject.id)
                                .order_by(Query.id).options(selectinload(Query.messages))):
        queries[(q.event_oid, q.event_repeat, q.form_oid, q.form_repeat)].append(q)
    marks = {i.key: i for i in sdv.for_subject(subject)}
    shown = []
    for target in sorted({s.target for s in db.session.scalars(
            select(Signature).where(Signature.subject_id == subject.id))}):
        shown.extend(signatures.shown(subject, target))
    return Data(forms, values, rules, queries, marks, shown)


_ORDER = {e.oid: i for i, e in enumerate(BUILD.events)}


def _event_order(event_oid: str) -> int:
    return _ORDER.get(event_oid, len(_ORDER))


# the headings, printed in English and Chinese (edc.i18n.both): the casebook is one file
# whoever reads it
HEADINGS = {
    "version": N_("Version"), "metadata": N_("Metadata version"),
    "nothing": N_("nothing to verify"), "required": N_("required"), "item": N_("Item"),
    "value": N_("Value"), "derivation": N_("Derivation · SDV"), "query": N_("Query"),
    "whole_form": N_("whole form"), "edit_check": N_("edit check"), "casebook": N_("Casebook"),
    "casebook_of": N_("Casebook of subject %(subject)s"), "signatures": N_("Signatures"),
    "none": N_("None."),
}


def _h(key: str, **params) -> str:
    return both(HEADINGS[key], **params)


def _e(text) -> str:
    return html.escape(str(text)) if text is not None else ""


def _doc(body: str, left: str, right: str, title: str) -> str:
    css = page_css(left, right, EXTRA_CSS)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}"
            f"</title><style>{css}</style></head><body>{body}</body></html>")


def _value_text(build, form, item, value: str | None, vals: dict, show_pii: bool) -> str:
    if value is None:
        return "—"
    shown = deidentify.value(form.oid, item.name, value, allowed=show_pii)
    if shown != value:
        return shown
    if item.codelist and item.codelist in build.codelists:
        return build.codelists[item.codelist].both(value)
    unit = vals.get(item.unit_item) if item.unit_item else item.unit
    return f"{value} {unit}" if unit else value


def _signature_html(s: signatures.Shown) -> str:
    r = s.row
    return (f"<p class=meta>{_e(r.signer_name)} ({_e(r.signer_role)}) · "
            f"{_e(utc_time(r.signed_at))} · {_e(local_time(r.signed_at, r.timezone))} · "
            f"“{_e(r.meaning)}” · <b>{_e(both(s.status))}</b>"
            + (f" ({_e(r.invalidated_reason)})" if r.invalidated_reason else "")
            + f" · content SHA-256 {_e(r.content_hash[:16])}…</p>")


def _instance_html(fd: FormData, data: Data, show_pii: bool) -> str:
    key = (fd.event_oid, fd.event_repeat, fd.form_oid, fd.form_repeat)
    build = build_of(fd)
    form = build.form(fd.form_oid)
    vals = data.values.get(key, {})
    rules = data.rules.get(key, {})
    marks = data.sdv.get(key)
    by_item = {i.item: i for i in marks.items} if marks else {}
    title = form.name + (f" #{fd.form_repeat}" if fd.form_repeat > 1 else "")
    parts = [f"<h2>{_e(title)} <span class=zh>{_e(form.name_zh)}</span></h2>",
             f"<p class=meta>{_e(_h('version'))} {fd.version} · {_e(both(fd.status))} · "
             f"{_e(_h('metadata'))} {_e(fd.metadata_version)} · SDV: "
             f"{_e(both(marks.state if marks else HEADINGS['nothing']))}"
             + (f" ({_e(_h('required'))}: {_e(marks.required)})"
                if marks and marks.required else "")
             + "</p>",
             f"<table><col class=l><col class=v><col class=s><thead><tr>"
             f"<th>{_e(_h('item'))}</th><th>{_e(_h('value'))}</th>"
             f"<th>{_e(_h('derivation'))}</th></tr></thead><tbody>"]
    for item in form.items:
        value = vals.get(item.name)
        if value is None and not item.required:
            continue
        text = _prewrap(_value_text(build, form, item, value, vals, show_pii), WIDTH)
        note = []
        if item.derived:
            note.append(both(N_("computed · rule %(rule)s"), rule=rules.get(item.name, "—")))
        if (mark := by_item.get(item.name)) is not None:
            if mark.state == "verified":
                note.append(both(N_("verified by %(name)s %(when)s"),
                                 name=mark.mark.verified_by_name,
                                 when=utc_time(mark.mark.verified_at)))
            elif mark.state == "changed":
                note.append(both(N_("changed since verified")))
            else:
                note.append(both(N_("not verified")))
        parts.append(f"<tr><td>{_e(item.label)}<br><span class=zh>{_e(item.label_zh)}</span>"
                     f"</td><td>{_e(text)}</td><td>{_e(' · '.join(note))}</td></tr>")
    parts.append("</tbody></table>")
    for q in data.queries.get(key, []):
        parts.append(f"<h3>{_e(_h('query'))} #{q.id} · "
                     f"{_e(q.item_oid or _h('whole_form'))} · {_e(both(q.state))}"
                     + (f" · {_e(_h('edit_check'))}" if q.origin == "system" else "")
                     + "</h3><div class=thread>")
        for m in q.messages:
            parts.append(f"{_e(utc_time(m.created_at))} {_e(m.author_name)} ({_e(m.kind)}): "
                         f"{_e(_prewrap(m.text, 150))}\n")
        parts.append("</div>")
    target = f"form:{fd.event_oid}.{fd.event_repeat}.{fd.form_oid}.{fd.form_repeat}"
    for s in data.signatures:
        if s.row.target == target:
            parts.append(_signature_html(s))
    return "".join(parts)


def documents(subject: Subject, *, show_pii: bool, header: Header,
              per_chunk: int = 12) -> Iterator[str]:
    """The casebook as HTML chunks: the cover, the events (a few form instances per chunk),
    then the audit trail."""
    data = _load(subject)
    left = (f"{header.study}\n{_h('casebook')}: {subject.site.code} · {subject.label}"
            f" ({subject.screening_number})")
    right = header.right()
    title = f"Casebook {subject.label}"
    cover = [f"<h1>{_e(_h('casebook_of', subject=subject.label))}"
             "</h1><table><col class=l><col class=v><col class=s><tbody>"]
    for label, value in (
            (N_("Screening number"), subject.screening_number),
            (N_("Subject number"), subject.subject_number or both(N_("not enrolled"))),
            (N_("Site"), f"{subject.site.code} — {subject.site.name}"),
            (N_("Status"), both(subject.status_label)),
            (N_("Forms"), str(len(data.forms))),
            (N_("Queries"), str(sum(len(v) for v in data.queries.values())))):
        cover.append(f"<tr><td>{_e(both(label))}</td><td>{_e(value)}</td><td></td></tr>")
    cover.append(f"</tbody></table><h2>{_e(_h('signatures'))}</h2>")
    cover.extend(_signature_html(s) for s in data.signatures)
    if not data.signatures:
        cover.append(f"<p class=meta>{_e(_h('none'))}</p>")
    yield _doc("".join(cover), left, right, title)

    events: dict[tuple, list[FormData]] = defaultdict(list)
    for fd in data.forms:
        events[(fd.event_oid, fd.event_repeat)].append(fd)
    for (event_oid, repeat), forms in events.items():
        event = BUILD.event(event_oid)
        name = event.name + (f" #{repeat}" if repeat > 1 else "")
        for n, batch in enumerate(_chunks(forms, per_chunk)):
            body = (f"<h1>{_e(name)} <span class=zh>{_e(event.name_zh)}</span></h1>"
                    if n == 0 else "") + "".join(
                _instance_html(fd, data, show_pii) for fd in batch)
            yield _doc(body, left, right, title)
    heading = both(N_("Audit trail of subject %(subject)s"), subject=subject.label)
    covers = both(N_("%(count)s entries, under the screening and the subject number, up to "
                     "the chain head %(head)s…"), count=header.count, head=header.head_hash[:16])
    yield _doc(f"<h1>{_e(heading)}</h1><p class=meta>{_e(covers)}</p>"
               f"<p class=meta>{_e(pdf_legend())}</p>", left, right, title)


@dataclass(frozen=True)
class Made:
    pages: int
    head_seq: int
    head_hash: str
    entries: int


def record(subject: Subject, *, actor: Actor, purpose: str = "download") -> None:
    """Audit the generation (before the document is made: it covers its own entry)."""
    audit.record(db.session, "casebook.export_pdf", actor=actor, subject=subject,
                 details={"purpose": purpose})


def render(subject: Subject, out, *, show_pii: bool, generated_by: str,
           workers: int | None = None, pool: LayoutPool | None = None) -> Made:
    """Write the casebook PDF of ``subject``. Call after the generation is audited and
    committed (``record``): the document covers the chain up to a signed checkpoint taken
    now, and says so on every page. An archive passes its ``pool`` of layout workers."""
    signed = anchor.checkpoint_now(db.session)
    with read_only():  # however long the layout, other users keep saving
        return _render(subject, out, signed, show_pii=show_pii, generated_by=generated_by,
                       workers=workers, pool=pool)


def _render(subject: Subject, out, signed, *, show_pii: bool, generated_by: str,
            workers: int | None, pool: LayoutPool | None) -> Made:
    trail = TrailFilter(subject_id=subject.id, upto_seq=signed.seq)
    count = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.subject_id == subject.id, AuditEntry.seq <= signed.seq))
    now = utcnow()
    header = Header(study=f"{current_study().name} ({current_study().oid})",
                    scope=f"subject {subject.label}, site {subject.site.code}",
                    generated_by=generated_by,
                    generated_at=f"{utc_time(now)} · {local_time(now, subject.site.timezone)}",
                    head_hash=signed.hash, count=count,
                    verification=f"chain head seq {signed.seq}", anchor=anchor.printed())
    audit_header = replace(header, scope=f"subject {subject.label} (casebook)")

    def all_documents() -> Iterator[str]:
        yield from documents(subject, show_pii=show_pii, header=header)
        rows = iter_presented(trail, show_pii)
        for batch in _chunks(rows, CHUNK_ENTRIES):
            yield chunk_html(batch, audit_header)

    pages = render_documents(all_documents(), out, title=f"Casebook {subject.label}",
                             workers=workers or current_app.config.get("EDC_PDF_WORKERS"),
                             scratch=scratch.folder(), pool=pool)
    return Made(pages, signed.seq, signed.hash, count)
