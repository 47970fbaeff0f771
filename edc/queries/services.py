"""Queries (discrepancy management): raised on an item or a form instance, answered by the
site, closed or re-opened by monitors and data managers (spec/roles.md), each step a message
of the query's thread and an audit entry.

System queries come from soft edit checks: a saved value that a soft check flags opens one
query on that item (one per item, re-used); a later save on which the item's checks pass
closes it, audited as a system action. A monitor may close a system query with a reason; it
stays closed while the item keeps the value it had then.

Services change state and never commit; the route, API, CLI or job that calls them does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

import audit
from audit import Actor
from edc.clock import utcnow
from edc.crf import policy
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import ItemData, Query, QueryMessage, QueryState, Subject, User
from edc.security import Perm, can
from forms.study_build import BUILD
from forms.text import N_, Message, to_json
from forms.validate import free_text_problem

MAX_MESSAGE = 2000  # characters of one message of a thread (docs/decisions.md)


class QueryProblem(Exception):
    status = 422
    field = "text"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field:
            self.field = field


class QueryNotAllowed(QueryProblem):
    status = 403


class QueryConflict(QueryProblem):
    status = 409


@dataclass(frozen=True)
class Place:
    """Where a query sits: a form instance and, optionally, one of its items."""

    event_oid: str
    form_oid: str
    item_oid: str | None = None
    event_repeat: int = 1
    form_repeat: int = 1


def _text(text: str | None, *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise QueryProblem(N_("write a message"))
    if problem := free_text_problem(text, MAX_MESSAGE):
        raise QueryProblem(problem)
    return text


def _author(actor: Actor) -> tuple[str, str | None]:
    if actor.user_id is None:
        return (actor.username or "system", actor.role)
    user = db.session.get(User, actor.user_id)
    return (user.full_name if user else actor.username or "?", actor.role)


def _message(query: Query, kind: str, text: str, actor: Actor,
             form_version: int | None = None) -> QueryMessage:
    name, role = _author(actor)
    msg = QueryMessage(query_id=query.id, site_id=query.site_id, kind=kind, text=str(text),
                       message=to_json(text), author_id=actor.user_id, author_name=name,
                       author_role=role, form_version=form_version)
    msg.query = query  # joins a thread already loaded; an unloaded one is not read for it
    db.session.add(msg)
    return msg


def _audit(action: str, query: Query, actor: Actor, *, old: str | None, text: str | None,
           subject: Subject, reason: str | None = None, details: dict | None = None) -> None:
    db.session.flush()
    audit.record(db.session, action, actor=actor, subject=subject,
                 event_oid=query.event_oid, event_repeat=query.event_repeat,
                 form_oid=query.form_oid, item_oid=query.item_oid,
                 repeat_key=str(query.form_repeat), target_type="query",
                 target_id=str(query.id), old_value=old, new_value=query.state,
                 reason=reason, details={"message": text, "origin": query.origin,
                                         **(details or {})})


def _set_state(query: Query, state: str) -> str:
    old = query.state
    query.state = state
    query.updated_at = utcnow()
    query.closed_at = query.updated_at if state == QueryState.CLOSED else None
    return old


def _check_place(subject: Subject, place: Place) -> None:
    try:
        event = BUILD.event(place.event_oid)
        form = BUILD.form(place.form_oid)
    except KeyError as exc:
        raise QueryProblem(Message("unknown %(value)s", value=exc.args[0]), "form") from None
    if place.form_oid not in event.forms:
        raise QueryProblem(Message(
                "event %(event_oid)s has no form %(form_oid)s",
                event_oid=place.event_oid,
                form_oid=place.form_oid), "form")
    if place.item_oid is not None and place.item_oid not in form.item_names:
        raise QueryProblem(Message(
                "%(form_oid)s has no item %(item_oid)s",
                form_oid=place.form_oid,
                item_oid=place.item_oid), "item")


# Reading ----------------------------------------------------------------------------------

def get(query_id: int) -> Query | None:
    """The query if it exists in the caller's site scope."""
    return db.session.get(Query, query_id)


def listing(*, state: str | None = None, form_oid: str | None = None,
            site_id: int | None = None, subject: Subject | None = None,
            ball: str | None = None, min_age_days: int | None = None,
            origin: str | None = None, limit: int = 1000) -> list[Query]:
    """Queries of the caller's sites (the data-layer scope decides), oldest first, with
    their threads loaded in one more statement whatever their number."""
    stmt = select(Query)
    if state == "unresolved":
        stmt = stmt.where(Query.state != QueryState.CLOSED)
    elif state:
        stmt = stmt.where(Query.state == state)
    if ball == "site":
        stmt = stmt.where(Query.state == QueryState.OPEN)
    elif ball == "monitor":
        stmt = stmt.where(Query.state == QueryState.ANSWERED)
    if form_oid:
        stmt = stmt.where(Query.form_oid == form_oid)
    if site_id:
        stmt = stmt.where(Query.site_id == site_id)
    if subject is not None:
        stmt = stmt.where(Query.subject_id == subject.id)
    if origin:
        stmt = stmt.where(Query.origin == origin)
    if min_age_days:
        stmt = stmt.where(Query.opened_at <= utcnow() - timedelta(days=min_age_days))
    return list(db.session.scalars(stmt.order_by(Query.opened_at, Query.id).limit(limit)
                                   .options(selectinload(Query.messages))))


