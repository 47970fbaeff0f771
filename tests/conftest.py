"""Fixtures. Every test that uses ``app`` runs twice: on SQLite and on PostgreSQL.

The schema is built once per run and backend by the real migrations (``edc init``); each test
then gets a fresh copy (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).
PostgreSQL comes from ``EDC_TEST_DATABASE_URL``; without it the PostgreSQL half is skipped,
except in CI (``CI`` or ``EDC_REQUIRE_POSTGRES`` set), where a missing database is an error.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text

from edc import create_app
from edc.config import normalise_database_url
from edc.extensions import db

PG_URL = os.environ.get("EDC_TEST_DATABASE_URL")
REQUIRE_PG = bool(os.environ.get("EDC_REQUIRE_POSTGRES") or os.environ.get("CI"))
PASSWORD = "correct-horse-battery"
CACHE = Path(tempfile.mkdtemp(prefix="edc-cache-"))  # documents laid out once per run
# the test investigator's second factor (enrolled in ``world``); codes come from ``pi_code()``
PI_TOTP_SECRET = "TESTINVESTIGATORTOTPSECRET234567"
ADMIN_TOTP_SECRET = "TESTADMINISTRATORTOTPSECRET23456"
TOTP_SECRETS = {"pi": PI_TOTP_SECRET, "admin": ADMIN_TOTP_SECRET}


class _TotpClock:
    """The clock the second factor reads in tests: the real one, moved on by one 30-second
    step each time a test asks for a code, so that every sign-in of a test gets an unused
    code without waiting (a sign-in code is accepted once)."""

    offset = 0.0

    def now(self) -> float:
        import time

        return time.time() + self.offset


TOTP_CLOCK = _TotpClock()


def totp_code(secret: str = PI_TOTP_SECRET) -> str:
    """A fresh code of ``secret`` (the test investigator's by default)."""
    import pyotp

    TOTP_CLOCK.offset += 30
    return pyotp.TOTP(secret).at(TOTP_CLOCK.now())


def pi_code() -> str:
    return totp_code(PI_TOTP_SECRET)


@pytest.fixture(autouse=True)
def _totp_clock(monkeypatch):
    from edc.auth import twofactor

    TOTP_CLOCK.offset = 0.0
    monkeypatch.setattr(twofactor, "_now", TOTP_CLOCK.now)


def base_config(url: str) -> dict:
    anchor = Path(tempfile.mkdtemp(prefix="edc-anchor-"))  # key and checkpoints of this app
    return {
        "EDC_AUDIT_KEY_FILE": str(anchor / "audit_signing_key.pem"),
        "EDC_AUDIT_CHECKPOINT_LOG": str(anchor / "audit_checkpoints.jsonl"),
        "EDC_JOB_DIR": str(anchor / "jobs"),  # results of the jobs a test runs
        "EDC_CACHE_DIR": str(CACHE),  # the aCRF, laid out once for the whole run
        "TESTING": True,
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "SQLALCHEMY_DATABASE_URI": url,
        "SESSION_COOKIE_SECURE": False,
        # cheap Argon2id parameters: the algorithm is the same, only slower in production
        "EDC_ARGON2_TIME_COST": 1,
        "EDC_ARGON2_MEMORY_COST": 1024,
        "EDC_ARGON2_PARALLELISM": 1,
        "RATELIMIT_STORAGE_URI": "memory://",
    }


def _migrate(url: str) -> None:
    from edc.cli import init_database

    app = create_app(base_config(url))
    with app.app_context():
        init_database()
        db.session.remove()
        db.engine.dispose()


class Backend:
    name: str

    def new_database(self) -> str: ...

    def empty_database(self) -> str:
        """A database with no tables at all (a restore's target)."""

    def drop(self, url: str) -> None: ...


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, tmp_dir):
        self.dir = tmp_dir
        self.template = tmp_dir / "template.sqlite"
        _migrate(f"sqlite:///{self.template}")
        self.counter = itertools.count()

    def new_database(self) -> str:
        path = self.dir / f"t{next(self.counter)}.sqlite"
        shutil.copyfile(self.template, path)
        wal = self.template.with_name(self.template.name + "-wal")
        if wal.exists():  # not checkpointed yet: the copy needs the log too
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
        return f"sqlite:///{path}"

    def empty_database(self) -> str:
        return f"sqlite:///{self.dir / f'e{next(self.counter)}.sqlite'}"

    def drop(self, url: str) -> None:
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, url: str):
        self.admin_url = normalise_database_url(url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.prefix = f"edct_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tpl"
        self._exec(f'CREATE DATABASE "{self.template}"')
        _migrate(self.url_for(self.template))
        self.counter = itertools.count()

    def _exec(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def new_database(self) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self._exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self.url_for(name)

    def empty_database(self) -> str:
        name = f"{self.prefix}_e{next(self.counter)}"
        self._exec(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        assert re.fullmatch(r"edct_[0-9a-z_]+", name)
        self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture(scope="session")
def _backends(tmp_path_factory):
    made: dict[str, Backend] = {}

    def get(name: str) -> Backend:
        if name not in made:
            if name == "sqlite":
                made[name] = SqliteBackend(tmp_path_factory.mktemp("sqlite"))
            else:
                made[name] = PostgresBackend(PG_URL)
        return made[name]

    yield get
    for backend in made.values():
        if isinstance(backend, PostgresBackend):
            backend.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, _backends) -> Backend:
    if request.param == "postgresql" and not PG_URL:
        if REQUIRE_PG:
            pytest.fail("EDC_TEST_DATABASE_URL is not set: the PostgreSQL run may not be "
                        "skipped here")
        pytest.skip("PostgreSQL: set EDC_TEST_DATABASE_URL to run this half")
    return _backends(request.param)


@pytest.fixture
def database_url(backend):
    url = backend.new_database()
    yield url
    backend.drop(url)


@pytest.fixture
def app(database_url):
    """The application, with no app context pushed: each request gets its own ``g``.

    Tests that touch the database directly use the ``ctx`` fixture or ``app.app_context()``.
    """
    app = create_app(base_config(database_url))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


# Data --------------------------------------------------------------------------------------

@dataclass
class World:
    """Two sites, one user of every role at TJ (all-site roles see both), one subject each.

    Plain ids only: the ORM objects belong to the session that made them.
    """

    tj: int
    bj: int
    users: dict[str, int]
    subject_tj: int
    subject_bj: int


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        made = _make_world()
        db.session.remove()
    return made


def _make_world() -> World:
    from edc.admin import services as admin
    from edc.cli import cli_actor
    from edc.security import Role
    from edc.subjects.services import create_subject

    actor = cli_actor()
    tj = admin.create_site(code="TJ", name="Tianjin", timezone="Asia/Shanghai", actor=actor)
    bj = admin.create_site(code="BJ", name="Beijing", timezone="Asia/Shanghai", actor=actor)
    users = {}
    for role in Role:
        users[role.value], _ = admin.create_user(
            username=role.value, full_name=f"Test {role.label}", email="",
            role=role, site_codes=[] if role.all_sites else ["TJ"], password=PASSWORD,
            actor=actor)
    users["crc_bj"], _ = admin.create_user(
        username="crc_bj", full_name="Beijing Coordinator", email="", role=Role.CRC,
        site_codes=["BJ"], password=PASSWORD, actor=actor)
    from edc.auth import twofactor
    from edc.models import User

    for username, secret in TOTP_SECRETS.items():  # investigators sign, admins work with one
        twofactor.install(db.session.get(User, users[username].id), secret, actor=actor)
    subject_tj = create_subject(tj, actor=actor, created_by_id=users["crc"].id)
    subject_bj = create_subject(bj, actor=actor, created_by_id=users["crc_bj"].id)
    db.session.commit()
    return World(tj.id, bj.id, {k: u.id for k, u in users.items()}, subject_tj.id,
                 subject_bj.id)


@pytest.fixture
def token(app, world):
    """``token(role)``: the Authorization header of a fresh API token of that role's user."""
    from edc.auth.tokens import issue
    from edc.cli import cli_actor
    from edc.models import User

    def make(role: str) -> dict:
        with app.app_context():
            _, bearer = issue(db.session.get(User, world.users[role]), label="test",
                              actor=cli_actor())
            db.session.commit()
        return {"Authorization": f"Bearer {bearer}"}

    return make


def count_statements(app, client, url: str) -> int:
    """How many SQL statements one GET of ``url`` runs (it must answer 200)."""
    from sqlalchemy import event

    count = 0

    def bump(*_args, **_kwargs):
        nonlocal count
        count += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", bump)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", bump)
    return count


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the current session, read from a page's form."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def audit_pdf(client, **filters):
    """Ask for the audit-trail PDF of ``filters`` (a background job; tests run jobs at once)
    and download it: the download's response."""
    token = csrf_token(client, "/audit/")
    response = client.post("/audit/export.pdf", data={"csrf_token": token, **filters})
    assert response.status_code == 302, response.get_data(as_text=True)
    job = re.search(r"started=(\d+)", response.headers["Location"]).group(1)
    return client.get(f"/jobs/{job}/download")


def login(client, username: str, password: str = PASSWORD, secret: str | None = None):
    """Sign in; for an account with a second factor (the test investigator's and
    administrator's, or ``secret``) the code step follows with a fresh code."""
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    if response.status_code == 302 and response.headers["Location"].endswith("/login/code"):
        token = csrf_token(client, "/login/code")
        code = totp_code(secret or TOTP_SECRETS[username])
        response = client.post("/login/code", data={"code": code, "csrf_token": token})
    return response


@pytest.fixture
def login_as(client, world):
    def _login(username: str):
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _login


def mark_enrolled(subject_id: int) -> str:
    """Test set-up for forms after enrollment (treatment, follow-up) when the test is not about
    enrollment: give the subject its number and status directly, audited like the gate does.
    The enrollment gate itself is exercised through the page and the API in
    test_enrollment.py. Call inside an app context."""
    from edc.cli import cli_actor
    from edc.eligibility.enrollment import next_subject_number
    from edc.models import Subject
    from edc.subjects.services import update_subject

    subject = db.session.get(Subject, subject_id, execution_options={"all_sites": True})
    number = next_subject_number(subject.site)
    for field, new in (("subject_number", number), ("status", "enrolled")):
        update_subject(subject, field, new, actor=cli_actor(), reason="test set-up")
    db.session.commit()
    return number


def enter_eligible(subject_id: int, cohort: str = "SLE", *, complete: str = "eligible") -> None:
    """Enter (through the save service) screening data that make the subject eligible today
    at its site, for ``cohort``. Call inside an app context."""
    from edc.cli import cli_actor
    from edc.demo import enter_screening, screening_forms
    from edc.eligibility.services import site_today
    from edc.models import Subject

    subject = db.session.get(Subject, subject_id, execution_options={"all_sites": True})
    today = site_today(subject)
    enter_screening(subject, screening_forms(cohort, today, complete=complete),
                    actor=cli_actor(), today=today)
    db.session.commit()  # the test is the boundary


def age_sessions(app, *, idle: timedelta = timedelta(0),
                 lifetime: timedelta = timedelta(0)) -> None:
    """Let time pass for the login sessions without touching any clock: their last activity
    moves back by ``idle`` and their start by ``lifetime`` (the audit clock is never pinned)."""
    from edc.models import AuthSession

    table = AuthSession.__table__
    with app.app_context(), db.engine.begin() as conn:
        rows = conn.execute(select(table.c.id, table.c.last_seen_at, table.c.created_at))
        for row_id, last_seen, created in rows.all():
            conn.execute(table.update().where(table.c.id == row_id).values(
                last_seen_at=last_seen - idle, created_at=created - lifetime))


def age_password(app, user_id: int, by: timedelta) -> None:
    """The user's password was set ``by`` earlier (test set-up, no clock moved)."""
    from edc.models import User

    table = User.__table__
    with app.app_context(), db.engine.begin() as conn:
        changed = conn.execute(select(table.c.password_changed_at).where(
            table.c.id == user_id)).scalar_one()
        conn.execute(table.update().where(table.c.id == user_id).values(
            password_changed_at=changed - by))
