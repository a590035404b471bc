"""Per-field merge: the same pure code on the hub and on every station.

Each write of a field is a `Version`: its value, its hybrid-logical clock and its `base`, the
clock of the version its author had last seen of that field ("" when none). A version *saw*
another when its base is at or after the other's clock. A field's state is the **frontier** of
all its versions: those no other version saw. Merging is the union of versions, then the
frontier, so it is commutative, associative and idempotent (a join-semilattice), and the
result does not depend on the order changes arrive in.

The frontier's latest version (by clock, then by the clock's node for ties) is the value
everyone shows. Any other frontier version with a different value was written concurrently
and lost: it stays in the state, and is a conflict for a person to settle. Settling it is an
ordinary write whose base is the latest clock of the frontier: it saw every version there, so
the frontier collapses to it, everywhere it syncs to. Nothing is silently dropped.

A delete is a version of the pseudo-field `_deleted` with the value true. An edit that the
deleter had not seen (its clock after the delete's base) is a conflict too: the record stays
deleted, the edit stays in the state, and keeping it is a write of `_deleted` = false.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

DELETED = "_deleted"


# Named tuples rather than dataclasses: a pull makes one of each per field of every record,
# and a frozen dataclass's __init__ was a tenth of the merge time.
class Version(NamedTuple):
    clock: str  # HLC text; unique per write (it ends with the writer's node id)
    base: str  # clock of the version the author had seen; "" for a first write
    value: str  # canonical JSON of the value (compared for equality only)
    # Canonical JSON of the value its author saw (the base version's value), so a conflict
    # can show what both sides started from; "" for a first write, or where not known.
    was: str = ""

    def saw(self, other: Version) -> bool:
        return self is not other and self.base >= other.clock


class FieldState(NamedTuple):
    versions: tuple[Version, ...]  # the frontier, oldest clock first

    @property
    def winner(self) -> Version:
        return self.versions[-1]

    @property
    def losers(self) -> tuple[Version, ...]:
        """Concurrent versions that lost and differ from the winner: the conflict, if any."""
        return tuple(v for v in self.versions[:-1] if v.value != self.winner.value)

    @property
    def conflicted(self) -> bool:
        return bool(self.losers)


def frontier(versions: Iterable[Version]) -> tuple[Version, ...]:
    """The versions that no other version saw, oldest clock first."""
    unique = set(versions)
    return tuple(sorted(v for v in unique if not any(o.base >= v.clock for o in unique if o != v)))


def field_state(versions: Iterable[Version]) -> FieldState:
    front = frontier(versions)
    if not front:
        raise ValueError("a field state needs at least one version")
    return FieldState(front)


def merge_field(a: FieldState | None, b: FieldState | None) -> FieldState:
    if a is None or b is None:
        state = a or b
        if state is None:
            raise ValueError("nothing to merge")
        return state
    return field_state(a.versions + b.versions)


RecordState = Mapping[str, FieldState]


def merge_record(a: RecordState, b: RecordState) -> dict[str, FieldState]:
    """Field by field; a field only one side has is taken as it is."""
    return {name: merge_field(a.get(name), b.get(name)) for name in sorted({*a, *b})}


def apply(state: RecordState, field: str, version: Version) -> dict[str, FieldState]:
    """The state after one more version of one field (a pulled or pushed change)."""
    return apply_all(state, [(field, version)])


def apply_all(state: RecordState, versions: Iterable[tuple[str, Version]]) -> dict[str, FieldState]:
    """The state after the versions one change writes: `apply` for each, touching only the
    fields they name (sync applies thousands per page; rebuilding every field each time
    was a third of the merge time)."""
    out = dict(state)
    for name, version in versions:
        old = out.get(name)
        out[name] = FieldState((version,)) if old is None else field_state((*old.versions, version))
    return out


# Made once: json.dumps builds a new encoder on every call with these options.
_canonical = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def canonical(value: object) -> str:
    """The text a value is compared by: canonical JSON."""
    return _canonical(value)


def change_versions(op: str, fields: Mapping[str, object], clock: str, base: Mapping[str, str],
                    was: Mapping[str, object] | None = None) -> list[tuple[str, Version]]:
    """The field versions one change writes: a delete writes `_deleted` true, an undelete
    (keeping an edit the delete had missed) writes it false. `was` holds the values the
    author saw of the fields it changed."""
    if op in ("delete", "undelete"):
        return [(DELETED, Version(clock, base.get(DELETED, ""), "true" if op == "delete" else "false"))]
    was = was or {}
    return [(name, Version(clock, base.get(name, ""), canonical(value),
                           canonical(was[name]) if name in was else ""))
            for name, value in sorted(fields.items())]


def is_deleted(state: RecordState) -> bool:
    deleted = state.get(DELETED)
    return deleted is not None and deleted.winner.value == "true"


def values(state: RecordState) -> dict[str, str]:
    """The winning value of every field (canonical JSON), without the pseudo-fields."""
    return {name: s.winner.value for name, s in state.items() if not name.startswith("_")}


@dataclass(frozen=True)
class Conflict:
    field: str
    winner: Version
    losers: tuple[Version, ...]
    # For a delete conflict, the field each missed edit wrote (losers come from many fields).
    loser_fields: tuple[str, ...] = ()

    @property
    def base(self) -> str | None:
        """The value every side started from (canonical JSON): known when they all edited
        the same version and its value came with them; None otherwise."""
        started = {(v.base, v.was) for v in (self.winner, *self.losers)}
        if len(started) != 1:
            return None
        return started.pop()[1] or None


def conflicts(state: RecordState) -> list[Conflict]:
    """Every open conflict of a record: concurrent field values, and edits its delete missed."""
    found = [Conflict(name, s.winner, s.losers) for name, s in sorted(state.items()) if s.conflicted]
    if is_deleted(state):
        delete = state[DELETED].winner
        # The deleter had not seen it (its clock is after the delete's base), and its writer
        # had not seen the delete (its base is before the delete's clock).
        missed = sorted((v, name) for name, s in state.items() if name != DELETED
                        for v in s.versions if delete.base < v.clock and v.base < delete.clock)
        if missed:
            found.append(Conflict(DELETED, delete, tuple(v for v, _ in missed),
                                  tuple(name for _, name in missed)))
    return found
