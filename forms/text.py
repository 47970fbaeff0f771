"""Texts for people that the interface shows in the reader's language.

A :class:`Message` is an English ``str`` — what is stored, logged, audited and answered by the
API — that keeps the template and the parameters it was formatted from, so that a page can
show it in Chinese (``edc.i18n.translate``). The layers below the web application (metadata,
validation, services) create messages without knowing who reads them; the audit trail and the
database always receive the English text, whoever saved. ``make messages`` extracts
``Message("...")`` and ``N_("...")`` calls into the catalog."""

from __future__ import annotations


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
