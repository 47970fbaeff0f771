"""Backups of the whole database, and their verified restore.

A backup is one zip: the database (SQLite's online backup API; PostgreSQL's ``pg_dump``
custom format, taken in an exported snapshot), the checkpoints that cover it, and
``manifest.json`` naming the chain's head in that very copy, a checkpoint signed at that
head, the audit public key, the schema revision and the file's SHA-256.

The copy's trail is verified before the backup is written (a backup of a broken trail could
not be restored). A restore goes only into an empty database and reports success only once
the restored trail verifies, ends where the manifest says, and agrees with every checkpoint
under a public key this installation trusts (its own audit key, or one given); otherwise it
is refused naming the bad sequence number, and the target is left empty.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from audit.chain import GENESIS
from audit.checkpoint import Anchor, Checkpoint, public_text
from audit.verify import Verification, verify_with
from edc.clock import utcnow

FORMAT = "edc-backup/1"
MANIFEST = "manifest.json"
CHECKPOINTS = "checkpoints.jsonl"
MEMBERS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
PG_TIMEOUT = 6 * 3600  # seconds a pg_dump / pg_restore may run


class BackupError(RuntimeError):
    """Why a backup or a restore was refused; nothing was written (or it was taken back)."""


@dataclass(frozen=True)
class Done:
    path: Path
    seq: int
    head: str  # a checkpoint was signed at exactly this head
    sha256: str
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in MEMBERS:
        raise BackupError(f"backups of {name} databases are not supported")
    return name


def _libpq(engine: Engine) -> tuple[str, dict]:
    """The libpq address of ``engine`` for pg_dump / pg_restore, the password in the
    environment (never on a command line)."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict, what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, timeout=PG_TIMEOUT,  # noqa: S603
                              check=False)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not installed (it comes with the PostgreSQL "
                          "client package)") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.decode(errors='replace').strip()}")


def _facts(conn) -> tuple[int, str, str | None]:
    """The chain's head and the schema revision, as ``conn`` sees them."""
    row = conn.execute(text("SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1")
                       ).first()
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return (row.seq, row.hash) if row else (0, GENESIS), revision


def _verify_upto(conn, seq: int, anchor: Anchor) -> Verification:
    """The copy's trail against the checkpoints that cover it (later ones were signed after
    the copy was taken)."""
    covering = [c for c in anchor.checkpoints() if c.seq <= seq]
    return verify_with(conn, covering, anchor.public_key)


# Backup ------------------------------------------------------------------------------------

def backup(engine: Engine, anchor: Anchor, output: Path, *, operator: str) -> Done:
    """Write a verified backup of ``engine``'s database to ``output`` (written beside it,
    then renamed: never a partial file under the name)."""
    kind = _kind(engine)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".edc-backup-", dir=output.parent))
    partial = output.with_name(output.name + ".partial")
    try:
        member = scratch / MEMBERS[kind]
        copy = _sqlite_copy if kind == "sqlite" else _pg_copy
        (seq, head), revision, verified = copy(engine, member, anchor)
        if not verified.ok:
            raise BackupError("the audit trail does not verify, so no backup is written: "
                              f"{verified.summary()} (run `edc audit verify`)")
        checkpoint = anchor.sign(seq, head)  # a signed checkpoint at exactly this head
        anchor.append(checkpoint)
        covering = [c for c in anchor.checkpoints() if c.seq <= seq]  # with the new one
        size, digest = member.stat().st_size, _sha256(member)
        manifest = {
            "format": FORMAT, "database": kind, "file": member.name, "bytes": size,
            "sha256": digest, "schema_revision": revision,
            "chain": {"seq": seq, "head": head, "entries_verified": verified.count},
            "checkpoint": checkpoint.as_json(),
            "audit_public_key": public_text(anchor.public_key()),
            "created_at_utc": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "created_by": operator,
        }
        with zipfile.ZipFile(partial, "w", allowZip64=True) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
            zf.writestr(CHECKPOINTS, "".join(c.line() + "\n" for c in covering))
            zf.write(member, member.name, compress_type=(
                zipfile.ZIP_DEFLATED if kind == "sqlite" else zipfile.ZIP_STORED))
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, output)
        return Done(output, seq, head, digest, size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        shutil.rmtree(scratch, ignore_errors=True)


def _sqlite_copy(engine: Engine, member: Path, anchor: Anchor):
    """SQLite's online backup API: one consistent copy while others write."""
    source = sqlite3.connect(engine.url.database)
    try:
        target = sqlite3.connect(member)
        try:
            with target:
                source.backup(target)  # all pages in one step: one consistent snapshot
        finally:
            target.close()
    finally:
        source.close()
    return _check_file(member, anchor)


def _check_file(path: Path, anchor: Anchor):
    copy = create_engine(f"sqlite:///{path}")
    try:
        with copy.connect() as conn:
            head, revision = _facts(conn)
            return head, revision, _verify_upto(conn, head[0], anchor)
    finally:
        copy.dispose()


def _pg_copy(engine: Engine, member: Path, anchor: Anchor):
    """pg_dump in a snapshot exported by a read-only transaction that also reads the head
    and verifies the trail: the manifest describes exactly what was dumped."""
    address, env = _libpq(engine)
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
        head, revision = _facts(conn)
        _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--no-owner",
              f"--file={member}", f"--dbname={address}"], env, "pg_dump")
        verified = _verify_upto(conn, head[0], anchor)
        conn.rollback()
    return head, revision, verified


