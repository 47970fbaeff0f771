"""The canonical form the chain hashes (RFC 8785) and the hash itself."""

from __future__ import annotations

import hashlib
from datetime import datetime

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit.chain import GENESIS, canonical_bytes, canonical_json, entry_hash

keys = st.text(st.characters(max_codepoint=127), min_size=1, max_size=12)
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.dictionaries(keys, values, max_size=25))
def test_fast_canonical_json_is_byte_identical_to_rfc8785(obj):
    assert canonical_json(obj) == rfc8785.dumps(obj)


@given(st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                               max_size=6), values, max_size=6))
def test_non_ascii_keys_fall_back_to_the_reference_encoder(obj):
    assert canonical_json(obj) == rfc8785.dumps(obj)


def test_control_characters_and_unicode_are_encoded_as_rfc8785_says():
    obj = {"b": "tab\there \"quoted\" \\ \u0001 \u007f 血红蛋白 😀", "a": "x"}
    assert canonical_json(obj) == (
        '{"a":"x","b":"tab\\there \\"quoted\\" \\\\ \\u0001 \u007f 血红蛋白 😀"}'.encode())


def test_nulls_are_left_out_and_times_are_utc_iso():
    fields = {"seq": 3, "ts": datetime(2026, 11, 24, 8, 0, 0, 5), "reason": None}
    assert canonical_bytes(fields) == b'{"seq":"3","ts":"2026-11-24T08:00:00.000005Z"}'


def test_entry_hash_is_sha256_of_previous_hash_and_canonical_bytes():
    fields = {"seq": 1, "action": "auth.login"}
    expected = hashlib.sha256(GENESIS.encode() + b'{"action":"auth.login","seq":"1"}')
    assert entry_hash(GENESIS, fields) == expected.hexdigest()


_names = ("seq", "ts", "action", "user_id", "new_value", "reason", "details")
_value = st.one_of(st.none(), values, st.integers(-(2**63), 2**63 - 1),
                   st.datetimes(min_value=datetime(1, 1, 1)))


@given(st.tuples(*[_value] * len(_names)), st.sampled_from([GENESIS, "ab" * 32]))
def test_the_verifier_s_row_hasher_is_entry_hash(row, prev):
    """`edc audit verify` hashes rows with RowHasher: it must be entry_hash, byte for byte."""
    from audit.chain import RowHasher
    from audit.models import AuditEntry

    assert RowHasher(_names)(prev, row) == entry_hash(prev, dict(zip(_names, row, strict=True)))
    full = RowHasher(AuditEntry.CHAINED)
    sample = tuple(f"v{i} é\n\"" for i in range(len(AuditEntry.CHAINED)))
    assert full(prev, sample) == entry_hash(prev, dict(zip(AuditEntry.CHAINED, sample,
                                                           strict=True)))
