"""Conflicts: concurrent edits a person settles. Listing opens the sealed values; settling is
an ordinary update whose base is the newest clock of the conflict, so it saw every version,
closes the conflict here, and closes it everywhere it syncs to."""

from __future__ import annotations

import json
from typing import Any

from station.store import Store
from sync import clock as hlc
from sync.errors import NotFound, ValidationError
from sync.merge import DELETED


class Conflicts:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _version(self, clock: str, value: str) -> dict[str, Any]:
        node = hlc.parse(clock).node
        return {"value": json.loads(value), "clock": clock, "here": node == self.store.station_id}

    def list(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        sealer, _ = self.store._require_sealer()
        sql = "SELECT id, record_id, entity, field, sealed, resolved_at, resolution FROM conflicts"
        if not include_resolved:
            sql += " WHERE resolved_at IS NULL"
        out = []
        for cid, record, entity, field, sealed, resolved_at, resolution in self.store.conn.execute(
                sql + " ORDER BY created_at, id"):
            body = sealer.open_value(sealed, cid.encode())
            out.append({"id": cid, "record": record, "entity": entity, "field": field,
                        "winner": self._version(*body["winner"]),
                        "losers": [self._version(*v) for v in body["losers"]],
                        "resolved_at": resolved_at, "resolution": resolution})
        return out

    def resolve(self, conflict_id: str, keep: str | None = None, value: Any = None) -> None:
        """Keep this station's value ('local'), the other one ('remote'), or a new `value`."""
        found = [c for c in self.list() if c["id"] == conflict_id]
        if not found:
            raise NotFound(f"没有未解决的冲突 {conflict_id}", f"no open conflict {conflict_id}")
        conflict = found[0]
        if conflict["field"] == "step":
            raise ValidationError("conflict", "step_conflict",
                                  "事件环节冲突：请查看时间线后继续推进事件，即可消除",
                                  "a step clash is settled by moving the case on after reviewing"
                                  " its timeline (station incident advance)")
        if conflict["field"] == DELETED:
            raise ValidationError("conflict", "delete_conflict", "删除冲突请在记录上处理",
                                  "a delete conflict is settled on the record itself (not yet here)")
        versions = [conflict["winner"], *conflict["losers"]]
        if keep in ("local", "remote"):
            mine = keep == "local"
            chosen = [v for v in versions if v["here"] == mine]
            if not chosen:
                raise ValidationError("keep", keep, "没有这一方的值", f"there is no {keep} value to keep")
            value = max(chosen, key=lambda v: v["clock"])["value"]
        elif value is None:
            raise ValidationError("keep", "required", "请选择 --keep local|remote 或给出 --value",
                                  "give --keep local|remote or --value")
        with self.store.atomic() as writes:
            writes.update(conflict["entity"], conflict["record"], {conflict["field"]: value},
                          force=True)
            writes.txn.cursor.execute("UPDATE conflicts SET resolution = ? WHERE id = ?",
                                      (keep or "value", conflict_id))
