"""Turn a form definition into a WTForms class. The fields carry the raw text; the server-side
checks of ``forms.validate`` (through ``edc.crf.services``) decide, for HTML and API alike."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from forms.metadata import Form, Item, StudyBuild

REASONS = ("", "Transcription error", "Updated source document", "Query response",
           "Late entry of available data", "Other")


def _field(item: Item, build: StudyBuild):
    hint = []
    if item.unit:
        hint.append(item.unit)
    if item.soft:
        hint.append(f"normal {item.soft}")
    label = item.label + (f" · {item.label_zh}" if item.label_zh else "")
    kw = {"label": label + (" *" if item.required else ""), "description": ", ".join(hint)}
    if item.type == "code":
        choices = [SelectChoice("", "—")] + [SelectChoice(c, f"{en} ({c})") for c, en, _ in
                                              build.codelists[item.codelist].terms]
        return SelectField(choices=choices, validate_choice=False, **kw)
    render = {"date": {"type": "date"}, "time": {"type": "time"},
              "integer": {"inputmode": "numeric"}, "float": {"inputmode": "decimal"}}
    return StringField(render_kw=render.get(item.type, {"maxlength": item.max_length}), **kw)


def form_class(form: Form, build: StudyBuild) -> type[FlaskForm]:
    attrs = {item.name: _field(item, build) for item in form.items if not item.derived}
    attrs["version"] = HiddenField()
    attrs["reason"] = SelectField("Reason for change",
                                  choices=[SelectChoice(r, r or "— choose —") for r in REASONS],
                                  validate_choice=False)
    attrs["reason_text"] = StringField("Details")
    return type(f"{form.oid}Form", (FlaskForm,), attrs)
