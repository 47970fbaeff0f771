"""The bodies of ``/api/v1``, described once (pydantic): requests are parsed through these
models, and the OpenAPI document (edc/api/openapi.py) is generated from them and the URL
map. A request that does not fit answers 422 naming each field (or item) that is wrong.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from forms.validate import MAX_REASON  # one limit for the pages and the API

ItemValue = StrictStr | StrictInt | StrictFloat | None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSubject(Body):
    """Register a screened subject at a site."""

    site: Annotated[StrictStr, Field(min_length=1, max_length=8, examples=["TJ"])]


class FormSave(Body):
    """Save a form or a row: item values, the version you read, and a reason once saved."""

    items: dict[Annotated[str, Field(max_length=64)], ItemValue] = Field(
        description="item name → value: strings or numbers; dates YYYY-MM-DD; codes as "
                    "their code; null or \"\" removes a value")
    version: StrictInt | None = Field(default=None, ge=0,
                                      description="the version you read; 0 for a new form")
    reason: Annotated[StrictStr, Field(max_length=MAX_REASON)] | None = Field(
        default=None, description="required once the form was saved before")


Text = Annotated[StrictStr, Field(min_length=1, max_length=2000)]
Oid = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Repeat = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]


class FormCorrection(FormSave):
    """A save that answers a query: the reason defaults to "Query response"."""

    query_id: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None, description="the query this correction answers (linked to the version)")
    answer: Text | None = Field(default=None, description="the answer to the query")


class QueryOpen(Body):
    """Raise a query on an item, or on a form instance without ``item``."""

    event: Oid
    form: Oid
    item: Oid | None = None
    event_repeat: Repeat = 1
    form_repeat: Repeat = 1
    text: Text


class QueryText(Body):
    """The message of an answer, a closing note, or why a query is re-opened."""

    text: Text


class SdvBody(Body):
    """Verify one item, or without ``item`` every valued item of the form instance."""

    event: Oid
    form: Oid
    item: Oid | None = None
    event_repeat: Repeat = 1
    form_repeat: Repeat = 1


class LockBody(Body):
    """Lock or freeze the study, a subject, or one form instance."""

    level: Annotated[StrictStr, Field(pattern="^(study|subject|form)$")]
    kind: Annotated[StrictStr, Field(pattern="^(lock|freeze)$")]
    subject_id: Repeat | None = None
    event: Oid | None = None
    form: Oid | None = None
    event_repeat: Repeat = 1
    form_repeat: Repeat = 1
    reason: Annotated[StrictStr, Field(max_length=MAX_REASON)] | None = None


class ReleaseBody(Body):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=MAX_REASON)]


class Signing(Body):
    """The components of an electronic signature (21 CFR 11.200): user ID and password, and
    for an investigator the current code of the second factor (TOTP, 6 digits)."""

    username: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
    code: Annotated[StrictStr | None, Field(max_length=12, pattern=r"^[0-9 ]*$")] = None


class SignOff(Signing):
    """Sign a form (``form:EVENT.visit.FORM.row``), a visit (``visit:EVENT.visit``) or the
    ``casebook``, with the components of the signature."""

    target: Annotated[StrictStr, Field(min_length=1, max_length=128)]


# What a field's error says (pydantic's own words name types, not what to send).
FIELD_MESSAGES = {
    "site": "give the site code, e.g. TJ",
    "items": "an object of item: value",
    "version": "a whole number",
    "reason": f"text of at most {MAX_REASON} characters",
    "username": "required: a signature takes the user ID and the password",
    "password": "required",
    "code": "the 6 digits of the authenticator app (investigators sign with it)",
    "text": "text of 1 to 2000 characters",
    "event": "an event OID, e.g. SCREEN",
    "form": "a form OID, e.g. LB",
    "item": "an item name, e.g. HGB",
    "event_repeat": "a whole number from 1",
    "form_repeat": "a whole number from 1",
    "level": "study, subject or form",
    "kind": "lock or freeze",
    "subject_id": "the subject's id",
    "target": "form:EVENT.visit.FORM.row, visit:EVENT.visit or casebook",
    "query_id": "the id of the query this answers",
    "answer": "text of 1 to 2000 characters",
}


def field_errors(exc) -> dict[str, str]:
    """A pydantic ValidationError as {field or item: message}."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        if not loc:
            continue
        if error["type"] == "string_unicode":
            message = "contains characters that cannot be stored; retype it"
        elif error["type"] == "extra_forbidden":
            message = "is not a field of this request"
        elif loc[0] == "items" and len(loc) > 2 and loc[2] == "[key]":
            message = "is not an item name"
        elif loc[0] == "items" and len(loc) > 1:
            message = "must be a string or a number"
        else:
            message = FIELD_MESSAGES.get(loc[0], error["msg"])
        out.setdefault(loc[1] if loc[0] == "items" and len(loc) > 1 else loc[0], message)
    return out


