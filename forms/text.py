"""Texts for people that the interface shows in the reader's language.

A :class:`Message` is an English ``str`` — what is stored, logged, audited and answered by the
API — that keeps the template and the parameters it was formatted from, so that a page can
show it in Chinese (``edc.i18n.translate``). The layers below the web application (metadata,
validation, services) create messages without knowing who reads them; the audit trail and the
database always receive the English text, whoever saved. ``make messages`` extracts
``Message("...")`` and ``N_("...")`` calls into the catalog."""

from __future__ import annotations

import json


class Message(str):
    """``Message("at most %(n)d characters", n=40)`` is the str "at most 40 characters". A
    longer text made from it (``+``, an f-string) is a plain ``str``: shown in English."""

    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Message:
        self = super().__new__(cls, template % params if params else template)
        self.template, self.params = template, params
        return self


def N_(text: str) -> str:  # noqa: N802 — the conventional name of a marker for extraction
    """Marks a fixed text for the catalog; it is translated where it is shown."""
    return text


def to_json(text) -> str | None:
    """A :class:`Message` as JSON (its template and parameters, nested messages too), so a
    stored system text can be shown later in the reader's language; None for a plain text
    (what someone typed is never passed through the catalog)."""
    if not isinstance(text, Message):
        return None

    def encode(m):
        if isinstance(m, Message):
            return {"t": m.template, "p": {k: encode(v) for k, v in m.params.items()}}
        return m

    return json.dumps(encode(text), ensure_ascii=False, sort_keys=True)


def from_json(data: str | None, english: str) -> str:
    """The :class:`Message` ``to_json`` stored, or ``english`` when there is none or it does
    not read back as the same English text."""
    if not data:
        return english

    def decode(v):
        if isinstance(v, dict) and set(v) == {"t", "p"}:
            return Message(v["t"], **{k: decode(x) for k, x in v["p"].items()})
        return v

    try:
        message = decode(json.loads(data))
    except (ValueError, TypeError, KeyError):
        return english
    return message if isinstance(message, Message) and str(message) == english else english
