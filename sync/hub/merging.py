"""County IT merges the same person (organisation) registered twice (`county merge KEPT OTHER`).

A station merges a pair it holds both of (`station conflicts merge`); a pair registered in two
townships reaches no station whole (pulls are scoped), so only the county can merge it. The
merge is the station's, written by the county: the record with the lower id is kept (the
earlier registration; a station merging the same pair at once makes the same choice, so both
converge); it takes every field only the other held (and those named in `take`); every record
that named the other (a ref or refs field, a parent field, an attachment) is pointed at it;
the other is deleted. These are ordinary changes, authored under the clock node `county` and
stored through the hub's push path, so every station holding one of the records pulls them and
closes its "same person" conflict when the delete arrives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sync import clock as hlc
from sync import merge
from sync.errors import NotFound, ValidationError
from sync.hub.storage import StationRow
from sync.protocol import PushBatch, WireChange
from sync.register import merge_plan, repointed, same_key_groups, survivor
from sync.schema import EntityDef

if TYPE_CHECKING:
    from sync.hub.rules import Hub

# The node of every clock county IT's own writes carry, and the "station" they are stored
# under. Station ids are made of hex digits (`station init`), so none is this one.
COUNTY_NODE = "county"
COUNTY_AUTHOR = "县级平台"
# The county writes anywhere: an empty township prefix covers every grid.
_COUNTY = StationRow(COUNTY_NODE, "", (), "", None)


def merge_pair(hub: Hub, first: str, second: str, take: Iterable[str] = (),
               by: str = COUNTY_AUTHOR) -> str:
    """Merge two live records holding one ID number (credit code); the id of the one kept."""
    kept, other = survivor(first, second)
    if kept == other:
        raise ValidationError("record", "same_record", "要合并的是同一条记录",
                              "those are one record, not two")
    with hub.storage.transaction() as tx:
        found = tx.records_by_id([kept, other])
        last = tx.own_last_seq(COUNTY_NODE)
    states = {rid: hub._state_from(rid, found.get(rid)) for rid in (kept, other)}
    entity = _keyed_pair(hub, kept, other, found, states)
    chosen = list(take)
    unknown = [n for n in chosen if n not in entity.by_name]
    if unknown:
        raise ValidationError("--take", "field", f"{entity.label_zh}没有字段 {unknown[0]}",
                              f"{entity.name} has no field {unknown[0]}")
    assert entity.key_field is not None
    taken, _left = merge_plan(entity.key_field.name, _values(states[kept]),
                              _values(states[other]), chosen)
    writes: list[tuple[str, str, str | None, dict[str, Any], dict[str, merge.FieldState]]] = []
    if taken:
        writes.append((kept, entity.name, found[kept][1], taken, states[kept]))
    for rid, name, grid, update, state in _naming(hub, entity, other, kept):
        writes.append((rid, name, grid, update, state))
    writes.append((other, entity.name, found[other][1], {}, states[other]))
    changes = _changes(hub, writes, first_seq=last + 1, by=by)
    results = hub.push(_COUNTY, PushBatch(COUNTY_NODE, tuple(changes)))
    refused = [r for r in results if r.rejected]
    if refused:
        raise ValidationError("merge", "refused", f"县级平台拒绝了合并：{refused[0].rejected}",
                              f"the hub refused the merge: {refused[0].rejected}")
    if not merge.is_deleted(hub.state(other)):
        # Another merge took the same sequence numbers at the same moment: ours was read as
        # its resend. Nothing of ours is stored; county IT runs it again.
        raise ValidationError("merge", "busy", "另一合并同时进行，请重试",
                              "another merge ran at the same moment: try again")
    return kept


def _keyed_pair(hub: Hub, kept: str, other: str, found: Mapping[str, tuple[Any, ...]],
                states: Mapping[str, dict[str, merge.FieldState]]) -> EntityDef:
    """The entity of two live records that hold one key; refused, saying why, otherwise."""
    for rid in (kept, other):
        if rid not in found or merge.is_deleted(states[rid]):
            raise NotFound(f"县级平台没有在用的记录 {rid}", f"the hub holds no live record {rid}")
    if found[kept][0] != found[other][0]:
        raise ValidationError("record", "same_key", "两条记录不是同一类",
                              "the two records are not of one entity")
    entity = hub.schema.entity(str(found[kept][0]))
    pair = [(rid, entity, _values(states[rid])) for rid in (kept, other)]
    if entity.key_field is None or not same_key_groups(pair):
        raise ValidationError("record", "same_key", "两条记录的身份证号（信用代码）不同，不是重复登记",
                              "the two records do not hold one ID number (credit code)")
    return entity


def _values(state: Mapping[str, merge.FieldState]) -> dict[str, Any]:
    return {name: json.loads(value) for name, value in merge.values(state).items()}


def _naming(hub: Hub, entity: EntityDef, old: str, new: str
            ) -> list[tuple[str, str, str | None, dict[str, Any], dict[str, merge.FieldState]]]:
    """Every live record naming `old` in a ref or refs field: its id, entity, grid, the
    fields pointed at `new`, and its state."""
    out = []
    for other in hub.schema.entities.values():
        fields = [f.name for f in other.fields if f.type in ("ref", "refs")
                  and f.ref_entity in (entity.name, None)]
        if not fields:
            continue
        with hub.storage.transaction() as tx:
            rows = list(tx.records(other.name))
        for rid, name, grid, sealed, deleted in rows:
            if deleted:
                continue
            state = hub._state_from(rid, (name, grid, sealed))
            values = _values(state)
            update = {f: repointed(values[f], old, new) for f in fields
                      if values.get(f) is not None and repointed(values[f], old, new) != values[f]}
            if update and not merge.is_deleted(state):
                out.append((rid, name, grid, update, state))
    return out


def _changes(hub: Hub, writes: list[tuple[str, str, str | None, dict[str, Any],
                                          dict[str, merge.FieldState]]],
             first_seq: int, by: str) -> list[WireChange]:
    """The writes as changes of the county: an update of the fields given (a delete when
    none), each with what the hub holds of its record as its context, and clocks after every
    version they supersede."""
    newest = max(hlc.parse(v.clock) for *_, state in writes for s in state.values()
                 for v in s.versions)
    wall = max(hub.clock.wall_ms(), newest.wall_ms)
    counter = newest.counter + 1 if wall == newest.wall_ms else 0
    out = []
    for n, (rid, entity, grid, update, state) in enumerate(writes):
        stamp = str(hlc.Stamp(wall, counter + n, COUNTY_NODE))
        seen = merge.as_mapping(merge.record_context(state))
        if update:
            base = {k: state[k].winner.clock for k in update if k in state}
            was = {k: json.loads(state[k].winner.value) for k in update if k in state}
            out.append(WireChange(COUNTY_NODE, first_seq + n, rid, entity, "update", grid, update,
                                  stamp, base, hub.schema.version, was, seen, by=by))
        else:
            newest_here = max(v.clock for s in state.values() for v in s.versions)
            out.append(WireChange(COUNTY_NODE, first_seq + n, rid, entity, "delete", grid, {},
                                  stamp, {merge.DELETED: newest_here}, hub.schema.version,
                                  seen=seen, by=by))
    return out
