"""Every kind of audit entry the system writes. ``audit.record`` refuses any other action."""

ACTIONS: dict[str, str] = {
    # sign-in and sessions
    "auth.login": "signed in",
    "auth.logout": "signed out",
    "auth.login_failed": "failed sign-in",
    "auth.session_ended": "session ended by the system (idle, lifetime, revoked)",
    "auth.password_change_failed": "password change refused (wrong current password)",
    # accounts, roles, sites, study
    "user.create": "account created",
    "user.update": "account details changed",
    "user.role_change": "role or sites changed",
    "user.locked": "account locked",
    "user.unlock": "account unlocked",
    "user.deactivate": "account deactivated",
    "user.reactivate": "account reactivated",
    "user.password_reset": "password reset by an administrator",
    "user.password_changed": "password changed by its owner",
    "token.create": "API token issued",
    "token.revoke": "API token revoked",
    "site.create": "site created",
    "site.update": "site changed",
    "study.create": "study record created",
    "study.update": "study record changed",
    # clinical data
    "subject.create": "subject registered",
    "data.create": "value entered",
    "data.update": "value changed",
    "data.remove": "value removed",
    "form.save": "form saved (new version)",
    "check.soft": "edit check fired: value saved and flagged",
    "check.hard": "edit check fired: value refused, nothing saved",
    # copies of the trail
    "audit.export_csv": "audit trail exported as CSV",
    "audit.export_pdf": "audit trail exported as PDF",
    "build.acrf_pdf": "blank annotated CRF generated",
}
