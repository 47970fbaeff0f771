"""What a route passes on about the request: the actor (who, from where) and the language
the user reads labels in."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, request
from flask_login import current_user

from audit import Actor


def current_actor(source: str = "web") -> Actor:
    ip = request.remote_addr
    rid = g.get("request_id")
    if current_user and current_user.is_authenticated:
        return Actor.for_user(current_user, source=source, request_id=rid, ip=ip)
    return Actor(user_id=None, username=None, role=None, source=source, request_id=rid, ip=ip)


def safe_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None. Browsers drop tabs and line
    breaks and read a backslash as a slash, so ``/\t/evil.example`` and ``/\\evil`` are
    another site's address: refused, like a scheme, a host or a protocol-relative ``//``."""
    if not target or any(c in target for c in "\t\r\n\\") or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
