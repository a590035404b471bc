"""Searching the store the way clerks search (station/search_forms.py says how a term is read
and how results rank): the buckets a term can fall in are read from the blind indexes, and
each candidate's field is opened and compared, so only true matches come back.

Candidates come in record id order within each rank (the index's own order), so a search
that matches thousands (a common surname) stops after `limit` + 1 matches: it opens the
candidates of those and no more.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from station import search_forms
from station.blind_index import BlindIndex
from station.search_forms import Probe
from station.transaction import fetch_row
from sync.errors import ValidationError
from sync.schema import EntityDef, FieldDef
from sync.seal import Sealer, field_ad
from sync.validate import normalise_for_index

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Match:
    """One record found: which of its fields matched, how (`by`: whole, surname, initials,
    last6, last4) and its rank (search_forms.RANKS)."""

    record: dict[str, Any]
    field: str
    by: str
    rank: int


@dataclass(frozen=True)
class Found:
    """The matches, best first; `more`: more records matched than the limit let through."""

    matches: list[Match]
    more: bool


@dataclass(frozen=True)
class _Source:
    entity: EntityDef
    field: FieldDef
    probe: Probe


def find(conn: sqlite3.Connection, sealer: Sealer, index: BlindIndex,
         entities: list[EntityDef], term: str, limit: int,
         present: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Found:
    """The records of `entities` that `term` matches, ranked, at most `limit`."""
    sources = [_Source(e, f, p) for e in entities for f in e.indexed_fields
               for p in search_forms.probes(e, f, term)]
    chosen: dict[str, tuple[str, str, int]] = {}  # record id -> (field, by, rank)
    more = False
    for rank, group in groupby(sorted(sources, key=lambda s: s.probe.rank),
                               key=lambda s: s.probe.rank):
        streams = [_matching(conn, sealer, index, s) for s in group]
        for record_id, source in heapq.merge(*streams, key=lambda m: m[0]):
            if record_id in chosen:
                continue  # matched already, at a better rank or through another field
            if len(chosen) == limit:
                more = True
                break
            chosen[record_id] = (source.field.name, source.probe.by, rank)
        if more:
            break
    matches = []
    for record_id, (name, by, rank) in chosen.items():
        row = fetch_row(conn, record_id)
        if row is not None:
            matches.append(Match(present(row), name, by, rank))
    return Found(matches, more)


def _matching(conn: sqlite3.Connection, sealer: Sealer, index: BlindIndex,
              source: _Source) -> Iterator[tuple[str, _Source]]:
    """(record id, source) of each candidate in the probe's buckets whose field truly
    matches, in record id order; only that one field of each candidate is opened."""
    entity, f, probe = source.entity, source.field, source.probe
    key = f"{entity.name}.{f.name}" + (f"#{probe.form}" if probe.form else "")
    bits = search_forms.DERIVED_BITS[probe.form] if probe.form else None
    buckets = sorted(set().union(*(index.buckets(key, k, bits) for k in probe.keys)))
    path = f'$."{f.name}"'
    marks = ", ".join("?" * len(buckets))
    kind = search_forms.field_kind(entity, f)
    cursor = conn.execute(
        "SELECT r.id, json_extract(r.sealed, ?), json_extract(r.clear, ?)"
        " FROM blind_index b JOIN records r ON r.id = b.record_id"
        f" WHERE b.field = ? AND b.bucket IN ({marks}) AND r.deleted = 0"
        " ORDER BY b.record_id", (path, path, key, *buckets))
    for record_id, sealed, clear in cursor:
        value = sealer.open_value(sealed, field_ad(record_id, entity.name, f.name)) \
            if sealed is not None else clear
        try:
            stored = normalise_for_index(f, value)
        except ValidationError:
            continue  # a value no longer of this field's shape cannot match
        if probe.wanted in search_forms.form_values(kind, probe.by, stored):
            yield record_id, source
