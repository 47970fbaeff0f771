"""Eligibility criteria of shared/spec/eligibility.md as pure functions over entered data.

Each criterion evaluates to met / not_met / missing / not_applicable with the evidence it
used and the items it read. The package is split along its concerns:

- ``settings`` — the versioned study settings the rules read (windows, half-lives, C-1, C-2);
- ``base`` — results, readers of partial dates and qualified results, ``guarded``;
- ``common`` — IN-01…IN-06 and EX-01…EX-13 (``Evaluation``);
- ``cohorts`` — the criteria of SLE, SSc, IIM and AAV (``CohortEvaluation``);
- ``verdict`` — ``failing``, ``decide`` and ``evaluate``;
- ``texts`` — each criterion's text from the settings in force.
"""

from edc.eligibility.rules.base import (
    MET,
    MISSING,
    NA,
    NOT_MET,
    RULES_VERSION,
    Result,
    age_years,
    five_half_lives_days,
    months_before,
)
from edc.eligibility.rules.cohorts import BIOPSY_DAYS, SIX_MONTHS_DAYS, CohortEvaluation
from edc.eligibility.rules.common import Evaluation
from edc.eligibility.rules.settings import Settings
from edc.eligibility.rules.texts import criterion_texts
from edc.eligibility.rules.verdict import decide, evaluate, failing

__all__ = [
    "BIOPSY_DAYS", "MET", "MISSING", "NA", "NOT_MET", "RULES_VERSION", "SIX_MONTHS_DAYS",
    "CohortEvaluation", "Evaluation", "Result", "Settings", "age_years", "criterion_texts",
    "decide", "evaluate", "failing", "five_half_lives_days", "months_before",
]
