"""Signed checkpoints: the head of the chain anchored outside the database.

A hash chain proves nothing against someone who can rewrite all of it (re-hash every later
entry, drop the newest ones). A checkpoint is the chain head (sequence number and hash) and
the real time, signed with an Ed25519 key that is kept outside the database, and appended to
a checkpoint log that is also outside it (a file, and optionally a syslog witness). `edc
audit verify` checks the chain against every checkpoint: a consistent rewrite or a truncated
tail contradicts the checkpoint that covered it.

Checkpoints are written at intervals (every ``EDC_AUDIT_CHECKPOINT_EVERY`` entries, after the
commit that crossed the mark), at every audit PDF, casebook and export, and on `edc audit
checkpoint`. The key is a PEM file (``EDC_AUDIT_KEY_FILE``, default
``instance/audit_signing_key.pem``, created with mode 0600 on first use) or the output of a
command (``EDC_AUDIT_KEY_COMMAND``: a key store's client printing the PEM). The public key
and the latest checkpoint are printed in every PDF and export manifest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import logging.handlers
import os
import shlex
import subprocess  # noqa: S404 - runs the operator's configured key-store command
from dataclasses import asdict, dataclass
from pathlib import Path

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from audit.clock import utcnow

log = logging.getLogger("edc.audit.checkpoint")


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str  # UTC, ISO 8601 with Z
    key_id: str
    signature: str  # base64 Ed25519 over ``payload``

    def payload(self) -> bytes:
        return signed_payload(self.seq, self.hash, self.ts, self.key_id)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Checkpoint:
        return cls(int(data["seq"]), str(data["hash"]), str(data["ts"]), str(data["key_id"]),
                   str(data["signature"]))

    def line(self) -> str:
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))


def signed_payload(seq: int, head: str, ts: str, key_id: str) -> bytes:
    return rfc8785.dumps({"record": "edc audit checkpoint", "seq": str(seq), "hash": head,
                          "ts": ts, "key_id": key_id})


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    """The public key as printed on PDFs and manifests: base64 of the 32 raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Anchor:
    """Where the key and the checkpoint log are (from the app's configuration)."""

    key_file: Path
    log_file: Path
    key_command: str | None = None
    every: int = 1000
    syslog: str | None = None  # "/dev/log" or "host:port"

    @classmethod
    def from_config(cls, config) -> Anchor:
        return cls(Path(config["EDC_AUDIT_KEY_FILE"]), Path(config["EDC_AUDIT_CHECKPOINT_LOG"]),
                   config.get("EDC_AUDIT_KEY_COMMAND"),
                   int(config.get("EDC_AUDIT_CHECKPOINT_EVERY") or 1000),
                   config.get("EDC_AUDIT_WITNESS_SYSLOG"))

    # the key -------------------------------------------------------------------------
    def private_key(self) -> Ed25519PrivateKey:
        if self.key_command:
            pem = subprocess.run(shlex.split(self.key_command), check=True,  # noqa: S603
                                 capture_output=True, timeout=30).stdout
        else:
            if not self.key_file.exists():
                self._create_key()
            pem = self.key_file.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the audit signing key must be an Ed25519 private key")
        return key

    def _create_key(self) -> None:
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another worker made it first
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    # the log ------------------------------------------------------------------------
    def sign(self, seq: int, head: str) -> Checkpoint:
        key = self.private_key()
        kid = key_id(key.public_key())
        ts = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        signature = key.sign(signed_payload(seq, head, ts, kid))
        return Checkpoint(seq, head, ts, kid, base64.b64encode(signature).decode("ascii"))

    def append(self, checkpoint: Checkpoint) -> None:
        """Append to the checkpoint log (fsync'd) and send it to the witness."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(checkpoint.line() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self.syslog:
            self._witness(checkpoint)

    def _witness(self, checkpoint: Checkpoint) -> None:
        if ":" in self.syslog:
            host, port = self.syslog.rsplit(":", 1)
            address: str | tuple[str, int] = (host, int(port))
        else:
            address = self.syslog
        handler = logging.handlers.SysLogHandler(address=address)
        try:
            handler.emit(logging.makeLogRecord({"msg": "edc-audit-checkpoint "
                                                       + checkpoint.line(),
                                                "levelno": logging.INFO,
                                                "levelname": "INFO"}))
        finally:
            handler.close()

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint of the log, in the order written; an unreadable line raises."""
        if not self.log_file.exists():
            return []
        out = []
        for n, line in enumerate(self.log_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(Checkpoint.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"checkpoint log line {n} is not a checkpoint: {exc}") from None
        return out

    def latest(self) -> Checkpoint | None:
        found = self.checkpoints()
        return max(found, key=lambda c: c.seq) if found else None


def check_signature(checkpoint: Checkpoint, public: Ed25519PublicKey) -> bool:
    if checkpoint.key_id != key_id(public):
        return False
    try:
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.payload())
    except (InvalidSignature, ValueError):
        return False
    return True


def contradictions(checkpoints: list[Checkpoint], public: Ed25519PublicKey,
                   hashes: dict[int, str], head_seq: int) -> list[str]:
    """What the chain as it stands contradicts: for each checkpoint, its signature, and the
    entry it covered (``hashes``: the chain's hash at each checkpoint's sequence number)."""
    problems = []
    for cp in checkpoints:
        where = f"checkpoint of {cp.ts} (seq {cp.seq}, head {cp.hash[:16]}…)"
        if not check_signature(cp, public):
            problems.append(f"{where}: signature does not verify with the audit public key")
        elif cp.seq > head_seq:
            problems.append(f"{where}: the chain ends at seq {head_seq}; entries "
                            f"{head_seq + 1}–{cp.seq} that it covered are gone (truncated)")
        elif hashes.get(cp.seq) != cp.hash:
            problems.append(f"{where}: entry {cp.seq} has hash "
                            f"{(hashes.get(cp.seq) or '')[:16]}…; the chain up to it was "
                            "rewritten")
    return problems
