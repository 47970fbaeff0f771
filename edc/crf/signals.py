"""What a form save tells the rest of the system.

``form_saved`` is sent by the save service inside the transaction of the save, after the
values, derivations and the ``form.save`` audit entry are written. Side effects of a save —
eligibility re-checks and signature invalidation, protocol deviations, the subject's
status, system queries, SDV marks and signatures — are subscribers in their own packages; the save
imports none of them. A subscriber writes in the same transaction (with its own audit
entries) and never commits: the boundary that called the save does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from blinker import Namespace

from audit import Actor

_signals = Namespace()
form_saved = _signals.signal("form-saved")


@dataclass(frozen=True)
class FormSaved:
    """One saved form instance: where, what changed, and what the checks said."""

    event_oid: str
    form_oid: str
    event_repeat: int
    form_repeat: int
    version: int
    status: str
    actor: Actor
    values: dict[str, str] = field(default_factory=dict)  # the instance now, derived included
    changes: tuple = ()  # edc.clinical.store.Change, in order
    warnings: dict[str, str] = field(default_factory=dict)  # soft checks, by item
    checked: frozenset = frozenset()  # items whose soft checks ran on this save
    date_item: str | None = None
    out_of_window: str | None = None  # the visit-window finding, when the date is outside
