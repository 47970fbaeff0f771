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

from sqlalchemy import inspect, text

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

# The access log (who saw identifying data, refused requests) is append-only as well.
SQLITE_TRIGGERS.update({
    "access_log_no_update": (
        "CREATE TRIGGER IF NOT EXISTS access_log_no_update BEFORE UPDATE ON access_log "
        "BEGIN SELECT RAISE(ABORT, 'access_log is append-only: UPDATE refused'); END"),
    "access_log_no_delete": (
        "CREATE TRIGGER IF NOT EXISTS access_log_no_delete BEFORE DELETE ON access_log "
        "BEGIN SELECT RAISE(ABORT, 'access_log is append-only: DELETE refused'); END"),
})

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION edc_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
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
    "access_log_no_update": ("BEFORE UPDATE ON access_log FOR EACH ROW",
                             "edc_audit_append_only"),
    "access_log_no_delete": ("BEFORE DELETE ON access_log FOR EACH ROW",
                             "edc_audit_append_only"),
}


def table_of(trigger: str) -> str:
    return "access_log" if trigger.startswith("access_log") else "audit_entry"


def _tables(conn) -> set[str]:
    """The append-only tables that exist (an older migration runs before access_log)."""
    present = set(inspect(conn).get_table_names())
    return {t for t in ("audit_entry", "access_log") if t in present}


def expected_triggers(dialect: str, tables: set[str] | None = None) -> set[str]:
    names = SQLITE_TRIGGERS if dialect == "sqlite" else PG_TRIGGERS
    return {n for n in names if tables is None or table_of(n) in tables}


def install(conn) -> None:
    dialect = conn.dialect.name
    tables = _tables(conn)
    if dialect == "sqlite":
        for name, sql in SQLITE_TRIGGERS.items():
            if table_of(name) in tables:
                conn.execute(text(sql))
        return
    if dialect != "postgresql":
        raise RuntimeError(f"no audit immutability DDL for {dialect}")
    conn.execute(text(PG_FUNCTION))
    conn.execute(text(PG_HEAD_FUNCTION))
    wanted = {n: v for n, v in PG_TRIGGERS.items() if table_of(n) in tables}
    for name, (when, function) in wanted.items():
        if name not in _pg_triggers(conn, tables):
            conn.execute(text(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()"))
    present = _pg_triggers(conn, tables)
    for name in wanted:
        if present[name] != "A":
            # disabled ('D'), or firing only for replicas ('R') or at origin ('O'): a
            # session with session_replication_role = replica would pass an 'O' trigger
            conn.execute(text(f"ALTER TABLE {table_of(name)} ENABLE ALWAYS TRIGGER {name}"))


def _pg_triggers(conn, tables: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for table in sorted(tables):
        rows = conn.execute(text(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
            "AND NOT tgisinternal"), {"t": table})
        out.update({r[0]: r[1] for r in rows})
    return out


def installed(conn) -> set[str]:
    """The triggers present and enabled (on PostgreSQL: enabled ALWAYS, so that no
    session_replication_role setting skips them)."""
    tables = _tables(conn)
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='trigger' "
            "AND tbl_name IN ('audit_entry', 'access_log')"))
        return {r[0] for r in rows}
    return {name for name, state in _pg_triggers(conn, tables).items() if state == "A"}


def missing(conn) -> set[str]:
    """Expected triggers absent or not always enabled."""
    return expected_triggers(conn.dialect.name, _tables(conn)) - installed(conn)


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
    for name in expected_triggers(conn.dialect.name, _tables(conn)):
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table_of(name)}"))


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
