"""Zstd dictionaries for the wire: one per schema version, so that the small bodies of a
daemon's everyday round (one change pushed, one pulled) compress to fewer bytes.

A small body compresses poorly on its own: zstd has not seen its keys, field names and code
values before, and spends most of a 600-byte push on spelling them out. A dictionary primes
the compressor with what every body of a schema version shares (docs/PROTOCOL.md,
"Dictionaries").

A dictionary travels to every station, so it is trained on nothing a station wrote: the
wire's own keys, the schema's field names and code values, and synthetic values in the
wire's formats (ids, clocks, dates, phone and ID-number shapes) drawn from a fixed seed. No
name, no address, no record (docs/SECURITY.md). Training is deterministic: the same schema
gives the same bytes, so the dictionary of the built-in schema version 1 shipped in the
package (`BUILTIN`) is checked against a rebuild (`python -m sync.dictionary`), and county
IT's tooling trains the one of each new version when it publishes the bundle (sync/bundle.py
`with_dictionary`), whose signature then covers it.

Pure functions of the schema, except `builtin`, which reads the shipped file.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import zstandard

from sync import clock as hlc
from sync.errors import ValidationError
from sync.protocol import PullPage, PushBatch, Result, WireChange, encode_page, encode_push, encode_results
from sync.schema import EntityDef, FieldDef, Schema

# The dictionary of schema version 1 (sync/schema.sql), shipped with the package.
BUILTIN = Path(__file__).with_name("dictionaries") / "schema-1.zdict"
# Bytes of a dictionary. Measured on a one-change round (docs/BENCHMARKS.md, issue 24): past
# this, a bigger one saved almost nothing more, and every station fetches each version's.
DICT_BYTES = 8 * 1024
MAX_DICT_BYTES = 64 * 1024  # what a bundle may carry (a county's own tooling may differ)
SEED = 24  # issue 24: every build of a version's dictionary draws the same samples
SAMPLES = 1500
# A zstd dictionary begins with these bytes and then its id, little-endian (RFC 8878, 5).
DICT_MAGIC = b"\x37\xa4\x30\xec"
# Ids below this are reserved for a registry, and from 2^31 on too (RFC 8878, 5).
MIN_ID, MAX_ID = 32_768, 2**31 - 1
# At most this many dictionaries named in one header (a station holds one per version).
MAX_NAMED = 64


@dataclass(frozen=True)
class Dictionary:
    """One schema version's dictionary, as the bytes a bundle carries."""

    version: int
    raw: bytes

    @cached_property
    def id(self) -> int:
        return dictionary_id(self.raw)

    @cached_property
    def zstd(self) -> zstandard.ZstdCompressionDict:
        return zstandard.ZstdCompressionDict(self.raw, dict_type=zstandard.DICT_TYPE_FULLDICT)


def dictionary_id(raw: bytes) -> int:
    """The id a dictionary names itself by, which every frame made with it names too; or
    ValidationError when the bytes are not a zstd dictionary a bundle may carry."""
    if not (len(raw) <= MAX_DICT_BYTES and raw[:4] == DICT_MAGIC and len(raw) > 8):
        raise ValidationError("dictionary", "zstd_dictionary", "不是有效的 zstd 字典（或超过"
                              f" {MAX_DICT_BYTES} 字节）", "is not a zstd dictionary"
                              f" (or is over {MAX_DICT_BYTES} bytes)")
    found = int.from_bytes(raw[4:8], "little")
    if not MIN_ID <= found <= MAX_ID:
        raise ValidationError("dictionary", "dictionary_id", f"字典编号应在 {MIN_ID} 到 {MAX_ID} 之间",
                              f"the dictionary id must be from {MIN_ID} to {MAX_ID}")
    return found


@cache
def builtin() -> Dictionary:
    """The dictionary of schema version 1, as shipped (immutable: read once)."""
    return Dictionary(1, BUILTIN.read_bytes())


def held(dictionaries: Iterable[Dictionary]) -> dict[int, Dictionary]:
    """By id, as `sync.protocol.decompress` looks a frame's dictionary up."""
    return {d.id: d for d in dictionaries}


def newest_common(mine: Mapping[int, Dictionary], theirs: Iterable[int]) -> Dictionary | None:
    """The dictionary of the newest schema version both sides hold: what a body to that side
    is compressed with (None: neither holds one the other does, and bodies go without)."""
    common = [mine[i] for i in set(theirs) if i in mine]
    return max(common, key=lambda d: (d.version, d.id), default=None)


# ------------------------------------------------------------------ the header


def format_ids(dictionaries: Iterable[Dictionary]) -> str:
    """A header's value: the ids, newest version first, comma-separated."""
    return ",".join(str(d.id) for d in sorted(dictionaries, key=lambda d: -d.version))


