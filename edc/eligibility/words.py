"""The eligibility checklist in words: the items a rule names (``DA.UPCR``) become links to
the form and item with their labels, and evidence keys and codes become words, so that a
coordinator reads what to enter and an investigator what was found, never program values."""

from __future__ import annotations

import re

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from edc.i18n import label_of, name_of, translate
from forms.study_build import BUILD
from forms.text import N_

_REF = re.compile(r"\b([A-Z]{2,5})\.([A-Z][A-Z0-9]{1,9})\b")
_YES_NO = {"Y": N_("yes"), "N": N_("no"), True: N_("yes"), False: N_("no"),
           None: N_("not entered")}


def _home_event(form_oid: str) -> str | None:
    return next((e.oid for e in BUILD.events if form_oid in e.forms), None)


def item_label(form_oid: str, item: str) -> str | None:
    """"Laboratory › Haemoglobin", or None when the build has no such item."""
    form = BUILD.forms.get(form_oid)
    if form is None or item not in form.item_names:
        return None
    return f"{name_of(form)} › {label_of(form.item(item))}"


def linked(text: str | None, subject_id: int) -> Markup:
    """``text`` (escaped, in the reader's language) with each ``FORM.ITEM`` it names as a
    link to that item."""
    if not text:
        return Markup("")
    text = translate(text)
    out, last = [], 0
    for m in _REF.finditer(text):
        label, event = item_label(*m.groups()), _home_event(m.group(1))
        if label is None or event is None:
            continue
        out.append(escape(text[last:m.start()]))
        href = url_for("crf.view", subject_id=subject_id, event_oid=event,
                       form_oid=m.group(1)) + f"#{m.group(2)}"
        out.append(Markup('<a href="{}">{}</a>').format(href, label))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def evidence(values: dict | None) -> list[tuple[str, str]]:
    """(label, text) of a criterion's evidence: keys in words, yes/no for codes."""
    rows = []
    for key, value in (values or {}).items():
        label = key.replace("_", " ")
        label = translate(label[:1].upper() + label[1:])
        if isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value) or _("none")
        elif isinstance(value, dict):
            text = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items())
        else:
            text = translate(_YES_NO[value]) if (value is None or isinstance(value, str | bool)) \
                and value in _YES_NO else str(value)
        rows.append((label, text))
    return rows
