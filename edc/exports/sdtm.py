"""SDTM-like tabulations of the export dataset, shared by the SAS transport and Dataset-JSON
writers: DM, DS, EX, CM, MH, AE (special purpose, events and interventions) and the findings
LB, VS, FA (CRS and ICANS gradings) and QS (ECOG and the disease-activity scores), one row
per result.

Every variable's type and length is fixed here from the study build (never from the data),
so a dataset can be written while the subjects stream past, and the files stay within the
SAS transport v5 limits: names of 8 characters, labels of 40, character values of 200. A
value that would not fit is an error, never cut. Free text longer than 200 characters (the
lymphodepletion deviation note) is in the CSV and ODM exports only; ``define.csv`` says so.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from edc.exports import dataset
from edc.exports.dataset import FormRecord, Snapshot, SubjectRecord
from forms.metadata import Item
from forms.study_build import BUILD

MAX_CHAR = 200


@dataclass(frozen=True)
class Var:
    name: str
    label: str
    type: str = "char"  # char | num
    length: int = 8
    origin: str = ""

    def __post_init__(self):
        if len(self.name) > 8 or len(self.label) > 40 or not 1 <= self.length <= MAX_CHAR:
            raise ValueError(f"{self.name}: outside the SAS transport v5 limits")


@dataclass(frozen=True)
class Domain:
    name: str
    label: str
    vars: tuple[Var, ...]
    rows: Callable[[SubjectRecord, str], Iterator[dict]]
    keys: tuple[str, ...] = ("STUDYID", "USUBJID")


class TooLong(ValueError):
    pass


def _check(domain: Domain, row: dict) -> dict:
    for var in domain.vars:
        value = row.get(var.name)
        if var.type == "char" and value is not None and len(str(value)) > var.length:
            raise TooLong(f"{domain.name}.{var.name}: a value of {len(str(value))} characters "
                          f"does not fit its length {var.length}")
    return row


# ---- helpers -----------------------------------------------------------------------------

def dtc(value: str | None) -> str | None:
    """ISO 8601 as SDTM writes it: a partial date drops its unknown parts."""
    if not value:
        return None
    return value.replace("-UN", "")


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None  # a qualified result ("<0.5") stays in --ORRES only


_EVENT_ORDER = {e.oid: n for n, e in enumerate(BUILD.events, 1)}


def visitnum(rec: FormRecord) -> float:
    return _EVENT_ORDER.get(rec.event_oid, 0) + (rec.event_repeat - 1) / 100


def visit(rec: FormRecord) -> str:
    name = BUILD.event(rec.event_oid).name if rec.event_oid in _EVENT_ORDER else rec.event_oid
    return label(name + (f" #{rec.event_repeat}" if rec.event_repeat > 1 else ""))


_ASCII = str.maketrans({"≥": ">=", "≤": "<=", "–": "-", "—": "-", "µ": "u", "·": "-",
                        "×": "x", "’": "'", "‘": "'", "“": '"', "”": '"', "°": " deg",
                        "⁹": "9", "¹": "1", "²": "2", "³": "3"})


def label(text: str, width: int = 40) -> str:
    """A label as the transport files keep it: ASCII, at most ``width`` characters."""
    return text.translate(_ASCII).encode("ascii", "replace").decode()[:width].rstrip()


def testcd(name: str) -> str:
    return name[:8]


def _len(item: Item) -> int:
    if item.type == "text":
        return item.max_length
    if item.type == "code":
        return max(len(c) for c in BUILD.codelists[item.codelist].codes)
    if item.type == "date":
        return 10
    return 20


def _decode_len(item: Item) -> int:
    if item.type != "code":
        return _len(item)
    return max(len(en) for _, en, _ in BUILD.codelists[item.codelist].terms)


COMMON = (Var("STUDYID", "Study Identifier", length=20),
          Var("DOMAIN", "Domain Abbreviation", length=2),
          Var("USUBJID", "Unique Subject Identifier", length=40))


def _base(domain: str, s: SubjectRecord, study: str) -> dict:
    return {"STUDYID": study, "DOMAIN": domain, "USUBJID": f"{study}-{s.label}"}


# ---- findings: one row per result ---------------------------------------------------------

@dataclass(frozen=True)
class Findings:
    prefix: str
    forms: tuple[str, ...]
    obj: dict[str, str] | None = None  # FA: form -> the finding's object

    def items(self) -> dict[str, list[Item]]:
        """Per form, the items that become results: not dates or times, not identifying,
        not a range limit or unit kept beside its result, not longer than XPT allows."""
        out = {}
        for form_oid in self.forms:
            form = BUILD.forms[form_oid]
            keep = []
            for item in dataset.columns(form_oid):
                if item.type in ("date", "time") or _len(item) > MAX_CHAR:
                    continue
                if self.prefix == "LB" and _limit_of(form_oid, item.name):
                    continue
                keep.append(item)
            out[form.oid] = keep
        return out

    def vars(self) -> tuple[Var, ...]:
        p = self.prefix
        every = [i for items in self.items().values() for i in items]
        res = max(_len(i) for i in every)
        dec = max(_decode_len(i) for i in every)
        names = {testcd(i.name) for i in every}
        if len(names) != len({i.name for i in every}):
            raise ValueError(f"{p}: two test codes share their first 8 characters")
        out = [*COMMON, Var(f"{p}SEQ", "Sequence Number", "num"),
               Var(f"{p}TESTCD", "Short Name of Test", length=8),
               Var(f"{p}TEST", "Name of Test", length=40),
               Var(f"{p}CAT", "Category", length=40)]
        if self.obj:
            out.append(Var("FAOBJ", "Object of the Observation", length=40))
        out += [Var(f"{p}ORRES", "Result in Original Units", length=res),
                Var(f"{p}ORRESU", "Original Units", length=20),
                Var(f"{p}STRESC", "Result in Standard Format", length=max(res, dec))]
        out.append(Var(f"{p}STRESN", "Numeric Result in Standard Units", "num"))
        if p == "LB":
            out.append(Var("LBORNRHI", "Normal Range Upper Limit", length=20))
        out += [Var("VISITNUM", "Visit Number", "num"), Var("VISIT", "Visit Name", length=40),
                Var(f"{p}DTC", "Date of Collection", length=10),
                Var(f"{p}SPID", "Sponsor-Defined Identifier", length=20)]
        return tuple(out)

    def rows(self, s: SubjectRecord, study: str) -> Iterator[dict]:
        p = self.prefix
        items = self.items()
        seq = 0
        for rec in s.forms:
            if rec.form_oid not in items:
                continue
            form = BUILD.forms[rec.form_oid]
            when = dtc(rec.date)
            for item in items[rec.form_oid]:
                value = rec.items.get(item.name)
                if value is None:
                    continue
                seq += 1
                decoded = dataset.decode(item, value, rec.metadata_version)
                row = {**_base(p, s, study), f"{p}SEQ": seq, f"{p}TESTCD": testcd(item.name),
                       f"{p}TEST": label(item.label),
                       f"{p}CAT": label(form.group_names.get(item.group, (form.name,))[0]
                                        if item.group else form.name),
                       f"{p}ORRES": value, f"{p}ORRESU": _unit(rec, item),
                       f"{p}STRESC": decoded or value,
                       f"{p}STRESN": None if item.type == "code" else _num(value),
                       "VISITNUM": visitnum(rec), "VISIT": visit(rec), f"{p}DTC": when,
                       f"{p}SPID": f"{rec.form_oid}-{rec.form_repeat}"}
                if self.obj:
                    row["FAOBJ"] = self.obj[rec.form_oid]
                if p == "LB":
                    limit = rec.items.get(f"{item.name}ULN")
                    row["LBORNRHI"] = limit
                yield row


def _limit_of(form_oid: str, name: str) -> bool:
    """A normal-range limit (``ALTULN``) or unit (``CREATU``) kept beside its result."""
    names = set(BUILD.forms[form_oid].item_names)
    return (name.endswith("ULN") and name[:-3] in names) or (
        name.endswith("U") and name[:-1] in names)


def _unit(rec: FormRecord, item: Item) -> str | None:
    if item.unit_item:
        return rec.items.get(item.unit_item) or item.unit
    return item.unit


LB = Findings("LB", ("LB", "SR", "FC", "PG", "PK"))
VS = Findings("VS", ("VS",))
FA = Findings("FA", ("CRS", "ICANS"), {"CRS": "CYTOKINE RELEASE SYNDROME",
                                      "ICANS": "IMMUNE EFFECTOR CELL NEUROTOXICITY"})
QS = Findings("QS", ("EC", "DA", "DAF"))


# ---- special purpose, interventions, events ----------------------------------------------

def _dm_rows(s: SubjectRecord, study: str) -> Iterator[dict]:
    cohort = s.value("DX", "COHORT")
    infusion = next((f for f in s.forms if f.form_oid == "IF"), None)
    death = next((f for f in s.forms if f.form_oid == "DTH"), None)
    yield {**_base("DM", s, study), "SUBJID": s.subject_number or "",
           "SCRNID": s.screening_number, "SITEID": s.site_code,
           "AGE": s.age, "AGEU": "YEARS" if s.age is not None else None,
           "SEX": s.value("DM", "SEX"), "ETHNIC": s.value("DM", "ETHNIC"),
           "ARMCD": cohort, "ARM": dataset.decode(BUILD.forms["DX"].item("COHORT"), cohort)
           if cohort else None,
           "RFICDTC": dtc(s.value("IC", "RFICDAT")),
           "RFXSTDTC": dtc(infusion.items.get("IFDAT")) if infusion else None,
           "DTHFL": "Y" if death and death.items.get("DTHDAT") else None,
           "DTHDTC": dtc(death.items.get("DTHDAT")) if death else None,
           "STATUS": s.status}


DM = Domain("DM", "Demographics", (
    *COMMON, Var("SUBJID", "Subject Identifier for the Study", length=32),
    Var("SCRNID", "Screening Number", length=32), Var("SITEID", "Study Site Identifier"),
    Var("AGE", "Age at Informed Consent", "num", origin="derived: birth date to consent"),
    Var("AGEU", "Age Units", length=5), Var("SEX", "Sex", length=1),
    Var("ETHNIC", "Ethnicity", length=8), Var("ARMCD", "Cohort Code", length=8),
    Var("ARM", "Cohort", length=40), Var("RFICDTC", "Date of Informed Consent", length=10),
    Var("RFXSTDTC", "Date of CAR-T Infusion", length=10),
    Var("DTHFL", "Subject Death Flag", length=1), Var("DTHDTC", "Date of Death", length=10),
    Var("STATUS", "Subject Status in the EDC", length=16)), _dm_rows)


def _ds_rows(s: SubjectRecord, study: str) -> Iterator[dict]:
    events = [("INFORMED CONSENT OBTAINED", "PROTOCOL MILESTONE", s.value("IC", "RFICDAT")),
              ("ENROLLED", "PROTOCOL MILESTONE", s.value("EN", "ENDAT", "ENROL"))]
    eos = s.first("EOS", "EOS")
    if eos and eos.items.get("EOSDAT"):
        reason = dataset.decode(BUILD.forms["EOS"].item("EOSREAS"), eos.items.get("EOSREAS"))
        events.append(((reason or "END OF STUDY").upper(), "DISPOSITION EVENT",
                       eos.items["EOSDAT"]))
    dth = s.first("DTH", "LOG")
    if dth and dth.items.get("DTHDAT"):
        events.append(("DEATH", "DISPOSITION EVENT", dth.items["DTHDAT"]))
    seq = 0
    for term, cat, when in events:
        if when:
            seq += 1
            yield {**_base("DS", s, study), "DSSEQ": seq, "DSTERM": term[:60],
                   "DSDECOD": term[:60], "DSCAT": cat, "DSSTDTC": dtc(when)}


DS = Domain("DS", "Disposition", (
    *COMMON, Var("DSSEQ", "Sequence Number", "num"),
    Var("DSTERM", "Reported Term for the Disposition Event", length=60),
    Var("DSDECOD", "Standardized Disposition Term", length=60),
    Var("DSCAT", "Category for Disposition Event", length=30),
    Var("DSSTDTC", "Start Date/Time of Disposition Event", length=10)), _ds_rows)

_EX_UNIT = BUILD.forms["IF"].item("DOSETOT").unit


def _ex_rows(s: SubjectRecord, study: str) -> Iterator[dict]:
    seq = 0
    for rec in s.forms:
        doses = []
        if rec.form_oid == "LDD":
            doses = [("FLUDARABINE", rec.items.get("FLUADM"), "mg", rec.items.get("LDDAT")),
                     ("CYCLOPHOSPHAMIDE", rec.items.get("CYADM"), "mg", rec.items.get("LDDAT"))]
        elif rec.form_oid == "IF":
            doses = [("CD19/BCMA CAR-T CELLS", rec.items.get("DOSETOT"), _EX_UNIT,
                      rec.items.get("IFDAT"))]
        for treatment, dose, unit, when in doses:
            if dose is None:
                continue
            seq += 1
            yield {**_base("EX", s, study), "EXSEQ": seq, "EXTRT": treatment,
                   "EXDOSE": _num(dose), "EXDOSU": unit, "EXSTDTC": dtc(when),
                   "VISITNUM": visitnum(rec), "VISIT": visit(rec),
                   "EXSPID": f"{rec.form_oid}-{rec.form_repeat}"}


EX = Domain("EX", "Exposure", (
    *COMMON, Var("EXSEQ", "Sequence Number", "num"),
    Var("EXTRT", "Name of Treatment", length=40), Var("EXDOSE", "Dose", "num"),
    Var("EXDOSU", "Dose Units", length=20), Var("EXSTDTC", "Start Date of Treatment", length=10),
    Var("VISITNUM", "Visit Number", "num"), Var("VISIT", "Visit Name", length=40),
    Var("EXSPID", "Sponsor-Defined Identifier", length=20)), _ex_rows)


def _agent(rec: FormRecord, code_item: str, other_item: str) -> tuple[str | None, str | None]:
    """(reported name, dictionary code) of a coded agent; an agent typed under an older
    metadata version has no code."""
    value = rec.items.get(code_item)
    item = rec.item(code_item)
    if item is None or item.type != "code":
        return value, None
    if value == "OTHER":
        return rec.items.get(other_item) or value, value
    return dataset.decode(item, value, rec.metadata_version) or value, value


def _cm_rows(s: SubjectRecord, study: str) -> Iterator[dict]:
    seq = 0
    for rec in s.forms:
        if rec.form_oid == "CM":
            name, code = _agent(rec, "CMTRT", "CMTRTOTH")
            row = {"CMCAT": "CONCOMITANT MEDICATION", "CMINDC": rec.items.get("CMINDC"),
                   "CMDOSE": _num(rec.items.get("CMDOSE")), "CMDOSU": rec.items.get("CMDOSU"),
                   "CMROUTE": rec.items.get("CMROUTE"),
                   "CMSTDTC": dtc(rec.items.get("CMSTDAT")),
                   "CMENDTC": dtc(rec.items.get("CMENDAT"))}
        elif rec.form_oid == "PT":
            name, code = _agent(rec, "PTAGENT", "PTAGOTH")
            row = {"CMCAT": "PRIOR TREATMENT", "CMSTDTC": dtc(rec.items.get("PTSTDAT")),
                   "CMENDTC": dtc(rec.items.get("PTENDAT")),
                   "CMINDC": None, "CMDOSE": None, "CMDOSU": None, "CMROUTE": None}
        else:
            continue
        seq += 1
        yield {**_base("CM", s, study), "CMSEQ": seq, "CMTRT": name, "CMDECOD": code,
               **row, "CMSPID": f"{rec.form_oid}-{rec.form_repeat}"}


CM = Domain("CM", "Concomitant and Prior Medications", (
    *COMMON, Var("CMSEQ", "Sequence Number", "num"),
    Var("CMTRT", "Reported Name of Drug or Treatment", length=200),
    Var("CMDECOD", "Medication Dictionary Code", length=40),
    Var("CMCAT", "Category for Medication", length=30),
    Var("CMINDC", "Indication", length=200), Var("CMDOSE", "Dose per Administration", "num"),
    Var("CMDOSU", "Dose Units", length=40), Var("CMROUTE", "Route of Administration", length=8),
    Var("CMSTDTC", "Start Date of Medication", length=10),
    Var("CMENDTC", "End Date of Medication", length=10),
    Var("CMSPID", "Sponsor-Defined Identifier", length=20)), _cm_rows)


def _mh_rows(s: SubjectRecord, study: str) -> Iterator[dict]:
    seq = 0
    dx = s.first("DX")
    if dx and dx.items.get("COHORT"):
        seq += 1
        cohort = dx.items["COHORT"]
        yield {**_base("MH", s, study), "MHSEQ": seq,
               "MHTERM": dataset.decode(dx.item("COHORT"), cohort, dx.metadata_version),
               "MHDECOD": cohort, "MHCAT": "PRIMARY DIAGNOSIS",
               "MHSCAT": dataset.decode(dx.item("SUBTYPE"), dx.items.get("SUBTYPE"),
                                        dx.metadata_version) or None,
               "MHSTDTC": dtc(dx.items.get("DXDAT"))}
    ex = s.first("EX")
    if ex and ex.items.get("MALIGDAT"):
        seq += 1
        yield {**_base("MH", s, study), "MHSEQ": seq, "MHTERM": "MALIGNANCY",
               "MHDECOD": "MALIGNANCY", "MHCAT": "PRIOR MALIGNANCY", "MHSCAT": None,
               "MHSTDTC": dtc(ex.items["MALIGDAT"])}


MH = Domain("MH", "Medical History", (
    *COMMON, Var("MHSEQ", "Sequence Number", "num"),
    Var("MHTERM", "Reported Term for the Medical History", length=60),
    Var("MHDECOD", "Dictionary-Derived Term", length=20),
    Var("MHCAT", "Category for Medical History", length=30),
    Var("MHSCAT", "Subcategory for Medical History", length=60),
    Var("MHSTDTC", "Start Date of Medical History Event", length=10)), _mh_rows)


def _ae_items() -> list[Item]:
    return [i for i in dataset.columns("AE") if i.type != "time"]


def _ae_name(item: Item) -> str:
    if item.type == "date" and item.name.endswith("DAT"):
        return item.name[:-3] + "DTC"
    return item.name


def _ae_rows(s: SubjectRecord, study: str) -> Iterator[dict]:
    seq = 0
    for rec in s.forms:
        if rec.form_oid != "AE":
            continue
        seq += 1
        row = {**_base("AE", s, study), "AESEQ": seq, "AESPID": f"AE-{rec.form_repeat}"}
        for item in _ae_items():
            value = rec.items.get(item.name)
            row[_ae_name(item)] = dtc(value) if item.type == "date" else (
                _num(value) if item.type in ("integer", "float") else value)
        yield row


AE = Domain("AE", "Adverse Events", (
    *COMMON, Var("AESEQ", "Sequence Number", "num"),
    Var("AESPID", "Sponsor-Defined Identifier", length=20),
    *(Var(_ae_name(i), label(i.label), "num" if i.type in ("integer", "float") else "char",
          8 if i.type in ("integer", "float") else _len(i), origin=f"CRF: {i.oid('AE')}")
      for i in _ae_items())), _ae_rows)


def _findings_domain(f: Findings, label: str) -> Domain:
    return Domain(f.prefix, label, f.vars(), f.rows,
                  ("STUDYID", "USUBJID", f"{f.prefix}TESTCD", "VISITNUM", f"{f.prefix}SEQ"))


DOMAINS: tuple[Domain, ...] = (
    DM, DS, EX, CM, MH, AE,
    _findings_domain(LB, "Laboratory Test Results"),
    _findings_domain(VS, "Vital Signs"),
    _findings_domain(FA, "Findings About CRS and ICANS"),
    _findings_domain(QS, "Questionnaires and Disease Activity Scores"),
)


def rows(domain: Domain, s: SubjectRecord, study: str) -> Iterator[dict]:
    """The domain's rows of one subject, each with every variable, checked against the
    variables' lengths."""
    for row in domain.rows(s, study):
        yield _check(domain, {v.name: row.get(v.name) for v in domain.vars})


