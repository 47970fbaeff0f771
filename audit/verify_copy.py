"""Check an electronic copy of the audit trail without the database or the application.

    python -m audit.verify_copy FILE [--head HASH]

FILE is a copy written by `edc audit copy` (JSON Lines): a first line describing the copy
(study, scope, the chain head it covers, the latest signed checkpoint and the public key),
then one line per entry carrying every hashed field as it was hashed and the previous hash.
Each entry's hash is recomputed — SHA-256 over the previous hash and the RFC 8785 canonical
JSON of the entry's non-null fields, every value a string — and consecutive entries must
link. For a copy of the whole trail the last hash must equal the head printed on the copy
(or the one given with ``--head``, e.g. read from a PDF or a checkpoint).

Standard library only, so that an inspector can run it anywhere. It does not check the
Ed25519 signature of the checkpoint (the standard library has no Ed25519); `edc audit
verify` does, on the live database.
Exit 0 when the copy is intact; 1 naming the first entry that is not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

GENESIS = "0" * 64


def canonical(fields: dict) -> bytes:
    """RFC 8785 for an object of ASCII keys and string values: sorted keys, no spaces, no
    ASCII escaping — exactly what the standard library's encoder writes for it."""
    if not all(isinstance(k, str) and k.isascii() for k in fields) or \
            not all(isinstance(v, str) for v in fields.values()):
        raise ValueError("every field of an entry must be a string with an ASCII name")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def entry_hash(prev: str, fields: dict) -> str:
    return hashlib.sha256(prev.encode("ascii") + canonical(fields)).hexdigest()


def check(lines, head: str | None = None) -> tuple[bool, str]:
    """(intact, what was found) for the lines of a copy."""
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError):
        return False, "the first line is not the copy's description"
    if header.get("record") != "edc audit trail copy":
        return False, "this is not a copy written by `edc audit copy`"
    expected_head = head or (header.get("head_hash") if header.get("whole_trail") else None)
    previous: dict | None = None
    count = withheld = 0
    for n, line in enumerate(lines, 2):
        try:
            entry = json.loads(line)
            fields, prev, digest = entry["fields"], entry["prev_hash"], entry["hash"]
            seq = int(fields["seq"])
        except (ValueError, KeyError, TypeError):
            return False, f"line {n} is not an entry"
        if previous is not None and seq == previous["seq"] + 1 and prev != previous["hash"]:
            return False, f"entry {seq}: its previous hash does not link to entry {seq - 1}"
        if header.get("whole_trail") and seq != (previous["seq"] + 1 if previous else 1):
            return False, f"entry {seq}: the whole trail should continue at " \
                          f"{previous['seq'] + 1 if previous else 1}"
        if entry.get("withheld"):
            withheld += 1  # identifying values left out: only its links can be checked
        else:
            try:
                recomputed = entry_hash(prev, fields)
            except ValueError as exc:
                return False, f"entry {seq}: {exc}"
            if recomputed != digest:
                return False, f"entry {seq}: its content does not match its hash"
        previous = {"seq": seq, "hash": digest}
        count += 1
    if count != header.get("entries"):
        return False, f"the copy says {header.get('entries')} entries, it holds {count}"
    if expected_head is not None and (previous["hash"] if previous else GENESIS) != \
            expected_head:
        return False, f"the last entry's hash is not the head {expected_head}"
    return True, (f"copy intact: {count} entries, each matching its hash"
                  + (f" ({withheld} with identifying values withheld: links checked only)"
                     if withheld else "")
                  + (f", ending at the head {expected_head}" if expected_head else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verify_copy",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--head", help="the chain head hash the copy must end at")
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as fh:
            ok, message = check(iter(fh), args.head)
    except (OSError, UnicodeDecodeError) as exc:
        ok, message = False, f"cannot read {args.file}: {exc}"
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
