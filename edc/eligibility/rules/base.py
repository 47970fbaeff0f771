"""What every criterion shares: its result and evidence, the readers of partial dates and
qualified results, date arithmetic, and ``guarded`` (a formula's domain error is `missing`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from forms.scores import age_years  # noqa: F401 - the rules' age
from forms.text import Message
from forms.values import DateSpan, Quantity, date_span, quantity

RULES_VERSION = "eligibility-1"

MET, NOT_MET, MISSING, NA = "met", "not_met", "missing", "not_applicable"


@dataclass
class Result:
    id: str
    result: str
    evidence: dict = field(default_factory=dict)
    missing: str | None = None  # for `missing`: exactly what is absent or out of window
    # (form, item) pairs the criterion read, in order; ("PT", "*") for the prior-treatment log
    sources: list[tuple[str, str]] = field(default_factory=list)


def not_entered(items: str) -> Message:
    """What a criterion lacks, as a message the checklist shows in the reader's language (the
    evaluation keeps the English text as evidence)."""
    return Message("%(items)s not entered", items=items)


def joined(parts: list[Message]) -> Message:
    """Several messages as one ("a; b; c"), each still translated where it is shown."""
    if len(parts) == 1:
        return parts[0]
    return Message("%(first)s; %(rest)s", first=parts[0], rest=joined(parts[1:]))


Getter = Callable[[str, str], str | None]  # (form, item) -> value of the screening event


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _f(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _q(value: str | None) -> Quantity | None:
    """A laboratory result, possibly beyond a limit of quantification (``<20``)."""
    return quantity(value)


def _span(value: str | None) -> DateSpan | None:
    """A history date, possibly partial (``2019-03-UN``)."""
    return date_span(value)


def _as_text(q: Quantity) -> str | float:
    return float(q.low) if q.exact else q.text


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def five_half_lives_days(hours: float) -> int:
    return math.ceil(5 * hours / 24)


def guarded(rid: str | None = None):
    """A criterion whose inputs are out of a formula's domain (a birth date after consent, a
    zero upper limit) is `missing` with the reason, never an error of the whole checklist.
    ``rid`` names the criterion; without it the method's first argument does."""
    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (ValueError, ArithmeticError, TypeError) as exc:
                return self._result(rid or args[0], MISSING, missing=Message(
                    "cannot be evaluated from the entered values (%(error)s)", error=str(exc)))
        return run
    return wrap
