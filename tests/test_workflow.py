"""Laws of the five-step loop, proved on the pure derivation (sync/workflow.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from sync.errors import ValidationError
from sync.schema import v1_schema
from sync.workflow import StepEvent, check_move, deadlines, derive, is_overdue, next_due

SCHEMA = v1_schema()
LOOP = SCHEMA.workflow("incident")
STEPS = [s.step for s in LOOP.steps]
T0 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")


def event(n: int, step: str, seconds: float = 0, department: str | None = None) -> StepEvent:
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    return StepEvent(id=f"{n:032x}", step=step, clock=f"{n:015d}.000000.a", at=at,
                     department=department)


def walk(*steps: str) -> list[StepEvent]:
    return [event(i, s, seconds=30 * i) for i, s in enumerate(steps)]


def test_a_full_walk_reaches_verify_and_closes() -> None:
    state = derive(LOOP, walk("discover", "report", "dispose", "feedback", "verify"))
    assert (state.step, state.closed, state.refused) == ("verify", True, ())


def test_a_failed_verification_returns_to_dispose() -> None:
    state = derive(LOOP, walk("discover", "report", "dispose", "feedback", "dispose"))
    assert (state.step, state.closed) == ("dispose", False)


@pytest.mark.parametrize(("history", "target"), [
    ((), "report"), (("discover",), "dispose"), (("discover",), "verify"),
    (("discover", "report"), "feedback"), (("discover", "report", "dispose"), "verify"),
])
def test_a_skipped_step_is_refused_with_what_is_allowed_next(history: tuple[str, ...],
                                                            target: str) -> None:
    state = derive(LOOP, walk(*history))
    with pytest.raises(ValidationError) as err:
        check_move(LOOP, state, target, has_reason=False)
    assert err.value.rule == "workflow_move" and "allowed next" in str(err.value)


def test_going_back_needs_a_reason() -> None:
    state = derive(LOOP, walk("discover", "report", "dispose", "feedback"))
    with pytest.raises(ValidationError, match="needs a reason"):
        check_move(LOOP, state, "dispose", has_reason=False)
    check_move(LOOP, state, "dispose", has_reason=True)


def test_deadlines_follow_the_1_3_5_minute_rule() -> None:
    events = [event(0, "discover", 0), event(1, "report", 50), event(2, "dispose", 200)]
    state = derive(LOOP, events)
    by_step = {d.step: d for d in deadlines(LOOP, state, T0 + timedelta(seconds=250))}
    assert by_step["report"].status == "met"        # 50 s  ≤ 60 s
    assert by_step["dispose"].status == "late"      # 200 s > 180 s
    assert by_step["feedback"].status == "pending"  # due at 300 s
    assert not is_overdue(LOOP, state, T0 + timedelta(seconds=299))
    assert is_overdue(LOOP, state, T0 + timedelta(seconds=301))
    due = next_due(LOOP, state, T0 + timedelta(seconds=250))
    assert due is not None and due.step == "feedback" and due.seconds_left == 50


# ---------------------------------------------------------------- properties

@st.composite
def histories(draw: st.DrawFn) -> list[StepEvent]:
    """A legal walk along random allowed moves, plus noise: steps from another place that
    may be illegal or concurrent (equal clocks)."""
    walk_steps: list[str] = []
    here = ""
    for _ in range(draw(st.integers(0, 10))):
        options = sorted(to for (frm, to) in LOOP.move_map if frm == here)
        here = draw(st.sampled_from(options))
        walk_steps.append(here)
    noise = draw(st.lists(st.sampled_from(STEPS), max_size=4))
    clocks = [2 * i for i in range(len(walk_steps))]
    clocks += draw(st.lists(st.integers(0, 25), min_size=len(noise), max_size=len(noise)))
    return [StepEvent(id=f"{i:032x}", step=s, clock=f"{c:015d}.000000.a",
                      at=(T0 + timedelta(seconds=c)).isoformat()) for i, (s, c) in
            enumerate(zip(walk_steps + noise, clocks, strict=True))]


@settings(max_examples=300)
@given(histories(), st.randoms(use_true_random=False))
def test_the_state_is_the_same_for_every_order_of_the_same_events(events: list[StepEvent],
                                                                  rnd: object) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert derive(LOOP, shuffled) == derive(LOOP, events)


@settings(max_examples=300)
@given(histories())
def test_no_illegal_move_is_ever_applied(events: list[StepEvent]) -> None:
    state = derive(LOOP, events)
    here = ""
    for e in state.applied:
        assert (here, e.step) in LOOP.move_map or e.step == here  # or the same step twice
        here = e.step
    assert len(state.applied) + len(state.refused) == len(events)


def test_generated_histories_do_reach_verify() -> None:
    """The properties below would prove little if random histories never closed a case."""
    found = find(histories(), lambda events: derive(LOOP, events).closed)
    assert derive(LOOP, found).step == "verify"


@settings(max_examples=300)
@given(histories())
def test_every_case_at_verify_passed_through_the_four_steps_before_it(
        events: list[StepEvent]) -> None:
    state = derive(LOOP, events)
    if state.step == "verify":
        seen = [e.step for e in state.applied]
        for before in ("discover", "report", "dispose", "feedback"):
            assert before in seen[: seen.index("verify")]


def test_the_same_step_taken_at_two_places_is_a_union_not_a_clash() -> None:
    events = [*walk("discover", "report", "dispose"), event(9, "dispose", 95, "police")]
    state = derive(LOOP, events)
    assert state.step == "dispose" and state.refused == () and state.departments == ("police",)


def test_an_impossible_step_is_a_clash_until_someone_acts_after_it() -> None:
    from sync.workflow import open_clashes

    events = walk("discover", "report", "dispose", "feedback")
    clash = event(10, "report", 300)  # "report" again after feedback: impossible here
    state = derive(LOOP, [*events, clash])
    assert state.refused == (clash,) and open_clashes(state) == (clash,)
    acted = derive(LOOP, [*events, clash, event(11, "verify", 400)])
    assert acted.step == "verify" and open_clashes(acted) == ()


def test_a_step_refused_offline_stays_a_clash_until_someone_who_received_it_acts() -> None:
    """The issue's case at 反馈: X sends it back to dispose, Y (offline) verifies, W received
    X's event but not Y's and feeds back again. W's later clock settles nothing."""
    from sync.merge import join
    from sync.workflow import case_context, open_clashes

    history = walk("discover", "report", "dispose", "feedback")
    held = case_context(history)  # what every station had before the three events

    def at(n: int, step: str, node: str, *received: StepEvent) -> StepEvent:
        seen = join(held, case_context(received), ((node, f"{n:015d}.000000.{node}"),))
        return StepEvent(f"{n:032x}", step, f"{n:015d}.000000.{node}", T0.isoformat(), seen=seen)

    x = at(5, "dispose", "x")
    y = at(6, "verify", "y")
    w = at(7, "feedback", "w", x)
    state = derive(LOOP, [*history, x, y, w])
    assert state.refused == (y,) and open_clashes(state) == (y,)
    # A station that has received all three moves the case on: the clash is settled.
    after = at(8, "verify", "x", x, y, w)
    assert open_clashes(derive(LOOP, [*history, x, y, w, after])) == ()
