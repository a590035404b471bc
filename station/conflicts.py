"""Conflicts: concurrent edits a person settles. Listing opens the sealed values; settling is
an ordinary update whose causal context holds exactly the versions the clerk was shown, so it
closes the conflict here and everywhere it syncs to, and a value that arrived later stays open.

A delete that missed an edit is settled for the delete (`deleted`: delete again, having seen
the edit) or for the edit (`edited`: bring the record back with it). `local` and `remote` name
the side by station where that is unambiguous."""

from __future__ import annotations

import json
from typing import Any

from station.store import Store
from sync import clock as hlc
from sync.errors import NotFound, ValidationError
from sync.merge import DELETED, written_at
from sync.register import SAME


class Conflicts:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _version(self, clock: str, value: str, was: str = "", field: str | None = None,
                 by: str = "") -> dict[str, Any]:
        """One side: its value, which station and clerk wrote it, and when (Beijing time)."""
        stamp = hlc.parse(clock)
        out = {"value": json.loads(value), "clock": clock, "here": stamp.node == self.store.station_id,
               "was": json.loads(was) if was else None, "station": stamp.node, "clerk": by or None,
               "at": written_at(clock)}
        if field is not None:
            out["field"] = field
        return out

    def list(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        sealer, _ = self.store._require_sealer()
        sql = "SELECT id, record_id, entity, field, sealed, resolved_at, resolution FROM conflicts"
        if not include_resolved:
            sql += " WHERE resolved_at IS NULL"
        out = []
        for cid, record, entity, field, sealed, resolved_at, resolution in self.store.conn.execute(
                sql + " ORDER BY created_at, id"):
            body = sealer.open_value(sealed, cid.encode())
            if field == SAME:
                out.append(self._same(cid, record, entity, body, resolved_at, resolution))
                continue
            base = body.get("base")
            out.append({"id": cid, "record": record, "entity": entity, "field": field,
                        "base": None if base is None else json.loads(base),
                        "winner": self._version(*body["winner"]),
                        "losers": [self._version(*v) for v in body["losers"]],
                        "resolved_at": resolved_at, "resolution": resolution})
        return out

    def _same(self, cid: str, record: str, entity: str, body: dict[str, Any],
              resolved_at: str | None, resolution: str | None) -> dict[str, Any]:
        """A "same person" conflict: the two records that hold one ID number (the first is
        the one a merge keeps), their values while both live, and once merged the other's
        values the merge did not take."""
        kept, other = body["records"]
        records = []
        for record_id in (kept, other):
            row = self.store._row(record_id)
            records.append({"id": record_id,
                            "fields": self.store._open_fields(row) if row and not row["deleted"]
                            else None})
        return {"id": cid, "record": record, "entity": entity, "field": SAME, "other": other,
                "records": records, "not_taken": body.get("not_taken"),
                "resolved_at": resolved_at, "resolution": resolution}

    def resolve(self, conflict_id: str, keep: str | None = None, value: Any = None) -> None:
        """Keep this station's value ('local'), the other one ('remote'), or a new `value`."""
        found = [c for c in self.list() if c["id"] == conflict_id]
        if not found:
            raise NotFound(f"没有未解决的冲突 {conflict_id}", f"no open conflict {conflict_id}")
        conflict = found[0]
        if conflict["field"] == SAME:
            raise ValidationError("conflict", "same_person",
                                  "同一人员登记了两次：请合并两条记录（station conflicts merge）",
                                  "the same person registered twice: merge the two records"
                                  " (station conflicts merge)")
        if conflict["field"] == "step":
            raise ValidationError("conflict", "step_conflict",
                                  "事件环节冲突：请查看时间线后继续推进事件，即可消除",
                                  "a step clash is settled by moving the case on after reviewing"
                                  " its timeline (station incident advance)")
        if conflict["field"] == DELETED:
            self._settle_delete(conflict, keep, value)
            return
        if keep in ("deleted", "edited"):
            raise ValidationError("keep", keep, "只有删除冲突才能选择 deleted 或 edited",
                                  "deleted and edited are for delete conflicts; use local or remote")
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
            writes.settle(conflict["entity"], conflict["record"], conflict["field"], value,
                          [v["clock"] for v in versions])
            writes.note_resolution(conflict_id, keep or "value")

    def _settle_delete(self, conflict: dict[str, Any], keep: str | None, value: Any) -> None:
        if value is not None:
            raise ValidationError("value", "delete_conflict", "删除冲突只能选择保留删除或保留修改",
                                  "a delete conflict keeps the delete or the edit: --keep deleted|edited")
        delete_here = conflict["winner"]["here"]
        edits_here = {v["here"] for v in conflict["losers"]}
        if keep in ("local", "remote"):
            mine = keep == "local"
            if delete_here == mine and mine not in edits_here:
                keep = "deleted"
            elif delete_here != mine and edits_here == {mine}:
                keep = "edited"
            else:
                raise ValidationError("keep", keep,
                                      "删除和修改不能按本站/他站区分，请用 --keep deleted|edited",
                                      "local/remote is ambiguous here; use --keep deleted|edited")
        if keep not in ("deleted", "edited"):
            raise ValidationError("keep", "required",
                                  "请选择 --keep deleted（保留删除）或 edited（保留修改）",
                                  "give --keep deleted or --keep edited")
        with self.store.atomic() as writes:
            shown = [v["clock"] for v in (conflict["winner"], *conflict["losers"])]
            if keep == "deleted":
                writes.redelete(conflict["entity"], conflict["record"], shown)
            else:
                writes.undelete(conflict["entity"], conflict["record"], shown)
            writes.note_resolution(conflict["id"], keep)
