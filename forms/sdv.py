"""The source data verification plan, part of the study build.

Critical data are verified in full (100 %) for every subject: consent and every eligibility
input (all screening forms), enrollment, lymphodepletion plan and daily doses, the infusion,
CRS and ICANS assessments (the grades are derived from what the site entered, so the inputs
are verified), adverse events (their seriousness criteria make the SAEs), second
malignancies and death.

Every other form follows the plan's rule: all of it for the first ``first_subjects`` subjects
of each site (screening order), then a sample of ``sample_percent`` % of form instances,
chosen by a stable hash of subject, visit and form, so the sample does not move when more
data arrive and a monitor can predict it.

Items that hold no value are not to be verified (there is nothing to compare with the source);
derived items are computed by the system from verified inputs, so they are not either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SCREENING_FORMS = ("IC", "DM", "DX", "PT", "LB", "FC", "PG", "SR", "EC", "DA", "EX")


@dataclass(frozen=True)
class SdvPlan:
    version: str
    critical_forms: frozenset[str]  # every entered item of these forms, all subjects
    critical_events: frozenset[str]  # every form of these events (screening), all subjects
    first_subjects: int = 3
    sample_percent: int = 25

    @property
    def label(self) -> str:
        return (f"SDV plan {self.version}: critical data 100 %; other forms 100 % for the "
                f"first {self.first_subjects} subjects of each site, then "
                f"{self.sample_percent} % of form instances")

    def critical(self, event_oid: str, form_oid: str) -> bool:
        return event_oid in self.critical_events or form_oid in self.critical_forms

    def sampled(self, screening_number: str, event_oid: str, event_repeat: int,
                form_oid: str, form_repeat: int) -> bool:
        key = f"{screening_number}|{event_oid}|{event_repeat}|{form_oid}|{form_repeat}"
        bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
        return bucket < self.sample_percent

    def required(self, *, rank: int, screening_number: str, event_oid: str,
                 event_repeat: int, form_oid: str, form_repeat: int) -> str | None:
        """Why this form instance needs SDV (``critical``, ``early subject``, ``sample``), or
        None. ``rank`` is the subject's place at its site (1 = first screened)."""
        if self.critical(event_oid, form_oid):
            return "critical"
        if rank <= self.first_subjects:
            return "early subject"
        if self.sampled(screening_number, event_oid, event_repeat, form_oid, form_repeat):
            return "sample"
        return None


PLAN = SdvPlan(
    version="1.0",
    critical_events=frozenset({"SCREEN"}),
    critical_forms=frozenset({"IC", "EN", "LD", "LDD", "IF", "CRS", "ICANS", "AE", "SM",
                              "DTH"}),
)


def plan_with(*, first_subjects: int | None = None, sample_percent: int | None = None
              ) -> SdvPlan:
    """The plan with a study's configured rule (``EDC_SDV_FIRST_SUBJECTS``,
    ``EDC_SDV_SAMPLE_PERCENT``); a changed rule is a new plan version."""
    first = PLAN.first_subjects if first_subjects is None else first_subjects
    sample = PLAN.sample_percent if sample_percent is None else sample_percent
    if (first, sample) == (PLAN.first_subjects, PLAN.sample_percent):
        return PLAN
    return SdvPlan(f"{PLAN.version}+first{first}-sample{sample}", PLAN.critical_forms,
                   PLAN.critical_events, first, sample)
