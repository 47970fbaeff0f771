"""The CDISC ODM 1.3.2 export: ``Study`` with one ``MetaDataVersion`` per version of the study
build (events, forms, item groups, items with their questions in English and Chinese, units,
code lists), ``AdminData`` (users, sites, signature meanings) and ``ClinicalData`` — one per
metadata version, holding the form instances entered under it — with each value's
``AuditRecord`` (who set it, where, when, why, and the audit sequence as ``SourceID``) and the
valid ``Signature``s of forms, visits and casebooks.

A full export is a ``Snapshot`` file; an incremental one (``since``) is ``Transactional``:
changed form instances are ``Upsert``s and removed values ``Remove``s. The file is written
as text a subject at a time (memory stays bounded), with no generation time inside: the
snapshot's time is ``AsOfDateTime`` and ``CreationDateTime``.
"""

from __future__ import annotations

from functools import partial
from xml.sax.saxutils import escape, quoteattr

from edc.exports.dataset import FormRecord, Scope, Snapshot, SubjectRecord
from edc.exports.spool import Spool
from edc.extensions import db
from edc.models import Site
from edc.study import current_study
from forms.metadata import Item, StudyBuild
from forms.study_build import BUILD, BUILDS, CHANGES

NS = "http://www.cdisc.org/ns/odm/v1.3"
FILE = "study.odm.xml"
SIGNATURE_DEFS = {
    "eligibility": "SD.ELIGIBILITY", "casebook": "SD.CASEBOOK", "form": "SD.FORM",
    "visit": "SD.VISIT",
}


def _a(**attrs) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None)


def _iso(ts) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"


def mdv_oid(version: str) -> str:
    return f"MDV.{version}"


def _data_type(item: Item) -> tuple[str, int | None]:
    if item.loq:  # "<0.5": a qualified result is not a number
        return "text", 20
    if item.type == "date":
        return ("partialDate" if item.partial else "date"), None
    if item.type == "code":
        return "text", max(len(c) for c in BUILD.codelists[item.codelist].codes) \
            if item.codelist in BUILD.codelists else 40
    if item.type == "text":
        return "text", item.max_length
    return item.type, None


def _value(item: Item | None, value: str) -> str:
    """ODM's form of a stored value: a partial date drops its unknown parts."""
    if item is not None and item.type == "date" and "UN" in value:
        return value.replace("-UN", "")
    return value


def _tt(text: str, zh: str = "") -> str:
    out = f'<TranslatedText xml:lang="en">{escape(text)}</TranslatedText>'
    if zh:
        out += f'<TranslatedText xml:lang="zh">{escape(zh)}</TranslatedText>'
    return out


def _units() -> list[str]:
    units = set()
    for build in BUILDS.values():
        for form in build.forms.values():
            units.update(i.unit for i in form.items if i.unit)
    return sorted(units)


def unit_oid(unit: str) -> str:
    return "MU." + "".join(ch if ch.isalnum() else "_" for ch in unit)