def age_days(query: Query, now: datetime | None = None) -> int:
    end = query.closed_at or now or utcnow()
    return (end - query.opened_at).days


def unresolved(subject: Subject | None = None, *, event_oid: str | None = None,
               event_repeat: int | None = None, form_oid: str | None = None,
               form_repeat: int | None = None) -> list[Query]:
    """Open or answered queries of a subject (or of the caller's whole scope), optionally of
    one visit or form instance: what blocks a signature or a lock."""
    stmt = select(Query).where(Query.state != QueryState.CLOSED)
    if subject is not None:
        stmt = stmt.where(Query.subject_id == subject.id)
    for column, value in ((Query.event_oid, event_oid), (Query.event_repeat, event_repeat),
                          (Query.form_oid, form_oid), (Query.form_repeat, form_repeat)):
        if value is not None:
            stmt = stmt.where(column == value)
    return list(db.session.scalars(stmt.order_by(Query.id)))


def counts(subject: Subject) -> dict[tuple, Counter]:
    """Open and answered queries of a subject by form instance and by item:
    ``{(event, event_repeat, form, form_repeat): Counter({"open": n, "answered": m}),
    (event, event_repeat, form, form_repeat, item): …}``, for the badges."""
    rows = db.session.execute(
        select(Query.event_oid, Query.event_repeat, Query.form_oid, Query.form_repeat,
               Query.item_oid, Query.state, func.count())
        .where(Query.subject_id == subject.id, Query.state != QueryState.CLOSED)
        .group_by(Query.event_oid, Query.event_repeat, Query.form_oid, Query.form_repeat,
                  Query.item_oid, Query.state))
    out: dict[tuple, Counter] = {}
    for event, er, form, fr, item, state, n in rows:
        out.setdefault((event, er, form, fr), Counter())[state] += n
        if item:
            out.setdefault((event, er, form, fr, item), Counter())[state] += n
    return out


# Acting -----------------------------------------------------------------------------------

def open_query(subject: Subject, place: Place, text: str, *, user: User,
               actor: Actor) -> Query:
    """A monitor or data manager raises a query. The caller commits."""
    if not can(user, Perm.MANAGE_QUERY, subject):
        raise QueryNotAllowed(N_("Only monitors and data managers raise queries."))
    _check_place(subject, place)
    text = _text(text)
    policy.refuse_if_locked(subject, place.event_oid, place.form_oid, place.event_repeat,
                            place.form_repeat, data=False, what=N_("no query can be raised"))
    query = Query(subject_id=subject.id, site_id=subject.site_id, event_oid=place.event_oid,
                  event_repeat=place.event_repeat, form_oid=place.form_oid,
                  form_repeat=place.form_repeat, item_oid=place.item_oid, origin="manual",
                  state=QueryState.OPEN, opened_by_id=user.id)
    db.session.add(query)
    db.session.flush()
    _message(query, "open", text, actor)
    _audit("query.open", query, actor, old=None, text=text, subject=subject)
    return query


def _guard(query: Query, user: User, perm: Perm, what: str) -> None:
    if not can(user, perm, query.subject):
        raise QueryNotAllowed(what)
    policy.refuse_if_locked(query.subject, query.event_oid, query.form_oid,
                            query.event_repeat, query.form_repeat, data=False,
                            what=N_("its queries cannot change"))


def answer(query: Query, text: str, *, user: User, actor: Actor,
           form_version: int | None = None) -> Query:
    """The site answers (or adds to its answer). A correction of the value is saved through
    the form first (reason "query response"); ``form_version`` links the answer to it."""
    _guard(query, user, Perm.ANSWER_QUERY, "Only coordinators and investigators answer.")
    if query.state == QueryState.CLOSED:
        raise QueryConflict(N_("The query is closed: a monitor re-opens it if more is needed."))
    text = _text(text)
    old = _set_state(query, QueryState.ANSWERED)
    kind = "correction" if form_version else "answer"
    _message(query, kind, text, actor, form_version)
    _audit("query.answer", query, actor, old=old, text=text, subject=query.subject,
           details={"form_version": form_version} if form_version else None)
    return query


def close(query: Query, text: str, *, user: User, actor: Actor) -> Query:
    """A monitor or data manager closes the query with a note (for a system query: why the
    value is right as it is). Nobody closes a query they answered."""
    _guard(query, user, Perm.MANAGE_QUERY, "Only monitors and data managers close queries.")
    if query.state == QueryState.CLOSED:
        raise QueryConflict(N_("The query is closed already."))
    if any(m.author_id == user.id and m.kind in ("answer", "correction")
           for m in query.messages):
        raise QueryNotAllowed(N_("You answered this query: someone else closes it."))
    text = _text(text)
    old = _set_state(query, QueryState.CLOSED)
    if query.origin == "system" and query.item_oid:
        query.closed_value = _current_value(query)
    _message(query, "close", text, actor)
    _audit("query.close", query, actor, old=old, text=text, subject=query.subject,
           reason=text)
    return query


