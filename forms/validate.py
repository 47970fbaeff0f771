"""Server-side validation of one form's values against its metadata.

``validate_form`` is pure: it takes the entered values (strings, as they came from a web form
or JSON) and a context (today, consent date, values of other forms the checks read) and
returns normalised values, hard errors (the save is refused, each message is for its item)
and soft warnings (the values are saved and flagged). It never touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation

from forms.metadata import Form, Item, StudyBuild
from forms.values import date_span, parse_date, parse_quantity

_INT = re.compile(r"^[+-]?\d+$")
_DEC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # and lone surrogates


@dataclass
class Context:
    today: date
    consent_date: date | None = None
    # cross-form values a check reads, e.g. {"AP.LOTNO": "L123"}
    other: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    values: dict[str, str | None]
    errors: dict[str, str]
    warnings: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse(item: Item, raw: str) -> tuple[str | None, str | None]:
    """(normalised text, error)."""
    if _CONTROL.search(raw):
        return None, "contains control or invalid characters; retype the value"
    if item.type == "text":
        if len(raw) > item.max_length:
            return None, f"at most {item.max_length} characters"
        return raw, None
    value = raw.strip()
    if item.loq and value[:1] in ("<", ">"):
        try:
            return parse_quantity(value, loq=True).text, None
        except ValueError as exc:
            return None, str(exc)
    if item.type == "integer":
        if not _INT.match(value):
            return None, "enter a whole number" + (" (or <limit / >limit)" if item.loq else "")
        return str(int(value)), None
    if item.type == "float":
        value = value.replace(",", ".") if value.count(",") == 1 and "." not in value else value
        if not _DEC.match(value):
            return None, "enter a number (use . for decimals)" + (
                "; below or above the limit of quantification: <limit or >limit"
                if item.loq else "")
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None, "enter a number"
        return format(number.normalize(), "f") if number == number.to_integral() else value, None
    if item.type == "date":
        try:
            return parse_date(value, partial=item.partial).text, None
        except ValueError as exc:
            return None, str(exc)
    if item.type == "time":
        try:
            return time.fromisoformat(value).strftime("%H:%M"), None
        except ValueError:
            return None, "enter a time as HH:MM (24 h)"
    return value, None  # code: checked against its list by the caller


def validate_form(build: StudyBuild, form: Form, entered: dict[str, object],
                  context: Context) -> Outcome:
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    values: dict[str, str | None] = {}
    known = set(form.item_names)
    for name in entered:
        if name not in known:
            errors[name] = f"{form.oid} has no item {name}"

    for item in form.items:
        if item.name not in entered:
            continue
        raw = entered[item.name]
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            values[item.name] = None
            continue
        if item.derived:
            errors[item.name] = "is computed by the system and cannot be entered"
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            errors[item.name] = "must be a string or a number"
            continue
        text, error = _parse(item, str(raw))
        if error:
            errors[item.name] = error
            continue
        if item.type == "code":
            codes = build.codelists[item.codelist].codes
            if text not in codes:
                errors[item.name] = f"choose one of {', '.join(codes)}"
                continue
        values[item.name] = text

    merged = dict(values)
    for item in form.items:
        if item.name in errors:
            continue
        value = merged.get(item.name)
        if value is None:
            continue
        if item.type in ("integer", "float"):
            unit = merged.get(item.unit_item) if item.unit_item else None
            if item.unit_item and unit is None:
                errors[item.name] = f"give the unit ({item.unit_item})"
                continue
            hard, soft = item.ranges_for(unit)
            q = parse_quantity(value, loq=item.loq)
            unit_text = f" {unit or item.unit}" if (unit or item.unit) else ""
            if hard and not hard.contains(q.limit):
                errors[item.name] = (f"{value}{unit_text} is outside the plausible range "
                                     f"{hard}{unit_text}")
            elif soft and (_surely_outside(q, soft)):
                warnings[item.name] = f"{value}{unit_text} is outside the normal range {soft}"
        if item.type == "date":
            span = date_span(value)
            day = span.earliest
            if item.no_future and day > context.today:
                errors[item.name] = "is after today"
            elif (form.procedure and item.name == form.date_item and context.consent_date
                  and day < context.consent_date):
                errors[item.name] = (f"is before informed consent "
                                     f"({context.consent_date.isoformat()})")

    for order in form.date_orders:
        a, b = merged.get(order.earlier), merged.get(order.later)
        if a and b and order.later not in errors and order.earlier not in errors and \
                date_span(b).latest < date_span(a).earliest:  # surely before, partial or not
            errors[order.later] = order.message

    for item in form.items:
        if item.derived or item.name in errors:
            continue
        present = merged.get(item.name) is not None
        required = item.required
        if item.required_if:
            other, wanted = item.required_if
            got = merged.get(other)
            required = got is not None and (wanted == "*" or got == wanted)
        if required and not present and item.name in entered:
            warnings[item.name] = "required"
    return Outcome(values, errors, warnings)


def _surely_outside(q, soft) -> bool:
    """A value (or a result beyond a quantification limit) certainly outside the normal
    range; a qualified result that may lie inside it is not flagged."""
    below = soft.low is not None and q.at_least(soft.low) is False
    above = soft.high is not None and q.at_most(soft.high) is False
    return below or above


MAX_REASON = 2000


def free_text_problem(text: str, max_length: int) -> str | None:
    """What is wrong with a typed text that is not an item (a reason for change): too long,
    or control characters."""
    if len(text) > max_length:
        return f"at most {max_length} characters"
    if _CONTROL.search(text):
        return "contains control or invalid characters; retype it"
    return None


def missing_required(form: Form, stored: dict[str, str | None]) -> list[str]:
    """Required items without a value in the stored form (the form is incomplete)."""
    out = []
    for item in form.items:
        if item.derived:
            continue
        required = item.required
        if item.required_if:
            other, wanted = item.required_if
            got = stored.get(other)
            required = got is not None and (wanted == "*" or got == wanted)
        if required and stored.get(item.name) is None:
            out.append(item.name)
    return out
