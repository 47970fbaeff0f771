"""Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

import sqlite3
from contextvars import ContextVar

import click
from flask import Flask, current_app, g
from flask.cli import with_appcontext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def migrations(app: Flask) -> None:
    """Flask-Migrate for ``app``, set up the first time a command needs it (``edc init``,
    ``edc db …``): it brings Alembic and Mako (about 11 MiB), which the web and job
    processes never use."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        from edc.config import REPO_ROOT

        Migrate(app, db, directory=str(REPO_ROOT / "migrations"), render_as_batch=True,
                compare_type=True)


class _Migrations(click.Group):
    """``edc db …``: Flask-Migrate's commands, loaded when one is used."""

    def _group(self) -> click.Group:
        from flask_migrate.cli import db as group

        return group

    def list_commands(self, ctx) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._group().get_command(ctx, name)


@click.group("db", cls=_Migrations)
@click.option("-d", "--directory", default=None,
              help='Migration script directory (default is "migrations")')
@click.option("-x", "--x-arg", multiple=True,
              help="Additional arguments consumed by custom env.py scripts")
@with_appcontext
def migrations_cli(directory, x_arg):
    """Database migrations (Flask-Migrate, Alembic)."""
    migrations(current_app._get_current_object())
    g.directory = directory  # read by Flask-Migrate's commands, as its own group does
    g.x_arg = x_arg


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: foreign keys on, WAL, full sync, wait for the write lock rather than fail.

    The driver's own transaction handling is switched off so that ``_sqlite_begin`` can open
    every transaction with BEGIN IMMEDIATE: writes are serialised from the first statement
    (the audit chain relies on it) and a read never has to be upgraded to a write later.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# Set by ``edc.uow.read_only()``: the transactions it opens only read (a long render).
READ_ONLY: ContextVar[bool] = ContextVar("edc_read_only", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        # a read-only block (or a connection that says it only reads, as the audit
        # verification's workers do) reads a WAL snapshot and holds no write lock
        reading = READ_ONLY.get() or conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