def reopen(query: Query, text: str, *, user: User, actor: Actor) -> Query:
    _guard(query, user, Perm.MANAGE_QUERY, "Only monitors and data managers re-open queries.")
    if query.state != QueryState.CLOSED:
        raise QueryConflict(N_("Only a closed query can be re-opened."))
    text = _text(text)
    old = _set_state(query, QueryState.OPEN)
    query.closed_value = None
    _message(query, "reopen", text, actor)
    _audit("query.reopen", query, actor, old=old, text=text, subject=query.subject)
    return query


def answerable(subject: Subject, place: Place, query_id: int | None) -> Query | None:
    """The query a correction of this form instance may answer: unresolved and on this very
    instance (visit and row included); None otherwise."""
    q = get(query_id) if query_id else None
    if q is None or q.state == QueryState.CLOSED or q.subject_id != subject.id or \
            (q.event_oid, q.event_repeat, q.form_oid, q.form_repeat) != (
                place.event_oid, place.event_repeat, place.form_oid, place.form_repeat):
        return None
    return q


def save_correction(subject: Subject, place: Place, entered: dict, *, query_id: int,
                    answer_text: str | None, version: int | None, reason: str | None,
                    user: User, actor: Actor):
    """Answer a query by correcting the form: the normal save (reason "Query response"
    unless a more precise one is given), then the answer linked to the saved version, in one
    transaction. The same rule for the page and the API. Returns the saved form state."""
    from edc.crf import services as crf

    query = answerable(subject, place, query_id)
    if query is None:
        raise QueryProblem(N_("not an unresolved query on this form"), "query_id")
    if not can(user, Perm.ANSWER_QUERY, subject):
        raise QueryNotAllowed(N_("Only coordinators and investigators answer."))
    try:
        text = _text(answer_text, required=False)  # refused before anything is saved
    except QueryProblem as exc:
        raise QueryProblem(exc.message, "answer") from None
    state = crf.save_form(subject, place.event_oid, place.form_oid, entered, version=version,
                          actor=actor, reason=reason or "Query response",
                          event_repeat=place.event_repeat, form_repeat=place.form_repeat)
    answer(query, text or f"Corrected in the form (version {state.version}).", user=user,
           actor=actor, form_version=state.version)
    return state


def _current_value(query: Query) -> str | None:
    return db.session.scalar(select(ItemData.value).where(
        *ItemData.of(query.subject_id, query.event_oid, query.form_oid, query.event_repeat,
                     query.form_repeat),
        ItemData.item_oid == query.item_oid, ItemData.removed.is_(False)))


# System queries from soft edit checks -----------------------------------------------------

@form_saved.connect
def _soft_checks(subject: Subject, *, saved: FormSaved) -> None:
    """Open, re-open or close the instance's system queries after a save (same transaction)."""
    existing = {q.item_oid: q for q in db.session.scalars(select(Query).where(
        *Query.of(subject.id, saved.event_oid, saved.form_oid, saved.event_repeat,
                  saved.form_repeat), Query.origin == "system"))}
    system = Actor.system()
    for item, message in sorted(saved.warnings.items()):
        # stored and audited in English, whoever saved; the thread keeps the message too
        message = message if isinstance(message, Message) else str(message)
        query = existing.get(item)
        value = saved.values.get(item)
        if query is None:
            query = Query(subject_id=subject.id, site_id=subject.site_id,
                          event_oid=saved.event_oid, event_repeat=saved.event_repeat,
                          form_oid=saved.form_oid, form_repeat=saved.form_repeat,
                          item_oid=item, origin="system", state=QueryState.OPEN)
            db.session.add(query)
            db.session.flush()
            _message(query, "open", message, system, saved.version)
            _audit("query.open", query, system, old=None, text=str(message), subject=subject,
                   details={"edit_check": "soft", "form_version": saved.version})
        elif query.state == QueryState.CLOSED and value != query.closed_value:
            old = _set_state(query, QueryState.OPEN)
            query.closed_value = None
            _message(query, "reopen", Message("The check fires again on the new value: "
                                              "%(message)s", message=message),
                     system, saved.version)
            _audit("query.auto_reopen", query, system, old=old, text=str(message),
                   subject=subject,
                   details={"form_version": saved.version})
    for item, query in sorted(existing.items()):
        if item in saved.warnings or item not in saved.checked or \
                query.state == QueryState.CLOSED:
            continue
        old = _set_state(query, QueryState.CLOSED)
        note = Message("The edit check passes on the value saved in version %(version)s.",
                       version=saved.version)
        _message(query, "close", note, system, saved.version)
        _audit("query.auto_close", query, system, old=old, text=str(note), subject=subject,
               details={"form_version": saved.version})
