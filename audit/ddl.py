"""Database-level immutability of the audit table, per dialect.

Triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of ``audit_entry`` whoever asks:
the application, the ORM, or plain SQL. ``install`` is idempotent; migrations call it, and
``edc init`` calls it again after ``upgrade head`` because Alembic's SQLite batch mode drops
triggers when it rebuilds a table.
"""

from __future__ import annotations

import re

from sqlalchemy import text

SQLITE_TRIGGERS = {
    "audit_entry_no_update": (
        "CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: UPDATE refused'); END"
    ),
    "audit_entry_no_delete": (
        "CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: DELETE refused'); END"
    ),
}

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION edc_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = {
    "audit_entry_no_update": "BEFORE UPDATE ON audit_entry FOR EACH ROW",
    "audit_entry_no_delete": "BEFORE DELETE ON audit_entry FOR EACH ROW",
    "audit_entry_no_truncate": "BEFORE TRUNCATE ON audit_entry FOR EACH STATEMENT",
}


def expected_triggers(dialect: str) -> set[str]:
    return set(SQLITE_TRIGGERS if dialect == "sqlite" else PG_TRIGGERS)


def install(conn) -> None:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        for sql in SQLITE_TRIGGERS.values():
            conn.execute(text(sql))
        return
    if dialect != "postgresql":
        raise RuntimeError(f"no audit immutability DDL for {dialect}")
    conn.execute(text(PG_FUNCTION))
    present = installed(conn)
    for name, when in PG_TRIGGERS.items():
        if name not in present:
            conn.execute(text(
                f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION edc_audit_append_only()"))


def installed(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_entry'"))
    else:
        rows = conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_entry'::regclass "
            "AND NOT tgisinternal AND tgenabled <> 'D'"))
    return {r[0] for r in rows}


def drop(conn) -> None:
    """Remove the triggers (tests of tamper *detection* only; needs the table owner)."""
    for name in expected_triggers(conn.dialect.name):
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON audit_entry"))


_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role_grants(role: str, schema: str = "public") -> list[str]:
    """PostgreSQL privileges of the application's login role: everything it needs on the
    clinical tables, but only SELECT and INSERT on the audit trail. Run as the schema owner
    (the role that runs migrations), after ``edc init``."""
    if not _ROLE_RE.match(role) or not _ROLE_RE.match(schema):
        raise ValueError("role and schema must be plain lower-case SQL identifiers")
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"REVOKE ALL ON {schema}.audit_entry FROM {role}",
        f"GRANT SELECT, INSERT ON {schema}.audit_entry TO {role}",
        f"REVOKE ALL ON {schema}.alembic_version FROM {role}",
        f"GRANT SELECT ON {schema}.alembic_version TO {role}",
    ]
