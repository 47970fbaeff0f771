"""Values that are known only in part: partial dates and results beyond a limit of
quantification.

A history date may be partial where the metadata allows it (``Item.partial``): ``2019-03-UN``
(day unknown) or ``2019-UN-UN`` (month and day unknown). It is stored as entered and read as
the span of days it may denote. A laboratory result may be below or above the limit of
quantification where the metadata allows it (``Item.loq``): ``<20`` or ``>2000``. It is stored
as entered and read as the interval of values it may denote.

Readers never pick a point inside the span: a comparison answers True, False or None (cannot
be told), and the eligibility rules turn None into ``missing`` or, where the specification
says so, the conservative side (a partial date that could fall inside a window is inside).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from forms.text import Message

UNKNOWN = "UN"
_PARTIAL = re.compile(r"^(\d{4})-(\d{2}|UN)-(\d{2}|UN)$")
_QUALIFIED = re.compile(r"^([<>])\s*([+-]?(\d+(\.\d*)?|\.\d+))$")


@dataclass(frozen=True)
class DateSpan:
    """The days a (possibly partial) date may denote, ``earliest`` to ``latest``."""

    earliest: date
    latest: date
    text: str

    @property
    def exact(self) -> bool:
        return self.earliest == self.latest

    def __str__(self) -> str:
        return self.text


def parse_date(text: str, *, partial: bool = False) -> DateSpan:
    """A date ``YYYY-MM-DD``, or with ``partial`` also ``YYYY-MM-UN`` and ``YYYY-UN-UN``.
    ValueError says what to type."""
    value = (text or "").strip()
    asked = Message("enter a date as YYYY-MM-DD, or YYYY-MM-UN / YYYY-UN-UN when the day or "
                    "month is unknown") if partial else Message("enter a date as YYYY-MM-DD")
    if not partial or UNKNOWN not in value.upper():
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(asked) from None
        return DateSpan(day, day, day.isoformat())
    m = _PARTIAL.match(value.upper())
    if not m:
        raise ValueError(asked)
    year, month, day = m.groups()
    if month == UNKNOWN and day != UNKNOWN:
        raise ValueError(Message("a day without a month: enter YYYY-UN-UN"))
    if day != UNKNOWN:  # only the day, or the month and the day, may be unknown
        raise ValueError(asked)
    y = int(year)
    if y < 1900:
        raise ValueError(Message("the year is before 1900"))
    if month == UNKNOWN:
        return DateSpan(date(y, 1, 1), date(y, 12, 31), f"{y:04d}-UN-UN")
    mo = int(month)
    if not 1 <= mo <= 12:
        raise ValueError(Message("the month must be 01 to 12"))
    last = calendar.monthrange(y, mo)[1]
    return DateSpan(date(y, mo, 1), date(y, mo, last), f"{y:04d}-{mo:02d}-UN")


def date_span(value: str | None) -> DateSpan | None:
    """A stored date (full or partial) as its span; None when blank."""
    if value in (None, ""):
        return None
    return parse_date(value, partial=True)


@dataclass(frozen=True)
class Quantity:
    """A number, or an interval below (``<x``) or above (``>x``) a limit of quantification.
    ``low``/``high`` None mean unbounded; a qualified bound is exclusive."""

    low: Decimal | None
    high: Decimal | None
    text: str
    qualifier: str = ""  # "", "<" or ">"

    @property
    def exact(self) -> bool:
        return not self.qualifier

    @property
    def limit(self) -> Decimal:
        """The number written (the value, or the limit of quantification)."""
        return self.high if self.qualifier == "<" else self.low  # type: ignore[return-value]

    def at_least(self, bound: float | Decimal) -> bool | None:
        """Is the value ≥ bound? None when the interval straddles it."""
        b = Decimal(str(bound))
        if self.low is not None and self.low >= b:
            return True
        if self.high is not None and (self.high < b or (self.high == b and self.qualifier)):
            return False
        return None

    def at_most(self, bound: float | Decimal) -> bool | None:
        """Is the value ≤ bound? None when the interval straddles it."""
        b = Decimal(str(bound))
        if self.high is not None and self.high <= b:
            return True
        if self.low is not None and (self.low > b or (self.low == b and self.qualifier)):
            return False
        return None

    def scaled(self, factor: float | Decimal) -> Quantity:
        f = Decimal(str(factor))
        return Quantity(None if self.low is None else self.low * f,
                        None if self.high is None else self.high * f, self.text,
                        self.qualifier)

    def bounds(self, floor: Decimal = Decimal(0)) -> tuple[Decimal, Decimal | None]:
        """(lowest, highest) values it may denote; an unbounded low is ``floor``."""
        return (self.low if self.low is not None else floor), self.high

    def __str__(self) -> str:
        return self.text


def parse_quantity(text: str, *, loq: bool = False) -> Quantity:
    """A number, or with ``loq`` also ``<x`` / ``>x``. ValueError says what to type."""
    value = (text or "").strip()
    m = _QUALIFIED.match(value) if loq else None
    if m:
        number = Decimal(m.group(2))
        text = f"{m.group(1)}{_plain(number)}"
        if m.group(1) == "<":
            return Quantity(None, number, text, "<")
        return Quantity(number, None, text, ">")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(Message("enter a number (or <limit / >limit)") if loq
                         else Message("enter a number")) from None
    if not number.is_finite():
        raise ValueError(Message("enter a number"))
    return Quantity(number, number, _plain(number))


def quantity(value: str | None) -> Quantity | None:
    """A stored number or qualified result as its interval; None when blank."""
    if value in (None, ""):
        return None
    return parse_quantity(value, loq=True)


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f") if number == number.to_integral() else str(number)