# Restore -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Restored:
    seq: int
    head: str
    checkpoints: list[Checkpoint]  # verified against the trusted key
    revision: str | None


def read_manifest(archive: Path) -> dict:
    try:
        with zipfile.ZipFile(archive) as zf:
            manifest = json.loads(zf.read(MANIFEST))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise BackupError(f"{archive} is not a backup of this system ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is not a backup of this system (format "
                          f"{manifest.get('format') if isinstance(manifest, dict) else '?'})")
    return manifest


def restore(engine: Engine, archive: Path, *, public_key) -> Restored:
    """Restore ``archive`` into ``engine``'s empty database and verify it against
    ``public_key()`` (the key this installation trusts). Refuses, leaving the target empty,
    when anything does not match."""
    kind = _kind(engine)
    manifest = read_manifest(archive)
    if manifest.get("database") != kind:
        raise BackupError(f"the backup is of a {manifest.get('database')} database; this "
                          f"installation uses {kind}")
    _refuse_unless_empty(engine)
    scratch = Path(tempfile.mkdtemp(prefix=".edc-restore-"))
    try:
        member = scratch / MEMBERS[kind]
        try:
            with zipfile.ZipFile(archive) as zf, zf.open(MEMBERS[kind]) as src, \
                    member.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                lines = zf.read(CHECKPOINTS).decode("utf-8").splitlines()
            checkpoints = [Checkpoint.from_json(json.loads(x)) for x in lines if x.strip()]
            signed = Checkpoint.from_json(manifest["checkpoint"])
            chain = manifest["chain"]
            seq, head = int(chain["seq"]), str(chain["head"])
        except (KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
            raise BackupError(f"the backup is damaged or incomplete ({exc})") from None
        if _sha256(member) != manifest.get("sha256"):
            raise BackupError("the database file does not match the SHA-256 in the manifest: "
                              "the backup was altered or damaged")
        if (signed.seq, signed.hash) != (seq, head):
            raise BackupError("the manifest's checkpoint does not cover its chain head")
        if all((c.seq, c.hash, c.signature) != (signed.seq, signed.hash, signed.signature)
               for c in checkpoints):
            checkpoints.append(signed)
        if kind == "sqlite":
            _restore_sqlite(engine, member, checkpoints, public_key, seq, head)
        else:
            _restore_pg(engine, member, checkpoints, public_key, seq, head)
        return Restored(seq, head, checkpoints, manifest.get("schema_revision"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _refuse_unless_empty(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:":
            raise BackupError("restore needs a database file (EDC_DATABASE_URL)")
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            return
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
    if tables:
        raise BackupError(f"the target database is not empty ({len(tables)} tables, e.g. "
                          f"{sorted(tables)[0]}): restore goes into an empty database only")


def _judge(verified: Verification, seq: int, head: str) -> None:
    if not verified.chain_ok:
        raise BackupError(f"the backup's audit trail is broken at sequence {verified.bad_seq}: "
                          f"{verified.problem}; nothing was restored")
    if verified.problems:
        raise BackupError("the backup's audit trail contradicts its signed checkpoints: "
                          + "; ".join(verified.problems) + "; nothing was restored")
    if (verified.count, verified.head_hash) != (seq, head):
        raise BackupError(f"the backup's trail ends at sequence {verified.count}, the "
                          f"manifest says {seq}: nothing was restored")


def _restore_sqlite(engine, member, checkpoints, public_key, seq, head) -> None:
    """Verify the file before anything reaches the target, then copy it in with the backup
    API (the target's own connections see the whole database or none)."""
    copy = create_engine(f"sqlite:///{member}")
    try:
        with copy.connect() as conn:
            _judge(verify_with(conn, checkpoints, public_key), seq, head)
    finally:
        copy.dispose()
    engine.dispose()
    source = sqlite3.connect(member)
    try:
        target = sqlite3.connect(engine.url.database)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _restore_pg(engine, member, checkpoints, public_key, seq, head) -> None:
    """pg_restore in one transaction, then verify what is in the target; a refusal empties
    the target again."""
    address, env = _libpq(engine)
    _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", f"--dbname={address}", str(member)], env, "pg_restore")
    try:
        with engine.connect() as conn:
            _judge(verify_with(conn, checkpoints, public_key), seq, head)
    except BackupError:
        with engine.begin() as conn:
            owner = conn.execute(text("SELECT current_user")).scalar()
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text(f'CREATE SCHEMA public AUTHORIZATION "{owner}"'))
        raise


def public_key_from_text(value: str):
    """A public key given as printed on PDFs and manifests (base64 of the 32 raw bytes)."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise BackupError("the public key is not an Ed25519 key as printed on the audit PDFs "
                          "(base64 of 32 bytes)") from None
