"""Turn a form definition into a WTForms class. The fields carry the raw text; the server-side
checks of ``forms.validate`` (through ``edc.crf.services``) decide, for HTML and API alike."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from forms.metadata import Form, Item, StudyBuild

REASONS = ("", "Transcription error", "Updated source document", "Query response",
           "Late entry of available data", "Other")
# what the page shows for each (the value saved in the trail stays the English reason)
REASON_LABELS = {"": _l("— choose —"), "Transcription error": _l("Transcription error"),
                 "Updated source document": _l("Updated source document"),
                 "Query response": _l("Query response"),
                 "Late entry of available data": _l("Late entry of available data"),
                 "Other": _l("Other")}


def _field(item: Item, build: StudyBuild, lang: str):
    hint = []
    if item.unit:
        hint.append(item.unit)
    if item.soft:
        hint.append(_("normal %(range)s", range=item.soft))
    if item.partial:
        hint.append(_("YYYY-MM-DD; day or month unknown: YYYY-MM-UN or YYYY-UN-UN"))
    if item.loq:
        hint.append(_("beyond the limit of quantification: <limit or >limit"))
    first, second = (item.label_zh or item.label, item.label) if lang == "zh" else \
        (item.label, item.label_zh)
    label = first + (f" · {second}" if second and second != first else "")
    kw = {"label": label, "description": ", ".join(hint)}
    codelist = build.codelists[item.codelist] if item.type == "code" else None
    if codelist is not None and codelist.search_terms:
        # a long dictionary: a text box searching codes, names and synonyms in both
        # languages (the page adds the datalist); the server accepts only its codes
        hint.append(_("type a name, brand name or 中文名 and pick from the list"))
        kw["description"] = ", ".join(hint)
        return StringField(render_kw={"list": f"{item.name}-list", "autocomplete": "off",
                                      "maxlength": 40}, **kw)
    if item.type == "code":
        choices = [SelectChoice("", "—")] + [
            SelectChoice(c, f"{(zh or en) if lang == 'zh' else en} ({c})")
            for c, en, zh in build.codelists[item.codelist].terms]
        return SelectField(choices=choices, validate_choice=False, **kw)
    if item.type == "date" and not item.partial:
        hint.insert(0, "YYYY-MM-DD")
        kw["description"] = ", ".join(hint)
    if item.type == "time":
        hint.insert(0, _("HH:MM, 24-hour, site time"))
        kw["description"] = ", ".join(hint)
    # dates and times are typed as text: a browser's date picker shows the format of its
    # locale (11/20/2026, 20.11.2026), the study's is YYYY-MM-DD and 24-hour time everywhere
    render = {"date": {"placeholder": "YYYY-MM-DD", "maxlength": 10, "autocomplete": "off",
                       "inputmode": "numeric"},
              "time": {"placeholder": "HH:MM", "maxlength": 5, "autocomplete": "off",
                       "inputmode": "numeric"},
              "integer": {"inputmode": "numeric"}, "float": {"inputmode": "decimal"}}
    return StringField(render_kw=render.get(item.type, {"maxlength": item.max_length}), **kw)


def form_class(form: Form, build: StudyBuild, lang: str = "en") -> type[FlaskForm]:
    """``lang`` puts the English or the Chinese label first (the other stays beside it)."""
    attrs = {item.name: _field(item, build, lang) for item in form.items if not item.derived}
    attrs["version"] = HiddenField()
    attrs["reason"] = SelectField(_l("Reason for change"),
                                  choices=[SelectChoice(r, REASON_LABELS[r]) for r in REASONS],
                                  validate_choice=False)
    attrs["reason_text"] = StringField(_l("Details"))
    return type(f"{form.oid}Form", (FlaskForm,), attrs)
