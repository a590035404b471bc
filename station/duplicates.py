"""The same person registered twice: two stations entered one ID number offline, and the sync
raised a "same person" conflict (`Writes.same_key`). Merging keeps the record with the lower
id (the earlier registration; both stations choose the same one, so two merges converge) and:

- gives it every field only the other held; where both hold different values it keeps its
  own unless the clerk takes the other's (`take`), and the values not taken stay, sealed,
  in the settled conflict (`station conflicts list --all`);
- points every record that named the other (a ref or refs field, a parent field, an
  attachment) at it;
- deletes the other (a tombstone).

All of it ordinary writes in one transaction through the write path, so it syncs: the other
station's conflict closes when the delete reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from station.store import Store
from station.writes import Writes
from sync.errors import NotFound, ValidationError
from sync.register import SAME, merge_plan, repointed
from sync.schema import EntityDef


def pair_of(conflict_id: str) -> tuple[str, str]:
    """(kept, other) ids named by a "same person" conflict's id."""
    kept, _, other = conflict_id.partition(f":{SAME}:")
    return kept, other


class Duplicates:
    def __init__(self, store: Store) -> None:
        self.store = store

    def merge(self, conflict_id: str, take: Iterable[str] = ()) -> str:
        """Merge the pair of an open "same person" conflict; the id of the record kept."""
        store = self.store
        found = store.conn.execute(
            "SELECT entity FROM conflicts WHERE id = ? AND field = ? AND resolved_at IS NULL",
            (conflict_id, SAME)).fetchone()
        if found is None:
            raise NotFound(f"没有未解决的同一人员冲突 {conflict_id}",
                           f"no open same-person conflict {conflict_id}")
        entity = store.schema.entity(found[0])
        kept, other = pair_of(conflict_id)
        chosen = list(take)
        unknown = [n for n in chosen if n not in entity.by_name]
        if unknown:
            raise ValidationError("--take", "field", f"{entity.label_zh}没有字段 {unknown[0]}",
                                  f"{entity.name} has no field {unknown[0]}")
        with store.atomic() as writes:
            kept_values = writes.txn.open_fields(writes.txn.live_row(entity, kept))
            other_values = writes.txn.open_fields(writes.txn.live_row(entity, other))
            assert entity.key_field is not None
            taken, left = merge_plan(entity.key_field.name, kept_values, other_values, chosen)
            if taken:
                writes.update(entity.name, kept, taken)
            repoint(writes, entity, other, kept)
            writes.delete(entity.name, other)  # closes this conflict (Writes.close_same)
            writes.note_resolution(conflict_id, "merged")
            writes.keep_merged(conflict_id, left)
            writes.same_key([kept])  # a third copy the other was paired with pairs with this one
        return kept


def repoint(writes: Writes, entity: EntityDef, old: str, new: str) -> int:
    """Point every live record that names `old` (of `entity`) at `new`; how many changed."""
    changed = 0
    for other in writes.schema.entities.values():
        fields = [f for f in other.fields if f.type in ("ref", "refs")
                  and f.ref_entity in (entity.name, None)]
        if not fields:
            continue
        if all(not f.sensitive for f in fields):
            # Ids are clear in these fields: only rows whose clear values hold the id are read.
            rows = writes.txn.rows("SELECT * FROM records WHERE entity = ? AND deleted = 0"
                                   " AND instr(clear, ?) > 0", other.name, old)
        else:
            rows = writes.txn.rows("SELECT * FROM records WHERE entity = ? AND deleted = 0",
                                   other.name)
        for row in rows:
            values = writes.txn.open_fields(row)
            update: dict[str, Any] = {}
            for f in fields:
                if values.get(f.name) is not None:
                    moved = repointed(values[f.name], old, new)
                    if moved != values[f.name]:
                        update[f.name] = moved
            if update:
                writes.update(other.name, row["id"], update)
                changed += 1
    return changed
