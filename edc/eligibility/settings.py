"""The study settings the eligibility rules read, stored as versioned data.

Version 1 holds the reference values of eligibility.md and is written by ``edc init``. A change
writes a new version (the old one stays), audited with the reason; every evaluation names the
version it used in its rule version.
"""

from __future__ import annotations

import json

from sqlalchemy import select

import audit
from audit import Actor
from edc import signatures
from edc.eligibility.rules import Settings
from edc.extensions import db
from edc.models import EligibilitySettings, Study
from forms import medications
from forms.text import N_, Message
from forms.validate import MAX_REASON, free_text_problem

WINDOWS = {  # field -> (label, lowest, highest)
    "screening_window_days": ("Screening window for laboratory values (days)", 1, 90),
    "hcg_window_days": ("Pregnancy test window (days before enrollment)", 0, 28),
    "malignancy_years": ("Malignancy look-back (years)", 1, 20),
    "other_trial_months": ("Other clinical trial look-back (months)", 1, 24),
}


CLARIFICATIONS = {  # yes/no settings -> the clarification they carry
    "iim_either_refractory_or_progressive": "C-1",
    "antimalarials_count_for_washout": "C-2",
}


class SettingsError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def latest_row(study_id: int | None = None) -> EligibilitySettings | None:
    stmt = select(EligibilitySettings).order_by(EligibilitySettings.version.desc()).limit(1)
    if study_id is not None:
        stmt = stmt.where(EligibilitySettings.study_id == study_id)
    return db.session.scalar(stmt)


def to_settings(row: EligibilitySettings) -> Settings:
    return Settings.from_dict(row.version, json.loads(row.settings))


def current_settings() -> Settings:
    row = latest_row()
    if row is None:
        raise LookupError(N_("No eligibility settings are stored: run `edc init`."))
    return to_settings(row)


def history() -> list[EligibilitySettings]:
    return list(db.session.scalars(select(EligibilitySettings)
                                   .order_by(EligibilitySettings.version.desc())))


def ensure_settings(study: Study, actor: Actor) -> None:
    """Store version 1 (the reference values of the specification) once."""
    if latest_row(study.id) is not None:
        return
    _store(study.id, 1, Settings().as_dict(), None, actor, None,
           "reference values of the eligibility specification")


def _store(study_id: int, version: int, data: dict, old: dict | None, actor: Actor,
           user_id: int | None, reason: str) -> EligibilitySettings:
    row = EligibilitySettings(study_id=study_id, version=version, settings=_canonical(data),
                              reason=reason, created_by_id=user_id)
    db.session.add(row)
    db.session.flush()
    changed = sorted(k for k in data if old is None or old.get(k) != data[k])
    audit.record(db.session, "settings.update" if old else "settings.create", actor=actor,
                 target_type="eligibility_settings", target_id=str(row.id),
                 item_oid=", ".join(changed)[:128] if old else None,
                 old_value=_canonical({k: old[k] for k in changed}) if old else None,
                 new_value=_canonical({k: data[k] for k in changed}),
                 reason=reason, details={"version": version})
    return row


def agent_code(name: str) -> str:
    """The medication dictionary's code for an agent named by code, name or synonym."""
    med = medications.get(name.strip().upper()) or medications.resolve(name)
    if med is None:
        raise SettingsError("half_life_hours", Message(
                "%(value)s is not in the medication dictionary",
                value=repr(name.strip())))
    return med.code


def parse_half_lives(text: str) -> dict[str, float]:
    """Lines ``agent = hours`` (the page's text box) into a mapping keyed by the agent's
    dictionary code; errors name the line."""
    out: dict[str, float] = {}
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        agent, sep, hours = line.partition("=")
        if not sep or not agent.strip():
            raise SettingsError("half_life_hours", Message(
                    "line %(n)s: write 'agent = hours'",
                    n=n))
        try:
            agent = agent_code(agent)
        except SettingsError as exc:
            raise SettingsError("half_life_hours", Message(
                    "line %(n)s: %(message)s",
                    n=n,
                    message=exc.message)) from None
        try:
            value = float(hours)
        except ValueError:
            raise SettingsError("half_life_hours",
                                Message(
                                        "line %(n)s: %(value)s is not a number of hours",
                                        n=n,
                                        value=repr(hours.strip()))) from None
        out[agent] = value
    return out


def validate(data: dict) -> dict:
    """The complete new settings, or SettingsError naming the field."""
    clean = {}
    for name, (label, low, high) in WINDOWS.items():
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise SettingsError(name, Message("%(label)s: enter a whole number", label=label))
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SettingsError(name, Message(
                    "%(label)s: enter a whole number",
                    label=label)) from None
        if not low <= number <= high:
            raise SettingsError(name, Message(
                    "%(label)s: must be between %(low)s and %(high)s",
                    label=label,
                    low=low,
                    high=high))
        clean[name] = number
    lives = data.get("half_life_hours")
    if not isinstance(lives, dict) or not lives:
        raise SettingsError("half_life_hours", N_("give at least one agent with its half-life"))
    for agent, hours in lives.items():
        if isinstance(hours, bool) or not isinstance(hours, int | float) or \
                not 0 < hours <= 24 * 365:
            raise SettingsError("half_life_hours",
                                Message(
                                        "%(agent)s: the half-life must be a number of hours "
                                        "above 0 and at most one year",
                                        agent=agent))
    clean["half_life_hours"] = dict(sorted((agent_code(str(k)), float(v))
                                           for k, v in lives.items()))
    for name in CLARIFICATIONS:
        if not isinstance(data.get(name), bool):
            raise SettingsError(name, N_("must be true or false"))
        clean[name] = data[name]
    return clean


def change_settings(data: dict, *, reason: str, actor: Actor,
                    user_id: int) -> EligibilitySettings:
    """Store a new version of the settings (audited). Nothing is written on an error."""
    reason = (reason or "").strip()
    if not reason:
        raise SettingsError("reason", N_("Give the reason for the change (for the audit "
                                         "trail)."))
    if problem := free_text_problem(reason, MAX_REASON):
        raise SettingsError("reason", Message("The reason: %(problem)s.", problem=problem))
    clean = validate(data)
    row = latest_row()
    old = json.loads(row.settings)
    old_values = Settings.from_dict(row.version, old).as_dict()
    if clean == {k: old_values[k] for k in clean}:
        raise SettingsError("reason", N_("Nothing changed: the settings are as stored."))
    new = _store(row.study_id, row.version + 1, clean, old_values, actor, user_id, reason)
    # a checklist signed under the old settings no longer matches what is evaluated now
    signatures.invalidate_all_changed(
        actor=actor, cause=f"eligibility settings changed to version {new.version} ({reason})")
    return new
