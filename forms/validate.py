"""Server-side validation of one form's values against its metadata.

``validate_form`` is pure: it takes the entered values (strings, as they came from a web form
or JSON) and a context (today, consent date, values of other forms the checks read) and
returns normalised values, hard errors (the save is refused, each message is for its item)
and soft warnings (the values are saved and flagged). It never touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation

from forms.metadata import Form, Item, StudyBuild
from forms.text import Message
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
        return None, Message("contains control or invalid characters; retype the value")
    if item.type == "text":
        if len(raw) > item.max_length:
            return None, Message("at most %(n)d characters", n=item.max_length)
        return raw, None
    value = raw.strip()
    if item.loq and value[:1] in ("<", ">"):
        try:
            return parse_quantity(value, loq=True).text, None
        except ValueError as exc:
            return None, exc.args[0]
    if item.type == "integer":
        if not _INT.match(value):
            return None, (Message("enter a whole number (or <limit / >limit)") if item.loq
                          else Message("enter a whole number"))
        return str(int(value)), None
    if item.type == "float":
        value = value.replace(",", ".") if value.count(",") == 1 and "." not in value else value
        if not _DEC.match(value):
            return None, (Message(
                "enter a number (use . for decimals); below or above the limit of "
                "quantification: <limit or >limit") if item.loq
                else Message("enter a number (use . for decimals)"))
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None, Message("enter a number")
        return format(number.normalize(), "f") if number == number.to_integral() else value, None
    if item.type == "date":
        try:
            return parse_date(value, partial=item.partial).text, None
        except ValueError as exc:
            return None, exc.args[0]
    if item.type == "time":
        try:
            return time.fromisoformat(value).strftime("%H:%M"), None
        except ValueError:
            return None, Message("enter a time as HH:MM (24 h)")
    return value, None  # code: checked against its list by the caller


def validate_form(build: StudyBuild, form: Form, entered: dict[str, object],
                  context: Context) -> Outcome:
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    values: dict[str, str | None] = {}
    known = set(form.item_names)
    for name in entered:
        if name not in known:
            errors[name] = Message("%(form)s has no item %(item)s", form=form.oid, item=name)

    for item in form.items:
        if item.name not in entered:
            continue
        raw = entered[item.name]
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            values[item.name] = None
            continue
        if item.derived:
            errors[item.name] = Message("is computed by the system and cannot be entered")
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            errors[item.name] = Message("must be a string or a number")
            continue
        text, error = _parse(item, str(raw))
        if error:
            errors[item.name] = error
            continue
        if item.type == "code":
            codes = build.codelists[item.codelist].codes
            if text not in codes:
                errors[item.name] = Message("choose one of %(codes)s", codes=", ".join(codes))
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
            error, warning = _range_check(item, value, merged)
            if error:
                errors[item.name] = error
            elif warning:
                warnings[item.name] = warning
        if item.type == "date":
            span = date_span(value)
            day = span.earliest
            if item.no_future and day > context.today:
                errors[item.name] = Message("is after today")
            elif (form.procedure and item.name == form.date_item and context.consent_date
                  and day < context.consent_date):
                errors[item.name] = Message("is before informed consent (%(date)s)",
                                            date=context.consent_date.isoformat())

    for order in form.date_orders:
        a, b = merged.get(order.earlier), merged.get(order.later)
        if a and b and order.later not in errors and order.earlier not in errors and \
                date_span(b).latest < date_span(a).earliest:  # surely before, partial or not
            errors[order.later] = order.message

    for item in form.items:
        if item.derived or item.name in errors:
            continue
        present = merged.get(item.name) is not None
        if is_required(item, merged) and not present and item.name in entered:
            warnings[item.name] = Message("required")
    return Outcome(values, errors, warnings)


def _range_check(item: Item, value: str, values: Mapping[str, str | None]
                 ) -> tuple[str | None, str | None]:
    """(refusal, flag) of a number against its plausible (hard) and normal (soft) range."""
    unit = values.get(item.unit_item) if item.unit_item else None
    if item.unit_item and unit is None:
        return Message("give the unit (%(unit)s)", unit=item.unit_item), None
    hard, soft = item.ranges_for(unit)
    q = parse_quantity(value, loq=item.loq)
    unit_text = f" {unit or item.unit}" if (unit or item.unit) else ""
    if hard and not hard.contains(q.limit):
        return Message("%(value)s is outside the plausible range %(range)s",
                       value=value + unit_text, range=str(hard) + unit_text), None
    if soft and _surely_outside(q, soft):
        return None, Message("%(value)s is outside the normal range %(range)s",
                             value=value + unit_text, range=str(soft))
    return None, None


def range_flags(form: Form, stored: Mapping[str, str | None]) -> dict[str, str]:
    """The soft-range flags of saved values, shown on their items whenever the form is."""
    out = {}
    for item in form.items:
        value = stored.get(item.name)
        if value is not None and item.type in ("integer", "float") and not item.derived:
            try:
                _, warning = _range_check(item, value, stored)
            except ValueError:  # a value saved under other rules: not flagged from here
                continue
            if warning:
                out[item.name] = warning
    return out


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
        return Message("at most %(n)d characters", n=max_length)
    if _CONTROL.search(text):
        return Message("contains control or invalid characters; retype it")
    return None


Lookup = Callable[[str, str], "str | None"]  # (other form, item) -> its subject-level value


def hidden_items(form: Form, values: Mapping[str, str | None], lookup: Lookup) -> frozenset[str]:
    """The items that do not apply: their condition (``show_if``) does not hold on the form's
    own ``values`` or on another form's value read with ``lookup``. An item whose controlling
    item is itself hidden is hidden too."""
    out: set[str] = set()
    others: dict[tuple[str, str], str | None] = {}
    for item in form.items:
        cond = item.show_if
        if cond is None:
            continue
        other, name = cond.source
        if other:
            if (other, name) not in others:
                others[other, name] = lookup(other, name)
            value = others[other, name]
        else:
            value = None if name in out else values.get(name)
        if not cond.holds(value):
            out.add(item.name)
    return frozenset(out)


def form_applies(form: Form, lookup: Lookup) -> bool:
    """Whether the form applies to the subject (its ``show_if`` reads another form)."""
    if form.show_if is None:
        return True
    other, name = form.show_if.source
    return form.show_if.holds(lookup(other, name))


def refuse_hidden_values(build: StudyBuild, form: Form, outcome: Outcome,
                         after: Mapping[str, str | None], hidden: frozenset[str]) -> None:
    """A hidden item is never required and may not keep a value: a value in one is refused
    on its item, with the condition in words (removing a saved value asks for a reason)."""
    for name in hidden:
        if outcome.warnings.get(name) == "required":
            del outcome.warnings[name]
        if after.get(name) is not None and name not in outcome.errors \
                and not form.item(name).derived:  # computed: empty without its inputs
            cond = build.describe(form, form.item(name).show_if)
            outcome.errors[name] = Message(
                "does not apply (asked only when %(condition)s): remove the value",
                condition=cond)


def missing_required(form: Form, stored: dict[str, str | None],
                     hidden: frozenset[str] = frozenset()) -> list[str]:
    """Required items without a value in the stored form (the form is incomplete); items that
    do not apply are not required."""
    return [item.name for item in form.items if not item.derived and item.name not in hidden
            and is_required(item, stored) and stored.get(item.name) is None]


def is_required(item: Item, values: Mapping[str, str | None]) -> bool:
    """Required outright, or by another item's value (``required_if``)."""
    if item.required_if:
        other, wanted = item.required_if
        got = values.get(other)
        return got is not None and (wanted == "*" or got == wanted)
    return item.required
