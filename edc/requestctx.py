"""What a route passes to services about the request: the actor (who, from where)."""

from __future__ import annotations

from flask import g, request
from flask_login import current_user

from audit import Actor


def current_actor(source: str = "web") -> Actor:
    ip = request.remote_addr
    rid = g.get("request_id")
    if current_user and current_user.is_authenticated:
        return Actor.for_user(current_user, source=source, request_id=rid, ip=ip)
    return Actor(user_id=None, username=None, role=None, source=source, request_id=rid, ip=ip)
