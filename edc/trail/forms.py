from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from audit.actions import ACTIONS
from edc.i18n import translate
from edc.trail.services import TYPED
from forms.text import N_
from forms.validate import free_text_problem


def _typed(form, field):
    """A typed filter is printed on the PDF copy and kept in the export's audit entry:
    bounded plain text (``services.TYPED``)."""
    if field.data and (problem := free_text_problem(field.data, TYPED[field.name])):
        raise ValidationError(problem)


class TrailFilterForm(FlaskForm):
    """GET filters of the audit-trail viewer (no state change, so no CSRF token)."""

    class Meta:
        csrf = False

    subject = StringField(_l("Subject"), validators=[Optional(), _typed])
    form = StringField(_l("Form"), validators=[Optional(), _typed])
    item = StringField(_l("Item"), validators=[Optional(), _typed])
    user = StringField(_l("User"), validators=[Optional(), _typed])
    action = SelectField(_l("Action"), default="")
    since = DateField(_l("From (date)"), validators=[Optional()],
                      render_kw={"placeholder": "YYYY-MM-DD"})
    until = DateField(_l("To (date)"), validators=[Optional()],
                      render_kw={"placeholder": "YYYY-MM-DD"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        words = ((k, translate(v)) for k, v in ACTIONS.items())  # in the reader's language
        self.action.choices = [SelectChoice("", _("any")),
                               *(SelectChoice(k, w[:1].upper() + w[1:]) for k, w in words)]

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(N_("The end date is before the start date."))
