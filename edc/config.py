"""Settings. The environment is read by :func:`from_env`, called inside ``create_app``."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Production defaults. Every value can be overridden by ``create_app(config=...)``."""

    # Database
    SQLALCHEMY_DATABASE_URI: str | None = None  # default: sqlite file under instance/
    # a connection the database server dropped (a restart) is replaced at checkout, not
    # handed to a request
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Sessions and cookies
    SESSION_COOKIE_NAME = "edc_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)  # absolute lifetime of a login
    EDC_IDLE_TIMEOUT = timedelta(minutes=15)
    EDC_SESSION_TOUCH_INTERVAL = timedelta(seconds=30)

    # Passwords (21 CFR 11.300, spec/part11.md "Access")
    EDC_PASSWORD_MIN_LENGTH = 12
    EDC_PASSWORD_HISTORY = 5
    EDC_PASSWORD_MAX_AGE = timedelta(days=180)
    EDC_MAX_FAILED_LOGINS = 5
    # /healthz answers 503 when less disk than this is left beside an SQLite database
    EDC_MIN_FREE_DISK_MB = 200
    # argon2-cffi defaults (RFC 9106 low-memory profile) unless overridden
    EDC_ARGON2_TIME_COST = 3
    EDC_ARGON2_MEMORY_COST = 65536
    EDC_ARGON2_PARALLELISM = 4

    # CSRF: one token valid for the whole login session
    WTF_CSRF_TIME_LIMIT = None

    # Rate limits
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    EDC_LOGIN_RATE_LIMIT = "20 per minute"

    # API bearer tokens expire (days)
    EDC_API_TOKEN_DAYS = 90

    # Uploads and bodies
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024

    # Worker processes for large audit-trail PDFs (None: one per core, at most 4)
    EDC_PDF_WORKERS: int | None = None
    # Processes that rebuild an export's subjects while the export (a job or the command
    # line) writes; 0: the export reads and writes in one process
    EDC_EXPORT_WORKERS = 2

    # Signed checkpoints of the audit chain, kept outside the database (audit/checkpoint.py);
    # the files default to instance/ (set by create_app)
    EDC_AUDIT_KEY_FILE: str | None = None
    EDC_AUDIT_KEY_COMMAND: str | None = None
    EDC_AUDIT_CHECKPOINT_LOG: str | None = None
    EDC_AUDIT_CHECKPOINT_EVERY = 1000
    EDC_AUDIT_WITNESS_SYSLOG: str | None = None

    # Background jobs (huey): Redis when EDC_REDIS_URL is set, else a SQLite queue file in
    # instance/; results in EDC_JOB_DIR (instance/jobs by default). Tests run jobs at once.
    EDC_REDIS_URL: str | None = None
    EDC_JOB_QUEUE_FILE: str | None = None
    EDC_JOB_DIR: str | None = None
    EDC_JOBS_IMMEDIATE = False
    # Documents laid out once and kept (the blank annotated CRF of each build): instance/cache
    EDC_CACHE_DIR: str | None = None
    # A running job's lease: its worker writes a heartbeat every lease/6 seconds; a job whose
    # heartbeat is older than the lease (its worker was killed) goes back to the queue, once
    # (EDC_JOB_ATTEMPTS in all), and then fails with the reason
    EDC_JOB_LEASE_SECONDS = 120
    EDC_JOB_ATTEMPTS = 2

    # SDV plan rule for non-critical forms (forms/sdv.py); None keeps the plan's own
    EDC_SDV_FIRST_SUBJECTS: int | None = None
    EDC_SDV_SAMPLE_PERCENT: int | None = None


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_env(environ: dict[str, str], instance_path: Path) -> dict:
    """Settings taken from the environment (see README, "Configuration")."""
    values: dict = {}
    url = environ.get("EDC_DATABASE_URL")
    if url:
        values["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    else:
        values["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'edc.sqlite'}"

    key = environ.get("EDC_SECRET_KEY")
    values["SECRET_KEY"] = key or _instance_secret(instance_path)

    redis_url = environ.get("EDC_REDIS_URL")
    if redis_url:
        values["RATELIMIT_STORAGE_URI"] = redis_url
        values["EDC_REDIS_URL"] = redis_url
    for name in ("EDC_JOB_QUEUE_FILE", "EDC_JOB_DIR", "EDC_CACHE_DIR"):
        if environ.get(name):
            values[name] = environ[name]
    for name in ("EDC_JOB_LEASE_SECONDS", "EDC_JOB_ATTEMPTS"):
        if environ.get(name):
            values[name] = max(1, int(environ[name]))
    for name in ("EDC_SDV_FIRST_SUBJECTS", "EDC_SDV_SAMPLE_PERCENT"):
        if environ.get(name):
            values[name] = max(0, int(environ[name]))
    if "EDC_COOKIE_SECURE" in environ:
        values["SESSION_COOKIE_SECURE"] = _bool(environ["EDC_COOKIE_SECURE"])
    if "EDC_IDLE_TIMEOUT_MINUTES" in environ:
        values["EDC_IDLE_TIMEOUT"] = timedelta(minutes=int(environ["EDC_IDLE_TIMEOUT_MINUTES"]))
    if "EDC_PDF_WORKERS" in environ:
        values["EDC_PDF_WORKERS"] = max(1, int(environ["EDC_PDF_WORKERS"]))
    if environ.get("EDC_EXPORT_WORKERS"):
        values["EDC_EXPORT_WORKERS"] = max(0, int(environ["EDC_EXPORT_WORKERS"]))
    for name in ("EDC_AUDIT_KEY_FILE", "EDC_AUDIT_KEY_COMMAND", "EDC_AUDIT_CHECKPOINT_LOG",
                 "EDC_AUDIT_WITNESS_SYSLOG"):
        if environ.get(name):
            values[name] = environ[name]
    if "EDC_AUDIT_CHECKPOINT_EVERY" in environ:
        values["EDC_AUDIT_CHECKPOINT_EVERY"] = max(1, int(environ["EDC_AUDIT_CHECKPOINT_EVERY"]))
    if "EDC_API_TOKEN_DAYS" in environ:
        values["EDC_API_TOKEN_DAYS"] = int(environ["EDC_API_TOKEN_DAYS"])
    if "EDC_PASSWORD_MAX_AGE_DAYS" in environ:
        values["EDC_PASSWORD_MAX_AGE"] = timedelta(days=int(environ["EDC_PASSWORD_MAX_AGE_DAYS"]))
    return values


def _instance_secret(instance_path: Path) -> str:
    """The secret key generated into instance/ on first run (mode 0600)."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