def subject_rows(study: str, s: SubjectRecord) -> list[tuple[str, list[dict]]]:
    """A subject's rows of each domain. Run where the subject is rebuilt
    (``Snapshot.rendered``): it returns plain data."""
    try:
        return [(domain.name, list(rows(domain, s, study))) for domain in DOMAINS]
    except TooLong as exc:
        raise TooLong(f"subject {s.label}: {exc}") from None


def tabulate(subjects: Snapshot, sp, *, study: str,
             file_name: Callable[[Domain], str], open_writer: Callable[[Domain, str], object],
             progress: Callable[[int], None]) -> None:
    """Every domain's rows of each subject, subject by subject, to a writer per domain
    (``open_writer(domain, file name)`` with ``add(row)``, ``rows`` and ``close()``), then
    ``define.csv``. A value that does not fit names its subject."""
    writers = {d.name: open_writer(d, file_name(d)) for d in DOMAINS}
    try:
        for n, tabulated in enumerate(subjects.rendered(partial(subject_rows, study)), 1):
            for name, domain_rows in tabulated:
                add = writers[name].add
                for row in domain_rows:
                    add(row)
            progress(n)
    finally:
        for w in writers.values():
            w.close()
    for domain in DOMAINS:
        sp.count(file_name(domain), writers[domain.name].rows)
    with sp.open("define.csv") as fh:
        out = csv.writer(fh)
        out.writerow(DEFINE_HEADER)
        count = 0
        for row in define_rows():
            out.writerow(row)
            count += 1
    sp.count("define.csv", count)


def origin(domain: Domain, var: Var) -> str:
    if var.origin:
        return var.origin
    if domain.name in ("LB", "VS", "FA", "QS"):
        forms = {"LB": LB, "VS": VS, "FA": FA, "QS": QS}[domain.name].forms
        return "CRF forms " + ", ".join(f"F.{f}" for f in forms)
    return "CRF"


def define_rows() -> Iterator[list]:
    """The define-style description: one row per variable, and the items left out."""
    for domain in DOMAINS:
        for n, var in enumerate(domain.vars, 1):
            yield [domain.name, domain.label, n, var.name, var.label, var.type, var.length,
                   "Y" if var.name in domain.keys else "", origin(domain, var)]
    for form in BUILD.forms.values():
        for item in form.items:
            if item.type == "text" and item.max_length > MAX_CHAR:
                yield ["", "", "", "", f"{item.oid(form.oid)} ({item.label})"[:200], "char",
                       item.max_length, "", "not tabulated: longer than SAS transport v5 "
                                            "allows; in the CSV and ODM exports"]


DEFINE_HEADER = ["DATASET", "DATASET_LABEL", "ORDER", "VARIABLE", "LABEL", "TYPE", "LENGTH",
                 "KEY", "ORIGIN"]
