"""From the criteria to the verdict: what keeps the subject out, and the decision."""

from __future__ import annotations

from datetime import date

from edc.eligibility.rules.base import MET, MISSING, NOT_MET, RULES_VERSION, Getter, Result
from edc.eligibility.rules.cohorts import CohortEvaluation
from edc.eligibility.rules.settings import Settings
from edc.eligibility.rules.texts import criterion_texts


def failing(results: list[Result], alternatives: list[list[str]]) -> list[Result]:
    """The criteria that keep the subject from being eligible: a missing value, an inclusion
    not met, an exclusion met. A group of alternatives keeps the subject out only when none
    of it is met; then its missing members are named (they may still be met), or all of
    them when every one is not met."""
    grouped = {i for g in alternatives for i in g}
    out = [r for r in results if r.id not in grouped and (
        r.result == MISSING or r.result == (MET if r.id.startswith("EX-") else NOT_MET))]
    by_id = {r.id: r for r in results}
    for group in alternatives:
        members = [by_id[i] for i in group if i in by_id]
        if not any(m.result == MET for m in members):
            out.extend([m for m in members if m.result == MISSING] or members)
    return out


def decide(results: list[Result], alternatives: list[list[str]]) -> str:
    """eligible / not_eligible / not_evaluable. A definite failure makes the subject not
    eligible even when other values are still missing; otherwise anything missing makes the
    subject not evaluable."""
    blocking = failing(results, alternatives)
    if any(r.result != MISSING for r in blocking):
        return "not_eligible"
    return "not_evaluable" if blocking else "eligible"


def evaluate(get: Getter, prior_treatments: list[dict], reference: date,
             settings: Settings | None = None) -> dict:
    ev = CohortEvaluation(get, prior_treatments, reference, settings)
    common = ev.common()
    cohort, alternatives = ev.cohort()
    inclusion = [r for r in common if r.id.startswith("IN-")] + cohort
    exclusion = [r for r in common if r.id.startswith("EX-")]
    results = inclusion + exclusion
    c1 = "or" if ev.s.iim_either_refractory_or_progressive else "and"
    c2 = "counted" if ev.s.antimalarials_count_for_washout else "not counted"
    return {"status": decide(results, alternatives),
            "rule_version": f"{RULES_VERSION} ({ev.s.version}; C-1 IIM-3 {c1} IIM-4; "
                            f"C-2 antimalarials {c2})",
            "criteria": results, "alternatives": alternatives,
            "clarifications": ev.s.clarifications, "texts": criterion_texts(ev.s)}
