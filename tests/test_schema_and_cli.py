"""The migrations build exactly the models' schema; the `edc` commands of interfaces.md."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from edc.demo import DEMO_PI_TOTP_SECRET
from edc.extensions import db
from edc.models import AuditEntry, Site, Subject, User
from tests.conftest import login

DEMO_PW = "tianjin-demo-2026"


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_init_is_idempotent(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init"])
        assert result.exit_code == 0, result.output
        assert "newest schema" in result.output


def test_migration_commands_are_there_and_loaded_only_when_used(app):
    """`edc db …` works; the web and job processes never load Flask-Migrate (Alembic, Mako:
    about 11 MiB each)."""
    import subprocess
    import sys

    for command in (["db", "current"], ["db", "check"]):  # check: models = migrations
        result = app.test_cli_runner().invoke(args=command)
        assert result.exit_code == 0, (command, result.output, result.exception)
    assert "upgrade" in app.test_cli_runner().invoke(args=["db", "--help"]).output
    probe = ("import sys; from edc import create_app; "
             "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'SECRET_KEY': 'x' * 32}); "
             "print('flask_migrate' in sys.modules, 'alembic' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,  # noqa: S603
                            check=True, cwd=str(__import__("pathlib").Path(__file__).parent.parent))
    assert loaded.stdout.split() == ["False", "False"]


def test_sqlite_runs_with_foreign_keys_and_wal(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_demo_loads_site_users_and_subjects_and_every_user_signs_in(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--password", DEMO_PW, "--subjects", "4"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        site = db.session.scalar(select(Site))
        assert (site.code, site.timezone) == ("TJ", "Asia/Shanghai")
        assert db.session.scalar(select(func.count()).select_from(Subject)) == 4
        names = set(db.session.scalars(select(User.username)))
    assert names == {"crc", "pi", "cra", "dm", "sponsor", "admin"}
    # the investigator signs with the printed demo key; the administrator sets one up first
    assert DEMO_PI_TOTP_SECRET in result.output
    expected_home = {"admin": "/account/two-factor"}
    for name in names:
        c = app.test_client()
        r = login(c, name, DEMO_PW, secret=DEMO_PI_TOTP_SECRET if name == "pi" else None)
        assert r.status_code == 302, name
        home = c.get("/", follow_redirects=True)
        assert home.status_code == 200
        assert home.request.path == expected_home.get(name, "/")
    again = runner.invoke(args=["demo", "--password", DEMO_PW])
    assert again.exit_code == 0 and "already loaded" in again.output
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "audit trail intact" in verified.output
    replayed = runner.invoke(args=["audit", "replay"])
    assert replayed.exit_code == 0 and "4 subjects" in replayed.output


def test_demo_refuses_a_database_with_real_data(app, world):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    result = app.test_cli_runner().invoke(args=["demo", "--password", DEMO_PW])
    assert result.exit_code != 0
    assert "refuses" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_demo_refuses_a_weak_password(app):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    result = app.test_cli_runner().invoke(args=["demo", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    with app.app_context():  # nothing half-written: a later run with a good password works
        assert db.session.scalar(select(func.count()).select_from(Site)) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
    ok = app.test_cli_runner().invoke(args=["demo", "--password", DEMO_PW, "--subjects", "0"])
    assert ok.exit_code == 0 and "Demo study loaded" in ok.output


def test_user_create_reads_the_password_from_stdin(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["user", "create", "--username", "crc2", "--role", "coordinator", "--site", "BJ",
              "--password-stdin"], input="a-good-long-password\n")
    assert result.exit_code == 0, result.output
    assert "Coordinator (CRC), BJ" in result.output
    assert login(app.test_client(), "crc2", "a-good-long-password").status_code == 302
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create")
                                  .order_by(AuditEntry.seq.desc()))
        assert entry.source == "cli" and entry.username.startswith("cli:")


def test_user_create_refusals(app, world):
    runner = app.test_cli_runner()
    cases = [
        (["--username", "x2", "--role", "wizard", "--site", "TJ"], "unknown role"),
        (["--username", "x2", "--role", "crc", "--site", "ZZ"], "Unknown site: ZZ"),
        (["--username", "x2", "--role", "crc"], "needs at least one site"),
        (["--username", "crc", "--role", "crc", "--site", "TJ"], "is taken"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["user", "create", *args, "--password-stdin"],
                               input="a-good-long-password\n")
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    weak = runner.invoke(args=["user", "create", "--username", "x3", "--role", "dm",
                               "--password-stdin"], input="weak\n")
    assert weak.exit_code != 0 and "at least 12" in weak.output


def test_all_site_role_ignores_site_option(app, world):
    result = app.test_cli_runner().invoke(
        args=["user", "create", "--username", "dm2", "--role", "data_manager", "--site", "TJ",
              "--password-stdin"], input="a-good-long-password\n")
    assert result.exit_code == 0, result.output
    assert "all sites" in result.output


def test_the_whole_demo_plan_goes_through_signature_and_gate(app):
    """`make demo` loads every stage: the enrolled subjects came through the investigator's
    signature and the enrollment gate, and the trail replays to the same data."""
    from edc.demo import PLAN
    from edc.models import AuditEntry, Deviation

    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--password", DEMO_PW])
    assert result.exit_code == 0, result.output
    with app.app_context():
        subjects = db.session.scalars(select(Subject).order_by(Subject.id)).all()
        assert len(subjects) == len(PLAN) == 16
        enrolled = [s.subject_number for s in subjects if s.subject_number]
        assert enrolled == [f"TJ-{n:03d}" for n in range(1, 9)]
        assert {s.status for s in subjects} == {"screening", "enrolled", "treated"}
        actions = db.session.scalars(select(AuditEntry.action)).all()
        assert actions.count("subject.enroll") == 8 and actions.count("signature.sign") == 9
        kinds = sorted(db.session.scalars(select(Deviation.kind)))
        assert kinds == ["eligibility", "visit_window"]
    replayed = runner.invoke(args=["audit", "replay"])
    assert replayed.exit_code == 0 and "16 subjects" in replayed.output
