from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from edc.security import Role

ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]
TIMEZONES = sorted(available_timezones())
REASONS = [
    SelectChoice("", "— choose —"),
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
    reason = SelectField("Reason", choices=REASONS, validate_choice=True)
    reason_text = StringField("Details", validators=[Length(max=400)])

    def reason_value(self) -> str:
        pick = self.reason.data or ""
        detail = (self.reason_text.data or "").strip()
        if pick == "Other":
            return detail
        return f"{pick}: {detail}" if pick and detail else pick


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    full_name = StringField("Full printed name", validators=[DataRequired(), Length(max=200)])
    email = StringField("E-mail", validators=[Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    sites = MultiCheckbox("Sites (coordinators, investigators and monitors)", choices=[])


class ProfileForm(ReasonMixin, FlaskForm):
    full_name = StringField("Full printed name", validators=[DataRequired(), Length(max=200)])
    email = StringField("E-mail", validators=[Length(max=254)])


class GrantForm(ReasonMixin, FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    sites = MultiCheckbox("Sites", choices=[])


class ReasonForm(ReasonMixin, FlaskForm):
    pass


class SiteCreateForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=8)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    timezone = SelectField("Time zone", choices=[SelectChoice(t, t) for t in TIMEZONES],
                           default="Asia/Shanghai")


class SiteEditForm(ReasonMixin, FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    timezone = SelectField("Time zone", choices=[SelectChoice(t, t) for t in TIMEZONES])
    active = BooleanField("Active")

