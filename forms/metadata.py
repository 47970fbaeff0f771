"""The study build as data: code lists, items, forms, events.

One definition per form is the single source for validation, derivation, the web form, the
data dictionary, ODM metadata and export columns (ARCHITECTURE.md). Identifiers follow ODM:
``SE.<EVENT>``, ``F.<FORM>``, ``IG.<FORM>[.<GROUP>]``, ``I.<FORM>.<ITEM>``, ``CL.<LIST>``;
names follow CDASH where a
CDASH variable exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

ITEM_TYPES = ("text", "integer", "float", "date", "time", "code")


@dataclass(frozen=True)
class CodeList:
    oid: str
    terms: tuple[tuple[str, str, str], ...]  # (code, English, Chinese)
    # code -> further names a pick list searches (synonyms, brand names); a list with them
    # is offered as a searchable list instead of a drop-down
    search_terms: Mapping[str, str] = field(default_factory=dict)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(t[0] for t in self.terms)

    @cached_property
    def _terms(self) -> dict[str, tuple[str, str]]:
        return {c: (en, zh or en) for c, en, zh in reversed(self.terms)}  # the first wins

    def label(self, code: str, lang: str = "en") -> str:
        """The term of ``code`` in English, or in Chinese (``lang="zh"``) where it has one."""
        term = self._terms.get(code)
        return code if term is None else term[lang == "zh"]

    def both(self, code: str) -> str:
        """The term in English and Chinese (the code itself when the list has no such term)."""
        return next((f"{en} · {zh}" if zh else en for c, en, zh in self.terms if c == code),
                    code)


@dataclass(frozen=True)
class Range:
    low: Decimal | None = None
    high: Decimal | None = None

    @classmethod
    def of(cls, low, high) -> Range:
        return cls(None if low is None else Decimal(str(low)),
                   None if high is None else Decimal(str(high)))

    def contains(self, value: Decimal) -> bool:
        return ((self.low is None or value >= self.low)
                and (self.high is None or value <= self.high))

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low}–{self.high}"
        return f"≥ {self.low}" if self.low is not None else f"≤ {self.high}"


@dataclass(frozen=True)
class ShowIf:
    """Branching from the metadata: an item (or a whole form) applies only while ``item``
    holds one of ``values``. ``item`` names an item of the same form, or ``FORM.ITEM`` the
    subject-level (screening) instance of another form, e.g. ``DX.COHORT``. While the
    condition does not hold, the item is not shown, never required, and may not keep a value;
    while the controlling value is unknown, the condition does not hold either."""

    item: str
    values: tuple[str, ...]

    @property
    def source(self) -> tuple[str | None, str]:
        """(other form or None for the same form, item name)."""
        form, _, item = self.item.rpartition(".")
        return form or None, item

    def holds(self, value: str | None) -> bool:
        return value is not None and value in self.values


@dataclass(frozen=True)
class Item:
    name: str
    label: str
    label_zh: str = ""
    type: str = "text"
    unit: str | None = None
    hard: Range | None = None   # outside: refused (implausible)
    soft: Range | None = None   # outside: saved and flagged (abnormal)
    # ranges that depend on a unit item of the same form: {unit code: (hard, soft)}
    unit_item: str | None = None
    unit_ranges: dict[str, tuple[Range | None, Range | None]] = field(default_factory=dict)
    codelist: str | None = None
    required: bool = False
    required_if: tuple[str, str] | None = None  # (other item, value) makes this one required
    pii: bool = False
    max_length: int = 200
    cdash: str | None = None
    sdtm: str | None = None
    derived: str | None = None  # name of the derivation that computes it (read-only)
    group: str | None = None  # item group within the form (None: the form's main group)
    no_future: bool = True  # dates: not after today
    partial: bool = False  # dates: may be partial (YYYY-MM-UN, YYYY-UN-UN); history only
    loq: bool = False  # numbers: may be a result beyond a quantification limit (<x, >x)
    show_if: ShowIf | None = None  # applies only while the condition holds (branching)

    def __post_init__(self):
        if self.type not in ITEM_TYPES:
            raise ValueError(f"{self.name}: unknown type {self.type}")
        if (self.type == "code") != (self.codelist is not None):
            raise ValueError(f"{self.name}: code items, and only they, name a code list")
        if self.partial and self.type != "date":
            raise ValueError(f"{self.name}: only dates may be partial")
        if self.loq and self.type not in ("integer", "float"):
            raise ValueError(f"{self.name}: only numbers may be beyond a quantification limit")

    def oid(self, form: str) -> str:
        return f"I.{form}.{self.name}"

    def group_oid(self, form: str) -> str:
        """``IG.<FORM>`` for the form's main group, ``IG.<FORM>.<GROUP>`` for the others."""
        return f"IG.{form}" + (f".{self.group}" if self.group else "")

    def ranges_for(self, unit: str | None) -> tuple[Range | None, Range | None]:
        if self.unit_item and unit in self.unit_ranges:
            return self.unit_ranges[unit]
        return self.hard, self.soft


@dataclass(frozen=True)
class DateOrder:
    """``later`` may not be before ``earlier`` (both items of the same form)."""

    earlier: str
    later: str
    message: str


