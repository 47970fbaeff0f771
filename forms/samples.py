"""Plausible sample values generated from the metadata (demo data, benchmarks, tests)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from forms.metadata import Form, Item
from forms.study_build import BUILD
from forms.validate import Lookup, hidden_items


def sample_value(form: Form, item: Item, *, on: date, rank: int = 0) -> str:
    """A value inside the item's normal range (else its plausible range), dated ``on``.
    ``rank`` moves through code lists and ranges so that demo subjects differ."""
    if item.type == "date":
        return on.isoformat()
    if item.type == "time":
        return "10:30"
    if item.type == "code":
        if item.codelist == "CREATU":
            return "umol/L"
        codes = BUILD.codelists[item.codelist].codes
        return codes[rank % len(codes)] if item.codelist not in ("NY",) else "N"
    if item.type in ("integer", "float"):
        hard, soft = item.ranges_for("umol/L")
        rng = soft or hard
        if rng is None or rng.low is None or rng.high is None:
            return "1"
        share = Decimal((rank % 5) + 3) / Decimal(10)
        value = rng.low + (rng.high - rng.low) * share
        return str(int(value)) if item.type == "integer" else str(value.quantize(Decimal("0.1")))
    return "LOT-0001" if item.name == "LOTNO" else f"Sample {item.name.lower()}"[:item.max_length]


def sample_form(form: Form, *, on: date, rank: int = 0,
                lookup: Lookup = lambda form, item: None) -> dict[str, str]:
    """Sample values of the items that apply (``lookup`` reads the subject's other forms,
    e.g. the cohort; without it, items asked only for a cohort are left out)."""
    values = {i.name: sample_value(form, i, on=on, rank=rank)
              for i in form.items if not i.derived}
    hidden = hidden_items(form, values, lookup)
    return {k: v for k, v in values.items() if k not in hidden}
