"""The interface in English and Chinese (Flask-Babel). Every text of the pages — templates,
flash messages, errors shown next to fields — is a message of the catalog in
``edc/translations``; the eCRF labels and code lists carry both languages in the study build
itself. The language is the user's choice, kept with the account; until a user chooses,
the site's default (Chinese for a site that says so), else English.

The Chinese catalog (Simplified Chinese, zh_CN) is ``translations/zh``: Babel reads the
locale zh_CN as zh_Hans_CN, whose catalog search ends at ``zh``.

Catalogs: ``make messages`` extracts the texts (``pybabel extract``) and updates the
catalogs; the compiled ``.mo`` files are built from the ``.po`` files when the app starts
whenever they are missing or older, so a fresh checkout needs no extra step."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request, session
from flask_babel import Babel, force_locale, gettext

from forms.text import N_, Message, from_json

TRANSLATIONS = Path(__file__).parent / "translations"
LOCALES = {"en": "en", "zh": "zh_CN"}  # the interface's language codes -> Babel locales

babel = Babel()


def language() -> str:
    """"en" or "zh": the user's choice (session, then account), the site's default, else
    English."""
    from flask_login import current_user

    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    if current_user and current_user.is_authenticated:
        if getattr(current_user, "language", None) in LOCALES:
            return current_user.language
        role = current_user.role
        sites = {getattr(s, "language", None) for s in current_user.sites} \
            if role is not None and not role.all_sites else set()
        if len(sites) == 1 and (site := sites.pop()) in LOCALES:  # the sites agree
            return site
    return "en"


def name_of(thing) -> str:
    """The name of an event or form of the study build in the user's language."""
    zh = getattr(thing, "name_zh", "")
    return zh if zh and language() == "zh" else thing.name


def label_of(item) -> str:
    """The label of an item of the study build in the user's language."""
    zh = getattr(item, "label_zh", "")
    return zh if zh and language() == "zh" else item.label


def both(text: str, **params) -> str:
    """A heading of a printed record in English and Chinese ("Signatures / 签名"), whoever
    asks: a casebook or an audit-trail PDF is the same file for every reader (made in the
    background, archived, compared by its SHA-256). ``text`` is a catalog message (marked
    with ``N_``), formatted with ``params``."""
    message = Message(text, **params) if params else text
    with force_locale(LOCALES["zh"]):
        chinese = translate(message)
    english = str(message)
    return english if chinese == english else f"{english} / {chinese}"


def thread_text(message) -> str:
    """A query message in the reader's language when the system wrote it (its stored
    message), as it was typed otherwise."""
    return translate(from_json(message.message, message.text))


def _locale() -> str:
    """The pages speak the reader's language; the API (a contract with programs) and
    everything outside a request (the command line, jobs) speak English."""
    if not has_request_context() or request.path.startswith("/api/"):
        return LOCALES["en"]
    return LOCALES[language()]


# The states the data layer records as English words, which pages show with ``|tr``.
STATE_WORDS = (
    N_("open"), N_("answered"), N_("closed"),  # queries
    N_("queued"), N_("running"), N_("done"), N_("failed"),  # background jobs
    N_("valid"), N_("invalidated by change"),  # signatures
    N_("due"), N_("overdue"), N_("reported"), N_("reported late"),  # SAE reporting clock
    N_("awareness time missing"),
    N_("nothing to verify"), N_("verified"), N_("changed since verified"),  # SDV
    N_("partly verified"), N_("not verified"),
    N_("complete"), N_("incomplete"), N_("not started"),  # forms
    N_("Eligible"), N_("Not eligible"), N_("Not evaluable"),  # eligibility verdicts
    N_("lock"), N_("freeze"),  # data management
    N_("done out of window"), N_("planned"), N_("missed"),  # visits (and done, due, overdue)
    N_("on time"), N_("late"),  # visit compliance
    N_("site"), N_("monitor"),  # who acts next on a query
    N_("met"), N_("not met"), N_("missing"), N_("not applicable"),  # eligibility criteria
)


def translate(text) -> str:
    """A text of the system in the reader's language: a :class:`Message` by its template (a
    parameter that is itself a message translated in turn), a fixed text by the catalog;
    anything else (a value someone typed, a text the catalog does not hold) as it is."""
    if isinstance(text, Message):
        params = {k: translate(v) if isinstance(v, Message) else v
                  for k, v in text.params.items()}
        return gettext(text.template, **params) if params else gettext(text.template)
    if isinstance(text, str) and text:
        return gettext(text)
    return text


def compile_catalogs(target: Path = TRANSLATIONS) -> None:
    """Build each ``messages.mo`` (under ``target``) from its ``messages.po`` when missing or
    older. Each worker writes its own temporary file and renames it into place."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = target / po.relative_to(TRANSLATIONS).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        mo.parent.mkdir(parents=True, exist_ok=True)
        tmp = mo.with_name(f"messages.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo)


def init_app(app: Flask) -> None:
    """Compile the catalogs beside their sources, or, where the code may not be written
    (a read-only installation), into the instance folder."""
    target = TRANSLATIONS
    try:
        compile_catalogs(target)
    except OSError:
        target = Path(app.instance_path) / "translations"
        compile_catalogs(target)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(target))
    babel.init_app(app, locale_selector=_locale)
    app.jinja_env.filters["tr"] = translate


def translate_error(exc: Exception) -> str:
    """The message of a refusal (an exception raised with one text) in the reader's
    language."""
    text = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return translate(text)
