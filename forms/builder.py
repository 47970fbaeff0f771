"""Turn a form definition into a WTForms class. The fields carry the raw text; the server-side
checks of ``forms.validate`` (through ``edc.crf.services``) decide, for HTML and API alike."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from forms.metadata import Form, Item, StudyBuild

REASONS = ("", "Transcription error", "Updated source document", "Query response",
           "Late entry of available data", "Other")


def _field(item: Item, build: StudyBuild, lang: str):
    hint = []
    if item.unit:
        hint.append(item.unit)
    if item.soft:
        hint.append(f"normal {item.soft}")
    first, second = (item.label_zh or item.label, item.label) if lang == "zh" else \
        (item.label, item.label_zh)
    label = first + (f" · {second}" if second and second != first else "")
    kw = {"label": label + (" *" if item.required else ""), "description": ", ".join(hint)}
    if item.type == "code":
        choices = [SelectChoice("", "—")] + [
            SelectChoice(c, f"{(zh or en) if lang == 'zh' else en} ({c})")
            for c, en, zh in build.codelists[item.codelist].terms]
        return SelectField(choices=choices, validate_choice=False, **kw)
    render = {"date": {"type": "date"}, "time": {"type": "time"},
              "integer": {"inputmode": "numeric"}, "float": {"inputmode": "decimal"}}
    return StringField(render_kw=render.get(item.type, {"maxlength": item.max_length}), **kw)


def form_class(form: Form, build: StudyBuild, lang: str = "en") -> type[FlaskForm]:
    """``lang`` puts the English or the Chinese label first (the other stays beside it)."""
    attrs = {item.name: _field(item, build, lang) for item in form.items if not item.derived}
    attrs["version"] = HiddenField()
    attrs["reason"] = SelectField("Reason for change",
                                  choices=[SelectChoice(r, r or "— choose —") for r in REASONS],
                                  validate_choice=False)
    attrs["reason_text"] = StringField("Details")
    return type(f"{form.oid}Form", (FlaskForm,), attrs)
