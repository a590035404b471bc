"""Workflows as pure functions: a case's state is derived from its step events.

An incident (or a dispute) never stores its step as the only truth: each move appends a step
event, and `derive` replays the events in clock order (hybrid logical clock, then id). The
same set of events gives the same state whatever order they arrived in, which is what lets
two stations append steps offline and merge by union. An event whose move is not allowed
from where the case stands at that point (two places moved it concurrently) is kept aside in
`refused`, not applied and not dropped: sync raises it as a conflict.

Each event carries its causal context `seen` (sync.merge's version vector): the events of the
case its author had received when it wrote. A refused event is settled only by a later act
whose author had received it; a later clock alone settles nothing (an event by a station that
never received the refused one used to count as having settled it).

Deadlines (the 1/3/5-minute rule) are offsets from the first event, read from the workflow
definition. Nothing here reads a clock: `now` is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sync.errors import ValidationError
from sync.merge import Context, covers, dot, join
from sync.schema import WorkflowDef


@dataclass(frozen=True)
class StepEvent:
    id: str
    step: str
    clock: str  # HLC text of the event's write: orders events causally
    at: str  # ISO 8601 time the author gave: deadlines and display
    department: str | None = None
    # The case's events its author had received (with its own clock); empty for an event
    # stored before contexts existed: it is then known to have seen only its station's own.
    seen: Context = ()

    def saw(self, other: StepEvent) -> bool:
        return other.clock != self.clock and covers(self.seen or dot(self.clock), other.clock)


@dataclass(frozen=True)
class CaseState:
    step: str | None  # None when the history has no valid first event
    closed: bool
    applied: tuple[StepEvent, ...]
    refused: tuple[StepEvent, ...]
    reached: dict[str, str]  # step -> `at` of the first time the case reached it
    departments: tuple[str, ...]

    @property
    def started_at(self) -> str | None:
        return self.applied[0].at if self.applied else None


@dataclass(frozen=True)
class Deadline:
    step: str
    due: datetime
    reached_at: datetime | None
    status: str  # 'met' | 'late' | 'pending' | 'overdue'
    seconds_left: float  # negative once passed


def derive(workflow: WorkflowDef, events: Iterable[StepEvent]) -> CaseState:
    """Replay the events in clock order; the result does not depend on their input order."""
    moves = workflow.move_map
    closing = {s.step for s in workflow.steps if s.closes}
    step = ""
    applied: list[StepEvent] = []
    refused: list[StepEvent] = []
    reached: dict[str, str] = {}
    departments: set[str] = set()
    for event in sorted(events, key=lambda e: (e.clock, e.id)):
        if event.step == step and (step, step) not in moves:
            # The same step taken at two places (both stations disposed): a union, not a clash.
            applied.append(event)
            if event.department:
                departments.add(event.department)
            continue
        if (step, event.step) not in moves:
            refused.append(event)
            continue
        step = event.step
        applied.append(event)
        reached.setdefault(step, event.at)
        if event.department:
            departments.add(event.department)
    return CaseState(step or None, step in closing, tuple(applied), tuple(refused), reached,
                     tuple(sorted(departments)))


def open_clashes(state: CaseState) -> tuple[StepEvent, ...]:
    """Refused events no person has acted on yet: no other event's author had received
    them. Acting on the case after receiving them (any later step) settles them everywhere."""
    events = (*state.applied, *state.refused)
    return tuple(r for r in state.refused if not any(e.saw(r) for e in events))


def case_context(events: Iterable[StepEvent]) -> Context:
    """What a place holds of a case's history: the context of a step written there now. A
    place that holds an event holds everything its author had seen (pulls deliver in order),
    so the events' own clocks are enough."""
    return join(*(dot(e.clock) for e in events))


def check_move(workflow: WorkflowDef, state: CaseState, to_step: str, *, has_reason: bool) -> None:
    """Refuse a move the workflow does not allow from the current step, naming both steps and
    what is allowed instead; or a move that needs a reason given without one."""
    here = state.step or ""
    move = workflow.move_map.get((here, to_step))
    if move is None:
        raise _refusal(workflow, here, to_step)
    if move.needs_reason and not has_reason:
        raise ValidationError("note", "reason_required", f"「{move.label_zh}」需要填写原因",
                              f"{move.label_en} needs a reason (--note)")


def _refusal(workflow: WorkflowDef, here: str, to_step: str) -> ValidationError:
    steps = workflow.by_step
    nexts = [m.to_step for m in workflow.moves if m.from_step == here]
    here_zh = steps[here].label_zh if here in steps else "（新建）"
    here_en = here or "(new)"
    to_zh = steps[to_step].label_zh if to_step in steps else to_step
    return ValidationError(
        "step", "workflow_move",
        f"不能从「{here_zh}」到「{to_zh}」；下一步可以是：" + "、".join(
            steps[n].label_zh for n in nexts if n in steps),
        f"cannot move from {here_en} to {to_step}; allowed next: " + ", ".join(nexts),
    )


def deadlines(workflow: WorkflowDef, state: CaseState, now: datetime) -> list[Deadline]:
    """Each step's deadline, counted from the first event, and where the case stands."""
    if state.started_at is None:
        return []
    start = datetime.fromisoformat(state.started_at)
    out = []
    for s in workflow.steps:
        if s.deadline_seconds is None:
            continue
        due = start.timestamp() + s.deadline_seconds
        reached = state.reached.get(s.step)
        reached_at = datetime.fromisoformat(reached) if reached else None
        if reached_at is not None:
            status = "met" if reached_at.timestamp() <= due else "late"
        elif state.closed:
            status = "met"  # closed without passing it: cannot happen with the v1 moves
        else:
            status = "overdue" if now.timestamp() > due else "pending"
        out.append(Deadline(s.step, datetime.fromtimestamp(due, start.tzinfo), reached_at, status,
                            due - now.timestamp()))
    return out


def is_overdue(workflow: WorkflowDef, state: CaseState, now: datetime) -> bool:
    return any(d.status == "overdue" for d in deadlines(workflow, state, now))


def due_at(workflow: WorkflowDef, state: CaseState) -> float | None:
    """When the nearest deadline not yet reached falls due (POSIX seconds), or None for a
    closed case or one with nothing left to meet. It does not depend on the clock, so it can
    be kept with the case and compared with the time when a screen counts overdue cases."""
    if state.started_at is None or state.closed:
        return None
    start = datetime.fromisoformat(state.started_at).timestamp()
    return min((start + s.deadline_seconds for s in workflow.steps
                if s.deadline_seconds is not None and not state.reached.get(s.step)), default=None)


def next_due(workflow: WorkflowDef, state: CaseState, now: datetime) -> Deadline | None:
    """The nearest deadline not yet reached (overdue ones first, most overdue first)."""
    waiting = [d for d in deadlines(workflow, state, now) if d.status in ("pending", "overdue")]
    return min(waiting, key=lambda d: d.seconds_left, default=None)
