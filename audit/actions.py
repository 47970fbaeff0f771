"""Every kind of audit entry the system writes. ``audit.record`` refuses any other action."""

from forms.text import N_

ACTIONS: dict[str, str] = {
    # sign-in and sessions
    "auth.login": N_("signed in"),
    "auth.logout": N_("signed out"),
    "auth.login_failed": N_("failed sign-in"),
    "auth.session_ended": N_("session ended by the system (idle, lifetime, revoked)"),
    "auth.password_change_failed": N_("password change refused (wrong current password)"),
    # accounts, roles, sites, study
    "user.create": N_("account created"),
    "user.update": N_("account details changed"),
    "user.role_change": N_("role or sites changed"),
    "user.locked": N_("account locked"),
    "user.unlock": N_("account unlocked"),
    "user.deactivate": N_("account deactivated"),
    "user.reactivate": N_("account reactivated"),
    "user.password_reset": N_("password reset by an administrator"),
    "user.password_changed": N_("password changed by its owner"),
    "user.second_factor_enrolled": N_("second factor (authenticator app) set up by its owner"),
    "user.second_factor_reset_requested": N_("second-factor reset requested by an administrator"),
    "user.second_factor_reset": N_("second factor reset (approved by a second administrator)"),
    "token.create": N_("API token issued"),
    "token.revoke": N_("API token revoked"),
    "site.create": N_("site created"),
    "site.update": N_("site changed"),
    "study.create": N_("study record created"),
    "study.update": N_("study record changed"),
    "settings.create": N_("eligibility settings stored (first version)"),
    "settings.update": N_("eligibility settings changed (new version)"),
    # clinical data
    "subject.create": N_("subject registered"),
    "subject.update": N_("subject status or number changed"),
    "subject.enroll": N_("subject enrolled (eligibility evaluated, signature checked)"),
    "subject.enroll_refused": N_("enrollment refused (not eligible or not signed)"),
    "signature.sign": N_("electronic signature applied"),
    "signature.failed": N_("electronic signature refused (wrong user ID, password or code)"),
    "signature.invalidate": N_("signature invalidated by a change of the signed content"),
    "deviation.create": N_("protocol deviation recorded"),
    "eligibility.evaluate": N_("eligibility evaluation kept with its evidence"),
    "data.create": N_("value entered"),
    "data.update": N_("value changed"),
    "data.remove": N_("value removed"),
    "form.save": N_("form saved (new version)"),
    "check.soft": N_("edit check fired: value saved and flagged"),
    "check.hard": N_("edit check fired: value refused, nothing saved"),
    # monitoring and data management
    "query.open": N_("query opened"),
    "query.answer": N_("query answered"),
    "query.close": N_("query closed"),
    "query.reopen": N_("query re-opened"),
    "query.auto_close": N_("system query closed: the edit check passes"),
    "query.auto_reopen": N_("system query re-opened: the edit check fires on a new value"),
    "sdv.verify": N_("source data verified"),
    "sdv.unverify": N_("verified value changed: source data verification withdrawn"),
    "lock.apply": N_("data locked or frozen"),
    "lock.release": N_("lock or freeze released"),
    "job.create": N_("background job requested"),
    "job.done": N_("background job finished (result with its SHA-256)"),
    "job.failed": N_("background job failed"),
    "job.retry": N_("background job queued again: its worker stopped while it ran"),
    "job.download": N_("background job result downloaded"),
    "casebook.export_pdf": N_("subject casebook generated as PDF"),
    "export.create": N_("de-identified sponsor export made (format, scope, as-of sequence, "
                        "SHA-256 of each file)"),
    # copies of the trail
    "system.backup": N_("database backed up (verified; a checkpoint signed at its head)"),
    "system.restore": N_("database restored from a backup (verified against the checkpoints)"),
    "audit.export_csv": N_("audit trail exported as CSV"),
    "audit.export_pdf": N_("audit trail exported as PDF"),
    "audit.export_copy": N_("audit trail exported as a verifiable electronic copy (JSON Lines)"),
    "audit.export_api": N_("audit trail read through the API (an electronic copy)"),
    "build.acrf_pdf": N_("blank annotated CRF generated"),
    "eligibility.export_pdf": N_("eligibility checklist printed as PDF"),
}

# What a refused attempt leaves behind: the record that it was made and refused (and, after
# too many wrong secrets, the lockout). Nothing else changes when a request is refused.
REFUSALS: frozenset[str] = frozenset({
    "auth.login_failed", "auth.password_change_failed", "user.locked",
    "subject.enroll_refused", "signature.failed", "check.hard",
})
