"""Per-field merge: the same pure code on the hub and on every station.

Each write of a field is a `Version`: its value, its hybrid-logical clock (unique per write,
ending with the writer's node) and its **causal context** `seen`: for every station that had
written the record, the newest clock of that station's writes the author had *received* when
it wrote (a version vector; with the version's own clock as its dot, this is a dotted version
vector as in Riak). A station receives another's writes in that station's order (its pushes
reach the hub in sequence, pulls come in the hub's order), so "received station N up to
clock c" means "received every write of N up to c". A version **supersedes** another only
when the other is in its context: its author had received it. Clock order never decides that
(it used to: an edit made offline, older than two later edits elsewhere, was taken as seen by
the second of them and vanished).

A field's state is the **frontier** of its versions: those no other version superseded.
Merging is the union of versions, then the frontier, so it is commutative, associative and
idempotent (a join-semilattice), and the result does not depend on the order changes arrive
in. The frontier's latest version (by clock, then by the clock's node for ties) is the value
everyone shows; every other frontier version with a different value was written without its
author knowing of the winner, or the winner's author without knowing of it: it stays in the
state and is a conflict for a person to settle. Settling it is a write whose context holds
exactly the versions the clerk was shown (`settle_context`), so a value that arrived after the
screen was drawn stays a conflict.

A delete is a version of the pseudo-field `_deleted` with the value true. An edit the
deleter had not received, whose author had not received the delete either, is a conflict
too: the record stays deleted, the edit stays in the state, and keeping it is a write of
`_deleted` = false.

Versions stored before contexts existed (`seen` empty) are read with `legacy_context`: the
version they named as their base and their own station's earlier writes, nothing more, so
any doubt shows up as a conflict, never as a loss.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sync.validate import CHINA_TZ

DELETED = "_deleted"

# A causal context: (node, newest clock received from that node), sorted by node. A tuple so
# versions stay hashable and compare by value.
Context = tuple[tuple[str, str], ...]
EMPTY: Context = ()


def node_of(clock: str) -> str:
    """The station that made a clock: HLC text ends with its node (`sync.clock`)."""
    return clock[clock.rfind(".") + 1:]


def covers(seen: Context, clock: str) -> bool:
    """Whether a context holds the write stamped `clock`."""
    node = node_of(clock)
    for n, newest in seen:
        if n == node:
            return newest >= clock
    return False


def join(*contexts: Iterable[tuple[str, str]]) -> Context:
    """The least context holding all of them: the newest clock per node."""
    newest: dict[str, str] = {}
    for context in contexts:
        for node, clock in context:
            if clock > newest.get(node, ""):
                newest[node] = clock
    return tuple(sorted(newest.items()))


def dot(clock: str) -> Context:
    return ((node_of(clock), clock),)


def context(mapping: Mapping[str, str] | None) -> Context:
    """A context from its JSON form ({node: clock})."""
    return tuple(sorted(mapping.items())) if mapping else EMPTY


def as_mapping(seen: Context) -> dict[str, str]:
    """A context in its JSON form."""
    return dict(seen)


def legacy_context(clock: str, base: str) -> Context:
    """What a version written before contexts existed can be shown to have seen: the version
    it named as its base (and, since stations receive each other's writes in order, that
    station's writes before it) and its own station's earlier writes."""
    # Built directly, not with `join`: every first write and every edit of one's own
    # version come through here (a tenth of a push's time at the hub when built by join).
    own = node_of(clock)
    if not base:
        return ((own, clock),)
    other = node_of(base)
    if other == own:
        return ((own, max(clock, base)),)
    return ((own, clock), (other, base)) if own < other else ((other, base), (own, clock))


# Named tuples rather than dataclasses: a pull makes one of each per field of every record,
# and a frozen dataclass's __init__ was a tenth of the merge time.
class Version(NamedTuple):
    clock: str  # HLC text; unique per write (it ends with the writer's node id)
    base: str  # clock of the version the author had seen of this field; "" for a first write
    value: str  # canonical JSON of the value (compared for equality only)
    # Canonical JSON of the value its author saw (the base version's value), so a conflict
    # can show what both sides started from; "" for a first write, or where not known.
    was: str = ""
    seen: Context = EMPTY  # what the author had received of the record when it wrote
    by: str = ""  # the clerk who wrote it, when known: shown with a conflict

    def saw(self, other: Version) -> bool:
        seen = self.seen or legacy_context(self.clock, self.base)  # a legacy version's
        return other.clock != self.clock and covers(seen, other.clock)


def upgrade(version: Version) -> Version:
    """A version with its context: one stored before contexts existed gets `legacy_context`.
    In memory a context always holds the version's own clock (so an empty one can only mean
    "stored before contexts"); on the wire and on disk the own clock is left off."""
    if version.seen:
        return version
    return version._replace(seen=legacy_context(version.clock, version.base))


def stored_seen(version: Version) -> dict[str, str]:
    """A version's context as it is sent and stored. Its own station's entry is left off
    when it is implied (the author held all its own earlier writes, as a station does, so
    its own clock stands for them: `with_seen` adds it back); it is kept when it is not, as
    for a station restored from a backup that lacks its latest writes."""
    own = node_of(version.clock)
    return {node: clock for node, clock in version.seen
            if node != own or clock != version.clock}


def derivable(clock: str, base: str, seen: Context) -> bool:
    """Whether a context is what `legacy_context` gives from the clock and base alone (a
    first write, or an edit of the author's own version): then it need not be stored."""
    if len(seen) == 1:  # the common case, checked without building the legacy context
        own = node_of(clock)
        return seen[0] == (own, clock) and (not base or (node_of(base) == own and base <= clock))
    return seen == legacy_context(clock, base)


def with_seen(clock: str, seen: Mapping[str, str]) -> Context:
    """The in-memory context of a write stamped `clock` from its sent or stored form: its
    own station's writes up to it are implied unless the form names how far it had them."""
    if node_of(clock) in seen:
        return context(seen)
    return join(context(seen), dot(clock))


def to_stored(v: Version, by: str | None = None, known: bool | None = None) -> list[object]:
    """A version as a record's stored state holds it (hub and station alike):
    [clock, base, value, was, seen, by], seen left off for a legacy version, by (the clerk,
    `v.by` unless given) left off when empty; `known`, when the caller already knows it:
    whether the context must be kept (`derivable` is false)."""
    by = v.by if by is None else by
    out: list[object] = [v.clock, v.base, v.value, v.was]
    if known is None:
        known = bool(v.seen) and not derivable(v.clock, v.base, v.seen)
    if known or by:
        # A context the clock and base imply is left off (most versions: a record's first
        # write), as for a legacy version: read back, it is the same.
        out.append(stored_seen(v) if known else None)
    if by:
        out.append(by)
    return out


StoredState = dict[str, list[list[object]]]


def state_to_stored(state: Mapping[str, FieldState]) -> StoredState:
    """A record's state as hub and stations keep it (JSON, sealed): each version as
    `to_stored`, the clerk written once per write (its first field, in name order): one change
    writes many fields, all with one clock and one clerk."""
    # Every record the hub or a station stores comes through here, most of them one write
    # of many fields: what a write's versions share (whether the context is kept, the clerk
    # named once) is decided once per write, and `to_stored` is inlined.
    named: set[str] = set()
    kept: dict[tuple[str, str, Context], list[object] | None] = {}
    out: StoredState = {}
    for name in sorted(state):
        versions = []
        for v in state[name].versions:
            clock = v.clock
            key = (clock, v.base, v.seen)
            if key in kept:
                tail = kept[key]
            else:
                known = bool(v.seen) and not derivable(clock, v.base, v.seen)
                tail = kept[key] = [stored_seen(v) if known else None] if known or v.by else None
            stored: list[object] = [clock, v.base, v.value, v.was]
            if v.by and clock not in named:
                named.add(clock)
                stored += (tail or [None]) + [v.by]
            elif tail is not None and tail[0] is not None:
                stored.append(tail[0])
            versions.append(stored)
        out[name] = versions
    return out


def state_from_stored(raw: Mapping[str, Any]) -> dict[str, FieldState]:
    """`state_to_stored`'s form (or an older one) read back, every version with its clerk."""
    # The clerk is written once per write (state_to_stored): found first, then given to each
    # version of that write as it is read, with no copies.
    by = {str(v[0]): str(v[5]) for versions in raw.values() for v in versions
          if len(v) > 5 and v[5]}
    if not by:
        return {name: FieldState(tuple(from_stored(v) for v in versions))
                for name, versions in raw.items()}
    return {name: FieldState(tuple(from_stored(v, by.get(str(v[0]), "")) for v in versions))
            for name, versions in raw.items()}


def from_stored(items: list[object] | tuple[object, ...], by: str = "") -> Version:
    """A version from `to_stored`'s form, or from the 3- and 4-item lists of releases before
    contexts (read with `legacy_context`); `by`, its clerk when the form does not name it."""
    clock, base, value = str(items[0]), str(items[1]), str(items[2])
    was = str(items[3]) if len(items) > 3 else ""
    seen = items[4] if len(items) > 4 else None
    if len(items) > 5 and items[5]:
        by = str(items[5])
    if isinstance(seen, dict):
        return Version(clock, base, value, was, with_seen(clock, seen), by)
    # Built directly rather than through `upgrade`: every record the hub merges into is read.
    return Version(clock, base, value, was, legacy_context(clock, base), by)


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


def _key(v: Version) -> tuple[str, str]:
    # Clock order, ties (equal wall time and counter at two nodes) broken by the node.
    return (v.clock, node_of(v.clock))


def frontier(versions: Iterable[Version]) -> tuple[Version, ...]:
    """The versions no other version superseded, oldest clock first. Two copies of one write
    (same clock) are one version: the one with the larger context is kept (a copy converted
    from a stored legacy version and the same write as sent are the same write)."""
    by_clock: dict[str, Version] = {}
    for v in map(upgrade, versions):
        held = by_clock.get(v.clock)
        if held is None or (held != v and _bigger(v, held)):
            by_clock[v.clock] = v
    unique = list(by_clock.values())
    return tuple(sorted((v for v in unique if not any(o.saw(v) for o in unique)), key=_key))


def _bigger(a: Version, b: Version) -> bool:
    # A total order on the copies of one write, so every place keeps the same one.
    return (len(a.seen), a.seen, a.value, a.was, a.base) > (len(b.seen), b.seen, b.value, b.was, b.base)


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


def record_context(state: RecordState) -> Context:
    """Everything a place holds of a record: the context of a write made there now. Versions
    dropped from the frontier are inside the context of the version that superseded them,
    so the frontier alone is enough."""
    return join(*(upgrade(v).seen for s in state.values() for v in s.versions),
                *(dot(v.clock) for s in state.values() for v in s.versions))


def settle_context(state: RecordState, field: str, shown: Iterable[Version]) -> Context:
    """The context of a clerk's choice in a conflict of `field`: exactly the versions she was
    shown (and what they had seen), plus the record's delete history, so a value of the
    field that arrived after the screen was drawn is not superseded unseen."""
    deletes = {DELETED: state[DELETED]} if DELETED in state and field != DELETED else {}
    shown = list(shown)
    return join(record_context(deletes), *(upgrade(v).seen for v in shown),
                *(dot(v.clock) for v in shown))


# Made once: json.dumps builds a new encoder on every call with these options.
_canonical = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def canonical(value: object) -> str:
    """The text a value is compared by: canonical JSON."""
    return _canonical(value)


def change_versions(op: str, fields: Mapping[str, object], clock: str, base: Mapping[str, str],
                    was: Mapping[str, object] | None = None,
                    seen: Context | None = None, by: str = "") -> list[tuple[str, Version]]:
    """The field versions one change writes: a delete writes `_deleted` true, an undelete
    (keeping an edit the delete had missed) writes it false. `was` holds the values the
    author saw of the fields it changed; `seen` is the change's causal context (None for a
    change sent before contexts existed: each version then gets `legacy_context`)."""
    legacy: dict[str, Context] = {}  # one per distinct base: a change's fields mostly share one
    own = node_of(clock)
    exact = None if seen is None else (seen if any(n == own for n, _ in seen) else join(seen, dot(clock)))
    if exact is None and not base:  # a first write (most of an initial push): one context
        exact = ((own, clock),)

    def ctx(name: str) -> Context:
        if exact is not None:
            return exact
        b = base.get(name, "")
        if b not in legacy:
            legacy[b] = legacy_context(clock, b)
        return legacy[b]

    if op in ("delete", "undelete"):
        return [(DELETED, Version(clock, base.get(DELETED, ""), "true" if op == "delete" else "false",
                                  "", ctx(DELETED), by))]
    was = was or {}
    if exact is not None and not was and not base:
        return [(name, Version(clock, "", canonical(value), "", exact, by))
                for name, value in sorted(fields.items())]
    return [(name, Version(clock, base.get(name, ""), canonical(value),
                           canonical(was[name]) if name in was else "", ctx(name), by))
            for name, value in sorted(fields.items())]


def written_at(clock: str) -> str:
    """When a version was written, in Beijing time to the second (its clock's wall time)."""
    wall_ms = int(clock[: clock.find(".")])
    return datetime.fromtimestamp(wall_ms / 1000, CHINA_TZ).isoformat(timespec="seconds")


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


def concurrent(a: Version, b: Version) -> bool:
    """Neither author had received the other's write."""
    return not a.saw(b) and not b.saw(a)


def conflicts(state: RecordState) -> list[Conflict]:
    """Every open conflict of a record: concurrent field values, and edits its delete missed."""
    deleted = is_deleted(state)
    found = [Conflict(name, s.winner, s.losers) for name, s in sorted(state.items())
             if s.conflicted and not (deleted and name == DELETED)]
    if deleted:
        # One conflict per deleted record: an undelete the delete had not received and the
        # edits it missed are all sides of it (they share its id on every station).
        delete = state[DELETED].winner
        missed = sorted([*((v, DELETED) for v in state[DELETED].losers),
                         *((v, name) for name, s in state.items() if name != DELETED
                           for v in s.versions if concurrent(delete, v))])
        if missed:
            found.append(Conflict(DELETED, delete, tuple(v for v, _ in missed),
                                  tuple(name for _, name in missed)))
    return found
