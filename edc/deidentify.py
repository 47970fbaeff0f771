"""The one place identifying data is withheld.

What identifies a person is defined once: the ``pii`` flag of the items in the study build
(every metadata version, so a value entered under an older version stays covered). Every
surface that shows item values — form pages, the API, the audit viewer and its CSV, PDF and
electronic copies, eligibility evidence, and the exports — asks here, for roles that may
not see identifying data (``Perm.VIEW_PII``).
"""

from __future__ import annotations

from collections.abc import Mapping

from edc import accesslog
from forms import study_build

WITHHELD = "[withheld: identifying]"


_cache: dict[tuple[int, ...], tuple[frozenset[tuple[str, str]], dict[str, frozenset[str]]]] = {}


def _found() -> tuple[frozenset[tuple[str, str]], dict[str, frozenset[str]]]:
    builds = tuple(study_build.BUILDS.values())
    key = tuple(id(b) for b in builds)
    found = _cache.get(key)
    if found is None:
        pairs = frozenset((form.oid, item.name) for build in builds
                          for form in build.forms.values() for item in form.items if item.pii)
        by_form: dict[str, set[str]] = {}
        for form_oid, name in pairs:
            by_form.setdefault(form_oid, set()).add(name)
        found = (pairs, {f: frozenset(names) for f, names in by_form.items()})
        _cache.clear()
        _cache[key] = found
    return found


def identifying_items() -> frozenset[tuple[str, str]]:
    """(form OID, item name) of every item any metadata version flags as identifying
    (worked out again whenever the set of metadata versions changes)."""
    return _found()[0]


def identifying_in(form_oid: str) -> frozenset[str]:
    """The names of a form's identifying items (empty for most forms)."""
    return _found()[1].get(form_oid, frozenset())


def identifying_by_form() -> Mapping[str, frozenset[str]]:
    """``identifying_in`` of every form that has identifying items (read it, do not
    change it): for a loop over many forms."""
    return _found()[1]


def identifying(form_oid: str | None, item_oid: str | None) -> bool:
    return bool(form_oid and item_oid) and (form_oid, item_oid) in identifying_items()


def value(form_oid: str | None, item_oid: str | None, raw, *, allowed: bool):
    """``raw``, or the withheld marker when it identifies a person and may not be shown.
    An identifying value that is shown is noted for the access log."""
    if raw is None or raw == "" or not identifying(form_oid, item_oid):
        return raw
    if allowed:
        accesslog.note_identifying(form_oid, item_oid)
        return raw
    return WITHHELD


def items(form_oid: str, values: Mapping[str, object], *, allowed: bool) -> dict:
    """A form's {item: value} with identifying values withheld."""
    return {k: value(form_oid, k, v, allowed=allowed) for k, v in values.items()}


def without(form_oid: str, values: Mapping[str, object]) -> dict:
    """A form's {item: …} with identifying items left out, not marked: the sponsor exports,
    whose files must not even say that a value was there."""
    found = identifying_in(form_oid)
    return {k: v for k, v in values.items() if k not in found}
