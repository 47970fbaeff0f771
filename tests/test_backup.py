"""`edc backup` and `edc restore` (SQLite online backup API; pg_dump custom format): a
verified copy with a checkpoint signed at its head, consistent under concurrent writes, and
a restore that refuses a tampered backup naming the bad sequence number."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from audit.chain import GENESIS, entry_hash
from audit.models import AuditEntry
from edc import create_app
from edc.extensions import db
from edc.models import Subject
from tests.conftest import base_config, enter_eligible


@pytest.fixture
def target(app, backend):
    """An app on an empty database, trusting the same audit key as the source (its own
    checkpoint log, as on a new machine)."""
    url = backend.empty_database()
    config = base_config(url)
    config["EDC_AUDIT_KEY_FILE"] = app.config["EDC_AUDIT_KEY_FILE"]
    made = create_app(config)
    yield made
    with made.app_context():
        db.session.remove()
        db.engine.dispose()
    backend.drop(url)


def _backup(app, path: Path):
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(zipfile.ZipFile(path).read("manifest.json"))


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)
                                 .execution_options(all_sites=True))


def test_backup_and_restore_round_trip(app, world, target, tmp_path):
    with app.app_context():
        enter_eligible(world.subject_tj)
    archive = tmp_path / "edc.backup"
    manifest = _backup(app, archive)
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    backed = [e for e in entries if e.seq <= manifest["chain"]["seq"]]
    assert manifest["chain"] == {"seq": backed[-1].seq, "head": backed[-1].hash,
                                 "entries_verified": len(backed)}
    assert manifest["checkpoint"]["seq"] == backed[-1].seq  # signed at the backup's head
    assert entries[-1].action == "system.backup"  # audited, after the copy
    assert sorted(zipfile.ZipFile(archive).namelist()) == sorted(
        ["manifest.json", "checkpoints.jsonl", manifest["file"]])
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".edc-backup-*"))

    result = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert f"restored and verified: {backed[-1].seq} audit entries" in result.output
    verified = target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "audit trail intact" in verified.output
    assert "consistent with 0 signed" not in verified.output  # the backup's checkpoints
    assert _count(target, Subject) == _count(app, Subject)
    with target.app_context():
        last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert (last.seq, last.action) == (backed[-1].seq + 1, "system.restore")
    # the restored database is a working one: the data are there for a second restore's refusal
    again = target.test_cli_runner().invoke(args=["restore", str(archive)])
    assert again.exit_code != 0 and "not empty" in again.output


def test_backup_under_concurrent_writes_is_consistent(app, world, target, tmp_path):
    from edc.cli import cli_actor
    from edc.models import Site
    from edc.subjects.services import create_subject
    from edc.uow import unit_of_work

    stop = threading.Event()
    written = []

    def writer():
        with app.app_context():
            site = db.session.get(Site, world.tj)
            while not stop.is_set():
                with unit_of_work():
                    subject = create_subject(site, actor=cli_actor(),
                                             created_by_id=world.users["crc"])
                written.append(subject.id)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            stop.wait(0.05)
        manifest = _backup(app, tmp_path / "busy.backup")
    finally:
        stop.set()
        thread.join()
    assert len(written) > 5
    result = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "busy.backup")])
    assert result.exit_code == 0, result.output
    verified = target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # every subject in the copy has its audit entry, and the copy ends at the manifest's head
    with target.app_context():
        seq = manifest["chain"]["seq"]
        created = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "subject.create", AuditEntry.seq <= seq))
        assert created == db.session.scalar(select(func.count()).select_from(Subject)
                                            .execution_options(all_sites=True))


# Tampering -----------------------------------------------------------------------------------

def _tamper(backend, archive: Path, out: Path, change) -> None:
    """Rewrite the database inside ``archive`` with ``change(conn)`` (triggers off), and
    the manifest's SHA-256 with it, as someone covering their tracks would."""
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    work = out.parent / "tamper"
    work.mkdir()
    member = work / manifest["file"]
    with zipfile.ZipFile(archive) as zf:
        member.write_bytes(zf.read(manifest["file"]))
        checkpoints = zf.read("checkpoints.jsonl")
    if manifest["database"] == "sqlite":
        conn = sqlite3.connect(member)
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f'DROP TRIGGER "{name}"')
        change(conn)
        conn.commit()
        conn.close()
    else:
        url = backend.empty_database()
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(["pg_restore", "--no-owner", "--no-privileges",  # noqa: S603, S607
                        f"--dbname={libpq}", str(member)], check=True, capture_output=True)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
            change(conn.connection.dbapi_connection)
        engine.dispose()
        member.unlink()
        subprocess.run(["pg_dump", "--format=custom", "--no-owner",  # noqa: S603, S607
                        f"--file={member}", f"--dbname={libpq}"], check=True,
                       capture_output=True)
        backend.drop(url)
    manifest["sha256"] = hashlib.sha256(member.read_bytes()).hexdigest()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("checkpoints.jsonl", checkpoints)
        zf.write(member, manifest["file"])
    shutil.rmtree(work)


