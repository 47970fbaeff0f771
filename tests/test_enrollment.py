"""The investigator's signature of the eligibility checklist and the enrollment gate, through
the pages and the API (interfaces.md), on both databases."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
import rfc8785
from sqlalchemy import select

from audit.replay import differences, replay_from_database
from edc.cli import cli_actor
from edc.clinical.store import snapshot
from edc.crf.services import read_form, save_form
from edc.extensions import db
from edc.models import AuditEntry, Deviation, EligibilityEvaluation, Signature, Subject
from edc.subjects.services import create_subject
from tests.conftest import PASSWORD, count_statements, csrf_token, enter_eligible, login, pi_code


def _api(subject_id: int, what: str) -> str:
    return f"/api/v1/subjects/{subject_id}/{what}"


def _change(app, subject_id, form, items, reason="transcription error"):
    with app.app_context():
        subject = db.session.get(Subject, subject_id)
        version = read_form(subject, "SCREEN", form).version
        save_form(subject, "SCREEN", form, items, version=version, actor=cli_actor(),
                  reason=reason)
        db.session.commit()


def _sign(app, token, subject_id, password=PASSWORD, username="pi"):
    return app.test_client().post(_api(subject_id, "eligibility/sign"), headers=token("pi"),
                                  json={"username": username, "password": password,
                                        "code": pi_code()})


def _enroll(app, token, subject_id, role="crc"):
    return app.test_client().post(_api(subject_id, "enroll"), headers=token(role))


def _actions(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.seq)).all()


@pytest.fixture
def eligible(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj)
    return world.subject_tj


@pytest.mark.parametrize("cohort", ["SLE", "SSC", "IIM", "AAV"])
def test_a_subject_of_each_cohort_is_eligible_from_stored_data(app, world, token, cohort):
    with app.app_context():
        enter_eligible(world.subject_tj, cohort)
    body = app.test_client().get(_api(world.subject_tj, "eligibility"),
                                 headers=token("crc")).json
    assert body["status"] == "eligible", [c for c in body["criteria"]
                                          if c["result"] in ("missing", "not_met")
                                          and not c["id"].startswith("EX-")]
    assert body["signed"] is False and body["enrollable"] is False


def test_enrollment_needs_eligibility_and_a_valid_signature_api(app, world, token, eligible):
    # eligible but not signed: refused, with the reason, audited, nothing written
    r = _enroll(app, token, eligible)
    assert r.status_code == 409 and "not signed" in r.json["error"]
    assert r.json["failing_criteria"] == [] and r.json["signature"] == "missing or invalidated"
    assert len(_actions(app, "subject.enroll_refused")) == 1
    body = app.test_client().get(_api(eligible, "eligibility"), headers=token("crc")).json
    assert [(e["purpose"], e["status"]) for e in body["evaluations"]] == [
        ("enrollment_refused", "eligible")]

    r = _sign(app, token, eligible)
    assert r.status_code == 201
    signed = r.json
    assert signed["signer"].startswith("Test Investigator") and signed["status"] == "valid"
    assert signed["meaning"] == "I confirm this subject meets all eligibility criteria"
    assert signed["signed_at_utc"].endswith("UTC") and "Asia/Shanghai" in \
        signed["signed_at_local"]

    r = _enroll(app, token, eligible)
    assert r.status_code == 201 and r.json == {"subject_number": "TJ-001"}
    again = _enroll(app, token, eligible)
    assert again.status_code == 409 and "TJ-001" in again.json["error"]
    with app.app_context():
        subject = db.session.get(Subject, eligible)
        assert (subject.subject_number, subject.status) == ("TJ-001", "enrolled")
        en = read_form(subject, "ENROL", "EN")
        assert en.items["COHORTC"] == "SLE" and en.derived["SUBJNO"] == "TJ-001"
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "subject.enroll"))
        details = json.loads(entry.details)
        row = db.session.get(Signature, details["signature_id"])
        kept = db.session.get(EligibilityEvaluation, details["evaluation_id"])
        assert (kept.purpose, kept.status) == ("enrollment", "eligible")
        evidence = json.loads(kept.evidence)
        anc = next(c for c in evidence["criteria"] if c["id"] == "IN-03a")
        assert any(s["item"] == "ANC" and s["audit_seq"] for s in anc["evidence"]["sources"])
        assert details["signed_content_sha256"] == row.content_hash
        assert details["rule_version"].startswith("eligibility-1 (settings-1")
        # the stored hash is the SHA-256 of the canonical signed content
        assert hashlib.sha256(rfc8785.dumps(json.loads(row.content))).hexdigest() == \
            row.content_hash
        assert differences(replay_from_database(db.session), snapshot(db.session)) == []


def test_a_coordinator_enrolls_in_the_page_after_the_investigator_signed(app, world, eligible):
    page = f"/subjects/{eligible}/eligibility"
    crc = app.test_client()
    login(crc, "crc")
    html = crc.get(page).get_data(as_text=True)
    assert "Eligible" in html and "Not signed." in html
    assert "Sign eligibility checklist" not in html  # a coordinator cannot sign
    r = crc.post(f"/subjects/{eligible}/enroll", data={"csrf_token": csrf_token(crc, page)})
    assert r.status_code == 409 and "Enrollment refused" in r.get_data(as_text=True)

    pi = app.test_client()
    login(pi, "pi")
    html = pi.get(page).get_data(as_text=True)
    assert "I confirm this subject meets all eligibility criteria" in html
    token = csrf_token(pi, page)
    r = pi.post(f"/subjects/{eligible}/eligibility/sign",
                data={"csrf_token": token, "username": "pi", "password": "wrong-password-1"})
    assert r.status_code == 401 and "nothing was signed" in r.get_data(as_text=True)
    r = pi.post(f"/subjects/{eligible}/eligibility/sign",
                data={"csrf_token": token, "username": "crc", "password": PASSWORD,
                      "code": pi_code()})
    assert r.status_code == 401  # both components: the user ID must be the signer's own
    r = pi.post(f"/subjects/{eligible}/eligibility/sign",
                data={"csrf_token": token, "username": "", "password": ""})
    assert r.status_code == 422 and "Enter your password." in r.get_data(as_text=True)
    r = pi.post(f"/subjects/{eligible}/eligibility/sign",
                data={"csrf_token": token, "username": "PI ", "password": PASSWORD,
                      "code": pi_code()})
    assert r.status_code == 303
    html = pi.get(page).get_data(as_text=True)
    assert "Test Investigator" in html and " UTC" in html and "Asia/Shanghai" in html
    assert "valid" in html and "Sign eligibility checklist" not in html
    assert len(_actions(app, "signature.failed")) == 2

    r = crc.post(f"/subjects/{eligible}/enroll", data={"csrf_token": csrf_token(crc, page)})
    assert r.status_code == 303
    html = crc.get(r.headers["Location"]).get_data(as_text=True)
    assert "TJ-001" in html and "Subject enrolled as TJ-001." in html


def test_only_an_investigator_signs_and_a_wrong_password_is_401(app, world, token, eligible):
    r = app.test_client().post(_api(eligible, "eligibility/sign"), headers=token("crc"),
                               json={"username": "crc", "password": PASSWORD, "code": pi_code()})
    assert r.status_code == 403
    r = _sign(app, token, eligible, password="not-the-password")
    assert r.status_code == 401 and r.json["errors"]["password"]
    r = app.test_client().post(_api(eligible, "eligibility/sign"), headers=token("pi"),
                               json={})
    assert r.status_code == 422 and set(r.json["errors"]) == {"username", "password"}
    # the password alone is not a signature (21 CFR 11.200): the user ID is required too
    r = app.test_client().post(_api(eligible, "eligibility/sign"), headers=token("pi"),
                               json={"password": PASSWORD, "code": pi_code()})
    assert r.status_code == 422 and "user ID" in r.json["errors"]["username"]
    r = _sign(app, token, eligible, username="crc")
    assert r.status_code == 401
    with app.app_context():
        assert db.session.scalar(select(Signature)) is None
    # five wrong passwords in a row lock the account, as at sign-in
    for _ in range(3):
        _sign(app, token, eligible, password="not-the-password")
    r = _sign(app, token, eligible, password=PASSWORD)
    assert r.status_code == 401  # the token's user is locked: the API refuses it


def test_signing_is_refused_while_the_subject_is_not_eligible(app, world, token):
    with app.app_context():
        enter_eligible(world.subject_tj, complete="partial")
    r = _sign(app, token, world.subject_tj)
    assert r.status_code == 409 and any("missing" in b for b in r.json["blockers"])
    with app.app_context():
        assert db.session.scalar(select(Signature)) is None


def test_a_change_invalidates_the_signature_and_the_history_stays(app, world, token, eligible):
    assert _sign(app, token, eligible).status_code == 201
    _change(app, eligible, "EC", {"ECOG": "0"})
    body = app.test_client().get(_api(eligible, "eligibility"), headers=token("pi")).json
    assert [s["status"] for s in body["signatures"]] == ["invalidated by change"]
    assert body["signatures"][0]["invalidated_reason"] == "SCREEN/EC saved (version 2)"
    r = _enroll(app, token, eligible)
    assert r.status_code == 409 and r.json["signature"] == "missing or invalidated"
    assert len(_actions(app, "signature.invalidate")) == 1

    assert _sign(app, token, eligible).status_code == 201
    body = app.test_client().get(_api(eligible, "eligibility"), headers=token("pi")).json
    assert [s["status"] for s in body["signatures"]] == ["valid", "invalidated by change"]
    assert _sign(app, token, eligible).status_code == 409  # signed already
    assert _enroll(app, token, eligible, role="pi").status_code == 201

    pi = app.test_client()
    login(pi, "pi")
    html = pi.get(f"/subjects/{eligible}/eligibility").get_data(as_text=True)
    assert "invalidated by change" in html and "Enrolled as" in html


# Every failing criterion keeps the subject out, by every path -------------------------------

FAILURES = [
    ("EC", {"ECOG": "2"}, "IN-04"),
    ("LB", {"ANC": "0.9"}, "IN-03a"),
    ("LB", {"ALT": "121"}, "IN-03c"),
    ("LB", {"CREAT": "300", "CREATU": "umol/L"}, "IN-03f"),
    ("PG", {"PGRES": "POS"}, "IN-05"),
    ("FC", {"CD19POS": "N"}, "IN-02"),
    ("SR", {"HBSAG": "POS"}, "EX-08"),  # HBV DNA not entered: missing, not excluded
    ("SR", {"HIVAB": "POS"}, "EX-08"),
    ("EX", {"EX02": "Y"}, "EX-02"),
    ("EX", {"MALIGDAT": "2024-01-10"}, "EX-06"),
    ("DA", {"SLEDAI09": "N", "SLEDAI13": "N"}, "SLE-2"),
    ("DA", {"UPCR": "0.9"}, "SLE-3"),
]


@pytest.mark.parametrize("form, items, criterion", FAILURES)
def test_a_failing_criterion_blocks_signature_and_enrollment(app, world, token, eligible,
                                                             form, items, criterion):
    assert _sign(app, token, eligible).status_code == 201  # signed while eligible
    _change(app, eligible, form, items)
    r = _enroll(app, token, eligible, role="pi")
    assert r.status_code == 409 and "The subject is not e" in r.json["error"]  # the evaluation
    assert criterion in [c["id"] for c in r.json["failing_criteria"]]
    assert r.json["signature"] == "missing or invalidated"
    assert _sign(app, token, eligible).status_code == 409
    crc = app.test_client()
    login(crc, "crc")
    page = f"/subjects/{eligible}/eligibility"
    r = crc.post(f"/subjects/{eligible}/enroll", data={"csrf_token": csrf_token(crc, page)})
    assert r.status_code == 409 and criterion in r.get_data(as_text=True)
    with app.app_context():
        subject = db.session.get(Subject, eligible)
        assert subject.subject_number is None and subject.status == "screening"


def test_treatment_forms_open_only_after_enrollment(app, world, token, eligible):
    url = _api(eligible, "forms/LD/LD")
    body = {"items": {"HEIGHT": "160", "WEIGHT": "58", "LDSTDAT": "2026-11-20"}, "version": 0}
    r = app.test_client().put(url, headers=token("crc"), json=body)
    assert r.status_code == 409 and "not enrolled" in r.json["error"]
    r = app.test_client().put(_api(eligible, "forms/ENROL/EN"), headers=token("crc"),
                              json={"items": {"ENDAT": "2026-11-20", "COHORTC": "SLE"},
                                    "version": 0})
    assert r.status_code == 422 and "enrolled" in r.json["errors"]["form"]


def test_after_enrollment_a_change_records_a_deviation_not_an_unenrollment(app, world, token,
                                                                          eligible):
    _sign(app, token, eligible)
    assert _enroll(app, token, eligible).status_code == 201
    _change(app, eligible, "LB", {"HGB": "55"}, reason="updated source document")
    _change(app, eligible, "EC", {"ECDAT": _ec_date(app, eligible)}, reason="query response")
    with app.app_context():
        subject = db.session.get(Subject, eligible)
        assert subject.status == "enrolled" and subject.subject_number == "TJ-001"
        rows = db.session.scalars(select(Deviation)).all()
        assert len(rows) == 1 and rows[0].kind == "eligibility"  # the same finding once
        assert rows[0].form_oid == "LB"  # the change that showed it
        assert "IN-03b" in rows[0].description
        purposes = db.session.scalars(select(EligibilityEvaluation.purpose)
                                      .order_by(EligibilityEvaluation.id)).all()
        assert purposes == ["enrollment", "eligibility_lost"]
    for role in ("pi", "dm"):
        c = app.test_client()
        login(c, role)
        assert "1 recorded in your sites" in c.get("/").get_data(as_text=True)
        assert "IN-03b" in c.get(f"/subjects/{eligible}").get_data(as_text=True)
        assert "IN-03b" in c.get("/subjects/deviations").get_data(as_text=True)
    other = app.test_client()
    login(other, "crc_bj")  # another site's deviations are not listed
    assert "IN-03b" not in other.get("/subjects/deviations").get_data(as_text=True)


def _ec_date(app, subject_id) -> str:
    with app.app_context():
        return read_form(db.session.get(Subject, subject_id), "SCREEN", "EC").items["ECDAT"]


def test_subject_numbers_per_site_in_order_never_reused(app, world, token):
    with app.app_context():
        site_tj = db.session.get(Subject, world.subject_tj).site
        extra = create_subject(site_tj, actor=cli_actor(), created_by_id=world.users["crc"]).id
        db.session.commit()
    for subject_id in (world.subject_tj, extra, world.subject_bj):
        with app.app_context():
            enter_eligible(subject_id)
        assert _sign(app, token, subject_id).status_code in (201, 404)
    assert _enroll(app, token, world.subject_bj).status_code == 404  # crc is TJ only
    assert _enroll(app, token, extra).json == {"subject_number": "TJ-001"}
    assert _enroll(app, token, world.subject_tj).json == {"subject_number": "TJ-002"}


def test_concurrent_enrollments_get_distinct_consecutive_numbers(app, world, token):
    """Threads enroll different subjects of one site at once (and two threads the same
    subject): numbers are distinct and consecutive, and a subject is enrolled once."""
    ids = [world.subject_tj]
    with app.app_context():
        site = db.session.get(Subject, world.subject_tj).site
        ids += [create_subject(site, actor=cli_actor(), created_by_id=world.users["crc"]).id
                for _ in range(5)]
        db.session.commit()
    for subject_id in ids:
        with app.app_context():
            enter_eligible(subject_id)
        assert _sign(app, token, subject_id).status_code == 201
    headers = token("crc")
    barrier = threading.Barrier(len(ids) + 1)
    results: list[tuple[int, int, dict]] = []

    def enroll(subject_id: int) -> None:
        client = app.test_client()
        barrier.wait()
        r = client.post(_api(subject_id, "enroll"), headers=headers)
        results.append((subject_id, r.status_code, r.json))

    threads = [threading.Thread(target=enroll, args=(i,)) for i in ids + [ids[0]]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [body["subject_number"] for _, status, body in results if status == 201]
    assert sorted(created) == [f"TJ-{n:03d}" for n in range(1, len(ids) + 1)]
    assert sorted(status for _, status, _ in results) == [201] * len(ids) + [409]
    with app.app_context():
        numbers = db.session.scalars(select(Subject.subject_number).where(
            Subject.subject_number.is_not(None)).execution_options(all_sites=True)).all()
        assert sorted(numbers) == sorted(created)


def test_evidence_names_form_item_date_and_audit_sequence(app, world, token, eligible):
    body = app.test_client().get(_api(eligible, "eligibility"), headers=token("crc")).json
    anc = next(c for c in body["criteria"] if c["id"] == "IN-03a")
    used = {s["item"]: s for s in anc["evidence"]["sources"]}
    assert used["ANC"]["value"] == "2.1" and used["ANC"]["unit"] == "10^9/L"
    assert used["ANC"]["form"] == "LB" and used["ANC"]["date"] == used["LBDAT"]["value"]
    with app.app_context():
        entry = db.session.get(AuditEntry, used["ANC"]["audit_seq"])
        assert (entry.form_oid, entry.item_oid, entry.new_value) == ("LB", "ANC", "2.1")
    assert anc["text"].startswith("ANC ≥ 1.0")
    ex11 = next(c for c in body["criteria"] if c["id"] == "EX-11")
    assert {s["row"] for s in ex11["evidence"]["sources"]} == {1, 2, 3}  # the PT log rows
    # identifying values are withheld from roles that may not see them
    dm = app.test_client().get(_api(eligible, "eligibility"), headers=token("dm")).json
    in01 = next(c for c in dm["criteria"] if c["id"] == "IN-01")
    birth = next(s for s in in01["evidence"]["sources"] if s["item"] == "BRTHDAT")
    assert birth["value"].startswith("[withheld")


@pytest.mark.parametrize("cohort", ["SLE", "SSC", "IIM", "AAV"])
def test_a_coordinator_takes_a_subject_from_screening_to_enrollment_in_the_ui(app, world,
                                                                            cohort):
    """Every screening form entered in its page; before each one the checklist names what is
    still missing from it; then the investigator signs and the coordinator enrolls."""
    from edc.demo import screening_forms
    from edc.eligibility.services import site_today

    with app.app_context():
        today = site_today(db.session.get(Subject, world.subject_tj))
    crc = app.test_client()
    login(crc, "crc")
    checklist = f"/subjects/{world.subject_tj}/eligibility"
    entered = set()
    for form, row, values in screening_forms(cohort, today, rank=3):
        html = crc.get(checklist).get_data(as_text=True)
        assert "Not evaluable" in html or "Not eligible" in html  # not yet
        if form not in entered:
            assert f"/{form}#" in html or f"({form})" in html, f"nothing names {form}"
        entered.add(form)
        url = f"/subjects/{world.subject_tj}/forms/SCREEN/{form}" + (f"/{row}" if row > 1
                                                                     else "")
        r = crc.post(url, data={"csrf_token": csrf_token(crc, url), "version": "0", **values})
        assert r.status_code == 302, (form, r.status_code)
    html = crc.get(checklist).get_data(as_text=True)
    assert "Eligible" in html and "Waiting for the investigator" in html

    pi = app.test_client()
    login(pi, "pi")
    r = pi.post(f"/subjects/{world.subject_tj}/eligibility/sign",
                data={"csrf_token": csrf_token(pi, checklist), "username": "pi",
                      "password": PASSWORD, "code": pi_code()})
    assert r.status_code == 303
    assert "Ready to enroll" in crc.get(checklist).get_data(as_text=True)
    r = crc.post(f"/subjects/{world.subject_tj}/enroll",
                 data={"csrf_token": csrf_token(crc, checklist)})
    assert r.status_code == 303
    assert "TJ-001" in crc.get(r.headers["Location"]).get_data(as_text=True)


def test_the_checklist_page_runs_a_constant_number_of_statements(app, world, token,
                                                                 eligible):
    crc = app.test_client()
    login(crc, "crc")
    page = f"/subjects/{eligible}/eligibility"
    first = count_statements(app, crc, page)
    with app.app_context():  # more rows, more signatures, more history
        subject = db.session.get(Subject, eligible)
        for n in range(4, 14):
            save_form(subject, "SCREEN", "PT", {"PTAGENT": "AZATHIOPRINE",
                                               "PTSTDAT": "2019-01-01",
                                               "PTENDAT": "2019-06-01",
                                               "PTLSTDAT": "2019-06-01",
                                               "PTRESP": "INEFFECTIVE"},
                      version=0, actor=cli_actor(), form_repeat=n)
        db.session.commit()
    for ecog in ("0", "1"):
        assert _sign(app, token, eligible).status_code == 201
        _change(app, eligible, "EC", {"ECOG": ecog})
    assert _enroll(app, token, eligible).status_code == 409  # a kept evaluation more
    assert count_statements(app, crc, page) == first


def test_the_printed_checklist_carries_each_signature_and_its_status(app, world, token,
                                                                     eligible):
    import io

    import pikepdf
    from pypdf import PdfReader

    assert _sign(app, token, eligible).status_code == 201
    _change(app, eligible, "EC", {"ECOG": "0"})
    assert _sign(app, token, eligible).status_code == 201
    c = app.test_client()
    login(c, "cra")
    r = c.get(f"/subjects/{eligible}/eligibility.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    text = " ".join(text.replace("\x00", "").split())
    for needle in ("Test Investigator", "I confirm this subject meets all eligibility criteria",
                   "invalidated by change", "Status: valid", " UTC", "Asia/Shanghai",
                   "IN-03a", "LB.ANC = 2.1", "Printed", "cra"):
        assert needle in text, needle
    with pikepdf.open(io.BytesIO(r.data)) as pdf, pdf.open_metadata() as meta:
        assert meta["pdfaid:part"] == "2"
    assert len(_actions(app, "eligibility.export_pdf")) == 1


def test_signing_refuses_an_expired_password_and_a_locked_account(app, world, token,
                                                                  eligible):
    from edc.clock import utcnow
    from edc.models import User

    header = token("pi")

    def set_user(**values):  # test set-up: the passing of time, an account state
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(User.__table__.update().where(
                User.__table__.c.id == world.users["pi"]).values(**values))

    set_user(password_changed_at=utcnow() - timedelta(days=181))
    r = app.test_client().post(_api(eligible, "eligibility/sign"), headers=header,
                               json={"username": "pi", "password": PASSWORD, "code": pi_code()})
    assert r.status_code == 401 and "expired" in r.json["error"]
    with app.app_context():
        assert db.session.scalar(select(Signature)) is None
    set_user(password_changed_at=utcnow(), locked=True)
    # a service call as the page and the API make it: a locked account signs nothing
    from edc.eligibility.services import TARGET
    from edc.signatures import WrongCredentials, sign

    with app.app_context():
        subject = db.session.get(Subject, eligible, execution_options={"all_sites": True})
        with pytest.raises(WrongCredentials, match="locked"):
            sign(subject, TARGET, user=db.session.get(User, world.users["pi"]),
                 username="pi", password=PASSWORD, code=pi_code(), actor=cli_actor())
