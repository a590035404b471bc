"""The wire format: round trips, and malformed bodies refused with the place and the rule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import zstandard

from sync.errors import ValidationError
from sync.protocol import (
    MAX_CHANGES,
    Entering,
    PullPage,
    PushBatch,
    Result,
    WireChange,
    compress,
    decode_page,
    decode_push,
    decode_results,
    encode_page,
    encode_push,
    encode_results,
)

CHANGE = WireChange(station="a1b2", seq=7, record="01a224be-898f-709d-9d8d-22528afa74a2",
                    entity="person", op="update", grid="440524001001",
                    fields={"name": "李四", "phone": None}, hlc="001795752000000.000000.a1b2",
                    base={"name": "001795751000000.000000.a1b2"}, schema_version=1)


def test_push_results_and_pages_round_trip() -> None:
    batch = PushBatch("a1b2", (CHANGE, replace(CHANGE, seq=8, op="delete", fields={}),
                               replace(CHANGE, seq=9, was={"name": "李三"})))
    assert decode_push(encode_push(batch)) == batch
    results = [Result(7, receipt=101), Result(8, rejected="字段 phone：不是有效的电话号码")]
    assert decode_results(encode_results(results)) == results
    page = PullPage((CHANGE,), cursor=101, more=True, extra={"schema_version": 1})
    assert decode_page(encode_page(page)) == page
    entering = Entering("person", "440524001001", {"name": [[CHANGE.hlc, "", '"李四"', ""]]})
    page = PullPage((CHANGE,), cursor=102, more=False, entering={CHANGE.record: entering})
    assert decode_page(encode_page(page)) == page


def test_a_reply_already_decoded_on_the_way_reads_the_same() -> None:
    # An HTTP library that decodes `Content-Encoding: zstd` itself (a protocol-1 hub's framing)
    # hands over the JSON: replies read the same either way; requests stay zstd only.
    results = [Result(7, receipt=101), Result(8, rejected="字段 phone：不是有效的电话号码")]
    plain = zstandard.ZstdDecompressor().decompress(encode_results(results))
    assert plain.startswith(b"{") and decode_results(plain) == results
    page = PullPage((CHANGE,), cursor=101, more=True, extra={"schema_version": 1})
    assert decode_page(zstandard.ZstdDecompressor().decompress(encode_page(page))) == page
    with pytest.raises(ValidationError) as err:
        decode_push(zstandard.ZstdDecompressor().decompress(encode_push(PushBatch("a1b2", (CHANGE,)))))
    assert err.value.rule == "zstd"


@pytest.mark.parametrize(("body", "rule"), [
    (b"not json, not zstd", "json"),
    (b'{"results": [' + b'{"seq": 1},' * 500_000 + b"]}", "max_bytes"),
    (b"\x28\xb5\x2f\xfd garbage", "zstd"),
])
def test_a_reply_neither_json_nor_zstd_or_too_large_is_refused(body: bytes, rule: str) -> None:
    with pytest.raises(ValidationError) as err:
        decode_results(body)
    assert (err.value.field, err.value.rule) == ("body", rule)


@pytest.mark.parametrize("entering", [
    [], {"r": {"entity": "person", "grid": None, "state": {"name": []}}},
    {"r": {"entity": "person", "grid": None, "state": {"name": [["a", "b"]]}}},
    {"r": {"entity": 5, "grid": None, "state": {}}},
])
def test_a_malformed_entering_state_is_refused(entering: Any) -> None:
    with pytest.raises(ValidationError) as err:
        decode_page(compress({"changes": [], "cursor": 1, "more": False, "entering": entering}))
    assert err.value.field.startswith("entering")


def test_previous_values_must_belong_to_changed_fields() -> None:
    with pytest.raises(ValidationError) as err:
        decode_push(bad({**GOOD, "fields": {"name": "李四"}, "was": {"phone": "1"}}))
    assert err.value.field == "changes[0].was"


def bad(change: dict[str, Any]) -> bytes:
    return compress({"station": "a1b2", "changes": [change]})


GOOD = {"station": "a1b2", "seq": 7, "record": CHANGE.record, "entity": "person", "op": "add",
        "grid": None, "fields": {}, "hlc": CHANGE.hlc, "base": {}, "schema_version": 1}


@pytest.mark.parametrize(("override", "where"), [
    ({"seq": 0}, "changes[0].seq"),
    ({"seq": True}, "changes[0].seq"),
    ({"record": "not-an-id"}, "changes[0].record"),
    ({"entity": "Person; DROP"}, "changes[0].entity"),
    ({"op": "merge"}, "changes[0].op"),
    ({"fields": {"Bad Name": 1}}, "changes[0].fields"),
    ({"hlc": "yesterday"}, "changes[0].hlc"),
    ({"base": {"name": "x"}}, "changes[0].base"),
    ({"schema_version": 0}, "changes[0].schema_version"),
])
def test_a_malformed_change_names_its_place_and_rule(override: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as err:
        decode_push(bad({**GOOD, **override}))
    assert err.value.field == where and err.value.rule == "shape"


def test_garbage_bombs_and_oversized_batches_are_refused() -> None:
    with pytest.raises(ValidationError, match="zstd"):
        decode_push(b"not zstd at all")
    bomb = zstandard.ZstdCompressor().compress(b"[" + b" " * (8 * 1024 * 1024) + b"]")
    with pytest.raises(ValidationError, match="zstd"):
        decode_push(bomb)
    with pytest.raises(ValidationError, match="JSON"):
        decode_push(zstandard.ZstdCompressor().compress(b"{nope"))
    with pytest.raises(ValidationError) as err:
        decode_push(compress({"station": "a1b2", "changes": [GOOD] * (MAX_CHANGES + 1)}))
    assert err.value.rule == "max_changes"


def test_bodies_compress_correctly_from_many_threads_at_once() -> None:
    """A hub thread pool or 500 simulated stations compress at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    from sync.protocol import compress, decompress

    def round_trip(n: int) -> bool:
        value = {"n": n, "text": "村道路灯不亮" * (n % 50 + 1)}
        return all(decompress(compress(value)) == value for _ in range(200))

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert all(pool.map(round_trip, range(64)))


def test_a_rounds_audit_entries_travel_whole_and_a_bad_one_is_refused_by_field() -> None:
    from sync.audit_chain import following, to_wire
    from sync.protocol import MAX_AUDIT, RoundAsk, compress, decode_round, encode_round

    first = following(None, "2026-12-08T00:00:00Z", "张三", "clerk", "unlock", detail={"via": "pin"})
    second = following(first, "2026-12-08T00:00:01Z", "张三", "clerk", "delete", "person/r1")
    ask = RoundAsk(1, None, 0, 100, audit=(first, second))
    assert decode_round(encode_round(ask)).audit == (first, second)
    base = {"schema": 1, "cursor": 0, "limit": 100}
    for entry, field in (({**to_wire(first), "seq": 0}, "audit[0].seq"),
                         ({**to_wire(first), "action": "drop_table"}, "audit[0].action"),
                         ({**to_wire(first), "hash": 7}, "audit[0].hash"),
                         ("not an entry", "audit[0].entry")):
        with pytest.raises(ValidationError) as refused:
            decode_round(compress({**base, "audit": [entry]}))
        assert refused.value.field == field
    with pytest.raises(ValidationError) as refused:
        decode_round(compress({**base, "audit": [to_wire(first)] * (MAX_AUDIT + 1)}))
    assert refused.value.field == "audit"
