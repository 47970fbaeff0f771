"""The audit trail in words, for the people who read it on screen: what happened ("Value
changed", "Signed: eligibility checklist"), who (full name and role), where (site, subject,
visit, form and item by their names) and the details as a table. The codes stay available
beside the words (CSV, PDF, API and the verifiable copy keep them as stored)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from audit.actions import ACTIONS
from audit.models import AuditEntry
from edc.extensions import db
from edc.i18n import STATE_WORDS, label_of, name_of, translate
from edc.models import User
from edc.security import Role
from edc.subjects import progress
from forms.study_build import BUILD
from forms.text import N_

SIGNED = {"eligibility": N_("eligibility checklist"), "casebook": N_("casebook")}

# The keys of the entries' details as the viewer labels them (a test checks that every key
# the system writes is here, so each label is a catalog message)
DETAIL_LABELS: dict[str, str] = {
    "as_of_seq": N_("As of sequence"),
    "attempt": N_("Attempt"),
    "bytes": N_("Bytes"),
    "chain_head": N_("Chain head"),
    "chain_seq": N_("Chain sequence"),
    "consecutive": N_("Consecutive failures"),
    "content_sha256": N_("Content SHA-256"),
    "database_sha256": N_("Database SHA-256"),
    "edit_check": N_("Edit check"),
    "email": N_("E-mail"),
    "entries": N_("Entries"),
    "evaluation_id": N_("Evaluation"),
    "expires_at_utc": N_("Expires (UTC)"),
    "failing": N_("Failing"),
    "files": N_("Files"),
    "filter": N_("Filter"),
    "form_version": N_("Form version"),
    "format": N_("Format"),
    "full_name": N_("Full name"),
    "label": N_("Label"),
    "last_heartbeat_utc": N_("Last heartbeat (UTC)"),
    "last_seq": N_("Last sequence"),
    "limit": N_("Limit"),
    "message": N_("Message"),
    "metadata_version": N_("Metadata version"),
    "method": N_("Method"),
    "missing": N_("Missing"),
    "needs": N_("Needs"),
    "origin": N_("Origin"),
    "other_sessions_revoked": N_("Other sessions revoked"),
    "purpose": N_("Purpose"),
    "reference_date": N_("Reference date"),
    "requested_by": N_("Requested by"),
    "rule_version": N_("Rule version"),
    "scope": N_("Scope"),
    "sessions_revoked": N_("Sessions revoked"),
    "sha256": N_("SHA-256"),
    "signature_id": N_("Signature"),
    "signatures": N_("Signatures"),
    "signed_at_local": N_("Signed (local time)"),
    "signed_at_utc": N_("Signed (UTC)"),
    "signed_content_sha256": N_("Signed content SHA-256"),
    "since_seq": N_("Since sequence"),
    "site": N_("Site"),
    "sites": N_("Sites"),
    "status": N_("Status"),
    "subject": N_("Subject"),
    "target": N_("Target"),
    "temporary_password": N_("Temporary password"),
    "version": N_("Version"),
    "via": N_("Via"),
    "why": N_("Why"),
    "worker": N_("Worker"),
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def signed_record(name: str | None) -> str:
    """A signature target in words: "eligibility checklist", "form Laboratory (Screening)",
    "visit Day 28"."""
    if not name:
        return _("record")
    if name in SIGNED:
        return _(SIGNED[name])
    family, _sep, key = name.partition(":")
    parts = key.split(".")
    try:
        if family == "form" and len(parts) >= 3:
            return _("form %(form)s (%(visit)s)", form=name_of(BUILD.form(parts[2])),
                     visit=name_of(BUILD.event(parts[0])))
        if family == "visit" and parts:
            return _("visit %(visit)s", visit=name_of(BUILD.event(parts[0])))
    except KeyError:
        pass
    return name


def action(e: AuditEntry) -> str:
    if e.action == "signature.sign":
        return _("Signed: %(what)s", what=signed_record(e.item_oid))
    if e.action == "signature.invalidate":
        return _("Signature invalidated: %(what)s", what=signed_record(e.item_oid))
    if e.action == "signature.failed":
        return _("Signature refused: %(what)s", what=signed_record(e.item_oid))
    return _sentence(translate(ACTIONS.get(e.action, e.action)))


def where(e: AuditEntry) -> list[str]:
    """The place of the entry, each part in words."""
    out = []
    if e.event_oid:
        try:
            name = name_of(BUILD.event(e.event_oid))
        except KeyError:
            name = e.event_oid
        out.append(name + (f" {e.event_repeat}" if (e.event_repeat or 1) > 1 else ""))
    if e.form_oid:
        try:
            form = BUILD.form(e.form_oid)
        except KeyError:
            form = None
        out.append((name_of(form) if form else e.form_oid)
                   + (_(", row %(row)s", row=e.repeat_key)
                      if e.repeat_key not in (None, "", "1") else ""))
        if e.item_oid and form is not None and not e.action.startswith("signature."):
            try:
                out.append(label_of(form.item(e.item_oid)))
            except KeyError:
                out.append(e.item_oid)
    return out


def details(value) -> list[tuple[str, str]]:
    """The entry's details as (label, text) rows."""
    if not value:
        return []
    if isinstance(value, str) and value.startswith("{"):
        with contextlib.suppress(ValueError):  # a text that only looks like JSON
            value = json.loads(value)
    if not isinstance(value, dict):
        return [("", str(value))]
    rows = []
    for key, v in value.items():
        if v is None:
            text = _("none")
        elif isinstance(v, dict):
            text = "; ".join(f"{k.replace('_', ' ')}: {x}" for k, x in v.items())
        elif isinstance(v, list | tuple):
            text = ", ".join(str(x) for x in v) or _("none")
        else:
            text = str(v)
        if key in ("status", "state", "kind", "level"):  # a state word the system wrote
            text = translate(text)
        label = DETAIL_LABELS.get(key) or _sentence(key.replace("_", " "))
        rows.append((translate(label), text))
    return rows


def people(entries: Iterable[AuditEntry]) -> dict[str, str]:
    """Full names of the users the entries name (one query for a page)."""
    names = {e.username for e in entries if e.username}
    if not names:
        return {}
    rows = db.session.execute(select(User.username, User.full_name).where(
        User.username.in_(names)).execution_options(all_sites=True))
    return dict(rows.all())


def role(code: str | None) -> str:
    try:
        return translate(Role(code).label) if code else ""
    except ValueError:
        return code or ""


def value(e: AuditEntry, text: str | None) -> str | None:
    """An old or new value as shown: a state the system wrote (a query's "open", a role's
    "none") in words of the reader's language; a value someone entered, as it is."""
    if text is None or e.action.startswith(("data.", "check.")):
        return text
    if e.action.startswith("subject.") and text in progress.SHOWN:  # a subject's status
        return str(progress.SHOWN[text][0])
    if (e.action, text) in _OWN_WORDS:
        return translate(_OWN_WORDS[e.action, text])
    return translate(text) if text in _STATES else text


_STATES = frozenset((*STATE_WORDS, "none"))
# values one action writes whose word elsewhere means something else ("enrolled")
_OWN_WORDS = {("user.second_factor_enrolled", "enrolled"): N_("set up")}