# Responses --------------------------------------------------------------------------------

class Error(BaseModel):
    error: str
    status: int
    errors: dict[str, str] | None = Field(default=None,
                                          description="message by field or item name")


class FormState(BaseModel):
    items: dict[str, Any]
    derived: dict[str, Any]
    derived_rules: dict[str, str]
    version: int
    status: str
    metadata_version: str
    locked: bool
    warnings: dict[str, str] = Field(default_factory=dict,
                                     description="flags by item: outside the normal range, "
                                                 "inconsistent")
    missing: list[str] = Field(default_factory=list,
                               description="required items without a value")
    not_applicable: list[str] = Field(
        default_factory=list, description="items whose show_if does not hold: not required, "
                                          "and a value in one is refused")
    applies: bool = Field(default=True, description="the form's own show_if holds")
    event_repeat: int | None = None
    seq: int | None = None


class Conflict(Error):
    current: FormState | None = Field(default=None,
                                      description="the form as the other user saved it")
    blockers: list[str] | None = None
    failing: list[dict[str, Any]] | None = None


class LogRows(BaseModel):
    event: str
    rows: list[FormState]


class SubjectCreated(BaseModel):
    id: int
    screening_number: str


class Subject(BaseModel):
    id: int
    screening_number: str
    subject_number: str | None = None
    site: str
    status: str
    events: list[dict[str, Any]] | None = None
    safety: dict[str, Any] | None = None


class SubjectList(BaseModel):
    subjects: list[Subject]


class Study(BaseModel):
    metadata_version: str
    events: list[dict[str, Any]]
    forms: dict[str, dict[str, Any]]
    codelists: dict[str, list[dict[str, str]]]
    checks: list[dict[str, str]]
    metadata_versions: list[dict[str, str]]


class Criterion(BaseModel):
    id: str
    text: str
    result: str
    evidence: dict[str, Any]
    missing: str | None = None


class Eligibility(BaseModel):
    status: str
    rule_version: str
    reference_date: str
    criteria: list[Criterion]
    signed: bool
    enrollable: bool
    signatures: list[dict[str, Any]]


class SignatureShown(BaseModel):
    model_config = ConfigDict(extra="allow")
    signer: str | None = None
    meaning: str | None = None
    status: str | None = None


class Enrolled(BaseModel):
    subject_number: str


class AuditEntries(BaseModel):
    entries: list[dict[str, str]]
    count: int


class QueryMessage(BaseModel):
    kind: str
    text: str
    author: str
    role: str | None = None
    at_utc: str
    form_version: int | None = None


class Query(BaseModel):
    id: int
    subject: str
    site: str
    event: str
    event_repeat: int
    form: str
    form_repeat: int
    item: str | None = None
    origin: str
    state: str
    next: str = Field(description="who acts next: site, monitor, or — when closed")
    age_days: int
    opened_at_utc: str
    messages: list[QueryMessage]