def parse_ids(text: str, header: str) -> tuple[int, ...]:
    """The ids a header names ("" names none), or ValidationError naming the header."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) > MAX_NAMED or not all(p.isdigit() and len(p) <= 10 and MIN_ID <= int(p) <= MAX_ID
                                         for p in parts):
        raise ValidationError(header, "dictionary_ids",
                              f"应为至多 {MAX_NAMED} 个以逗号分隔的字典编号（{MIN_ID}–{MAX_ID}）",
                              f"must be at most {MAX_NAMED} comma-separated dictionary ids"
                              f" ({MIN_ID}-{MAX_ID})")
    return tuple(int(p) for p in parts)


# ------------------------------------------------------------------ training


def train(schema: Schema, seed: int = SEED, size: int = DICT_BYTES) -> bytes:
    """The dictionary of `schema`'s version, trained on synthetic bodies only (`samples`).
    The same schema and seed give the same bytes (one thread, fixed parameters)."""
    bodies: list[bytes | bytearray | memoryview] = list(samples(schema, seed))
    trained = zstandard.train_dictionary(size, bodies, k=256, d=8, steps=1,
                                         threads=1, level=3)
    return bytes(trained.as_bytes())


def samples(schema: Schema, seed: int = SEED, count: int = SAMPLES) -> list[bytes]:
    """Bodies as a small round sends them — pushes of 1-10 changes, their receipts, pull
    pages — of records made of synthetic values, as the encoders write them (JSON)."""
    rng = random.Random(f"{seed}:{schema.version}")
    entities = [e for e in sorted(schema.entities.values(), key=lambda e: e.position)
                if any(not f.deprecated for f in e.fields)]
    stations = [rng.randbytes(8).hex() for _ in range(6)]
    out = []
    for i in range(count):
        changes = tuple(_change(rng, schema, rng.choice(entities), rng.choice(stations))
                        for _ in range(rng.choice((1, 1, 1, 2, 3, 5, 10))))
        kind = i % 3
        if kind == 0:
            body = encode_push(PushBatch(changes[0].station, changes))
        elif kind == 1:
            body = encode_results([Result(c.seq, rng.randrange(1, 10**6)) for c in changes])
        else:
            grids = [_grid(rng) for _ in range(rng.choice((1, 1, 2)))]
            body = encode_page(PullPage(changes, rng.randrange(1, 10**6), False, extra={
                "schema_version": schema.version, "scope": {"version": rng.randrange(3), "grids": grids}}))
        out.append(zstandard.ZstdDecompressor().decompress(body))
    return out


def _change(rng: random.Random, schema: Schema, entity: EntityDef, station: str) -> WireChange:
    live = [f for f in entity.fields if not f.deprecated]
    op = rng.choice(("add", "update", "update", "update"))
    written = live if op == "add" else rng.sample(live, min(len(live), rng.choice((1, 1, 2, 3))))
    fields = {f.name: _value(rng, schema, f) for f in written}
    stamp = _stamp(rng, station)
    base = {name: "" if op == "add" else str(_stamp(rng, rng.choice((station, _node(rng)))))
            for name in fields}
    was = {} if op == "add" else {f.name: _value(rng, schema, f) for f in written if rng.random() < 0.7}
    seen = {} if op == "add" else {station: str(_stamp(rng, station))}
    return WireChange(station, rng.randrange(1, 10**5), _uuid(rng), entity.name, op, _grid(rng),
                      fields, str(stamp), base, schema.version, was, seen, rng.randrange(3))


def _value(rng: random.Random, schema: Schema, f: FieldDef) -> Any:
    """A value of the field's type and rule, in the wire's format: nobody's data."""
    table = schema.code_tables.get(f.code_table or "")
    codes = [v.code for v in table.values if not v.deprecated] if table else []
    if f.type in ("code", "codes") and codes:
        return rng.choice(codes) if f.type == "code" else rng.sample(codes, min(len(codes), 2))
    if f.type in ("ref", "refs"):
        return _uuid(rng) if f.type == "ref" else [_uuid(rng)]
    by_rule = {"id_number": lambda: _digits(rng, 17) + rng.choice("0123456789X"),
               "credit_code": lambda: "91" + _digits(rng, 16), "mobile": lambda: "1" + _digits(rng, 10),
               "phone": lambda: "0" + _digits(rng, 10), "sha256": lambda: rng.randbytes(32).hex(),
               "grid_code": lambda: _grid(rng), "township_code": lambda: _grid(rng)[:9],
               "county_code": lambda: _grid(rng)[:6]}
    if f.rule in by_rule:
        return by_rule[f.rule]()
    by_type: dict[str, Any] = {
        "integer": lambda: rng.randint(0, 100), "number": lambda: rng.randint(0, 10_000) / 10,
        "boolean": lambda: rng.random() < 0.5,
        "date": lambda: f"{rng.randint(1940, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "datetime": lambda: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+08:00",
        "texts": lambda: [_words(rng, schema)],
    }
    return by_type.get(f.type, lambda: _words(rng, schema))()


def _words(rng: random.Random, schema: Schema) -> str:
    """Free text, made of the schema's own code labels (what a clerk's note names)."""
    labels = [v.label_zh for t in schema.code_tables.values() for v in t.values]
    return "".join(rng.sample(labels, min(len(labels), rng.choice((1, 2, 3))))) if labels else "—"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _grid(rng: random.Random) -> str:
    return _digits(rng, 12)


def _node(rng: random.Random) -> str:
    return rng.randbytes(8).hex()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4))


def _stamp(rng: random.Random, node: str) -> hlc.Stamp:
    return hlc.Stamp(1_780_000_000_000 + rng.randrange(10**10), rng.randrange(3), node)


def build_builtin(schema: Schema) -> bytes:
    """Write the shipped dictionary of schema version 1 anew; its bytes."""
    raw = train(schema)
    BUILTIN.parent.mkdir(exist_ok=True)
    BUILTIN.write_bytes(raw)
    return raw


if __name__ == "__main__":
    from sync.schema import v1_schema

    built = build_builtin(v1_schema())
    print(f"{BUILTIN}: {len(built)} bytes, id {dictionary_id(built)}")
