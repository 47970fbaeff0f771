"""Texts for people that the interface shows in the reader's language.

A :class:`Message` is an English ``str`` — what is stored, logged, audited and answered by the
API — that keeps the template and the parameters it was formatted from, so that a page can
show it in Chinese (``edc.i18n.translate``). The layers below the web application (metadata,
validation, services) create messages without knowing who reads them; the audit trail and the
database always receive the English text, whoever saved. ``make messages`` extracts
``Message("...")`` and ``N_("...")`` calls into the catalog."""

from __future__ import annotations


class Message(str):
    """``Message("at most %(n)d characters", n=40)`` is the str "at most 40 characters"."""

    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Message:
        self = super().__new__(cls, template % params if params else template)
        self.template, self.params = template, params
        return self

    def __add__(self, other: str) -> str:  # a longer text is no longer the catalog's message
        return str(self) + other

    def __reduce__(self):
        return (_rebuild, (self.template, self.params))


def _rebuild(template: str, params: dict) -> Message:
    return Message(template, **params)


def N_(text: str) -> str:  # noqa: N802 — the conventional name of a marker for extraction
    """Marks a fixed text for the catalog; it is translated where it is shown."""
    return text
