"""Database-level immutability of the audit table, per dialect.

Triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of ``audit_entry`` whoever asks:
the application, the ORM, or plain SQL. An INSERT is accepted only as the next entry of the
chain (seq = head + 1): that closes SQLite's conflict-resolution paths (``INSERT OR
REPLACE`` deletes the row it replaces without firing a DELETE trigger) and any insertion
into the middle or beyond the head. ``install`` is idempotent; migrations call it, and
``edc init`` calls ``repair`` after ``upgrade head`` (Alembic's SQLite batch mode drops
triggers when it rebuilds a table; a PostgreSQL owner may disable them), saying what it
repaired.
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
    "audit_entry_append_at_head": (
        "CREATE TRIGGER IF NOT EXISTS audit_entry_append_at_head BEFORE INSERT ON audit_entry "
        "WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_entry) "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: an entry may only be added "
        "after the head of the chain'); END"
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
PG_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION edc_audit_append_at_head() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_entry) THEN
        RAISE EXCEPTION 'audit_entry is append-only: an entry may only be added after the '
                        'head of the chain' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""
PG_TRIGGERS = {
    "audit_entry_no_update": ("BEFORE UPDATE ON audit_entry FOR EACH ROW",
                              "edc_audit_append_only"),
    "audit_entry_no_delete": ("BEFORE DELETE ON audit_entry FOR EACH ROW",
                              "edc_audit_append_only"),
    "audit_entry_no_truncate": ("BEFORE TRUNCATE ON audit_entry FOR EACH STATEMENT",
                                "edc_audit_append_only"),
    "audit_entry_append_at_head": ("BEFORE INSERT ON audit_entry FOR EACH ROW",
                                   "edc_audit_append_at_head"),
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
    conn.execute(text(PG_HEAD_FUNCTION))
    for name, (when, function) in PG_TRIGGERS.items():
        if name not in _pg_triggers(conn):
            conn.execute(text(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()"))
    present = _pg_triggers(conn)
    for name in PG_TRIGGERS:
        if present[name] != "A":
            # disabled ('D'), or firing only for replicas ('R') or at origin ('O'): a
            # session with session_replication_role = replica would pass an 'O' trigger
            conn.execute(text(f"ALTER TABLE audit_entry ENABLE ALWAYS TRIGGER {name}"))


def _pg_triggers(conn) -> dict[str, str]:
    rows = conn.execute(text(
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'audit_entry'::regclass "
        "AND NOT tgisinternal"))
    return {r[0]: r[1] for r in rows}


def installed(conn) -> set[str]:
    """The triggers present and enabled (on PostgreSQL: enabled ALWAYS, so that no
    session_replication_role setting skips them)."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_entry'"))
        return {r[0] for r in rows}
    return {name for name, state in _pg_triggers(conn).items() if state == "A"}


def missing(conn) -> set[str]:
    """Expected triggers absent or not always enabled."""
    return expected_triggers(conn.dialect.name) - installed(conn)


def repair(conn) -> list[str]:
    """Install what is missing or disabled; the names it repaired."""
    before = missing(conn)
    install(conn)
    after = missing(conn)
    if after:
        raise RuntimeError(f"audit triggers still missing after repair: {sorted(after)}")
    return sorted(before)


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
