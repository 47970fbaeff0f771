"""Argon2id hashing and the password policy of spec/part11.md (Access)."""

from __future__ import annotations

import functools
import secrets
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from forms.text import N_, Message


class PasswordPolicyError(ValueError):
    pass


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = (cfg["EDC_ARGON2_TIME_COST"], cfg["EDC_ARGON2_MEMORY_COST"],
           cfg["EDC_ARGON2_PARALLELISM"])
    hasher = current_app.extensions.get("edc_argon2")
    if hasher is None or hasher[0] != key:
        hasher = (key, PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2]))
        current_app.extensions["edc_argon2"] = hasher
    return hasher[1]


def hash_password(password: str) -> str:
    return _hasher().hash(password)  # argon2-cffi hashes with Argon2id


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


_DUMMY: dict[str, str] = {}


def burn_verify(password: str) -> None:
    """Spend the time of one verification, so unknown usernames answer as slowly as known ones."""
    dummy = _DUMMY.get("hash")
    if dummy is None:
        dummy = _DUMMY["hash"] = hash_password("not-a-real-password-0000")
    verify_password(dummy, password)


# control, format (zero-width), line and paragraph separators, unassigned and surrogates
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Cs", "Co"})


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The shipped list of the 10,000 most common passwords (lower case)."""
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def check_policy(user, password: str) -> None:
    """Raise PasswordPolicyError with a message for the form when ``password`` is refused."""
    cfg = current_app.config
    minimum = cfg["EDC_PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise PasswordPolicyError(Message(
                "The password must have at least %(minimum)s characters.",
                minimum=minimum))
    if len(password) > 256:
        raise PasswordPolicyError(N_("The password must have at most 256 characters."))
    if password.strip() != password:
        raise PasswordPolicyError(N_("The password must not start or end with a space."))
    if any(unicodedata.category(ch) in _INVISIBLE for ch in password):
        raise PasswordPolicyError(N_("The password must not contain control or invisible "
                                     "characters (they cannot be typed again reliably)."))
    if len(set(password)) == 1:
        raise PasswordPolicyError(N_("The password must not repeat one character."))
    if password.lower() in _common_passwords():
        raise PasswordPolicyError(N_("The password is one of the 10,000 most commonly used "
                                     "passwords: choose another."))
    name = (getattr(user, "username", None) or "").lower()
    if name and (name == password.lower() or (len(name) >= 4 and name in password.lower())):
        raise PasswordPolicyError(N_("The password must not contain the username."))
    if user is not None:
        recent = user.password_history[: cfg["EDC_PASSWORD_HISTORY"]]
        if any(verify_password(h.password_hash, password) for h in recent):
            raise PasswordPolicyError(
                Message(
                        "The password must differ from the last %(value)s passwords.",
                        value=cfg['EDC_PASSWORD_HISTORY'])
            )


def temporary_password(user) -> str:
    """A random password that passes the policy, for a new account or a reset."""
    while True:
        candidate = secrets.token_urlsafe(12)
        try:
            check_policy(user, candidate)
        except PasswordPolicyError:
            continue
        return candidate
