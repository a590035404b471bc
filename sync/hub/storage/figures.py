"""The statements of the work figures kept as facts (storage step 6: `record_facts`,
`case_facts`, `case_marks`; what the rows hold is `sync.hub.figures`). The same SQL on both
engines; every sum is grouped by township so the county is their total."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync.hub.figures import CASE_COLUMNS, RECORD_COLUMNS

_CHUNK = 500  # ids per IN (...) list


class FigureTx:
    """Mixed into `Tx`: it provides `rows`, `_run`, `cursor` and `_mark`."""

    cursor: Any
    _mark: str

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _run(self, sql: str, args: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def _many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.cursor.executemany(sql.replace("?", self._mark), rows)

    def _in(self, sql: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """`sql` with `{ids}` filled by each chunk of ids in turn; the rows of every chunk."""
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(ids), _CHUNK):
            part = list(ids[i : i + _CHUNK])
            out += self.rows(sql.format(ids=", ".join("?" * len(part))), part)
        return out

    # -- kept as pushes are stored
    def put_record_facts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        marks, keep = ", ".join("?" * len(RECORD_COLUMNS)), RECORD_COLUMNS[1:]
        self._many(f"INSERT INTO record_facts ({', '.join(RECORD_COLUMNS)}) VALUES ({marks})"
                   " ON CONFLICT (id) DO UPDATE SET "
                   + ", ".join(f"{c} = excluded.{c}" for c in keep), rows)

    def facts_before(self, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """(id, township, entity, role, live, conflicts, key, parent) of these records' facts
        as stored: what a push's differences are counted from."""
        return self._in("SELECT id, township, entity, role, live, conflicts, key, parent"
                        " FROM record_facts WHERE id IN ({ids})", ids)

    def add_counts(self, deltas: dict[tuple[str, str, str], int]) -> None:
        """Add to the kept totals (kind, township, entity) -> n."""
        self._many("INSERT INTO figure_counts (kind, township, entity, n) VALUES (?, ?, ?, ?)"
                   " ON CONFLICT (kind, township, entity) DO UPDATE SET n = figure_counts.n + excluded.n",
                   [(*k, n) for k, n in sorted(deltas.items()) if n])

    def key_counts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        by_entity: dict[str, list[str]] = {}
        for entity, key in keys:
            by_entity.setdefault(entity, []).append(key)
        for entity, held in by_entity.items():
            for i in range(0, len(held), _CHUNK):
                part = held[i : i + _CHUNK]
                marks = ", ".join("?" * len(part))
                for e, k, n in self.rows(f"SELECT entity, key, n FROM key_counts WHERE entity = ?"
                                         f" AND key IN ({marks})", [entity, *part]):
                    out[(str(e), str(k))] = int(n)
        return out

    def put_key_counts(self, counts: dict[tuple[str, str], int]) -> None:
        self._many("INSERT INTO key_counts (entity, key, n) VALUES (?, ?, ?) ON CONFLICT (entity, key)"
                   " DO UPDATE SET n = excluded.n", [(e, k, n) for (e, k), n in sorted(counts.items()) if n])
        gone = [(e, k) for (e, k), n in sorted(counts.items()) if not n]
        self._many("DELETE FROM key_counts WHERE entity = ? AND key = ?", gone)

    def count_all(self) -> None:
        """The kept totals anew from the facts (after a fill)."""
        self._run("DELETE FROM figure_counts")
        self._run("DELETE FROM key_counts")
        self._run("INSERT INTO figure_counts (kind, township, entity, n) SELECT 'base', township, entity,"
                  " count(*) FROM record_facts WHERE role IN ('base', 'checkin') AND live = 1"
                  " GROUP BY township, entity")
        self._run("INSERT INTO figure_counts (kind, township, entity, n) SELECT 'conflicts', '', '',"
                  " coalesce(sum(conflicts), 0) FROM record_facts")
        self._run("INSERT INTO key_counts (entity, key, n) SELECT entity, key, count(*) FROM record_facts"
                  " WHERE key IS NOT NULL AND live = 1 GROUP BY entity, key")
        self._run("INSERT INTO figure_counts (kind, township, entity, n) SELECT 'duplicates', '', '',"
                  " count(*) FROM key_counts WHERE n > 1")

    def case_inputs(self, case_ids: Sequence[str]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """(id, workflow, township, volunteer) of each live case among these, and (parent,
        workflow, id, step, clock, at, department) of each live event of theirs."""
        cases = self._in("SELECT id, workflow, township, volunteer FROM record_facts"
                         " WHERE role = 'case' AND live = 1 AND id IN ({ids})", case_ids)
        events = self._in("SELECT parent, workflow, id, step, clock, at, department FROM record_facts"
                          " WHERE role = 'event' AND live = 1 AND parent IN ({ids})", case_ids)
        return cases, events

    def all_case_inputs(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        cases = self.rows("SELECT id, workflow, township, volunteer FROM record_facts"
                          " WHERE role = 'case' AND live = 1")
        events = self.rows("SELECT parent, workflow, id, step, clock, at, department FROM record_facts"
                           " WHERE role = 'event' AND live = 1")
        return cases, events

    def replace_case_facts(self, case_ids: Sequence[str], rows: Sequence[tuple[Any, ...]],
                           marks: Sequence[tuple[Any, ...]]) -> None:
        """The facts of these cases anew: those in `rows`; a case not among them is gone."""
        for i in range(0, len(case_ids), _CHUNK):
            part = list(case_ids[i : i + _CHUNK])
            holes = ", ".join("?" * len(part))
            self._run(f"DELETE FROM case_marks WHERE case_id IN ({holes})", part)
            self._run(f"DELETE FROM case_facts WHERE id IN ({holes})", part)
        self._many(f"INSERT INTO case_facts ({', '.join(CASE_COLUMNS)})"
                   f" VALUES ({', '.join('?' * len(CASE_COLUMNS))})", rows)
        self._many("INSERT INTO case_marks (case_id, kind, name, ts) VALUES (?, ?, ?, ?)", marks)

    def clear_figures(self) -> None:
        for table in ("case_marks", "case_facts", "record_facts", "figure_counts", "key_counts"):
            self._run(f"DELETE FROM {table}")

    # -- read by the figures
    def case_groups(self, where: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """(workflow, township, step, cases) of the cases `where` selects."""
        return self.rows("SELECT workflow, township, step, count(*) FROM case_facts c"
                         f" WHERE {where} GROUP BY workflow, township, step", args)

    def department_groups(self, where: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.rows("SELECT c.workflow, c.township, m.name, count(*) FROM case_facts c"
                         " JOIN case_marks m ON m.case_id = c.id AND m.kind = 'd'"
                         f" WHERE {where} GROUP BY c.workflow, c.township, m.name", args)

    def overdue_groups(self, where: str, args: Sequence[Any], as_of: float) -> list[tuple[Any, ...]]:
        """(workflow, township, open cases with a deadline unmet and past at `as_of`)."""
        return self.rows("SELECT workflow, township, sum(CASE WHEN due_ts < ? THEN 1 ELSE 0 END)"
                         f" FROM case_facts c WHERE {where} GROUP BY workflow, township",
                         [as_of, *args])

    def late_groups(self, where: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """(township, step, cases that reached the step after its deadline)."""
        return self.rows("SELECT c.township, m.name, count(*) FROM case_marks m"
                         " JOIN case_facts c ON c.id = m.case_id"
                         f" WHERE m.kind = 'l' AND {where} GROUP BY c.township, m.name", args)

    def unmet_groups(self, where: str, args: Sequence[Any], step: str, after: float,
                     as_of: float) -> list[tuple[Any, ...]]:
        """(township, open cases that have not reached `step` and are more than `after`
        seconds from their start at `as_of`): only the open cases are joined."""
        return self.rows(
            "SELECT c.township, count(*) FROM case_facts c LEFT JOIN case_marks m"
            " ON m.case_id = c.id AND m.kind = 'r' AND m.name = ?"
            f" WHERE c.closed = 0 AND m.case_id IS NULL AND c.started_ts + ? < ? AND {where}"
            " GROUP BY c.township", [step, after, as_of, *args])

    def straddling(self, workflow: str, start: float, end: float) -> list[str]:
        """Cases with an event in [start, end) and one at or after `end`: a period ending at
        `end` sees only part of their history, so they are derived again for it."""
        return [str(r[0]) for r in self.rows(
            "SELECT DISTINCT c.id FROM case_facts c JOIN record_facts f ON f.parent = c.id"
            " AND f.role = 'event' AND f.live = 1"
            " WHERE c.workflow = ? AND c.last_ts >= ? AND f.at_ts >= ? AND f.at_ts < ?",
            [workflow, end, start, end])]

    def base_counts(self) -> list[tuple[Any, ...]]:
        """(township, entity, live records) of the base data (check-ins are counted there too)."""
        return self.rows("SELECT township, entity, n FROM figure_counts WHERE kind = 'base' AND n > 0")

    def checkin_facts(self) -> list[tuple[Any, ...]]:
        """(volunteer, day, id, township) of each live check-in naming both."""
        return self.rows("SELECT parent, day, id, township FROM record_facts WHERE role = 'checkin'"
                         " AND live = 1 AND parent IS NOT NULL AND day IS NOT NULL")

    def accepted_facts(self, workflow: str) -> list[tuple[Any, ...]]:
        """(volunteer, day accepted, id, township) of each case a volunteer reported."""
        return self.rows("SELECT volunteer, accepted_on, id, township FROM case_facts WHERE"
                         " workflow = ? AND volunteer IS NOT NULL AND accepted_on IS NOT NULL",
                         [workflow])

    def closure_counts(self, workflow: str, ends: Sequence[float]) -> list[tuple[int, int]]:
        """For each instant: (cases started before it, cases first closed before it)."""
        if not ends:
            return []
        sums = ", ".join("sum(CASE WHEN started_ts < ? THEN 1 ELSE 0 END),"
                         " sum(CASE WHEN closed_ts < ? THEN 1 ELSE 0 END)" for _ in ends)
        found = self.rows(f"SELECT {sums} FROM case_facts WHERE workflow = ? AND started_ts IS NOT NULL",
                          [t for end in ends for t in (end, end)] + [workflow])[0]
        return [(int(found[2 * i] or 0), int(found[2 * i + 1] or 0)) for i in range(len(ends))]

    def open_conflicts(self) -> int:
        return self._count("conflicts")

    def duplicate_keys(self) -> int:
        """Keys (of one entity) that more than one live record holds."""
        return self._count("duplicates")

    def _count(self, kind: str) -> int:
        found = self.rows("SELECT coalesce(sum(n), 0) FROM figure_counts WHERE kind = ?", [kind])
        return int(found[0][0])