def _empty(app) -> bool:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            path = Path(engine.url.database)
            if not path.exists() or path.stat().st_size == 0:
                return True
        with engine.connect() as conn:
            return inspect(conn).get_table_names() == []


def test_a_changed_entry_is_refused_naming_its_sequence(app, world, backend, target,
                                                        tmp_path):
    archive = tmp_path / "good.backup"
    _backup(app, archive)

    def change(conn):
        conn.cursor().execute("UPDATE audit_entry SET new_value = 'TJ-S999' WHERE seq = 7")

    _tamper(backend, archive, tmp_path / "bad.backup", change)
    result = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "bad.backup")])
    assert result.exit_code != 0
    assert "broken at sequence 7" in result.output and "nothing was restored" in result.output
    assert _empty(target)


def test_a_rewritten_chain_is_refused_by_the_signed_checkpoint(app, world, backend, target,
                                                               tmp_path):
    archive = tmp_path / "good.backup"
    manifest = _backup(app, archive)

    def change(conn):
        """Change entry 7 and recompute every hash after it: the chain holds together."""
        cur = conn.cursor()
        cur.execute("UPDATE audit_entry SET new_value = 'TJ-S999' WHERE seq = 7")
        names = ", ".join(AuditEntry.CHAINED)
        cur.execute(f"SELECT {names} FROM audit_entry ORDER BY seq")  # noqa: S608
        rows = cur.fetchall()
        prev = GENESIS
        for row in rows:
            fields = dict(zip(AuditEntry.CHAINED, row, strict=True))
            fields = _as_stored(fields)
            digest = entry_hash(prev, fields)
            mark = "?" if isinstance(conn, sqlite3.Connection) else "%s"
            cur.execute(f"UPDATE audit_entry SET prev_hash = {mark}, hash = {mark} "  # noqa: S608
                        f"WHERE seq = {mark}", (prev, digest, fields["seq"]))
            prev = digest

    _tamper(backend, archive, tmp_path / "bad.backup", change)
    result = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "bad.backup")])
    assert result.exit_code != 0, result.output
    seq = manifest["chain"]["seq"]
    assert "contradicts its signed checkpoints" in result.output
    assert f"seq {seq}" in result.output and "rewritten" in result.output
    assert _empty(target)


def _as_stored(fields: dict) -> dict:
    """The chained fields as the ORM reads them (the hash is over those values)."""
    from datetime import datetime

    ts = fields.get("ts")
    if isinstance(ts, str):
        fields["ts"] = datetime.fromisoformat(ts)
    return fields


def test_restore_refuses_another_key_a_non_backup_and_a_full_database(app, world, target,
                                                                     tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from audit.checkpoint import public_text

    archive = tmp_path / "good.backup"
    _backup(app, archive)
    other = public_text(Ed25519PrivateKey.generate().public_key())
    result = target.test_cli_runner().invoke(args=["restore", str(archive),
                                                   "--public-key", other])
    assert result.exit_code != 0 and "does not verify with the audit public key" in result.output
    assert _empty(target)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    result = target.test_cli_runner().invoke(args=["restore", str(junk)])
    assert result.exit_code != 0 and "not a backup of this system" in result.output
    result = app.test_cli_runner().invoke(args=["restore", str(archive)])  # the source itself
    assert result.exit_code != 0 and "not empty" in result.output