def metadata(build: StudyBuild) -> str:
    """One ``MetaDataVersion`` generated from the study build."""
    out = [f"<MetaDataVersion{_a(OID=mdv_oid(build.version), Name=f'Study build {build.version}', Description=CHANGES.get(build.version))}>"]  # noqa: E501
    out.append("<Protocol>")
    for n, event in enumerate(build.events, 1):
        out.append(f'<StudyEventRef{_a(StudyEventOID=f"SE.{event.oid}", OrderNumber=n, Mandatory="No")}/>')  # noqa: E501
    out.append("</Protocol>")
    for event in build.events:
        kind = "Scheduled" if event.day is not None or event.oid in ("SCREEN", "ENROL") \
            else "Unscheduled" if event.oid == "UNSCHED" else "Common"
        out.append(f'<StudyEventDef{_a(OID=f"SE.{event.oid}", Name=event.name, Repeating="Yes" if event.repeatable else "No", Type=kind)}>')  # noqa: E501
        for n, form_oid in enumerate(event.forms, 1):
            out.append(f'<FormRef{_a(FormOID=f"F.{form_oid}", OrderNumber=n, Mandatory="No")}/>')  # noqa: E501
        out.append("</StudyEventDef>")
    groups = []
    for form in build.forms.values():
        out.append(f'<FormDef{_a(OID=f"F.{form.oid}", Name=form.name, Repeating="Yes" if form.repeating else "No")}>')  # noqa: E501
        out.append(f"<Description>{_tt(form.name, form.name_zh)}</Description>")
        for n, group in enumerate(form.item_groups(), 1):
            out.append(f'<ItemGroupRef{_a(ItemGroupOID=group.oid, OrderNumber=n, Mandatory="Yes")}/>')  # noqa: E501
            groups.append((form, group))
        out.append("</FormDef>")
    for form, group in groups:
        out.append(f'<ItemGroupDef{_a(OID=group.oid, Name=group.name, Repeating="No", Domain=form.oid)}>')  # noqa: E501
        for n, item in enumerate(group.items, 1):
            out.append(f'<ItemRef{_a(ItemOID=item.oid(form.oid), OrderNumber=n, Mandatory="Yes" if item.required else "No")}/>')  # noqa: E501
        out.append("</ItemGroupDef>")
    for form in build.forms.values():
        for item in form.items:
            data_type, length = _data_type(item)
            sds = (item.sdtm or "").split(":")[-1].split(".")[-1] or None
            out.append(f'<ItemDef{_a(OID=item.oid(form.oid), Name=item.name, DataType=data_type, Length=length, SDSVarName=sds if sds and len(sds) <= 8 else None)}>')  # noqa: E501
            note = " (identifying: withheld from exports)" if item.pii else ""
            out.append(f"<Question>{_tt(item.label + note, item.label_zh)}</Question>")
            if item.unit:
                out.append(f'<MeasurementUnitRef{_a(MeasurementUnitOID=unit_oid(item.unit))}/>')
            if item.codelist:
                out.append(f'<CodeListRef{_a(CodeListOID=f"CL.{item.codelist}")}/>')
            if item.cdash:
                out.append(f'<Alias{_a(Context="CDASH", Name=item.cdash)}/>')
            if item.sdtm:
                out.append(f'<Alias{_a(Context="SDTM", Name=item.sdtm)}/>')
            if item.derived:
                out.append(f'<Alias{_a(Context="derivation", Name=item.derived)}/>')
            out.append("</ItemDef>")
    for cl in build.codelists.values():
        out.append(f'<CodeList{_a(OID=f"CL.{cl.oid}", Name=cl.oid, DataType="text")}>')
        for code, en, zh in cl.terms:
            out.append(f"<CodeListItem{_a(CodedValue=code)}><Decode>{_tt(en, zh)}</Decode>"
                       "</CodeListItem>")
        out.append("</CodeList>")
    out.append("</MetaDataVersion>")
    return "".join(out)


def _refs(username: str | None, site_code: str | None) -> str:
    user, site = "USR." + (username or "system"), "LOC." + (site_code or "STUDY")
    return f"<UserRef{_a(UserOID=user)}/><LocationRef{_a(LocationOID=site)}/>"


def _audit_record(fact) -> str:
    reason = f"<ReasonForChange>{escape(fact.reason)}</ReasonForChange>" if fact.reason else ""
    return (f"<AuditRecord>{_refs(fact.username, fact.site_code)}"
            f"<DateTimeStamp>{_iso(fact.ts)}</DateTimeStamp>{reason}"
            f"<SourceID>{fact.source_id}</SourceID></AuditRecord>")


def _signature(sig) -> str:
    family = sig.target.split(":")[0]
    return (f"<Signature>{_refs(sig.username, sig.site_code)}"
            f'<SignatureRef{_a(SignatureOID=SIGNATURE_DEFS.get(family, "SD.FORM"))}/>'
            f"<DateTimeStamp>{_iso(sig.ts)}</DateTimeStamp></Signature>")


class _Collected:
    def __init__(self):
        self.users: set[str] = set()
        self.meanings: dict[str, str] = {}