@dataclass(frozen=True)
class Form:
    oid: str
    name: str
    name_zh: str
    items: tuple[Item, ...]
    repeating: bool = False   # a log form: rows added at any time after consent
    date_item: str | None = None  # the visit/sample date used for windows and consent checks
    procedure: bool = True  # its date_item is a study procedure: not before consent
    date_orders: tuple[DateOrder, ...] = ()
    show_if: ShowIf | None = None  # the whole form applies only while this holds (another form)

    # item group -> (English, Chinese) name; items name their group, in form order
    group_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def item_groups(self) -> list[ItemGroup]:
        """The form's item groups in order: consecutive items of one group."""
        out: list[ItemGroup] = []
        for item in self.items:
            if not out or out[-1].key != item.group:
                name, name_zh = self.group_names.get(item.group, (self.name, self.name_zh)) \
                    if item.group else (self.name, self.name_zh)
                out.append(ItemGroup(item.group_oid(self.oid), item.group, name, name_zh, []))
            out[-1].items.append(item)
        return out

    def item(self, name: str) -> Item:
        for it in self.items:
            if it.name == name:
                return it
        raise KeyError(f"{self.oid} has no item {name}")

    @property
    def item_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.items)


@dataclass
class ItemGroup:
    oid: str
    key: str | None
    name: str
    name_zh: str
    items: list[Item]


@dataclass(frozen=True)
class Event:
    oid: str
    name: str
    forms: tuple[str, ...]
    day: int | None = None          # target day relative to infusion (Day 0)
    window: tuple[int, int] | None = None  # (days before, days after) the target
    repeatable: bool = False
    name_zh: str = ""


@dataclass(frozen=True)
class StudyBuild:
    version: str
    events: tuple[Event, ...]
    forms: dict[str, Form]
    codelists: dict[str, CodeList]

    def event(self, oid: str) -> Event:
        for e in self.events:
            if e.oid == oid:
                return e
        raise KeyError(f"no event {oid}")

    def form(self, oid: str) -> Form:
        try:
            return self.forms[oid]
        except KeyError:
            raise KeyError(f"no form {oid}") from None

    def row_event(self, form_oid: str) -> str | None:
        """The event whose rows a repeating form holds (``LOG`` for the logs; ``SCREEN``
        for prior treatments; ``LD`` for lymphodepletion days), or None for other forms."""
        form = self.forms.get(form_oid)
        if form is None:
            return None
        event = next(e.oid for e in self.events if form_oid in e.forms)
        return event if form.repeating or event == "LOG" else None

    def check(self) -> None:
        """Consistency of the build itself (run by the tests)."""
        for f in self.forms.values():
            names = [i.name for i in f.items]
            if len(names) != len(set(names)):
                raise ValueError(f"{f.oid}: duplicate item names")
            for i in f.items:
                if i.codelist and i.codelist not in self.codelists:
                    raise ValueError(f"{f.oid}.{i.name}: unknown code list {i.codelist}")
                for other in (i.unit_item, i.required_if[0] if i.required_if else None):
                    if other and other not in names:
                        raise ValueError(f"{f.oid}.{i.name}: refers to missing item {other}")
                if i.show_if:
                    self._check_condition(f, i.show_if, f"{f.oid}.{i.name}",
                                          before=names[:names.index(i.name)])
            if f.show_if:
                if f.show_if.source[0] is None:
                    raise ValueError(f"{f.oid}: a form's condition reads another form")
                self._check_condition(f, f.show_if, f.oid, before=[])
            for order in f.date_orders:
                for name in (order.earlier, order.later):
                    if name not in names:
                        raise ValueError(f"{f.oid}: date order names missing item {name}")
            if f.date_item and f.date_item not in names:
                raise ValueError(f"{f.oid}: date item {f.date_item} missing")
            keys = [g.key for g in f.item_groups()]
            if len(keys) != len(set(keys)):
                raise ValueError(f"{f.oid}: an item group is split by another")
            if any(k and k not in f.group_names for k in keys):
                raise ValueError(f"{f.oid}: an item group has no name")
        for e in self.events:
            for oid in e.forms:
                if oid not in self.forms:
                    raise ValueError(f"{e.oid}: unknown form {oid}")

    def describe(self, form: Form, cond: ShowIf) -> str:
        """A condition in words: "Sex is Female", "Cohort (Diagnosis and cohort) is …"."""
        other, name = cond.source
        source = self.forms[other] if other else form
        item = source.item(name)
        codes = self.codelists[item.codelist]
        where = f" ({source.name})" if other else ""
        return f"{item.label}{where} is " + " or ".join(codes.label(c) for c in cond.values)

    def _check_condition(self, form: Form, cond: ShowIf, where: str, before: list[str]):
        """A condition reads a code item that exists (of an earlier item of the same form, so
        the page can show and hide in order), and names codes of its list."""
        other, name = cond.source
        if other is None and name not in before:
            raise ValueError(f"{where}: shown if {name}, which is not an earlier item")
        source = self.forms.get(other) if other else form
        if source is None or name not in source.item_names:
            raise ValueError(f"{where}: shown if {cond.item}, which does not exist")
        item = source.item(name)
        if item.type != "code" or not set(cond.values) <= set(
                self.codelists[item.codelist].codes):
            raise ValueError(f"{where}: shown if {cond.item} holds codes it cannot hold")
