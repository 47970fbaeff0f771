"""The study build: every event and form of study-build.md, the item names of interfaces.md,
and the server-side edit checks (pure, no database)."""

from __future__ import annotations

from datetime import date

import pytest

from forms.study_build import BUILD, BUILDS, CHANGES
from forms.validate import Context, missing_required, validate_form

TODAY = date(2026, 11, 24)
CTX = Context(today=TODAY, consent_date=date(2026, 11, 1))

# shared/spec/interfaces.md, "Screening items the eligibility rules read"
INTERFACE_ITEMS = {
    "IC": "RFICDAT ICFVER COMPLY CONTRAC",
    "DM": "INITIALS BRTHDAT SEX CHILDPOT PARTPOT HEIGHT WEIGHT",
    "DX": "COHORT DXDAT SUBTYPE GILBERT",
    "LB": "LBDAT ANC CSF14D HGB WBC PLT ALT ALTULN AST ASTULN BILI BILIULN CREAT CREATU CK "
          "CKULN TXMYO CRCLACUT",
    "FC": "FCDAT CD19POS CD19PCT",
    "PG": "PGDAT PGTYPE PGRES LACTAT",
    "SR": "SRDAT HBSAG HBCAB HBSAB HCVAB HIVAB SYPH HBVDNA HBVULN HCVRNA",
    "EC": "ECDAT ECOG",
    "EX": "EX01 EX02 EX03 EX04 EX05 EX07 EX09 EX12 EX13 MALIGDAT TRIALDAT LVEF",
    "PT": "PTAGENT PTSTDAT PTENDAT PTLSTDAT PTRESP",
}


def test_build_is_consistent():
    for build in BUILDS.values():
        build.check()
    assert BUILD is list(BUILDS.values())[-1] and set(CHANGES) == set(BUILDS)


@pytest.mark.parametrize("form, names", INTERFACE_ITEMS.items())
def test_screening_items_carry_the_names_interfaces_md_fixes(form, names):
    assert set(names.split()) <= set(BUILD.form(form).item_names)
    assert form in BUILD.event("SCREEN").forms


def test_every_event_of_study_build_md():
    expected = (["SCREEN", "ENROL", "APHER", "LD", "INF"] + [f"D{d}" for d in range(1, 15)]
                + ["D21", "D28", "M2", "M3", "M6", "M9", "M12", "M18", "M24"]
                + [f"Y{y}" for y in range(3, 16)] + ["UNSCHED", "EOS"])
    oids = [e.oid for e in BUILD.events]
    assert all(e in oids for e in expected)
    windows = {e.oid: (e.day, e.window) for e in BUILD.events}
    assert windows["D21"] == (21, (2, 2)) and windows["M12"] == (365, (30, 30))
    assert windows["Y15"] == (365 * 15, (60, 60)) and windows["D7"] == (7, (0, 0))
    assert BUILD.event("UNSCHED").repeatable


def test_log_forms_are_repeating_and_pii_is_flagged():
    for oid in ("AE", "CM", "SM", "PGN", "HO", "PT", "LDD"):
        assert BUILD.form(oid).repeating, oid
    pii = {(f.oid, i.name) for f in BUILD.forms.values() for i in f.items if i.pii}
    assert pii == {("DM", "INITIALS"), ("DM", "BRTHDAT"), ("DM", "MRN")}


def lb(**values):
    return validate_form(BUILD, BUILD.form("LB"), {"LBDAT": "2026-11-20", **values}, CTX)


@pytest.mark.parametrize("value, outcome", [
    ("25", "error"), ("29.9", "error"), ("30", "warning"), ("114", "warning"),
    ("115", "ok"), ("175", "ok"), ("176", "warning"), ("250", "warning"), ("251", "error"),
])
def test_haemoglobin_hard_and_soft_ranges(value, outcome):
    result = lb(HGB=value)
    state = "error" if "HGB" in result.errors else "warning" if "HGB" in result.warnings \
        else "ok"
    assert state == outcome
    if outcome == "error":
        assert "plausible range 30–250 g/L" in result.errors["HGB"]


