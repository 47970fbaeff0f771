"""Tables only: no request, session or current_user in here."""

from audit.models import AuditEntry
from edc.models.access import AccessLog
from edc.models.clinical import FormData, ItemData
from edc.models.eligibility import (
    Deviation,
    EligibilityEvaluation,
    EligibilitySettings,
    Signature,
)
from edc.models.review import Job, Lock, Query, QueryMessage, QueryState, SdvMark
from edc.models.study import Site, Study
from edc.models.subject import Subject, SubjectStatus
from edc.models.user import ApiToken, AuthSession, PasswordHistory, RoleGrant, User

__all__ = [
    "AccessLog",
    "ApiToken",
    "AuditEntry",
    "AuthSession",
    "Deviation",
    "EligibilityEvaluation",
    "EligibilitySettings",
    "FormData",
    "ItemData",
    "Job",
    "Lock",
    "PasswordHistory",
    "Query",
    "QueryMessage",
    "QueryState",
    "RoleGrant",
    "SdvMark",
    "Signature",
    "Site",
    "Study",
    "Subject",
    "SubjectStatus",
    "User",
]
