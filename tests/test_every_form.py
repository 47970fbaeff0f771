"""Every form of the study build: entered in the UI, corrected with a reason through the API,
and read back through both."""

from __future__ import annotations

from decimal import Decimal

from forms.study_build import BUILD, LOG_FORMS
from forms.validate import hidden_items
from tests.conftest import csrf_token, login, mark_enrolled

SPECIAL_DATES = {("LD", "LDSTDAT"): "2026-11-15", ("IC", "RFICDAT"): "2026-11-01",
                 ("DM", "BRTHDAT"): "1980-05-01"}


def valid_value(form, item) -> str:
    if item.type == "date":
        return SPECIAL_DATES.get((form.oid, item.name), "2026-11-20")
    if item.type == "time":
        return "10:30"
    if item.type == "code":
        return "umol/L" if item.codelist == "CREATU" else \
            BUILD.codelists[item.codelist].codes[0]
    if item.type in ("integer", "float"):
        hard, soft = item.ranges_for("umol/L")
        rng = soft or hard
        if rng is None or rng.low is None or rng.high is None:
            return "1"
        mid = (rng.low + rng.high) / 2
        return str(int(mid)) if item.type == "integer" else str(mid.quantize(Decimal("0.1")))
    return "LOT1" if item.name == "LOTNO" else "text"[: item.max_length]


def changed_value(form, item) -> str:
    if item.type == "text":
        return "corrected"[: item.max_length]
    if item.type == "date":
        return "2026-11-19" if (form.oid, item.name) not in SPECIAL_DATES else "2026-11-14"
    codes = BUILD.codelists[item.codelist].codes
    return codes[-1]


def _same(item, sent: str, stored: str | None) -> bool:
    if stored is None:
        return False
    if item.type in ("integer", "float"):
        return Decimal(sent) == Decimal(stored)
    return sent == stored


def _event_for(form_oid: str) -> str:
    if form_oid in LOG_FORMS:
        return "LOG"
    return next(e.oid for e in BUILD.events if form_oid in e.forms)


ORDER = ["IC", "DM", "DX", "PT", "LB", "FC", "PG", "SR", "EC", "DA", "EX", "EN", "AP", "LD",
         "LDD", "IF", "VS", "CRS", "ICANS", "PK", "DAF", "RCL", "LTFU", *LOG_FORMS, "EOS"]


def test_order_covers_every_form():
    assert sorted(ORDER) == sorted(BUILD.forms)


def test_every_form_round_trips_through_ui_and_api(app, world, token):
    bearer = token("pi")
    web, api = app.test_client(), app.test_client()
    login(web, "crc")
    failures, saved = [], {}
    controllers = {i.show_if.source[1] for f in BUILD.forms.values() for i in f.items
                   if i.show_if}
    for oid in ORDER:
        form = BUILD.form(oid)
        event = _event_for(oid)
        if oid == "EN":  # written by the enrollment gate only (test_enrollment.py)
            page = f"/subjects/{world.subject_tj}/forms/ENROL/EN"
            r = web.post(page, data={"csrf_token": csrf_token(web, page), "version": "0",
                                     "ENDAT": "2026-11-20", "COHORTC": "SLE"})
            if r.status_code != 422 or "written when the subject is enrolled" not in \
                    r.get_data(as_text=True):
                failures.append(f"EN: a manual save answered {r.status_code}")
            with app.app_context():
                mark_enrolled(world.subject_tj)
            continue
        entered = {i.name: valid_value(form, i) for i in form.items if not i.derived}
        hidden = hidden_items(form, entered, lambda f, i: saved.get(f, {}).get(i))
        entered = {k: v for k, v in entered.items() if k not in hidden}  # what applies
        saved[oid] = entered
        page = f"/subjects/{world.subject_tj}/forms/{event}/{oid}"
        r = web.post(page, data={"csrf_token": csrf_token(web, page), "version": "0",
                                 **entered})
        if r.status_code != 302:
            failures.append(f"{oid}: UI save {r.status_code}")
            continue
        url = f"/api/v1/subjects/{world.subject_tj}/forms/{event}/{oid}"
        got = api.get(url, headers=bearer).json
        mismatched = {k: (v, got["items"].get(k)) for k, v in entered.items()
                      if not _same(form.item(k), v, got["items"].get(k))}
        if mismatched or got["version"] != 1:
            failures.append(f"{oid}: read back {mismatched} version {got['version']}")
            continue
        target = next(i for i in form.items if not i.derived and i.type in ("text", "date",
                                                                              "code")
                      and len(BUILD.codelists[i.codelist].codes if i.codelist else "ab") > 1
                      and i.name != "LOTNO" and (form.oid, i.name) != ("IF", "IFDAT")
                      and i.name not in controllers)  # a new cohort hides entered items
        new = changed_value(form, target)
        r = api.put(url, headers=bearer, json={"items": {target.name: new}, "version": 1})
        if r.status_code != 422 or "reason" not in r.json["errors"]:
            failures.append(f"{oid}: change without reason answered {r.status_code}")
        r = api.put(url, headers=bearer, json={"items": {target.name: new}, "version": 1,
                                               "reason": "transcription error"})
        if r.status_code != 200 or r.json["items"][target.name] != new:
            failures.append(f"{oid}: correction {r.status_code} {r.json}")
            continue
        html = web.get(page).get_data(as_text=True)
        if new not in html or "Version 2" not in html:
            failures.append(f"{oid}: the page does not show the corrected {target.name}")
    assert not failures, "\n".join(failures)