@pytest.mark.parametrize("creat, unit, outcome", [
    ("88", "umol/L", "ok"), ("1.0", "mg/dL", "ok"), ("88", "mg/dL", "error"),
    ("1.0", "umol/L", "error"), ("150", "umol/L", "warning"), ("88", None, "error"),
])
def test_creatinine_ranges_follow_the_entered_unit(creat, unit, outcome):
    values = {"CREAT": creat} | ({"CREATU": unit} if unit else {})
    result = lb(**values)
    state = "error" if "CREAT" in result.errors else "warning" if "CREAT" in result.warnings \
        else "ok"
    assert state == outcome, result


@pytest.mark.parametrize("item, value, message", [
    ("ANC", "one point two", "enter a number"),
    ("ANC", "1.2.3", "enter a number"),
    ("LBDAT", "20/11/2026", "YYYY-MM-DD"),
    ("LBDAT", "2026-02-30", "YYYY-MM-DD"),
    ("LBDAT", "2026-11-25", "after today"),
    ("LBDAT", "2026-10-31", "before informed consent (2026-11-01)"),
    ("CSF14D", "yes", "choose one of Y, N"),
    ("NOPE", "1", "LB has no item NOPE"),
    ("ALT", "12\x00", "control or invalid characters"),
])
def test_bad_values_are_refused_with_a_message_for_the_item(item, value, message):
    result = lb(**{item: value})
    assert message in result.errors[item]


def test_values_are_normalised():
    result = validate_form(BUILD, BUILD.form("VS"), {
        "VSDAT": " 2026-11-20 ", "TEMP": "38,5", "HR": "+088", "OXYGEN": "low_flow"}, CTX)
    assert result.ok
    assert result.values == {"VSDAT": "2026-11-20", "TEMP": "38.5", "HR": "88",
                             "OXYGEN": "low_flow"}


def test_json_numbers_and_wrong_types():
    ok = lb(ANC=1.5, PLT=200)
    assert ok.ok and ok.values["ANC"] == "1.5" and ok.values["PLT"] == "200"
    assert "string or a number" in lb(ANC=True).errors["ANC"]
    assert "string or a number" in lb(ANC=[1]).errors["ANC"]


def test_computed_items_cannot_be_entered():
    result = validate_form(BUILD, BUILD.form("CRS"), {"CRSDAT": "2026-11-20", "CRSGR": "1"},
                           CTX)
    assert "computed by the system" in result.errors["CRSGR"]


def test_date_logic_within_a_form():
    result = validate_form(BUILD, BUILD.form("AE"), {
        "AETERM": "Fever", "AESTDAT": "2026-11-20", "AEENDAT": "2026-11-19"}, CTX)
    assert result.errors == {"AEENDAT": "The resolution date is before the onset date."}
    history = validate_form(BUILD, BUILD.form("PT"), {
        "PTAGENT": "MYCOPHENOLATE_MOFETIL", "PTSTDAT": "2020-01-01", "PTENDAT": "2025-06-01"}, CTX)
    assert history.ok  # treatment history may precede consent
    birth = validate_form(BUILD, BUILD.form("DM"), {"BRTHDAT": "1980-05-01"}, CTX)
    assert birth.ok


def test_required_and_required_if():
    dm = BUILD.form("DM")
    stored = {"BRTHDAT": "1980-05-01", "SEX": "F", "HEIGHT": "160", "WEIGHT": "55"}
    assert missing_required(dm, stored) == ["CHILDPOT"]
    assert missing_required(dm, {**stored, "SEX": "M"}) == ["PARTPOT"]
    lbf = BUILD.form("LB")
    assert "CREATU" in missing_required(lbf, {"LBDAT": "2026-11-20", "CREAT": "80"})
    assert "CREATU" not in missing_required(lbf, {"LBDAT": "2026-11-20"})
    result = validate_form(BUILD, dm, {"SEX": "F", "CHILDPOT": ""}, CTX)
    assert result.warnings.get("CHILDPOT") == "required"


def test_checks_across_forms_are_metadata_listed_in_the_dictionary(app, world, login_as,
                                                                   token):
    from forms import consistency

    forms = {c.form for c in consistency.CHECKS}
    assert {"DM", "IF", "CRS", "VS", "AE", "LD", "LDD"} <= forms
    assert len({c.id for c in consistency.CHECKS}) == len(consistency.CHECKS)
    html = login_as("crc").get("/study/dictionary").get_data(as_text=True)
    for check in consistency.CHECKS:
        assert check.id in html
    body = app.test_client().get("/api/v1/study", headers=token("crc")).json
    assert {c["id"] for c in body["checks"]} == {c.id for c in consistency.CHECKS}
