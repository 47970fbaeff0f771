from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from edc.security import Role

ROLE_CHOICES = [SelectChoice(r.value, _l(r.label)) for r in Role]
TIMEZONES = sorted(available_timezones())
REASONS = [
    SelectChoice("", _l("— choose —")),
    *(SelectChoice(text, text) for text in (
        "New staff member",
        "Change of responsibilities",
        "Left the study",
        "Forgotten password",
        "Identity confirmed by telephone",
        "Correction of an entry error",
    )),
    SelectChoice("Other", "Other (explain)"),
]


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReasonMixin:
    reason = SelectField(_l("Reason"), choices=REASONS, validate_choice=True)
    reason_text = StringField(_l("Details"), validators=[Length(max=400)])

    def reason_value(self) -> str:
        pick = self.reason.data or ""
        detail = (self.reason_text.data or "").strip()
        if pick == "Other":
            return detail
        return f"{pick}: {detail}" if pick and detail else pick


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Full printed name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    sites = MultiCheckbox("Sites (coordinators, investigators and monitors)", choices=[])


class ProfileForm(ReasonMixin, FlaskForm):
    full_name = StringField(_l("Full printed name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[Length(max=254)])


class GrantForm(ReasonMixin, FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    sites = MultiCheckbox(_l("Sites"), choices=[])


class ReasonForm(ReasonMixin, FlaskForm):
    pass


LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("zh", "中文")]


class SiteCreateForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=8)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(t, t) for t in TIMEZONES],
                           default="Asia/Shanghai")
    language = SelectField(_l("Language of its users (until each chooses)"),
                           choices=LANGUAGE_CHOICES, default="en")


class SiteEditForm(ReasonMixin, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(t, t) for t in TIMEZONES])
    language = SelectField(_l("Language of its users (until each chooses)"),
                           choices=LANGUAGE_CHOICES)
    active = BooleanField(_l("Active"))