class QueryList(BaseModel):
    queries: list[Query]
    count: int


class SdvInstance(BaseModel):
    event: str
    event_repeat: int
    form: str
    form_repeat: int
    required: str | None = Field(description="why the plan requires it, or null")
    state: str
    items: list[dict[str, Any]]


class SubjectSdv(BaseModel):
    plan: str
    forms: list[SdvInstance]


class SdvMarked(BaseModel):
    marked: int


class SdvWorklist(BaseModel):
    plan: str
    sites: list[dict[str, Any]]


class Lock(BaseModel):
    id: int
    level: str
    kind: str
    subject_id: int | None = None
    event: str | None = None
    form: str | None = None
    active: bool
    locked_by: str
    locked_at_utc: str
    reason: str | None = None


class LockList(BaseModel):
    locks: list[Lock]
    study_lock_blockers: list[str]


class ExportJob(BaseModel):
    id: int
    format: str
    state: str = Field(description="queued, running, done or failed")
    done: int = Field(description="subjects written so far")
    total: int = Field(description="subjects in the export")
    message: str | None = Field(None, description="what went wrong, for a failed job")
    as_of: int = Field(description="audit sequence number of the snapshot")
    since_seq: int | None = None
    sites: list[str] | None = Field(None, description="the sites chosen (none: all of yours)")
    created_utc: str
    finished_utc: str | None = None
    file: str | None = Field(None, description="the zip's name, once done")
    sha256: str | None = Field(None, description="the zip's SHA-256, once done")
    download: str | None = Field(None, description="where to download the zip, once done")


class OpenApi(BaseModel):
    model_config = ConfigDict(extra="allow")
    openapi: str


# Describing a route ------------------------------------------------------------------------

ERRORS = {400: "Bad request (not a JSON object)", 401: "No valid token",
          403: "Your role does not allow this", 404: "Not found (or another site's)",
          409: "Conflict: a stale version, a locked form, not enrolled, not eligible or not "
               "signed", 422: "Invalid: each field or item named with its message"}
MAX_AGE_DAYS = 100_000
QUERY = {
    "event_repeat": ({"type": "integer", "minimum": 1},
                     "visit number of a repeatable event (unscheduled visits); 1 by default"),
    "subject": ({"type": "string"}, "screening or subject number"),
    "since": ({"type": "string", "format": "date"}, "entries on or after this UTC day"),
    "limit": ({"type": "integer", "minimum": 1, "maximum": 10000}, "at most this many"),
    "state": ({"type": "string", "enum": ["unresolved", "open", "answered", "closed", "all"]},
              "query state; unresolved (open or answered) by default"),
    "form": ({"type": "string"}, "form OID"),
    "ball": ({"type": "string", "enum": ["site", "monitor"]}, "who acts next"),
    "age": ({"type": "integer", "minimum": 0, "maximum": MAX_AGE_DAYS},
            "open at least this many days"),
    "site": ({"type": "string"}, "site code"),
    "as_of": ({"type": "integer", "minimum": 1},
              "audit sequence number of the snapshot; the newest entry by default"),
    "since_seq": ({"type": "integer", "minimum": 1},
                  "incremental export (csv, odm): form instances changed after this audit "
                  "sequence number, and the values removed since"),
}


def doc(summary: str, *, ok: tuple[int, type[BaseModel] | None],
        body: type[BaseModel] | None = None, errors: tuple[int, ...] = (401, 403, 404),
        query: tuple[str, ...] = (), conflict: bool = False, media: str | None = None):
    """Attach the route's description: the request body's model, the success status and
    model (or, for a file, its ``media`` type), the error statuses, and the query
    parameters it reads."""
    def attach(view):
        view.api_doc = {"summary": summary, "ok": ok, "body": body, "errors": errors,
                        "query": query, "conflict": conflict, "media": media}
        return view
    return attach
