from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from audit.actions import ACTIONS


class TrailFilterForm(FlaskForm):
    """GET filters of the audit-trail viewer (no state change, so no CSRF token)."""

    class Meta:
        csrf = False

    subject = StringField("Subject", validators=[Optional(), Length(max=32)])
    form = StringField("Form", validators=[Optional(), Length(max=64)])
    item = StringField("Item", validators=[Optional(), Length(max=128)])
    user = StringField("User", validators=[Optional(), Length(max=64)])
    action = SelectField("Action", default="", choices=[
        SelectChoice("", "any"),
        *(SelectChoice(k, v[:1].upper() + v[1:]) for k, v in ACTIONS.items())])
    since = DateField("From (date)", validators=[Optional()],
                      render_kw={"placeholder": "YYYY-MM-DD"})
    until = DateField("To (date)", validators=[Optional()],
                      render_kw={"placeholder": "YYYY-MM-DD"})

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")