def _form(rec: FormRecord, sigs: dict, removals: dict, transactional: bool,
          seen: _Collected) -> str:
    form = rec.form
    upsert = ' TransactionType="Upsert"' if transactional else ""
    out = [f'<FormData{_a(FormOID=f"F.{rec.form_oid}", FormRepeatKey=rec.form_repeat)}{upsert}>']  # noqa: E501
    sig = sigs.get(f"form:{rec.event_oid}.{rec.event_repeat}.{rec.form_oid}.{rec.form_repeat}")
    if rec.form_oid == "EX" and rec.event_oid == "SCREEN":
        sig = sig or sigs.get("eligibility")
    if sig:
        out.append(_signature(sig))
    gone = removals.get(rec.key, ())
    for group in form.item_groups():
        names = [i.name for i in group.items if i.name in rec.items or i.name in gone]
        if not names:
            continue
        out.append(f'<ItemGroupData{_a(ItemGroupOID=group.oid)}{upsert}>')
        for name in names:
            item = form.item(name)
            fact = rec.facts.get(name)
            if name in rec.items:
                body = _audit_record(fact) if fact else ""
                out.append(f'<ItemData{_a(ItemOID=item.oid(rec.form_oid), Value=_value(item, rec.items[name]))}{upsert}>{body}</ItemData>')  # noqa: E501
            else:
                body = _audit_record(fact) if fact else ""
                out.append(f'<ItemData{_a(ItemOID=item.oid(rec.form_oid))} TransactionType="Remove">{body}</ItemData>')  # noqa: E501
            if fact:
                seen.users.add(fact.username or "system")
        out.append("</ItemGroupData>")
    out.append("</FormData>")
    return "".join(out)


def _subject(s: SubjectRecord, forms: list[FormRecord], transactional: bool,
             seen: _Collected, *, newest: bool) -> str:
    """The subject's ``SubjectData`` in one ``ClinicalData`` (one per metadata version);
    the casebook signature goes with the newest version the subject has data under."""
    sigs = {sig.target: sig for sig in s.signatures}
    for sig in s.signatures:
        seen.users.add(sig.username or "system")
        seen.meanings.setdefault(SIGNATURE_DEFS.get(sig.target.split(":")[0], "SD.FORM"),
                                 sig.meaning)
    removals: dict[tuple, set] = {}
    for key, _, _ in s.removals:
        removals.setdefault(key[:4], set()).add(key[4])
    upsert = ' TransactionType="Upsert"' if transactional else ""
    out = [f"<SubjectData{_a(SubjectKey=s.label)}{upsert}>"]
    if newest and "casebook" in sigs:
        out.append(_signature(sigs["casebook"]))
    out.append(f'<SiteRef{_a(LocationOID=f"LOC.{s.site_code}")}/>')
    current = None
    for rec in forms:
        event_key = (rec.event_oid, rec.event_repeat)
        if event_key != current:
            if current is not None:
                out.append("</StudyEventData>")
            current = event_key
            out.append(f'<StudyEventData{_a(StudyEventOID=f"SE.{rec.event_oid}", StudyEventRepeatKey=rec.event_repeat)}{upsert}>')  # noqa: E501
            if sig := sigs.get(f"visit:{rec.event_oid}.{rec.event_repeat}"):
                out.append(_signature(sig))
        out.append(_form(rec, sigs, removals, transactional, seen))
    if current is not None:
        out.append("</StudyEventData>")
    out.append("</SubjectData>\n")
    return "".join(out)


def render(transactional: bool, s: SubjectRecord
           ) -> tuple[list[tuple[str, str]], set[str], dict[str, str]]:
    """A subject's ``SubjectData`` under each metadata version it has data under, with the
    users and signature meanings it names (for ``AdminData``). Run where the subject is
    rebuilt (``Snapshot.rendered``): it returns plain data."""
    seen = _Collected()
    by_version: dict[str, list[FormRecord]] = {}
    for rec in s.forms:
        by_version.setdefault(rec.metadata_version, []).append(rec)
    if not by_version:  # registered, nothing entered yet: listed under the active one
        by_version[BUILD.version] = []
    last = max(by_version)
    pieces = [(version, _subject(s, forms, transactional, seen, newest=version == last))
              for version, forms in by_version.items()]
    return pieces, seen.users, seen.meanings


