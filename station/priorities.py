"""What a sync round moves first, and how many bytes it may move (issue 24 point 4).

Push tiers: the five-step loop's cases and their steps (incidents, disputes, a dispute's
parties) go before base data (people, buildings, houses, organisations, …), and base data
before attachment records; the files themselves move after every record (station.transfer).
A clerk who logs an incident at a township on a 2G link wants the county to see it now, not
after the morning's 3,000 census corrections.

The tier of a change follows from the schema (data, not a list of names here), and only
reorders changes of different entities: a record has one entity, so all of its changes are
in one tier and keep their order. The hub never needs one entity's records before another's
(it checks a reference's form, not that the record it names has arrived:
tests/test_priorities.py pushes an incident before the volunteer it names), so no ordering
across tiers can make it refuse a change.

A round's byte budget (`round_budget`) covers push batches, pull pages and files: once the
round's bytes reach it, the round stops after the step under way. Its first push batch and
first pull page always go (they share the round's first request), so no budget starves sync.
This module is pure: the bytes counted so far are a function handed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sync.attachments import ENTITY as ATTACHMENT_ENTITY
from sync.errors import ValidationError
from sync.schema import Schema

WORKFLOW, BASE, ATTACHMENT = 0, 1, 2
TIERS = (WORKFLOW, BASE, ATTACHMENT)
# The smallest budget a station may set: two chunks of a file, or a compressed batch of a
# few hundred typical changes. Below it a round would carry little beyond its own overhead.
MIN_ROUND_BUDGET = 64 * 1024
SETTING = "round_budget"
# Steps a round always makes once, whatever its budget: the round's first request carries
# both, and without them a tiny budget would never move anything.
FREE_STEPS = frozenset({"push", "pull"})


def tiers(schema: Schema) -> dict[str, int]:
    """Each entity's push tier: a workflow's subject and event entities and its case's parts
    are WORKFLOW, attachment records ATTACHMENT, everything else BASE."""
    out = {name: BASE for name in schema.entities}
    for wf in schema.workflows.values():
        for name in (wf.subject_entity, wf.event_entity):
            out[name] = WORKFLOW
        for part in schema.case_parts(wf.name):
            out[part.name] = WORKFLOW
    if ATTACHMENT_ENTITY in out:
        out[ATTACHMENT_ENTITY] = ATTACHMENT
    return out


def tier_of(known: Mapping[str, int], entity: str) -> int:
    """An entity's tier from `tiers`; one the schema does not know goes with base data."""
    return known.get(entity, BASE)


def retiered(old: Mapping[str, int], new: Mapping[str, int]) -> dict[str, int]:
    """The entities whose tier a schema change moved, with their new tier: their waiting
    changes must move too, or a record's edit could pass its add."""
    return {name: tier for name, tier in new.items() if tier_of(old, name) != tier}


def check_round_budget(value: int) -> int:
    """A `round_budget` as it may be set: 0 (no budget) or at least MIN_ROUND_BUDGET."""
    if 0 < value < MIN_ROUND_BUDGET:
        raise ValidationError(SETTING, "min_round_budget",
                              f"{SETTING}（每轮同步的字节预算）应为 0（不限）"
                              f"或至少 {MIN_ROUND_BUDGET} 字节（64 KiB）",
                              f"{SETTING} (bytes one sync round may move) must be 0 (no budget)"
                              f" or at least {MIN_ROUND_BUDGET} bytes (64 KiB)")
    return value


@dataclass
class RoundBudget:
    """The bytes one round may move (`limit`; None: no budget), counted by `used` (the
    client's bytes on the wire), and which steps it held back."""

    limit: int | None
    used: Callable[[], int]
    moved: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)

    def take(self, step: str) -> bool:
        """Whether the round may make one more `step` ("push", "pull" or "files"): its first
        push batch and pull page always, anything while the bytes are under the limit."""
        free = step in FREE_STEPS and step not in self.moved
        if self.limit is None or free or self.used() < self.limit:
            self.moved.add(step)
            return True
        self.held.add(step)
        return False

    def left(self) -> int | None:
        """Bytes still to spend (None: no budget), never below 0."""
        return None if self.limit is None else max(0, self.limit - self.used())


def unlimited() -> RoundBudget:
    return RoundBudget(None, lambda: 0)


@dataclass(frozen=True)
class Waiting:
    """What a round left for the next because its budget ran out: changes still pending by
    tier, whether the hub has more to pull, files not yet sent and not yet fetched."""

    workflow: int = 0
    base: int = 0
    attachments: int = 0
    pull_more: bool = False
    files_up: int = 0
    files_down: int = 0

    def as_json(self) -> dict[str, int | bool]:
        return {"workflow": self.workflow, "base": self.base, "attachments": self.attachments,
                "pull_more": self.pull_more, "files_up": self.files_up, "files_down": self.files_down}

    def line(self, lang: str) -> str:
        """One line for the clerk, in 'zh' or 'en': counts only, never a record's content."""
        return _line_zh(self) if lang == "zh" else _line_en(self)


def _line_zh(w: Waiting) -> str:
    up = [text for n, text in ((w.workflow, f"{w.workflow} 条事件和纠纷记录"),
                               (w.base, f"{w.base} 条基础数据"),
                               (w.attachments, f"{w.attachments} 条附件记录"),
                               (w.files_up, f"{w.files_up} 个附件")) if n]
    parts = [f"还有 {'、'.join(up)}下轮再传"] if up else []
    down = (["县级平台的新数据"] if w.pull_more else []) + (
        [f"{w.files_down} 个待取回的附件"] if w.files_down else [])
    if down:
        parts.append(f"{'和'.join(down)}下轮再取")
    return "本轮预算已用完：" + ("；".join(parts) or "余下的下轮继续")


def _line_en(w: Waiting) -> str:
    up = [text for n, text in ((w.workflow, f"{w.workflow} incident and dispute changes"),
                               (w.base, f"{w.base} base-data changes"),
                               (w.attachments, f"{w.attachments} attachment records"),
                               (w.files_up, f"{w.files_up} files")) if n]
    parts = [f"{_and(up)} wait for the next round"] if up else []
    down = (["the county's new data"] if w.pull_more else []) + (
        [f"{w.files_down} files to fetch"] if w.files_down else [])
    if down:
        parts.append(f"{_and(down)} come next round")
    return "This round's byte budget is used up: " + ("; ".join(parts) or "the rest goes next round")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