def write(scope: Scope, subjects: Snapshot, sp: Spool, progress) -> None:
    transactional = scope.since is not None
    study = current_study()
    seen = _Collected()
    # closed in the finally below
    parts = {v: open(sp.root / f".clinical-{v}.part", "w+", encoding="utf-8")  # noqa: SIM115
             for v in BUILDS}
    counts = dict.fromkeys(BUILDS, 0)
    try:
        for n, (pieces, users, meanings) in enumerate(
                subjects.rendered(partial(render, transactional)), 1):
            for version, text in pieces:
                parts[version].write(text)
                counts[version] += 1
            seen.users |= users
            for oid, meaning in meanings.items():  # the first subject's wording stands
                seen.meanings.setdefault(oid, meaning)
            progress(n)
        with sp.open(FILE) as out:
            when = _iso(scope.as_of_time)
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            out.write(f'<ODM xmlns="{NS}"'
                      f'{_a(FileType="Transactional" if transactional else "Snapshot", Granularity="All", FileOID=f"EXPORT.{study.oid}.SEQ{scope.as_of}" + (f".SINCE{scope.since}" if transactional else ""), CreationDateTime=when, AsOfDateTime=when, ODMVersion="1.3.2", Originator="CAR-T EDC", SourceSystem="cart-edc", SourceSystemVersion=f"audit sequence {scope.as_of}")}>\n')  # noqa: E501
            out.write(f"<Study{_a(OID=study.oid)}><GlobalVariables>"
                      f"<StudyName>{escape(study.name)}</StudyName>"
                      f"<StudyDescription>{escape(study.name)}</StudyDescription>"
                      f"<ProtocolName>{escape(study.oid)}</ProtocolName></GlobalVariables>")
            out.write("<BasicDefinitions>")
            for unit in _units():
                out.write(f"<MeasurementUnit{_a(OID=unit_oid(unit), Name=unit)}>"
                          f"<Symbol>{_tt(unit)}</Symbol></MeasurementUnit>")
            out.write("</BasicDefinitions>\n")
            for build in sorted(BUILDS.values(), key=lambda b: b.version):
                out.write(metadata(build) + "\n")
            out.write("</Study>\n<AdminData>")
            for user in sorted(seen.users):
                out.write(f'<User{_a(OID=f"USR.{user}")}><LoginName>{escape(user)}</LoginName>'
                          "</User>")
            sites = {s.code: s for s in db.session.query(Site)}
            for code in scope.sites:
                site = sites.get(code)
                out.write(f'<Location{_a(OID=f"LOC.{code}", Name=site.name if site else code, LocationType="Site")}>')  # noqa: E501
                for build in sorted(BUILDS.values(), key=lambda b: b.version):
                    out.write(f'<MetaDataVersionRef{_a(StudyOID=study.oid, MetaDataVersionOID=mdv_oid(build.version), EffectiveDate=study.created_at.date().isoformat())}/>')  # noqa: E501
                out.write("</Location>")
            for oid, meaning in sorted(seen.meanings.items()):
                out.write(f'<SignatureDef{_a(OID=oid, Methodology="Electronic")}>'
                          f"<Meaning>{escape(meaning)}</Meaning><LegalReason>21 CFR Part 11: "
                          "electronic signature by user ID and password</LegalReason>"
                          "</SignatureDef>")
            out.write("</AdminData>\n")
            for version in sorted(parts):
                if not counts[version]:
                    continue
                out.write(f"<ClinicalData{_a(StudyOID=study.oid, MetaDataVersionOID=mdv_oid(version))}>\n")  # noqa: E501
                part = parts[version]
                part.seek(0)
                for block in iter(lambda p=part: p.read(1 << 16), ""):
                    out.write(block)
                out.write("</ClinicalData>\n")
            out.write("</ODM>\n")
        sp.count(FILE, sum(counts.values()))
    finally:
        for part in parts.values():
            part.close()

